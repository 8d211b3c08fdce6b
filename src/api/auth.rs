//! `POST /auth/token`, `POST /auth/revoke`, `GET /me`.

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::extract::{Form, Json};
use crate::api::respond;
use crate::auth::extract::{Caller, Staff};
use crate::auth::issuer::IssuedTokens;
use crate::auth::secrets;
use crate::domain::principal::Role;
use crate::error::{ApiError, ApiResult};
use crate::service::identity::{self, PasswordSetup};
use crate::service::sign_in::{self, ClientCredentials};
use crate::state::AppState;
use crate::views::identity::Me;

/// A token request (RFC 6749 §4.3, §4.4, §6), form-encoded. Parameters a grant does not use are
/// ignored, as RFC 6749 §3.1 requires.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `client_credentials`, `password` or `refresh_token`.
    // Optional here so that its absence is OAuth's `invalid_request`, not a parse error.
    #[schema(value_type = GrantType, required = true, example = "client_credentials")]
    pub grant_type: Option<String>,
    /// The person's email (`password` grant).
    #[schema(value_type = String, required = false, min_length = 1)]
    pub username: Option<String>,
    /// The person's password (`password` grant).
    #[schema(value_type = String, required = false, min_length = 1)]
    pub password: Option<String>,
    /// The refresh token to rotate (`refresh_token` grant).
    #[schema(value_type = String, required = false, min_length = 1)]
    pub refresh_token: Option<String>,
    /// The client id, when not sent with HTTP Basic authentication.
    #[schema(value_type = String, required = false, min_length = 1)]
    pub client_id: Option<String>,
    /// The client secret, when not sent with HTTP Basic authentication.
    #[schema(value_type = String, required = false, min_length = 1)]
    pub client_secret: Option<String>,
    /// Accepted and ignored: a token carries its subject's role.
    #[schema(value_type = String, required = false)]
    pub scope: Option<String>,
}

