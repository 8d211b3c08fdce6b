//! Webhooks (issue 18): an organisation's subscriptions (by its HR users and systems, or the
//! provider's planners), their deliveries, and the deliverer's two steps, which decide the next
//! delivery of a subscription and record what its receiver answered (`crate::delivery` sends in
//! between). A subscription's events are those its organisation is told of, as its timeline and
//! events feed show them (`views::event::FeedEvent`).

use chrono::{DateTime, Duration, Utc};

use crate::clock::new_id;
use crate::db::webhooks::{self as store, Attempt, Delivery, Webhook};
use crate::db::{self, events, jobs, DbConnection, Json};
use crate::delivery::Destination;
use crate::domain::principal::{OrganisationKind, Principal};
use crate::domain::webhook::{
    self as rules, after_failure, answer, Answer, DisabledReason, NewWebhook, Retry, WebhookChange,
};
use crate::domain::FieldError;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{check_version, lost_race};
use crate::service::pagination::PageRequest;
use crate::vault::NotesKeys;
use crate::views::event::FeedEvent;
use crate::views::webhook::{
    CreatedWebhook, DeliveryPage, DeliveryView, RotatedSecret, WebhookPage, WebhookView,
};

mod deliverer;
mod deliveries;
mod subscriptions;

pub use deliverer::{next_delivery, record, requeue_stranded, yield_job, Outgoing, Sent, Step};
pub use deliveries::{deliveries, ping, redeliver};
pub use subscriptions::{change, create, delete, get, list, reseal_secrets, rotate_secret};

fn not_found() -> ServiceError {
    ServiceError::NotFound("webhook".into())
}

/// What a secret is sealed for: the webhook, and nothing else sealed with the key.
fn sealed_for(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}")
}

/// 409: the organisation has a subscription for this URL already.
fn url_taken(existing: &Webhook) -> ServiceError {
    let mut extensions = serde_json::Map::new();
    extensions.insert("existing_webhook_id".into(), existing.id.clone().into());
    ServiceError::Taken {
        slug: "webhook-url-taken",
        detail: format!(
            "webhook {} sends to this URL already: change its event types instead",
            existing.id
        ),
        extensions,
    }
}

/// Refuses `url` when another of the organisation's subscriptions has it.
fn check_url_free(
    conn: &mut DbConnection,
    organisation_id: &str,
    url: &str,
    except: Option<&str>,
) -> ServiceResult<()> {
    match store::find_by_url(conn, organisation_id, url)? {
        Some(existing) if Some(existing.id.as_str()) != except => Err(url_taken(&existing)),
        _ => Ok(()),
    }
}

fn kind_of(caller: &Principal) -> OrganisationKind {
    caller.role.organisation_kind()
}

fn invalid_if_any(errors: Vec<FieldError>) -> ServiceResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

/// The caller's organisation's subscription `id` (another's is not found).
fn own(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<Webhook> {
    store::find(conn, &caller.organisation_id, id)?.ok_or_else(not_found)
}
