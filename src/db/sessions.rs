//! Coaches' availability and the sessions booked on orders.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::orders::OrderScope;
use super::schema::{coach_availability, orders, session_groups, session_notes, sessions};
use super::{DbConnection, Json, Limited, Stamp};
use crate::domain::availability::AvailabilityRules;
use crate::domain::principal::Role;
use crate::domain::session::{CancelledFor, MeetingFormat, SessionKind, SessionStatus};

/// A coach's availability rules, as last saved.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = coach_availability)]
pub struct AvailabilityRecord {
    pub coach_id: String,
    pub rules: Json<AvailabilityRules>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

pub fn find_availability(
    conn: &mut DbConnection,
    coach_id: &str,
) -> QueryResult<Option<AvailabilityRecord>> {
    coach_availability::table
        .find(coach_id)
        .select(AvailabilityRecord::as_select())
        .get_result(conn)
        .optional()
}

/// Saves the rules over version `expected` (none: the first save); false when someone else saved
/// first.
pub fn save_availability(
    conn: &mut DbConnection,
    record: &AvailabilityRecord,
    expected: Option<i32>,
) -> QueryResult<bool> {
    let written = match expected {
        None => unless_raced(
            diesel::insert_into(coach_availability::table)
                .values(record)
                .execute(conn),
        )?,
        Some(version) => diesel::update(
            coach_availability::table
                .filter(coach_availability::coach_id.eq(&record.coach_id))
                .filter(coach_availability::version.eq(version)),
        )
        .set(record)
        .execute(conn)?,
    };
    Ok(written == 1)
}

/// Rows a first insert wrote: none when a concurrent first insert took the key.
pub(crate) fn unless_raced(inserted: QueryResult<usize>) -> QueryResult<usize> {
    match inserted {
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(0),
        other => other,
    }
}

/// A session on an order.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = sessions, treat_none_as_null = true)]
pub struct Session {
    pub id: String,
    pub order_id: String,
    pub coach_id: String,
    pub provider_id: String,
    /// The group session it is part of (003), if any.
    pub group_id: Option<String>,
    /// What takes the coach's time: the session's own id, or its group's.
    pub calendar_key: String,
    pub kind: SessionKind,
    pub format: MeetingFormat,
    pub location: Option<String>,
    pub meeting_link: Option<String>,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// The end plus the coach's buffer at booking: the coach's time it takes.
    pub blocked_until: NaiveDateTime,
    pub outside_hours: bool,
    pub status: SessionStatus,
    pub counts_against_budget: bool,
    pub cancelled_at: Option<NaiveDateTime>,
    pub cancelled_by: Option<String>,
    pub cancelled_by_role: Option<Role>,
    pub requested_by: Option<CancelledFor>,
    pub cancel_reason: Option<String>,
    pub attendance_at: Option<NaiveDateTime>,
    /// The coachee's rating of the working relationship, 1 to 5 (004).
    pub rating: Option<i32>,
    /// The coachee's words with it: for the provider's side, never the employer.
    pub rating_comment: Option<String>,
    pub rated_at: Option<NaiveDateTime>,
    pub version: i32,
    pub booked_by: String,
    pub booked_by_role: Role,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Session {
    /// The session as the rules of its changes see it (`domain::session_change`).
    pub fn facts(&self) -> crate::domain::session_change::SessionFacts {
        crate::domain::session_change::SessionFacts {
            id: self.id.clone(),
            kind: self.kind,
            status: self.status,
            starts_at: self.starts_at.and_utc(),
            counts_against_budget: self.counts_against_budget,
        }
    }
}

pub fn insert(conn: &mut DbConnection, session: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .find(id)
        .select(Session::as_select())
        .get_result(conn)
        .optional()
}

/// Writes the session if its version is still `expected`; false when someone else changed it.
pub fn update(conn: &mut DbConnection, session: &Session, expected: i32) -> QueryResult<bool> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(&session.id))
            .filter(sessions::version.eq(expected)),
    )
    .set(session)
    .execute(conn)
    .map(|n| n == 1)
}

/// A session's hold on its coach's time: start, end, blocked until, and its group if it has one.
pub type Occupied = (Stamp, Stamp, Stamp, Option<String>);

/// The coach's sessions that are not cancelled and start in `[from, to)`, by start, leaving out
/// the calendar entry `except` names (a session's id, or a group's): (start, end, blocked until,
/// its group if it has one).
///
/// A busy calendar has ~700 rows in a 4-week window, so only what the caller needs crosses the
/// wire: a group's id, not every row's calendar key (which a HashSet of ~700 Strings then
/// merged). Merging in the database instead (`GROUP BY calendar_key`) cost more than it saved:
/// dense / idle 1.55 on PostgreSQL and 1.74 on SQLite in bench/slots.py.
pub fn coach_sessions_between(
    conn: &mut DbConnection,
    coach_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
    except: Option<&str>,
) -> QueryResult<Vec<Occupied>> {
    crate::on_each_backend!(conn, |c| sessions::table
        .filter(sessions::coach_id.eq(coach_id))
        .filter(sessions::starts_at.ge(from))
        .filter(sessions::starts_at.lt(to))
        .filter(sessions::status.ne(SessionStatus::Cancelled))
        // Calendar keys are ids, never empty.
        .filter(sessions::calendar_key.ne(except.unwrap_or("")))
        .order(sessions::starts_at.asc())
        .select((
            sessions::starts_at,
            sessions::ends_at,
            sessions::blocked_until,
            sessions::group_id,
        ))
        .load(c))
}

