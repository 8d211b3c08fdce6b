//! The intake's use cases: read it, keep the draft, validate it, complete it (002, 004).
//!
//! Confidential: the employer never reads it; the provider's planner reads it without the
//! coach's private note; only the assigned coach writes it.

use chrono::{DateTime, Utc};

use crate::db::coaching::{self as store, IntakeRecord};
use crate::db::{self, DbConnection, Json};
use crate::domain::consent::ConsentKind;
use crate::domain::event::Event;
use crate::domain::intake::{self as rules, Finding, IntakeContext, IntakeDraft};
use crate::domain::order::OrderAction;
use crate::domain::principal::Principal;
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::service::order_reads;
use crate::views::coaching::{IntakeView, ValidationReport};
use crate::views::order::OrderView;

/// Refused to whoever may not read the coaching relationship's documents.
pub fn confidential() -> ServiceError {
    ServiceError::Forbidden("the intake and plan belong to the coaching relationship".into())
}

fn view(visible: &Visible, mut draft: IntakeDraft, record: Option<&IntakeRecord>) -> IntakeView {
    if !visible.audience.sees_private_note() {
        draft.private_note = None;
    }
    IntakeView {
        draft,
        version: record.map_or(0, |r| r.version),
        completed_at: record.and_then(|r| r.completed_at).map(|t| t.and_utc()),
    }
}

/// The intake, as the caller may see it.
pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<IntakeView> {
    let visible = lifecycle::load(conn, caller, id)?;
    if !visible.audience.sees_intake() {
        return Err(confidential());
    }
    let (draft, record) = coaching::load_intake(conn, &visible.order.id)?;
    Ok(view(&visible, draft, record.as_ref()))
}

/// The coach saves the intake draft (each save replaces it); `expected_version` is `If-Match`.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn save_draft(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    draft: IntakeDraft,
) -> ServiceResult<IntakeView> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        lifecycle::check(caller, &visible, OrderAction::DraftIntake, None)?;
        draft.check_texts()?;
        let (_, record) = coaching::load_intake(conn, &visible.order.id)?;
        let current = record.as_ref().map_or(0, |r| r.version);
        lifecycle::check_version("intake", current, expected_version)?;
        let saved = IntakeRecord {
            order_id: visible.order.id.clone(),
            draft: Json(draft),
            version: current + 1,
            updated_at: now.naive_utc(),
            completed_at: None,
        };
        if !store::save_intake(conn, &saved, record.map(|r| r.version))? {
            return Err(lifecycle::lost_race(
                "intake",
                expected_version,
                current + 1,
            ));
        }
        Ok(view(&visible, saved.draft.0.clone(), Some(&saved)))
    })
}

/// The findings for the intake as it stands, with everything the rules look at.
fn findings(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    visible: &Visible,
    draft: &IntakeDraft,
) -> ServiceResult<Vec<Finding>> {
    let (plan, _) = coaching::load_plan(conn, &visible.order.id)?;
    let assessment_consent =
        coaching::consent_given(conn, &visible.order.id, ConsentKind::Assessment)?;
    Ok(rules::validate(IntakeContext {
        draft,
        plan: &plan,
        session_budget: visible.order.session_budget(),
        order_end: visible.order.end_date,
        start: now.date_naive(),
        assessment_consent,
    }))
}

/// The rules completing would run, on the saved draft and plan; changes nothing.
pub fn validate(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<ValidationReport> {
    let visible = lifecycle::load(conn, caller, id)?;
    if !visible.audience.sees_intake() {
        return Err(confidential());
    }
    let (draft, _) = coaching::load_intake(conn, &visible.order.id)?;
    let findings = findings(conn, now, &visible, &draft)?;
    crate::service::audit::record_armed_read(conn)?;
    Ok(ValidationReport {
        can_complete: !rules::has_errors(&findings),
        findings,
    })
}

/// The coach completes the intake: with no error among the findings, the decision is recorded
/// and the order moves (start → active, decline → declined, alternative → alternative_proposed).
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn complete(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<OrderView> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        lifecycle::check(caller, &visible, OrderAction::CompleteIntake, None)?;
        let (draft, record) = coaching::load_intake(conn, &visible.order.id)?;
        let findings = findings(conn, now, &visible, &draft)?;
        let decision = match draft.decision {
            Some(decision) if !rules::has_errors(&findings) => decision,
            _ => return Err(ServiceError::IntakeIncomplete(findings)),
        };
        let to = lifecycle::check(
            caller,
            &visible,
            OrderAction::CompleteIntake,
            Some(decision),
        )?;
        let record = record
            .ok_or_else(|| ServiceError::Conflict("save the intake before completing it".into()))?;
        let completed = IntakeRecord {
            version: record.version + 1,
            completed_at: Some(now.naive_utc()),
            updated_at: now.naive_utc(),
            ..record.clone()
        };
        if !store::save_intake(conn, &completed, Some(record.version))? {
            return Err(ServiceError::changed("intake"));
        }
        let mut order = visible.order.clone();
        order.intake_decision = Some(decision);
        let order = lifecycle::save(
            conn,
            now,
            caller,
            order,
            to,
            Event::IntakeCompleted { decision },
        )?;
        order_reads::view(conn, now, caller, &order, visible.audience)
    })
}
