//! The intake and the plan: `GET/PUT /orders/{id}/intake`, `POST …/intake/validate`,
//! `POST …/intake/complete`, `GET/PUT /orders/{id}/plan`, `PATCH …/plan/tasks/{task_id}`.
//!
//! Confidential: the employer never reads these. The provider's planner reads them without the
//! coach's private note. Only the assigned coach writes them.

use actix_web::http::header;
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::extract::Json;
use crate::api::{etag, if_match};
use crate::auth::extract::{Caller, Coaches, ProviderStaff};
use crate::db::orders::{self as store, IntakeRow, PlanRow};
use crate::db::{self, DbConnection};
use crate::domain::intake::{self as rules, Finding, IntakeContext, IntakeDraft, Severity};
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::plan::{Plan, PlanInput, Task, TaskProgress};
use crate::domain::principal::Principal;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::coaching;
use crate::service::orders::{self as lifecycle, Visible};
use crate::state::AppState;

const MAX_TEXT: usize = 5000;

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

fn confidential() -> ApiError {
    ApiError::Forbidden("the intake and plan belong to the coaching relationship".into())
}

fn intake_view(visible: &Visible, mut draft: IntakeDraft, row: Option<&IntakeRow>) -> IntakeView {
    if !visible.audience.sees_private_note() {
        draft.private_note = None;
    }
    IntakeView {
        draft,
        version: row.map_or(0, |r| r.version),
        completed_at: row.and_then(|r| r.completed_at).map(|t| t.and_utc()),
    }
}

fn with_etag(version: i32, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(body)
}

/// The findings for the intake as it stands, with everything the rules look at.
fn findings(
    conn: &mut DbConnection,
    visible: &Visible,
    draft: &IntakeDraft,
) -> ApiResult<Vec<Finding>> {
    let (plan, _) = coaching::load_plan(conn, &visible.order.id)?;
    let assessment_consent = coaching::consent_given(conn, &visible.order.id, "assessment")?;
    Ok(rules::validate(IntakeContext {
        draft,
        plan: &plan,
        session_budget: visible.order.session_budget.max(0) as u32,
        order_end: visible.order.end_date,
        start: Utc::now().date_naive(),
        assessment_consent,
    }))
}

fn check_texts(draft: &IntakeDraft) -> ApiResult<()> {
    let mut errors = vec![];
    for (pointer, value) in [
        ("/reason_note", &draft.reason_note),
        ("/private_note", &draft.private_note),
        ("/decline_reason", &draft.decline_reason),
        ("/alternative", &draft.alternative),
        (
            "/alternative_substantiation",
            &draft.alternative_substantiation,
        ),
    ] {
        if value.as_ref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
            errors.push(FieldError::new(
                pointer,
                format!("must be at most {MAX_TEXT} characters"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Read the intake.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The intake (the private note only for the coach)", body = IntakeView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/orders/{id}/intake")]
pub async fn get_intake(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        let visible = lifecycle::load(conn, &caller, &id)?;
        if !visible.audience.sees_intake() {
            return Err(confidential());
        }
        let (draft, row) = coaching::load_intake(conn, &visible.order.id)?;
        Ok(intake_view(&visible, draft, row.as_ref()))
    })
    .await?;
    Ok(with_etag(view.version, &view))
}

/// Save the intake draft.
///
/// The assigned coach keeps the intake as a draft while the order is `accepted` or
/// `intake_scheduled`; each save replaces it. `If-Match` is honoured.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read")),
    request_body = IntakeDraft,
    responses(
        (status = 200, description = "The saved draft", body = IntakeView),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/orders/{id}/intake")]
pub async fn put_intake(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    Json(draft): Json<IntakeDraft>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    check_texts(&draft)?;
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            lifecycle::check(&caller, &visible, OrderAction::DraftIntake, None)?;
            let (_, row) = coaching::load_intake(conn, &visible.order.id)?;
            let current = row.as_ref().map_or(0, |r| r.version);
            ApiError::check_version("intake", current, expected)?;
            let saved = IntakeRow {
                order_id: visible.order.id.clone(),
                draft: serde_json::to_string(&draft).map_err(anyhow::Error::from)?,
                version: current + 1,
                updated_at: db::now(),
                completed_at: None,
            };
            if !store::save_intake(conn, &saved, row.map(|r| r.version))? {
                return Err(ApiError::PreconditionFailed(
                    "the intake changed while this request ran".into(),
                ));
            }
            Ok(intake_view(&visible, draft, Some(&saved)))
        })
    })
    .await?;
    Ok(with_etag(view.version, &view))
}

