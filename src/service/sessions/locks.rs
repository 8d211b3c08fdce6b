//! The lock order of every path that books, moves or calls off sessions: the coach's row, then
//! the orders in id order, then the group's row; the event log's head rows come last, just before
//! commit (`db::events`), in organisation id order, and after each head row the webhook
//! delivery jobs of that organisation's subscriptions that are not queued (`db::webhooks`). Taken
//! in one order, no two such transactions wait for each other.
//!
//! Outside booking the same order holds: assigning an order, deactivating a coach and disabling
//! a coach's login lock the coach's row first (then the order, or only read the orders). An API
//! client's row is locked alone, by what changes it (disabling, enabling, rotating its secret),
//! in a transaction that locks nothing else. A sign-up to an invitation campaign locks the
//! campaign's row, then inserts its order and its events (it locks no coach or order); closing
//! a campaign or rotating its link locks that row alone.
//!
//! A worker's job takes its own row first (`db::jobs::take`), then what its use case takes, in
//! the order above. Jobs that lock nothing of their own may share a transaction
//! (`worker::Tasks::shares`); it takes their rows together at its end (`db::jobs::finish_all`),
//! before any head row. Each worker's rows are the jobs it holds, disjoint from another's; a job
//! whose lease is half spent runs alone instead, so that two such transactions do not meet on a
//! row. The claim skips locked rows and waits for none.
//!
//! The webhook deliverer takes a subscription's job row, then (only when it is about to finish)
//! its organisation's head row, shared (`db::webhooks::lock_head`). This is the other way round,
//! but it cannot deadlock: a writer holding the head row only writes job rows that are not queued,
//! and a job the deliverer holds is queued, so the writer skips it without waiting. Ping,
//! redelivery and re-enabling write a job row and take no head row.

use crate::db::sessions::{self as store, Session};
use crate::db::{coaches, DbConnection};
use crate::domain::principal::Principal;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};

use super::{load, not_found};

/// [`load`], with the session's coach and order locked (in the lock order) and the session read
/// again under the locks.
pub(super) fn load_for_update(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<(Session, Visible)> {
    let (session, seen) = load(conn, caller, id)?;
    // The session's coach and the order's (they differ once the order was reassigned), by id.
    let mut coach_ids: Vec<&str> = [
        Some(session.coach_id.as_str()),
        seen.order.coach_id.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    coach_ids.sort_unstable();
    coach_ids.dedup();
    for coach_id in coach_ids {
        coaches::lock(conn, coach_id)?;
    }
    let visible = lock_coach_then_order(conn, &seen, |conn| {
        lifecycle::load_for_update(conn, caller, &session.order_id)
    })?;
    let session = store::find(conn, id)?.ok_or_else(not_found)?;
    Ok((session, visible))
}

/// Locks the coach the order had when `seen` was read, then the order (`lock_order`), and checks
/// that the order still has that coach.
pub(crate) fn lock_coach_then_order(
    conn: &mut DbConnection,
    seen: &Visible,
    lock_order: impl FnOnce(&mut DbConnection) -> ServiceResult<Visible>,
) -> ServiceResult<Visible> {
    if let Some(coach_id) = &seen.order.coach_id {
        coaches::lock(conn, coach_id)?;
    }
    let visible = lock_order(conn)?;
    if visible.order.coach_id != seen.order.coach_id {
        return Err(ServiceError::changed("order"));
    }
    Ok(visible)
}

/// The order, with its coach and then itself locked, for a booking on it.
pub(crate) fn lock_for_booking(
    conn: &mut DbConnection,
    caller: &Principal,
    order_id: &str,
) -> ServiceResult<Visible> {
    let seen = lifecycle::load(conn, caller, order_id)?;
    lock_coach_then_order(conn, &seen, |conn| {
        lifecycle::load_for_update(conn, caller, order_id)
    })
}
