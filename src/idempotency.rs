//! `Idempotency-Key` on POST requests (API.md "Conventions"): the same key and body within 24
//! hours return the first response; the same key with another body is a 422; a key whose first
//! request is still running is a 409. Keys are per caller (the token's subject).
//!
//! A response of 5xx is not kept, so the request can be retried with the same key. A record
//! whose request never finished (the process died) is taken over after a minute.

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use chrono::Duration;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::auth::extract::bearer_token;
use crate::auth::jwt::TokenType;
use crate::db::idempotency::{self as store, IdempotencyRecord};
use crate::db::{self, Pool};
use crate::error::{ApiError, FieldError};
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// Headers kept with the response and replayed.
const KEPT: [HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::LOCATION,
    header::ETAG,
    header::CACHE_CONTROL,
];
const RETENTION_HOURS: i64 = 24;
const ABANDONED_AFTER_SECONDS: i64 = 60;

enum Claim {
    /// This request is the first: serve it and record the response.
    First,
    Replay(IdempotencyRecord),
}

fn subject(req: &ServiceRequest, state: &AppState) -> Option<String> {
    let token = bearer_token(req.headers()).ok()??;
    let claims = state.issuer.keys.verify(token, TokenType::Access).ok()?;
    Some(claims.sub)
}

/// POSTs that are not remembered: token requests, and coachee links (their response is a
/// credential that must not be stored).
pub fn exempt(path: &str) -> bool {
    path.starts_with("/api/v1/auth/") || path.ends_with("/coachee-link")
}

fn valid_key(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    ((1..=255).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| text.to_string())
}

pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(raw_key) = req.headers().get(IDEMPOTENCY_KEY).cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    if req.method() != Method::POST || exempt(req.path()) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let Some(idem_key) = valid_key(&raw_key) else {
        let error = ApiError::invalid_field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters",
        );
        return Ok(req.into_response(error.error_response()));
    };
    // Without a valid token the handler answers 401; nothing to remember.
    let Some(subject) = subject(&req, &state) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };

    // Read the body to fingerprint the request, then hand it on unchanged.
    let limit = state.body_limit;
    let mut payload = req.take_payload();
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk?;
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
    let request_hash = hex::encode(hasher.finalize());
    req.set_payload(bytes.into());

    let claim = {
        let (subject, idem_key) = (subject.clone(), idem_key.clone());
        db::run(&state.pool, move |conn| {
            claim(conn, subject, idem_key, request_hash)
        })
        .await
    };
    match claim {
        Err(error) => Ok(req.into_response(error.error_response())),
        Ok(Claim::Replay(record)) => Ok(req.into_response(replay(&record))),
        Ok(Claim::First) => {
            let response = next.call(req).await?.map_into_boxed_body();
            remember(&state.pool, subject, idem_key, response).await
        }
    }
}

fn in_progress() -> ApiError {
    ApiError::conflict("a request with this Idempotency-Key is in progress; retry shortly")
}

fn claim(
    conn: &mut db::DbConnection,
    subject: String,
    idem_key: String,
    request_hash: String,
) -> Result<Claim, ApiError> {
    db::write(conn, |conn| {
        let now = db::now();
        // Records are kept 24 hours; older ones go now (they hold response bodies).
        store::purge(conn, now - Duration::hours(RETENTION_HOURS))?;
        let record = IdempotencyRecord {
            subject: subject.clone(),
            idem_key: idem_key.clone(),
            request_hash: request_hash.clone(),
            status: None,
            response_body: None,
            headers: None,
            created_at: now,
        };
        let Some(existing) = store::find(conn, &subject, &idem_key)? else {
            return match store::insert(conn, &record) {
                Ok(()) => Ok(Claim::First),
                // Another first request with this key won the race.
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => Err(in_progress()),
                Err(e) => Err(e.into()),
            };
        };
        let expired = existing.created_at < now - Duration::hours(RETENTION_HOURS);
        let abandoned = existing.status.is_none()
            && existing.created_at < now - Duration::seconds(ABANDONED_AFTER_SECONDS);
        if expired || (abandoned && existing.request_hash == request_hash) {
            return if store::restart(conn, &record, existing.created_at)? {
                Ok(Claim::First)
            } else {
                Err(in_progress())
            };
        }
        if existing.request_hash != request_hash {
            return Err(ApiError::Unprocessable {
                detail: "this Idempotency-Key was used with a different request; use a new key"
                    .into(),
                errors: vec![FieldError::new(
                    "Idempotency-Key",
                    "was used with a different request",
                )],
                extensions: Default::default(),
            });
        }
        if existing.status.is_none() {
            return Err(in_progress());
        }
        Ok(Claim::Replay(existing))
    })
}

fn replay(record: &IdempotencyRecord) -> HttpResponse {
    let status = record
        .status
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::OK);
    let mut response = HttpResponse::build(status);
    let headers: serde_json::Map<String, serde_json::Value> = record
        .headers
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok())
        .unwrap_or_default();
    for (name, value) in headers {
        if let Some(value) = value.as_str() {
            response.insert_header((name.as_str(), value));
        }
    }
    response.insert_header((REPLAYED, "true"));
    response.body(record.response_body.clone().unwrap_or_default())
}

/// Keeps a finished response for replay (or releases the key after a server error) and
/// returns the response unchanged.
async fn remember(
    pool: &Pool,
    subject: String,
    idem_key: String,
    response: ServiceResponse<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let status = response.status();
    let (request, response) = response.into_parts();
    let (head, response_body) = response.into_parts();
    let bytes = body::to_bytes(response_body)
        .await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("response body unreadable")))?;
    let mut kept = serde_json::Map::new();
    for name in KEPT {
        if let Some(value) = head.headers().get(&name).and_then(|v| v.to_str().ok()) {
            kept.insert(name.to_string(), value.into());
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let outcome = db::run(pool, move |conn| {
        if status.is_server_error() {
            store::release(conn, &subject, &idem_key)?;
        } else {
            let headers = serde_json::Value::Object(kept).to_string();
            store::complete(
                conn,
                &subject,
                &idem_key,
                i32::from(status.as_u16()),
                &text,
                &headers,
            )?;
        }
        Ok(())
    })
    .await;
    if let Err(error) = outcome {
        tracing::error!(error = %error, "could not record the idempotent response");
    }
    let response = head.set_body(bytes).map_into_boxed_body();
    Ok(ServiceResponse::new(request, response))
}
