//! The coachee's data rights: `GET /orders/{id}/export` (everything held about them) and
//! `POST /orders/{id}/erase` (their personal data erased once the trajectory is over).

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use uuid::Uuid;

use crate::api::respond;
use crate::auth::extract::{Caller, Exporters, ProviderAdmins};
use crate::error::ApiResult;
use crate::service::privacy;
use crate::state::AppState;
use crate::views::privacy::{Erasure, Export};

/// Export everything held about the coachee.
///
/// One JSON document (GDPR art. 15 and 20): the order with the coachee's contact data and the
/// employer's details, consents with their history, the intake, the plan, extensions, sessions
/// with attendance and the coachee's own feedback, the closing review, follow-ups and their
/// outcomes, the coachee's links, and the order's events; table by table, each column as the
/// README's map of personal data describes it, secrets left out. For the provider's planners
/// (to answer a request) and for the coachee with their link. The coach's notes (a session's
/// notes, the intake's private note) are in the coachee's own export only. The employer gets
/// none. Recorded in the audit trail as a read of confidential content.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["provider_admin", "coachee"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The export", body = Export),
    )
)]
#[get("/orders/{id}/export")]
pub async fn export(
    state: web::Data<AppState>,
    caller: Caller<Exporters>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let keys = state.notes_key.clone();
    let export = respond::read_confidential(&state, move |conn, now| {
        privacy::export(conn, now, &caller, &id, &keys)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(export))
}

/// Erase the coachee's personal data.
///
/// For the provider's planners, once the order is closed or cancelled (before, 409
/// `order-not-finished`). The coachee's name becomes `[erased]`; their contact data, the
/// employer's details and reference, reasons, comments and notes are cleared; the intake, plan,
/// closing review, session notes, consents, links, calendar feed and remembered
/// `Idempotency-Key` answers are deleted. What stays is what the reports need: kinds, states,
/// dates, counts and outcomes, and the events, which carry no personal data. Every column's
/// fate is in the README's map of personal data. Erasing again answers the first erasure.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "Erased", body = Erasure),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/erase")]
pub async fn erase(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Erasure>> {
    let id = id.to_string();
    let erased = respond::call(&state, move |conn, now| {
        privacy::erase(conn, now, &caller, &id)
    })
    .await?;
    // The coachee's links are gone: their tokens stop at once.
    state.issuer.confirmed.forget_all();
    Ok(web::Json(erased))
}
