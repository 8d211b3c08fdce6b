//! Orders and what hangs off them: events (the timeline), the intake draft, the plan,
//! extensions, consents and coachee links.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{
    coachee_links, consents, intakes, order_events, order_extensions, orders, plans,
};
use super::DbConnection;
use crate::domain::order::OrderStatus;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = orders, treat_none_as_null = true)]
pub struct Order {
    pub id: String,
    pub employer_id: String,
    pub provider_id: String,
    pub status: String,
    pub version: i32,
    pub coachee_name: String,
    pub coachee_email: Option<String>,
    pub coachee_phone: Option<String>,
    pub kind: Option<String>,
    /// JSON array of context tags.
    pub context: String,
    /// JSON of `domain::order::OrderDetails`.
    pub details: String,
    pub session_budget: i32,
    pub end_date: NaiveDate,
    pub external_ref: Option<String>,
    pub coach_id: Option<String>,
    pub contact_due_at: NaiveDateTime,
    pub contacted_at: Option<NaiveDateTime>,
    pub contact_channel: Option<String>,
    pub intake_decision: Option<String>,
    pub completed_at: Option<NaiveDateTime>,
    pub cancelled_at: Option<NaiveDateTime>,
    pub cancel_reason: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Whose orders a list covers.
#[derive(Debug, Clone)]
pub enum OrderScope {
    Employer(String),
    Provider(String),
    Coach(String),
}

#[derive(Debug, Clone)]
pub struct OrderFilter {
    pub scope: OrderScope,
    pub status: Option<String>,
    pub coach_id: Option<String>,
    pub kind: Option<String>,
    /// `Some(now)`: only orders whose first contact is overdue at `now`; `not_overdue_at`: the rest.
    pub overdue_at: Option<NaiveDateTime>,
    pub not_overdue_at: Option<NaiveDateTime>,
    pub updated_since: Option<NaiveDateTime>,
    pub after: Option<String>,
    pub limit: i64,
}

/// The names of the statuses for which the domain rule `rule` holds.
fn statuses(rule: fn(OrderStatus) -> bool) -> Vec<&'static str> {
    OrderStatus::ALL
        .into_iter()
        .filter(|s| rule(*s))
        .map(OrderStatus::as_str)
        .collect()
}

