//! Moving a planned session (another time, length or format), under the booking's checks.

use chrono::{DateTime, Utc};

use crate::db::sessions::Session;
use crate::db::{self, sessions as store, DbConnection};
use crate::domain::availability::Span;
use crate::domain::event::Event;
use crate::domain::permission::Act;
use crate::domain::principal::Principal;
use crate::domain::session::{self as rules, NewSession, SessionRefusal};
use crate::domain::session_change;
use crate::service::error::ServiceResult;
use crate::service::lifecycle::{self, Visible};
use crate::views::session::SessionView;

use super::booking::{calendar_violation, fit, Besides};
use super::locks::load_for_update;

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
        crate::service::access::require(caller, Act::ChangeSession)?;
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

/// The move itself, by `actor` on the locked order: a planned session that has not started gets
/// another time, length or format, under the booking's checks, recorded as
/// `session.rescheduled`. A place in a group moves only with its group ([`move_place`]).
pub(crate) fn move_session(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    session: Session,
    visible: Visible,
    expected_version: Option<i32>,
    changes: SessionChanges,
) -> ServiceResult<SessionView> {
    lifecycle::check_version("session", session.version, expected_version)?;
    if session.group_id.is_some() {
        session_change::changeable(&session.facts(), now)?;
        return Err(SessionRefusal::InGroup.into());
    }
    move_place(
        conn,
        now,
        actor,
        session,
        &visible,
        expected_version,
        &changes,
    )
}

/// Moves one session, alone or as a place of a group that moves together (its calendar key and
/// its own present time are left out of the checks).
pub(crate) fn move_place(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    mut session: Session,
    visible: &Visible,
    expected_version: Option<i32>,
    changes: &SessionChanges,
) -> ServiceResult<SessionView> {
    session_change::changeable(&session.facts(), now)?;
    let outside_hours = session_change::outside_hours_after_move(
        actor.role,
        changes.outside_hours,
        session.outside_hours,
        changes.starts_at.is_some() || changes.duration_minutes.is_some(),
    )?;
    let moved = NewSession {
        starts_at: changes.starts_at.unwrap_or(session.starts_at.and_utc()),
        duration_minutes: changes.duration_minutes.unwrap_or_else(|| {
            u32::try_from((session.ends_at - session.starts_at).num_minutes()).unwrap_or(0)
        }),
        kind: session.kind,
        format: changes.format.unwrap_or(session.format),
        location: changes.location.clone().or_else(|| {
            changes
                .format
                .is_none()
                .then(|| session.location.clone())
                .flatten()
        }),
        meeting_link: changes.meeting_link.clone().or_else(|| {
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
        Besides {
            calendar_key: Some(&session.calendar_key),
            session_id: Some(&session.id),
        },
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
        actor,
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
