//! Events: the order's timeline (`order_events`) and each organisation's event log (`event_log`),
//! written together by [`append`] in the caller's transaction.
//!
//! The event log numbers an organisation's events 1, 2, 3, … in commit order: appending bumps the
//! organisation's head row (`event_log_heads`), which stays locked until the transaction ends, so
//! a reader that has seen number N has seen everything before it. Orgs are locked employer first,
//! then provider; an order's employer and provider are never the same organisation.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{event_log, event_log_heads, order_events};
use super::{DbConnection, Json};
use crate::domain::event::Event;
use crate::domain::order::OrderStatus;
use crate::domain::principal::Role;

/// One stored event of an order's timeline.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_events)]
pub struct OrderEvent {
    pub id: String,
    pub order_id: String,
    /// The event's type, e.g. `order.created`.
    pub event_type: String,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub actor_role: Role,
    pub actor_id: String,
    /// The event's payload (see `domain::event`).
    pub data: Json<serde_json::Value>,
    pub occurred_at: NaiveDateTime,
}

impl OrderEvent {
    /// The typed event.
    pub fn event(&self) -> Result<Event, serde_json::Error> {
        Event::from_parts(&self.event_type, self.data.0.clone())
    }
}

/// An event to append, with the order it belongs to and who caused it.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub id: String,
    pub order_id: &'a str,
    pub employer_id: &'a str,
    pub provider_id: &'a str,
    pub event: &'a Event,
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub actor_role: Role,
    pub actor_id: &'a str,
    pub occurred_at: NaiveDateTime,
}

/// Appends the event to the order's timeline and to the event log of every organisation that
/// sees it. Call inside the transaction of the change it records.
pub fn append(conn: &mut DbConnection, new: &NewEvent<'_>) -> QueryResult<()> {
    diesel::insert_into(order_events::table)
        .values(&OrderEvent {
            id: new.id.clone(),
            order_id: new.order_id.to_string(),
            event_type: new.event.name().to_string(),
            from_status: new.from,
            to_status: new.to,
            actor_role: new.actor_role,
            actor_id: new.actor_id.to_string(),
            data: Json(new.event.data()),
            occurred_at: new.occurred_at,
        })
        .execute(conn)?;
    let employer = new.event.reaches_employer().then_some(new.employer_id);
    for organisation in employer.into_iter().chain([new.provider_id]) {
        let seq = next_seq(conn, organisation)?;
        diesel::insert_into(event_log::table)
            .values((
                event_log::organisation_id.eq(organisation),
                event_log::seq.eq(seq),
                event_log::event_id.eq(&new.id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The organisation's next event number; its head row stays locked until the transaction ends.
fn next_seq(conn: &mut DbConnection, organisation: &str) -> QueryResult<i64> {
    use event_log_heads::{last_seq, organisation_id, table as heads};
    crate::on_each_backend!(conn, |c| diesel::insert_into(heads)
        .values((organisation_id.eq(organisation), last_seq.eq(1_i64)))
        .on_conflict(organisation_id)
        .do_update()
        .set(last_seq.eq(last_seq + 1_i64))
        .returning(last_seq)
        .get_result(c))
}

/// An order's events in order, after the event `after` (keyset).
pub fn timeline(
    conn: &mut DbConnection,
    order_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<OrderEvent>> {
    let mut query = order_events::table
        .filter(order_events::order_id.eq(order_id))
        .select(OrderEvent::as_select())
        .order(order_events::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(order_events::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// An organisation's log after number `after`: (number, event), oldest first.
pub fn log(
    conn: &mut DbConnection,
    organisation_id: &str,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, OrderEvent)>> {
    event_log::table
        .inner_join(order_events::table)
        .filter(event_log::organisation_id.eq(organisation_id))
        .filter(event_log::seq.gt(after))
        .order(event_log::seq.asc())
        .limit(limit)
        .select((event_log::seq, OrderEvent::as_select()))
        .load(conn)
}
