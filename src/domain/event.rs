//! What happened, one typed event per step (API.md "Events"): to an order, or to an
//! organisation's own things (its coaches, their availability, its settings). Each event is
//! written in the same transaction as the change it records, with the version of its payload's
//! shape, to the order's timeline (for an order's) and to the event log of each organisation that
//! may see it, which webhooks and the events feed read.
//!
//! Payloads never carry confidential content: no notes, no intake or plan text, no reasons or
//! substantiations, no personal data; only ids, counts, dates, flags and the names of states and
//! kinds. What an audience sees of a payload is `domain::visibility` (the employer sees each
//! step's type, statuses, role and time; the details are for the provider's side).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::alliance::AllianceRisk;
use crate::domain::consent::ConsentKind;
use crate::domain::follow_up::{FollowUpFlag, Results};
use crate::domain::order::{ContactChannel, IntakeDecision};
use crate::domain::principal::OrganisationKind;
use crate::domain::session::{CancelledFor, MeetingFormat, SessionKind};

/// One step in an order's life, with its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum Event {
    /// The employer commissioned the order; first contact is due at `contact_due_at` (004).
    #[serde(rename = "order.created")]
    OrderCreated { contact_due_at: DateTime<Utc> },
    /// Someone signed up to the employer's invitation campaign (004); `repeat` when the same
    /// person did again and kept their first order. For a confidential campaign the employer is
    /// told of the sign-up without the order (no `order_id`), and only of a first one.
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted {
        invitation_id: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        repeat: bool,
    },
    /// The employer changed the order's details.
    #[serde(rename = "order.updated")]
    OrderUpdated {},
    /// A coach was assigned to a submitted order.
    #[serde(rename = "order.accepted")]
    OrderAccepted { coach_id: String },
    /// Another coach was assigned.
    #[serde(rename = "order.coach_changed")]
    CoachChanged { coach_id: String },
    /// First contact with the coachee was made; `late` when after it was due (004).
    #[serde(rename = "order.contacted")]
    OrderContacted {
        channel: ContactChannel,
        contacted_at: DateTime<Utc>,
        late: bool,
    },
    #[serde(rename = "order.cancelled")]
    OrderCancelled {},
    /// More sessions or a later end (002).
    #[serde(rename = "order.extended")]
    OrderExtended {
        added_sessions: u32,
        session_budget: u32,
        end_date: NaiveDate,
    },
    /// The trajectory is finished, its pitfalls reviewed (000).
    #[serde(rename = "order.completed")]
    OrderCompleted {},
    /// The intake decided (002).
    #[serde(rename = "intake.completed")]
    IntakeCompleted { decision: IntakeDecision },
    /// The plan changed: its size and progress, never its content.
    #[serde(rename = "plan.updated")]
    PlanUpdated {
        goals: u32,
        tasks: u32,
        tasks_done: u32,
    },
    #[serde(rename = "coachee_link.issued")]
    CoacheeLinkIssued {
        link_id: String,
        expires_at: DateTime<Utc>,
    },
    #[serde(rename = "coachee_link.revoked")]
    CoacheeLinksRevoked { links: u32 },
    #[serde(rename = "consent.given")]
    ConsentGiven { consent: ConsentKind },
    /// A consent was withdrawn; withdrawing the assessment's cancels a planned one (002).
    #[serde(rename = "consent.withdrawn")]
    ConsentWithdrawn {
        consent: ConsentKind,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        assessment_cancelled: bool,
    },
    /// A session was booked (the intake's moves the order to `intake_scheduled`).
    #[serde(rename = "session.scheduled")]
    SessionScheduled {
        session_id: String,
        kind: SessionKind,
        format: MeetingFormat,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    /// A planned session moved (or changed its length or format).
    #[serde(rename = "session.rescheduled")]
    SessionRescheduled {
        session_id: String,
        kind: SessionKind,
        format: MeetingFormat,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    },
    /// A session was called off; `counts_against_budget` when the coachee's side did so late.
    #[serde(rename = "session.cancelled")]
    SessionCancelled {
        session_id: String,
        kind: SessionKind,
        requested_by: CancelledFor,
        counts_against_budget: bool,
    },
    /// A session took place.
    #[serde(rename = "session.held")]
    SessionHeld {
        session_id: String,
        kind: SessionKind,
    },
    /// The coachee did not come.
    #[serde(rename = "session.no_show")]
    SessionNoShow {
        session_id: String,
        kind: SessionKind,
    },
    /// The working relationship is at risk after the first session (004): for the provider only.
    #[serde(rename = "alliance.at_risk")]
    AllianceAtRisk {
        session_id: String,
        reason: AllianceRisk,
    },
    /// A follow-up was planned when the trajectory completed (002).
    #[serde(rename = "follow_up.planned")]
    FollowUpPlanned {
        follow_up_id: String,
        number: u32,
        due_on: NaiveDate,
    },
    /// A follow-up session was booked for it.
    #[serde(rename = "follow_up.scheduled")]
    FollowUpScheduled {
        follow_up_id: String,
        session_id: String,
        starts_at: DateTime<Utc>,
    },
    /// The service could not book it: a planner looks at it.
    #[serde(rename = "follow_up.flagged")]
    FollowUpFlagged {
        follow_up_id: String,
        flag: FollowUpFlag,
    },
    /// It is due on another date.
    #[serde(rename = "follow_up.moved")]
    FollowUpMoved {
        follow_up_id: String,
        due_on: NaiveDate,
    },
    /// It will not be held.
    #[serde(rename = "follow_up.skipped")]
    FollowUpSkipped { follow_up_id: String },
    /// Its outcome: whether the results lasted (002).
    #[serde(rename = "follow_up.completed")]
    FollowUpCompleted {
        follow_up_id: String,
        results: Results,
    },
    /// The trajectory is done, its follow-ups included.
    #[serde(rename = "order.closed")]
    OrderClosed {},
    /// The provider added a coach (an organisation's event).
    #[serde(rename = "coach.added")]
    CoachAdded { coach_id: String },
    /// A coach's profile changed: which fields, never their values.
    #[serde(rename = "coach.updated")]
    CoachUpdated {
        coach_id: String,
        changed: Vec<String>,
    },
    /// A coach was given a login.
    #[serde(rename = "coach.login_granted")]
    CoachLoginGranted { coach_id: String },
    /// A coach's working hours or exceptions changed.
    #[serde(rename = "availability.updated")]
    AvailabilityUpdated { coach_id: String },
    /// The provider changed its settings.
    #[serde(rename = "provider_settings.updated")]
    ProviderSettingsUpdated {
        coachee_self_service: bool,
        late_cancellation_hours: u32,
    },
    /// The employer changed when its orders are followed up.
    #[serde(rename = "follow_up_policy.updated")]
    FollowUpPolicyUpdated { days: Vec<u32> },
}