/// Check the intake.
///
/// Runs the rules that completing the intake runs, on the saved draft and plan, and changes
/// nothing. Each finding has a stable code, a severity, the JSON pointer of the field (under
/// `/plan` for the plan) and a sentence a coach understands.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The findings", body = ValidationReport),
    )
)]
#[post("/orders/{id}/intake/validate")]
pub async fn validate_intake(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<ValidationReport>> {
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let report = db::run(&state.pool, move |conn| {
        let visible = lifecycle::load(conn, &caller, &id)?;
        let (draft, _) = coaching::load_intake(conn, &visible.order.id)?;
        let findings = findings(conn, &visible, &draft)?;
        Ok(ValidationReport {
            can_complete: !rules::has_errors(&findings),
            findings,
        })
    })
    .await?;
    Ok(web::Json(report))
}

/// Complete the intake.
///
/// Runs the validation; with any error it refuses (422, the findings in `findings` and the
/// errors in `errors`). Otherwise it records the decision and moves the order: start → `active`,
/// decline → `declined`, alternative → `alternative_proposed`. Allowed from `accepted` (the
/// intake happened during the first-contact call, 004) and `intake_scheduled`.
#[utoipa::path(
    tag = "intake",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order after the decision", body = crate::api::orders::OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/intake/complete")]
pub async fn complete_intake(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            let (draft, row) = coaching::load_intake(conn, &visible.order.id)?;
            lifecycle::check(
                &caller,
                &visible,
                OrderAction::CompleteIntake,
                draft.decision,
            )?;
            let findings = findings(conn, &visible, &draft)?;
            if rules::has_errors(&findings) {
                return Err(refused(findings));
            }
            let decision = draft.decision.ok_or_else(|| refused(findings.clone()))?;
            let to = lifecycle::check(
                &caller,
                &visible,
                OrderAction::CompleteIntake,
                Some(decision),
            )?;
            let row =
                row.ok_or_else(|| ApiError::conflict("save the intake before completing it"))?;
            let now = db::now();
            let completed = IntakeRow {
                version: row.version + 1,
                completed_at: Some(now),
                updated_at: now,
                ..row.clone()
            };
            if !store::save_intake(conn, &completed, Some(row.version))? {
                return Err(ApiError::conflict(
                    "the intake changed while this request ran",
                ));
            }
            let mut order = visible.order.clone();
            order.intake_decision = Some(decision.as_str().to_string());
            let order = lifecycle::save(
                conn,
                &caller,
                order,
                visible.status,
                to,
                "intake.completed",
                json!({"decision": decision.as_str()}),
            )?;
            let status: OrderStatus = to;
            crate::api::orders::view(
                conn,
                &caller,
                &Visible {
                    order,
                    audience: visible.audience,
                    status,
                },
            )
        })
    })
    .await?;
    Ok(with_etag(view.version, &view))
}

fn refused(findings: Vec<Finding>) -> ApiError {
    let errors: Vec<FieldError> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| FieldError::new(f.pointer.clone(), f.message.clone()))
        .collect();
    let mut extensions = serde_json::Map::new();
    extensions.insert("findings".into(), json!(findings));
    ApiError::Unprocessable {
        detail: format!("the intake cannot be completed: {} error(s)", errors.len()),
        errors,
        extensions,
    }
}

