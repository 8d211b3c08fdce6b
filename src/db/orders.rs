//! Orders and their extensions.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{coaches, consents, order_extensions, orders, plans};
use super::{Day, DbConnection, Json, Limited, MaybeStamp, Stamp};
use crate::domain::alliance::AllianceRisk;
use crate::domain::commission::{Coachee, Commission};
use crate::domain::consent::ConsentKind;
use crate::domain::order::{
    ContactChannel, IntakeDecision, OrderDetails, OrderState, OrderStatus, TrajectoryKind,
};
use crate::domain::plan::Plan;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = orders, treat_none_as_null = true)]
pub struct Order {
    pub id: String,
    pub employer_id: String,
    pub provider_id: String,
    pub status: OrderStatus,
    pub version: i32,
    pub coachee_name: String,
    pub coachee_email: Option<String>,
    pub coachee_phone: Option<String>,
    pub kind: Option<TrajectoryKind>,
    /// Context tags for the coach match.
    pub context: Json<Vec<String>>,
    pub details: Json<OrderDetails>,
    pub session_budget: i32,
    #[diesel(deserialize_as = Day)]
    pub end_date: NaiveDate,
    pub external_ref: Option<String>,
    pub coach_id: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub contact_due_at: NaiveDateTime,
    #[diesel(deserialize_as = MaybeStamp)]
    pub contacted_at: Option<NaiveDateTime>,
    pub contact_channel: Option<ContactChannel>,
    pub intake_decision: Option<IntakeDecision>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub completed_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = MaybeStamp)]
    pub cancelled_at: Option<NaiveDateTime>,
    pub cancel_reason: Option<String>,
    pub created_by: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub updated_at: NaiveDateTime,
    /// Regular sessions booked and still to come (002: they count against the budget).
    pub regular_sessions_planned: i32,
    /// Regular sessions held, missed, or cancelled late by the coachee's side.
    pub regular_sessions_used: i32,
    /// Why the working relationship is at risk, from the first-session check (004). Written only
    /// by [`mark_at_risk`], never by [`update`]: it is no change of the order's own, so its
    /// version stays, and a change saved from an earlier read cannot undo it.
    #[diesel(skip_update)]
    pub alliance_risk: Option<AllianceRisk>,
    #[diesel(deserialize_as = MaybeStamp, skip_update)]
    pub alliance_at_risk_at: Option<NaiveDateTime>,
    /// The closing review's summary, kept when the trajectory completes (000): for the employer
    /// only with the coachee's consent to share a summary.
    pub closing_summary: Option<String>,
    /// The invitation campaign the coachee signed up to, if they did (004).
    pub invitation_id: Option<String>,
    /// Whether the employer sees the order: false for one from a confidential campaign while its
    /// coachee does not share their participation. Written only by [`set_employer_sees`].
    #[diesel(skip_update)]
    pub employer_sees: bool,
}

/// Who placed a new order, when, and where it goes.
#[derive(Debug, Clone)]
pub struct Placement {
    pub employer_id: String,
    pub provider_id: String,
    pub placed_by: String,
    pub placed_at: NaiveDateTime,
    pub contact_due_at: NaiveDateTime,
}

impl Order {
    /// A new order, `submitted`.
    pub fn submitted(id: String, placement: Placement, commission: Commission) -> Order {
        Order {
            id,
            employer_id: placement.employer_id,
            provider_id: placement.provider_id,
            status: OrderStatus::Submitted,
            version: 1,
            coachee_name: commission.coachee.name,
            coachee_email: commission.coachee.email,
            coachee_phone: commission.coachee.phone,
            kind: commission.kind,
            context: Json(commission.context),
            details: Json(commission.details),
            session_budget: commission.session_budget as i32,
            end_date: commission.end_date,
            external_ref: commission.external_ref,
            coach_id: None,
            contact_due_at: placement.contact_due_at,
            contacted_at: None,
            contact_channel: None,
            intake_decision: None,
            completed_at: None,
            cancelled_at: None,
            cancel_reason: None,
            created_by: placement.placed_by,
            created_at: placement.placed_at,
            updated_at: placement.placed_at,
            regular_sessions_planned: 0,
            regular_sessions_used: 0,
            alliance_risk: None,
            alliance_at_risk_at: None,
            closing_summary: None,
            invitation_id: None,
            employer_sees: true,
        }
    }

    /// What decides the actions allowed now.
    pub fn state(&self) -> OrderState {
        OrderState {
            status: self.status,
            contacted: self.contacted_at.is_some(),
        }
    }

    pub fn session_budget(&self) -> u32 {
        u32::try_from(self.session_budget).unwrap_or(0)
    }