/// The order's sessions that are not cancelled and overlap `[from, to)`.
pub fn order_sessions_overlapping(
    conn: &mut DbConnection,
    order_id: &str,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    sessions::table
        .filter(sessions::order_id.eq(order_id))
        .filter(sessions::starts_at.lt(to))
        .filter(sessions::ends_at.gt(from))
        .filter(sessions::status.ne(SessionStatus::Cancelled))
        .select(sessions::id)
        .load(conn)
}

/// Whether the order has a session of `kind` that is planned or was held (not one that was
/// cancelled or missed).
pub fn has_standing(
    conn: &mut DbConnection,
    order_id: &str,
    kind: SessionKind,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        sessions::table
            .filter(sessions::order_id.eq(order_id))
            .filter(sessions::kind.eq(kind))
            .filter(sessions::status.eq_any([SessionStatus::Planned, SessionStatus::Held])),
    ))
    .get_result(conn)
}

/// The order's planned sessions of `kinds` that start after `after` (those that started wait
/// for their attendance).
pub fn planned_of(
    conn: &mut DbConnection,
    order_id: &str,
    kinds: &[SessionKind],
    after: NaiveDateTime,
) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::order_id.eq(order_id))
        .filter(sessions::kind.eq_any(kinds.to_vec()))
        .filter(sessions::status.eq(SessionStatus::Planned))
        .filter(sessions::starts_at.gt(after))
        .select(Session::as_select())
        .load(conn)
}

/// A page of the order's sessions by start, after `(starts_at, id)` (keyset).
pub fn of_order(
    conn: &mut DbConnection,
    order_id: &str,
    after: Option<(NaiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<Session>> {
    crate::on_each_backend!(conn, |c| {
        let mut query = sessions::table
            .filter(sessions::order_id.eq(order_id))
            .order((sessions::starts_at.asc(), sessions::id.asc()))
            .select(Session::as_select())
            .into_boxed();
        if let Some((at, id)) = &after {
            query = query.filter(
                sessions::starts_at
                    .gt(*at)
                    .or(sessions::starts_at.eq(*at).and(sessions::id.gt(id.clone()))),
            );
        }
        Limited::new(query, limit).load(c)
    })
}

/// What a list of sessions across orders is filtered on.
#[derive(Debug, Clone)]
pub struct SessionFilter {
    pub scope: OrderScope,
    pub coach_id: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub status: Option<SessionStatus>,
    pub after: Option<(NaiveDateTime, String)>,
    pub limit: i64,
}

/// A page of sessions of the orders in scope, by start (keyset). A coach's scope is the orders
/// assigned to them, and of those only their own sessions.
pub fn list(conn: &mut DbConnection, filter: &SessionFilter) -> QueryResult<Vec<Session>> {
    crate::on_each_backend!(conn, |c| {
        let mut query = sessions::table
            .inner_join(orders::table)
            .order((sessions::starts_at.asc(), sessions::id.asc()))
            .select(Session::as_select())
            .into_boxed();
        query = match &filter.scope {
            OrderScope::Employer(id) => query
                .filter(orders::employer_id.eq(id.clone()))
                .filter(orders::employer_sees.eq(true)),
            OrderScope::Provider(id) => query.filter(sessions::provider_id.eq(id.clone())),
            OrderScope::Coach(id) => query
                .filter(sessions::coach_id.eq(id.clone()))
                .filter(orders::coach_id.eq(id.clone())),
        };
        if let Some(coach) = &filter.coach_id {
            query = query.filter(sessions::coach_id.eq(coach.clone()));
        }
        if let Some(from) = filter.from {
            query = query.filter(sessions::starts_at.ge(from));
        }
        if let Some(to) = filter.to {
            query = query.filter(sessions::starts_at.lt(to));
        }
        if let Some(status) = filter.status {
            query = query.filter(sessions::status.eq(status));
        }
        if let Some((at, id)) = &filter.after {
            query = query.filter(
                sessions::starts_at
                    .gt(*at)
                    .or(sessions::starts_at.eq(*at).and(sessions::id.gt(id.clone()))),
            );
        }
        Limited::new(query, filter.limit).load(c)
    })
}

/// A coach's sealed notes on a session (`crate::vault`).
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = session_notes)]
pub struct NotesRecord {
    pub session_id: String,
    pub sealed: String,
    pub version: i32,
    pub updated_by: String,
    pub updated_at: NaiveDateTime,
}