/// A stored event that cannot be read back as an [`Event`]: an unknown type, a version newer than
/// this build, or a payload of another shape.
#[derive(Debug, thiserror::Error)]
#[error("the stored {name} event (payload version {version}) cannot be read: {cause}")]
pub struct Unreadable {
    pub name: String,
    pub version: i32,
    pub cause: String,
}

/// Which organisations are told of events of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Told {
    /// The order's employer and provider.
    Both,
    /// The provider alone: its own changes, and how the coachee rates the relationship (004).
    Provider,
    /// The employer alone: its own settings.
    Employer,
}

impl Told {
    pub fn includes(self, kind: OrganisationKind) -> bool {
        match self {
            Told::Both => true,
            Told::Provider => kind == OrganisationKind::Provider,
            Told::Employer => kind == OrganisationKind::Employer,
        }
    }
}

impl Event {
    /// Every event type, as [`Event::name`] gives them.
    pub const TYPES: [&'static str; 34] = [
        "order.created",
        "invitation.accepted",
        "order.updated",
        "order.accepted",
        "order.coach_changed",
        "order.contacted",
        "order.cancelled",
        "order.extended",
        "order.completed",
        "intake.completed",
        "plan.updated",
        "coachee_link.issued",
        "coachee_link.revoked",
        "consent.given",
        "consent.withdrawn",
        "session.scheduled",
        "session.rescheduled",
        "session.cancelled",
        "session.held",
        "session.no_show",
        "alliance.at_risk",
        "follow_up.planned",
        "follow_up.scheduled",
        "follow_up.flagged",
        "follow_up.moved",
        "follow_up.skipped",
        "follow_up.completed",
        "order.closed",
        "coach.added",
        "coach.updated",
        "coach.login_granted",
        "availability.updated",
        "provider_settings.updated",
        "follow_up_policy.updated",
    ];

