//! One error type for the whole HTTP surface, rendered as `application/problem+json` (RFC 9457).
//!
//! Every failure a client can see goes through [`ApiError`]: handler errors, extractor errors
//! (bad JSON, bad query strings, bad path ids), unknown routes, wrong methods, and the database.
//! Internal causes are logged, never serialised: a 500 says only that something went wrong.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use serde_json::Value;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

tokio::task_local! {
    /// The id of the request being served, so that error bodies can carry it.
    pub static REQUEST_ID: String;
}

use crate::db::RunError;
pub use crate::domain::FieldError;
use crate::service::ServiceError;

/// An RFC 9457 problem document, as sent (its schema is `api::problems::ProblemDocument`).
#[derive(Debug, Serialize)]
pub struct Problem {
    /// A URI that identifies the kind of problem.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// The invalid fields, when the problem is about the input.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request id (also in the `X-Request-Id` header); quote it when asking for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Further members specific to the problem (e.g. `allowed_actions`, OAuth's `error`).
    #[serde(flatten)]
    pub extensions: serde_json::Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("unprocessable: {detail}")]
    Unprocessable {
        detail: String,
        errors: Vec<FieldError>,
        extensions: serde_json::Map<String, Value>,
    },
    /// No credentials were sent.
    #[error("authentication required")]
    Unauthenticated,
    /// Credentials were sent but are not valid (RFC 6750 `invalid_token`).
    #[error("invalid token: {0}")]
    InvalidToken(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<String> },
    #[error("conflict: {detail}")]
    Conflict {
        detail: String,
        extensions: serde_json::Map<String, Value>,
    },
    /// A request with the same `Idempotency-Key` is still being served: retry shortly.
    #[error("in progress")]
    InProgress,
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("precondition required: {0}")]
    PreconditionRequired(String),
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_seconds: u64 },
    /// The caller's quota of requests for the rate limit's window is used up.
    #[error("rate limited")]
    RateLimited { retry_after_seconds: u64 },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// An OAuth 2.0 token endpoint error (RFC 6749 §5.2): rendered as a problem that also carries
    /// the `error` and `error_description` members OAuth clients look for.
    #[error("oauth error {error}: {description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    /// A rule of the domain refused the request: its own problem type (`slug`), with what
    /// would be allowed instead as extension members.
    #[error("{}: {}", .0.slug, .0.detail)]
    Rule(Box<RuleProblem>),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

/// What a rule's refusal says: its problem type, status, words, fields and alternatives.
#[derive(Debug)]
pub struct RuleProblem {
    pub status: StatusCode,
    pub slug: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub extensions: serde_json::Map<String, Value>,
}

