//! The events feed (issue 18): `GET /events?after=&types=&limit=&wait=`, for systems that poll.

use std::time::Duration;

use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::extract::Query;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, Subscribers};
use crate::domain::webhook::told_to;
use crate::domain::FieldError;
use crate::error::{ApiError, ApiResult};
use crate::service::feed::{self, FeedQuery};
use crate::state::AppState;
use crate::views::event::EventPage;

/// The longest a poller may wait for the next event.
const MAX_WAIT_SECONDS: u64 = 30;
/// How often a waiting poller looks for events committed by another instance of the service
/// (one of this process wakes it at once).
const LOOK_AGAIN: Duration = Duration::from_millis(250);

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventFeedParams {
    /// The `next_cursor` of the previous page: the `sequence` of the last event seen (`0`, or
    /// absent, for the beginning). One beyond the organisation's last event is a 400.
    #[param(pattern = "^[0-9]{1,18}$")]
    pub after: Option<String>,
    /// Only these event types, comma-separated (e.g. `session.scheduled,session.cancelled`).
    pub types: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// Seconds to wait, up to 30, for the next event when there is none yet (a long poll); the
    /// answer comes as soon as one is committed. 0 (the default) answers at once.
    #[param(minimum = 0, maximum = 30)]
    pub wait: Option<u64>,
}

impl EventFeedParams {
    fn query(&self, caller: &crate::domain::principal::Principal) -> ApiResult<FeedQuery> {
        let bad = |name: &str, detail: String| ApiError::BadRequest {
            detail: format!("{name} {detail}"),
            errors: vec![FieldError::new(name, detail)],
        };
        let after = match &self.after {
            None => 0,
            Some(text) => text
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0 && text.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    bad(
                        "after",
                        "must be a next_cursor (an event's sequence)".into(),
                    )
                })?,
        };
        let limit = crate::api::page(self.limit, None)?.limit;
        if self.wait.is_some_and(|w| w > MAX_WAIT_SECONDS) {
            return Err(bad(
                "wait",
                format!("must be 0 to {MAX_WAIT_SECONDS} seconds"),
            ));
        }
        let types = match &self.types {
            None => None,
            Some(list) => {
                let names: Vec<String> = list.split(',').map(|t| t.trim().to_string()).collect();
                let kind = caller.role.organisation_kind();
                if let Some(wrong) = names.iter().find(|t| !told_to(kind, t)) {
                    return Err(bad(
                        "types",
                        format!("{wrong:?} is not an event type your organisation is told of"),
                    ));
                }
                Some(names)
            }
        };
        Ok(FeedQuery {
            after,
            types,
            limit,
        })
    }
}

/// The events feed.
///
/// The organisation's events in the order they were committed, each numbered (`sequence`) 1,
/// 2, 3, … without gaps: the same events, in the same form, as its webhooks carry, for its
/// audience (the employer sees each step's type, statuses, role and time; the provider also its
/// details; nobody any confidential content). Follow `next_cursor` as `after`: a cursor never
/// skips or repeats an event, even while other requests commit. With `wait`, an empty page
/// waits up to that many seconds for the next event (a long poll), across all instances of the
/// service. `Link: rel="next"` carries the next page when `has_more`.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(EventFeedParams),
    responses(
        (status = 200, description = "The events after the cursor, oldest first", body = EventPage),
    )
)]
#[get("/events")]
pub async fn event_feed(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    Query(params): Query<EventFeedParams>,
) -> ApiResult<HttpResponse> {
    let query = params.query(&caller.0)?;
    let wait = Duration::from_secs(params.wait.unwrap_or(0));
    let deadline = tokio::time::Instant::now() + wait;
    let page = loop {
        // Registered before the look, so that a commit between the two is not missed.
        let committed = crate::db::events::COMMITTED.notified();
        tokio::pin!(committed);
        committed.as_mut().enable();
        let (caller, query) = (caller.0.clone(), query.clone());
        let page = respond::read(&state, move |conn, _| feed::page(conn, &caller, &query)).await?;
        let now = tokio::time::Instant::now();
        if !page.data.is_empty() || now >= deadline {
            break page;
        }
        tokio::select! {
            _ = &mut committed => {}
            _ = tokio::time::sleep(LOOK_AGAIN.min(deadline - now)) => {}
        }
    };
    let mut reply = Reply::page(&page, page.data.len());
    if page.has_more {
        reply = reply.header(
            actix_web::http::header::LINK,
            format!("<{}>; rel=\"next\"", next_link(&req, &page)),
        );
    }
    Ok(reply.into())
}

/// This request's URL with `after` moved on to the page's `next_cursor`.
fn next_link(req: &HttpRequest, page: &EventPage) -> String {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .filter(|(k, _)| k != "after")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.push(("after".into(), page.next_cursor.clone()));
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{}?{query}", req.path())
}
