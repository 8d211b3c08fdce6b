//! How a handler runs its use case and answers: [`call`] runs it on the blocking pool with the
//! clock's time; [`post`] does the same for a POST, once per `Idempotency-Key`, keeping the
//! response in the use case's own transaction. A [`Reply`] is a response decided inside the
//! database work, so it can be kept with the change it answers.

use actix_web::body::MessageBody;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::api::conditional;
use crate::api::idempotency::{IdempotencyKey, REPLAYED};
use crate::db::idempotency::StoredResponse;
use crate::db::{self, audit, DbConnection};
use crate::domain::principal::Principal;
use crate::error::{ApiError, ApiResult, REQUEST_ID};
use crate::service::idempotency::{self, KeyedRequest, Served};
use crate::service::ServiceResult;
use crate::state::AppState;

/// A response: status, headers and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    status: StatusCode,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    pub fn json(status: StatusCode, body: &impl Serialize) -> Reply {
        Reply::json_of_size(status, body, RESOURCE_SIZE)
    }

    /// As [`Reply::json`], for a body of about `size` bytes (the buffer is allocated once).
    fn json_of_size(status: StatusCode, body: &impl Serialize, size: usize) -> Reply {
        Reply {
            status,
            headers: vec![(header::CONTENT_TYPE.to_string(), "application/json".into())],
            body: json_line(body, size),
        }
    }

    pub fn ok(body: &impl Serialize) -> Reply {
        Reply::json(StatusCode::OK, body)
    }

    /// A page of `items` resources.
    pub fn page(body: &impl Serialize, items: usize) -> Reply {
        Reply::json_of_size(StatusCode::OK, body, (items + 1) * RESOURCE_SIZE)
    }

    pub fn created(body: &impl Serialize) -> Reply {
        Reply::json(StatusCode::CREATED, body)
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// With an `ETag` of the version and this body.
    pub fn etag(self, version: i32) -> Reply {
        let tag = conditional::etag(version, self.body.as_bytes());
        self.header(header::ETAG, tag)
    }

    /// With `Location`, for a created resource.
    pub fn location(self, path: impl Into<String>) -> Reply {
        self.header(header::LOCATION, path)
    }

    /// An error's response, in answer to request `request_id`.
    fn error(error: &ApiError, request_id: Option<String>) -> Reply {
        let response = error.response_for(request_id);
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = match response.into_body().try_into_bytes() {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(_) => String::new(),
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    fn stored(&self) -> StoredResponse {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        StoredResponse {
            status: i32::from(self.status.as_u16()),
            headers: serde_json::Value::Object(headers).to_string(),
            body: self.body.clone(),
        }
    }

    fn from_stored(stored: &StoredResponse) -> Reply {
        let headers: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&stored.headers).unwrap_or_default();
        Reply {
            status: u16::try_from(stored.status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK),
            headers: headers
                .into_iter()
                .filter_map(|(n, v)| Some((n, v.as_str()?.to_string())))
                .collect(),
            body: stored.body.clone(),
        }
    }
}

/// About the size of one resource as JSON (an order is 800 bytes): the first guess of a body's
/// buffer, so that it is not grown and copied again and again while it is written.
const RESOURCE_SIZE: usize = 1024;

/// `body` as JSON ending in a newline (as every JSON body this API sends ends), written into a
/// buffer of `size` bytes to begin with.
fn json_line(body: &impl Serialize, size: usize) -> String {
    let mut text = Vec::with_capacity(size);
    serde_json::to_writer(&mut text, body).expect("responses serialise");
    text.push(b'\n');
    String::from_utf8(text).expect("JSON is UTF-8")
}

impl From<Reply> for HttpResponse {
    fn from(reply: Reply) -> HttpResponse {
        let mut response = HttpResponse::build(reply.status);
        for (name, value) in &reply.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::from_str(value),
            ) {
                response.insert_header((name, value));
            }
        }
        response.body(reply.body)
    }
}

tokio::task_local! {
    /// What the audit trail records of the request being served (set by the outermost
    /// middleware).
    pub static AUDIT: AuditFacts;
}

/// Who makes the request and what it is about, for the audit trail.
#[derive(Debug, Clone)]
pub struct AuditFacts {
    /// The caller, when their token holds.
    pub caller: Option<Principal>,
    /// `METHOD /route/{template}`.
    pub action: String,
    /// The route's `{id}`.
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
}

/// The actor the audit trail records for the request being served, at `now`.
fn actor(now: DateTime<Utc>) -> Option<audit::Actor> {
    AUDIT
        .try_with(|facts| {
            facts.caller.clone().map(|principal| audit::Actor {
                principal,
                action: facts.action.clone(),
                resource_id: facts.resource_id.clone(),
                request_id: facts.request_id.clone(),
                at: now.naive_utc(),
            })
        })
        .ok()
        .flatten()
}

