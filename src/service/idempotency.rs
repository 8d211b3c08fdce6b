//! `Idempotency-Key` (API.md "Conventions"): a POST is served once per key and caller; the same
//! key and request within 24 hours get the first response again, the same key with another
//! request is refused.
//!
//! Claiming the key, the change the request makes and the response it got are one transaction,
//! so a key is either unused or answered, whatever happens to the process: a crash before the
//! commit leaves neither the change nor the key, and the retry is served afresh. A second request
//! with the same key waits for the first one's transaction (PostgreSQL: the claim's insert waits
//! on the key's unique index, at most the connection's lock timeout, then answers "in progress";
//! SQLite: the write lock taken up front) and then gets its answer.
//!
//! A use case's refusal (a 4xx) is an answer and is kept; a failure to answer (the database
//! unavailable, an internal error) is not, and the key stays unused.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};

use crate::db::idempotency::{self as store, IdempotencyRecord, StoredResponse};
use crate::db::{self, DbConnection};
use crate::service::error::{ServiceError, ServiceResult};

/// How long a key's answer is kept.
pub const RETENTION_HOURS: i64 = 24;

/// A POST with an `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct KeyedRequest {
    /// The caller (the token's subject): keys are per caller.
    pub subject: String,
    pub key: String,
    /// A hash of what was asked (path, query and body).
    pub fingerprint: String,
}

/// How a keyed request was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// Served now; its response is kept for the key.
    Fresh(StoredResponse),
    /// The key was answered before: its response.
    Replayed(StoredResponse),
}

/// The kept answer to the key, if any; another request under the same key is refused. An
/// answer older than `cutoff` no longer counts.
fn answered(
    conn: &mut DbConnection,
    request: &KeyedRequest,
    cutoff: NaiveDateTime,
) -> ServiceResult<Option<StoredResponse>> {
    let Some(record) = store::find(conn, &request.subject, &request.key)? else {
        return Ok(None);
    };
    if record.created_at < cutoff {
        store::purge_one(conn, &request.subject, &request.key)?;
        return Ok(None);
    }
    if record.request_hash != request.fingerprint {
        return Err(ServiceError::KeyReused);
    }
    match record.response() {
        Some(response) => Ok(Some(response)),
        None => {
            // Only a version that claimed keys in a transaction of their own left these behind.
            store::purge_one(conn, &request.subject, &request.key)?;
            Ok(None)
        }
    }
}

/// Serves `request` once: replays its kept answer, or runs `serve` and keeps what it answered.
/// `keep` turns a use case's refusal into the response to keep, or passes a failure on.
pub fn once(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    request: &KeyedRequest,
    serve: impl FnOnce(&mut DbConnection) -> ServiceResult<StoredResponse>,
    keep: impl FnOnce(ServiceError) -> ServiceResult<StoredResponse>,
) -> ServiceResult<Served> {
    // Answers are kept 24 hours; older ones go now (they hold response bodies), in a statement
    // of its own so that no request holds the locks of others' old answers while it is served.
    let cutoff = (now - Duration::hours(RETENTION_HOURS)).naive_utc();
    store::purge(conn, cutoff)?;
    db::write(conn, |conn| {
        if let Some(response) = answered(conn, request, cutoff)? {
            return Ok(Served::Replayed(response));
        }
        let claim = IdempotencyRecord {
            subject: request.subject.clone(),
            idem_key: request.key.clone(),
            request_hash: request.fingerprint.clone(),
            status: None,
            response_body: None,
            headers: None,
            created_at: now.naive_utc(),
        };
        let claimed = store::claim(conn, &claim).map_err(|e| match &e {
            diesel::result::Error::DatabaseError(_, info)
                if info.message().contains("lock timeout") =>
            {
                ServiceError::KeyInProgress
            }
            _ => e.into(),
        })?;
        if !claimed {
            // Another request with the key committed while this one waited for it.
            return answered(conn, request, cutoff)?
                .map(Served::Replayed)
                .ok_or(ServiceError::KeyInProgress);
        }
        // The use case in a savepoint of its own: a refusal leaves nothing of it behind.
        let response = match db::write(conn, serve) {
            Ok(response) => response,
            Err(error) => keep(error)?,
        };
        store::answer(conn, &request.subject, &request.key, &response)?;
        Ok(Served::Fresh(response))
    })
}
