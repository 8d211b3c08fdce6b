//! Recording, after its start, whether a session was held or missed (by the session's coach).
//! What that does to the session and the order's budget is `domain::session_change::attend`.

use chrono::{DateTime, Utc};

use crate::db::sessions as store;
use crate::db::{self, DbConnection};
use crate::domain::principal::Principal;
use crate::domain::session::Attendance;
use crate::domain::session_change;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::views::session::SessionView;

use super::is_sessions_coach;
use super::locks::load_for_update;

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
        let mut order = visible.order.clone();
        let change =
            session_change::attend(&session.facts(), order.budget(), record.attendance, now)?;
        let read_version = session.version;
        session.status = change.status;
        session.attendance_at = Some(now.naive_utc());
        session.version += 1;
        session.updated_at = now.naive_utc();
        if !store::update(conn, &session, read_version)? {
            return Err(ServiceError::changed("session"));
        }
        if change.budget != order.budget() {
            order.set_budget(change.budget);
            let to = order.status;
            lifecycle::save(conn, now, caller, order, to, change.event)?;
        } else {
            lifecycle::record(conn, now, caller, &order, change.event)?;
        }
        Ok(SessionView::build(session, visible.audience))
    })
}
