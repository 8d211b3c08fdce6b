//! Webhooks (`webhooks`), their outbox (`webhook_deliveries`) and each delivery's attempts
//! (`webhook_attempts`).
//!
//! The outbox is written when an organisation's events are numbered ([`super::events::flush`]),
//! in the transaction of the change: one delivery per event per enabled subscription that names
//! its type, and the subscription's delivery job woken ([`wake`]). A subscription's deliveries go
//! out one at a time in the order of the organisation's log (`position`), by one job per
//! subscription, so one slow receiver holds up only its own.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::jobs::{self, Job, QUEUED};
use super::schema::{jobs as jobs_table, webhook_attempts, webhook_deliveries, webhooks};
use super::{DbConnection, Json};

/// The kind of the job that delivers one subscription's outbox.
pub const DELIVER: &str = "webhook.deliver";

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhooks, treat_none_as_null = true)]
pub struct Webhook {
    pub id: String,
    pub organisation_id: String,
    pub url: String,
    pub description: String,
    pub event_types: Json<Vec<String>>,
    /// Sealed (`crate::vault`), with the webhook's id as what it is sealed for.
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<NaiveDateTime>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_detail: Option<String>,
    pub disabled_at: Option<NaiveDateTime>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: String,
    pub webhook_id: String,
    pub event_id: Option<String>,
    pub event_type: String,
    pub position: i64,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: NaiveDateTime,
    pub failing_since: Option<NaiveDateTime>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Delivery {
    /// A delivery of the event numbered `position`, due at once.
    pub fn of_event(
        webhook_id: &str,
        event_id: Option<&str>,
        event_type: &str,
        position: i64,
        at: NaiveDateTime,
    ) -> Delivery {
        Delivery {
            id: crate::clock::new_id(),
            webhook_id: webhook_id.to_string(),
            event_id: event_id.map(String::from),
            event_type: event_type.to_string(),
            position,
            status: PENDING.to_string(),
            attempts: 0,
            next_attempt_at: at,
            failing_since: None,
            last_status_code: None,
            last_error: None,
            delivered_at: None,
            created_at: at,
            updated_at: at,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts)]
pub struct Attempt {
    pub id: String,
    pub delivery_id: String,
    pub attempted_at: NaiveDateTime,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub response_body: Option<String>,
    pub duration_ms: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// An event just numbered in an organisation's log.
#[derive(Debug, Clone, Copy)]
pub struct Numbered<'a> {
    pub seq: i64,
    pub event_id: &'a str,
    pub event_type: &'a str,
}

thread_local! {
    /// Whether this thread's transaction queued a delivery (told after it commits).
    static QUEUED_HERE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Told when this process commits a transaction that queued a delivery: the deliverer wakes at
/// once rather than at its next poll.
pub static DELIVERIES_QUEUED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// After a commit: tells the deliverer if the transaction queued a delivery.
pub fn tell_deliverer() {
    if QUEUED_HERE.with(|q| q.replace(false)) {
        DELIVERIES_QUEUED.notify_waiters();
    }
}

/// Writes the deliveries of `numbered` (the organisation's events numbered in this
/// transaction) to the outbox of each enabled subscription that names their types, and wakes
/// their jobs that are not queued. Called by the one event writer, just before commit, under
/// the organisation's head row, which every writer of the organisation waits for: on
/// PostgreSQL in the same few statements whatever the number of subscriptions.
pub fn queue_deliveries(
    conn: &mut DbConnection,
    organisation_id: &str,
    numbered: &[Numbered<'_>],
    at: NaiveDateTime,
) -> QueryResult<()> {
    // With each subscription, whether its job is queued already (as it is while deliveries
    // flow): then it is not written at all.
    let subscriptions: Vec<(String, Json<Vec<String>>, bool)> = webhooks::table
        .filter(webhooks::organisation_id.eq(organisation_id))
        .filter(webhooks::enabled.eq(true))
        .order(webhooks::id.asc())
        .select((
            webhooks::id,
            webhooks::event_types,
            diesel::dsl::exists(
                jobs_table::table
                    .filter(jobs_table::kind.eq(DELIVER))
                    .filter(jobs_table::dedupe_key.eq(webhooks::id))
                    .filter(jobs_table::status.eq(QUEUED)),
            ),
        ))
        .load(conn)?;
    let mut rows: Vec<Delivery> = vec![];
    let mut woken: Vec<Job> = vec![];
    for (webhook_id, types, queued) in subscriptions {
        let before = rows.len();
        rows.extend(
            numbered
                .iter()
                .filter(|n| types.0.iter().any(|t| t == n.event_type))
                .map(|n| {
                    Delivery::of_event(&webhook_id, Some(n.event_id), n.event_type, n.seq, at)
                }),
        );
        if rows.len() > before && !queued {
            woken.push(delivery_job(&webhook_id, organisation_id, at));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        DbConnection::Postgres(c) => {
            diesel::insert_into(webhook_deliveries::table)
                .values(&rows)
                .execute(c)?;
            if !woken.is_empty() {
                diesel::insert_into(jobs_table::table)
                    .values(&woken)
                    .on_conflict((jobs_table::kind, jobs_table::dedupe_key))
                    .do_nothing()
                    .execute(c)?;
            }
        }
        DbConnection::Sqlite(c) => {
            // One writer at a time on SQLite: nobody waits for these statements.
            for row in &rows {
                diesel::insert_into(webhook_deliveries::table)
                    .values(row)
                    .execute(c)?;
            }
            for job in &woken {
                diesel::insert_into(jobs_table::table)
                    .values(job)
                    .on_conflict((jobs_table::kind, jobs_table::dedupe_key))
                    .do_nothing()
                    .execute(c)?;
            }
        }
    }
    // A job already queued is left alone (no row written, so writers do not queue on it, and
    // no statement when all are): its runner finishes only after it has looked under the head
    // row this transaction holds ([`lock_head`]), and so sees these deliveries.
    let keys: Vec<&str> = woken.iter().map(|j| j.dedupe_key.as_str()).collect();
    if keys.is_empty() {
        QUEUED_HERE.with(|q| q.set(true));
        return Ok(());
    }
    diesel::update(
        jobs_table::table
            .filter(jobs_table::kind.eq(DELIVER))
            .filter(jobs_table::dedupe_key.eq_any(&keys))
            .filter(jobs_table::status.ne(QUEUED)),
    )
    .set((
        jobs_table::status.eq(QUEUED),
        jobs_table::run_at.eq(at),
        jobs_table::updated_at.eq(at),
    ))
    .execute(conn)?;
    QUEUED_HERE.with(|q| q.set(true));
    Ok(())
}

/// The job that delivers a subscription's outbox, due at `at`.
fn delivery_job(webhook_id: &str, organisation_id: &str, at: NaiveDateTime) -> Job {
    Job {
        id: crate::clock::new_id(),
        kind: DELIVER.to_string(),
        dedupe_key: webhook_id.to_string(),
        organisation_id: Some(organisation_id.to_string()),
        payload: Json(serde_json::json!({ "webhook_id": webhook_id })),
        status: QUEUED.to_string(),
        run_at: at,
        attempts: 0,
        max_attempts: 1,
        leased_until: None,
        leased_by: None,
        last_error: None,
        created_at: at,
        updated_at: at,
        finished_at: None,
    }
}

/// Queues the subscription's delivery job: at `at` when it was done; as it is when it is queued
/// already (waiting out a failed delivery's backoff, or being run: its runner looks for more
/// before it finishes). Always writes the job's row, so that on PostgreSQL a runner finishing
/// the job at the same moment waits for this transaction and then sees its deliveries.
pub fn wake(
    conn: &mut DbConnection,
    webhook_id: &str,
    organisation_id: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    use diesel::dsl::case_when;
    use diesel::upsert::excluded;
    let job = delivery_job(webhook_id, organisation_id, at);
    crate::on_each_backend!(conn, |c| diesel::insert_into(jobs_table::table)
        .values(&job)
        .on_conflict((jobs_table::kind, jobs_table::dedupe_key))
        .do_update()
        .set((
            jobs_table::run_at.eq(case_when(
                jobs_table::status.ne(QUEUED),
                excluded(jobs_table::run_at),
            )
            .otherwise(jobs_table::run_at)),
            jobs_table::status.eq(QUEUED),
            jobs_table::updated_at.eq(at),
        ))
        .execute(c))
    .map(drop)
}

/// Holds the organisation's head row (shared) until the transaction ends: a runner that found
/// no pending delivery looks again under it before it finishes its job, so a transaction that
/// is writing deliveries for the organisation commits first and is seen (PostgreSQL; on
/// SQLite the runner's transaction holds the database).
pub fn lock_head(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<()> {
    use super::schema::event_log_heads;
    if let DbConnection::Postgres(c) = conn {
        event_log_heads::table
            .find(organisation_id)
            .select(event_log_heads::last_seq)
            .for_share()
            .first::<i64>(c)
            .optional()?;
    }
    Ok(())
}

/// Queues the delivery jobs found done while their subscriptions have deliveries pending: a
/// safety net, run by the deliverer now and then, for the first event of an organisation
/// (before it has a head row to wait on) racing the end of its subscription's job.
pub fn requeue_stranded(conn: &mut DbConnection, at: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        jobs_table::table
            .filter(jobs_table::kind.eq(DELIVER))
            .filter(jobs_table::status.ne(QUEUED))
            .filter(
                jobs_table::dedupe_key.eq_any(
                    webhooks::table
                        .filter(webhooks::enabled.eq(true))
                        .select(webhooks::id),
                ),
            )
            .filter(diesel::dsl::exists(
                webhook_deliveries::table
                    .filter(webhook_deliveries::webhook_id.eq(jobs_table::dedupe_key))
                    .filter(webhook_deliveries::status.eq(PENDING)),
            )),
    )
    .set((
        jobs_table::status.eq(QUEUED),
        jobs_table::run_at.eq(at),
        jobs_table::updated_at.eq(at),
    ))
    .execute(conn)
}

/// Removes the subscription's delivery job (a subscription deleted).
pub fn drop_job(conn: &mut DbConnection, webhook_id: &str) -> QueryResult<()> {
    diesel::delete(
        jobs_table::table
            .filter(jobs_table::kind.eq(DELIVER))
            .filter(jobs_table::dedupe_key.eq(webhook_id)),
    )
    .execute(conn)
    .map(drop)
}

pub fn insert(conn: &mut DbConnection, webhook: &Webhook) -> QueryResult<()> {
    diesel::insert_into(webhooks::table)
        .values(webhook)
        .execute(conn)
        .map(drop)
}

/// The organisation's subscription `id`.
pub fn find(
    conn: &mut DbConnection,
    organisation_id: &str,
    id: &str,
) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .find(id)
        .filter(webhooks::organisation_id.eq(organisation_id))
        .select(Webhook::as_select())
        .first(conn)
        .optional()
}

/// The organisation's subscription for `url`.
pub fn find_by_url(
    conn: &mut DbConnection,
    organisation_id: &str,
    url: &str,
) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .filter(webhooks::organisation_id.eq(organisation_id))
        .filter(webhooks::url.eq(url))
        .select(Webhook::as_select())
        .first(conn)
        .optional()
}

/// A subscription whoever's it is (the worker's view).
pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Webhook>> {
    webhooks::table
        .find(id)
        .select(Webhook::as_select())
        .first(conn)
        .optional()
}

/// The organisation's subscriptions, oldest first, after `after` (keyset on id).
pub fn list(
    conn: &mut DbConnection,
    organisation_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Webhook>> {
    let mut query = webhooks::table
        .filter(webhooks::organisation_id.eq(organisation_id))
        .order(webhooks::id.asc())
        .limit(limit)
        .select(Webhook::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(webhooks::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// Saves `webhook` over the version `previous`; false when another change came first.
pub fn save(conn: &mut DbConnection, webhook: &Webhook, previous: i32) -> QueryResult<bool> {
    diesel::update(
        webhooks::table
            .find(&webhook.id)
            .filter(webhooks::version.eq(previous)),
    )
    .set(webhook)
    .execute(conn)
    .map(|n| n == 1)
}

/// Every subscription's id.
pub fn all_ids(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    webhooks::table
        .order(webhooks::id.asc())
        .select(webhooks::id)
        .load(conn)
}

/// Stores the subscription's secrets sealed anew (no version change: nothing the organisation
/// sees changed).
pub fn save_secrets(conn: &mut DbConnection, webhook: &Webhook) -> QueryResult<bool> {
    diesel::update(webhooks::table.find(&webhook.id))
        .set((
            webhooks::secret.eq(&webhook.secret),
            webhooks::previous_secret.eq(&webhook.previous_secret),
        ))
        .execute(conn)
        .map(|n| n == 1)
}

/// Deletes the subscription with its deliveries, their attempts and its job.
pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    let deliveries = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(id))
        .select(webhook_deliveries::id);
    diesel::delete(
        webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(deliveries)),
    )
    .execute(conn)?;
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::webhook_id.eq(id)))
        .execute(conn)?;
    drop_job(conn, id)?;
    diesel::delete(webhooks::table.find(id)).execute(conn)?;
    Ok(())
}

/// Disables the subscription, saying why.
pub fn disable(
    conn: &mut DbConnection,
    id: &str,
    reason: &str,
    detail: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id).filter(webhooks::enabled.eq(true)))
        .set((
            webhooks::enabled.eq(false),
            webhooks::disabled_reason.eq(reason),
            webhooks::disabled_detail.eq(detail),
            webhooks::disabled_at.eq(at),
            webhooks::version.eq(webhooks::version + 1),
            webhooks::updated_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// The subscription's next delivery to send: its first pending one in the log's order.
pub fn head(conn: &mut DbConnection, webhook_id: &str) -> QueryResult<Option<Delivery>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .filter(webhook_deliveries::status.eq(PENDING))
        .order((
            webhook_deliveries::position.asc(),
            webhook_deliveries::id.asc(),
        ))
        .select(Delivery::as_select())
        .first(conn)
        .optional()
}

pub fn insert_delivery(conn: &mut DbConnection, delivery: &Delivery) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(delivery)
        .execute(conn)
        .map(drop)
}

/// The subscription's delivery `id`.
pub fn find_delivery(
    conn: &mut DbConnection,
    webhook_id: &str,
    id: &str,
) -> QueryResult<Option<Delivery>> {
    webhook_deliveries::table
        .find(id)
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .select(Delivery::as_select())
        .first(conn)
        .optional()
}

/// The subscription's deliveries, newest first, before `before` (keyset on id).
pub fn deliveries(
    conn: &mut DbConnection,
    webhook_id: &str,
    status: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select(Delivery::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status.to_string()));
    }
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before.to_string()));
    }
    query.load(conn)
}

