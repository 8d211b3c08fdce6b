//! The provider's settings: `GET/PUT /provider-settings`.

use actix_web::{get, put, web, HttpRequest, HttpResponse};

use crate::api::extract::Json;
use crate::api::if_match;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, ProviderAdmins, ProviderStaff};
use crate::domain::provider_settings::ProviderSettings;
use crate::error::ApiResult;
use crate::service::provider_settings::{self, SettingsView};
use crate::state::AppState;

/// Read the provider's settings.
///
/// Whether coachees book their own sessions, and the notice for a cancellation by the coachee's
/// side not to count. For the provider's planners and coaches.
#[utoipa::path(
    tag = "provider",
    security(("bearer" = ["coach", "provider_admin"])),
    responses(
        (status = 200, description = "The settings (the defaults, version 0, before the first save)", body = SettingsView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/provider-settings")]
pub async fn get_settings(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
) -> ApiResult<HttpResponse> {
    let view = respond::read(&state, move |conn, _| provider_settings::get(conn, &caller)).await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Change the provider's settings.
///
/// For the provider's planners; `If-Match` is honoured. A new notice applies to cancellations
/// from now on.
#[utoipa::path(
    tag = "provider",
    security(("bearer" = ["provider_admin"])),
    params(("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if they changed since")),
    request_body = ProviderSettings,
    responses(
        (status = 200, description = "The saved settings", body = SettingsView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/provider-settings")]
pub async fn put_settings(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    Json(settings): Json<ProviderSettings>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let view = respond::call(&state, move |conn, now| {
        provider_settings::replace(conn, now, &caller, expected, settings)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}