    /// Its regular sessions planned and used (`domain::session_change`).
    pub fn budget(&self) -> crate::domain::session_change::Budget {
        crate::domain::session_change::Budget {
            planned: self.regular_sessions_planned,
            used: self.regular_sessions_used,
        }
    }

    pub fn set_budget(&mut self, budget: crate::domain::session_change::Budget) {
        self.regular_sessions_planned = budget.planned;
        self.regular_sessions_used = budget.used;
    }

    /// The part the employer decides.
    pub fn commission(&self) -> Commission {
        Commission {
            coachee: Coachee {
                name: self.coachee_name.clone(),
                email: self.coachee_email.clone(),
                phone: self.coachee_phone.clone(),
            },
            kind: self.kind,
            context: self.context.0.clone(),
            details: self.details.0.clone(),
            session_budget: self.session_budget(),
            end_date: self.end_date,
            external_ref: self.external_ref.clone(),
        }
    }

    /// Takes the employer's (changed) decisions.
    pub fn set_commission(&mut self, commission: Commission) {
        self.coachee_name = commission.coachee.name;
        self.coachee_email = commission.coachee.email;
        self.coachee_phone = commission.coachee.phone;
        self.kind = commission.kind;
        self.context = Json(commission.context);
        self.details = Json(commission.details);
        self.session_budget = commission.session_budget as i32;
        self.end_date = commission.end_date;
        self.external_ref = commission.external_ref;
    }
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
    pub status: Option<OrderStatus>,
    pub coach_id: Option<String>,
    pub kind: Option<TrajectoryKind>,
    pub contact: Option<ContactFilter>,
    pub updated_since: Option<NaiveDateTime>,
    pub after: Option<String>,
    pub limit: i64,
}

/// Orders whose first contact is overdue at `at` (or, with `overdue: false`, the rest).
#[derive(Debug, Clone, Copy)]
pub struct ContactFilter {
    pub overdue: bool,
    pub at: NaiveDateTime,
}

/// The statuses for which the domain rule `rule` holds.
fn statuses(rule: fn(OrderStatus) -> bool) -> Vec<OrderStatus> {
    OrderStatus::ALL.into_iter().filter(|s| rule(*s)).collect()
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
        .get_result(conn)
        .optional()
}

/// The coach assigned to an order, as the order's views and its access check need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedCoach {
    pub user_id: Option<String>,
    pub name: String,
}

fn assigned(name: Option<String>, user_id: Option<String>) -> Option<AssignedCoach> {
    name.map(|name| AssignedCoach { user_id, name })
}

