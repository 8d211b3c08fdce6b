//! Enqueueing jobs from use cases, in their own transactions (`db::jobs`), and the provider's
//! admins' view of their jobs that failed (list, retry).

use chrono::{DateTime, Utc};

use crate::clock::new_id;
use crate::db::jobs::{self as store, Job};
use crate::db::{self, DbConnection, Json};
use crate::domain::job::{JobKind, DEFAULT_MAX_ATTEMPTS};
use crate::domain::permission::Act;
use crate::domain::principal::Principal;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::pagination::PageRequest;
use crate::views::job::{JobPage, JobView};

/// A job to run at `run_at`, once per `key` of its kind.
pub fn new_job(
    kind: JobKind,
    key: &str,
    organisation_id: Option<&str>,
    payload: serde_json::Value,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Job {
    Job {
        id: new_id(),
        kind: kind.as_str().into(),
        dedupe_key: key.into(),
        organisation_id: organisation_id.map(String::from),
        payload: Json(payload),
        status: store::QUEUED.into(),
        run_at: run_at.naive_utc(),
        attempts: 0,
        max_attempts: DEFAULT_MAX_ATTEMPTS as i32,
        leased_until: None,
        leased_by: None,
        last_error: None,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
        finished_at: None,
    }
}

/// Queues the booking of a follow-up at `run_at` (again, if it was queued before).
pub fn book_follow_up(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    provider_id: &str,
    follow_up_id: &str,
    run_at: DateTime<Utc>,
) -> ServiceResult<()> {
    let job = new_job(
        JobKind::BookFollowUp,
        follow_up_id,
        Some(provider_id),
        serde_json::json!({ "follow_up_id": follow_up_id }),
        run_at,
        now,
    );
    store::enqueue(conn, &job)?;
    Ok(())
}

/// The one key of a periodic kind's job.
const PERIODIC_KEY: &str = "periodic";

/// Makes sure every periodic kind has its job queued (once across all instances: the kind's
/// one key).
pub fn schedule_periodic(conn: &mut DbConnection, now: DateTime<Utc>) -> ServiceResult<()> {
    for kind in JobKind::ALL {
        if kind.period().is_some() {
            let job = new_job(kind, PERIODIC_KEY, None, serde_json::json!({}), now, now);
            if !store::enqueue_once(conn, &job)? {
                // A periodic job must run: one parked by an older version runs again.
                store::revive(conn, kind.as_str(), PERIODIC_KEY, now.naive_utc())?;
            }
        }
    }
    Ok(())
}

fn admins_only(caller: &Principal) -> ServiceResult<()> {
    crate::service::access::require(caller, Act::SeeJobs)?;
    Ok(())
}

/// The provider's jobs in `status` (`parked` ones failed for good), oldest first.
pub fn list(
    conn: &mut DbConnection,
    caller: &Principal,
    status: &str,
    page: PageRequest,
) -> ServiceResult<JobPage> {
    admins_only(caller)?;
    let rows = store::of_organisation(
        conn,
        &caller.organisation_id,
        status,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |j| &j.id);
    Ok(JobPage {
        data: rows.into_iter().map(JobView::from).collect(),
        next_cursor,
    })
}

/// A planner queues a parked job again, its attempts starting over.
pub fn retry(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<JobView> {
    admins_only(caller)?;
    db::write(conn, |conn| {
        let job = store::find(conn, id)?
            .filter(|j| j.organisation_id.as_deref() == Some(caller.organisation_id.as_str()))
            .ok_or_else(|| ServiceError::NotFound("no such job".into()))?;
        if !store::retry(conn, &job.id, now.naive_utc())? {
            return Err(ServiceError::NotNow {
                slug: "job-not-parked",
                detail: format!("the job is {}, not parked", job.status),
            });
        }
        let job =
            store::find(conn, id)?.ok_or_else(|| ServiceError::NotFound("no such job".into()))?;
        Ok(JobView::from(job))
    })
}
