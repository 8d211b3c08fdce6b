//! The job queue: work the service does on its own, on its own database, so that a job is
//! enqueued in the very transaction of the change that causes it (and is lost with it when that
//! rolls back). Claimed with a lease: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so that any number
//! of workers take disjoint jobs; inside one write transaction on SQLite, which holds the
//! database. A job runs at least once; its effects are made idempotent by their own keys.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::jobs;
use super::{DbConnection, Json};

/// Where a job stands.
pub const QUEUED: &str = "queued";
pub const DONE: &str = "done";
pub const PARKED: &str = "parked";

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = jobs)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub dedupe_key: String,
    pub organisation_id: Option<String>,
    pub payload: Json<serde_json::Value>,
    pub status: String,
    pub run_at: NaiveDateTime,
    pub attempts: i32,
    pub max_attempts: i32,
    pub leased_until: Option<NaiveDateTime>,
    pub leased_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
}

/// Queues `job`, or, when a job of its kind and key exists, queues that one again to run at
/// `job.run_at` with its attempts reset (a follow-up moved, a periodic job's next run). Call in
/// the transaction of the change that causes it.
pub fn enqueue(conn: &mut DbConnection, job: &Job) -> QueryResult<()> {
    crate::on_each_backend!(conn, |c| diesel::insert_into(jobs::table)
        .values(job)
        .on_conflict((jobs::kind, jobs::dedupe_key))
        .do_update()
        .set((
            jobs::status.eq(QUEUED),
            jobs::run_at.eq(job.run_at),
            jobs::payload.eq(&job.payload),
            jobs::attempts.eq(0),
            jobs::leased_until.eq(None::<NaiveDateTime>),
            jobs::leased_by.eq(None::<String>),
            jobs::last_error.eq(None::<String>),
            jobs::finished_at.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(job.updated_at),
        ))
        .execute(c))
    .map(drop)
}

/// Inserts `job` unless a job of its kind and key exists (a periodic job already scheduled).
pub fn enqueue_once(conn: &mut DbConnection, job: &Job) -> QueryResult<bool> {
    crate::on_each_backend!(conn, |c| diesel::insert_into(jobs::table)
        .values(job)
        .on_conflict((jobs::kind, jobs::dedupe_key))
        .do_nothing()
        .execute(c))
    .map(|n| n == 1)
}

/// A parked job of `kind` and `key` queued again at `now` (a periodic job, which must not stay
/// parked); false when there is none.
pub fn revive(
    conn: &mut DbConnection,
    kind: &str,
    key: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let id: Option<String> = jobs::table
        .filter(jobs::kind.eq(kind))
        .filter(jobs::dedupe_key.eq(key))
        .select(jobs::id)
        .first(conn)
        .optional()?;
    match id {
        Some(id) => retry(conn, &id, now),
        None => Ok(false),
    }
}