/// The attempts of `deliveries`, oldest first.
pub fn attempts_of(conn: &mut DbConnection, deliveries: &[String]) -> QueryResult<Vec<Attempt>> {
    webhook_attempts::table
        .filter(webhook_attempts::delivery_id.eq_any(deliveries))
        .order(webhook_attempts::id.asc())
        .select(Attempt::as_select())
        .load(conn)
}

/// An attempt at `delivery`, and where the delivery stands after it.
pub fn record_attempt(
    conn: &mut DbConnection,
    attempt: &Attempt,
    status: &str,
    failing_since: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::insert_into(webhook_attempts::table)
        .values(attempt)
        .execute(conn)?;
    let delivered_at = (status == DELIVERED).then_some(attempt.attempted_at);
    diesel::update(webhook_deliveries::table.find(&attempt.delivery_id))
        .set((
            webhook_deliveries::status.eq(status),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::next_attempt_at
                .eq(attempt.next_attempt_at.unwrap_or(attempt.attempted_at)),
            webhook_deliveries::failing_since.eq(failing_since),
            webhook_deliveries::last_status_code.eq(attempt.status_code),
            webhook_deliveries::last_error.eq(&attempt.error),
            webhook_deliveries::delivered_at.eq(delivered_at),
            webhook_deliveries::updated_at.eq(attempt.attempted_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Sends the delivery again as soon as may be: pending, due at `at`, its failures forgotten.
pub fn redeliver(conn: &mut DbConnection, id: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(PENDING),
            webhook_deliveries::next_attempt_at.eq(at),
            webhook_deliveries::failing_since.eq(None::<NaiveDateTime>),
            webhook_deliveries::updated_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// Whether the subscription has a pending delivery.
pub fn has_pending(conn: &mut DbConnection, webhook_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .filter(webhook_deliveries::status.eq(PENDING)),
    ))
    .get_result(conn)
}

/// Claims up to `limit` due delivery jobs for `worker` (`jobs::claim`).
pub fn claim_jobs(
    conn: &mut DbConnection,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Job>> {
    jobs::claim(conn, worker, &[DELIVER], now, lease_until, limit)
}
