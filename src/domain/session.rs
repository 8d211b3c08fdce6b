//! Sessions (*gesprekken*, DOMAIN.md step 5): what may be booked on an order and when, what a
//! cancellation costs, and when attendance is recorded.
//!
//! - About 8 sessions plus an assessment over about 6 months (002): regular sessions count
//!   against the order's budget; the intake is free and never counts (002); cancelled sessions
//!   do not count, except a cancellation by the coachee's side later than the notice period.
//! - An intake is booked before the start decision and moves the order to `intake_scheduled`;
//!   regular sessions only once the trajectory runs; an assessment only with the coachee's
//!   consent (002); follow-ups after the end (002).
//! - Sessions are in person, by phone or by video (003).

use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Timelike, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::order::OrderStatus;
use crate::domain::FieldError;

pub const MIN_DURATION_MINUTES: u32 = 15;
pub const MAX_DURATION_MINUTES: u32 = 240;

macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown {} `{s}`", stringify!($name)))
            }
        }
    };
}

named_enum!(
    /// What a session is for.
    SessionKind {
        /// The free intake (002): before the start decision; never counts against the budget.
        Intake => "intake",
        /// A coaching session of the trajectory; counts against the budget (002).
        Regular => "regular",
        /// An assessment, with the coachee's consent (002).
        Assessment => "assessment",
        /// A follow-up a few months after the end (002).
        FollowUp => "follow_up",
    }
);

named_enum!(
    /// How a session takes place (003).
    MeetingFormat {
        /// Needs a `location`.
        InPerson => "in_person",
        Phone => "phone",
        /// Needs a `meeting_link`.
        Video => "video",
    }
);

named_enum!(
    /// Where a session stands.
    SessionStatus {
        Planned => "planned",
        /// It took place (recorded after its start).
        Held => "held",
        /// The coachee did not come (recorded after its start).
        NoShow => "no_show",
        Cancelled => "cancelled",
    }
);

named_enum!(
    /// On whose behalf a session was cancelled.
    CancelledFor {
        /// The coachee (or their employer) asked: late, it counts against the budget.
        Coachee => "coachee",
        /// The coach or the provider called it off: it never counts.
        Provider => "provider",
    }
);

named_enum!(
    /// What happened at a session, recorded after its start.
    Attendance {
        Held => "held",
        NoShow => "no_show",
    }
);

impl SessionKind {
    /// Whether a session of this kind uses one of the order's budgeted sessions (002).
    pub fn counts_against_budget(self) -> bool {
        self == SessionKind::Regular
    }
}

/// A session to book on an order.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// The start, RFC 3339, on a whole minute.
    #[schema(example = "2027-01-12T09:00:00Z")]
    pub starts_at: DateTime<Utc>,
    /// 15 to 240 minutes, in steps of 5.
    #[schema(minimum = 15, maximum = 240, multiple_of = 5, example = 60)]
    pub duration_minutes: u32,
    pub kind: SessionKind,
    pub format: MeetingFormat,
    /// Where an in-person session takes place (required for `in_person`, refused otherwise).
    #[schema(min_length = 1, max_length = 300)]
    pub location: Option<String>,
    /// The video call's `https` address (required for `video`, refused otherwise).
    #[schema(min_length = 1, max_length = 500, pattern = "^https://")]
    pub meeting_link: Option<String>,
    /// The coach books outside their own working hours, on purpose. Only the coach may; it
    /// does not lift the other rules (no overlap, not in the past, within the trajectory).
    #[serde(default)]
    pub outside_hours: bool,
}

impl NewSession {
    pub fn duration(&self) -> Duration {
        Duration::minutes(i64::from(self.duration_minutes))
    }

    pub fn ends_at(&self) -> DateTime<Utc> {
        self.starts_at + self.duration()
    }

