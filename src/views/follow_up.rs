//! A follow-up (002), as much of it as the caller may see, and the employer's policy.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::follow_ups::FollowUp;
use crate::domain::follow_up::{FollowUpFlag, FollowUpStatus, Results};
use crate::domain::visibility::Audience;

/// The follow-up's session, when one is booked.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpSession {
    #[schema(format = Uuid)]
    pub id: String,
    pub starts_at: DateTime<Utc>,
}

/// A follow-up a few months after the end: whether the results last (002).
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub order_id: String,
    /// 1 or 2.
    pub number: i32,
    /// The day it is due, on the provider's calendar.
    pub due_on: NaiveDate,
    pub status: FollowUpStatus,
    /// Why a planner must look at it (when `flagged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag: Option<FollowUpFlag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<FollowUpSession>,
    /// Why it was skipped: the provider's side only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Whether the results lasted, once its outcome is recorded: reported to the employer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<Results>,
    /// The coach's note on the outcome: the employer reads it only with the coachee's consent to
    /// share a summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome_at: Option<DateTime<Utc>>,
    /// Also the `ETag`.
    pub version: i32,
}

impl FollowUpView {
    /// The follow-up as `audience` sees it; `shared` when the coachee consents to share a
    /// summary with the employer, `starts_at` its session's start.
    pub fn build(
        follow_up: FollowUp,
        audience: Audience,
        shared: bool,
        starts_at: Option<DateTime<Utc>>,
    ) -> Self {
        let provider_side = audience.sees_event_details();
        FollowUpView {
            session: follow_up
                .session_id
                .zip(starts_at)
                .map(|(id, starts_at)| FollowUpSession { id, starts_at }),
            id: follow_up.id,
            order_id: follow_up.order_id,
            number: follow_up.number,
            due_on: follow_up.due_on,
            status: follow_up.status,
            flag: follow_up.flag.filter(|_| provider_side),
            skip_reason: follow_up.skip_reason.filter(|_| provider_side),
            results: follow_up.results,
            note: follow_up
                .outcome_note
                .filter(|_| audience.sees_shared_summary(shared)),
            outcome_at: follow_up.outcome_at.map(|t| t.and_utc()),
            version: follow_up.version,
        }
    }
}

/// Follow-ups, due first first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpPage {
    pub data: Vec<FollowUpView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// An employer's follow-up policy, with its version.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpPolicyView {
    /// Days after completion at which each follow-up is due.
    pub days: Vec<u32>,
    /// Also the `ETag`; 0 while the default (002) applies.
    pub version: i32,
}
