//! Events (`events`): an order's timeline and an organisation's own changes; and each
//! organisation's event log (`event_log`), written together in the caller's transaction.
//!
//! The event log numbers an organisation's events 1, 2, 3, … in commit order: numbering bumps the
//! organisation's head row (`event_log_heads`), which stays locked until the transaction ends, so
//! a reader that has seen number N has seen everything before it. [`append`] writes the event at
//! once, but its numbers only when the transaction commits ([`LogFrame`], [`flush`]): every
//! transaction takes the head rows last, in one order (by organisation id), just before commit,
//! after whatever rows it locked for its change (the lock order, `crate::service::sessions`).

use std::cell::RefCell;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{event_log, event_log_heads, events};
use super::webhooks::Numbered;
use super::{DbConnection, Json};
use crate::domain::event::Event;
use crate::domain::order::OrderStatus;
use crate::domain::principal::Role;

/// One stored event: about an order (on its timeline), or about an organisation alone.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
pub struct StoredEvent {
    pub id: String,
    pub order_id: Option<String>,
    pub organisation_id: Option<String>,
    /// The event's type, e.g. `order.created`.
    pub event_type: String,
    /// The version of the payload's shape (`Event::DATA_VERSION` when it was written).
    pub data_version: i32,
    pub from_status: Option<OrderStatus>,
    pub to_status: Option<OrderStatus>,
    pub actor_role: Role,
    pub actor_id: String,
    /// The event's payload (see `domain::event`).
    pub data: Json<serde_json::Value>,
    pub occurred_at: NaiveDateTime,
}

impl StoredEvent {
    /// The typed event, read through the shape its version names.
    pub fn event(&self) -> Result<Event, crate::domain::event::Unreadable> {
        Event::from_stored(&self.event_type, self.data_version, self.data.0.clone())
    }

    /// The typed event, or `None` (logged) for one this build cannot read, written by a newer
    /// one: shown in its place without its details, never left out and never an error.
    pub fn event_or_logged(&self) -> Option<Event> {
        self.event()
            .inspect_err(
                |e| tracing::error!(event_id = %self.id, error = %e, "an unreadable stored event"),
            )
            .ok()
    }
}

/// What an event is about, and so whose logs it goes to.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A step of an order: its timeline, and the logs of its provider and (when the event
    /// reaches it) its employer; `from` and `to` are its status before and after.
    Order {
        order_id: &'a str,
        employer_id: &'a str,
        /// False while the order is hidden from its employer (a confidential campaign's): none
        /// of its events reaches the employer's log.
        employer_sees: bool,
        provider_id: &'a str,
        from: Option<OrderStatus>,
        to: OrderStatus,
    },
    /// A change of an organisation's own (its coaches, their availability, its settings): that
    /// organisation's log.
    Organisation { organisation_id: &'a str },
}

/// An event to append, with what it is about and who caused it.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub id: String,
    pub subject: Subject<'a>,
    pub event: &'a Event,
    pub actor_role: Role,
    pub actor_id: &'a str,
    pub occurred_at: NaiveDateTime,
}

/// An event to number in an organisation's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub organisation_id: String,
    pub event_id: String,
    pub event_type: &'static str,
    pub occurred_at: NaiveDateTime,
}

/// Told when this process commits numbered events, so that a long poll of the events feed
/// wakes at once (pollers in other processes see the head rows move within their poll).
pub static COMMITTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

thread_local! {
    /// The log entries of the transactions open on this thread ([`crate::db::write`]), one frame
    /// per transaction or savepoint, innermost last.
    static PENDING: RefCell<Vec<Vec<LogEntry>>> = const { RefCell::new(Vec::new()) };
}

/// The log entries a transaction (or a savepoint in one) makes, numbered when the outermost
/// transaction commits. Dropped without [`LogFrame::close`], its entries are discarded, as the
/// transaction's rollback discards its events.
pub struct LogFrame {
    depth: usize,
}

