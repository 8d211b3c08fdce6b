//! The intake: `GET/PUT /orders/{id}/intake`, `POST …/intake/validate`, `POST …/intake/complete`.
//!
//! Confidential: the employer never reads it. The provider's planner reads it without the coach's
//! private note. Only the assigned coach writes it (`crate::service::intake`).

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::api::extract::Json;
use crate::api::idempotency::IdempotencyKey;
use crate::api::if_match;
use crate::api::orders::order_reply;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, Coaches, ProviderStaff};
use crate::domain::intake::IntakeDraft;
use crate::error::ApiResult;
use crate::service::intake;
use crate::state::AppState;
use crate::views::coaching::{IntakeView, ValidationReport};

/// Read the intake.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The intake (the private note only for the coach)", body = IntakeView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/orders/{id}/intake")]
pub async fn get_intake(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let view =
        respond::read_confidential(&state, move |conn, _| intake::get(conn, &caller, &id)).await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Save the intake draft.
///
/// The assigned coach keeps the intake as a draft while the order is `accepted` or
/// `intake_scheduled`; each save replaces it. `If-Match` is honoured.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read")),
    request_body = IntakeDraft,
    responses(
        (status = 200, description = "The saved draft", body = IntakeView),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/orders/{id}/intake")]
pub async fn put_intake(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    Json(draft): Json<IntakeDraft>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let view = respond::call(&state, move |conn, now| {
        intake::save_draft(conn, now, &caller, &id, expected, draft)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Check the intake.
///
/// Runs the rules that completing the intake runs, on the saved draft and plan, and changes
/// nothing. Each finding has a stable code, a severity, the JSON pointer of the field (under
/// `/plan` for the plan) and a sentence a coach understands.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The findings", body = ValidationReport),
    )
)]
#[post("/orders/{id}/intake/validate")]
pub async fn validate_intake(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        intake::validate(conn, now, caller, &id).map(|report| Reply::ok(&report))
    })
    .await
}

/// Complete the intake.
///
/// Runs the validation; with any error it refuses (422, the findings in `findings` and the
/// errors in `errors`). Otherwise it records the decision and moves the order: start → `active`,
/// decline → `declined`, alternative → `alternative_proposed`. Allowed from `accepted` (the
/// intake happened during the first-contact call, 004) and `intake_scheduled`.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order after the decision", body = crate::views::order::OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/intake/complete")]
pub async fn complete_intake(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        intake::complete(conn, now, caller, &id).map(|order| order_reply(&order))
    })
    .await
}
