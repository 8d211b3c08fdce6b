//! Booking a session on an order: whether the caller may, then every rule, checked with the
//! coach and the order locked (`super::locks`).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::clock::new_id;
use crate::db::orders::Order;
use crate::db::sessions::{self as store, Session};
use crate::db::{self, coaches, DbConnection};
use crate::domain::availability::{Calendar, Misfit, Span};
use crate::domain::consent::ConsentKind;
use crate::domain::event::Event;
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::principal::Principal;
use crate::domain::session::{
    self as rules, NewSession, OrderFacts, SessionKind, SessionRefusal, SessionStatus,
};
use crate::domain::session_change;
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::views::session::SessionView;

use super::{booked, coach_zone, lock_for_booking, not_found};

/// How many alternatives a refused booking offers.
const ALTERNATIVES: usize = 3;

/// The coach or the planner books a session on an order.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
pub fn book(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order_id: &str,
    new: NewSession,
) -> ServiceResult<SessionView> {
    new.validate()?;
    db::write(conn, |conn| {
        let visible = lock_for_booking(conn, caller, order_id)?;
        may_book(caller, &visible, new.kind)?;
        let order = visible.order.clone();
        let session = book_on(conn, now, caller, visible, &new)?;
        // A follow-up session booked by hand is the follow-up's that waits for one.
        if new.kind == SessionKind::FollowUp {
            crate::service::follow_ups::attach_to_first_waiting(
                conn,
                now,
                caller,
                &order,
                &session.id,
                session.starts_at,
            )?;
        }
        Ok(session)
    })
}

/// Whether `caller` may book a session of `kind` on the order now: its role and the order's
/// state (`OrderAction::BookSession`), and the kinds its role books.
pub(crate) fn may_book(
    caller: &Principal,
    visible: &Visible,
    kind: SessionKind,
) -> ServiceResult<()> {
    lifecycle::check(caller, visible, OrderAction::BookSession, None)?;
    if !session_change::may_book(caller.role, kind) {
        return Err(ServiceError::Forbidden(format!(
            "your role does not book {} sessions",
            kind.as_str().replace('_', "-")
        )));
    }
    Ok(())
}

/// The booking itself, by `actor` (a person, or the service on a schedule) on the locked order
/// it may book on: `new` under every rule, and the order saved with `session.scheduled`. A
/// planner's request, the coachee's self-service and the worker all book through here.
pub(crate) fn book_on(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    visible: Visible,
    new: &NewSession,
) -> ServiceResult<SessionView> {
    let mut order = visible.order.clone();
    let session = place(conn, now, actor, &mut order, new, None)?;
    let to = after_booking(session.kind, order.status);
    lifecycle::save(conn, now, actor, order, to, scheduled(&session))?;
    tracing::info!(session_id = %session.id, "session booked");
    Ok(SessionView::build(session, visible.audience))
}

/// The order's status once a session of `kind` is booked: the intake schedules it.
pub(crate) fn after_booking(kind: SessionKind, status: OrderStatus) -> OrderStatus {
    match (kind, status) {
        (SessionKind::Intake, OrderStatus::Accepted) => OrderStatus::IntakeScheduled,
        (_, status) => status,
    }
}

pub(crate) fn scheduled(session: &Session) -> Event {
    Event::SessionScheduled {
        session_id: session.id.clone(),
        kind: session.kind,
        format: session.format,
        starts_at: session.starts_at.and_utc(),
        ends_at: session.ends_at.and_utc(),
    }
}