/// The order with its assigned coach, in one query.
pub fn find_with_coach(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<(Order, Option<AssignedCoach>)>> {
    let row: Option<(Order, Option<String>, Option<String>)> = orders::table
        .left_join(coaches::table)
        .filter(orders::id.eq(id))
        .select((
            Order::as_select(),
            coaches::name.nullable(),
            coaches::user_id.nullable(),
        ))
        .get_result(conn) // by primary key: no LIMIT, which SQLite would bind
        .optional()?;
    Ok(row.map(|(order, name, user_id)| (order, assigned(name, user_id))))
}

/// What the summary shared with the employer is made from.
#[derive(Debug, Clone, Default)]
pub struct SummarySources {
    /// The coachee's latest word on sharing a summary with the employer.
    pub summary_shared: bool,
    /// The plan, if one was saved.
    pub plan: Option<Plan>,
}

/// The order, its coach, the coachee's latest consent to share a summary, and its plan: one
/// round trip for the most frequent read.
pub fn find_for_view(
    conn: &mut DbConnection,
    id: &str,
) -> QueryResult<Option<(Order, Option<AssignedCoach>, SummarySources)>> {
    type Row = (
        Order,
        Option<String>,
        Option<String>,
        Option<bool>,
        Option<String>,
    );
    // On the backend's own connection: through the `MultiConnection` every execution would
    // render the statement's SQL again (several times), which cost more than running it.
    let row: Option<Row> = crate::on_each_backend!(conn, |c| {
        // The latest consent to share, found by its id rather than by ORDER BY … LIMIT 1:
        // SQLite re-prepares a statement on every execution whose LIMIT is a bound parameter.
        let newer = diesel::alias!(consents as newer);
        let latest_share_consent = newer
            .filter(newer.field(consents::order_id).eq(orders::id))
            .filter(newer.field(consents::kind).eq(ConsentKind::ShareSummary))
            .select(diesel::dsl::max(newer.field(consents::id)))
            .single_value();
        orders::table
            .left_join(coaches::table)
            .left_join(plans::table)
            .left_join(consents::table.on(consents::id.nullable().eq(latest_share_consent)))
            .filter(orders::id.eq(id))
            .select((
                Order::as_select(),
                coaches::name.nullable(),
                coaches::user_id.nullable(),
                consents::given.nullable(),
                plans::plan.nullable(),
            ))
            .get_result(c)
            .optional()
    })?;
    let Some((order, name, user_id, consent, plan)) = row else {
        return Ok(None);
    };
    let plan = plan
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
    let sources = SummarySources {
        summary_shared: consent.unwrap_or(false),
        plan,
    };
    Ok(Some((order, assigned(name, user_id), sources)))
}

/// Locks the order until the transaction ends, so that what a use case checked of it still holds
/// when it writes (PostgreSQL: `FOR UPDATE`; a SQLite write transaction holds the whole
/// database already).
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(c) => orders::table
            .find(id)
            .select(orders::id)
            .for_update()
            .first::<String>(c)
            .optional()
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
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

/// Shows the order to its employer, or hides it (a confidential campaign's coachee shares their
/// participation, or withdraws that).
pub fn set_employer_sees(conn: &mut DbConnection, id: &str, sees: bool) -> QueryResult<()> {
    diesel::update(orders::table.find(id))
        .set(orders::employer_sees.eq(sees))
        .execute(conn)
        .map(drop)
}

/// Marks the order's working relationship at risk, once: false when it was already.
pub fn mark_at_risk(
    conn: &mut DbConnection,
    id: &str,
    risk: AllianceRisk,
    at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        orders::table
            .filter(orders::id.eq(id))
            .filter(orders::alliance_risk.is_null()),
    )
    .set((
        orders::alliance_risk.eq(risk),
        orders::alliance_at_risk_at.eq(at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// A page of orders, each with its assigned coach's name, in one query.
pub fn list(
    conn: &mut DbConnection,
    filter: &OrderFilter,
) -> QueryResult<Vec<(Order, Option<String>)>> {
    crate::on_each_backend!(conn, |c| {
        let mut query = orders::table
            .left_join(coaches::table)
            .select((Order::as_select(), coaches::name.nullable()))
            .order(orders::id.asc())
            .into_boxed();
        query = match &filter.scope {
            OrderScope::Employer(id) => query
                .filter(orders::employer_id.eq(id.clone()))
                .filter(orders::employer_sees.eq(true)),
            OrderScope::Provider(id) => query.filter(orders::provider_id.eq(id.clone())),
            OrderScope::Coach(id) => query.filter(orders::coach_id.eq(id.clone())),
        };
        if let Some(status) = filter.status {
            query = query.filter(orders::status.eq(status));
        }
        if let Some(coach) = &filter.coach_id {
            query = query.filter(orders::coach_id.eq(coach.clone()));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(orders::kind.eq(kind));
        }
        match filter.contact {
            Some(ContactFilter { overdue: true, at }) => {
                query = query
                    .filter(orders::contacted_at.is_null())
                    .filter(orders::contact_due_at.lt(at))
                    .filter(orders::status.eq_any(statuses(OrderStatus::awaits_contact)));
            }
            Some(ContactFilter { overdue: false, at }) => {
                query = query.filter(
                    orders::contacted_at
                        .is_not_null()
                        .or(orders::contact_due_at.ge(at))
                        .or(orders::status.ne_all(statuses(OrderStatus::awaits_contact))),
                );
            }
            None => {}
        }
        if let Some(since) = filter.updated_since {
            query = query.filter(orders::updated_at.ge(since));
        }
        if let Some(after) = &filter.after {
            query = query.filter(orders::id.gt(after.clone()));
        }
        Limited::new(query, filter.limit).load(c)
    })
}

/// Orders closed or cancelled (their last change) before `cutoff` whose data is not erased yet,
/// with their provider, oldest first.
pub fn finished_unerased_before(
    conn: &mut DbConnection,
    cutoff: NaiveDateTime,
) -> QueryResult<Vec<(String, String)>> {
    use super::schema::erasures;
    orders::table
        .filter(orders::status.eq_any([OrderStatus::Closed, OrderStatus::Cancelled]))
        .filter(orders::updated_at.le(cutoff))
        .filter(diesel::dsl::not(diesel::dsl::exists(
            erasures::table.filter(erasures::order_id.eq(orders::id)),
        )))
        .order(orders::updated_at.asc())
        .select((orders::id, orders::provider_id))
        .load(conn)
}

/// The orders in `coach_id`'s hands that another coach can take over (oldest first).
pub fn awaiting_coach(conn: &mut DbConnection, coach_id: &str) -> QueryResult<Vec<String>> {
    orders::table
        .filter(orders::coach_id.eq(coach_id))
        .filter(orders::status.eq_any(statuses(OrderStatus::awaits_its_coach)))
        .order((orders::created_at.asc(), orders::id.asc()))
        .select(orders::id)
        .load(conn)
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