pub fn insert(conn: &mut DbConnection, order: &Order) -> QueryResult<()> {
    diesel::insert_into(orders::table)
        .values(order)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Order>> {
    orders::table
        .find(id)
        .select(Order::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_external_ref(
    conn: &mut DbConnection,
    employer_id: &str,
    external_ref: &str,
) -> QueryResult<Option<Order>> {
    orders::table
        .filter(orders::employer_id.eq(employer_id))
        .filter(orders::external_ref.eq(external_ref))
        .select(Order::as_select())
        .first(conn)
        .optional()
}

/// Writes the order if its version is still `expected_version`; false when someone else
/// changed it first.
pub fn update(conn: &mut DbConnection, order: &Order, expected_version: i32) -> QueryResult<bool> {
    diesel::update(
        orders::table
            .filter(orders::id.eq(&order.id))
            .filter(orders::version.eq(expected_version)),
    )
    .set(order)
    .execute(conn)
    .map(|n| n == 1)
}

pub fn list(conn: &mut DbConnection, filter: &OrderFilter) -> QueryResult<Vec<Order>> {
    let mut query = orders::table
        .select(Order::as_select())
        .order(orders::id.asc())
        .limit(filter.limit)
        .into_boxed();
    query = match &filter.scope {
        OrderScope::Employer(id) => query.filter(orders::employer_id.eq(id.clone())),
        OrderScope::Provider(id) => query.filter(orders::provider_id.eq(id.clone())),
        OrderScope::Coach(id) => query.filter(orders::coach_id.eq(id.clone())),
    };
    if let Some(status) = &filter.status {
        query = query.filter(orders::status.eq(status.clone()));
    }
    if let Some(coach) = &filter.coach_id {
        query = query.filter(orders::coach_id.eq(coach.clone()));
    }
    if let Some(kind) = &filter.kind {
        query = query.filter(orders::kind.eq(kind.clone()));
    }
    if let Some(now) = filter.overdue_at {
        query = query
            .filter(orders::contacted_at.is_null())
            .filter(orders::contact_due_at.lt(now))
            .filter(orders::status.eq_any(statuses(OrderStatus::awaits_contact)));
    }
    if let Some(now) = filter.not_overdue_at {
        query = query.filter(
            orders::contacted_at
                .is_not_null()
                .or(orders::contact_due_at.ge(now))
                .or(orders::status.ne_all(statuses(OrderStatus::awaits_contact))),
        );
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(orders::updated_at.ge(since));
    }
    if let Some(after) = &filter.after {
        query = query.filter(orders::id.gt(after.clone()));
    }
    query.load(conn)
}

/// How many trajectories each of `coach_ids` carries now (assigned and not finished).
pub fn load_of(conn: &mut DbConnection, coach_ids: &[String]) -> QueryResult<Vec<(String, i64)>> {
    orders::table
        .filter(orders::coach_id.eq_any(coach_ids))
        .filter(orders::status.eq_any(statuses(OrderStatus::occupies_coach)))
        .group_by(orders::coach_id)
        .select((
            orders::coach_id.assume_not_null(),
            diesel::dsl::count_star(),
        ))
        .load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_events)]
pub struct OrderEvent {
    pub id: String,
    pub order_id: String,
    pub event_type: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub actor_role: String,
    pub actor_id: String,
    /// A JSON object without confidential content.
    pub data: String,
    pub occurred_at: NaiveDateTime,
}

pub fn append_event(conn: &mut DbConnection, event: &OrderEvent) -> QueryResult<()> {
    diesel::insert_into(order_events::table)
        .values(event)
        .execute(conn)
        .map(drop)
}

pub fn events(
    conn: &mut DbConnection,
    order_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<OrderEvent>> {
    let mut query = order_events::table
        .filter(order_events::order_id.eq(order_id))
        .select(OrderEvent::as_select())
        .order(order_events::id.asc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(order_events::id.gt(after.to_string()));
    }
    query.load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = intakes)]
pub struct IntakeRow {
    pub order_id: String,
    /// JSON of `domain::intake::IntakeDraft`.
    pub draft: String,
    pub version: i32,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

pub fn find_intake(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<IntakeRow>> {
    intakes::table
        .find(order_id)
        .select(IntakeRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts the first version or updates the one read (`expected_version`); false when someone
/// else wrote in between.
pub fn save_intake(
    conn: &mut DbConnection,
    row: &IntakeRow,
    expected_version: Option<i32>,
) -> QueryResult<bool> {
    match expected_version {
        None => diesel::insert_into(intakes::table)
            .values(row)
            .execute(conn)
            .map(|n| n == 1),
        Some(version) => diesel::update(
            intakes::table
                .filter(intakes::order_id.eq(&row.order_id))
                .filter(intakes::version.eq(version)),
        )
        .set((
            intakes::draft.eq(&row.draft),
            intakes::version.eq(row.version),
            intakes::updated_at.eq(row.updated_at),
            intakes::completed_at.eq(row.completed_at),
        ))
        .execute(conn)
        .map(|n| n == 1),
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = plans)]
pub struct PlanRow {
    pub order_id: String,
    /// JSON of `domain::plan::Plan`.
    pub plan: String,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

pub fn find_plan(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<PlanRow>> {
    plans::table
        .find(order_id)
        .select(PlanRow::as_select())
        .first(conn)
        .optional()
}

pub fn save_plan(
    conn: &mut DbConnection,
    row: &PlanRow,
    expected_version: Option<i32>,
) -> QueryResult<bool> {
    match expected_version {
        None => diesel::insert_into(plans::table)
            .values(row)
            .execute(conn)
            .map(|n| n == 1),
        Some(version) => diesel::update(
            plans::table
                .filter(plans::order_id.eq(&row.order_id))
                .filter(plans::version.eq(version)),
        )
        .set((
            plans::plan.eq(&row.plan),
            plans::version.eq(row.version),
            plans::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(|n| n == 1),
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = order_extensions)]
pub struct Extension {
    pub id: String,
    pub order_id: String,
    pub added_sessions: i32,
    pub new_end_date: NaiveDate,
    pub substantiation: String,
    pub alternative_considered: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_extension(conn: &mut DbConnection, extension: &Extension) -> QueryResult<()> {
    diesel::insert_into(order_extensions::table)
        .values(extension)
        .execute(conn)
        .map(drop)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct Consent {
    pub id: String,
    pub order_id: String,
    /// `assessment` or `share_summary`.
    pub kind: String,
    pub given: bool,
    /// Who recorded it and how, e.g. `coachee_link:<link id>`.
    pub source: String,
    pub recorded_at: NaiveDateTime,
}

pub fn record_consent(conn: &mut DbConnection, consent: &Consent) -> QueryResult<()> {
    diesel::insert_into(consents::table)
        .values(consent)
        .execute(conn)
        .map(drop)
}

/// The latest record of each kind of consent for an order (the history stays).
pub fn current_consents(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<Consent>> {
    let all: Vec<Consent> = consents::table
        .filter(consents::order_id.eq(order_id))
        .select(Consent::as_select())
        .order(consents::id.desc())
        .load(conn)?;
    let mut latest: Vec<Consent> = vec![];
    for consent in all {
        if !latest.iter().any(|c| c.kind == consent.kind) {
            latest.push(consent);
        }
    }
    Ok(latest)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = coachee_links)]
pub struct CoacheeLink {
    pub id: String,
    pub order_id: String,
    pub issued_by: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert_link(conn: &mut DbConnection, link: &CoacheeLink) -> QueryResult<()> {
    diesel::insert_into(coachee_links::table)
        .values(link)
        .execute(conn)
        .map(drop)
}

/// Whether a link is live: issued, not revoked, not expired.
pub fn link_is_live(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    coachee_links::table
        .filter(coachee_links::id.eq(id))
        .filter(coachee_links::revoked_at.is_null())
        .filter(coachee_links::expires_at.gt(now))
        .count()
        .get_result::<i64>(conn)
        .map(|n| n == 1)
}

pub fn revoke_links(
    conn: &mut DbConnection,
    order_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        coachee_links::table
            .filter(coachee_links::order_id.eq(order_id))
            .filter(coachee_links::revoked_at.is_null()),
    )
    .set(coachee_links::revoked_at.eq(now))
    .execute(conn)
}
