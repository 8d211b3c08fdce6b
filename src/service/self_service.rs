//! Self-service for the coachee, when the provider offers it (`ProviderSettings`, off by
//! default): with their link, the coachee lists their coach's free slots and books, moves and
//! cancels their own regular sessions, under the same rules as the coach and the planner. They
//! see nothing of anyone else: the free slots are times only.

use chrono::{DateTime, Utc};

use crate::db::sessions::{self as store, Session};
use crate::db::{self, coaches, DbConnection};
use crate::domain::principal::Principal;
use crate::domain::session::{CancelledFor, MeetingFormat, NewSession, SessionKind};
use crate::service::availability::{slots_of, SlotQuery};
use crate::service::coachee::coachee_order;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::Visible;
use crate::service::provider_settings;
use crate::service::sessions::{self, SessionChanges};
use crate::views::session::{FreeSlots, SessionView};

/// A session the coachee books for themselves: when, how long, and how it is held.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnBooking {
    /// A start from `GET /coachee/free-slots`, RFC 3339.
    pub starts_at: DateTime<Utc>,
    /// 15 to 240 minutes, in steps of 5.
    #[schema(minimum = 15, maximum = 240, multiple_of = 5, example = 60)]
    pub duration_minutes: u32,
    /// By phone, by video (the link of your earlier video sessions) or in person (where your
    /// earlier sessions in person were). Default: as your latest regular session, or by phone
    /// for the first.
    pub format: Option<MeetingFormat>,
}

/// A new start for one of the coachee's own sessions.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnMove {
    pub starts_at: DateTime<Utc>,
}

/// Why the coachee calls one of their sessions off.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnCancellation {
    /// In your own words, for your coach (1 to 500 characters). Your employer does not see it.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// The coachee's order, if their provider offers self-service; for an update, locked after its
/// coach (the lock order, `sessions::lock_coach_then_order`).
fn own_order(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    for_update: bool,
) -> ServiceResult<Visible> {
    let mut visible = coachee_order(conn, now, caller, false)?;
    if for_update {
        visible = sessions::lock_coach_then_order(conn, &visible, |conn| {
            coachee_order(conn, now, caller, true)
        })?;
    }
    if !provider_settings::of(conn, &visible.order.provider_id)?.coachee_self_service {
        return Err(ServiceError::Forbidden(
            "your coaching provider does not offer booking your own sessions; ask your coach"
                .into(),
        ));
    }
    Ok(visible)
}

/// One of the coachee's own regular sessions.
fn own_session(conn: &mut DbConnection, visible: &Visible, id: &str) -> ServiceResult<Session> {
    let session = store::find(conn, id)?
        .filter(|s| s.order_id == visible.order.id)
        .ok_or_else(|| ServiceError::NotFound("no such session".into()))?;
    if session.kind != SessionKind::Regular {
        return Err(ServiceError::Forbidden(
            "you book, move and cancel your regular sessions; ask your coach about this one".into(),
        ));
    }
    Ok(session)
}

/// The free slots of the coachee's coach.
pub fn free_slots(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    query: SlotQuery,
) -> ServiceResult<FreeSlots> {
    let visible = own_order(conn, now, caller, false)?;
    let coach_id = visible
        .order
        .coach_id
        .as_deref()
        .ok_or_else(|| ServiceError::NotFound("no coach is assigned yet".into()))?;
    let coach = coaches::find(conn, coach_id)?
        .ok_or_else(|| ServiceError::NotFound("no coach is assigned yet".into()))?;
    slots_of(conn, now, coach, query)
}

/// The coachee books a regular session for themselves.
#[tracing::instrument(skip_all)]
pub fn book(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    booking: OwnBooking,
) -> ServiceResult<SessionView> {
    db::write(conn, |conn| {
        let visible = own_order(conn, now, caller, true)?;
        let format = match booking.format {
            Some(format) => format,
            None => store::latest_regular(conn, &visible.order.id)?
                .map_or(MeetingFormat::Phone, |s| s.format),
        };
        // The place or link comes from an earlier session of the order held that way: the
        // coachee chooses how, not where (the coach keeps the room and the video link).
        let earlier = match format {
            MeetingFormat::Phone => None,
            format => Some(
                store::latest_in_format(conn, &visible.order.id, format)?.ok_or_else(|| {
                    ServiceError::invalid(
                        "/format",
                        if format == MeetingFormat::Video {
                            "you have had no session by video yet, so there is no link to use: \
                             choose phone, or ask your coach"
                        } else {
                            "you have had no session in person yet, so there is no place to use: \
                             choose phone, or ask your coach"
                        },
                    )
                })?,
            ),
        };
        let new = NewSession {
            starts_at: booking.starts_at,
            duration_minutes: booking.duration_minutes,
            kind: SessionKind::Regular,
            format,
            location: earlier.as_ref().and_then(|s| s.location.clone()),
            meeting_link: earlier.as_ref().and_then(|s| s.meeting_link.clone()),
            outside_hours: false,
        };
        new.validate()?;
        sessions::book_on(conn, now, caller, visible, &new)
    })
}

/// The coachee moves one of their planned regular sessions.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub fn reschedule(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    change: OwnMove,
) -> ServiceResult<SessionView> {
    db::write(conn, |conn| {
        let visible = own_order(conn, now, caller, true)?;
        let session = own_session(conn, &visible, id)?;
        let changes = SessionChanges {
            starts_at: Some(change.starts_at),
            ..SessionChanges::default()
        };
        sessions::move_session(conn, now, caller, session, visible, None, changes)
    })
}

/// The coachee calls one of their planned regular sessions off; late, it counts against the
/// budget, and the answer says so.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub fn cancel(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    cancellation: OwnCancellation,
) -> ServiceResult<SessionView> {
    let reason = sessions::cancel_reason(&cancellation.reason)?;
    db::write(conn, |conn| {
        let visible = own_order(conn, now, caller, true)?;
        let session = own_session(conn, &visible, id)?;
        sessions::call_off(
            conn,
            now,
            caller,
            session,
            visible,
            CancelledFor::Coachee,
            reason,
        )
    })
}
