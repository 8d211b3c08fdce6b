//! The authenticated caller as an actix extractor, and declarative role requirements.
//!
//! A handler that takes `Caller<ProviderStaff>` runs only for a valid access token whose role is
//! in `ProviderStaff`; it gets the [`Principal`]. No token is a 401, a bad token a 401 with
//! `error="invalid_token"`, a role outside the set a 403 (it reveals nothing about resources).
//! A token is valid when its signature and claims are, and when the database still stands
//! behind its subject (`service::access::confirm`, kept briefly: [`ConfirmedTokens`]), which
//! the outermost middleware asks before routing ([`confirm_bearer`]).
//!
//! [`ConfirmedTokens`]: crate::auth::confirmed::ConfirmedTokens

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use crate::auth::jwt::TokenType;
use crate::db;
use crate::domain::permission::Group;
use crate::domain::principal::{Principal, Role};
use crate::error::ApiError;
use crate::service::access::{self, Presented};
use crate::service::error::ServiceError;
use crate::state::AppState;

/// The one `Authorization` header of a request, if any: RFC 9110 §11.6.2 allows one, and a
/// request with two is refused (400) wherever credentials are read, never served as either.
pub fn authorization(
    headers: &header::HeaderMap,
) -> Result<Option<&header::HeaderValue>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION);
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::invalid_field(
            "Authorization",
            "is sent more than once; send one",
        ));
    }
    Ok(first)
}

/// The bearer token of a request: `None` without an Authorization header, an error when the
/// header is not `Bearer <token>` (the scheme in any case, RFC 9110 §11.1).
pub fn bearer_token(headers: &header::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = authorization(headers)? else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::InvalidToken("malformed Authorization header"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(ApiError::InvalidToken(
            "the Authorization scheme must be Bearer",
        )),
    }
}

/// What the database said of a request's bearer token, found before any extractor runs
/// ([`confirm_bearer`]).
#[derive(Debug, Clone)]
enum Confirmation {
    /// The token verified and its subject stands behind it: the caller.
    Holds(Principal),
    Lapsed(&'static str),
    Unavailable(String),
    Failed(String),
}

/// Asks whether the subject of the request's bearer token still stands behind it (or finds
/// that it was confirmed a moment ago), and notes the answer on the request for
/// [`authenticate`]. The outermost middleware calls it before routing, so the extractors stay
/// synchronous: a refused token is a 401 before any other part of the request is looked at.
/// A request without a bearer token, or with one that does not verify, is left to the extractor.
/// Returns the caller when the token holds.
pub async fn confirm_bearer(req: &ServiceRequest) -> Option<Principal> {
    let state = req.app_data::<web::Data<AppState>>().cloned()?;
    let token = bearer_token(req.headers()).ok().flatten()?;
    let now = state.clock.now();
    let claims = state
        .issuer
        .keys
        .verify(token, TokenType::Access, now)
        .ok()?;
    let principal = claims.principal();
    let confirmation = if state.issuer.confirmed.holds(token) {
        Confirmation::Holds(principal.clone())
    } else {
        let token = token.to_string();
        let asked = state.issuer.confirmed.asking();
        let subject = principal.clone();
        let answer = db::read(&state.pool, move |conn| {
            access::confirm(
                conn,
                now,
                &Presented {
                    principal: &subject,
                    jti: &claims.jti,
                    family: claims.fam.as_deref(),
                    issued_at: chrono::DateTime::from_timestamp(claims.iat, 0).unwrap_or(now),
                },
            )
        })
        .await;
        match answer {
            Ok(()) => {
                state.issuer.confirmed.remember(&token, asked);
                Confirmation::Holds(principal.clone())
            }
            Err(ServiceError::Unauthorized(reason)) => Confirmation::Lapsed(reason),
            Err(ServiceError::Unavailable(why)) => Confirmation::Unavailable(why),
            Err(other) => Confirmation::Failed(format!("{other:#}")),
        }
    };
    let holds = matches!(confirmation, Confirmation::Holds(_));
    req.extensions_mut().insert(confirmation);
    holds.then_some(principal)
}

/// The caller whose token [`confirm_bearer`] found to hold, if any.
pub fn confirmed_caller(req: &HttpRequest) -> Option<Principal> {
    match req.extensions().get::<Confirmation>() {
        Some(Confirmation::Holds(principal)) => Some(principal.clone()),
        _ => None,
    }
}

/// The caller of a request with a bearer token (401 without one, with a bad one, or with one
/// whose subject no longer stands behind it).
pub fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    // Verified and asked about before routing: the answer found then.
    match req.extensions().get::<Confirmation>() {
        Some(Confirmation::Holds(principal)) => {
            tracing::Span::current().record("role", principal.role.as_str());
            return Ok(principal.clone());
        }
        Some(Confirmation::Lapsed(reason)) => return Err(ApiError::InvalidToken(reason)),
        Some(Confirmation::Unavailable(why)) => return Err(ApiError::Unavailable(why.clone())),
        Some(Confirmation::Failed(why)) => {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "cannot confirm a token: {why}"
            )))
        }
        None => {}
    }
    // No answer: no token, or one that does not verify; say why.
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("app state missing")))?;
    let token = bearer_token(req.headers())?.ok_or(ApiError::Unauthenticated)?;
    state
        .issuer
        .keys
        .verify(token, TokenType::Access, state.clock.now())
        .map_err(|e| ApiError::InvalidToken(e.reason()))?;
    Err(ApiError::Internal(anyhow::anyhow!(
        "a token reached a handler unconfirmed"
    )))
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// A set of roles allowed on a route (a [`Group`] of `domain::permission`).
pub trait RoleSet {
    const ROLES: &'static [Role];
}

/// The caller, known to have one of the roles of `R`.
#[derive(Debug, Clone)]
pub struct Caller<R: RoleSet>(pub Principal, PhantomData<R>);

impl<R: RoleSet> Deref for Caller<R> {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<R: RoleSet> FromRequest for Caller<R> {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|principal| {
            if R::ROLES.contains(&principal.role) {
                Ok(Caller(principal, PhantomData))
            } else {
                Err(ApiError::Forbidden(format!(
                    "this endpoint is for {}",
                    R::ROLES
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        }))
    }
}

/// A role set of `domain::permission`, as an extractor's type parameter.
macro_rules! role_set {
    ($($name:ident),+ $(,)?) => {
        $(
            #[doc = concat!("The roles of [`Group::", stringify!($name), "`].")]
            #[derive(Debug, Clone)]
            pub struct $name;
            impl RoleSet for $name {
                const ROLES: &'static [Role] = Group::$name.roles();
            }
        )+
    };
}

role_set!(
    Staff,
    ProviderAdmins,
    Employers,
    ProviderStaff,
    Coaches,
    ContractParties,
    Subscribers,
    AccountManagers,
    Exporters,
    Coachees,
);
