//! An order as a caller sees it, its timeline, and the coach suggestions for it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::events::StoredEvent;
use crate::db::orders::Order;
use crate::domain::alliance::AllianceRisk;
use crate::domain::commission::Coachee;
use crate::domain::contact;
use crate::domain::event::Event;
use crate::domain::matching::Suggestion;
use crate::domain::order::{
    offered_actions, ContactChannel, IntakeDecision, OrderAction, OrderDetails, OrderStatus,
    TrajectoryKind,
};
use crate::domain::principal::Role;
use crate::domain::visibility::Audience;
use crate::views::session::SessionCounts;
use crate::views::time;

#[derive(Debug, Serialize, ToSchema)]
pub struct CoachSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactStatus {
    /// When first contact with the coachee is due (the same working day, 004).
    #[serde(serialize_with = "time::rfc3339")]
    pub due_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339_opt")]
    pub contacted_at: Option<DateTime<Utc>>,
    pub channel: Option<ContactChannel>,
    /// Not contacted and past due.
    pub overdue: bool,
}

/// What the coachee agreed to share with the employer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedSummary {
    /// The goals agreed in the plan.
    pub goals: Vec<String>,
    /// The solution recommended instead of coaching, if that was the intake's outcome.
    pub alternative: Option<String>,
    /// What the trajectory brought, from its closing review (000), once it completed.
    pub closing_summary: Option<String>,
}

/// An order, as much as the caller may see. An employer never sees coaching content; it sees
/// the agreed goals only when the coachee consented to share them.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    #[schema(format = Uuid)]
    pub id: String,
    pub status: OrderStatus,
    /// Also the `ETag`.
    pub version: i32,
    pub coachee: Coachee,
    #[serde(flatten)]
    pub details: OrderDetails,
    pub kind: Option<TrajectoryKind>,
    pub context: Vec<String>,
    pub session_budget: i32,
    /// Regular sessions used, planned and left of the budget (002).
    pub sessions: SessionCounts,
    pub end_date: NaiveDate,
    /// Employer and provider only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coach: Option<CoachSummary>,
    pub contact: ContactStatus,
    pub intake_decision: Option<IntakeDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_summary: Option<SharedSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The working relationship is at risk after the first session (004): the provider's side
    /// only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alliance_at_risk: Option<AllianceAtRisk>,
    /// What the caller may do now.
    pub allowed_actions: Vec<OrderAction>,
    #[serde(serialize_with = "time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// Why and since when the working relationship is at risk.
#[derive(Debug, Serialize, ToSchema)]
pub struct AllianceAtRisk {
    pub reason: AllianceRisk,
    #[serde(serialize_with = "time::rfc3339")]
    pub since: DateTime<Utc>,
}

/// What a view shows beyond the order's own row.
#[derive(Debug, Default)]
pub struct ViewExtras {
    pub coach_name: Option<String>,
    pub summary: Option<SharedSummary>,
}

impl OrderView {
    /// The order as `audience` (with `role`) sees it at `now` (taking its fields, not copying them).
    pub fn build(
        order: Order,
        audience: Audience,
        role: Role,
        extras: ViewExtras,
        now: DateTime<Utc>,
    ) -> Self {
        let allowed_actions = offered_actions(order.state(), role);
        let sessions = SessionCounts::of(&order);
        let mut details = order.details.0;
        if !audience.sees_commercial() {
            details.purchase_order = None;
        }
        let due = order.contact_due_at.and_utc();
        OrderView {
            id: order.id,
            status: order.status,
            version: order.version,
            coachee: Coachee {
                name: order.coachee_name,
                email: order.coachee_email,
                phone: order.coachee_phone,
            },
            details,
            kind: order.kind,
            context: order.context.0,
            session_budget: order.session_budget,
            sessions,
            end_date: order.end_date,
            external_ref: order.external_ref.filter(|_| audience.sees_commercial()),
            coach: match (order.coach_id, extras.coach_name) {
                (Some(id), Some(name)) => Some(CoachSummary { id, name }),
                _ => None,
            },
            contact: ContactStatus {
                due_at: due,
                contacted_at: order.contacted_at.map(|t| t.and_utc()),
                channel: order.contact_channel,
                overdue: order.status.awaits_contact()
                    && contact::is_overdue(due, order.contacted_at.is_some(), now),
            },
            intake_decision: order.intake_decision,
            shared_summary: extras.summary,
            cancel_reason: order
                .cancel_reason
                .filter(|_| audience != Audience::Coachee),
            alliance_at_risk: match (order.alliance_risk, order.alliance_at_risk_at) {
                (Some(reason), Some(since)) if audience.sees_event_details() => {
                    Some(AllianceAtRisk {
                        reason,
                        since: since.and_utc(),
                    })
                }
                _ => None,
            },
            allowed_actions,
            created_at: order.created_at.and_utc(),
            updated_at: order.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub data: Vec<OrderView>,
    pub next_cursor: Option<String>,
}

/// One step in an order's life, without confidential content.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    #[schema(format = Uuid)]
    pub id: String,
    /// e.g. `order.created`, `order.accepted`, `intake.completed`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub actor_role: Role,
    #[serde(serialize_with = "time::rfc3339")]
    pub occurred_at: DateTime<Utc>,
    /// Details of the step, for the provider's side; left out for the employer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub data: Option<serde_json::Value>,
}

impl TimelineEvent {
    /// A step of the order's timeline: `stored` read back as `event`, which left the order in
    /// `to_status`. An event this build cannot read (`None`) is shown without its details.
    pub fn build(
        stored: StoredEvent,
        event: Option<Event>,
        to_status: OrderStatus,
        audience: Audience,
    ) -> Self {
        TimelineEvent {
            event_type: event
                .as_ref()
                .map_or_else(|| stored.event_type.clone(), |e| e.name().to_string()),
            id: stored.id,
            from_status: stored.from_status,
            to_status,
            actor_role: stored.actor_role,
            occurred_at: stored.occurred_at.and_utc(),
            data: event
                .filter(|_| audience.sees_event_details())
                .map(|e| e.data()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelinePage {
    pub data: Vec<TimelineEvent>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionList {
    /// Best fit first.
    pub data: Vec<Suggestion>,
}