    /// The rules the request alone can break, each at its field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        if self.starts_at.second() != 0 || self.starts_at.nanosecond() != 0 {
            errors.push(FieldError::new("/starts_at", "must be on a whole minute"));
        }
        errors.extend(check_duration("/duration_minutes", self.duration_minutes));
        errors.extend(check_place(
            self.format,
            self.location.as_deref(),
            self.meeting_link.as_deref(),
        ));
        crate::domain::input::verdict(errors)
    }
}

/// A session's length must be 15 to 240 minutes, in steps of 5; the error names `pointer`.
pub fn check_duration(pointer: &str, minutes: u32) -> Option<FieldError> {
    let ok = (MIN_DURATION_MINUTES..=MAX_DURATION_MINUTES).contains(&minutes)
        && minutes.is_multiple_of(5);
    (!ok).then(|| {
        FieldError::new(
            pointer,
            format!(
                "must be {MIN_DURATION_MINUTES} to {MAX_DURATION_MINUTES} minutes, in steps of 5"
            ),
        )
    })
}

/// A location goes with an in-person session, a link with a video session (003).
pub fn check_place(
    format: MeetingFormat,
    location: Option<&str>,
    link: Option<&str>,
) -> Vec<FieldError> {
    let mut errors = vec![];
    match (format, location) {
        (MeetingFormat::InPerson, None) => errors.push(FieldError::new(
            "/location",
            "is required for an in-person session",
        )),
        (MeetingFormat::InPerson, Some(l)) if l.trim().is_empty() || l.chars().count() > 300 => {
            errors.push(FieldError::new("/location", "must be 1 to 300 characters"))
        }
        (MeetingFormat::InPerson, Some(_)) | (_, None) => {}
        (_, Some(_)) => errors.push(FieldError::new(
            "/location",
            "is only for an in-person session",
        )),
    }
    match (format, link) {
        (MeetingFormat::Video, None) => errors.push(FieldError::new(
            "/meeting_link",
            "is required for a video session",
        )),
        (MeetingFormat::Video, Some(l))
            if !l.starts_with("https://")
                || l.len() <= "https://".len()
                || l.chars().count() > 500
                || l.chars().any(char::is_whitespace) =>
        {
            errors.push(FieldError::new(
                "/meeting_link",
                "must be an https:// address of at most 500 characters",
            ))
        }
        (MeetingFormat::Video, Some(_)) | (_, None) => {}
        (_, Some(_)) => errors.push(FieldError::new(
            "/meeting_link",
            "is only for a video session",
        )),
    }
    errors
}

pub const MAX_SERIES_COUNT: u32 = 26;
pub const MAX_SERIES_INTERVAL_WEEKS: u32 = 8;

/// A recurring series of sessions on an order: "every two weeks on Tuesday 10:00, 6 sessions".
/// Each occurrence is checked by the same rules as a single booking; booking is all or nothing.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSeries {
    /// The first session's start, RFC 3339, on a whole minute. The others keep its time of day
    /// on the coach's clock, across daylight-saving changes.
    #[schema(example = "2027-01-12T09:00:00Z")]
    pub starts_at: DateTime<Utc>,
    /// Weeks between sessions, 1 to 8.
    #[schema(minimum = 1, maximum = 8, example = 2)]
    pub every_weeks: u32,
    /// How many sessions, 2 to 26.
    #[schema(minimum = 2, maximum = 26, example = 6)]
    pub count: u32,
    /// 15 to 240 minutes, in steps of 5.
    #[schema(minimum = 15, maximum = 240, multiple_of = 5, example = 60)]
    pub duration_minutes: u32,
    /// `regular`, `assessment` or `follow_up` (an intake is booked on its own).
    pub kind: SessionKind,
    pub format: MeetingFormat,
    #[schema(min_length = 1, max_length = 300)]
    pub location: Option<String>,
    #[schema(min_length = 1, max_length = 500, pattern = "^https://")]
    pub meeting_link: Option<String>,
    #[serde(default)]
    pub outside_hours: bool,
    /// Only say which occurrences fit (and the nearest free start for those that do not);
    /// book nothing.
    #[serde(default)]
    pub preview: bool,
}