/// Runs a use case on the blocking pool with a pooled connection and the clock's time. What it
/// changes is recorded in the audit trail, in the change's transaction.
pub async fn call<T, F>(state: &AppState, use_case: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, DateTime<Utc>) -> ServiceResult<T> + Send + 'static,
{
    let now = state.clock.now();
    let actor = actor(now);
    db::run(&state.pool, move |conn| {
        audit::armed(actor, || use_case(conn, now))
    })
    .await
    .map_err(ApiError::from)
}

/// Runs a public use case (no caller: the sign-up to an invitation campaign) as [`call`] does,
/// armed for the audit trail with an anonymous actor that the use case names as it learns who
/// it is (`db::audit::act_as`).
pub async fn call_public<T, F>(state: &AppState, use_case: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, DateTime<Utc>) -> ServiceResult<T> + Send + 'static,
{
    let now = state.clock.now();
    let actor = AUDIT
        .try_with(|facts| audit::Actor {
            principal: Principal {
                subject: "anonymous".into(),
                subject_type: crate::domain::principal::SubjectType::Link,
                role: crate::domain::principal::Role::Coachee,
                organisation_id: String::new(),
                order_id: None,
            },
            action: facts.action.clone(),
            resource_id: None,
            request_id: facts.request_id.clone(),
            at: now.naive_utc(),
        })
        .ok();
    db::run(&state.pool, move |conn| {
        audit::armed(actor, || use_case(conn, now))
    })
    .await
    .map_err(ApiError::from)
}

/// Runs a use case that reads confidential content (an intake, a plan, notes), as [`call`]
/// does, and records the read in the audit trail.
pub async fn read_confidential<T, F>(state: &AppState, use_case: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, DateTime<Utc>) -> ServiceResult<T> + Send + 'static,
{
    call(state, move |conn, now| {
        let value = use_case(conn, now)?;
        crate::service::audit::record_armed_read(conn)?;
        Ok(value)
    })
    .await
}

/// Runs a use case that only reads, as [`db::read`] runs it (on SQLite without a thread hop).
pub async fn read<T, F>(state: &AppState, use_case: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection, DateTime<Utc>) -> ServiceResult<T> + Send + 'static,
{
    let now = state.clock.now();
    db::read(&state.pool, move |conn| use_case(conn, now))
        .await
        .map_err(ApiError::from)
}

/// Runs a POST's use case: once per `Idempotency-Key` when the request carries one (its answer,
/// a refusal included, kept in the same transaction as the change), otherwise plainly.
pub async fn post<F>(
    state: &AppState,
    caller: Principal,
    key: IdempotencyKey,
    use_case: F,
) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut DbConnection, DateTime<Utc>, &Principal) -> ServiceResult<Reply>
        + Send
        + 'static,
{
    let Some(keyed) = key.0 else {
        return call(state, move |conn, now| use_case(conn, now, &caller))
            .await
            .map(HttpResponse::from);
    };
    let request = KeyedRequest {
        subject: caller.subject.clone(),
        key: keyed.key,
        fingerprint: keyed.fingerprint,
    };
    let request_id = REQUEST_ID.try_with(|id| id.clone()).ok();
    let now = state.clock.now();
    let actor = actor(now);
    let served = db::run(&state.pool, move |conn| {
        idempotency::once(
            conn,
            now,
            &request,
            // Only the use case is armed: the key's own bookkeeping is no change to record.
            |conn| audit::armed(actor, || use_case(conn, now, &caller)).map(|reply| reply.stored()),
            |error| {
                if error.is_decision() {
                    Ok(Reply::error(&ApiError::from(error), request_id).stored())
                } else {
                    Err(error)
                }
            },
        )
    })
    .await
    .map_err(ApiError::from)?;
    Ok(match served {
        Served::Fresh(stored) => Reply::from_stored(&stored).into(),
        Served::Replayed(stored) => Reply::from_stored(&stored).header(REPLAYED, "true").into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_reply_comes_back_as_it_was() {
        let reply = Reply::created(&serde_json::json!({"id": "o1"}))
            .etag(1)
            .location("/api/v1/orders/o1");
        assert_eq!(Reply::from_stored(&reply.stored()), reply);
    }

    #[test]
    fn a_kept_refusal_is_a_problem_with_the_first_request_id() {
        let reply = Reply::error(
            &ApiError::not_found("no such order"),
            Some("req-1".to_string()),
        );
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        assert!(reply
            .headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "application/problem+json"));
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body["request_id"], "req-1");
    }
}