impl LogFrame {
    pub fn open() -> LogFrame {
        PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            pending.push(vec![]);
            LogFrame {
                depth: pending.len() - 1,
            }
        })
    }

    /// The frame's work is kept: a savepoint's entries join its transaction's; the outermost
    /// transaction's are returned, for [`flush`] before it commits.
    pub fn close(self) -> Option<Vec<LogEntry>> {
        let depth = self.depth;
        std::mem::forget(self);
        PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            let mut frame = pending.drain(depth..).flatten().collect::<Vec<_>>();
            match pending.last_mut() {
                Some(parent) => {
                    parent.append(&mut frame);
                    None
                }
                None => Some(frame),
            }
        })
    }
}

impl Drop for LogFrame {
    fn drop(&mut self) {
        PENDING.with(|pending| pending.borrow_mut().truncate(self.depth));
    }
}

/// Numbers `entries` in their organisations' logs, organisation by organisation in id order,
/// each organisation's in the order they were appended, and writes their webhook deliveries to
/// the outbox (`db::webhooks::queue_deliveries`) while the head row is held.
pub fn flush(conn: &mut DbConnection, entries: &[LogEntry]) -> QueryResult<()> {
    let mut organisations: Vec<&str> = entries.iter().map(|e| e.organisation_id.as_str()).collect();
    organisations.sort_unstable();
    organisations.dedup();
    for organisation in organisations {
        let events: Vec<&LogEntry> = entries
            .iter()
            .filter(|e| e.organisation_id == organisation)
            .collect();
        let count = i64::try_from(events.len()).unwrap_or(i64::MAX);
        let last = bump_head(conn, organisation, count)?;
        let numbered: Vec<Numbered<'_>> = (last - count + 1..)
            .zip(&events)
            .map(|(seq, e)| Numbered {
                seq,
                event_id: &e.event_id,
                event_type: e.event_type,
            })
            .collect();
        let rows: Vec<_> = numbered
            .iter()
            .map(|n| {
                (
                    event_log::organisation_id.eq(organisation),
                    event_log::seq.eq(n.seq),
                    event_log::event_id.eq(n.event_id),
                )
            })
            .collect();
        match conn {
            // Under the head row every writer of the organisation waits for: one statement.
            DbConnection::Postgres(c) => {
                diesel::insert_into(event_log::table)
                    .values(&rows)
                    .execute(c)?;
            }
            DbConnection::Sqlite(c) => {
                for row in &rows {
                    diesel::insert_into(event_log::table)
                        .values(row)
                        .execute(c)?;
                }
            }
        }
        let at = events.iter().map(|e| e.occurred_at).max();
        if let Some(at) = at {
            super::webhooks::queue_deliveries(conn, organisation, &numbered, at)?;
        }
    }
    Ok(())
}

/// Numbers the entry at once when no transaction is open on this thread, else keeps it for the
/// transaction's commit.
fn number(conn: &mut DbConnection, entry: LogEntry) -> QueryResult<()> {
    let unkept = PENDING.with(|pending| match pending.borrow_mut().last_mut() {
        Some(frame) => {
            frame.push(entry);
            None
        }
        None => Some(entry),
    });
    match unkept {
        Some(entry) => flush(conn, &[entry]),
        None => Ok(()),
    }
}

/// Appends the event, and keeps it for the event log of every organisation that sees it. Call
/// inside the transaction of the change it records.
pub fn append(conn: &mut DbConnection, new: &NewEvent<'_>) -> QueryResult<()> {
    let (order_id, organisation_id, from, to, readers) = match new.subject {
        Subject::Order {
            order_id,
            employer_id,
            employer_sees,
            provider_id,
            from,
            to,
        } => {
            let employer = (employer_sees && new.event.reaches_employer()).then_some(employer_id);
            let readers: Vec<&str> = employer.into_iter().chain([provider_id]).collect();
            (Some(order_id), None, from, Some(to), readers)
        }
        Subject::Organisation { organisation_id } => (
            None,
            Some(organisation_id),
            None,
            None,
            vec![organisation_id],
        ),
    };
    diesel::insert_into(events::table)
        .values(&StoredEvent {
            id: new.id.clone(),
            order_id: order_id.map(String::from),
            organisation_id: organisation_id.map(String::from),
            event_type: new.event.name().to_string(),
            data_version: Event::DATA_VERSION,
            from_status: from,
            to_status: to,
            actor_role: new.actor_role,
            actor_id: new.actor_id.to_string(),
            data: Json(new.event.data()),
            occurred_at: new.occurred_at,
        })
        .execute(conn)?;
    for organisation in readers {
        number(
            conn,
            LogEntry {
                organisation_id: organisation.to_string(),
                event_id: new.id.clone(),
                event_type: new.event.name(),
                occurred_at: new.occurred_at,
            },
        )?;
    }
    Ok(())
}

