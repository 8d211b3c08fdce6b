//! An event as it leaves the service, in the events feed and in webhook payloads: the same
//! envelope for both, built for the audience of the organisation it goes to, exactly as that
//! organisation's timeline shows the step (`views::order::TimelineEvent`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::events::StoredEvent;
use crate::domain::event::Event;
use crate::domain::order::OrderStatus;
use crate::domain::principal::{OrganisationKind, Role};
use crate::domain::visibility::Audience;

/// One event of the caller's organisation, numbered in its log. The employer gets each step's
/// type, statuses, role and time; the provider also its details (`data`). Never confidential
/// content: ids, states, kinds, counts and times only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedEvent {
    /// The event's number in the organisation's log: 1, 2, 3, … without gaps, in commit order.
    /// A receiver of webhooks that sees a number skipped fetches the gap from `GET /events`.
    #[schema(example = 42)]
    pub sequence: i64,
    #[schema(format = Uuid)]
    pub id: String,
    /// e.g. `order.accepted`, `session.scheduled` (API.md "Events").
    #[serde(rename = "type")]
    #[schema(example = "session.scheduled")]
    pub event_type: String,
    /// The version of the shape of `data`.
    #[schema(example = 1)]
    pub version: i32,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub occurred_at: DateTime<Utc>,
    /// The order it is about; absent for an organisation's own change.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_status: Option<OrderStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_status: Option<OrderStatus>,
    pub actor_role: Role,
    /// The step's details, for the provider's side; absent for the employer, but for
    /// `invitation.accepted` (which campaign).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub data: Option<serde_json::Value>,
}

/// The audience an organisation of `kind` is for its own events.
pub fn audience_of(kind: OrganisationKind) -> Audience {
    match kind {
        OrganisationKind::Employer => Audience::Employer,
        OrganisationKind::Provider => Audience::ProviderAdmin,
    }
}

impl FeedEvent {
    /// `stored`, numbered `sequence` in the log of an organisation of `kind`. An event this
    /// build cannot read is sent without its details, and logged.
    pub fn build(sequence: i64, stored: StoredEvent, kind: OrganisationKind) -> FeedEvent {
        let event = stored.event_or_logged();
        FeedEvent {
            sequence,
            event_type: event
                .as_ref()
                .map_or_else(|| stored.event_type.clone(), |e| e.name().to_string()),
            version: if event.is_some() {
                Event::DATA_VERSION
            } else {
                stored.data_version
            },
            occurred_at: stored.occurred_at.and_utc(),
            order_id: stored.order_id,
            from_status: stored.from_status,
            to_status: stored.to_status,
            actor_role: stored.actor_role,
            data: event
                .filter(|e| audience_of(kind).sees_event_details() || e.details_reach_employer())
                .map(|e| e.data()),
            id: stored.id,
        }
    }
}

/// A page of the events feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub data: Vec<FeedEvent>,
    /// Pass as `after` for the next events. Always present: at the end of the log it is where
    /// this page ended, to ask (or wait) for what comes next.
    pub next_cursor: String,
    /// Whether more events follow at once (the page was full).
    pub has_more: bool,
}
