//! Reading orders: one order, a list, a timeline, and the coaches that would fit. Nothing here
//! writes; who sees what is `domain::visibility`.

use chrono::{DateTime, Utc};

use crate::db::orders::{self as store, ContactFilter, Order, OrderFilter, OrderScope};
use crate::db::{coaches, events, DbConnection};
use crate::domain::matching::{self, Candidate, MatchRequest, Suggestion};
use crate::domain::order::{OrderStatus, TrajectoryKind};
use crate::domain::principal::{Principal, Role};
use crate::domain::visibility::Audience;
use crate::service::coaching;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle;
use crate::service::pagination::PageRequest;
use crate::views::order::{OrderPage, OrderView, TimelineEvent, TimelinePage, ViewExtras};

/// The full view of one order, as the caller (seeing it as `audience`) sees it at `now`, read
/// afresh (after a change).
pub fn view(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    order: &Order,
    audience: Audience,
) -> ServiceResult<OrderView> {
    let coach_name = match &order.coach_id {
        Some(id) => coaches::find(conn, id)?.map(|c| c.name),
        None => None,
    };
    let summary = coaching::shared_summary(conn, order, audience)?;
    Ok(OrderView::build(
        order.clone(),
        audience,
        caller.role,
        ViewExtras {
            coach_name,
            summary,
        },
        now,
    ))
}

/// One order: one query, and a second only for an order whose intake recommended an
/// alternative (for the summary).
pub fn get(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<OrderView> {
    let (visible, sources) = lifecycle::load_for_view(conn, caller, id)?;
    let summary = coaching::summary_from(conn, &visible.order, visible.audience, sources)?;
    Ok(OrderView::build(
        visible.order,
        visible.audience,
        caller.role,
        ViewExtras {
            coach_name: visible.coach.map(|coach| coach.name),
            summary,
        },
        now,
    ))
}

/// What a list of orders is filtered on.
#[derive(Debug, Clone)]
pub struct OrderQuery {
    pub status: Option<OrderStatus>,
    pub coach_id: Option<String>,
    pub kind: Option<TrajectoryKind>,
    /// Only orders whose first contact is overdue (true) or not (false).
    pub contact_overdue: Option<bool>,
    pub updated_since: Option<DateTime<Utc>>,
    pub page: PageRequest,
}

/// Whose orders the caller lists, and as which audience: an employer its own, a planner the
/// provider's, a coach those assigned to them (none for a coach without a profile).
pub fn scope(
    conn: &mut DbConnection,
    caller: &Principal,
) -> ServiceResult<Option<(OrderScope, Audience)>> {
    Ok(match caller.role {
        Role::Employer => Some((
            OrderScope::Employer(caller.organisation_id.clone()),
            Audience::Employer,
        )),
        Role::ProviderAdmin => Some((
            OrderScope::Provider(caller.organisation_id.clone()),
            Audience::ProviderAdmin,
        )),
        Role::Coach => coaches::find_by_user(conn, &caller.subject)?
            .map(|coach| (OrderScope::Coach(coach.id), Audience::Coach)),
        Role::Coachee => {
            return Err(ServiceError::Forbidden(
                "coachees read GET /coachee/order".into(),
            ))
        }
        Role::System => None,
    })
}

/// The caller's orders: an employer its own, a coach those assigned to them, a planner all of
/// the provider's. Without `shared_summary` (read one order for it).
pub fn list(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    query: OrderQuery,
) -> ServiceResult<OrderPage> {
    let Some((scope, audience)) = scope(conn, caller)? else {
        return Ok(OrderPage {
            data: vec![],
            next_cursor: None,
        });
    };
    let at = now.naive_utc();
    let filter = OrderFilter {
        scope,
        status: query.status,
        coach_id: query.coach_id,
        kind: query.kind,
        contact: query
            .contact_overdue
            .map(|overdue| ContactFilter { overdue, at }),
        updated_since: query.updated_since.map(|t| t.naive_utc()),
        after: query.page.after.clone(),
        limit: query.page.fetch(),
    };
    let rows = store::list(conn, &filter)?;
    let (rows, next_cursor) = query.page.finish(rows, |(order, _)| &order.id);
    let data = rows
        .into_iter()
        .map(|(order, coach_name)| {
            let extras = ViewExtras {
                coach_name,
                summary: None,
            };
            OrderView::build(order, audience, caller.role, extras, now)
        })
        .collect();
    Ok(OrderPage { data, next_cursor })
}

/// An order's events, oldest first.
pub fn timeline(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
    page: PageRequest,
) -> ServiceResult<TimelinePage> {
    let visible = lifecycle::load(conn, caller, id)?;
    // The employer sees the events it was told of (its event log), filtered before the page.
    let told =
        (visible.audience == Audience::Employer).then_some(visible.order.employer_id.as_str());
    let rows = events::timeline(
        conn,
        &visible.order.id,
        told,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |e| &e.id);
    let data = rows
        .into_iter()
        .map(|stored| {
            let event = stored.event_or_logged();
            let to = stored.to_status.ok_or_else(|| {
                ServiceError::Internal(anyhow::anyhow!(
                    "an order's event {} has no status",
                    stored.id
                ))
            })?;
            Ok(TimelineEvent::build(stored, event, to, visible.audience))
        })
        .collect::<ServiceResult<Vec<_>>>()?;
    Ok(TimelinePage { data, next_cursor })
}

/// The provider's coaches who can take the order, ranked by fit (001, 000).
pub fn coach_suggestions(
    conn: &mut DbConnection,
    caller: &Principal,
    id: &str,
) -> ServiceResult<Vec<Suggestion>> {
    let visible = lifecycle::load(conn, caller, id)?;
    let order = &visible.order;
    let coaches: Vec<_> = coaches::list(
        conn,
        &coaches::CoachFilter {
            organisation_id: order.provider_id.clone(),
            active: Some(true),
            limit: 1000,
            ..Default::default()
        },
    )?
    .into_iter()
    .filter(|c| c.can_take_orders_of(&order.provider_id))
    .collect();
    let ids: Vec<String> = coaches.iter().map(|c| c.id.clone()).collect();
    let load = store::load_of(conn, &ids)?;
    let candidates: Vec<Candidate> = coaches
        .iter()
        .map(|c| Candidate {
            coach_id: &c.id,
            name: &c.name,
            specialisms: &c.specialisms,
            languages: &c.languages,
            active_trajectories: load
                .iter()
                .find(|(id, _)| *id == c.id)
                .map_or(0, |(_, n)| *n as u32),
        })
        .collect();
    let request = MatchRequest {
        kind: order.kind.map(TrajectoryKind::as_str),
        context: &order.context,
        language: order.details.preferred_language.as_deref(),
    };
    Ok(matching::rank(&request, &candidates))
}
