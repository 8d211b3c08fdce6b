//! The intake, its validation and the plan, as the coaching relationship sees them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::intake::{Finding, IntakeDraft};
use crate::domain::plan::Plan;

/// The intake as the caller may see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeView {
    #[serde(flatten)]
    pub draft: IntakeDraft,
    /// Also the `ETag`; 0 before the first save.
    pub version: i32,
    pub completed_at: Option<DateTime<Utc>>,
}

/// What the validation found.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidationReport {
    /// Whether `POST …/intake/complete` would accept the intake now (no errors).
    pub can_complete: bool,
    pub findings: Vec<Finding>,
}

/// The plan with its version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    #[serde(flatten)]
    pub plan: Plan,
    /// Also the `ETag`; 0 before the first save.
    pub version: i32,
}
