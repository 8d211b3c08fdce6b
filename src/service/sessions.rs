//! Sessions: book one on an order, list an order's, read one, cancel one, record attendance.
//!
//! Every rule is checked inside the write transaction that books, with the order locked: the
//! order's state and budget (`domain::session`), the coach's availability and calendar
//! (`domain::availability`), the coachee's calendar. On PostgreSQL an exclusion constraint backs
//! the calendar checks up against concurrent bookings of other orders (SQLSTATE 23P01 is the
//! same 409); on SQLite the write transaction is taken up front, so bookings run one at a time.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::clock::new_id;
use crate::db::orders::Order;
use crate::db::sessions::{self as store, Session};
use crate::db::{self, coaches, DbConnection};
use crate::domain::availability::{Booked, Calendar, Misfit, Span};
use crate::domain::consent::ConsentKind;
use crate::domain::event::Event;
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::principal::{Principal, Role};
use crate::domain::session::{
    self as rules, Attendance, CancelledFor, NewSeries, NewSession, OrderFacts, SessionKind,
    SessionRefusal, SessionStatus,
};
use crate::domain::FieldError;
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::service::order_reads;
use crate::service::pagination::TimedPage;
use crate::service::provider_settings;
use crate::views::session::{
    SeriesBooked, SeriesOccurrence, SeriesPreview, SessionPage, SessionView,
};

/// How many alternatives a refused booking offers.
const ALTERNATIVES: usize = 3;

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such session".into())
}

/// The session and its order, if the caller may see the order; otherwise "not found".
pub fn load(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<(Session, Visible)> {
    let session = store::find(conn, id)?.ok_or_else(not_found)?;
    let visible = lifecycle::load(conn, caller, &session.order_id).map_err(|e| match e {
        ServiceError::NotFound(_) => not_found(),
        other => other,
    })?;
    Ok((session, visible))
}

/// Whether the caller is the session's own coach (not only the order's coach now).
pub fn is_sessions_coach(
    conn: &mut DbConnection,
    caller: &Principal,
    session: &Session,
) -> ServiceResult<bool> {
    Ok(caller.role == Role::Coach
        && coaches::find_by_user(conn, &caller.subject)?.is_some_and(|c| c.id == session.coach_id))
}

/// [`load`], with the session's coach and order locked (in the lock order) and the session read
/// again under the locks.
fn load_for_update(
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

/// Every path that books, moves or cancels sessions takes its locks in one order, so that no two
/// of them wait for each other: the coach's row, then the orders in id order, then the group's
/// row; the event log's head rows come last, just before commit (`db::events`). This locks the
/// coach the order had when `seen` was read, then the order (`lock_order`), and checks that the
/// order still has that coach.
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

/// The coach's time zone, as stored on the coach (validated when it was saved).
pub fn coach_zone(time_zone: &str) -> ServiceResult<Tz> {
    time_zone.parse().map_err(|_| {
        ServiceError::Internal(anyhow::anyhow!("a coach has an unknown time zone stored"))
    })
}

/// What takes the coach's time between `from` and `to` (sessions not cancelled, a group once),
/// except what `except` names (a session's or a group's calendar key).
pub fn booked(
    conn: &mut DbConnection,
    coach_id: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    except: Option<&str>,
) -> ServiceResult<Vec<Booked>> {
    let mut seen = std::collections::HashSet::new();
    Ok(
        store::coach_sessions_between(conn, coach_id, from.naive_utc(), to.naive_utc())?
            .into_iter()
            .filter(|(_, _, _, key)| Some(key.as_str()) != except && seen.insert(key.clone()))
            .map(|(start, end, blocked_until, _)| Booked {
                start: start.and_utc(),
                end: end.and_utc(),
                blocked_until: blocked_until.and_utc(),
            })
            .collect(),
    )
}

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
        lifecycle::check(caller, &visible, OrderAction::BookSession, None)?;
        book_on(conn, now, caller, visible, &new)
    })
}

