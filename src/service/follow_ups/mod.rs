//! Follow-ups (DOMAIN.md step 8, 002): planned when a trajectory completes, from the employer's
//! policy or the order's own; booked by the service itself (`Role::System`) through the same
//! booking core as a planner's request when their due date comes within the horizon, or flagged
//! for a planner when it cannot; moved, skipped, and their outcome recorded by people. When every
//! follow-up is settled, the order closes.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::clock::new_id;
use crate::db::follow_ups::{self as store, FollowUp, FollowUpFilter, PolicyRecord};
use crate::db::orders::Order;
use crate::db::sessions as session_store;
use crate::db::{self, coaches, identity, DbConnection, Json};
use crate::domain::event::Event;
use crate::domain::follow_up::{
    self as rules, FollowUpFlag, FollowUpPolicy, FollowUpStatus, Results,
};
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::permission::Act;
use crate::domain::principal::{Principal, Role};
use crate::domain::session::{CancelledFor, MeetingFormat, NewSession, SessionKind, SessionStatus};
use crate::domain::visibility::Audience;
use crate::service::availability::{slots_of, SlotQuery};
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::jobs;
use crate::service::lifecycle::{self, Visible};
use crate::service::sessions;
use crate::views::follow_up::{FollowUpPage, FollowUpPolicyView, FollowUpView};

mod booking;
mod changes;
mod policy;
mod reads;

pub(crate) use booking::{attach_to_first_waiting, coach_changed, session_called_off};
pub use booking::{book_due, plan, Booking};
pub use changes::{change, record_outcome, FollowUpChange, Outcome};
pub use policy::{days_of, policy, set_policy};
pub use reads::{list, of_order, FollowUpQuery};

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such follow-up".into())
}

/// The provider's calendar day at `now`.
fn today_of(
    conn: &mut DbConnection,
    provider_id: &str,
    now: DateTime<Utc>,
) -> ServiceResult<NaiveDate> {
    let zone: Tz = identity::find_organisation(conn, provider_id)?
        .and_then(|o| o.time_zone.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    Ok(now.with_timezone(&zone).date_naive())
}

// ----- The employer's policy -----

/// Saves `follow_up` with its new state (version + 1).
fn save(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    mut follow_up: FollowUp,
) -> ServiceResult<FollowUp> {
    let read = follow_up.version;
    follow_up.version += 1;
    follow_up.updated_at = now.naive_utc();
    if !store::update(conn, &follow_up, read)? {
        return Err(ServiceError::changed("follow-up"));
    }
    Ok(follow_up)
}

fn flag(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &Order,
    mut follow_up: FollowUp,
    why: FollowUpFlag,
) -> ServiceResult<Booking> {
    follow_up.status = FollowUpStatus::Flagged;
    follow_up.flag = Some(why);
    follow_up.session_id = None;
    let follow_up = save(conn, now, follow_up)?;
    tracing::info!(flag = why.as_str(), "follow-up flagged for a planner");
    lifecycle::record(
        conn,
        now,
        actor,
        order,
        Event::FollowUpFlagged {
            follow_up_id: follow_up.id,
            flag: why,
        },
    )?;
    Ok(Booking::Flagged(why))
}

/// `follow_up` waits for the service to book it (again): pending, unflagged, its booking queued
/// for the horizon before its due date.
fn await_booking(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    provider_id: &str,
    mut follow_up: FollowUp,
    horizon_days: u32,
) -> ServiceResult<FollowUp> {
    follow_up.status = FollowUpStatus::Pending;
    follow_up.flag = None;
    let follow_up = save(conn, now, follow_up)?;
    jobs::book_follow_up(
        conn,
        now,
        provider_id,
        &follow_up.id,
        rules::booking_time(follow_up.due_on, horizon_days, now),
    )?;
    Ok(follow_up)
}

// ----- Moved, skipped, and its outcome, by people -----

/// Closes the order (locked) once every follow-up of it is settled.
fn close_if_settled(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order_id: &str,
) -> ServiceResult<()> {
    let statuses: Vec<FollowUpStatus> = store::of_order(conn, order_id)?
        .into_iter()
        .map(|f| f.status)
        .collect();
    if !rules::all_settled(&statuses) {
        return Ok(());
    }
    let order = crate::db::orders::find(conn, order_id)?
        .ok_or_else(|| ServiceError::NotFound("no such order".into()))?;
    if order.status == OrderStatus::FollowingUp {
        lifecycle::save(
            conn,
            now,
            actor,
            order,
            OrderStatus::Closed,
            Event::OrderClosed {},
        )?;
        tracing::info!(order_id, "order closed: its follow-ups are settled");
    }
    Ok(())
}

// ----- Reading -----

fn view_one(
    conn: &mut DbConnection,
    follow_up: FollowUp,
    audience: Audience,
) -> ServiceResult<FollowUpView> {
    let shared = audience == Audience::Employer
        && coaching::consent_given(
            conn,
            &follow_up.order_id,
            crate::domain::consent::ConsentKind::ShareSummary,
        )?;
    let starts_at = match &follow_up.session_id {
        Some(id) => session_store::find(conn, id)?.map(|s| s.starts_at.and_utc()),
        None => None,
    };
    Ok(FollowUpView::build(follow_up, audience, shared, starts_at))
}