/// Moves the organisation's head on by `count` and returns the last number taken; the head row
/// stays locked until the transaction ends.
fn bump_head(conn: &mut DbConnection, organisation: &str, count: i64) -> QueryResult<i64> {
    use event_log_heads::{last_seq, organisation_id, table as heads};
    crate::on_each_backend!(conn, |c| diesel::insert_into(heads)
        .values((organisation_id.eq(organisation), last_seq.eq(count)))
        .on_conflict(organisation_id)
        .do_update()
        .set(last_seq.eq(last_seq + count))
        .returning(last_seq)
        .get_result(c))
}

/// An order's events in order, after the event `after` (keyset); with `told`, only those the
/// organisation `told` was told of (in its event log), filtered before the page is cut.
pub fn timeline(
    conn: &mut DbConnection,
    order_id: &str,
    told: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<StoredEvent>> {
    let mut query = events::table
        .filter(events::order_id.eq(order_id))
        .select(StoredEvent::as_select())
        .order(events::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(organisation) = told {
        query = query.filter(
            events::id.eq_any(
                event_log::table
                    .filter(event_log::organisation_id.eq(organisation.to_string()))
                    .select(event_log::event_id),
            ),
        );
    }
    if let Some(after) = after {
        query = query.filter(events::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// An organisation's log after number `after`: (number, event), oldest first.
pub fn log(
    conn: &mut DbConnection,
    organisation_id: &str,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, StoredEvent)>> {
    log_of_types(conn, organisation_id, after, None, limit)
}

/// An organisation's log after number `after`, only events of `types` when given.
pub fn log_of_types(
    conn: &mut DbConnection,
    organisation_id: &str,
    after: i64,
    types: Option<&[String]>,
    limit: i64,
) -> QueryResult<Vec<(i64, StoredEvent)>> {
    let mut query = event_log::table
        .inner_join(events::table)
        .filter(event_log::organisation_id.eq(organisation_id))
        .filter(event_log::seq.gt(after))
        .order(event_log::seq.asc())
        .limit(limit)
        .select((event_log::seq, StoredEvent::as_select()))
        .into_boxed();
    if let Some(types) = types {
        query = query.filter(events::event_type.eq_any(types.to_vec()));
    }
    query.load(conn)
}

/// The event `id`.
pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<StoredEvent>> {
    events::table
        .find(id)
        .select(StoredEvent::as_select())
        .first(conn)
        .optional()
}

/// The number of the organisation's last event (0 before its first).
pub fn head(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<i64> {
    event_log_heads::table
        .find(organisation_id)
        .select(event_log_heads::last_seq)
        .first(conn)
        .optional()
        .map(Option::unwrap_or_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(event_id: &str) {
        PENDING.with(|pending| {
            pending
                .borrow_mut()
                .last_mut()
                .expect("a frame is open")
                .push(LogEntry {
                    organisation_id: "org".into(),
                    event_id: event_id.into(),
                    event_type: "order.created",
                    occurred_at: NaiveDateTime::default(),
                })
        });
    }

    #[test]
    fn a_savepoint_keeps_its_entries_for_the_commit_or_drops_them_with_its_rollback() {
        let transaction = LogFrame::open();
        log("a");
        let rolled_back = LogFrame::open();
        log("b");
        drop(rolled_back);
        let released = LogFrame::open();
        log("c");
        assert_eq!(
            released.close(),
            None,
            "a savepoint's entries join its transaction's"
        );
        let numbered: Vec<String> = transaction
            .close()
            .expect("the outermost frame gives its entries for numbering")
            .into_iter()
            .map(|e| e.event_id)
            .collect();
        assert_eq!(numbered, ["a", "c"]);
        PENDING.with(|pending| assert!(pending.borrow().is_empty()));
    }
}