/// Books `new` on the (locked) order under every rule, and saves the order with
/// `session.scheduled`.
pub(crate) fn book_on(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    visible: Visible,
    new: &NewSession,
) -> ServiceResult<SessionView> {
    let mut order = visible.order.clone();
    let session = place(conn, now, caller, &mut order, new, None)?;
    let to = after_booking(session.kind, order.status);
    lifecycle::save(conn, now, caller, order, to, scheduled(&session))?;
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

/// Checks every rule for `new` on `order` (locked) and stores the session; counts it in the
/// order's budget (the caller saves the order).
pub(crate) fn place(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
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
    if new.outside_hours && caller.role != Role::Coach {
        return Err(SessionRefusal::OutsideHoursNotYours.into());
    }
    let slot = Span::new(new.starts_at, new.ends_at());
    let buffer = fit(
        conn,
        now,
        order,
        &coach_id,
        new.kind,
        slot,
        new.outside_hours,
        group,
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
        outside_hours: new.outside_hours,
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
        booked_by: caller.subject.clone(),
        booked_by_role: caller.role,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    store::insert(conn, &session).map_err(calendar_violation)?;
    if session.counts_against_budget {
        order.regular_sessions_planned += 1;
    }
    Ok(session)
}

/// Whether a session of `kind` at `slot` fits: in the future, within the trajectory, and the
/// calendars (`check_calendar`). Returns the coach's buffer.
#[allow(clippy::too_many_arguments)] // the slot and what it is checked against
fn fit(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    order: &Order,
    coach_id: &str,
    kind: SessionKind,
    slot: Span,
    outside_hours: bool,
    except: Option<&str>,
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
    check_calendar(conn, now, tz, coach_id, order, slot, outside_hours, except)
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
    except: Option<&str>,
) -> ServiceResult<Duration> {
    let rules = store::find_availability(conn, coach_id)?
        .map(|r| r.rules.0)
        .unwrap_or_default();
    // Two weeks either side: enough for the alternatives a refusal offers.
    let reach = Duration::days(15);
    let booked = booked(conn, coach_id, slot.start - reach, slot.end + reach, except)?;
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
    if clash.iter().any(|id| Some(id.as_str()) != except) {
        return Err(SessionRefusal::CoacheeBusy.into());
    }
    Ok(Duration::minutes(i64::from(rules.buffer_minutes)))
}

/// PostgreSQL's exclusion constraints caught a booking that raced another past the checks.
fn calendar_violation(error: DieselError) -> ServiceError {
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

/// A session, as the caller sees it.
pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<SessionView> {
    let (session, visible) = load(conn, caller, id)?;
    Ok(SessionView::build(session, visible.audience))
}

/// The order's sessions by start time, a page at a time.
pub fn of_order(
    conn: &mut DbConnection,
    caller: &Principal,
    order_id: &str,
    page: TimedPage,
) -> ServiceResult<SessionPage> {
    let visible = lifecycle::load(conn, caller, order_id)?;
    let rows = store::of_order(conn, &visible.order.id, page.after.clone(), page.fetch())?;
    let (rows, next_cursor) = page.finish(rows, |s| (s.starts_at, s.id.as_str()));
    Ok(SessionPage {
        data: rows
            .into_iter()
            .map(|s| SessionView::build(s, visible.audience))
            .collect(),
        next_cursor,
    })
}

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
        if !matches!(caller.role, Role::Coach | Role::ProviderAdmin) {
            return Err(ServiceError::Forbidden(
                "the coach or the provider's planners cancel sessions".into(),
            ));
        }
        call_off(
            conn,
            now,
            caller,
            session,
            visible,
            cancellation.requested_by,
            reason,
        )
    })
}

