//! `POST /orders/{id}/erase`: the coachee's personal data erased once the trajectory is over.

use actix_web::{post, web};
use uuid::Uuid;

use crate::api::respond;
use crate::auth::extract::{Caller, ProviderAdmins};
use crate::error::ApiResult;
use crate::service::privacy;
use crate::state::AppState;
use crate::views::privacy::Erasure;

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