/// Claims up to `limit` queued jobs of `kinds` due at `now` that no live lease holds, for
/// `worker` until `lease_until`, counting the attempt. Each claimed job is the claimer's until
/// its lease runs out or it is queued anew ([`enqueue`]); every later step on it checks that it
/// still is ([`take`], [`finish`]), so a worker that lost a job never completes it. Call in a
/// write transaction.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    kinds: &[&str],
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    let due = jobs::table
        .filter(jobs::status.eq(QUEUED))
        .filter(jobs::kind.eq_any(kinds))
        .filter(jobs::run_at.le(now))
        .filter(jobs::leased_until.is_null().or(jobs::leased_until.lt(now)))
        .order((jobs::run_at.asc(), jobs::id.asc()))
        .limit(limit)
        .select(jobs::id);
    let claimed = (
        jobs::leased_until.eq(lease_until),
        jobs::leased_by.eq(worker),
        jobs::attempts.eq(jobs::attempts + 1),
        jobs::updated_at.eq(now),
    );
    let ids: Vec<String> = match conn {
        // One statement: the due rows locked (another worker's are skipped, not waited for),
        // leased and returned, instead of three that each visit every claimed row.
        DbConnection::Postgres(c) => {
            use diesel::sql_types::{Array, BigInt, Text, Timestamp};
            let mut jobs: Vec<Job> = diesel::sql_query(
                // Materialized, so that the locking subquery runs once and leases at most
                // `limit` jobs.
                "WITH due AS MATERIALIZED (SELECT id FROM jobs WHERE status = 'queued' \
                 AND kind = ANY($4) AND run_at <= $3 \
                 AND (leased_until IS NULL OR leased_until < $3) \
                 ORDER BY run_at, id LIMIT $5 FOR UPDATE SKIP LOCKED) \
                 UPDATE jobs SET leased_until = $1, leased_by = $2, attempts = attempts + 1, \
                 updated_at = $3 FROM due WHERE jobs.id = due.id RETURNING jobs.*",
            )
            .bind::<Timestamp, _>(lease_until)
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(now)
            .bind::<Array<Text>, _>(kinds)
            .bind::<BigInt, _>(limit)
            .load(c)?;
            jobs.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
            return Ok(jobs);
        }
        DbConnection::Sqlite(c) => due.load(c)?,
    };
    if ids.is_empty() {
        return Ok(vec![]);
    }
    diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
        .set(claimed)
        .execute(conn)?;
    jobs::table
        .filter(jobs::id.eq_any(&ids))
        .order((jobs::run_at.asc(), jobs::id.asc()))
        .select(Job::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Job>> {
    jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()
}

/// The query for one job held by a worker.
type HeldBy<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Find<jobs::table, &'a str>,
        diesel::dsl::Eq<jobs::leased_by, &'a str>,
    >,
    diesel::dsl::Eq<jobs::status, &'static str>,
>;

/// The queued job `id` while `worker` holds it: the filter of every step a worker takes on a
/// job it claimed.
fn held_by<'a>(id: &'a str, worker: &'a str) -> HeldBy<'a> {
    jobs::table
        .find(id)
        .filter(jobs::leased_by.eq(worker))
        .filter(jobs::status.eq(QUEUED))
}

/// The query for the queued jobs `ids` that `worker` holds.
type AllHeldBy<'a> = diesel::dsl::Filter<
    diesel::dsl::Filter<
        diesel::dsl::Filter<jobs::table, diesel::dsl::EqAny<jobs::id, &'a [&'a str]>>,
        diesel::dsl::Eq<jobs::leased_by, &'a str>,
    >,
    diesel::dsl::Eq<jobs::status, &'static str>,
>;

/// Those of the jobs `ids` that are queued and that `worker` holds.
fn all_held_by<'a>(ids: &'a [&'a str], worker: &'a str) -> AllHeldBy<'a> {
    jobs::table
        .filter(jobs::id.eq_any(ids))
        .filter(jobs::leased_by.eq(worker))
        .filter(jobs::status.eq(QUEUED))
}

/// `worker` starts on a job it claimed: its lease runs from `now` again. False when the job is
/// no longer the worker's (the lease ran out and another took it, or it was queued anew). First
/// in the job's transaction: on PostgreSQL the row stays locked until it commits.
pub fn take(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held_by(id, worker))
        .set((jobs::leased_until.eq(lease_until), jobs::updated_at.eq(now)))
        .execute(conn)
        .map(|n| n == 1)
}

/// The job is done: in the transaction of its effects, so that both happen or neither. False
/// when it is no longer `worker`'s (its effects then roll back).
pub fn finish(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    finish_all(conn, &[id], worker, now).map(|n| n == 1)
}

