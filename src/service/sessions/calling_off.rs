//! Calling a session off: on request (the coach, a planner, the coachee), or because what it
//! depended on is gone. What that does to the session and the order's budget is
//! `domain::session_change::call_off`.

use chrono::{DateTime, Utc};

use crate::db::orders::Order;
use crate::db::sessions::{self as store, Session};
use crate::db::{self, DbConnection};
use crate::domain::order::OrderStatus;
use crate::domain::permission::Act;
use crate::domain::principal::{Principal, Role};
use crate::domain::session::{CancelledFor, SessionKind};
use crate::domain::session_change::{self, CallOff, Change};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::service::provider_settings;
use crate::views::session::SessionView;

use super::locks::load_for_update;

/// Why and for whom a session is called off.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionCancellation {
    /// Why, in words (1 to 500 characters). The coach and the provider's planners see it; the
    /// employer and the coachee do not.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
    /// On whose behalf: the coachee's side (late, it counts against the budget) or the provider.
    pub requested_by: CancelledFor,
}

/// Why a session is called off, as kept: 1 to 500 characters.
pub(crate) fn cancel_reason(text: &str) -> ServiceResult<String> {
    let reason = text.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ServiceError::invalid(
            "/reason",
            "must be 1 to 500 characters",
        ));
    }
    Ok(reason.to_string())
}

/// The coach or the planner calls a planned session off. Late, on the coachee's side, a regular
/// session counts against the budget, and the answer says so (`counts_against_budget`).
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub fn cancel(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    cancellation: SessionCancellation,
) -> ServiceResult<SessionView> {
    let reason = cancel_reason(&cancellation.reason)?;
    db::write(conn, |conn| {
        let (session, visible) = load_for_update(conn, caller, id)?;
        crate::service::access::require(caller, Act::ChangeSession)?;
        let order = visible.order.clone();
        let follows_up = session.kind == SessionKind::FollowUp;
        let session_id = session.id.clone();
        let view = call_off(
            conn,
            now,
            caller,
            session,
            visible,
            cancellation.requested_by,
            reason,
        )?;
        // A follow-up whose session is called off waits for a planner again.
        if follows_up {
            crate::service::follow_ups::session_called_off(conn, now, caller, &order, &session_id)?;
        }
        Ok(view)
    })
}

/// The call-off itself, by `actor` on the locked order: for `requested_by`, counting it when that
/// is the coachee's side and late (the provider's setting); saves the order with
/// `session.cancelled`.
pub(crate) fn call_off(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    session: Session,
    visible: Visible,
    requested_by: CancelledFor,
    reason: String,
) -> ServiceResult<SessionView> {
    let late_hours = provider_settings::of(conn, &session.provider_id)?.late_cancellation_hours;
    let mut order = visible.order.clone();
    let why = CallOff::Requested {
        requested_by,
        late_hours,
    };
    let change = session_change::call_off(&session.facts(), order.budget(), why, now)?;
    let (session, event) = save_call_off(
        conn,
        now,
        actor,
        session,
        &mut order,
        change,
        requested_by,
        reason,
    )?;
    // Without a planned intake, the order waits for one again.
    let to = if session.kind == SessionKind::Intake
        && order.status == OrderStatus::IntakeScheduled
        && !store::has_standing(conn, &order.id, SessionKind::Intake)?
    {
        OrderStatus::Accepted
    } else {
        order.status
    };
    lifecycle::save(conn, now, actor, order, to, event)?;
    Ok(SessionView::build(session, visible.audience))
}

/// Saves `change` to `session` as called off by `actor` for `requested_by`, and the budget to
/// `order` (which the caller saves); returns the session and the event to record.
#[allow(clippy::too_many_arguments)] // the change and who made it, for whom and why
fn save_call_off(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    mut session: Session,
    order: &mut Order,
    change: Change,
    requested_by: CancelledFor,
    reason: String,
) -> ServiceResult<(Session, crate::domain::event::Event)> {
    let read_version = session.version;
    session.status = change.status;
    session.counts_against_budget = change.counts_against_budget;
    session.cancelled_at = Some(now.naive_utc());
    session.cancelled_by = Some(actor.subject.clone());
    session.cancelled_by_role = Some(actor.role);
    session.requested_by = Some(requested_by);
    session.cancel_reason = Some(reason);
    session.version += 1;
    session.updated_at = now.naive_utc();
    if !store::update(conn, &session, read_version)? {
        return Err(ServiceError::changed("session"));
    }
    order.set_budget(change.budget);
    Ok((session, change.event))
}

/// Calls off the order's planned sessions of `kinds` that have not started (those that have
/// wait for their attendance) because what they depended on is gone (the order was cancelled,
/// the coachee withdrew consent to an assessment); none counts against the budget. Each is a
/// `session.cancelled` event on `order` (whose budget the caller saves); returns how many.
pub fn cancel_planned(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &mut Order,
    kinds: &[SessionKind],
    reason: &str,
) -> ServiceResult<usize> {
    let planned = store::planned_of(conn, &order.id, kinds, now.naive_utc())?;
    let requested_by = match actor.role {
        Role::Employer | Role::Coachee => CancelledFor::Coachee,
        _ => CancelledFor::Provider,
    };
    let count = planned.len();
    for session in planned {
        let why = CallOff::Moot { requested_by };
        let change = session_change::call_off(&session.facts(), order.budget(), why, now)?;
        let (_, event) = save_call_off(
            conn,
            now,
            actor,
            session,
            order,
            change,
            requested_by,
            reason.into(),
        )?;
        lifecycle::record(conn, now, actor, order, event)?;
    }
    Ok(count)
}
