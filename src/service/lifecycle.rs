//! An order as one caller may see it, the check that an action is allowed now, and saving a
//! change together with its event. Every order use case goes through these three steps.

use chrono::{DateTime, Utc};

use crate::clock::new_id;
use crate::db::events::{self, NewEvent, Subject};
use crate::db::orders::{self as store, AssignedCoach, Order, SummarySources};
use crate::db::DbConnection;
use crate::domain::event::Event;
use crate::domain::order::{self, IntakeDecision, OrderAction, OrderStatus, Refusal};
use crate::domain::principal::Principal;
use crate::domain::visibility::{self, Audience, OrderParties};
use crate::service::error::{ServiceError, ServiceResult};

/// An order, its assigned coach, and how the caller sees it.
#[derive(Debug, Clone)]
pub struct Visible {
    pub order: Order,
    pub coach: Option<AssignedCoach>,
    pub audience: Audience,
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such order".into())
}

/// The order, if the caller may see it; otherwise "not found", exactly as if it did not exist.
pub fn load(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<Visible> {
    let (order, coach) = store::find_with_coach(conn, id)?.ok_or_else(not_found)?;
    admit(caller, order, coach)
}

/// The order as the caller sees it, if at all: "not found" for whoever may not see it.
pub fn admit(
    caller: &Principal,
    order: Order,
    coach: Option<AssignedCoach>,
) -> ServiceResult<Visible> {
    let audience = visibility::audience(
        caller,
        OrderParties {
            order_id: &order.id,
            employer_id: &order.employer_id,
            provider_id: &order.provider_id,
            coach_user_id: coach.as_ref().and_then(|c| c.user_id.as_deref()),
            employer_sees: order.employer_sees,
        },
    )
    .ok_or_else(not_found)?;
    Ok(Visible {
        order,
        coach,
        audience,
    })
}

/// The order as [`load`] gives it, with what its view shows besides (one query), if the caller
/// may see it.
pub fn load_for_view(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<(Visible, SummarySources)> {
    let (order, coach, sources) = store::find_for_view(conn, id)?.ok_or_else(not_found)?;
    Ok((admit(caller, order, coach)?, sources))
}

/// The order as [`load`] gives it, locked until the transaction ends: for use cases that check
/// the order and then write.
pub fn load_for_update(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<Visible> {
    store::lock(conn, id)?;
    load(conn, caller, id)
}

/// What a lost race to write is: the version the caller named is gone (412), or, when it named
/// none, a concurrent change the same request can try again (409).
pub fn lost_race(what: &'static str, expected: Option<i32>, current: i32) -> ServiceError {
    match expected {
        Some(_) => ServiceError::Stale { what, current },
        None => ServiceError::changed(what),
    }
}

/// Checks that `caller` may take `action` now; returns the status it leads to. The wrong role is
/// `Forbidden`; the wrong state is `Refused` with the actions allowed now.
pub fn check(
    caller: &Principal,
    visible: &Visible,
    action: OrderAction,
    decision: Option<IntakeDecision>,
) -> ServiceResult<OrderStatus> {
    let state = visible.order.state();
    order::decide(state, action, caller.role, decision).map_err(|refusal| match refusal {
        Refusal::Role => ServiceError::Forbidden(format!(
            "your role may not {} an order",
            action.as_str().replace('_', " ")
        )),
        Refusal::State { allowed } => ServiceError::Refused {
            action,
            status: state.status,
            allowed,
        },
    })
}

/// Records a step that leaves the order's status as it is (a plan change, a link, a consent).
pub fn record(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order: &Order,
    event: Event,
) -> ServiceResult<()> {
    append(conn, now, caller, order, Some(order.status), event)
}

/// Records the order's first event: it came into being.
pub fn record_creation(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order: &Order,
    event: Event,
) -> ServiceResult<()> {
    append(conn, now, caller, order, None, event)
}

/// Appends `event` to the order's timeline and its organisations' event logs; `from` is the
/// status before the change (the order is as it is after it).
fn append(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order: &Order,
    from: Option<OrderStatus>,
    event: Event,
) -> ServiceResult<()> {
    events::append(
        conn,
        &NewEvent {
            id: new_id(),
            subject: Subject::Order {
                order_id: &order.id,
                employer_id: &order.employer_id,
                employer_sees: order.employer_sees,
                provider_id: &order.provider_id,
                from,
                to: order.status,
            },
            event: &event,
            actor_role: caller.role,
            actor_id: &caller.subject,
            occurred_at: now.naive_utc(),
        },
    )?;
    Ok(())
}

/// Records a change of an organisation's own (a coach, their availability, its settings) in that
/// organisation's event log.
pub fn record_for_organisation(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    organisation_id: &str,
    event: Event,
) -> ServiceResult<()> {
    // A sign-up to a confidential campaign is the employer's to know of, not whose order it is.
    debug_assert!(
        event.is_organisations() || matches!(event, Event::InvitationAccepted { .. }),
        "{} is an order's event",
        event.name()
    );
    events::append(
        conn,
        &NewEvent {
            id: new_id(),
            subject: Subject::Organisation { organisation_id },
            event: &event,
            actor_role: caller.role,
            actor_id: &caller.subject,
            occurred_at: now.naive_utc(),
        },
    )?;
    Ok(())
}

/// Saves a changed order in status `to` (version + 1) if nobody changed it since it was read,
/// and records its event. Call inside the use case's transaction.
pub fn save(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    mut order: Order,
    to: OrderStatus,
    event: Event,
) -> ServiceResult<Order> {
    let (from, read_version) = (order.status, order.version);
    order.status = to;
    order.version += 1;
    order.updated_at = now.naive_utc();
    if !store::update(conn, &order, read_version)? {
        return Err(ServiceError::changed("order"));
    }
    append(conn, now, caller, &order, Some(from), event)?;
    Ok(order)
}

/// The `If-Match` precondition: `expected` (when one was named) must be the `current` version.
pub fn check_version(what: &'static str, current: i32, expected: Option<i32>) -> ServiceResult<()> {
    match expected {
        Some(v) if v != current => Err(ServiceError::Stale { what, current }),
        _ => Ok(()),
    }
}
