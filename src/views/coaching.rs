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
    /// Whether completing would be accepted now (no errors): `POST …/intake/complete` for the
    /// intake, `POST …/complete` for the closing review.
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

/// One quality of the closing review, with the question it is reviewed by (000).
#[derive(Debug, Serialize, ToSchema)]
pub struct QualityView {
    pub quality: String,
    /// "What happens if you have too much …?"
    pub question: String,
    /// What the plan does about it; absent until discussed.
    pub answer: Option<String>,
}

/// The closing review (000), for the coaching relationship.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosingReviewView {
    pub qualities: Vec<QualityView>,
    /// The closing summary; the employer reads it only with the coachee's consent to share.
    pub summary: Option<String>,
    /// Also the `ETag`; 0 before the first save.
    pub version: i32,
}

impl ClosingReviewView {
    pub fn build(review: crate::domain::closing::ClosingReview, version: i32) -> Self {
        ClosingReviewView {
            qualities: review
                .qualities
                .into_iter()
                .map(|q| QualityView {
                    question: crate::domain::closing::ClosingReview::question(&q.quality),
                    quality: q.quality,
                    answer: q.answer,
                })
                .collect(),
            summary: review.summary,
            version,
        }
    }
}