/// The jobs `ids` are done, in the transaction of their effects; how many of them were still
/// `worker`'s (all of them, or the caller rolls back).
pub fn finish_all(
    conn: &mut DbConnection,
    ids: &[&str],
    worker: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(all_held_by(ids, worker))
        .set((
            jobs::status.eq(DONE),
            jobs::finished_at.eq(now),
            jobs::leased_until.eq(None::<NaiveDateTime>),
            jobs::last_error.eq(None::<String>),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
}

/// A periodic job ran: it is queued again for its next run. False when it is no longer
/// `worker`'s.
pub fn reschedule(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    next_run: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held_by(id, worker))
        .set((
            jobs::status.eq(QUEUED),
            jobs::run_at.eq(next_run),
            jobs::attempts.eq(0),
            jobs::leased_until.eq(None::<NaiveDateTime>),
            jobs::leased_by.eq(None::<String>),
            jobs::last_error.eq(None::<String>),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// The job failed: tried again at `retry_at`, or, with `None`, parked for a person to look at.
/// False when it is no longer `worker`'s (whoever has it now decides).
pub fn fail(
    conn: &mut DbConnection,
    id: &str,
    worker: &str,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(held_by(id, worker))
        .set((
            jobs::status.eq(if retry_at.is_some() { QUEUED } else { PARKED }),
            jobs::run_at.eq(retry_at.unwrap_or(now)),
            jobs::leased_until.eq(None::<NaiveDateTime>),
            jobs::leased_by.eq(None::<String>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Gives the jobs `worker` claimed and did not start back (a worker that stops): taken again at
/// once, the attempt not counted.
pub fn release(
    conn: &mut DbConnection,
    ids: &[String],
    worker: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    diesel::update(all_held_by(&ids, worker))
        .set((
            jobs::leased_until.eq(None::<NaiveDateTime>),
            jobs::leased_by.eq(None::<String>),
            jobs::attempts.eq(jobs::attempts - 1),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// A parked job queued again by a person (its attempts start over).
pub fn retry(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(jobs::table.find(id).filter(jobs::status.eq(PARKED)))
        .set((
            jobs::status.eq(QUEUED),
            jobs::run_at.eq(now),
            jobs::attempts.eq(0),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// An organisation's jobs in `status`, newest first, after `before` (keyset on id).
pub fn of_organisation(
    conn: &mut DbConnection,
    organisation_id: &str,
    status: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    let mut query = jobs::table
        .filter(jobs::organisation_id.eq(organisation_id))
        .filter(jobs::status.eq(status))
        .order(jobs::id.asc())
        .limit(limit)
        .select(Job::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(jobs::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// One kind of job in the queue: how many are queued, and the oldest due one's `run_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    pub kind: String,
    pub queued: i64,
    /// Queued again after a failed attempt.
    pub retrying: i64,
    pub oldest_due: Option<NaiveDateTime>,
}

/// The queue as `/metrics` shows it: each kind's [`Depth`], and how many jobs are parked.
pub fn depth(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<(Vec<Depth>, i64)> {
    use diesel::dsl::{count_star, min};
    let queued: Vec<(String, i64)> = jobs::table
        .filter(jobs::status.eq(QUEUED))
        .group_by(jobs::kind)
        .select((jobs::kind, count_star()))
        .load(conn)?;
    let oldest: Vec<(String, Option<NaiveDateTime>)> = jobs::table
        .filter(jobs::status.eq(QUEUED))
        .filter(jobs::run_at.le(now))
        .group_by(jobs::kind)
        .select((jobs::kind, min(jobs::run_at)))
        .load(conn)?;
    let retrying: Vec<(String, i64)> = jobs::table
        .filter(jobs::status.eq(QUEUED))
        .filter(jobs::last_error.is_not_null())
        .group_by(jobs::kind)
        .select((jobs::kind, count_star()))
        .load(conn)?;
    let parked: i64 = jobs::table
        .filter(jobs::status.eq(PARKED))
        .count()
        .get_result(conn)?;
    Ok((
        queued
            .into_iter()
            .map(|(kind, queued)| {
                let oldest_due = oldest
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .and_then(|(_, t)| *t);
                Depth {
                    retrying: retrying
                        .iter()
                        .find(|(k, _)| *k == kind)
                        .map_or(0, |(_, n)| *n),
                    kind,
                    queued,
                    oldest_due,
                }
            })
            .collect(),
        parked,
    ))
}