/// Calls a planned session off for `requested_by`, counting it when that is the coachee's side
/// and late (the provider's setting); saves the order with `session.cancelled`.
pub(crate) fn call_off(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    mut session: Session,
    visible: Visible,
    requested_by: CancelledFor,
    reason: String,
) -> ServiceResult<SessionView> {
    planned_and_not_started(&session, now)?;
    let late_hours = provider_settings::of(conn, &session.provider_id)?.late_cancellation_hours;
    let counts = rules::cancellation_counts(
        session.kind,
        requested_by,
        session.starts_at.and_utc(),
        now,
        late_hours,
    );
    let mut order = visible.order.clone();
    if session.counts_against_budget {
        order.regular_sessions_planned -= 1;
        if counts {
            order.regular_sessions_used += 1;
        }
    }
    let read_version = session.version;
    session.status = SessionStatus::Cancelled;
    session.counts_against_budget = counts;
    session.cancelled_at = Some(now.naive_utc());
    session.cancelled_by = Some(caller.subject.clone());
    session.cancelled_by_role = Some(caller.role);
    session.requested_by = Some(requested_by);
    session.cancel_reason = Some(reason);
    session.version += 1;
    session.updated_at = now.naive_utc();
    if !store::update(conn, &session, read_version)? {
        return Err(ServiceError::changed("session"));
    }
    // Without a planned intake, the order waits for one again.
    let to = if session.kind == SessionKind::Intake
        && order.status == OrderStatus::IntakeScheduled
        && !store::has_standing(conn, &order.id, SessionKind::Intake)?
    {
        OrderStatus::Accepted
    } else {
        order.status
    };
    let event = Event::SessionCancelled {
        session_id: session.id.clone(),
        kind: session.kind,
        requested_by,
        counts_against_budget: counts,
    };
    lifecycle::save(conn, now, caller, order, to, event)?;
    Ok(SessionView::build(session, visible.audience))
}

fn planned_and_not_started(session: &Session, now: DateTime<Utc>) -> ServiceResult<()> {
    if session.status != SessionStatus::Planned {
        return Err(SessionRefusal::NotPlanned {
            status: session.status,
        }
        .into());
    }
    if session.starts_at.and_utc() <= now {
        return Err(SessionRefusal::Started.into());
    }
    Ok(())
}

/// Calls off the order's planned sessions of `kinds` that have not started (those that have
/// wait for their attendance) because what they depended on is gone
/// (the order was cancelled, the coachee withdrew consent to an assessment); none counts against
/// the budget. Each is a `session.cancelled` event; returns how many.
pub fn cancel_planned(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order: &mut Order,
    kinds: &[SessionKind],
    reason: &str,
) -> ServiceResult<usize> {
    let planned = store::planned_of(conn, &order.id, kinds, now.naive_utc())?;
    let requested_by = match caller.role {
        Role::Employer | Role::Coachee => CancelledFor::Coachee,
        _ => CancelledFor::Provider,
    };
    for mut session in planned.iter().cloned() {
        let read_version = session.version;
        if session.counts_against_budget {
            order.regular_sessions_planned -= 1;
        }
        session.status = SessionStatus::Cancelled;
        session.counts_against_budget = false;
        session.cancelled_at = Some(now.naive_utc());
        session.cancelled_by = Some(caller.subject.clone());
        session.cancelled_by_role = Some(caller.role);
        session.requested_by = Some(requested_by);
        session.cancel_reason = Some(reason.into());
        session.version += 1;
        session.updated_at = now.naive_utc();
        if !store::update(conn, &session, read_version)? {
            return Err(ServiceError::changed("session"));
        }
        lifecycle::record(
            conn,
            now,
            caller,
            order,
            Event::SessionCancelled {
                session_id: session.id,
                kind: session.kind,
                requested_by,
                counts_against_budget: false,
            },
        )?;
    }
    Ok(planned.len())
}

/// What happened at a session.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttendanceRecord {
    pub attendance: Attendance,
}

