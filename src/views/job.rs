//! A job of the service's own, as the provider's planners see it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::jobs::Job;

/// Work the service does on its own: booking a follow-up (`follow_up.book`), the first-session
/// check (`alliance.check`), erasing coachees' data a time after close (`privacy.erase_closed`).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(example = "follow_up.book")]
    pub kind: String,
    /// `queued` (waiting or being tried again), `done`, or `parked` (failed for good: retry it).
    #[schema(example = "parked")]
    pub status: String,
    /// What the job is about: ids only, e.g. `{"follow_up_id": "…"}`.
    #[schema(value_type = Object)]
    pub subject: serde_json::Value,
    /// When it runs next (or ran last).
    pub run_at: DateTime<Utc>,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        JobView {
            id: job.id,
            kind: job.kind,
            status: job.status,
            subject: job.payload.0,
            run_at: job.run_at.and_utc(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            last_error: job.last_error,
            updated_at: job.updated_at.and_utc(),
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobPage {
    pub data: Vec<JobView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}
