//! `GET/POST /coaches`, `GET/PATCH /coaches/{id}`. Who sees and changes what is decided in
//! `domain::coach`; the use cases are `crate::service::coaches`.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::api::{if_match, page};
use crate::auth::extract::{Caller, ProviderAdmins, ProviderStaff, Staff};
use crate::domain::coach::{CoachChanges, NewCoach};
use crate::error::ApiResult;
use crate::service::coaches::{self, CoachQuery};
use crate::state::AppState;
use crate::views::coach::{Coach, CoachPage, LoginSetupIssued};

/// A coach, with its version as `ETag` when the caller sees it.
fn coach_reply(reply: Reply, coach: &Coach) -> Reply {
    match coach.version {
        Some(version) => reply.etag(version),
        None => reply,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CoachListParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only active (true) or inactive (false) coaches; provider staff only.
    pub active: Option<bool>,
    /// Only coaches changed at or after this time (for sync).
    #[serde(default, deserialize_with = "crate::api::parse::rfc3339")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// List coaches.
///
/// Provider staff list their own provider's coaches; an employer lists the professional profiles
/// of its contracted provider's active coaches.
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(CoachListParams),
    responses(
        (status = 200, description = "A page of coaches, in creation order", body = CoachPage),
    )
)]
#[get("/coaches")]
pub async fn list_coaches(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    Query(params): Query<CoachListParams>,
) -> ApiResult<web::Json<CoachPage>> {
    let query = CoachQuery {
        active: params.active,
        updated_since: params.updated_since,
        page: page(params.limit, params.cursor.as_deref())?,
    };
    respond::read(&state, move |conn, _| coaches::list(conn, &caller, query))
        .await
        .map(web::Json)
}

/// Add a coach.
///
/// For the provider's admins. One person is one coach: an email the provider's coaches have
/// already is a 409 `coach-email-taken` naming `existing_coach_id`. The coach signs in once given
/// a login (`POST /coaches/{id}/login`).
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = ["provider_admin"])),
    request_body = NewCoach,
    responses(
        (status = 201, description = "The coach was added", body = Coach,
            headers(("Location" = String, description = "the coach's URL"), ("ETag" = String, description = "the version"))),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/coaches")]
pub async fn create_coach(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    key: IdempotencyKey,
    Json(body): Json<NewCoach>,
) -> ApiResult<HttpResponse> {
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let coach = coaches::add(conn, now, caller, body)?;
        let reply = Reply::created(&coach).location(format!("/api/v1/coaches/{}", coach.id));
        Ok(coach_reply(reply, &coach))
    })
    .await
}

/// Get a coach.
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The coach's id")),
    responses(
        (status = 200, description = "The coach, as much as the caller may see", body = Coach,
            headers(("ETag" = String, description = "the version, for `If-Match`"))),
    )
)]
#[get("/coaches/{id}")]
pub async fn get_coach(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let coach = respond::read(&state, move |conn, _| coaches::get(conn, &caller, &id)).await?;
    Ok(coach_reply(Reply::ok(&coach), &coach).into())
}

/// Change a coach.
///
/// The provider's admins change any of their coaches; a coach changes their own profile (not
/// `active`). Send `If-Match` with the `ETag` you read to avoid overwriting someone else's change.
/// A new email must be no other coach's (409 `coach-email-taken`); a coach's login follows their
/// email, so it must be no other login's either (409 `email-has-login`). A coach set
/// `active: false` can no longer sign in, and their tokens stop working at once; a coach who still
/// has open orders (accepted, intake scheduled, active, following up) is refused with 409
/// `coach-has-open-orders` naming them: a planner assigns each to another coach first.
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = ["coach", "provider_admin"])),
    params(
        ("id" = Uuid, Path, description = "The coach's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if the coach changed since"),
    ),
    request_body = CoachChanges,
    responses(
        (status = 200, description = "The changed coach", body = Coach,
            headers(("ETag" = String, description = "the new version"))),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[patch("/coaches/{id}")]
pub async fn update_coach(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Json(changes): Json<CoachChanges>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let ends_access = changes.active == Some(false);
    let coach = respond::call(&state, move |conn, now| {
        coaches::change(conn, now, &caller, &id, expected, changes)
    })
    .await?;
    if ends_access {
        // The coach's live tokens stop working on their next request here.
        state.issuer.confirmed.forget_all();
    }
    Ok(coach_reply(Reply::ok(&coach), &coach).into())
}

/// Give a coach a login.
///
/// For the provider's admins. The coach's email becomes the login name, and the answer holds a
/// one-time `setup_token` (shown once, valid 7 days) for the coach to choose a password with
/// `POST /auth/set-password`; the admin never knows the password. A coach who signs in already
/// is a 409 `coach-has-login`; for one whose password was never set, a new token replaces the
/// old. An email that is another account's login is a 409 `email-has-login`. Not remembered
/// under an `Idempotency-Key`: the token is a credential.
#[utoipa::path(
    tag = "coaches",
    security(("bearer" = ["provider_admin"])),
    params(("id" = Uuid, Path, description = "The coach's id")),
    responses(
        (status = 201, description = "The login, waiting for its password", body = LoginSetupIssued),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/coaches/{id}/login")]
pub async fn grant_login(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let issued = respond::call(&state, move |conn, now| {
        coaches::grant_login(conn, now, &caller, &id)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(issued))
}
