//! The coachee's own voice: a scoped link token (`POST/DELETE /orders/{id}/coachee-link`), their
//! trajectory (`GET /coachee/order`), their consents (`PUT /coachee/consents`) and their rating of
//! the first session (`POST /coachee/sessions/{id}/feedback`). The rules are
//! in `crate::service::coachee`.

use actix_web::http::header;
use actix_web::{delete, get, post, put, web, HttpResponse};
use uuid::Uuid;

use crate::api::extract::Json;
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, Coachees, Coaches, ProviderStaff};
use crate::domain::alliance::Feedback;
use crate::domain::coachee_link::LinkRequest;
use crate::domain::consent::ConsentChanges;
use crate::error::ApiResult;
use crate::service::{alliance, coachee};
use crate::state::AppState;
use crate::views::coachee::{CoacheeLinkIssued, CoacheeOrder, Consents};
use crate::views::session::SessionView;

/// Give the coachee a link.
///
/// Issues a bearer token with role `coachee` that opens only this order's coachee endpoints,
/// for a limited time; revocable with `DELETE /orders/{id}/coachee-link`. Only the assigned
/// coach issues it and hands it to the coachee: whoever holds it speaks as the coachee (gives
/// consent, reads the plan), so the employer never does. Not remembered under an
/// `Idempotency-Key`: the token is shown once.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = LinkRequest,
    responses(
        (status = 201, description = "The link token", body = CoacheeLinkIssued),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/coachee-link")]
pub async fn issue_link(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    Json(body): Json<LinkRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let issuer = state.issuer.clone();
    let issued = respond::call(&state, move |conn, now| {
        coachee::issue_link(conn, now, &caller, &id, body, &issuer)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(issued))
}

/// Revoke the coachee's links.
///
/// Every link issued for this order stops working at once. By the coach or the provider's
/// planner.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 204, description = "Revoked"),
    )
)]
#[delete("/orders/{id}/coachee-link")]
pub async fn revoke_links(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::call(&state, move |conn, now| {
        coachee::revoke_links(conn, now, &caller, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The coachee's trajectory.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coachee"])),
    responses(
        (status = 200, description = "Your trajectory", body = CoacheeOrder),
    )
)]
#[get("/coachee/order")]
pub async fn coachee_view(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
) -> ApiResult<web::Json<CoacheeOrder>> {
    respond::read(&state, move |conn, now| coachee::view(conn, now, &caller))
        .await
        .map(web::Json)
}

/// Give or withdraw consent.
///
/// Each change is recorded with its time and source. Withdrawing consent to an assessment
/// cancels a planned one; withdrawing consent to share hides the summary from the employer.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coachee"])),
    request_body = ConsentChanges,
    responses(
        (status = 200, description = "Your consents now", body = Consents),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[put("/coachee/consents")]
pub async fn put_consents(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
    Json(changes): Json<ConsentChanges>,
) -> ApiResult<web::Json<Consents>> {
    respond::call(&state, move |conn, now| {
        coachee::change_consents(conn, now, &caller, changes)
    })
    .await
    .map(web::Json)
}

/// Rate the first session.
///
/// After the first regular session was held, the coachee rates the working relationship, 1 to
/// 5, with an optional comment (004: the relationship must be good after the first session).
/// Your coach and the provider read it; your employer does not. A rating of 2 or lower tells the
/// provider the relationship is at risk. Once per trajectory.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coachee"])),
    params(("id" = Uuid, Path, description = "The session's id")),
    request_body = Feedback,
    responses(
        (status = 200, description = "The session with your rating", body = SessionView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/coachee/sessions/{id}/feedback")]
pub async fn session_feedback(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<Feedback>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let session = alliance::give_feedback(conn, now, caller, &id, body)?;
        Ok(Reply::ok(&session).etag(session.version))
    })
    .await
}
