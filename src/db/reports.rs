//! What the outcome report reads: the facts of the orders commissioned in a period, their
//! sessions' outcomes and their follow-ups' results (no names, no content).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{follow_ups, orders, sessions};
use super::{DbConnection, MaybeStamp, Stamp};
use crate::domain::alliance::AllianceRisk;
use crate::domain::follow_up::Results;
use crate::domain::order::{IntakeDecision, OrderStatus, TrajectoryKind};
use crate::domain::report::{OrderFacts, SessionOutcome};
use crate::domain::session::SessionStatus;

/// Whose orders: a provider's (all its employers', or one's) or an employer's.
#[derive(Debug, Clone)]
pub struct Scope {
    pub provider_id: Option<String>,
    pub employer_id: Option<String>,
    /// The orders of one invitation campaign only.
    pub invitation_id: Option<String>,
    /// Only the orders the employer sees (`true`), or only those it does not (`false`): an
    /// employer's report never mixes the two, so it cannot be told apart by subtracting what it
    /// sees from it.
    pub employer_sees: Option<bool>,
    /// Commissioned from (inclusive) to (exclusive).
    pub from: NaiveDateTime,
    pub until: NaiveDateTime,
}

#[derive(Queryable)]
struct FactsRow {
    kind: Option<TrajectoryKind>,
    status: OrderStatus,
    #[diesel(deserialize_as = Stamp)]
    contact_due_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    contacted_at: Option<NaiveDateTime>,
    intake_decision: Option<IntakeDecision>,
    session_budget: i32,
    regular_sessions_used: i32,
    alliance_risk: Option<AllianceRisk>,
}

/// `$query` (boxed, with `orders` in its FROM) narrowed to the orders of `$scope`.
macro_rules! in_scope {
    ($query:expr, $scope:expr) => {{
        let scope: &Scope = $scope;
        let mut query = $query
            .filter(orders::created_at.ge(scope.from))
            .filter(orders::created_at.lt(scope.until))
            .into_boxed();
        if let Some(provider) = &scope.provider_id {
            query = query.filter(orders::provider_id.eq(provider.clone()));
        }
        if let Some(employer) = &scope.employer_id {
            query = query.filter(orders::employer_id.eq(employer.clone()));
        }
        if let Some(invitation) = &scope.invitation_id {
            query = query.filter(orders::invitation_id.eq(invitation.clone()));
        }
        if let Some(sees) = scope.employer_sees {
            query = query.filter(orders::employer_sees.eq(sees));
        }
        query
    }};
}

pub fn order_facts(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<OrderFacts>> {
    let rows: Vec<FactsRow> = in_scope!(orders::table, scope)
        .select((
            orders::kind,
            orders::status,
            orders::contact_due_at,
            orders::contacted_at,
            orders::intake_decision,
            orders::session_budget,
            orders::regular_sessions_used,
            orders::alliance_risk,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| OrderFacts {
            kind: r.kind,
            status: r.status,
            contact_due_at: r.contact_due_at,
            contacted_at: r.contacted_at,
            intake_decision: r.intake_decision,
            session_budget: r.session_budget.max(0) as u32,
            sessions_used: r.regular_sessions_used.max(0) as u32,
            alliance_risk: r.alliance_risk,
        })
        .collect())
}

pub fn session_outcomes(
    conn: &mut DbConnection,
    scope: &Scope,
) -> QueryResult<Vec<SessionOutcome>> {
    let joined = sessions::table.inner_join(orders::table.on(orders::id.eq(sessions::order_id)));
    let rows: Vec<(SessionStatus, bool)> = in_scope!(joined, scope)
        .filter(sessions::status.ne(SessionStatus::Planned))
        .select((sessions::status, sessions::counts_against_budget))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(status, counts)| SessionOutcome::of(status, counts))
        .collect())
}

pub fn follow_up_results(conn: &mut DbConnection, scope: &Scope) -> QueryResult<Vec<Results>> {
    let joined =
        follow_ups::table.inner_join(orders::table.on(orders::id.eq(follow_ups::order_id)));
    let rows: Vec<Option<Results>> = in_scope!(joined, scope)
        .filter(follow_ups::results.is_not_null())
        .select(follow_ups::results)
        .load(conn)?;
    Ok(rows.into_iter().flatten().collect())
}
