//! Webhook subscriptions and their deliveries, as the subscribing organisation sees them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::webhooks::{Attempt, Delivery, Webhook};
use crate::domain::webhook::DisabledReason;

/// A subscription of an URL to event types. Its signing secret is shown once, when it is
/// created or rotated.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "https://hr.example.com/trajectum/webhooks")]
    pub url: String,
    pub description: String,
    /// The event types delivered (API.md "Events").
    #[schema(example = json!(["order.accepted", "session.scheduled"]))]
    pub event_types: Vec<String>,
    /// Whether events are delivered. A disabled subscription receives nothing; what it missed
    /// meanwhile is in `GET /events`.
    pub enabled: bool,
    /// Why it was disabled, when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
    /// After a rotation, until when the previous secret signs beside the new one.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::views::time::rfc3339_opt"
    )]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Pass as `If-Match` (quoted) to change it only if nobody else did.
    pub version: i32,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// Why a subscription is disabled, and since when. `PATCH` it with `"enabled": true` to
/// enable it again.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disabled {
    pub reason: DisabledReason,
    /// In a sentence, e.g. which delivery failed for a day and its last answer.
    pub detail: String,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub at: DateTime<Utc>,
}

impl WebhookView {
    pub fn build(webhook: &Webhook, now: DateTime<Utc>) -> WebhookView {
        WebhookView {
            id: webhook.id.clone(),
            url: webhook.url.clone(),
            description: webhook.description.clone(),
            event_types: webhook.event_types.0.clone(),
            enabled: webhook.enabled,
            disabled: match (&webhook.disabled_reason, webhook.disabled_at) {
                (Some(reason), Some(at)) if !webhook.enabled => Some(Disabled {
                    reason: DisabledReason::parse(reason).unwrap_or(DisabledReason::ByRequest),
                    detail: webhook.disabled_detail.clone().unwrap_or_default(),
                    at: at.and_utc(),
                }),
                _ => None,
            },
            previous_secret_expires_at: webhook
                .previous_until
                .filter(|until| webhook.previous_secret.is_some() && until.and_utc() > now)
                .map(|until| until.and_utc()),
            version: webhook.version,
            created_at: webhook.created_at.and_utc(),
            updated_at: webhook.updated_at.and_utc(),
        }
    }
}

/// A subscription just created: with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret (Standard Webhooks, `whsec_` and base64). Keep it: it is not shown
    /// again.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

/// A new signing secret, shown this once; the previous one signs beside it until
/// `previous_secret_expires_at`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedSecret {
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub previous_secret_expires_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookPage {
    pub data: Vec<WebhookView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One event (or ping) sent to a subscription, with every attempt at it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// The `webhook-id` header: the same on every attempt and redelivery, so a receiver drops
    /// one it has seen.
    #[schema(format = Uuid)]
    pub id: String,
    /// `ping`, or the event's type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event delivered (none for a ping).
    #[schema(format = Uuid)]
    pub event_id: Option<String>,
    /// The event's number in the organisation's log (none for a ping).
    pub sequence: Option<i64>,
    /// `pending` (to be sent, or tried again at `next_attempt_at`), `delivered`, or `failed`
    /// (for a day, or the receiver is gone).
    #[schema(example = "delivered")]
    pub status: String,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::views::time::rfc3339_opt"
    )]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::views::time::rfc3339_opt"
    )]
    pub delivered_at: Option<DateTime<Utc>>,
    pub attempts: Vec<AttemptView>,
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub created_at: DateTime<Utc>,
}

/// One attempt: what the receiver answered, and how long it took.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    #[serde(serialize_with = "crate::views::time::rfc3339")]
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status code; none when no answer came.
    pub status_code: Option<i32>,
    /// Why no answer came, or why it was not taken (a timeout, a refused address).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The start of the receiver's response body (at most 1 KiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    pub duration_ms: i32,
}

impl DeliveryView {
    pub fn build(delivery: Delivery, attempts: &[Attempt]) -> DeliveryView {
        let pending = delivery.status == crate::db::webhooks::PENDING;
        DeliveryView {
            attempts: attempts
                .iter()
                .filter(|a| a.delivery_id == delivery.id)
                .map(|a| AttemptView {
                    attempted_at: a.attempted_at.and_utc(),
                    status_code: a.status_code,
                    error: a.error.clone(),
                    response_body: a.response_body.clone(),
                    duration_ms: a.duration_ms,
                })
                .collect(),
            id: delivery.id,
            event_type: delivery.event_type,
            event_id: delivery.event_id,
            sequence: (delivery.position > 0).then_some(delivery.position),
            status: delivery.status,
            next_attempt_at: pending.then(|| delivery.next_attempt_at.and_utc()),
            delivered_at: delivery.delivered_at.map(|t| t.and_utc()),
            created_at: delivery.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    /// Newest first.
    pub data: Vec<DeliveryView>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}
