//! The record of POST requests sent with an `Idempotency-Key`: each key's request fingerprint and
//! the response it was answered with.

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
    /// `None` only inside the transaction that serves the first request.
    pub status: Option<i32>,
    pub response_body: Option<String>,
    /// JSON object of the replayed headers.
    pub headers: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The response a key was answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: i32,
    /// JSON object of the replayed headers.
    pub headers: String,
    pub body: String,
}

impl IdempotencyRecord {
    pub fn response(&self) -> Option<StoredResponse> {
        Some(StoredResponse {
            status: self.status?,
            headers: self.headers.clone().unwrap_or_else(|| "{}".into()),
            body: self.response_body.clone().unwrap_or_default(),
        })
    }
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

/// Claims the key for this request; false when another request holds it. On PostgreSQL a claim
/// that another open transaction made waits for that transaction to end (at most the
/// connection's `lock_timeout`), so it never sees a half-served key.
pub fn claim(conn: &mut DbConnection, record: &IdempotencyRecord) -> QueryResult<bool> {
    crate::on_each_backend!(conn, |c| diesel::insert_into(idempotency_keys::table)
        .values(record)
        .on_conflict_do_nothing()
        .execute(c))
    .map(|n| n == 1)
}

/// Records the response the claimed key was answered with.
pub fn answer(
    conn: &mut DbConnection,
    subject: &str,
    idem_key: &str,
    response: &StoredResponse,
) -> QueryResult<()> {
    diesel::update(key(subject, idem_key))
        .set((
            idempotency_keys::status.eq(Some(response.status)),
            idempotency_keys::response_body.eq(Some(&response.body)),
            idempotency_keys::headers.eq(Some(&response.headers)),
        ))
        .execute(conn)
        .map(drop)
}

/// Deletes one caller's record of a key.
pub fn purge_one(conn: &mut DbConnection, subject: &str, idem_key: &str) -> QueryResult<()> {
    diesel::delete(key(subject, idem_key))
        .execute(conn)
        .map(drop)
}

/// Deletes the records created before `cutoff`.
pub fn purge(conn: &mut DbConnection, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(cutoff)))
        .execute(conn)
}