impl NewSeries {
    /// The single booking of the occurrence at `starts_at`.
    pub fn occurrence(&self, starts_at: DateTime<Utc>) -> NewSession {
        NewSession {
            starts_at,
            duration_minutes: self.duration_minutes,
            kind: self.kind,
            format: self.format,
            location: self.location.clone(),
            meeting_link: self.meeting_link.clone(),
            outside_hours: self.outside_hours,
        }
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = self
            .occurrence(self.starts_at)
            .validate()
            .err()
            .unwrap_or_default();
        if !(1..=MAX_SERIES_INTERVAL_WEEKS).contains(&self.every_weeks) {
            errors.push(FieldError::new(
                "/every_weeks",
                format!("must be 1 to {MAX_SERIES_INTERVAL_WEEKS}"),
            ));
        }
        if !(2..=MAX_SERIES_COUNT).contains(&self.count) {
            errors.push(FieldError::new(
                "/count",
                format!("must be 2 to {MAX_SERIES_COUNT}"),
            ));
        }
        if self.kind == SessionKind::Intake {
            errors.push(FieldError::new(
                "/kind",
                "an intake is booked on its own, not in a series",
            ));
        }
        crate::domain::input::verdict(errors)
    }
}

/// The starts of a series: `count` sessions `every_weeks` apart at the first one's time of day
/// on the clock of `tz`, the first exactly as asked. A time the clocks repeat is taken with the
/// first one's offset where it can be; a time they skip moves to the first quarter hour after
/// the gap.
pub fn series_starts(
    tz: chrono_tz::Tz,
    first: DateTime<Utc>,
    every_weeks: u32,
    count: u32,
) -> Vec<DateTime<Utc>> {
    use chrono::{LocalResult, Offset, TimeZone};
    let first_local = first.with_timezone(&tz);
    let offset = first_local.offset().fix();
    let local = first_local.naive_local();
    (0..count)
        .map(|k| {
            if k == 0 {
                return first;
            }
            let wall = local + Duration::weeks(i64::from(k * every_weeks));
            let at = match tz.from_local_datetime(&wall) {
                LocalResult::Single(at) => Some(at),
                LocalResult::Ambiguous(a, b) => {
                    Some(if b.offset().fix() == offset { b } else { a })
                }
                LocalResult::None => (1..=8).find_map(|q| {
                    tz.from_local_datetime(&(wall + Duration::minutes(15 * q)))
                        .earliest()
                }),
            };
            at.map_or(first + Duration::weeks(i64::from(k * every_weeks)), |at| {
                at.with_timezone(&Utc)
            })
        })
        .collect()
}

pub const MIN_GROUP_CAPACITY: u32 = 2;
pub const MAX_GROUP_CAPACITY: u32 = 12;

/// A group session (003): one time of one coach, shared by the orders named (each a regular
/// session of its own order, counted against its own budget), up to a capacity.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    #[schema(example = "2027-01-12T09:00:00Z")]
    pub starts_at: DateTime<Utc>,
    #[schema(minimum = 15, maximum = 240, multiple_of = 5, example = 90)]
    pub duration_minutes: u32,
    pub format: MeetingFormat,
    #[schema(min_length = 1, max_length = 300)]
    pub location: Option<String>,
    #[schema(min_length = 1, max_length = 500, pattern = "^https://")]
    pub meeting_link: Option<String>,
    /// At most this many participants, 2 to 12.
    #[schema(minimum = 2, maximum = 12, example = 6)]
    pub capacity: u32,
    /// The first participants' orders (at least one, at most `capacity`), all of the same coach.
    #[schema(min_items = 1, max_items = 12)]
    pub order_ids: Vec<uuid::Uuid>,
}

