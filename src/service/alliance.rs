//! The first-session check (004): the coachee rates the working relationship after the first
//! regular session; a rating of 2 or lower, or none in time, marks the order at risk and tells
//! the provider (`alliance.at_risk`). The employer sees neither the rating nor the comment.

use chrono::{DateTime, Duration, Utc};

use crate::db::orders::Order;
use crate::db::sessions as store;
use crate::db::{self, DbConnection};
use crate::domain::alliance::{self as rules, AllianceRisk, Feedback};
use crate::domain::event::Event;
use crate::domain::principal::Principal;
use crate::domain::session::{SessionKind, SessionRefusal, SessionStatus};
use crate::service::coachee::coachee_order;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::views::session::SessionView;

/// The coachee rates the first regular session, once it was held; once.
#[tracing::instrument(skip_all, fields(session_id = %id))]
pub fn give_feedback(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    feedback: Feedback,
) -> ServiceResult<SessionView> {
    feedback.validate()?;
    db::write(conn, |conn| {
        let visible = coachee_order(conn, now, caller, true)?;
        let mut session = store::find(conn, id)?
            .filter(|s| s.order_id == visible.order.id)
            .ok_or_else(|| ServiceError::NotFound("no such session".into()))?;
        let first = store::first_held_regular(conn, &visible.order.id)?;
        if session.kind != SessionKind::Regular
            || session.status != SessionStatus::Held
            || first.as_ref().map(|f| f.id.as_str()) != Some(session.id.as_str())
        {
            return Err(SessionRefusal::FeedbackNotAsked.into());
        }
        if session.rating.is_some() {
            return Err(SessionRefusal::FeedbackGiven.into());
        }
        let read_version = session.version;
        session.rating = Some(i32::from(feedback.rating));
        session.rating_comment = feedback
            .comment
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from);
        session.rated_at = Some(now.naive_utc());
        session.version += 1;
        session.updated_at = now.naive_utc();
        if !store::update(conn, &session, read_version)? {
            return Err(ServiceError::changed("session"));
        }
        if feedback.at_risk() {
            mark_at_risk(
                conn,
                now,
                caller,
                &visible.order,
                &session.id,
                AllianceRisk::LowRating,
            )?;
        }
        Ok(SessionView::build(session, visible.audience))
    })
}

/// Marks the order at risk (once) and tells the provider. The order's version stays: nothing
/// of the order as its employer sees it changed (the employer is told neither, 004).
fn mark_at_risk(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    actor: &Principal,
    order: &Order,
    session_id: &str,
    reason: AllianceRisk,
) -> ServiceResult<()> {
    if !crate::db::orders::mark_at_risk(conn, &order.id, reason, now.naive_utc())? {
        return Ok(());
    }
    let event = Event::AllianceAtRisk {
        session_id: session_id.to_string(),
        reason,
    };
    lifecycle::record(conn, now, actor, order, event)
}

/// The scheduled half of the check: every running order whose first regular session ended more
/// than `days` ago without a rating is marked at risk, by the service itself, each order in a
/// transaction of its own (one that fails is logged and looked at again next time). Returns how
/// many. The worker runs it each period; `trajectum admin check-alliance` runs it at once.
#[tracing::instrument(skip_all)]
pub fn flag_unrated(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    days: u32,
) -> ServiceResult<usize> {
    let cutoff = now - Duration::days(i64::from(days));
    let candidates = store::unrated_before(conn, cutoff.naive_utc())?;
    let mut flagged = 0;
    for candidate in candidates {
        // The service acts for the provider, through the same steps as a person's request.
        let system = Principal::system(&candidate.provider_id);
        let marked = db::write(conn, |conn| -> ServiceResult<bool> {
            let visible = lifecycle::load_for_update(conn, &system, &candidate.order_id)?;
            let order = &visible.order;
            let first = store::first_held_regular(conn, &order.id)?;
            let Some(first) = first.filter(|f| f.id == candidate.id && f.rating.is_none()) else {
                return Ok(false);
            };
            if order.alliance_risk.is_some()
                || !rules::rating_overdue(first.ends_at.and_utc(), now, days)
            {
                return Ok(false);
            }
            mark_at_risk(conn, now, &system, order, &first.id, AllianceRisk::NoRating)?;
            // In the provider's audit trail, as the service's own change, with the mark: a
            // sweep that changes nothing records nothing.
            let actor = crate::db::audit::Actor {
                principal: system.clone(),
                action: "first-session check: marked at risk".into(),
                resource_id: Some(order.id.clone()),
                request_id: None,
                at: now.naive_utc(),
            };
            crate::db::audit::insert(conn, &actor, crate::db::audit::Kind::Change)?;
            Ok(true)
        });
        match marked {
            Ok(marked) => flagged += usize::from(marked),
            // One order that cannot be marked now does not hold up the others: the next sweep
            // looks at it again.
            Err(error) => tracing::warn!(
                order_id = %candidate.order_id,
                error = %error,
                "could not check the first session's rating"
            ),
        }
    }
    if flagged > 0 {
        tracing::info!(
            flagged,
            "orders marked at risk: first session not rated in time"
        );
    }
    Ok(flagged)
}