/// The plan with its version.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    #[serde(flatten)]
    pub plan: Plan,
    /// Also the `ETag`; 0 before the first save.
    pub version: i32,
}

/// Read the plan.
#[utoipa::path(
    tag = "plan",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The plan", body = PlanView, headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/orders/{id}/plan")]
pub async fn get_plan(
    state: web::Data<AppState>,
    caller: Caller<crate::auth::extract::Staff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        let visible = lifecycle::load(conn, &caller, &id)?;
        if !visible.audience.sees_plan() {
            return Err(confidential());
        }
        let (plan, row) = coaching::load_plan(conn, &visible.order.id)?;
        Ok(PlanView {
            plan,
            version: row.map_or(0, |r| r.version),
        })
    })
    .await?;
    Ok(with_etag(view.version, &view))
}

/// Replace the plan.
///
/// Development points, and goals broken into tasks phrased as things to do (004), each with an
/// optional target count and due date; `planned_sessions` and `planned_end`. Send a task's `id`
/// to keep it (and its progress); tasks without one are new. `If-Match` is honoured.
#[utoipa::path(
    tag = "plan",
    security(("bearer" = [])),
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
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            lifecycle::check(&caller, &visible, OrderAction::UpdatePlan, None)?;
            let (previous, row) = coaching::load_plan(conn, &visible.order.id)?;
            let current = row.as_ref().map_or(0, |r| r.version);
            ApiError::check_version("plan", current, expected)?;
            let plan = input
                .apply(&previous, db::new_id)
                .map_err(ApiError::validation)?;
            // A running trajectory stays within what the order pays for; more is an extension.
            if visible.status == OrderStatus::Active {
                let overruns = plan.overruns(
                    visible.order.session_budget.max(0) as u32,
                    visible.order.end_date,
                );
                if !overruns.is_empty() {
                    return Err(ApiError::validation(
                        overruns
                            .into_iter()
                            .map(|o| FieldError::new(format!("/{}", o.field), o.message))
                            .collect(),
                    ));
                }
            }
            save_plan(conn, &caller, &visible, &plan, current)?;
            Ok(PlanView {
                plan,
                version: current + 1,
            })
        })
    })
    .await?;
    Ok(with_etag(view.version, &view))
}

fn save_plan(
    conn: &mut DbConnection,
    caller: &Principal,
    visible: &Visible,
    plan: &Plan,
    current: i32,
) -> ApiResult<()> {
    let row = PlanRow {
        order_id: visible.order.id.clone(),
        plan: serde_json::to_string(plan).map_err(anyhow::Error::from)?,
        version: current + 1,
        updated_at: db::now(),
    };
    if !store::save_plan(conn, &row, (current > 0).then_some(current))? {
        return Err(ApiError::PreconditionFailed(
            "the plan changed while this request ran".into(),
        ));
    }
    let tasks: usize = plan.goals.iter().map(|g| g.tasks.len()).sum();
    let done: usize = plan
        .goals
        .iter()
        .flat_map(|g| &g.tasks)
        .filter(|t| t.done)
        .count();
    lifecycle::record_event(
        conn,
        caller,
        &visible.order.id,
        "plan.updated",
        Some(visible.status),
        visible.status,
        json!({"goals": plan.goals.len(), "tasks": tasks, "tasks_done": done}),
    )
}

/// Record progress on a task.
#[utoipa::path(
    tag = "plan",
    security(("bearer" = [])),
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
    let caller = caller.0;
    let task = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            lifecycle::check(&caller, &visible, OrderAction::UpdatePlan, None)?;
            let (mut plan, row) = coaching::load_plan(conn, &visible.order.id)?;
            let task = plan
                .record_progress(&task_id, &progress)
                .ok_or_else(|| ApiError::not_found("no such task in this plan"))?
                .map_err(|e| ApiError::validation(vec![e]))?
                .clone();
            save_plan(conn, &caller, &visible, &plan, row.map_or(0, |r| r.version))?;
            Ok(task)
        })
    })
    .await?;
    Ok(web::Json(task))
}
