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