pub fn find_notes(conn: &mut DbConnection, session_id: &str) -> QueryResult<Option<NotesRecord>> {
    session_notes::table
        .find(session_id)
        .select(NotesRecord::as_select())
        .get_result(conn)
        .optional()
}

/// Saves the notes over version `expected` (none: the first save); false when someone else saved
/// first.
pub fn save_notes(
    conn: &mut DbConnection,
    record: &NotesRecord,
    expected: Option<i32>,
) -> QueryResult<bool> {
    let written = match expected {
        None => unless_raced(
            diesel::insert_into(session_notes::table)
                .values(record)
                .execute(conn),
        )?,
        Some(version) => diesel::update(
            session_notes::table
                .filter(session_notes::session_id.eq(&record.session_id))
                .filter(session_notes::version.eq(version)),
        )
        .set(record)
        .execute(conn)?,
    };
    Ok(written == 1)
}

/// Up to `limit` notes after session `after` (in session id order) that are not sealed under the
/// key whose stored text starts with `current_prefix`: (session id, sealed text).
pub fn notes_sealed_otherwise(
    conn: &mut DbConnection,
    current_prefix: &str,
    after: &str,
    limit: i64,
) -> QueryResult<Vec<(String, String)>> {
    session_notes::table
        .filter(session_notes::session_id.gt(after))
        .filter(session_notes::sealed.not_like(format!("{current_prefix}%")))
        .order(session_notes::session_id.asc())
        .limit(limit)
        .select((session_notes::session_id, session_notes::sealed))
        .load(conn)
}

/// Replaces a note's sealed text with `resealed` if it is still `sealed` (a coach may have saved
/// it since); neither its version nor its time changes, for its content does not.
pub fn reseal_note(
    conn: &mut DbConnection,
    session_id: &str,
    sealed: &str,
    resealed: &str,
) -> QueryResult<bool> {
    diesel::update(
        session_notes::table
            .filter(session_notes::session_id.eq(session_id))
            .filter(session_notes::sealed.eq(sealed)),
    )
    .set(session_notes::sealed.eq(resealed))
    .execute(conn)
    .map(|n| n == 1)
}

/// The order's first regular session that was held, if any.
pub fn first_held_regular(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::order_id.eq(order_id))
        .filter(sessions::kind.eq(SessionKind::Regular))
        .filter(sessions::status.eq(SessionStatus::Held))
        .order((sessions::starts_at.asc(), sessions::id.asc()))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// Held regular sessions without a rating that ended before `before`, on running orders not yet
/// at risk: candidates for the first-session check (each order's first one is the one asked).
pub fn unrated_before(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<Vec<Session>> {
    sessions::table
        .inner_join(orders::table)
        .filter(sessions::kind.eq(SessionKind::Regular))
        .filter(sessions::status.eq(SessionStatus::Held))
        .filter(sessions::rating.is_null())
        .filter(sessions::ends_at.lt(before))
        .filter(orders::status.eq(crate::domain::order::OrderStatus::Active))
        .filter(orders::alliance_risk.is_null())
        .select(Session::as_select())
        .load(conn)
}

/// The order's latest session (by start, of any kind and status) held in `format`: where its
/// place or link is found for a session the coachee books themselves.
pub fn latest_in_format(
    conn: &mut DbConnection,
    order_id: &str,
    format: MeetingFormat,
) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::order_id.eq(order_id))
        .filter(sessions::format.eq(format))
        .order((sessions::starts_at.desc(), sessions::id.desc()))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// The order's latest regular session (by start), whatever its status.
pub fn latest_regular(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<Session>> {
    sessions::table
        .filter(sessions::order_id.eq(order_id))
        .filter(sessions::kind.eq(SessionKind::Regular))
        .order((sessions::starts_at.desc(), sessions::id.desc()))
        .select(Session::as_select())
        .first(conn)
        .optional()
}

/// A group session's own record (003).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = session_groups)]
pub struct Group {
    pub id: String,
    pub coach_id: String,
    pub provider_id: String,
    pub capacity: i32,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_group(conn: &mut DbConnection, group: &Group) -> QueryResult<()> {
    diesel::insert_into(session_groups::table)
        .values(group)
        .execute(conn)
        .map(drop)
}

pub fn find_group(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Group>> {
    session_groups::table
        .find(id)
        .select(Group::as_select())
        .get_result(conn)
        .optional()
}

/// Locks the group's row until the transaction ends: its places are counted under this lock
/// (PostgreSQL: `FOR UPDATE`; a SQLite write transaction holds the whole database already).
pub fn lock_group(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(c) => session_groups::table
            .find(id)
            .select(session_groups::id)
            .for_update()
            .first::<String>(c)
            .optional()
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// The group's sessions, by order of joining.
pub fn of_group(conn: &mut DbConnection, group_id: &str) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::group_id.eq(group_id))
        .order(sessions::id.asc())
        .select(Session::as_select())
        .load(conn)
}
