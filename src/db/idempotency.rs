//! The record of POST requests sent with an `Idempotency-Key`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::idempotency_keys;
use super::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRecord {
    pub subject: String,
    pub idem_key: String,
    pub request_hash: String,
    /// `None` while the first request is still being served.
    pub status: Option<i32>,
    pub response_body: Option<String>,
    /// JSON object of the replayed headers.
    pub headers: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The record of one caller's key.
type ByKey<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        idempotency_keys::table,
        diesel::dsl::Eq<idempotency_keys::subject, &'a str>,
    >,
    diesel::dsl::Eq<idempotency_keys::idem_key, &'a str>,
>;

fn key<'a>(subject: &'a str, idem_key: &'a str) -> ByKey<'a> {
    idempotency_keys::table
        .filter(idempotency_keys::subject.eq(subject))
        .filter(idempotency_keys::idem_key.eq(idem_key))
}

/// Records the key for a first request. A concurrent first request with the same key makes
/// this a unique violation, which the caller answers as "in progress".
pub fn insert(conn: &mut DbConnection, record: &IdempotencyRecord) -> QueryResult<()> {
    diesel::insert_into(idempotency_keys::table)
        .values(record)
        .execute(conn)
        .map(drop)
}

pub fn find(
    conn: &mut DbConnection,
    subject: &str,
    idem_key: &str,
) -> QueryResult<Option<IdempotencyRecord>> {
    key(subject, idem_key)
        .select(IdempotencyRecord::as_select())
        .first(conn)
        .optional()
}

/// Takes over an expired or abandoned record: it starts afresh for this request.
pub fn restart(
    conn: &mut DbConnection,
    record: &IdempotencyRecord,
    seen_at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        key(&record.subject, &record.idem_key).filter(idempotency_keys::created_at.eq(seen_at)),
    )
    .set((
        idempotency_keys::request_hash.eq(&record.request_hash),
        idempotency_keys::status.eq(None::<i32>),
        idempotency_keys::response_body.eq(None::<String>),
        idempotency_keys::headers.eq(None::<String>),
        idempotency_keys::created_at.eq(record.created_at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

pub fn complete(
    conn: &mut DbConnection,
    subject: &str,
    idem_key: &str,
    status: i32,
    body: &str,
    headers: &str,
) -> QueryResult<()> {
    diesel::update(key(subject, idem_key))
        .set((
            idempotency_keys::status.eq(Some(status)),
            idempotency_keys::response_body.eq(Some(body)),
            idempotency_keys::headers.eq(Some(headers)),
        ))
        .execute(conn)
        .map(drop)
}

pub fn release(conn: &mut DbConnection, subject: &str, idem_key: &str) -> QueryResult<()> {
    diesel::delete(key(subject, idem_key))
        .execute(conn)
        .map(drop)
}

/// Deletes the records created before `cutoff`.
pub fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
        .execute(conn)
}
