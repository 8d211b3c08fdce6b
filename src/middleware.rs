//! The outermost middleware: gives each request its id and tracing span, records metrics, and
//! makes sure every error response, whoever produced it, is a problem document carrying the id.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse, ResponseError};
use tracing::Instrument;

use crate::api::routes::{RouteTable, UNMATCHED};
use crate::domain::rate_limit::{Policy, Verdict};
use crate::error::{ApiError, PROBLEM_JSON, REQUEST_ID};
use crate::state::AppState;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Marks a request whose operation takes a bearer token (found by the outermost middleware).
struct TakesBearer;

pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// A client's request id is echoed when it is short and plain; otherwise we make our own, so a
/// hostile header cannot inject into logs.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(String::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = request_id(&req);
    // The label comes from the spec's templates, not `match_pattern` (a second regex routing).
    let routes = req.app_data::<web::Data<RouteTable>>().cloned();
    let method = req.method().to_string();
    let (route, takes_bearer) = routes.as_ref().map_or((UNMATCHED, false), |routes| {
        let matched = routes.matched(&method, req.path());
        (matched.template, matched.takes_bearer)
    });
    if takes_bearer {
        // For the rate limit, further in.
        req.extensions_mut().insert(TakesBearer);
    }
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        route = %route,
        role = tracing::field::Empty,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    let scoped_id = id.clone();
    let action = format!("{method} {route}");
    let resource = resource_id(route, req.path());
    let response = REQUEST_ID
        .scope(scoped_id, async move {
            // RFC 9110 allows one Authorization header: a request with two is not served as
            // either, wherever it goes.
            if let Err(error) = crate::auth::extract::authorization(req.headers()) {
                let (req, _) = req.into_parts();
                let response = error.response_for(REQUEST_ID.try_with(|id| id.clone()).ok());
                return Ok(end_json_with_newline(ServiceResponse::new(req, response)));
            }
            let caller = crate::auth::extract::confirm_bearer(&req).await;
            let audit = crate::api::respond::AuditFacts {
                // The actor of what an operation that takes a token does: a token sent along
                // to a sign-in makes its holder no actor of it.
                caller: caller.filter(|_| takes_bearer),
                action,
                resource_id: resource,
                request_id: REQUEST_ID.try_with(|id| id.clone()).ok(),
            };
            // Handlers and the router answer errors as responses; an `Err` can only come from a
            // middleware inside this one, and there is none.
            crate::api::respond::AUDIT
                .scope(audit, next.call(req))
                .await
                .map(|response| end_json_with_newline(as_problem(response.map_into_boxed_body())))
        })
        .instrument(span.clone())
        .await;
    let mut response = response?;
    let status = response.status();
    if status == StatusCode::SERVICE_UNAVAILABLE
        && !response.headers().contains_key(header::RETRY_AFTER)
    {
        // A busy database: come back after the time a request waits for it.
        let wait = state.as_ref().map_or(5, |state| {
            state.pool.wait().as_secs_f64().ceil().max(1.0) as u64
        });
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    response.headers_mut().insert(
        X_REQUEST_ID,
        HeaderValue::from_str(&id).expect("validated request id"),
    );
    let elapsed = started.elapsed();
    if let Some(state) = state {
        state
            .metrics
            .observe(&method, route, status.as_u16(), elapsed.as_secs_f64());
    }
    span.record("status", status.as_u16());
    span.in_scope(|| {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Expected under load (a busy database, shutting down): not an error of the service.
            tracing::warn!(
                status = status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "request not served now"
            );
        } else if status.is_server_error() {
            tracing::error!(
                status = status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "request failed"
            );
        } else {
            tracing::info!(
                status = status.as_u16(),
                elapsed_ms = elapsed.as_millis() as u64,
                "request done"
            );
        }
    });
    Ok(response)
}

/// The per-caller rate limit (`crate::rate_limit`), inside CORS so that a browser can read its
/// 429 and fields. It counts the requests of a caller whose token the outermost middleware
/// confirmed, to operations that take a bearer token: a token sent along to a health probe, the
/// spec or a sign-in does not make it a caller's request.
pub async fn rate_limited(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let takes_bearer = req.extensions().contains::<TakesBearer>();
    let limit = match (
        req.app_data::<web::Data<AppState>>(),
        crate::auth::extract::confirmed_caller(req.request()),
    ) {
        (Some(state), Some(caller)) if takes_bearer => match state.rate_limiter.as_ref() {
            Some(limiter) => {
                let verdict = limiter.admit(&state.pool, &caller, state.clock.now()).await;
                Some((limiter.policy(), verdict))
            }
            None => None,
        },
        _ => None,
    };
    if let Some((_, Verdict::Refused { resets_in })) = limit {
        let error = ApiError::RateLimited {
            retry_after_seconds: u64::from(resets_in),
        };
        let mut response = error.error_response();
        advertise(&mut response, limit);
        return Ok(req.into_response(response));
    }
    let mut response = next.call(req).await?.map_into_boxed_body();
    advertise(response.response_mut(), limit);
    Ok(response)
}

/// The rate limit's fields (IETF httpapi draft) on an answer to a caller it counts.
fn advertise(response: &mut HttpResponse, limit: Option<(Policy, Verdict)>) {
    let Some((policy, verdict)) = limit else {
        return;
    };
    for (name, value) in [
        (RATELIMIT_POLICY, policy.policy_field()),
        (RATELIMIT, verdict.field()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
}

/// The value of the `{id}` segment of `path` under the route `template`, if it has one.
fn resource_id(template: &str, path: &str) -> Option<String> {
    template
        .split('/')
        .zip(path.split('/'))
        .find(|(t, _)| *t == "{id}")
        .map(|(_, value)| value.to_string())
        .filter(|value| value.len() <= 64)
}

/// Ends a JSON body with a newline, so a shell prompt after `curl` starts on a line of its own.
fn end_json_with_newline(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media == "application/json" || media.ends_with("+json"));
    if !json {
        return response;
    }
    response.map_body(|_, body| match body.try_into_bytes() {
        Ok(bytes) if !bytes.is_empty() && !bytes.ends_with(b"\n") => {
            // In place when the body's buffer is its own (it usually has room to spare).
            let mut ended = bytes.try_into_mut().unwrap_or_else(|shared| {
                let mut copy = web::BytesMut::with_capacity(shared.len() + 1);
                copy.extend_from_slice(&shared);
                copy
            });
            ended.extend_from_slice(b"\n");
            BoxBody::new(ended.freeze())
        }
        Ok(bytes) => BoxBody::new(bytes),
        Err(body) => body,
    })
}

/// Replaces an error response that is not already a problem document (from actix itself or a
/// middleware) with one.
fn as_problem(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::not_found("no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed {
            allow: allow
                .and_then(|v| v.to_str().ok().map(String::from))
                .into_iter()
                .collect(),
        },
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
        StatusCode::UNAUTHORIZED => ApiError::Unauthenticated,
        StatusCode::FORBIDDEN => ApiError::Forbidden("this request is not allowed".into()),
        s if s.is_client_error() => ApiError::bad_request(
            s.canonical_reason()
                .unwrap_or("the request is not valid")
                .to_string(),
        ),
        _ => ApiError::Internal(anyhow::anyhow!("unhandled error response {status}")),
    };
    let (request, _) = response.into_parts();
    let mut replaced: HttpResponse = error.error_response();
    if error.status_code() != status {
        *replaced.status_mut() = status;
    }
    ServiceResponse::new(request, replaced)
}
