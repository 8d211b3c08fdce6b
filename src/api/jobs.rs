//! The service's own jobs, for the provider's planners: `GET /jobs`, `POST /jobs/{id}/retry`.

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::Query;
use crate::api::idempotency::IdempotencyKey;
use crate::api::page;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, ProviderAdmins};
use crate::error::{ApiError, ApiResult};
use crate::service::jobs;
use crate::state::AppState;
use crate::views::job::{JobPage, JobView};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JobListParams {
    /// `parked` (the default: failed for good), `queued` or `done`.
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List the provider's jobs.
///
/// Work the service does for the provider on its own (booking follow-ups). A job that failed is
/// tried again with growing waits; after its last attempt it is `parked`, with the reason, for a
/// planner to look at and retry.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = ["provider_admin"])),
    params(JobListParams),
    responses(
        (status = 200, description = "A page of jobs, oldest first", body = JobPage),
    )
)]
#[get("/jobs")]
pub async fn list_jobs(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    Query(params): Query<JobListParams>,
) -> ApiResult<web::Json<JobPage>> {
    let status = params.status.unwrap_or_else(|| "parked".into());
    if !["parked", "queued", "done"].contains(&status.as_str()) {
        return Err(ApiError::BadRequest {
            detail: "status must be parked, queued or done".into(),
            errors: vec![crate::domain::FieldError::new(
                "status",
                "must be parked, queued or done",
            )],
        });
    }
    let page = page(params.limit, params.cursor.as_deref())?;
    respond::read(&state, move |conn, _| {
        jobs::list(conn, &caller, &status, page)
    })
    .await
    .map(web::Json)
}

/// Retry a parked job.
///
/// Queues it again at once, its attempts starting over.
#[utoipa::path(
    tag = "jobs",
    security(("bearer" = ["provider_admin"])),
    params(("id" = Uuid, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job, queued", body = JobView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/jobs/{id}/retry")]
pub async fn retry_job(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        jobs::retry(conn, now, caller, &id).map(|job| Reply::ok(&job))
    })
    .await
}
