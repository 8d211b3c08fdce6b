//! Sessions, availability and free slots as callers see them. The employer sees a session's
//! dates, kind, format and attendance; where it takes place, the video link, and who called it
//! off and why are for the coaching relationship and the provider (`Audience`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::orders::Order;
use crate::db::sessions::Session;
use crate::domain::availability::AvailabilityRules;
use crate::domain::session::{CancelledFor, MeetingFormat, SessionKind, SessionStatus};
use crate::domain::visibility::Audience;
use crate::views::time;

/// The order's budget of regular sessions (002): the intake never counts; cancelled sessions do
/// not, unless the coachee's side cancelled late.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct SessionCounts {
    /// Regular sessions in the order (extensions included).
    pub budget: i32,
    /// Held, missed, or cancelled late by the coachee's side.
    pub used: i32,
    /// Booked and still to come.
    pub planned: i32,
    /// What can still be booked.
    pub left: i32,
}

impl SessionCounts {
    pub fn of(order: &Order) -> SessionCounts {
        SessionCounts {
            budget: order.session_budget,
            used: order.regular_sessions_used,
            planned: order.regular_sessions_planned,
            left: (order.session_budget
                - order.regular_sessions_used
                - order.regular_sessions_planned)
                .max(0),
        }
    }
}

/// How a session was called off. Everyone who sees the session sees when and on whose side
/// (a late one by the coachee's side counts against the budget the employer pays for).
#[derive(Debug, Serialize, ToSchema)]
pub struct CancellationView {
    #[serde(serialize_with = "time::rfc3339")]
    pub cancelled_at: DateTime<Utc>,
    pub requested_by: CancelledFor,
    /// Why, in words: for the coach and the provider's planners only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The coachee's rating of the working relationship after the first session (004).
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackView {
    /// 1 to 5; 2 or lower puts the order at risk.
    pub rating: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(serialize_with = "time::rfc3339")]
    pub given_at: DateTime<Utc>,
}

/// A session on an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub order_id: String,
    #[schema(format = Uuid)]
    pub coach_id: String,
    /// The group session it is part of (003), if any; the other participants are not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub group_id: Option<String>,
    pub kind: SessionKind,
    pub format: MeetingFormat,
    pub status: SessionStatus,
    #[serde(serialize_with = "time::rfc3339")]
    pub starts_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub ends_at: DateTime<Utc>,
    pub duration_minutes: i64,
    /// In-person sessions; not for the employer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Video sessions; not for the employer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_link: Option<String>,
    /// Booked by the coach outside their working hours; not for the employer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outside_hours: Option<bool>,
    /// Whether it uses one of the order's budgeted sessions (002).
    pub counts_against_budget: bool,
    /// When it was called off, by whose side and (provider side only) why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<CancellationView>,
    /// When attendance (held or no-show) was recorded.
    #[serde(
        serialize_with = "time::rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub attendance_recorded_at: Option<DateTime<Utc>>,
    /// The coachee's rating of the first session: not for the employer (004).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feedback: Option<FeedbackView>,
    /// Also the `ETag`.
    pub version: i32,
    #[serde(serialize_with = "time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl SessionView {
    pub fn build(session: Session, audience: Audience) -> SessionView {
        let details = audience.sees_session_details();
        let cancellation = match (session.cancelled_at, session.requested_by) {
            (Some(at), Some(requested_by)) => Some(CancellationView {
                cancelled_at: at.and_utc(),
                requested_by,
                reason: session
                    .cancel_reason
                    .filter(|_| audience.sees_event_details()),
            }),
            _ => None,
        };
        let feedback = match (session.rating, session.rated_at) {
            (Some(rating), Some(at)) if details => Some(FeedbackView {
                rating,
                comment: session.rating_comment,
                given_at: at.and_utc(),
            }),
            _ => None,
        };
        SessionView {
            feedback,
            duration_minutes: (session.ends_at - session.starts_at).num_minutes(),
            id: session.id,
            order_id: session.order_id,
            coach_id: session.coach_id,
            group_id: session.group_id,
            kind: session.kind,
            format: session.format,
            status: session.status,
            starts_at: session.starts_at.and_utc(),
            ends_at: session.ends_at.and_utc(),
            location: session.location.filter(|_| details),
            meeting_link: session.meeting_link.filter(|_| details),
            outside_hours: details.then_some(session.outside_hours),
            counts_against_budget: session.counts_against_budget,
            cancellation,
            attendance_recorded_at: session.attendance_at.map(|t| t.and_utc()),
            version: session.version,
            created_at: session.created_at.and_utc(),
            updated_at: session.updated_at.and_utc(),
        }
    }
}

/// A page of sessions, by start time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionPage {
    pub data: Vec<SessionView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A coach's availability, with the time zone its times are in.
#[derive(Debug, Serialize, ToSchema)]
pub struct AvailabilityView {
    #[schema(format = Uuid)]
    pub coach_id: String,
    /// The coach's IANA time zone (change it on the coach): every time below is in it.
    #[schema(example = "Europe/Amsterdam")]
    pub time_zone: String,
    #[serde(flatten)]
    pub rules: AvailabilityRules,
    /// Also the `ETag`; 0 before the first save.
    pub version: i32,
}

/// One start time at which a session of the asked length fits.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeSlot {
    #[serde(serialize_with = "time::rfc3339")]
    pub starts_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub ends_at: DateTime<Utc>,
    /// The start on the clock of `time_zone`, with its offset.
    #[schema(example = "2027-01-12T10:00:00+01:00")]
    pub local_start: String,
    /// The date on the clock of `time_zone`.
    pub local_date: NaiveDate,
}

/// The free slots of a coach in a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreeSlots {
    #[schema(format = Uuid)]
    pub coach_id: String,
    /// The zone `local_start` is written in: the one asked for, or the coach's.
    pub time_zone: String,
    pub duration_minutes: u32,
    #[serde(serialize_with = "time::rfc3339")]
    pub from: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub to: DateTime<Utc>,
    pub slots: Vec<FreeSlot>,
}

/// One occurrence of a series, and whether it fits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesOccurrence {
    #[serde(serialize_with = "time::rfc3339")]
    pub starts_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub ends_at: DateTime<Utc>,
    pub fits: bool,
    /// Why not: the problem type a single booking would get, e.g.
    /// `urn:trajectum:problem:coach-double-booked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The nearest free start instead, when the calendar is what stands in the way.
    #[serde(
        serialize_with = "time::rfc3339_opt",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub alternative: Option<DateTime<Utc>>,
}

/// Which occurrences of a series fit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SeriesPreview {
    /// Whether every occurrence fits (booking the series would succeed now).
    pub fits: bool,
    pub occurrences: Vec<SeriesOccurrence>,
}

/// A booked series.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesBooked {
    pub sessions: Vec<SessionView>,
}

/// A group session (003), for the coach and the provider's planners: each participant's
/// session on its own order.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub coach_id: String,
    pub capacity: i32,
    /// Participants whose place is not cancelled.
    pub taken: usize,
    pub participants: Vec<SessionView>,
}
