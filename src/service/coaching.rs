//! The confidential documents of the coaching relationship (the intake draft and the plan, as
//! stored) and the coachee's consents that govern what depends on them.

use chrono::{DateTime, Utc};

use crate::db::coaching::{self as store, IntakeRecord, PlanRecord};
use crate::db::orders::{Order, SummarySources};
use crate::db::{DbConnection, Json};
use crate::domain::consent::ConsentKind;
use crate::domain::intake::{AssessmentDecision, IntakeDraft};
use crate::domain::order::IntakeDecision;
use crate::domain::plan::Plan;
use crate::domain::visibility::Audience;
use crate::service::error::{ServiceError, ServiceResult};
use crate::views::order::SharedSummary;

/// The intake draft (empty before the first save) and its record.
pub fn load_intake(
    conn: &mut DbConnection,
    order_id: &str,
) -> ServiceResult<(IntakeDraft, Option<IntakeRecord>)> {
    Ok(match store::find_intake(conn, order_id)? {
        Some(record) => (record.draft.0.clone(), Some(record)),
        None => (IntakeDraft::default(), None),
    })
}

/// The plan (empty before the first save) and its record.
pub fn load_plan(
    conn: &mut DbConnection,
    order_id: &str,
) -> ServiceResult<(Plan, Option<PlanRecord>)> {
    Ok(match store::find_plan(conn, order_id)? {
        Some(record) => (record.plan.0.clone(), Some(record)),
        None => (Plan::default(), None),
    })
}

/// Whether the coachee's latest word on `kind` is "yes".
pub fn consent_given(
    conn: &mut DbConnection,
    order_id: &str,
    kind: ConsentKind,
) -> ServiceResult<bool> {
    Ok(store::current_consents(conn, order_id)?
        .iter()
        .any(|c| c.kind == kind && c.given))
}

/// A withdrawn assessment consent cancels a planned assessment (the consent was what it
/// depended on, 002); true when one was cancelled.
pub fn withdraw_assessment(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    order_id: &str,
) -> ServiceResult<bool> {
    let (mut draft, record) = load_intake(conn, order_id)?;
    let Some(record) = record else {
        return Ok(false);
    };
    if draft.assessment != Some(AssessmentDecision::Planned) {
        return Ok(false);
    }
    draft.assessment = Some(AssessmentDecision::NotPlanned);
    let saved = IntakeRecord {
        draft: Json(draft),
        version: record.version + 1,
        updated_at: now.naive_utc(),
        ..record.clone()
    };
    if !store::save_intake(conn, &saved, Some(record.version))? {
        return Err(ServiceError::changed("intake"));
    }
    Ok(true)
}

/// The summary the audience may see: for the employer only with the coachee's consent.
pub fn shared_summary(
    conn: &mut DbConnection,
    order: &Order,
    audience: Audience,
) -> ServiceResult<Option<SharedSummary>> {
    let sources = SummarySources {
        summary_shared: consent_given(conn, &order.id, ConsentKind::ShareSummary)?,
        plan: store::find_plan(conn, &order.id)?.map(|record| record.plan.0),
    };
    summary_from(conn, order, audience, sources)
}

/// The summary the audience may see, from what was read with the order; the intake is read
/// only for an order whose intake recommended an alternative.
pub fn summary_from(
    conn: &mut DbConnection,
    order: &Order,
    audience: Audience,
    sources: SummarySources,
) -> ServiceResult<Option<SharedSummary>> {
    if !audience.sees_shared_summary(sources.summary_shared) {
        return Ok(None);
    }
    let plan = sources.plan.unwrap_or_default();
    let alternative = match order.intake_decision {
        Some(IntakeDecision::Alternative) => load_intake(conn, &order.id)?.0.alternative,
        _ => None,
    };
    let closing_summary = order.closing_summary.clone();
    if plan.goals.is_empty() && alternative.is_none() && closing_summary.is_none() {
        return Ok(None);
    }
    Ok(Some(SharedSummary {
        goals: plan.goals.into_iter().map(|g| g.description).collect(),
        alternative,
        closing_summary,
    }))
}
