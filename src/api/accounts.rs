//! An organisation's logins and API clients: `GET /users`, `PATCH /users/{id}`, `GET /clients`,
//! `PATCH /clients/{id}`, `POST /clients/{id}/rotate-secret`. The rules are in
//! `crate::service::accounts`.

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::{page, respond, PageParams};
use crate::auth::extract::{AccountManagers, Caller};
use crate::error::ApiResult;
use crate::service::accounts;
use crate::state::AppState;
use crate::views::identity::{
    ApiClientPage, ApiClientView, RotatedClientSecret, UserAccount, UserAccountPage,
};

/// Enable or disable a login or an API client.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessChange {
    /// `false` disables: no new tokens, and the tokens it holds are refused on their next
    /// request. `true` enables it again.
    pub active: bool,
}

/// List your organisation's logins.
///
/// The people who sign in for your organisation (HR users; for a provider its planners and
/// coaches), ordered by id.
#[utoipa::path(
    tag = "access",
    security(("bearer" = ["employer", "provider_admin"])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of logins", body = UserAccountPage),
    )
)]
#[get("/users")]
pub async fn list_users(
    state: web::Data<AppState>,
    caller: Caller<AccountManagers>,
    Query(params): Query<PageParams>,
) -> ApiResult<web::Json<UserAccountPage>> {
    let page = page(params.limit, params.cursor.as_deref())?;
    respond::read(&state, move |conn, _| {
        accounts::list_users(conn, &caller, page)
    })
    .await
    .map(web::Json)
}

/// Disable or enable a login.
///
/// Disabling stops the person's sign-in and ends their login sessions: their tokens are refused
/// on the next request. Enabling lets them sign in again. Your own login cannot be disabled by
/// you (409 `own-access`). A coach who leaves is deactivated on their coach profile
/// (`PATCH /coaches/{id}`), which also stops their login.
#[utoipa::path(
    tag = "access",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The login's id")),
    request_body = AccessChange,
    responses(
        (status = 200, description = "The login", body = UserAccount),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[patch("/users/{id}")]
pub async fn change_user(
    state: web::Data<AppState>,
    caller: Caller<AccountManagers>,
    id: web::Path<Uuid>,
    Json(change): Json<AccessChange>,
) -> ApiResult<web::Json<UserAccount>> {
    let id = id.to_string();
    let user = respond::call(&state, move |conn, now| {
        accounts::set_user_active(conn, now, &caller, &id, change.active)
    })
    .await?;
    state.issuer.confirmed.forget_all();
    Ok(web::Json(user))
}

/// List your organisation's API clients.
///
/// The systems that get tokens with `client_credentials` for your organisation, ordered by id.
/// Their secrets are never shown.
#[utoipa::path(
    tag = "access",
    security(("bearer" = ["employer", "provider_admin"])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of API clients", body = ApiClientPage),
    )
)]
#[get("/clients")]
pub async fn list_clients(
    state: web::Data<AppState>,
    caller: Caller<AccountManagers>,
    Query(params): Query<PageParams>,
) -> ApiResult<web::Json<ApiClientPage>> {
    let page = page(params.limit, params.cursor.as_deref())?;
    respond::read(&state, move |conn, now| {
        accounts::list_clients(conn, now, &caller, page)
    })
    .await
    .map(web::Json)
}

/// Disable or enable an API client.
///
/// Disabling stops its `client_credentials` grant, and its tokens are refused on the next
/// request. A client cannot disable itself (409 `own-access`).
#[utoipa::path(
    tag = "access",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The client's id (not its `client_id`)")),
    request_body = AccessChange,
    responses(
        (status = 200, description = "The client", body = ApiClientView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[patch("/clients/{id}")]
pub async fn change_client(
    state: web::Data<AppState>,
    caller: Caller<AccountManagers>,
    id: web::Path<Uuid>,
    Json(change): Json<AccessChange>,
) -> ApiResult<web::Json<ApiClientView>> {
    let id = id.to_string();
    let client = respond::call(&state, move |conn, now| {
        accounts::set_client_active(conn, now, &caller, &id, change.active)
    })
    .await?;
    state.issuer.confirmed.forget_all();
    Ok(web::Json(client))
}

/// How long the secret a rotation replaces keeps working.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RotateParams {
    /// Hours the replaced secret keeps working, 0 to 24 (default 24); 0 for a secret that leaked.
    #[param(minimum = 0, maximum = 24, example = 0)]
    pub overlap_hours: Option<u32>,
}

/// Rotate an API client's secret.
///
/// Returns a new secret, shown once. The previous one keeps working for 24 hours
/// (`previous_secret_expires_at`), so the HR system can switch without an outage, or for
/// `overlap_hours`; with `overlap_hours=0` it stops working now, as a secret that leaked must,
/// and so do the access tokens issued before (and any secret an earlier rotation left working).
/// A client may rotate its own secret, but only with the whole overlap (409 `own-access`
/// otherwise: a token that leaked must not lock the HR system out). A secret replaced before
/// that stops working now. An HR system may rotate its own secret. Tokens
/// already issued keep working until they expire. Not remembered under an `Idempotency-Key`:
/// the answer is a credential.
#[utoipa::path(
    tag = "access",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The client's id (not its `client_id`)"), RotateParams),
    responses(
        (status = 200, description = "The new secret", body = RotatedClientSecret),
    )
)]
#[post("/clients/{id}/rotate-secret")]
pub async fn rotate_client_secret(
    state: web::Data<AppState>,
    caller: Caller<AccountManagers>,
    id: web::Path<Uuid>,
    Query(params): Query<RotateParams>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let rotated = respond::call(&state, move |conn, now| {
        accounts::rotate_client_secret(conn, now, &caller, &id, params.overlap_hours)
    })
    .await?;
    // With no overlap the tokens issued before it end too, on their next request here.
    state.issuer.confirmed.forget_all();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(rotated))
}
