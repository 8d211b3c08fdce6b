//! The closing review (000): `GET/PUT /orders/{id}/closing-review`,
//! `POST /orders/{id}/closing-review/validate`. The coach's and the coachee's own: completing the
//! trajectory asks for it (`crate::service::closing`).

use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::api::extract::Json;
use crate::api::idempotency::IdempotencyKey;
use crate::api::if_match;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, Coaches};
use crate::domain::closing::ClosingReview;
use crate::error::ApiResult;
use crate::service::closing;
use crate::state::AppState;
use crate::views::coaching::{ClosingReviewView, ValidationReport};

/// Read the closing review.
///
/// For the order's coach: each of the client's qualities with its "too much" question and what
/// the plan does about it (000), and the closing summary.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The closing review (empty, version 0, before the first save)", body = ClosingReviewView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/orders/{id}/closing-review")]
pub async fn get_closing_review(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let view =
        respond::read_confidential(&state, move |conn, _| closing::get(conn, &caller, &id)).await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Save the closing review.
///
/// The order's coach keeps it with the coachee while the trajectory runs; each save replaces it.
/// A quality without an answer is allowed here; completing refuses it. `If-Match` is honoured.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read")),
    request_body = ClosingReview,
    responses(
        (status = 200, description = "The saved review", body = ClosingReviewView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/orders/{id}/closing-review")]
pub async fn put_closing_review(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    Json(review): Json<ClosingReview>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let view = respond::call(&state, move |conn, now| {
        closing::replace(conn, now, &caller, &id, expected, review)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Check the closing review.
///
/// What completing the trajectory would find in the saved review, changing nothing: each
/// finding with a stable code, a severity, the JSON pointer of the field and a sentence.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The findings", body = ValidationReport),
    )
)]
#[post("/orders/{id}/closing-review/validate")]
pub async fn validate_closing_review(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, _, caller| {
        closing::validate(conn, caller, &id).map(|report| Reply::ok(&report))
    })
    .await
}
