//! The plan's use cases: read it, replace it, record progress on a task (002, 004, 003).

use chrono::{DateTime, Utc};

use crate::clock::new_id;
use crate::db::coaching::{self as store, PlanRecord};
use crate::db::{self, DbConnection, Json};
use crate::domain::event::Event;
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::plan::{Plan, PlanInput, Task, TaskProgress};
use crate::domain::principal::Principal;
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::intake::confidential;
use crate::service::lifecycle::{self, Visible};
use crate::views::coaching::PlanView;

/// The plan, for the coaching relationship and the provider's planner.
pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<PlanView> {
    let visible = lifecycle::load(conn, caller, id)?;
    if !visible.audience.sees_plan() {
        return Err(confidential());
    }
    let (plan, record) = coaching::load_plan(conn, &visible.order.id)?;
    Ok(PlanView {
        plan,
        version: record.map_or(0, |r| r.version),
    })
}

/// The coach replaces the plan; tasks named by id keep their progress. `expected_version` is
/// `If-Match`. A running trajectory's plan stays within the order (002).
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn replace(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    input: PlanInput,
) -> ServiceResult<PlanView> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        lifecycle::check(caller, &visible, OrderAction::UpdatePlan, None)?;
        let (previous, record) = coaching::load_plan(conn, &visible.order.id)?;
        let current = record.as_ref().map_or(0, |r| r.version);
        lifecycle::check_version("plan", current, expected_version)?;
        let plan = input.apply(&previous, new_id)?;
        plan.check_within_order(
            visible.order.status == OrderStatus::Active,
            visible.order.session_budget(),
            visible.order.end_date,
        )?;
        let version = save(
            conn,
            now,
            caller,
            &visible,
            &plan,
            current,
            expected_version,
        )?;
        Ok(PlanView { plan, version })
    })
}

/// The coach records progress on one task of the plan.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn record_progress(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    task_id: &str,
    progress: TaskProgress,
) -> ServiceResult<Task> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        lifecycle::check(caller, &visible, OrderAction::UpdatePlan, None)?;
        let (mut plan, record) = coaching::load_plan(conn, &visible.order.id)?;
        let task = plan
            .record_progress(task_id, &progress)
            .ok_or_else(|| ServiceError::NotFound("no such task in this plan".into()))?
            .map_err(|e| vec![e])?
            .clone();
        let current = record.map_or(0, |r| r.version);
        save(conn, now, caller, &visible, &plan, current, None)?;
        Ok(task)
    })
}

/// Saves the plan over version `current` and records `plan.updated`; returns the new version.
/// `expected` is the version the caller named (`If-Match`), if any.
fn save(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    visible: &Visible,
    plan: &Plan,
    current: i32,
    expected: Option<i32>,
) -> ServiceResult<i32> {
    let record = PlanRecord {
        order_id: visible.order.id.clone(),
        plan: Json(plan.clone()),
        version: current + 1,
        updated_at: now.naive_utc(),
    };
    if !store::save_plan(conn, &record, (current > 0).then_some(current))? {
        return Err(lifecycle::lost_race("plan", expected, current + 1));
    }
    let (goals, tasks, tasks_done) = plan.counts();
    lifecycle::record(
        conn,
        now,
        caller,
        &visible.order,
        Event::PlanUpdated {
            goals,
            tasks,
            tasks_done,
        },
    )?;
    Ok(record.version)
}
