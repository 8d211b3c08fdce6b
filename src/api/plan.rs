//! The plan: `GET/PUT /orders/{id}/plan`, `PATCH /orders/{id}/plan/tasks/{task_id}`.
//!
//! Confidential like the intake: the employer sees the agreed goals only through the order's
//! shared summary, with the coachee's consent (`crate::service::plan`).

use actix_web::{get, patch, put, web, HttpRequest, HttpResponse};
use uuid::Uuid;

use crate::api::extract::Json;
use crate::api::if_match;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, Coaches, ProviderStaff};
use crate::domain::plan::{PlanInput, Task, TaskProgress};
use crate::error::ApiResult;
use crate::service::plan;
use crate::state::AppState;
use crate::views::coaching::PlanView;

/// Read the plan.
#[utoipa::path(
    tag = "plan",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The plan", body = PlanView, headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/orders/{id}/plan")]
pub async fn get_plan(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let view =
        respond::read_confidential(&state, move |conn, _| plan::get(conn, &caller, &id)).await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Replace the plan.
///
/// Development points, and goals broken into tasks phrased as things to do (004), each with an
/// optional target count and due date; `planned_sessions` and `planned_end`. Send a task's `id`
/// to keep it (and its progress); tasks without one are new. `If-Match` is honoured.
#[utoipa::path(
    tag = "plan",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read")),
    request_body = PlanInput,
    responses(
        (status = 200, description = "The saved plan", body = PlanView),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/orders/{id}/plan")]
pub async fn put_plan(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    Json(input): Json<PlanInput>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let view = respond::call(&state, move |conn, now| {
        plan::replace(conn, now, &caller, &id, expected, input)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Record progress on a task.
#[utoipa::path(
    tag = "plan",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id"), ("task_id" = Uuid, Path, description = "The task's id")),
    request_body = TaskProgress,
    responses(
        (status = 200, description = "The task", body = Task),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[patch("/orders/{id}/plan/tasks/{task_id}")]
pub async fn update_task(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    path: web::Path<(Uuid, Uuid)>,
    Json(progress): Json<TaskProgress>,
) -> ApiResult<web::Json<Task>> {
    let (id, task_id) = path.into_inner();
    let (id, task_id) = (id.to_string(), task_id.to_string());
    respond::call(&state, move |conn, now| {
        plan::record_progress(conn, now, &caller, &id, &task_id, progress)
    })
    .await
    .map(web::Json)
}
