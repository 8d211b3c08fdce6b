//! Sessions, one use case a module: booking one ([`booking`]) or a series ([`series`]), moving
//! one ([`moving`]), calling one off ([`calling_off`]), recording attendance ([`attendance`]);
//! reading them is here. What each change does to a session and its order's budget is
//! `domain::session_change`; every path takes its locks in one order ([`locks`]).
//!
//! Every rule is checked inside the write transaction that books, with the order locked: the
//! order's state and budget (`domain::session`), the coach's availability and calendar
//! (`domain::availability`), the coachee's calendar. On PostgreSQL an exclusion constraint backs
//! the calendar checks up against concurrent bookings of other orders (SQLSTATE 23P01 is the
//! same 409); on SQLite the write transaction is taken up front, so bookings run one at a time.

mod attendance;
mod booking;
mod calling_off;
mod locks;
mod moving;
mod series;

pub use attendance::{record_attendance, AttendanceRecord};
pub use booking::book;
pub(crate) use booking::{after_booking, book_on, may_book, place, scheduled};
pub(crate) use calling_off::{call_off, cancel_reason};
pub use calling_off::{cancel, cancel_planned, SessionCancellation};
pub(crate) use locks::{lock_coach_then_order, lock_for_booking};
pub(crate) use moving::{move_place, move_session};
pub use moving::{reschedule, SessionChanges};
pub use series::{book_series, SeriesOutcome};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::db::sessions::{self as store, Session};
use crate::db::{coaches, DbConnection};
use crate::domain::availability::Booked;
use crate::domain::principal::{Principal, Role};
use crate::domain::session::{SessionRefusal, SessionStatus};
use crate::domain::FieldError;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::service::order_reads;
use crate::service::pagination::TimedPage;
use crate::views::session::{SessionPage, SessionView};

pub(super) fn not_found() -> ServiceError {
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
    let mut groups = std::collections::HashSet::new();
    Ok(
        store::coach_sessions_between(conn, coach_id, from.naive_utc(), to.naive_utc(), except)?
            .into_iter()
            .filter_map(|(start, end, blocked_until, group)| {
                // A group's participants each have a row; the coach's time is taken once.
                group.is_none_or(|g| groups.insert(g)).then(|| Booked {
                    start: start.0.and_utc(),
                    end: end.0.and_utc(),
                    blocked_until: blocked_until.0.and_utc(),
                })
            })
            .collect(),
    )
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
