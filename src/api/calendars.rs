//! Calendar feeds (RFC 5545): `GET /coaches/{id}/calendar.ics`, `GET /orders/{id}/calendar.ics`,
//! and their feed tokens, `POST /coaches/{id}/calendar-feed`, `POST /orders/{id}/calendar-feed`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::api::extract::Query;
use crate::api::respond;
use crate::auth::extract::{authenticate, Caller, ProviderStaff};
use crate::domain::principal::Role;
use crate::error::{ApiError, ApiResult};
use crate::service::calendars::{self, FeedAccess, FeedIssued};
use crate::state::AppState;
use crate::views::calendar::CONTENT_TYPE;

/// The query of a feed: its token (declared as the `calendar_feed` security scheme).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedParams {
    pub token: Option<String>,
}

/// A bearer token with one of `roles`, or else the feed token; neither is a 401.
fn access(req: &HttpRequest, token: Option<String>, roles: &[Role]) -> ApiResult<FeedAccess> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        let caller = authenticate(req)?;
        if !roles.contains(&caller.role) {
            return Err(ApiError::Forbidden(format!(
                "this feed is for {}, or opens with its feed token",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        return Ok(FeedAccess::Caller(caller));
    }
    token
        .filter(|t| !t.is_empty())
        .map(FeedAccess::Token)
        .ok_or(ApiError::Unauthenticated)
}

/// A feed: kept by the calendar app alone (it carries the reader's token in its URL) and asked
/// again with `If-None-Match` (its `ETag`, `crate::api::conditional`), which is 304 while unchanged.
fn ics(feed: crate::views::calendar::Feed) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    response
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if let Some(at) = feed.last_modified {
        response.insert_header((
            header::LAST_MODIFIED,
            at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        ));
    }
    response.body(feed.text)
}

fn issued(feed: FeedIssued) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(feed)
}

/// A coach's calendar.
///
/// The coach's sessions from 90 days ago to 400 days ahead as iCalendar (RFC 5545): a stable
/// `UID` per session, `SEQUENCE` raised on every change, `STATUS:CANCELLED` once called off,
/// times in UTC. No notes, no reason for coaching, no coachee's name or contact details. Opens
/// with a bearer token (the coach, the provider's planners) or with `?token=` from
/// `POST /coaches/{id}/calendar-feed`.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = ["coach", "provider_admin"]), ("calendar_feed" = [])),
    params(("id" = Uuid, Path, description = "The coach's id")),
    responses(
        (status = 200, description = "The calendar", content_type = "text/calendar", body = String),
    )
)]
#[get("/coaches/{id}/calendar.ics")]
pub async fn coach_calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    Query(params): Query<FeedParams>,
) -> ApiResult<HttpResponse> {
    let access = access(&req, params.token, &[Role::Coach, Role::ProviderAdmin])?;
    let id = id.to_string();
    let body = respond::read(&state, move |conn, now| {
        calendars::coach_feed(conn, now, access, &id)
    })
    .await?;
    Ok(ics(body))
}

/// An order's calendar.
///
/// The order's sessions as iCalendar (RFC 5545), as the reader may see them: the employer gets
/// times, kinds and formats, not where or the video link. With `?token=` from
/// `POST /orders/{id}/calendar-feed` it is the coachee's feed.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = ["employer", "coach", "provider_admin"]), ("calendar_feed" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The calendar", content_type = "text/calendar", body = String),
    )
)]
#[get("/orders/{id}/calendar.ics")]
pub async fn order_calendar(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    Query(params): Query<FeedParams>,
) -> ApiResult<HttpResponse> {
    let access = access(
        &req,
        params.token,
        &[Role::Employer, Role::Coach, Role::ProviderAdmin],
    )?;
    let id = id.to_string();
    let body = respond::read(&state, move |conn, _| {
        calendars::order_feed(conn, access, &id)
    })
    .await?;
    Ok(ics(body))
}

/// Issue a coach's feed token.
///
/// For the coach or the provider's planners. Returns the feed's address with a new token for a
/// calendar app; the previous token stops working (rotation). Shown once, and not remembered
/// under an `Idempotency-Key`.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The coach's id")),
    responses(
        (status = 201, description = "The feed's address and token", body = FeedIssued),
    )
)]
#[post("/coaches/{id}/calendar-feed")]
pub async fn issue_coach_feed(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let feed = respond::call(&state, move |conn, now| {
        calendars::issue_coach_feed(conn, now, &caller, &id)
    })
    .await?;
    Ok(issued(feed))
}

/// Issue an order's feed token.
///
/// For the order's coach or the provider's planners, to give to the coachee. The previous token
/// stops working. Shown once, and not remembered under an `Idempotency-Key`.
#[utoipa::path(
    tag = "calendars",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 201, description = "The feed's address and token", body = FeedIssued),
    )
)]
#[post("/orders/{id}/calendar-feed")]
pub async fn issue_order_feed(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let feed = respond::call(&state, move |conn, now| {
        calendars::issue_order_feed(conn, now, &caller, &id)
    })
    .await?;
    Ok(issued(feed))
}
