//! The confidential documents of the coaching relationship (the intake draft and the plan, each a
//! JSON document with a version) and the coachee's consents (a history; the latest word counts).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{consents, intakes, plans};
use super::{DbConnection, Json};
use crate::domain::consent::ConsentKind;
use crate::domain::intake::IntakeDraft;
use crate::domain::plan::Plan;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = intakes)]
pub struct IntakeRecord {
    pub order_id: String,
    pub draft: Json<IntakeDraft>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

pub fn find_intake(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<IntakeRecord>> {
    intakes::table
        .find(order_id)
        .select(IntakeRecord::as_select())
        .first(conn)
        .optional()
}

/// Inserts the first version or updates the one read (`expected_version`); false when someone
/// else wrote in between.
pub fn save_intake(
    conn: &mut DbConnection,
    record: &IntakeRecord,
    expected_version: Option<i32>,
) -> QueryResult<bool> {
    match expected_version {
        None => diesel::insert_into(intakes::table)
            .values(record)
            .execute(conn)
            .map(|n| n == 1),
        Some(version) => diesel::update(
            intakes::table
                .filter(intakes::order_id.eq(&record.order_id))
                .filter(intakes::version.eq(version)),
        )
        .set((
            intakes::draft.eq(&record.draft),
            intakes::version.eq(record.version),
            intakes::updated_at.eq(record.updated_at),
            intakes::completed_at.eq(record.completed_at),
        ))
        .execute(conn)
        .map(|n| n == 1),
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = plans)]
pub struct PlanRecord {
    pub order_id: String,
    pub plan: Json<Plan>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

pub fn find_plan(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<PlanRecord>> {
    plans::table
        .find(order_id)
        .select(PlanRecord::as_select())
        .first(conn)
        .optional()
}

/// Inserts the first version or updates the one read; false when someone else wrote in between.
pub fn save_plan(
    conn: &mut DbConnection,
    record: &PlanRecord,
    expected_version: Option<i32>,
) -> QueryResult<bool> {
    match expected_version {
        None => diesel::insert_into(plans::table)
            .values(record)
            .execute(conn)
            .map(|n| n == 1),
        Some(version) => diesel::update(
            plans::table
                .filter(plans::order_id.eq(&record.order_id))
                .filter(plans::version.eq(version)),
        )
        .set((
            plans::plan.eq(&record.plan),
            plans::version.eq(record.version),
            plans::updated_at.eq(record.updated_at),
        ))
        .execute(conn)
        .map(|n| n == 1),
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = consents)]
pub struct Consent {
    pub id: String,
    pub order_id: String,
    pub kind: ConsentKind,
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
