//! What erasure answers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// An order whose coachee's personal data was erased.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erasure {
    #[schema(format = Uuid)]
    pub order_id: String,
    pub erased_at: DateTime<Utc>,
    /// The planner's user id, or `trajectum` for the automatic erasure after close.
    pub erased_by: String,
}

/// Everything held about the coachee of one order (GDPR art. 15 and 20), table by table: each a
/// list of rows, each row its columns (secrets left out). The README's map of personal data
/// says what each column holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct Export {
    #[schema(format = Uuid)]
    pub order_id: String,
    pub exported_at: DateTime<Utc>,
    /// Whether the coach's notes (a session's notes, the intake's private note) and the closing
    /// review are in it: in the coachee's own export, not in the planner's (planners never read
    /// them).
    pub notes_included: bool,
    /// `orders`, `consents`, `intakes`, `plans`, `order_extensions`, `sessions`,
    /// `session_notes`, `closing_reviews`, `follow_ups`, `coachee_links`, `events`.
    #[schema(value_type = Object)]
    pub data: serde_json::Map<String, serde_json::Value>,
}
