//! Operations endpoints, outside `/api/v1`: liveness, readiness, metrics.

use std::time::Duration;

use actix_web::{get, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// Liveness: the process is up.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "Alive", body = Health))
)]
#[get("/health/live")]
pub async fn live() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// How long readiness waits for the database: well inside a load balancer's usual 1 s probe
/// timeout, so a database that is down or saturated is a 503, not a timed-out probe.
pub const READINESS_WAIT: Duration = Duration::from_millis(500);

/// Readiness: the database answers (within half a second).
#[utoipa::path(
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Ready to serve", body = Health),
    )
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> ApiResult<web::Json<Health>> {
    // Bounded twice: waiting for a connection, and the whole check (a query on a connection to
    // a host that vanished can hang until TCP gives up).
    let check = db::answers(&state.pool, READINESS_WAIT);
    let answered = actix_web::rt::time::timeout(READINESS_WAIT, check).await;
    if answered != Ok(true) {
        return Err(ApiError::Unavailable("the database does not answer".into()));
    }
    Ok(web::Json(Health { status: "ready" }))
}

/// Prometheus metrics: `trajectum_http_requests_total{method,route,status}`,
/// `trajectum_http_request_duration_seconds`, the database pool's connections, and the job
/// queue: `trajectum_jobs_queued{kind}`, `trajectum_jobs_retrying{kind}`,
/// `trajectum_jobs_oldest_due_age_seconds{kind}`, `trajectum_jobs_parked`.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // The job queue as the database holds it; without the database, the rest still shows.
    let now = state.clock.now().naive_utc();
    let queue = db::read(&state.pool, move |conn| {
        crate::db::jobs::depth(conn, now).map_err(crate::service::ServiceError::from)
    })
    .await;
    if let Ok((depth, parked)) = queue {
        state
            .metrics
            .queue(&crate::metrics::Queue { depth, parked, now });
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&state.pool))
}
