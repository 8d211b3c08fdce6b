//! Why a use case did not happen, in the domain's words. The HTTP layer turns it into a status
//! and a problem document (`crate::error`); the worker asks [`ServiceError::is_retryable`].

use crate::db::RunError;
use crate::domain::intake::Finding;
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// There is no such thing, or the caller may not know of it (another tenant's order).
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller's role never does this, or the content is not theirs to see.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// The caller's credentials no longer hold (a revoked or expired coachee link).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The order's state does not allow the action now; `allowed` is what it does allow.
    #[error("{action:?} is not allowed while the order is {status}")]
    Refused {
        action: OrderAction,
        status: OrderStatus,
        allowed: Vec<OrderAction>,
    },
    /// The caller read an older version than the current one (`If-Match`).
    #[error("the {what} changed since it was read (now version {current})")]
    Stale { what: &'static str, current: i32 },
    /// The input breaks a rule; each error points at its field.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    /// A query parameter is malformed or out of its range (400); each error names it.
    #[error("bad query: {0:?}")]
    BadQuery(Vec<FieldError>),
    /// The intake's validation found errors, so it cannot complete (002).
    #[error("the intake cannot be completed")]
    IntakeIncomplete(Vec<Finding>),
    /// The closing review's findings refuse completing the trajectory (000).
    #[error("the trajectory cannot be completed")]
    CompletionRefused(Vec<Finding>),
    /// What is asked cannot happen in the state the thing is in now: its own problem type.
    #[error("{detail}")]
    NotNow { slug: &'static str, detail: String },
    /// The employer already has an order with this external reference.
    #[error("an order with this external_ref exists already")]
    DuplicateExternalRef { existing_order_id: String },
    /// A scheduling rule refused the session (each rule its own problem type).
    #[error("session refused: {0:?}")]
    Session(crate::domain::session::SessionRefusal),
    /// Not every occurrence of a series fits; none was booked.
    #[error("the series does not fit")]
    SeriesDoesNotFit(Box<crate::views::session::SeriesPreview>),
    /// Something that must be unique exists already: its own problem type (`slug`), and
    /// extension members that say what exists.
    #[error("{detail}")]
    Taken {
        slug: &'static str,
        detail: String,
        extensions: serde_json::Map<String, serde_json::Value>,
    },
    /// The change conflicts with what is stored now (e.g. a concurrent change).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Another request changed what this one worked on while it ran; the same request again
    /// can succeed.
    #[error("concurrent change: {0}")]
    Concurrent(String),
    /// An `Idempotency-Key` came back with another request than the one it first answered.
    #[error("the idempotency key was used with a different request")]
    KeyReused,
    /// A request with this `Idempotency-Key` is still being served.
    #[error("a request with this idempotency key is in progress")]
    KeyInProgress,
    /// OAuth's `invalid_grant` (RFC 6749 §5.2): the credentials or refresh token do not sign
    /// anyone in; says why, as far as it may.
    #[error("invalid grant: {0}")]
    InvalidGrant(String),
    /// OAuth's `invalid_client`: the API client's authentication failed.
    #[error("client authentication failed")]
    InvalidClient,
    /// Too many failed sign-ins for this account or client: wait this many seconds.
    #[error("too many failed attempts; retry after {retry_after_seconds} seconds")]
    TooManyAttempts { retry_after_seconds: u64 },
    /// The database cannot serve now; retrying later can succeed.
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type ServiceResult<T> = Result<T, ServiceError>;

impl ServiceError {
    /// `what` changed while this request ran.
    pub fn changed(what: &str) -> Self {
        ServiceError::Concurrent(format!(
            "the {what} changed while this request ran; read it again and retry"
        ))
    }

    pub fn invalid(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError::new(pointer, detail)])
    }

    /// Whether trying the same thing again later can succeed (for the worker: retry, or give up).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ServiceError::Unavailable(_)
                | ServiceError::KeyInProgress
                | ServiceError::Concurrent(_)
        )
    }

    /// Whether another attempt at the same thing may end otherwise: not when what it works on is
    /// gone or not the caller's, or a rule refuses it (a job of the worker's is then parked at
    /// once rather than tried again).
    pub fn another_attempt_may_mend(&self) -> bool {
        !matches!(
            self,
            ServiceError::NotFound(_)
                | ServiceError::Forbidden(_)
                | ServiceError::Unauthorized(_)
                | ServiceError::InvalidGrant(_)
                | ServiceError::InvalidClient
                | ServiceError::Refused { .. }
                | ServiceError::Invalid(_)
                | ServiceError::BadQuery(_)
        )
    }

    /// Whether this is a decision about the request (kept with an `Idempotency-Key`, replayed
    /// on a retry), rather than a failure to decide (which a retry may get past).
    pub fn is_decision(&self) -> bool {
        !self.is_retryable() && !matches!(self, ServiceError::Internal(_) | ServiceError::KeyReused)
    }
}

impl From<Vec<FieldError>> for ServiceError {
    fn from(errors: Vec<FieldError>) -> Self {
        ServiceError::Invalid(errors)
    }
}

impl From<RunError> for ServiceError {
    fn from(error: RunError) -> Self {
        match error {
            RunError::NoConnection => ServiceError::Unavailable(error.to_string()),
            RunError::Panicked => ServiceError::Internal(anyhow::anyhow!(error)),
        }
    }
}

impl From<diesel::result::Error> for ServiceError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind as Kind, Error};
        match error {
            Error::NotFound => ServiceError::NotFound("no such resource".into()),
            Error::DatabaseError(Kind::UniqueViolation, _) => {
                ServiceError::Conflict("a resource with these unique values already exists".into())
            }
            Error::DatabaseError(Kind::ExclusionViolation, _) => {
                ServiceError::Conflict("this overlaps with an existing resource".into())
            }
            Error::DatabaseError(Kind::ClosedConnection | Kind::UnableToSendCommand, _) => {
                ServiceError::Unavailable("the database is unavailable".into())
            }
            Error::DatabaseError(Kind::SerializationFailure, _) => {
                ServiceError::Unavailable("the database is busy; retry the request".into())
            }
            Error::DatabaseError(_, info) if is_busy(info.message()) => {
                ServiceError::Unavailable("the database is busy; retry the request".into())
            }
            other => ServiceError::Internal(anyhow::Error::new(other).context("database error")),
        }
    }
}

/// Messages of the backends for "waited too long for another transaction": SQLite's busy
/// timeout, PostgreSQL's `lock_timeout` and deadlock detection, and a server shutting down.
pub fn is_busy(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database is busy")
        || message.contains("lock timeout")
        || message.contains("deadlock detected")
        || message.contains("terminating connection")
}

impl From<serde_json::Error> for ServiceError {
    fn from(error: serde_json::Error) -> Self {
        ServiceError::Internal(anyhow::Error::new(error).context("stored JSON"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_kept_and_failures_to_decide_are_retried() {
        let refused = ServiceError::Refused {
            action: OrderAction::Cancel,
            status: OrderStatus::Completed,
            allowed: vec![],
        };
        assert!(refused.is_decision() && !refused.is_retryable());
        assert!(ServiceError::invalid("/reason", "must not be empty").is_decision());
        for failure in [
            ServiceError::Unavailable("busy".into()),
            ServiceError::changed("order"),
            ServiceError::KeyInProgress,
        ] {
            assert!(
                failure.is_retryable() && !failure.is_decision(),
                "{failure}"
            );
        }
        let internal = ServiceError::Internal(anyhow::anyhow!("bug"));
        assert!(!internal.is_retryable() && !internal.is_decision());
    }
}