/// The grants the token endpoint takes (for the spec; an unknown one is OAuth's
/// `unsupported_grant_type`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum GrantType {
    ClientCredentials,
    Password,
    RefreshToken,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer …`.
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: i64,
    /// For people only: exchange it once for a new pair; reusing it revokes the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The role the token carries.
    pub role: Role,
}

impl From<IssuedTokens> for TokenResponse {
    fn from(tokens: IssuedTokens) -> Self {
        TokenResponse {
            access_token: tokens.access_token,
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            refresh_token: tokens.refresh_token,
            role: tokens.role,
        }
    }
}

fn invalid_request(description: impl Into<String>) -> ApiError {
    ApiError::oauth(
        actix_web::http::StatusCode::BAD_REQUEST,
        "invalid_request",
        description,
    )
}

/// Client authentication: HTTP Basic (RFC 6749 §2.3.1) or the body parameters, not both.
fn client_credentials(
    req: &HttpRequest,
    form: &TokenRequest,
) -> ApiResult<Option<ClientCredentials>> {
    let basic = crate::auth::extract::authorization(req.headers())?
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        })
        .map(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .and_then(|pair| {
                    let (id, secret) = pair.split_once(':')?;
                    let decode = |s: &str| {
                        form_urlencoded::parse(format!("x={s}").as_bytes())
                            .next()
                            .map(|(_, v)| v.into_owned())
                    };
                    Some(ClientCredentials {
                        client_id: decode(id)?,
                        client_secret: decode(secret)?,
                    })
                })
                .ok_or_else(|| invalid_request("malformed HTTP Basic client credentials"))
        })
        .transpose()?;
    match (basic, &form.client_id, &form.client_secret) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(invalid_request(
            "authenticate the client with HTTP Basic or body parameters, not both",
        )),
        (Some(basic), None, None) => Ok(Some(basic)),
        (None, Some(id), Some(secret)) => Ok(Some(ClientCredentials {
            client_id: id.clone(),
            client_secret: secret.clone(),
        })),
        (None, Some(_), None) => Err(invalid_request("client_secret is missing")),
        (None, None, Some(_)) => Err(invalid_request("client_id is missing")),
        (None, None, None) => Ok(None),
    }
}

fn required<'a>(value: &'a Option<String>, name: &str) -> ApiResult<&'a str> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid_request(format!("{name} is required for this grant")))
}

/// Get an access token.
///
/// `client_credentials` for HR systems (client id and secret by HTTP Basic or in the body),
/// `password` for people (email and password), `refresh_token` to rotate a person's refresh
/// token. Failed attempts are throttled per account and per client.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens issued", body = TokenResponse),
        (status = 400, description = "OAuth error (`invalid_request`, `invalid_grant`, `unsupported_grant_type`), as a problem with `error` and `error_description`", body = crate::api::problems::ProblemDocument, content_type = "application/problem+json"),
        (status = 401, description = "OAuth `invalid_client`: client authentication failed", body = crate::api::problems::ProblemDocument, content_type = "application/problem+json"),
        (status = 429, response = crate::api::problems::TooManyRequests),
    )
)]
#[post("/auth/token")]
pub async fn token(
    req: HttpRequest,
    state: web::Data<AppState>,
    Form(form): Form<TokenRequest>,
) -> ApiResult<HttpResponse> {
    let client = client_credentials(&req, &form)?;
    let grant = required(&form.grant_type, "grant_type")?.to_string();
    let issuer = state.issuer.clone();
    let tokens = match grant.as_str() {
        "client_credentials" => {
            let client = client.ok_or_else(|| {
                ApiError::oauth(
                    actix_web::http::StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client_credentials needs the client's id and secret",
                )
            })?;
            respond::call(&state, move |conn, now| {
                sign_in::client_credentials(conn, &issuer, now, &client)
            })
            .await?
        }
        "password" => {
            let username = required(&form.username, "username")?.to_string();
            let password = required(&form.password, "password")?.to_string();
            let finding = issuer.clone();
            let account = respond::call(&state, move |conn, now| {
                sign_in::find_account(conn, &finding, now, &username)
            })
            .await?;
            // Slow on purpose: checked on a blocking thread, with no connection held.
            let stored = account.password_hash().map(String::from);
            let verified = crate::telemetry::spawn_blocking_in_span(move || {
                secrets::verify_password(&password, stored.as_deref())
            })
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("password check panicked")))?;
            respond::call(&state, move |conn, now| {
                sign_in::sign_in_with_password(conn, &issuer, now, account, verified)
            })
            .await?
        }
        "refresh_token" => {
            let refresh = required(&form.refresh_token, "refresh_token")?.to_string();
            respond::call(&state, move |conn, now| {
                sign_in::refresh(conn, &issuer, now, &refresh)
            })
            .await?
        }
        other => {
            return Err(ApiError::oauth(
                actix_web::http::StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type `{other}` is not supported; use client_credentials, password or refresh_token"),
            ))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(TokenResponse::from(tokens)))
}

/// A revocation request (RFC 7009).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// The refresh or access token to revoke.
    pub token: Option<String>,
    /// `refresh_token` or `access_token`; a hint only.
    pub token_type_hint: Option<String>,
}

/// Revoke a token.
///
/// A refresh token: ends the login session it belongs to, so that it, every token rotated from
/// it and every access token issued in that session stop working (on their next request). An
/// access token: ends that token. An unknown or already invalid token is not an error (RFC 7009
/// §2.2).
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "OAuth error (`invalid_request`)", body = crate::api::problems::ProblemDocument, content_type = "application/problem+json"),
    )
)]
#[post("/auth/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    Form(form): Form<RevokeRequest>,
) -> ApiResult<HttpResponse> {
    let presented = required(&form.token, "token")?.to_string();
    let issuer = state.issuer.clone();
    let revoked = respond::call(&state, move |conn, now| {
        sign_in::revoke(conn, &issuer, now, &presented)
    })
    .await?;
    if revoked {
        state.issuer.confirmed.forget_all();
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// Choose a password with a setup token.
///
/// The first password of a login that `POST /coaches/{id}/login` gave out: the token works once,
/// for 7 days. Then sign in with the `password` grant (the email and this password).
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body = PasswordSetup,
    responses(
        (status = 204, description = "The password is set; the token is spent"),
    )
)]
#[post("/auth/set-password")]
pub async fn set_password(
    state: web::Data<AppState>,
    Json(body): Json<PasswordSetup>,
) -> ApiResult<HttpResponse> {
    respond::call(&state, move |conn, now| {
        identity::set_password(conn, now, body)
    })
    .await?;
    Ok(HttpResponse::NoContent()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

/// Who am I?
///
/// The subject, role and organisation of the bearer token.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    responses(
        (status = 200, description = "The caller", body = Me),
    )
)]
#[get("/me")]
pub async fn me(state: web::Data<AppState>, caller: Caller<Staff>) -> ApiResult<web::Json<Me>> {
    respond::read(&state, move |conn, _| identity::who_am_i(conn, &caller))
        .await
        .map(web::Json)
}