/// The coach records, after its start, whether a planned session was held or missed. A regular
/// session uses one of the budget either way (002).
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub fn record_attendance(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    record: AttendanceRecord,
) -> ServiceResult<SessionView> {
    db::write(conn, |conn| {
        let (mut session, visible) = load_for_update(conn, caller, id)?;
        if !is_sessions_coach(conn, caller, &session)? {
            return Err(ServiceError::Forbidden(
                "the session's coach records attendance".into(),
            ));
        }
        if session.status != SessionStatus::Planned {
            return Err(SessionRefusal::NotPlanned {
                status: session.status,
            }
            .into());
        }
        if session.starts_at.and_utc() > now {
            return Err(SessionRefusal::NotStarted.into());
        }
        let read_version = session.version;
        let (status, event) = match record.attendance {
            Attendance::Held => (
                SessionStatus::Held,
                Event::SessionHeld {
                    session_id: session.id.clone(),
                    kind: session.kind,
                },
            ),
            Attendance::NoShow => (
                SessionStatus::NoShow,
                Event::SessionNoShow {
                    session_id: session.id.clone(),
                    kind: session.kind,
                },
            ),
        };
        session.status = status;
        session.attendance_at = Some(now.naive_utc());
        session.version += 1;
        session.updated_at = now.naive_utc();
        if !store::update(conn, &session, read_version)? {
            return Err(ServiceError::changed("session"));
        }
        let mut order = visible.order.clone();
        if session.counts_against_budget {
            order.regular_sessions_planned -= 1;
            order.regular_sessions_used += 1;
            let to = order.status;
            lifecycle::save(conn, now, caller, order, to, event)?;
        } else {
            lifecycle::record(conn, now, caller, &order, event)?;
        }
        Ok(SessionView::build(session, visible.audience))
    })
}

impl From<SessionRefusal> for ServiceError {
    fn from(refusal: SessionRefusal) -> Self {
        ServiceError::Session(refusal)
    }
}

/// The problem members of a refusal about the request's own fields (422).
pub fn refusal_errors(refusal: &SessionRefusal) -> Vec<FieldError> {
    if refusal.is_conflict() {
        vec![]
    } else {
        vec![FieldError::new(refusal.pointer(), refusal.detail())]
    }
}

/// What a list of sessions across orders is filtered on.
#[derive(Debug, Clone)]
pub struct SessionQuery {
    pub coach_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub status: Option<SessionStatus>,
    pub page: TimedPage,
}

/// The sessions of the caller's orders by start: an employer's own orders, a planner's
/// provider's, a coach's own sessions on the orders assigned to them.
pub fn list(
    conn: &mut DbConnection,
    caller: &Principal,
    query: SessionQuery,
) -> ServiceResult<SessionPage> {
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if to <= from {
            return Err(ServiceError::BadQuery(vec![FieldError::new(
                "to",
                "must be after from",
            )]));
        }
    }
    let Some((scope, audience)) = order_reads::scope(conn, caller)? else {
        return Ok(SessionPage {
            data: vec![],
            next_cursor: None,
        });
    };
    let rows = store::list(
        conn,
        &store::SessionFilter {
            scope,
            coach_id: query.coach_id,
            from: query.from.map(|t| t.naive_utc()),
            to: query.to.map(|t| t.naive_utc()),
            status: query.status,
            after: query.page.after.clone(),
            limit: query.page.fetch(),
        },
    )?;
    let (rows, next_cursor) = query.page.finish(rows, |s| (s.starts_at, s.id.as_str()));
    Ok(SessionPage {
        data: rows
            .into_iter()
            .map(|s| SessionView::build(s, audience))
            .collect(),
        next_cursor,
    })
}

/// A planned session moved, lengthened, or held another way.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionChanges {
    /// The new start, RFC 3339, on a whole minute.
    pub starts_at: Option<DateTime<Utc>>,
    /// 15 to 240 minutes, in steps of 5.
    #[schema(minimum = 15, maximum = 240, multiple_of = 5)]
    pub duration_minutes: Option<u32>,
    pub format: Option<rules::MeetingFormat>,
    /// Required when the format becomes `in_person`; refused for other formats.
    #[schema(min_length = 1, max_length = 300)]
    pub location: Option<String>,
    /// Required when the format becomes `video`; refused for other formats.
    #[schema(min_length = 1, max_length = 500, pattern = "^https://")]
    pub meeting_link: Option<String>,
    /// The coach moves it outside their own working hours, on purpose.
    pub outside_hours: Option<bool>,
}

