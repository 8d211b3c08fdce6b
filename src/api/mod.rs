//! The HTTP API: one module per resource, the strict extractors, and the OpenAPI document.
//!
//! Routes and their spec are registered together (utoipa-actix-web), so every route is in the
//! spec. The same spec drives the 405 answer: a path that exists with other methods gets
//! `405` and `Allow`, an unknown path `404`.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod availability;
pub mod calendars;
pub mod closing;
pub mod coachee;
pub mod coaches;
pub mod conditional;
pub mod docs;
pub mod events;
pub mod extract;
pub mod follow_ups;
pub mod groups;
pub mod idempotency;
pub mod intake;
pub mod invitations;
pub mod jobs;
pub mod operations;
pub mod orders;
pub mod parse;
pub mod plan;
pub mod privacy;
pub mod problems;
pub mod reports;
pub mod respond;
pub mod routes;
pub mod sessions;
pub mod settings;
pub mod spec;
pub mod webhooks;

pub use routes::RouteTable;

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use utoipa_actix_web::{scope, service_config::ServiceConfig};

use crate::error::{ApiError, ApiResult};
use crate::service::pagination::PageRequest;

/// Registers every route with its spec.
pub fn configure(cfg: &mut ServiceConfig) {
    // In the order actix tries them: static paths first, then the order's own routes (the
    // ones under load), the coaches' `{id}` routes last.
    cfg.service(operations::live)
        .service(operations::ready)
        .service(operations::metrics)
        .service(
            scope::scope("/api/v1")
                .service(orders::list_orders)
                .service(orders::create_order)
                .service(auth::token)
                .service(auth::revoke)
                .service(auth::me)
                .service(auth::set_password)
                .service(accounts::list_users)
                .service(accounts::list_clients)
                .service(audit::audit_trail)
                .service(sessions::list_sessions)
                .service(groups::create_group)
                .service(coaches::list_coaches)
                .service(coaches::create_coach)
                .service(coachee::coachee_view)
                .service(coachee::put_consents)
                .service(coachee::session_feedback)
                .service(coachee::own_free_slots)
                .service(coachee::own_booking)
                .service(coachee::own_move)
                .service(coachee::own_cancellation)
                .service(follow_ups::list_follow_ups)
                .service(follow_ups::get_policy)
                .service(follow_ups::put_policy)
                .service(jobs::list_jobs)
                .service(events::event_feed)
                .service(reports::outcomes)
                .service(webhooks::list_webhooks)
                .service(webhooks::create_webhook)
                .service(invitations::list_invitations)
                .service(invitations::create_invitation)
                .service(invitations::public_invitation)
                .service(invitations::sign_up)
                .service(settings::get_settings)
                .service(settings::put_settings)
                .service(orders::get_order)
                .service(orders::update_order)
                .service(orders::assign)
                .service(orders::record_contact)
                .service(orders::cancel)
                .service(orders::extend)
                .service(orders::complete)
                .service(orders::timeline)
                .service(privacy::erase)
                .service(privacy::export)
                .service(orders::coach_suggestions)
                .service(intake::get_intake)
                .service(intake::put_intake)
                .service(intake::validate_intake)
                .service(intake::complete_intake)
                .service(plan::get_plan)
                .service(plan::put_plan)
                .service(plan::update_task)
                .service(coachee::issue_link)
                .service(coachee::revoke_links)
                .service(sessions::book_session)
                .service(sessions::book_series)
                .service(sessions::order_sessions)
                .service(sessions::get_session)
                .service(sessions::reschedule_session)
                .service(sessions::get_notes)
                .service(sessions::put_notes)
                .service(sessions::cancel_session)
                .service(sessions::record_attendance)
                .service(closing::get_closing_review)
                .service(closing::put_closing_review)
                .service(closing::validate_closing_review)
                .service(follow_ups::order_follow_ups)
                .service(follow_ups::change_follow_up)
                .service(follow_ups::record_outcome)
                .service(jobs::retry_job)
                .service(webhooks::get_webhook)
                .service(webhooks::update_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::rotate_secret)
                .service(webhooks::ping)
                .service(webhooks::list_deliveries)
                .service(webhooks::redeliver)
                .service(invitations::get_invitation)
                .service(invitations::rotate_token)
                .service(invitations::close_invitation)
                .service(groups::get_group)
                .service(groups::add_participant)
                .service(groups::move_group)
                .service(groups::cancel_group)
                .service(availability::get_availability)
                .service(availability::put_availability)
                .service(availability::free_slots)
                .service(calendars::coach_calendar)
                .service(calendars::order_calendar)
                .service(calendars::issue_coach_feed)
                .service(calendars::issue_order_feed)
                .service(accounts::change_user)
                .service(accounts::change_client)
                .service(accounts::rotate_client_secret)
                .service(coaches::get_coach)
                .service(coaches::update_coach)
                .service(coaches::grant_login)
                .route("/openapi.json", web::get().to(spec::served)),
        );
}

/// The OpenAPI document of every route, as the service serves it.
pub fn openapi() -> serde_json::Value {
    spec::document()
}

/// A plain page of a list: `?limit=` and `?cursor=`.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// What an unrouted request gets: 405 with `Allow` if the path exists, else 404.
pub async fn unrouted(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> ApiResult<actix_web::HttpResponse> {
    Err(match routes.allowed(req.path()) {
        Some(methods) => ApiError::MethodNotAllowed {
            allow: methods.to_vec(),
        },
        None => ApiError::not_found(format!("there is no route {}", req.path())),
    })
}

/// What an `If-Match` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// No header.
    Absent,
    /// `*`: any current version (RFC 9110 §13.1.1).
    Any,
    Version(i32),
}

impl IfMatch {
    /// The version the resource must still have, if one was named.
    pub fn version(self) -> Option<i32> {
        match self {
            IfMatch::Version(v) => Some(v),
            IfMatch::Absent | IfMatch::Any => None,
        }
    }
}

/// The `If-Match` precondition. `If-Match` uses the strong comparison (RFC 9110 §13.1.1): a weak
/// ETag (`W/"2"`) never matches, so it fails the precondition (412).
pub fn if_match(req: &HttpRequest) -> ApiResult<IfMatch> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(IfMatch::Absent);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(IfMatch::Any);
    }
    if text.starts_with("W/") {
        return Err(ApiError::PreconditionFailed(
            "If-Match compares ETags strongly (RFC 9110 §13.1.1) and a weak ETag never matches; send the ETag exactly as read".into(),
        ));
    }
    conditional::version_of(text)
        .map(IfMatch::Version)
        .ok_or_else(|| ApiError::invalid_field("If-Match", "must be an ETag this API returned"))
}

/// `If-Match` where a change needs it (428 without it); the version it names, if any.
pub fn require_if_match(req: &HttpRequest, what: &str) -> ApiResult<Option<i32>> {
    match if_match(req)? {
        IfMatch::Absent => Err(ApiError::PreconditionRequired(format!(
            "send If-Match with the ETag of {what} to change it"
        ))),
        other => Ok(other.version()),
    }
}

/// The page a list request asks for; a bad `limit` or `cursor` is a 400 naming it.
pub fn page(limit: Option<i64>, cursor: Option<&str>) -> ApiResult<PageRequest> {
    PageRequest::new(limit, cursor).map_err(|e| ApiError::invalid_field(e.pointer, e.detail))
}