impl NewGroup {
    /// Each participant's session.
    pub fn session(&self) -> NewSession {
        NewSession {
            starts_at: self.starts_at,
            duration_minutes: self.duration_minutes,
            kind: SessionKind::Regular,
            format: self.format,
            location: self.location.clone(),
            meeting_link: self.meeting_link.clone(),
            outside_hours: false,
        }
    }

    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = self.session().validate().err().unwrap_or_default();
        if !(MIN_GROUP_CAPACITY..=MAX_GROUP_CAPACITY).contains(&self.capacity) {
            errors.push(FieldError::new(
                "/capacity",
                format!("must be {MIN_GROUP_CAPACITY} to {MAX_GROUP_CAPACITY}"),
            ));
        }
        let mut unique = self.order_ids.clone();
        unique.sort();
        unique.dedup();
        if self.order_ids.is_empty() || self.order_ids.len() > self.capacity as usize {
            errors.push(FieldError::new(
                "/order_ids",
                "must name 1 to `capacity` orders",
            ));
        } else if unique.len() != self.order_ids.len() {
            errors.push(FieldError::new("/order_ids", "names an order twice"));
        }
        crate::domain::input::verdict(errors)
    }
}

/// The facts about an order that decide whether a session of a kind may be booked on it.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts {
    pub status: OrderStatus,
    /// The coachee's latest word on an assessment is "yes" (002).
    pub assessment_consent: bool,
    /// An intake is planned already, or was held.
    pub intake_planned: bool,
    pub budget: u32,
    /// Regular sessions held, missed or cancelled late.
    pub used: u32,
    /// Regular sessions planned.
    pub planned: u32,
    pub end_date: NaiveDate,
}

/// Why a session cannot be booked (or moved) as asked. Each is its own problem type.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionRefusal {
    /// The order's state does not allow this kind now.
    KindNotAllowed {
        kind: SessionKind,
        status: OrderStatus,
        allowed: Vec<SessionKind>,
    },
    /// An intake is planned already (move or cancel it instead), or was held.
    IntakeAlreadyPlanned,
    /// An assessment needs the coachee's consent (002).
    AssessmentWithoutConsent,
    /// Every budgeted session is used or planned (002).
    BudgetExhausted {
        budget: u32,
        used: u32,
        planned: u32,
    },
    /// After the trajectory's end date (002: about 6 months).
    OutsideTrajectory { end_date: NaiveDate },
    /// The start is not in the future.
    InThePast,
    /// Only the coach may book outside their own hours.
    OutsideHoursNotYours,
    /// Not inside the coach's availability.
    OutsideAvailability {
        reason: crate::domain::availability::Misfit,
        alternatives: Vec<DateTime<Utc>>,
    },
    /// The coach has another session then (with the buffer between sessions).
    CoachBusy { alternatives: Vec<DateTime<Utc>> },
    /// The coachee has another session then.
    CoacheeBusy,
    /// Only a planned session can be changed, cancelled or have its attendance recorded.
    NotPlanned { status: SessionStatus },
    /// The session has started: record attendance instead.
    Started,
    /// Attendance is recorded once the session has started.
    NotStarted,
    /// The coachee rates the first regular session, once it was held (004).
    FeedbackNotAsked,
    /// The coachee rated this session already.
    FeedbackGiven,
    /// The group session has as many participants as it takes (003).
    GroupFull { capacity: u32 },
    /// A group session is one coach's: this order has another coach.
    GroupOtherCoach,
    /// This order takes part in the group already.
    AlreadyInGroup,
    /// A session of a group moves with its group, not alone.
    InGroup,
}