/// Checks every rule for `new`, booked by `actor` on `order` (locked), and stores the session;
/// counts it in the order's budget (the caller saves the order).
pub(crate) fn place(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &mut Order,
    new: &NewSession,
    group: Option<&str>,
) -> ServiceResult<Session> {
    let facts = OrderFacts {
        status: order.status,
        assessment_consent: new.kind == SessionKind::Assessment
            && coaching::consent_given(conn, &order.id, ConsentKind::Assessment)?,
        intake_planned: new.kind == SessionKind::Intake
            && store::has_standing(conn, &order.id, SessionKind::Intake)?,
        budget: order.session_budget(),
        used: u32::try_from(order.regular_sessions_used).unwrap_or(0),
        planned: u32::try_from(order.regular_sessions_planned).unwrap_or(0),
        end_date: order.end_date,
    };
    rules::check_order(new.kind, facts)?;
    let coach_id = order.coach_id.clone().ok_or_else(|| {
        ServiceError::Internal(anyhow::anyhow!("an order past submitted has no coach"))
    })?;
    let outside_hours = session_change::may_book_outside_hours(actor.role, new.outside_hours)?;
    let slot = Span::new(new.starts_at, new.ends_at());
    // A place that joins a group shares the group's time: the group is left out of the check.
    let besides = Besides {
        calendar_key: group,
        session_id: None,
    };
    let buffer = fit(
        conn,
        now,
        order,
        &coach_id,
        new.kind,
        slot,
        outside_hours,
        besides,
    )?;
    let id = new_id();
    let session = Session {
        calendar_key: group.map_or_else(|| id.clone(), String::from),
        group_id: group.map(String::from),
        id,
        order_id: order.id.clone(),
        coach_id,
        provider_id: order.provider_id.clone(),
        kind: new.kind,
        format: new.format,
        location: new.location.as_deref().map(|l| l.trim().to_string()),
        meeting_link: new.meeting_link.clone(),
        starts_at: slot.start.naive_utc(),
        ends_at: slot.end.naive_utc(),
        blocked_until: (slot.end + buffer).naive_utc(),
        outside_hours,
        status: SessionStatus::Planned,
        counts_against_budget: new.kind.counts_against_budget(),
        cancelled_at: None,
        cancelled_by: None,
        cancelled_by_role: None,
        requested_by: None,
        cancel_reason: None,
        attendance_at: None,
        rating: None,
        rating_comment: None,
        rated_at: None,
        version: 1,
        booked_by: actor.subject.clone(),
        booked_by_role: actor.role,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    store::insert(conn, &session).map_err(calendar_violation)?;
    order.set_budget(order.budget().booked(session.kind));
    Ok(session)
}

/// Whether a session of `kind` at `slot` fits: in the future, within the trajectory, and the
/// calendars (`check_calendar`). Returns the coach's buffer.
#[allow(clippy::too_many_arguments)] // the slot and what it is checked against
pub(super) fn fit(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    order: &Order,
    coach_id: &str,
    kind: SessionKind,
    slot: Span,
    outside_hours: bool,
    besides: Besides<'_>,
) -> ServiceResult<Duration> {
    // One booking at a time on a coach's calendar: the daily maximum and the buffers hold across
    // orders (the exclusion constraint backs the overlap check up).
    coaches::lock(conn, coach_id)?;
    let coach = coaches::find(conn, coach_id)?.ok_or_else(not_found)?;
    let tz = coach_zone(&coach.time_zone)?;
    rules::check_time(
        kind,
        slot.start,
        crate::domain::availability::local_date(tz, slot.end - Duration::microseconds(1)),
        order.end_date,
        now,
    )?;
    check_calendar(conn, now, tz, coach_id, order, slot, outside_hours, besides)
}

/// What a check of a time leaves out of the calendars: what takes the same time by design (the
/// calendar key a group's places share) and the session being moved (its present time).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Besides<'a> {
    pub calendar_key: Option<&'a str>,
    pub session_id: Option<&'a str>,
}

/// Checks `slot` against the coach's availability (unless booked outside hours on purpose) and
/// calendar, and the coachee's; returns the coach's buffer, which the session keeps after it.
#[allow(clippy::too_many_arguments)]
fn check_calendar(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    tz: Tz,
    coach_id: &str,
    order: &Order,
    slot: Span,
    outside_hours: bool,
    besides: Besides<'_>,
) -> ServiceResult<Duration> {
    let rules = store::find_availability(conn, coach_id)?
        .map(|r| r.rules.0)
        .unwrap_or_default();
    // Two weeks either side: enough for the alternatives a refusal offers.
    let reach = Duration::days(15);
    let booked = booked(
        conn,
        coach_id,
        slot.start - reach,
        slot.end + reach,
        besides.calendar_key,
    )?;
    let calendar = Calendar {
        rules: &rules,
        tz,
        booked: &booked,
        now,
    };
    let alternatives = || calendar.nearest(slot.start, slot.end - slot.start, ALTERNATIVES);
    if calendar.overlapping(slot).is_some() {
        return Err(SessionRefusal::CoachBusy {
            alternatives: alternatives(),
        }
        .into());
    }
    if !outside_hours {
        match calendar.check(slot) {
            Ok(()) => {}
            Err(Misfit::Overlaps) => {
                return Err(SessionRefusal::CoachBusy {
                    alternatives: alternatives(),
                }
                .into())
            }
            Err(reason) => {
                return Err(SessionRefusal::OutsideAvailability {
                    reason,
                    alternatives: alternatives(),
                }
                .into())
            }
        }
    }
    let clash = store::order_sessions_overlapping(
        conn,
        &order.id,
        slot.start.naive_utc(),
        slot.end.naive_utc(),
    )?;
    if clash
        .iter()
        .any(|id| Some(id.as_str()) != besides.session_id)
    {
        return Err(SessionRefusal::CoacheeBusy.into());
    }
    Ok(Duration::minutes(i64::from(rules.buffer_minutes)))
}

/// PostgreSQL's exclusion constraints caught a booking that raced another past the checks.
pub(super) fn calendar_violation(error: DieselError) -> ServiceError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::ExclusionViolation, info) => {
            if info.constraint_name() == Some("sessions_coachee_time_free") {
                SessionRefusal::CoacheeBusy.into()
            } else {
                SessionRefusal::CoachBusy {
                    alternatives: vec![],
                }
                .into()
            }
        }
        _ => error.into(),
    }
}
