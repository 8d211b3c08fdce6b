//! `Idempotency-Key` on the way in: the middleware checks the key, fingerprints the request (path,
//! query and body) and hands both to the handler through [`IdempotencyKey`]; the handler's
//! `respond::post` serves the request once per key (`crate::service::idempotency`).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// POSTs that are not remembered: token requests and password setup, coachee links, feed
/// tokens, coach logins and campaigns' link tokens (their response is a credential that must
/// not be stored), and the public sign-up (no caller to key it to; a repeat is safe by itself).
pub fn exempt(path: &str) -> bool {
    path.starts_with("/api/v1/auth/")
        || path == "/api/v1/invitations"
        || (path.starts_with("/api/v1/invitations/") && path.ends_with("/rotate-token"))
        || path.starts_with("/api/v1/sign-up/")
        || path.ends_with("/coachee-link")
        || path.ends_with("/calendar-feed")
        || (path.starts_with("/api/v1/coaches/") && path.ends_with("/login"))
}

/// A request's key and what it asked, as the middleware found them.
#[derive(Debug, Clone)]
pub struct Keyed {
    pub key: String,
    pub fingerprint: String,
}

/// The request's `Idempotency-Key`, if it sent one (a POST handler's argument).
#[derive(Debug, Clone)]
pub struct IdempotencyKey(pub Option<Keyed>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // Taken out, so the middleware can tell that the handler honoured the key.
        std::future::ready(Ok(IdempotencyKey(req.extensions_mut().remove::<Keyed>())))
    }
}

fn valid_key(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    ((1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| text.to_string())
}

pub async fn fingerprint(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let raw_key = req.headers().get(IDEMPOTENCY_KEY).cloned();
    let (Some(raw_key), true) = (raw_key, req.method() == Method::POST && !exempt(req.path()))
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(key) = valid_key(&raw_key) else {
        let error = ApiError::invalid_field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        );
        return Ok(req.into_response(error.error_response()));
    };
    // Read the body to fingerprint the request, then hand it on unchanged.
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map_or(256 * 1024, |state| state.body_limit);
    let mut payload = req.take_payload();
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            let error = ApiError::bad_request("the request body could not be read");
            return Ok(req.into_response(error.error_response()));
        };
        if bytes.len() + chunk.len() > limit {
            return Ok(req.into_response(ApiError::PayloadTooLarge { limit }.error_response()));
        }
        bytes.extend_from_slice(&chunk);
    }
    let bytes = bytes.freeze();
    let mut hasher = Sha256::new();
    hasher.update(req.path().as_bytes());
    hasher.update(b"?");
    hasher.update(req.query_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());
    req.set_payload(bytes.into());
    req.extensions_mut().insert(Keyed { key, fingerprint });
    let response = next.call(req).await?.map_into_boxed_body();
    if response.status().is_success() && response.request().extensions().contains::<Keyed>() {
        tracing::error!("a POST handler ignored its Idempotency-Key");
    }
    Ok(response)
}
