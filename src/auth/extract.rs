//! The authenticated caller as an actix extractor, and declarative role requirements.
//!
//! A handler that takes `Caller<ProviderStaff>` runs only for a valid access token whose role is
//! in `ProviderStaff`; it gets the [`Principal`]. No token is a 401, a bad token a 401 with
//! `error="invalid_token"`, a role outside the set a 403 (it reveals nothing about resources).

use std::future::{ready, Ready};
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::http::header;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};

use crate::auth::jwt::TokenType;
use crate::domain::principal::{Principal, Role};
use crate::error::ApiError;
use crate::state::AppState;

/// The bearer token of a request: `None` without an Authorization header, an error when the
/// header is not `Bearer <token>` (the scheme in any case, RFC 9110 §11.1).
pub fn bearer_token(headers: &header::HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
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

/// The caller of a request with a bearer token (401 without one or with a bad one).
pub fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("app state missing")))?;
    let token = bearer_token(req.headers())?.ok_or(ApiError::Unauthenticated)?;
    let claims = state
        .issuer
        .keys
        .verify(token, TokenType::Access, state.clock.now())
        .map_err(|e| ApiError::InvalidToken(e.reason()))?;
    let principal = claims.principal();
    tracing::Span::current().record("role", principal.role.as_str());
    Ok(principal)
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

/// A set of roles allowed on a route.
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

macro_rules! role_set {
    ($(#[$doc:meta])* $name:ident => [$($role:ident),+]) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name;
        impl RoleSet for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
        }
    };
}

role_set!(
    /// Anyone with an organisation account: HR, coaches, planners.
    Staff => [Employer, Coach, ProviderAdmin]
);
role_set!(
    /// The provider's planners.
    ProviderAdmins => [ProviderAdmin]
);
role_set!(
    /// HR users and HR systems.
    Employers => [Employer]
);
role_set!(
    /// The provider's people: planners and coaches.
    ProviderStaff => [ProviderAdmin, Coach]
);
role_set!(
    /// Coaches.
    Coaches => [Coach]
);
role_set!(
    /// The parties to the order's contract: the employer and the provider's planners.
    ContractParties => [Employer, ProviderAdmin]
);
role_set!(
    /// Who manage their organisation's integrations (webhooks, the events feed): an employer's
    /// HR users and systems, the provider's planners.
    Subscribers => [Employer, ProviderAdmin]
);
role_set!(
    /// The coachee, with a link token.
    Coachees => [Coachee]
);
