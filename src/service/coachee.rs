//! The coachee's own voice: the link the coach issues (and the coach or planner revokes), the
//! coachee's view of their trajectory, and their consents.
//!
//! Consent to an assessment and to sharing a summary with the employer is the coachee's own,
//! given and withdrawn by them, and recorded with when and how (DOMAIN.md). Withdrawing stops
//! what depended on it: a planned assessment is cancelled, the employer stops seeing the summary.

use chrono::{DateTime, Utc};

use crate::auth::issuer::TokenIssuer;
use crate::clock::new_id;
use crate::db::coaching::{self as store, Consent};
use crate::db::links::{self, CoacheeLink};
use crate::db::{self, coaches, DbConnection};
use crate::domain::coachee_link::LinkRequest;
use crate::domain::consent::{self, ConsentChanges, ConsentKind};
use crate::domain::event::Event;
use crate::domain::order::OrderAction;
use crate::domain::plan::Plan;
use crate::domain::principal::Principal;
use crate::domain::session::SessionKind;
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{self, Visible};
use crate::views::coachee::{CoacheeLinkIssued, CoacheeOrder, Consents, LinksRevoked};
use crate::views::session::SessionView;

/// The assigned coach issues a link for the coachee; the token is returned only now.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn issue_link(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    request: LinkRequest,
    issuer: &TokenIssuer,
) -> ServiceResult<CoacheeLinkIssued> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        lifecycle::check(caller, &visible, OrderAction::IssueCoacheeLink, None)?;
        let expires_at = request.expires_at(now)?;
        // One live link per order: the new one replaces any earlier one.
        let replaced = links::revoke_all(conn, &visible.order.id, now.naive_utc())?;
        if replaced > 0 {
            let event = Event::CoacheeLinksRevoked {
                links: replaced as u32,
            };
            lifecycle::record(conn, now, caller, &visible.order, event)?;
        }
        let link = CoacheeLink {
            id: new_id(),
            order_id: visible.order.id.clone(),
            issued_by: caller.subject.clone(),
            issued_at: now.naive_utc(),
            expires_at: expires_at.naive_utc(),
            revoked_at: None,
        };
        links::insert(conn, &link)?;
        let token = issuer.coachee_link_token(
            &link.id,
            &visible.order.id,
            &visible.order.employer_id,
            now,
            expires_at,
        )?;
        lifecycle::record(
            conn,
            now,
            caller,
            &visible.order,
            Event::CoacheeLinkIssued {
                link_id: link.id.clone(),
                expires_at,
            },
        )?;
        Ok(CoacheeLinkIssued {
            link_id: link.id,
            token,
            expires_at,
            replaced_links: replaced as u32,
        })
    })
}

/// Every link of the order stops working at once, and so does the order's calendar feed.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub fn revoke_links(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<LinksRevoked> {
    db::write(conn, |conn| {
        let visible = lifecycle::load_for_update(conn, caller, id)?;
        let revoked = links::revoke_all(conn, &visible.order.id, now.naive_utc())?;
        // The order's calendar feed is the coachee's too.
        let feeds = crate::db::calendars::revoke(
            conn,
            &crate::db::calendars::FeedOwner::Order(visible.order.id.clone()),
            now.naive_utc(),
        )?;
        if revoked > 0 {
            let event = Event::CoacheeLinksRevoked {
                links: revoked as u32,
            };
            lifecycle::record(conn, now, caller, &visible.order, event)?;
        }
        Ok(LinksRevoked {
            revoked_links: revoked as u32,
            calendar_feed_revoked: feeds > 0,
        })
    })
}

/// The coachee's order behind a live link (locked for a change when `for_update`); a revoked or
/// expired link no longer authenticates.
pub fn coachee_order(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    for_update: bool,
) -> ServiceResult<Visible> {
    if !links::is_live(conn, &caller.subject, now.naive_utc())? {
        return Err(ServiceError::Unauthorized(
            "this link was revoked or has expired",
        ));
    }
    let order_id = caller
        .order_id
        .as_deref()
        .ok_or(ServiceError::Unauthorized(
            "a coachee token names its order",
        ))?;
    if for_update {
        lifecycle::load_for_update(conn, caller, order_id)
    } else {
        lifecycle::load(conn, caller, order_id)
    }
}