impl SessionRefusal {
    /// The problem type's last part, `urn:trajectum:problem:<slug>`.
    pub fn slug(&self) -> &'static str {
        match self {
            SessionRefusal::KindNotAllowed { .. } => "session-kind-not-allowed",
            SessionRefusal::IntakeAlreadyPlanned => "intake-already-planned",
            SessionRefusal::AssessmentWithoutConsent => "assessment-consent-missing",
            SessionRefusal::BudgetExhausted { .. } => "session-budget-exhausted",
            SessionRefusal::OutsideTrajectory { .. } => "outside-trajectory",
            SessionRefusal::InThePast => "session-in-the-past",
            SessionRefusal::OutsideHoursNotYours => "outside-hours-coach-only",
            SessionRefusal::OutsideAvailability { .. } => "outside-availability",
            SessionRefusal::CoachBusy { .. } => "coach-double-booked",
            SessionRefusal::CoacheeBusy => "coachee-double-booked",
            SessionRefusal::NotPlanned { .. } => "session-not-planned",
            SessionRefusal::Started => "session-started",
            SessionRefusal::NotStarted => "session-not-started",
            SessionRefusal::FeedbackNotAsked => "feedback-not-asked",
            SessionRefusal::FeedbackGiven => "feedback-given",
            SessionRefusal::GroupFull { .. } => "group-full",
            SessionRefusal::GroupOtherCoach => "group-other-coach",
            SessionRefusal::AlreadyInGroup => "already-in-group",
            SessionRefusal::InGroup => "session-in-group",
        }
    }

    /// 409 when the order's or the calendar's state stands in the way (it may change); 422 when
    /// the request itself asks for what the rules never allow.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            SessionRefusal::KindNotAllowed { .. }
                | SessionRefusal::IntakeAlreadyPlanned
                | SessionRefusal::AssessmentWithoutConsent
                | SessionRefusal::BudgetExhausted { .. }
                | SessionRefusal::CoachBusy { .. }
                | SessionRefusal::CoacheeBusy
                | SessionRefusal::NotPlanned { .. }
                | SessionRefusal::Started
                | SessionRefusal::NotStarted
                | SessionRefusal::FeedbackNotAsked
                | SessionRefusal::FeedbackGiven
                | SessionRefusal::GroupFull { .. }
                | SessionRefusal::AlreadyInGroup
                | SessionRefusal::InGroup
        )
    }

    /// The field the refusal is about.
    pub fn pointer(&self) -> &'static str {
        match self {
            SessionRefusal::KindNotAllowed { .. }
            | SessionRefusal::IntakeAlreadyPlanned
            | SessionRefusal::AssessmentWithoutConsent
            | SessionRefusal::BudgetExhausted { .. } => "/kind",
            SessionRefusal::OutsideHoursNotYours => "/outside_hours",
            SessionRefusal::GroupOtherCoach => "/order_id",
            SessionRefusal::NotPlanned { .. } => "/status",
            _ => "/starts_at",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            SessionRefusal::KindNotAllowed {
                kind,
                status,
                allowed,
            } => format!(
                "an order that is {} cannot have a {} session booked; allowed now: {}",
                status.as_str().replace('_', " "),
                kind.as_str().replace('_', " "),
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                }
            ),
            SessionRefusal::IntakeAlreadyPlanned => {
                "an intake is planned already (move or cancel it instead) or was held".into()
            }
            SessionRefusal::AssessmentWithoutConsent => {
                "an assessment needs the coachee's consent, which is not on record".into()
            }
            SessionRefusal::BudgetExhausted {
                budget,
                used,
                planned,
            } => format!(
                "all {budget} sessions of the budget are used ({used}) or planned ({planned}); extend the order for more"
            ),
            SessionRefusal::OutsideTrajectory { end_date } => {
                format!("the trajectory ends on {end_date}; book on or before it")
            }
            SessionRefusal::InThePast => "the session must start in the future".into(),
            SessionRefusal::OutsideHoursNotYours => {
                "only the coach may book outside their own working hours".into()
            }
            SessionRefusal::OutsideAvailability { reason, .. } => match reason {
                crate::domain::availability::Misfit::OutsideHours => {
                    "the session is not inside the coach's working hours".into()
                }
                crate::domain::availability::Misfit::InsideNotice => {
                    "the session is sooner than the coach's minimum notice".into()
                }
                crate::domain::availability::Misfit::DayFull => {
                    "the coach has as many sessions that day as they take".into()
                }
                crate::domain::availability::Misfit::Overlaps => {
                    "the session runs into another session of the coach".into()
                }
            },
            SessionRefusal::CoachBusy { .. } => {
                "the coach has another session then, or too close to it (the buffer between sessions)"
                    .into()
            }
            SessionRefusal::CoacheeBusy => "the coachee has another session then".into(),
            SessionRefusal::NotPlanned { status } => format!(
                "the session is {}; only a planned session can change",
                status.as_str().replace('_', " ")
            ),
            SessionRefusal::Started => {
                "the session has started; record its attendance instead".into()
            }
            SessionRefusal::NotStarted => {
                "attendance is recorded once the session has started".into()
            }
            SessionRefusal::FeedbackNotAsked => {
                "feedback is asked for the first regular session, once it was held".into()
            }
            SessionRefusal::FeedbackGiven => "this session was rated already".into(),
            SessionRefusal::GroupFull { capacity } => {
                format!("the group session is full: it takes {capacity} participants")
            }
            SessionRefusal::GroupOtherCoach => {
                "a group session is one coach's; this order has another coach".into()
            }
            SessionRefusal::AlreadyInGroup => "this order takes part in the group already".into(),
            SessionRefusal::InGroup => {
                "this session is part of a group session; cancel this participant's place instead of moving it"
                    .into()
            }
        }
    }

    /// What would be allowed instead, as problem members.
    pub fn extensions(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let mut out = serde_json::Map::new();
        match self {
            SessionRefusal::KindNotAllowed {
                status, allowed, ..
            } => {
                out.insert("order_status".into(), json!(status));
                out.insert("allowed_kinds".into(), json!(allowed));
            }
            SessionRefusal::BudgetExhausted {
                budget,
                used,
                planned,
            } => {
                out.insert(
                    "sessions".into(),
                    json!({"budget": budget, "used": used, "planned": planned, "left": 0}),
                );
            }
            SessionRefusal::OutsideTrajectory { end_date } => {
                out.insert("end_date".into(), json!(end_date));
            }
            SessionRefusal::OutsideAvailability {
                reason,
                alternatives,
            } => {
                out.insert("reason".into(), json!(reason));
                out.insert("alternatives".into(), json!(stamps(alternatives)));
            }
            SessionRefusal::CoachBusy { alternatives } => {
                out.insert("alternatives".into(), json!(stamps(alternatives)));
            }
            SessionRefusal::NotPlanned { status } => {
                out.insert("session_status".into(), json!(status));
            }
            SessionRefusal::GroupFull { capacity } => {
                out.insert("capacity".into(), json!(capacity));
            }
            _ => {}
        }
        out
    }
}

