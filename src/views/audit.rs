//! The audit trail as `GET /audit` shows it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::audit::Entry;

/// Who acted.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditActor {
    /// `employer`, `coach`, `provider_admin`, `coachee` or `system` (the service itself).
    pub role: String,
    /// `user`, `client`, `link` (a coachee's link) or `service`.
    #[serde(rename = "type")]
    pub actor_type: String,
    /// The user's, client's or link's id (`trajectum` for the service).
    pub id: String,
}

/// One entry of the audit trail: who did what, when, under which request. No content.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    #[schema(format = Uuid)]
    pub id: String,
    pub at: DateTime<Utc>,
    /// The request's `X-Request-Id` (absent for the worker's jobs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub actor: AuditActor,
    /// The operation: `METHOD /api/v1/route/{id}`; for the service's own work `job KIND` (a job of
    /// the worker's), `erase after N months` or `first-session check: marked at risk`.
    #[schema(example = "PATCH /api/v1/orders/{id}")]
    pub action: String,
    /// The `{id}` the operation names (the job's id for a job, the order's for an erasure or a
    /// mark).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// `change`, or `read` (of confidential content: an intake, a plan, notes, a closing review).
    pub kind: String,
}

impl From<Entry> for AuditEntry {
    fn from(entry: Entry) -> Self {
        AuditEntry {
            id: entry.id,
            at: entry.at.and_utc(),
            request_id: entry.request_id,
            actor: AuditActor {
                role: entry.actor_role,
                actor_type: entry.actor_type,
                id: entry.actor_id,
            },
            action: entry.action,
            resource_id: entry.resource_id,
            kind: entry.kind,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub data: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}