/// The coach or the planner reschedules a planned session that has not started, under the same
/// checks as a booking; `expected_version` is `If-Match`.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub fn reschedule(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    changes: SessionChanges,
) -> ServiceResult<SessionView> {
    db::write(conn, |conn| {
        let (session, visible) = load_for_update(conn, caller, id)?;
        if !matches!(caller.role, Role::Coach | Role::ProviderAdmin) {
            return Err(ServiceError::Forbidden(
                "the coach or the provider's planners reschedule sessions".into(),
            ));
        }
        move_session(
            conn,
            now,
            caller,
            session,
            visible,
            expected_version,
            changes,
        )
    })
}

/// Moves (or changes the length or format of) a planned session that has not started, under
/// the booking's checks, and records `session.rescheduled`.
pub(crate) fn move_session(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    mut session: Session,
    visible: Visible,
    expected_version: Option<i32>,
    changes: SessionChanges,
) -> ServiceResult<SessionView> {
    lifecycle::check_version("session", session.version, expected_version)?;
    planned_and_not_started(&session, now)?;
    if session.group_id.is_some() {
        return Err(SessionRefusal::InGroup.into());
    }
    // Only the coach makes an exception to their own hours: whoever else moves the session moves
    // it into them.
    let changes_time = changes.starts_at.is_some() || changes.duration_minutes.is_some();
    let outside_hours = match (caller.role, changes.outside_hours) {
        (Role::Coach, Some(wanted)) => wanted,
        (Role::Coach, None) => session.outside_hours,
        (_, Some(true)) => return Err(SessionRefusal::OutsideHoursNotYours.into()),
        (_, _) => session.outside_hours && !changes_time,
    };
    let moved = NewSession {
        starts_at: changes.starts_at.unwrap_or(session.starts_at.and_utc()),
        duration_minutes: changes.duration_minutes.unwrap_or_else(|| {
            u32::try_from((session.ends_at - session.starts_at).num_minutes()).unwrap_or(0)
        }),
        kind: session.kind,
        format: changes.format.unwrap_or(session.format),
        location: changes.location.or_else(|| {
            changes
                .format
                .is_none()
                .then(|| session.location.clone())
                .flatten()
        }),
        meeting_link: changes.meeting_link.or_else(|| {
            changes
                .format
                .is_none()
                .then(|| session.meeting_link.clone())
                .flatten()
        }),
        outside_hours,
    };
    moved.validate()?;
    let order = &visible.order;
    let slot = Span::new(moved.starts_at, moved.ends_at());
    let buffer = fit(
        conn,
        now,
        order,
        &session.coach_id,
        session.kind,
        slot,
        moved.outside_hours,
        Some(&session.id),
    )?;
    let read_version = session.version;
    session.starts_at = slot.start.naive_utc();
    session.ends_at = slot.end.naive_utc();
    session.blocked_until = (slot.end + buffer).naive_utc();
    session.format = moved.format;
    session.location = moved.location.map(|l| l.trim().to_string());
    session.meeting_link = moved.meeting_link;
    session.outside_hours = moved.outside_hours;
    session.version += 1;
    session.updated_at = now.naive_utc();
    if !store::update(conn, &session, read_version).map_err(calendar_violation)? {
        return Err(lifecycle::lost_race(
            "session",
            expected_version,
            read_version + 1,
        ));
    }
    lifecycle::record(
        conn,
        now,
        caller,
        order,
        Event::SessionRescheduled {
            session_id: session.id.clone(),
            kind: session.kind,
            format: session.format,
            starts_at: slot.start,
            ends_at: slot.end,
        },
    )?;
    Ok(SessionView::build(session, visible.audience))
}