fn stamps(times: &[DateTime<Utc>]) -> Vec<String> {
    times
        .iter()
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .collect()
}

/// The kinds of session an order in `status` takes.
pub fn kinds_allowed(status: OrderStatus) -> Vec<SessionKind> {
    use OrderStatus::*;
    match status {
        Accepted | IntakeScheduled => vec![SessionKind::Intake],
        Active => vec![SessionKind::Regular, SessionKind::Assessment],
        Completed | FollowingUp => vec![SessionKind::FollowUp],
        _ => vec![],
    }
}

/// Whether a session of `kind` may be booked on an order with these facts now. The times are
/// checked by [`check_time`] and the calendar.
pub fn check_order(kind: SessionKind, facts: OrderFacts) -> Result<(), SessionRefusal> {
    let allowed = kinds_allowed(facts.status);
    if !allowed.contains(&kind) {
        return Err(SessionRefusal::KindNotAllowed {
            kind,
            status: facts.status,
            allowed,
        });
    }
    match kind {
        SessionKind::Intake if facts.intake_planned => Err(SessionRefusal::IntakeAlreadyPlanned),
        SessionKind::Assessment if !facts.assessment_consent => {
            Err(SessionRefusal::AssessmentWithoutConsent)
        }
        SessionKind::Regular if facts.used + facts.planned >= facts.budget => {
            Err(SessionRefusal::BudgetExhausted {
                budget: facts.budget,
                used: facts.used,
                planned: facts.planned,
            })
        }
        _ => Ok(()),
    }
}

