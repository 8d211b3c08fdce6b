//! Group sessions (003): `POST /session-groups`, `GET/PATCH /session-groups/{id}`,
//! `POST /session-groups/{id}/participants`, `POST /session-groups/{id}/cancel`.

use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::extract::Json;
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, ProviderStaff};
use crate::domain::session::NewGroup;
use crate::error::ApiResult;
use crate::service::groups::{self, GroupCancellation};
use crate::service::sessions::SessionChanges;
use crate::state::AppState;
use crate::views::session::{GroupView, SessionView};

/// An order to add to a group session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Participant {
    pub order_id: Uuid,
}

/// Set up a group session.
///
/// By the coach or the provider's planner: one time of one coach for several of the coach's
/// orders (003), up to `capacity`. Each order named gets a regular session of its own, checked by
/// the same rules as a single booking and counted against its own budget; the coach's time is
/// taken once. All or none: if one order cannot take part, nothing is booked (the problem says
/// why, as for a single booking). Participants see their own session, never each other's orders.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    request_body = NewGroup,
    responses(
        (status = 201, description = "The group session with its participants", body = GroupView,
            headers(("Location" = String, description = "the group's URL"))),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/session-groups")]
pub async fn create_group(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    key: IdempotencyKey,
    Json(body): Json<NewGroup>,
) -> ApiResult<HttpResponse> {
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let group = groups::create(conn, now, caller, body)?;
        Ok(Reply::created(&group).location(format!("/api/v1/session-groups/{}", group.id)))
    })
    .await
}

/// Get a group session.
///
/// For its coach and the provider's planners: each participant's session.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The group's id")),
    responses(
        (status = 200, description = "The group session", body = GroupView),
    )
)]
#[get("/session-groups/{id}")]
pub async fn get_group(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<GroupView>> {
    let id = id.to_string();
    respond::read(&state, move |conn, _| groups::get(conn, &caller, &id))
        .await
        .map(web::Json)
}

/// Add a participant.
///
/// Another of the coach's orders joins a group session that has room (`group-full` when not),
/// under the same rules as a single booking.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The group's id")),
    request_body = Participant,
    responses(
        (status = 201, description = "The new participant's session", body = SessionView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/session-groups/{id}/participants")]
pub async fn add_participant(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<Participant>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let session = groups::add(conn, now, caller, &id, &body.order_id.to_string())?;
        Ok(Reply::created(&session)
            .location(format!("/api/v1/sessions/{}", session.id))
            .etag(session.version))
    })
    .await
}

/// Move a group session.
///
/// By its coach or the provider's planners: every place that stands gets the new time, length
/// or format, each under the same rules as moving a single session (the group's own time left
/// out of the check); all or none. Each participant's order records `session.rescheduled`.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The group's id")),
    request_body = SessionChanges,
    responses(
        (status = 200, description = "The moved group session", body = GroupView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[patch("/session-groups/{id}")]
pub async fn move_group(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Json(changes): Json<SessionChanges>,
) -> ApiResult<web::Json<GroupView>> {
    let id = id.to_string();
    respond::call(&state, move |conn, now| {
        groups::move_group(conn, now, &caller, &id, changes)
    })
    .await
    .map(web::Json)
}

/// Call a group session off.
///
/// By its coach or the provider's planners, on the provider's side: every place that stands is
/// called off (none counts against a budget), each recorded on its order as `session.cancelled`.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The group's id")),
    request_body = GroupCancellation,
    responses(
        (status = 200, description = "The group session, its places called off", body = GroupView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/session-groups/{id}/cancel")]
pub async fn cancel_group(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    key: IdempotencyKey,
    id: web::Path<Uuid>,
    Json(body): Json<GroupCancellation>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let group = groups::cancel_group(conn, now, caller, &id, body)?;
        Ok(Reply::ok(&group))
    })
    .await
}
