//! The closing review (000): the coach keeps it with the coachee while the trajectory runs,
//! checks it, and completing asks for it. It is the coaching relationship's own: the provider's
//! planners and the employer do not read it (the employer reads the closing summary only with the
//! coachee's consent, on the order).

use chrono::{DateTime, Utc};

use crate::db::follow_ups::{self as store, ClosingReviewRecord};
use crate::db::{self, DbConnection, Json};
use crate::domain::closing::ClosingReview;
use crate::domain::intake::{has_errors, Finding};
use crate::domain::order::OrderAction;
use crate::domain::principal::Principal;
use crate::domain::visibility::Audience;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::views::coaching::{ClosingReviewView, ValidationReport};

fn confidential() -> ServiceError {
    ServiceError::Forbidden("the closing review belongs to the coach and the coachee (000)".into())
}

/// The order's closing review as stored (empty before the first save), and its version.
pub fn load(conn: &mut DbConnection, order_id: &str) -> ServiceResult<(ClosingReview, i32)> {
    Ok(store::find_review(conn, order_id)?
        .map_or((ClosingReview::default(), 0), |r| (r.review.0, r.version)))
}

fn coach_only(visible: &Visible) -> ServiceResult<()> {
    if visible.audience != Audience::Coach {
        return Err(confidential());
    }
    Ok(())
}

/// The closing review, for the order's coach.
pub fn get(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<ClosingReviewView> {
    let visible = lifecycle::load(conn, caller, id)?;
    coach_only(&visible)?;
    let (review, version) = load(conn, &visible.order.id)?;
    Ok(ClosingReviewView::build(review, version))
}

/// The coach replaces the closing review while the trajectory runs; `expected_version` is
/// `If-Match`.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn replace(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    review: ClosingReview,
) -> ServiceResult<ClosingReviewView> {
    review.validate()?;
    let review = review.normalised();
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        coach_only(&visible)?;
        lifecycle::check(caller, &visible, OrderAction::ReviewClosing, None)?;
        let (_, current) = load(conn, &visible.order.id)?;
        lifecycle::check_version("closing review", current, expected_version)?;
        let record = ClosingReviewRecord {
            order_id: visible.order.id.clone(),
            review: Json(review.clone()),
            version: current + 1,
            updated_at: now.naive_utc(),
        };
        if !store::save_review(conn, &record, (current > 0).then_some(current))? {
            return Err(lifecycle::lost_race(
                "closing review",
                expected_version,
                current + 1,
            ));
        }
        Ok(ClosingReviewView::build(review, record.version))
    })
}

/// What completing would find in the closing review now, without changing anything.
pub fn validate(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<ValidationReport> {
    let visible = lifecycle::load(conn, caller, id)?;
    coach_only(&visible)?;
    let (review, _) = load(conn, &visible.order.id)?;
    let findings = review.findings();
    crate::service::audit::record_armed_read(conn)?;
    Ok(ValidationReport {
        can_complete: !has_errors(&findings),
        findings,
    })
}

/// The review completing goes by: refused (422, with the findings) while one of its errors
/// stands (000).
pub fn ready_to_complete(conn: &mut DbConnection, order_id: &str) -> ServiceResult<ClosingReview> {
    let (review, _) = load(conn, order_id)?;
    let findings: Vec<Finding> = review.findings();
    if has_errors(&findings) {
        return Err(ServiceError::CompletionRefused(findings));
    }
    Ok(review)
}
