//! The coachee's own voice: a scoped link token (`POST/DELETE /orders/{id}/coachee-link`), their
//! trajectory (`GET /coachee/order`), their consents (`PUT /coachee/consents`) and their rating of
//! the first session (`POST /coachee/sessions/{id}/feedback`), and, when the provider offers
//! it, self-service booking (`GET /coachee/free-slots`, `POST /coachee/sessions`,
//! `PATCH /coachee/sessions/{id}`, `POST /coachee/sessions/{id}/cancel`). The rules are
//! in `crate::service::coachee`.

use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use uuid::Uuid;

use crate::api::availability::FreeSlotParams;
use crate::api::extract::{Json, OptionalJson, Query};
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, Coachees, Coaches, ProviderStaff};
use crate::domain::alliance::Feedback;
use crate::domain::coachee_link::LinkRequest;
use crate::domain::consent::ConsentChanges;
use crate::error::ApiResult;
use crate::service::self_service::{self, OwnBooking, OwnCancellation, OwnMove};
use crate::service::{alliance, coachee};
use crate::state::AppState;
use crate::views::coachee::{CoacheeLinkIssued, CoacheeOrder, Consents, LinksRevoked};
use crate::views::session::{FreeSlots, SessionView};

/// Give the coachee a link.
///
/// Issues a bearer token with role `coachee` that opens only this order's coachee endpoints,
/// for a limited time; revocable with `DELETE /orders/{id}/coachee-link`. An order has one live
/// link: a new one replaces the earlier (`replaced_links` says how many stopped working). Only the assigned
/// coach issues it and hands it to the coachee: whoever holds it speaks as the coachee (gives
/// consent, reads the plan), so the employer never does. Not remembered under an
/// `Idempotency-Key`: the token is shown once.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = Option<LinkRequest>,
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
    OptionalJson(body): OptionalJson<LinkRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let issuer = state.issuer.clone();
    let issued = respond::call(&state, move |conn, now| {
        coachee::issue_link(conn, now, &caller, &id, body, &issuer)
    })
    .await?;
    if issued.replaced_links > 0 {
        state.issuer.confirmed.forget_all();
    }
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(issued))
}

/// Revoke the coachee's links.
///
/// Every link issued for this order stops working at once (the coachee's token is refused on
/// its next request), and so does the order's calendar feed token (it is the coachee's). The
/// answer says what was ended; revoking again ends nothing and says so. By the coach or the
/// provider's planner. A new link can be issued afterwards.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "What was revoked", body = LinksRevoked),
    )
)]
#[delete("/orders/{id}/coachee-link")]
pub async fn revoke_links(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let revoked = respond::call(&state, move |conn, now| {
        coachee::revoke_links(conn, now, &caller, &id)
    })
    .await?;
    state.issuer.confirmed.forget_all();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(revoked))
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

/// Your coach's free slots.
///
/// When your provider offers self-service: the times your coach has free for a session of
/// `duration` minutes between `from` and `to` (at most 62 days). Times only.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coachee"])),
    params(FreeSlotParams),
    responses(
        (status = 200, description = "The free slots, in order", body = FreeSlots),
    )
)]
#[get("/coachee/free-slots")]
pub async fn own_free_slots(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
    Query(params): Query<FreeSlotParams>,
) -> ApiResult<web::Json<FreeSlots>> {
    let query = params.query()?;
    respond::read(&state, move |conn, now| {
        self_service::free_slots(conn, now, &caller, query)
    })
    .await
    .map(web::Json)
}

/// Book a session yourself.
///
/// When your provider offers self-service: a regular session at one of your coach's free
/// times, under the same rules as when your coach books it (the budget, the trajectory's end,
/// your coach's hours and notice). It takes place as your latest session did (the same place
/// or video link), or by phone for the first.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coachee"])),
    request_body = OwnBooking,
    responses(
        (status = 201, description = "Your session (also in `GET /coachee/order`)", body = SessionView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/coachee/sessions")]
pub async fn own_booking(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
    key: IdempotencyKey,
    Json(body): Json<OwnBooking>,
) -> ApiResult<HttpResponse> {
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let session = self_service::book(conn, now, caller, body)?;
        Ok(Reply::created(&session).etag(session.version))
    })
    .await
}

/// Move one of your sessions.
///
/// When your provider offers self-service: a planned regular session that has not started, to
/// another free time of your coach.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coachee"])),
    params(("id" = Uuid, Path, description = "The session's id")),
    request_body = OwnMove,
    responses(
        (status = 200, description = "Your session", body = SessionView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[patch("/coachee/sessions/{id}")]
pub async fn own_move(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
    id: web::Path<Uuid>,
    Json(body): Json<OwnMove>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let session = respond::call(&state, move |conn, now| {
        self_service::reschedule(conn, now, &caller, &id, body)
    })
    .await?;
    Ok(Reply::ok(&session).etag(session.version).into())
}

/// Cancel one of your sessions.
///
/// When your provider offers self-service: a planned regular session that has not started.
/// Later than your provider's notice (24 hours unless it says otherwise) it counts against your
/// sessions, and the answer's `counts_against_budget` says so.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = ["coachee"])),
    params(("id" = Uuid, Path, description = "The session's id")),
    request_body = OwnCancellation,
    responses(
        (status = 200, description = "Your cancelled session", body = SessionView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/coachee/sessions/{id}/cancel")]
pub async fn own_cancellation(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<OwnCancellation>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let session = self_service::cancel(conn, now, caller, &id, body)?;
        Ok(Reply::ok(&session).etag(session.version))
    })
    .await
}