    /// Who is told of events of type `name` (their event logs, webhooks and feeds); `None` for
    /// a name that is no event type.
    pub fn audience_of_type(name: &str) -> Option<Told> {
        if !Event::TYPES.contains(&name) {
            return None;
        }
        Some(match name {
            "alliance.at_risk"
            | "coach.added"
            | "coach.updated"
            | "coach.login_granted"
            | "availability.updated"
            | "provider_settings.updated" => Told::Provider,
            "follow_up_policy.updated" => Told::Employer,
            _ => Told::Both,
        })
    }

    /// The event's type, e.g. `order.created`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::OrderCreated { .. } => "order.created",
            Event::InvitationAccepted { .. } => "invitation.accepted",
            Event::OrderUpdated {} => "order.updated",
            Event::OrderAccepted { .. } => "order.accepted",
            Event::CoachChanged { .. } => "order.coach_changed",
            Event::OrderContacted { .. } => "order.contacted",
            Event::OrderCancelled {} => "order.cancelled",
            Event::OrderExtended { .. } => "order.extended",
            Event::OrderCompleted {} => "order.completed",
            Event::IntakeCompleted { .. } => "intake.completed",
            Event::PlanUpdated { .. } => "plan.updated",
            Event::CoacheeLinkIssued { .. } => "coachee_link.issued",
            Event::CoacheeLinksRevoked { .. } => "coachee_link.revoked",
            Event::ConsentGiven { .. } => "consent.given",
            Event::ConsentWithdrawn { .. } => "consent.withdrawn",
            Event::SessionScheduled { .. } => "session.scheduled",
            Event::SessionRescheduled { .. } => "session.rescheduled",
            Event::SessionCancelled { .. } => "session.cancelled",
            Event::SessionHeld { .. } => "session.held",
            Event::SessionNoShow { .. } => "session.no_show",
            Event::AllianceAtRisk { .. } => "alliance.at_risk",
            Event::CoachAdded { .. } => "coach.added",
            Event::CoachUpdated { .. } => "coach.updated",
            Event::CoachLoginGranted { .. } => "coach.login_granted",
            Event::AvailabilityUpdated { .. } => "availability.updated",
            Event::ProviderSettingsUpdated { .. } => "provider_settings.updated",
            Event::FollowUpPlanned { .. } => "follow_up.planned",
            Event::FollowUpScheduled { .. } => "follow_up.scheduled",
            Event::FollowUpFlagged { .. } => "follow_up.flagged",
            Event::FollowUpMoved { .. } => "follow_up.moved",
            Event::FollowUpSkipped { .. } => "follow_up.skipped",
            Event::FollowUpCompleted { .. } => "follow_up.completed",
            Event::OrderClosed {} => "order.closed",
            Event::FollowUpPolicyUpdated { .. } => "follow_up_policy.updated",
        }
    }

    /// The version of the payloads' shape this build writes. A change to an event's payload that
    /// an older reader could not read raises it, and [`Event::from_stored`] learns to read the
    /// older shape.
    pub const DATA_VERSION: i32 = 1;

    /// The event back from what was stored: its type, the version of its payload's shape, and
    /// the payload.
    pub fn from_stored(
        name: &str,
        version: i32,
        data: serde_json::Value,
    ) -> Result<Event, Unreadable> {
        let unreadable = |cause: String| Unreadable {
            name: name.to_string(),
            version,
            cause,
        };
        match version {
            1 => Event::from_parts(name, data).map_err(|e| unreadable(e.to_string())),
            _ => Err(unreadable(format!(
                "this build reads payload versions up to {}",
                Event::DATA_VERSION
            ))),
        }
    }

    /// Whether the event is about an organisation's own things rather than an order.
    pub fn is_organisations(&self) -> bool {
        matches!(
            self,
            Event::CoachAdded { .. }
                | Event::CoachUpdated { .. }
                | Event::CoachLoginGranted { .. }
                | Event::AvailabilityUpdated { .. }
                | Event::ProviderSettingsUpdated { .. }
                | Event::FollowUpPolicyUpdated { .. }
        )
    }

    /// The payload alone, as a JSON object.
    pub fn data(&self) -> serde_json::Value {
        let mut tagged = serde_json::to_value(self).expect("events serialise");
        tagged["data"].take()
    }

    /// The event back from its stored type and payload.
    pub fn from_parts(name: &str, data: serde_json::Value) -> Result<Event, serde_json::Error> {
        serde_json::from_value(serde_json::json!({ "type": name, "data": data }))
    }

    /// Whether the employer sees this event's payload, which is otherwise for the provider's side
    /// (`Audience::sees_event_details`): which of its campaigns someone signed up to.
    pub fn details_reach_employer(&self) -> bool {
        matches!(self, Event::InvitationAccepted { .. })
    }

    /// Whether the employer's organisation is told of this event (in its event log). The
    /// provider's always is.
    pub fn reaches_employer(&self) -> bool {
        // How the coachee rates the relationship is not the employer's to know (004).
        !matches!(self, Event::AllianceAtRisk { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn every_event() -> Vec<Event> {
        let at = DateTime::parse_from_rfc3339("2026-11-24T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let id = "019a0000-0000-7000-8000-000000000000".to_string();
        vec![
            Event::OrderCreated { contact_due_at: at },
            Event::InvitationAccepted {
                invitation_id: id.clone(),
                repeat: true,
            },
            Event::OrderUpdated {},
            Event::OrderAccepted {
                coach_id: id.clone(),
            },
            Event::CoachChanged {
                coach_id: id.clone(),
            },
            Event::OrderContacted {
                channel: ContactChannel::Phone,
                contacted_at: at,
                late: false,
            },
            Event::OrderCancelled {},
            Event::OrderExtended {
                added_sessions: 2,
                session_budget: 10,
                end_date: NaiveDate::from_ymd_opt(2027, 6, 1).unwrap(),
            },
            Event::OrderCompleted {},
            Event::IntakeCompleted {
                decision: IntakeDecision::Start,
            },
            Event::PlanUpdated {
                goals: 1,
                tasks: 2,
                tasks_done: 0,
            },
            Event::CoacheeLinkIssued {
                link_id: id,
                expires_at: at,
            },
            Event::CoacheeLinksRevoked { links: 1 },
            Event::ConsentGiven {
                consent: ConsentKind::ShareSummary,
            },
            Event::ConsentWithdrawn {
                consent: ConsentKind::Assessment,
                assessment_cancelled: true,
            },
            Event::SessionScheduled {
                session_id: "019a0000-0000-7000-8000-000000000001".into(),
                kind: SessionKind::Intake,
                format: MeetingFormat::Video,
                starts_at: at,
                ends_at: at,
            },
            Event::SessionRescheduled {
                session_id: "019a0000-0000-7000-8000-000000000001".into(),
                kind: SessionKind::Regular,
                format: MeetingFormat::Phone,
                starts_at: at,
                ends_at: at,
            },
            Event::SessionCancelled {
                session_id: "019a0000-0000-7000-8000-000000000001".into(),
                kind: SessionKind::Regular,
                requested_by: CancelledFor::Coachee,
                counts_against_budget: true,
            },
            Event::SessionHeld {
                session_id: "019a0000-0000-7000-8000-000000000001".into(),
                kind: SessionKind::Regular,
            },
            Event::SessionNoShow {
                session_id: "019a0000-0000-7000-8000-000000000001".into(),
                kind: SessionKind::Regular,
            },
            Event::AllianceAtRisk {
                session_id: "019a0000-0000-7000-8000-000000000001".into(),
                reason: AllianceRisk::NoRating,
            },
            Event::CoachAdded {
                coach_id: "019a0000-0000-7000-8000-000000000002".into(),
            },
            Event::CoachUpdated {
                coach_id: "019a0000-0000-7000-8000-000000000002".into(),
                changed: vec!["email".into(), "time_zone".into()],
            },
            Event::CoachLoginGranted {
                coach_id: "019a0000-0000-7000-8000-000000000002".into(),
            },
            Event::AvailabilityUpdated {
                coach_id: "019a0000-0000-7000-8000-000000000002".into(),
            },
            Event::ProviderSettingsUpdated {
                coachee_self_service: true,
                late_cancellation_hours: 24,
            },
            Event::FollowUpPlanned {
                follow_up_id: "019a0000-0000-7000-8000-000000000003".into(),
                number: 1,
                due_on: NaiveDate::from_ymd_opt(2027, 4, 29).unwrap(),
            },
            Event::FollowUpScheduled {
                follow_up_id: "019a0000-0000-7000-8000-000000000003".into(),
                session_id: "019a0000-0000-7000-8000-000000000001".into(),
                starts_at: at,
            },
            Event::FollowUpFlagged {
                follow_up_id: "019a0000-0000-7000-8000-000000000003".into(),
                flag: FollowUpFlag::NoSlot,
            },
            Event::FollowUpMoved {
                follow_up_id: "019a0000-0000-7000-8000-000000000003".into(),
                due_on: NaiveDate::from_ymd_opt(2027, 5, 6).unwrap(),
            },
            Event::FollowUpSkipped {
                follow_up_id: "019a0000-0000-7000-8000-000000000003".into(),
            },
            Event::FollowUpCompleted {
                follow_up_id: "019a0000-0000-7000-8000-000000000003".into(),
                results: Results::Partly,
            },
            Event::OrderClosed {},
            Event::FollowUpPolicyUpdated {
                days: vec![90, 180],
            },
        ]
    }

    #[test]
    fn every_event_type_is_listed_once_with_who_is_told_of_it() {
        let events = every_event();
        assert_eq!(events.len(), Event::TYPES.len());
        for event in &events {
            assert!(Event::TYPES.contains(&event.name()), "{}", event.name());
            let told = Event::audience_of_type(event.name()).unwrap();
            // The employer's log holds an order's event when it reaches the employer.
            if !event.is_organisations() {
                assert_eq!(
                    told.includes(OrganisationKind::Employer),
                    event.reaches_employer(),
                    "{}",
                    event.name()
                );
                assert!(told.includes(OrganisationKind::Provider));
            }
        }
        let mut names: Vec<_> = Event::TYPES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Event::TYPES.len());
        assert_eq!(Event::audience_of_type("order.teleported"), None);
    }

    #[test]
    fn a_stored_event_is_read_through_its_version_or_not_at_all() {
        for event in every_event() {
            assert_eq!(
                Event::from_stored(event.name(), Event::DATA_VERSION, event.data()).unwrap(),
                event
            );
        }
        let newer = Event::from_stored("order.created", Event::DATA_VERSION + 1, json!({}));
        assert!(newer.unwrap_err().to_string().contains("payload version 2"));
        let reshaped = Event::from_stored("session.held", 1, json!({"session": "x"}));
        assert!(reshaped.is_err());
        assert!(Event::from_stored("order.teleported", 1, json!({})).is_err());
    }

    #[test]
    fn each_event_round_trips_through_its_type_and_payload() {
        for event in every_event() {
            let tagged = serde_json::to_value(&event).unwrap();
            assert_eq!(tagged["type"], event.name(), "{event:?}");
            assert!(event.data().is_object(), "{event:?}");
            assert_eq!(
                Event::from_parts(event.name(), event.data()).unwrap(),
                event
            );
        }
    }

    #[test]
    fn payloads_hold_no_free_text() {
        // Confidential content is free text; an event's strings are ids, times, dates and names
        // of states and kinds only.
        fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
            match value {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
                serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
                _ => {}
            }
        }
        for event in every_event() {
            let mut found = vec![];
            strings(&event.data(), &mut found);
            for s in found {
                let name = s.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                let id = uuid::Uuid::parse_str(&s).is_ok();
                let date = s.parse::<NaiveDate>().is_ok() || s.parse::<DateTime<Utc>>().is_ok();
                assert!(name || id || date, "{} carries {s:?}", event.name());
            }
        }
    }
}