/// A session must start in the future, and (follow-ups aside) end by the trajectory's end date,
/// read on the coach's calendar (`local_end_date`).
pub fn check_time(
    kind: SessionKind,
    starts_at: DateTime<Utc>,
    local_end_date: NaiveDate,
    end_date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), SessionRefusal> {
    if starts_at <= now {
        return Err(SessionRefusal::InThePast);
    }
    if kind != SessionKind::FollowUp && local_end_date > end_date {
        return Err(SessionRefusal::OutsideTrajectory { end_date });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn facts(status: OrderStatus) -> OrderFacts {
        OrderFacts {
            status,
            assessment_consent: false,
            intake_planned: false,
            budget: 8,
            used: 0,
            planned: 0,
            end_date: "2027-06-30".parse().unwrap(),
        }
    }

    #[test]
    fn an_intake_comes_before_the_start_decision_and_regular_sessions_after() {
        // API.md "Order states": the intake is booked on an accepted order; regular sessions
        // only while the trajectory runs (002).
        assert_eq!(
            check_order(SessionKind::Intake, facts(OrderStatus::Accepted)),
            Ok(())
        );
        assert!(matches!(
            check_order(SessionKind::Regular, facts(OrderStatus::Accepted)),
            Err(SessionRefusal::KindNotAllowed { allowed, .. }) if allowed == vec![SessionKind::Intake]
        ));
        assert_eq!(
            check_order(SessionKind::Regular, facts(OrderStatus::Active)),
            Ok(())
        );
        assert!(check_order(SessionKind::Intake, facts(OrderStatus::Active)).is_err());
        assert!(check_order(SessionKind::Regular, facts(OrderStatus::Cancelled)).is_err());
        let mut planned = facts(OrderStatus::IntakeScheduled);
        planned.intake_planned = true;
        assert_eq!(
            check_order(SessionKind::Intake, planned),
            Err(SessionRefusal::IntakeAlreadyPlanned)
        );
    }

    #[test]
    fn an_assessment_needs_the_coachees_consent() {
        // 002: whether an assessment is used is decided together with the employee.
        assert_eq!(
            check_order(SessionKind::Assessment, facts(OrderStatus::Active)),
            Err(SessionRefusal::AssessmentWithoutConsent)
        );
        let mut consented = facts(OrderStatus::Active);
        consented.assessment_consent = true;
        assert_eq!(check_order(SessionKind::Assessment, consented), Ok(()));
    }

    #[test]
    fn regular_sessions_stay_within_the_budget_and_the_intake_never_counts() {
        // 002: 8 sessions; the intake is free.
        let mut full = facts(OrderStatus::Active);
        full.used = 5;
        full.planned = 3;
        assert!(matches!(
            check_order(SessionKind::Regular, full),
            Err(SessionRefusal::BudgetExhausted {
                budget: 8,
                used: 5,
                planned: 3
            })
        ));
        let mut assessment = full;
        assessment.assessment_consent = true;
        assert_eq!(check_order(SessionKind::Assessment, assessment), Ok(()));
        assert!(!SessionKind::Intake.counts_against_budget());
        assert!(SessionKind::Regular.counts_against_budget());
    }

    #[test]
    fn sessions_start_in_the_future_and_end_within_the_trajectory() {
        let now = utc("2027-01-10T12:00:00Z");
        let end: NaiveDate = "2027-06-30".parse().unwrap();
        let july: NaiveDate = "2027-07-01".parse().unwrap();
        assert_eq!(
            check_time(SessionKind::Regular, now, end, end, now),
            Err(SessionRefusal::InThePast)
        );
        let later = now + Duration::hours(1);
        assert_eq!(
            check_time(SessionKind::Regular, later, end, end, now),
            Ok(())
        );
        assert_eq!(
            check_time(SessionKind::Regular, later, july, end, now),
            Err(SessionRefusal::OutsideTrajectory { end_date: end })
        );
        // Follow-ups come months after the end (002).
        assert_eq!(
            check_time(SessionKind::FollowUp, later, july, end, now),
            Ok(())
        );
    }

    #[test]
    fn a_place_goes_with_its_format() {
        let pointers = |f, l, m| -> Vec<String> {
            check_place(f, l, m)
                .into_iter()
                .map(|e| e.pointer)
                .collect()
        };
        assert_eq!(pointers(MeetingFormat::InPerson, None, None), ["/location"]);
        assert!(pointers(MeetingFormat::InPerson, Some("Utrecht, room 4"), None).is_empty());
        assert_eq!(
            pointers(MeetingFormat::Video, None, Some("http://x")),
            ["/meeting_link"]
        );
        assert!(pointers(MeetingFormat::Video, None, Some("https://meet.example/abc")).is_empty());
        assert_eq!(
            pointers(
                MeetingFormat::Phone,
                Some("here"),
                Some("https://x.example")
            ),
            ["/location", "/meeting_link"]
        );
    }

    #[test]
    fn a_series_keeps_its_time_of_day_across_the_clock_change() {
        // Every week on Tuesday 10:00 in Amsterdam, from 16 March 2027: 09:00 UTC in winter,
        // 08:00 UTC after the clocks go forward on 28 March.
        let first = utc("2027-03-16T09:00:00Z");
        let starts = series_starts(chrono_tz::Europe::Amsterdam, first, 1, 3);
        assert_eq!(
            starts,
            vec![
                first,
                utc("2027-03-23T09:00:00Z"),
                utc("2027-03-30T08:00:00Z")
            ]
        );
        // Every two weeks.
        let fortnightly = series_starts(chrono_tz::Europe::Amsterdam, first, 2, 2);
        assert_eq!(fortnightly[1], utc("2027-03-30T08:00:00Z"));
        // A first session in the repeated hour (the second 02:30 on 31 October 2027) stays as
        // asked, and a week later is 02:30 again, in winter time.
        let repeated = utc("2027-10-31T01:30:00Z");
        let starts = series_starts(chrono_tz::Europe::Amsterdam, repeated, 1, 2);
        assert_eq!(starts, vec![repeated, utc("2027-11-07T01:30:00Z")]);
        // 02:30 on a Sunday in March 2027 does not exist on the 28th: that one moves to 03:00.
        let skipped = series_starts(
            chrono_tz::Europe::Amsterdam,
            utc("2027-03-21T01:30:00Z"),
            1,
            2,
        );
        assert_eq!(skipped[1], utc("2027-03-28T01:00:00Z"));
    }

    #[test]
    fn a_series_is_bounded_and_has_no_intakes() {
        let series = NewSeries {
            starts_at: utc("2027-03-16T09:00:00Z"),
            every_weeks: 9,
            count: 1,
            duration_minutes: 60,
            kind: SessionKind::Intake,
            format: MeetingFormat::Phone,
            location: None,
            meeting_link: None,
            outside_hours: false,
            preview: false,
        };
        let pointers: Vec<String> = series
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        assert_eq!(pointers, ["/every_weeks", "/count", "/kind"]);
    }

    #[test]
    fn durations_are_bounded_in_steps_of_five() {
        assert!(check_duration("/d", 60).is_none());
        for bad in [0, 10, 62, 245] {
            assert!(check_duration("/d", bad).is_some(), "{bad}");
        }
    }
}