/// What booking a series came to.
#[derive(Debug)]
pub enum SeriesOutcome {
    /// `preview: true`: which occurrences fit; nothing was booked.
    Preview(SeriesPreview),
    Booked(SeriesBooked),
}

/// Why the series' transaction ends without committing.
enum Undo {
    Failed(ServiceError),
    Answer(SeriesPreview),
}

impl From<ServiceError> for Undo {
    fn from(error: ServiceError) -> Self {
        Undo::Failed(error)
    }
}

impl From<diesel::result::Error> for Undo {
    fn from(error: diesel::result::Error) -> Self {
        Undo::Failed(error.into())
    }
}

/// The coach or the planner books a recurring series: each occurrence by the same rules as a
/// single booking (earlier occurrences of the series included), all or nothing. With `preview`
/// it answers which occurrences fit, and the nearest free start for those that do not.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
pub fn book_series(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order_id: &str,
    series: NewSeries,
) -> ServiceResult<SeriesOutcome> {
    series.validate()?;
    let outcome = db::write(conn, |conn| -> Result<SeriesOutcome, Undo> {
        let visible = lock_for_booking(conn, caller, order_id)?;
        lifecycle::check(caller, &visible, OrderAction::BookSession, None)?;
        let mut order = visible.order.clone();
        let coach_id = order.coach_id.clone().ok_or_else(not_found)?;
        let coach = coaches::find(conn, &coach_id)?.ok_or_else(not_found)?;
        let tz = coach_zone(&coach.time_zone)?;
        let starts = rules::series_starts(tz, series.starts_at, series.every_weeks, series.count);
        let mut placed = vec![];
        let mut occurrences = vec![];
        for start in starts {
            let new = series.occurrence(start);
            // Each in a savepoint: one that does not fit leaves no trace, and the next is
            // checked against the ones that did.
            let occurrence = match db::write(conn, |conn| {
                place(conn, now, caller, &mut order, &new, None)
            }) {
                Ok(session) => {
                    placed.push(session);
                    SeriesOccurrence {
                        starts_at: start,
                        ends_at: new.ends_at(),
                        fits: true,
                        problem_type: None,
                        detail: None,
                        alternative: None,
                    }
                }
                Err(ServiceError::Session(refusal)) => SeriesOccurrence {
                    starts_at: start,
                    ends_at: new.ends_at(),
                    fits: false,
                    problem_type: Some(format!("urn:trajectum:problem:{}", refusal.slug())),
                    detail: Some(refusal.detail()),
                    alternative: match &refusal {
                        SessionRefusal::CoachBusy { alternatives }
                        | SessionRefusal::OutsideAvailability { alternatives, .. } => {
                            alternatives.first().copied()
                        }
                        _ => None,
                    },
                },
                Err(other) => return Err(Undo::Failed(other)),
            };
            occurrences.push(occurrence);
        }
        let fits = occurrences.iter().all(|o| o.fits);
        if series.preview || !fits {
            return Err(Undo::Answer(SeriesPreview { fits, occurrences }));
        }
        let Some((last, earlier)) = placed.split_last() else {
            return Err(Undo::Failed(ServiceError::Internal(anyhow::anyhow!(
                "a series of at least two booked nothing"
            ))));
        };
        for session in earlier {
            lifecycle::record(conn, now, caller, &order, scheduled(session))?;
        }
        let to = order.status;
        lifecycle::save(conn, now, caller, order, to, scheduled(last))?;
        Ok(SeriesOutcome::Booked(SeriesBooked {
            sessions: placed
                .into_iter()
                .map(|s| SessionView::build(s, visible.audience))
                .collect(),
        }))
    });
    match outcome {
        Ok(booked) => Ok(booked),
        Err(Undo::Answer(preview)) if series.preview => Ok(SeriesOutcome::Preview(preview)),
        Err(Undo::Answer(preview)) => Err(ServiceError::SeriesDoesNotFit(Box::new(preview))),
        Err(Undo::Failed(error)) => Err(error),
    }
}
