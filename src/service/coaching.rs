//! The confidential documents of the coaching relationship: the intake draft and the plan, as
//! stored, and the coachee's consents that govern what depends on them.

use crate::db::orders::{self as store, IntakeRow, PlanRow};
use crate::db::{self, DbConnection};
use crate::domain::intake::{AssessmentDecision, IntakeDraft};
use crate::domain::plan::Plan;
use crate::error::{ApiError, ApiResult};

/// The intake draft (empty before the first save) and its row.
pub fn load_intake(
    conn: &mut DbConnection,
    order_id: &str,
) -> ApiResult<(IntakeDraft, Option<IntakeRow>)> {
    match store::find_intake(conn, order_id)? {
        Some(row) => Ok((
            serde_json::from_str(&row.draft).map_err(anyhow::Error::from)?,
            Some(row),
        )),
        None => Ok((IntakeDraft::default(), None)),
    }
}

/// The plan (empty before the first save) and its row.
pub fn load_plan(conn: &mut DbConnection, order_id: &str) -> ApiResult<(Plan, Option<PlanRow>)> {
    match store::find_plan(conn, order_id)? {
        Some(row) => Ok((
            serde_json::from_str(&row.plan).map_err(anyhow::Error::from)?,
            Some(row),
        )),
        None => Ok((Plan::default(), None)),
    }
}

/// Whether the coachee's latest word on `kind` is "yes".
pub fn consent_given(conn: &mut DbConnection, order_id: &str, kind: &str) -> ApiResult<bool> {
    Ok(store::current_consents(conn, order_id)?
        .iter()
        .any(|c| c.kind == kind && c.given))
}

/// A withdrawn assessment consent cancels a planned assessment (the consent was what it
/// depended on, 002); true when one was cancelled.
pub fn withdraw_assessment(conn: &mut DbConnection, order_id: &str) -> ApiResult<bool> {
    let (mut draft, row) = load_intake(conn, order_id)?;
    let Some(row) = row else { return Ok(false) };
    if draft.assessment != Some(AssessmentDecision::Planned) {
        return Ok(false);
    }
    draft.assessment = Some(AssessmentDecision::NotPlanned);
    let saved = IntakeRow {
        draft: serde_json::to_string(&draft).map_err(anyhow::Error::from)?,
        version: row.version + 1,
        updated_at: db::now(),
        ..row.clone()
    };
    if !store::save_intake(conn, &saved, Some(row.version))? {
        return Err(ApiError::conflict(
            "the intake changed while this request ran; retry",
        ));
    }
    Ok(true)
}