impl ApiError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::BadRequest {
            detail: detail.into(),
            errors: vec![],
        }
    }

    pub fn invalid_field(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        let error = FieldError::new(pointer, detail);
        ApiError::BadRequest {
            detail: format!("{} {}", error.pointer, error.detail),
            errors: vec![error],
        }
    }

    /// Input that is well-formed but breaks a rule (422).
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{} {}", one.pointer, one.detail),
            _ => format!("{} fields are invalid", errors.len()),
        };
        ApiError::Unprocessable {
            detail,
            errors,
            extensions: Default::default(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            detail: detail.into(),
            extensions: Default::default(),
        }
    }

    pub fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        ApiError::OAuth {
            status,
            error,
            description: description.into(),
        }
    }

    fn slug(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::Unprocessable { .. } => "validation",
            ApiError::Unauthenticated | ApiError::InvalidToken(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not-found",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::InProgress => "in-progress",
            ApiError::PreconditionFailed(_) => "precondition-failed",
            ApiError::PreconditionRequired(_) => "precondition-required",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::TooManyRequests { .. } => "too-many-requests",
            ApiError::RateLimited { .. } => "rate-limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::OAuth { .. } => "oauth",
            ApiError::Rule(rule) => rule.slug,
            ApiError::Internal(_) => "internal",
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::BadRequest { detail, .. }
            | ApiError::Unprocessable { detail, .. }
            | ApiError::Conflict { detail, .. } => detail.clone(),
            ApiError::Rule(rule) => rule.detail.clone(),
            ApiError::Unauthenticated => "this endpoint needs a bearer token".into(),
            ApiError::InvalidToken(why) => format!("the bearer token is not valid: {why}"),
            ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::PreconditionFailed(d)
            | ApiError::PreconditionRequired(d)
            | ApiError::UnsupportedMediaType(d)
            | ApiError::Unavailable(d) => d.clone(),
            ApiError::MethodNotAllowed { allow } => {
                format!("this resource allows {}", allow.join(", "))
            }
            ApiError::InProgress => {
                "a request with this Idempotency-Key is still being served; retry shortly".into()
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("the request body is larger than the limit of {limit} bytes")
            }
            ApiError::TooManyRequests {
                retry_after_seconds,
            } => format!("too many attempts; retry after {retry_after_seconds} seconds"),
            ApiError::RateLimited {
                retry_after_seconds,
            } => format!(
                "this caller's quota of requests is used up (`RateLimit-Policy`); retry after {retry_after_seconds} seconds"
            ),
            ApiError::OAuth { description, .. } => description.clone(),
            ApiError::Internal(_) => {
                "something went wrong on our side; quote the request id when reporting it".into()
            }
        }
    }

    /// The problem document for this error, with the id of the request being served.
    pub fn problem(&self) -> Problem {
        self.problem_for(REQUEST_ID.try_with(|id| id.clone()).ok())
    }

    /// The problem document for this error in answer to request `request_id`.
    pub fn problem_for(&self, request_id: Option<String>) -> Problem {
        let status = self.status_code();
        let mut extensions = serde_json::Map::new();
        let errors = match self {
            ApiError::BadRequest { errors, .. } => errors.clone(),
            ApiError::Unprocessable {
                errors,
                extensions: ext,
                ..
            } => {
                extensions.extend(ext.clone());
                errors.clone()
            }
            ApiError::Conflict {
                extensions: ext, ..
            } => {
                extensions.extend(ext.clone());
                vec![]
            }
            ApiError::Rule(rule) => {
                extensions.extend(rule.extensions.clone());
                rule.errors.clone()
            }
            ApiError::OAuth {
                error, description, ..
            } => {
                extensions.insert("error".into(), Value::from(*error));
                extensions.insert("error_description".into(), Value::from(description.clone()));
                vec![]
            }
            _ => vec![],
        };
        Problem {
            problem_type: format!("urn:trajectum:problem:{}", self.slug()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.detail(),
            errors,
            request_id,
            extensions,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthenticated | ApiError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::InProgress => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooManyRequests { .. } | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::OAuth { status, .. } => *status,
            ApiError::Rule(rule) => rule.status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.response_for(REQUEST_ID.try_with(|id| id.clone()).ok())
    }
}

impl ApiError {
    /// The response for this error in answer to request `request_id`.
    pub fn response_for(&self, request_id: Option<String>) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "internal error")
            }
            ApiError::Unavailable(why) => tracing::warn!(reason = %why, "service unavailable"),
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            ApiError::Unauthenticated => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"trajectum\""));
            }
            ApiError::InvalidToken(_) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    "Bearer realm=\"trajectum\", error=\"invalid_token\"",
                ));
            }
            ApiError::MethodNotAllowed { allow } => {
                response.insert_header((header::ALLOW, allow.join(", ")));
            }
            ApiError::TooManyRequests {
                retry_after_seconds,
            }
            | ApiError::RateLimited {
                retry_after_seconds,
            } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
            }
            // Its Retry-After is the configured database wait, set by the outermost middleware.
            ApiError::InProgress => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::OAuth { status, .. } if *status == StatusCode::UNAUTHORIZED => {
                response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"trajectum\""));
            }
            _ => {}
        }
        if matches!(self, ApiError::OAuth { .. }) {
            // RFC 6749 §5.2: token endpoint errors must not be cached.
            response.insert_header((header::CACHE_CONTROL, "no-store"));
        }
        response.body(serde_json::to_string(&self.problem_for(request_id)).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(error: diesel::result::Error) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<RunError> for ApiError {
    fn from(error: RunError) -> Self {
        ServiceError::from(error).into()
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Forbidden(why) => ApiError::Forbidden(why),
            ServiceError::Unauthorized(why) => ApiError::InvalidToken(why),
            ServiceError::InvalidGrant(why) => {
                ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", why)
            }
            ServiceError::InvalidClient => ApiError::oauth(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            ),
            ServiceError::Refused {
                action,
                status,
                allowed,
            } => {
                let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                let mut extensions = serde_json::Map::new();
                extensions.insert("order_status".into(), Value::from(status.as_str()));
                extensions.insert("allowed_actions".into(), Value::from(names.clone()));
                ApiError::Conflict {
                    detail: format!(
                        "an order that is {} cannot {}; allowed now: {}",
                        status.as_str().replace('_', " "),
                        action.as_str().replace('_', " "),
                        if names.is_empty() {
                            "nothing".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                    extensions,
                }
            }
            ServiceError::Stale { what, current } => ApiError::PreconditionFailed(format!(
                "the {what} changed since you read it (now version {current})"
            )),
            ServiceError::Invalid(errors) => ApiError::validation(errors),
            ServiceError::BadQuery(errors) => ApiError::BadRequest {
                detail: match errors.as_slice() {
                    [one] => format!("{} {}", one.pointer, one.detail),
                    _ => format!("{} query parameters are invalid", errors.len()),
                },
                errors,
            },
            ServiceError::IntakeIncomplete(findings) => {
                let errors = crate::domain::intake::errors(&findings);
                let mut extensions = serde_json::Map::new();
                extensions.insert(
                    "findings".into(),
                    serde_json::to_value(&findings).unwrap_or_default(),
                );
                ApiError::Unprocessable {
                    detail: format!("the intake cannot be completed: {} error(s)", errors.len()),
                    errors,
                    extensions,
                }
            }
            ServiceError::CompletionRefused(findings) => {
                let errors = crate::domain::intake::errors(&findings);
                let mut extensions = serde_json::Map::new();
                extensions.insert(
                    "findings".into(),
                    serde_json::to_value(&findings).unwrap_or_default(),
                );
                ApiError::Unprocessable {
                    detail: format!(
                        "the trajectory cannot be completed: {} error(s) in the closing review (000)",
                        errors.len()
                    ),
                    errors,
                    extensions,
                }
            }
            ServiceError::NotNow { slug, detail } => ApiError::Rule(Box::new(RuleProblem {
                status: StatusCode::CONFLICT,
                slug,
                detail,
                errors: vec![],
                extensions: serde_json::Map::new(),
            })),
            ServiceError::DuplicateExternalRef { existing_order_id } => {
                let mut extensions = serde_json::Map::new();
                extensions.insert(
                    "existing_order".into(),
                    Value::from(format!("/api/v1/orders/{existing_order_id}")),
                );
                extensions.insert("existing_order_id".into(), Value::from(existing_order_id));
                ApiError::Conflict {
                    detail: "an order with this external_ref exists already".into(),
                    extensions,
                }
            }
            ServiceError::Session(refusal) => ApiError::Rule(Box::new(RuleProblem {
                status: if refusal.is_conflict() {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                slug: refusal.slug(),
                detail: refusal.detail(),
                errors: crate::service::sessions::refusal_errors(&refusal),
                extensions: refusal.extensions(),
            })),
            ServiceError::SeriesDoesNotFit(preview) => {
                let misfits = preview.occurrences.iter().filter(|o| !o.fits).count();
                let mut extensions = serde_json::Map::new();
                extensions.insert(
                    "occurrences".into(),
                    serde_json::to_value(&preview.occurrences).unwrap_or_default(),
                );
                ApiError::Rule(Box::new(RuleProblem {
                    status: StatusCode::CONFLICT,
                    slug: "series-does-not-fit",
                    detail: format!(
                        "{misfits} of {} sessions do not fit; nothing was booked (see occurrences)",
                        preview.occurrences.len()
                    ),
                    errors: vec![],
                    extensions,
                }))
            }
            ServiceError::Taken {
                slug,
                detail,
                extensions,
            } => ApiError::Rule(Box::new(RuleProblem {
                status: StatusCode::CONFLICT,
                slug,
                detail,
                errors: vec![],
                extensions,
            })),
            ServiceError::Conflict(detail) => ApiError::conflict(detail),
            ServiceError::Concurrent(detail) => ApiError::conflict(detail),
            ServiceError::KeyReused => ApiError::Unprocessable {
                detail: "this Idempotency-Key was used with a different request; use a new key"
                    .into(),
                errors: vec![FieldError::new(
                    "Idempotency-Key",
                    "was used with a different request",
                )],
                extensions: Default::default(),
            },
            ServiceError::KeyInProgress => ApiError::InProgress,
            ServiceError::TooManyAttempts {
                retry_after_seconds,
            } => ApiError::TooManyRequests {
                retry_after_seconds,
            },
            ServiceError::Unavailable(why) => ApiError::Unavailable(why),
            ServiceError::Internal(cause) => ApiError::Internal(cause),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_reveal_their_cause() {
        let error = ApiError::Internal(anyhow::anyhow!("password column missing in users"));
        let body = serde_json::to_string(&error.problem()).unwrap();
        assert!(!body.contains("password column"), "{body}");
        assert_eq!(error.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn validation_names_the_field() {
        let error = ApiError::validation(vec![FieldError::new("/time_zone", "is not known")]);
        let problem = error.problem();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].pointer, "/time_zone");
    }
}