/// Without the coachee's consent, neither a planned assessment in the intake nor a booked
/// assessment session stands (002); true when either was cancelled.
fn withdraw_assessment(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order: &crate::db::orders::Order,
) -> ServiceResult<bool> {
    let in_intake = coaching::withdraw_assessment(conn, now, &order.id)?;
    let mut order = order.clone();
    let sessions = crate::service::sessions::cancel_planned(
        conn,
        now,
        caller,
        &mut order,
        &[SessionKind::Assessment],
        "the coachee withdrew consent to the assessment",
    )?;
    Ok(in_intake || sessions > 0)
}

/// More sessions than a trajectory has (8 and an assessment, 002, extensions included).
const MAX_SESSIONS_SHOWN: i64 = 200;

/// The trajectory as the coachee sees it.
pub fn view(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
) -> ServiceResult<CoacheeOrder> {
    let visible = coachee_order(conn, now, caller, false)?;
    let order = &visible.order;
    let coach_name = match &order.coach_id {
        Some(id) => coaches::find(conn, id)?.map(|c| c.name),
        None => None,
    };
    let plan = if visible.audience.sees_plan() {
        coaching::load_plan(conn, &order.id)?.0
    } else {
        Plan::default()
    };
    Ok(CoacheeOrder {
        order_id: order.id.clone(),
        status: order.status,
        coach_name,
        session_budget: order.session_budget,
        end_date: order.end_date,
        plan,
        consents: Consents::build(&store::current_consents(conn, &order.id)?),
        sessions: crate::db::sessions::of_order(conn, &order.id, None, MAX_SESSIONS_SHOWN)?
            .into_iter()
            .map(|s| SessionView::build(s, visible.audience))
            .collect(),
    })
}

/// Sharing one's participation is a word about an order from a confidential campaign only: any
/// other order the employer sees anyway.
fn confidential_campaigns_order(
    conn: &mut DbConnection,
    order: &crate::db::orders::Order,
) -> ServiceResult<()> {
    let confidential = match &order.invitation_id {
        Some(id) => crate::db::invitations::find(conn, &order.employer_id, id)?
            .is_some_and(|campaign| campaign.confidential),
        None => false,
    };
    if confidential {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "/share_participation",
            "applies only to a trajectory you signed up for in a confidential campaign; your employer knows of this one already",
        ))
    }
}

/// The coachee gives or withdraws consents; each change is recorded with its time and source,
/// and withdrawing the assessment's cancels a planned assessment.
#[tracing::instrument(skip_all)]
pub fn change_consents(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    changes: ConsentChanges,
) -> ServiceResult<Consents> {
    let changes = changes.changes()?;
    db::write(conn, |conn| {
        let visible = coachee_order(conn, now, caller, true)?;
        lifecycle::check(caller, &visible, OrderAction::RecordConsent, None)?;
        let mut order = visible.order.clone();
        if changes
            .iter()
            .any(|(kind, _)| *kind == ConsentKind::ShareParticipation)
        {
            confidential_campaigns_order(conn, &order)?;
        }
        let order = &mut order;
        let current = store::current_consents(conn, &order.id)?;
        for (kind, given) in changes {
            let said = current.iter().find(|c| c.kind == kind).map(|c| c.given);
            if !consent::is_change(said, given) {
                continue;
            }
            // Shared, the employer sees the order from this consent on; withdrawn, it is told
            // so (the event below) and then no longer sees it.
            if kind == ConsentKind::ShareParticipation && given {
                crate::db::orders::set_employer_sees(conn, &order.id, true)?;
                order.employer_sees = true;
            }
            store::record_consent(
                conn,
                &Consent {
                    id: new_id(),
                    order_id: order.id.clone(),
                    kind,
                    given,
                    source: format!("coachee_link:{}", caller.subject),
                    recorded_at: now.naive_utc(),
                },
            )?;
            let event = if given {
                Event::ConsentGiven { consent: kind }
            } else {
                Event::ConsentWithdrawn {
                    consent: kind,
                    assessment_cancelled: kind == ConsentKind::Assessment
                        && withdraw_assessment(conn, now, caller, order)?,
                }
            };
            lifecycle::record(conn, now, caller, order, event)?;
            if kind == ConsentKind::ShareParticipation && !given {
                crate::db::orders::set_employer_sees(conn, &order.id, false)?;
                order.employer_sees = false;
            }
        }
        Ok(Consents::build(&store::current_consents(conn, &order.id)?))
    })
}
