//! Follow-ups, the employers' follow-up policies, and the closing reviews that come before them.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{closing_reviews, follow_up_policies, follow_ups};
use super::{DbConnection, Json};
use crate::domain::closing::ClosingReview;
use crate::domain::follow_up::{FollowUpFlag, FollowUpStatus, Results};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = follow_ups, treat_none_as_null = true)]
pub struct FollowUp {
    pub id: String,
    pub order_id: String,
    pub provider_id: String,
    pub number: i32,
    pub due_on: NaiveDate,
    pub status: FollowUpStatus,
    pub session_id: Option<String>,
    pub flag: Option<FollowUpFlag>,
    pub skip_reason: Option<String>,
    pub results: Option<Results>,
    pub outcome_note: Option<String>,
    pub outcome_at: Option<NaiveDateTime>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Inserts the follow-up; false when the order has one of that number already (a repeat).
pub fn insert(conn: &mut DbConnection, follow_up: &FollowUp) -> QueryResult<bool> {
    crate::on_each_backend!(conn, |c| diesel::insert_into(follow_ups::table)
        .values(follow_up)
        .on_conflict((follow_ups::order_id, follow_ups::number))
        .do_nothing()
        .execute(c))
    .map(|n| n == 1)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<FollowUp>> {
    follow_ups::table
        .find(id)
        .select(FollowUp::as_select())
        .first(conn)
        .optional()
}

/// Locks the follow-up's row until the transaction ends (PostgreSQL; a SQLite write
/// transaction holds the database already).
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(c) => follow_ups::table
            .find(id)
            .select(follow_ups::id)
            .for_update()
            .first::<String>(c)
            .optional()
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// The order's follow-ups, first first.
pub fn of_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<FollowUp>> {
    follow_ups::table
        .filter(follow_ups::order_id.eq(order_id))
        .order(follow_ups::number.asc())
        .select(FollowUp::as_select())
        .load(conn)
}

/// The follow-up that holds `session_id`, if one does.
pub fn of_session(conn: &mut DbConnection, session_id: &str) -> QueryResult<Option<FollowUp>> {
    follow_ups::table
        .filter(follow_ups::session_id.eq(session_id))
        .select(FollowUp::as_select())
        .first(conn)
        .optional()
}

/// Writes a changed follow-up if nobody changed it since version `expected` was read.
pub fn update(conn: &mut DbConnection, follow_up: &FollowUp, expected: i32) -> QueryResult<bool> {
    diesel::update(
        follow_ups::table
            .filter(follow_ups::id.eq(&follow_up.id))
            .filter(follow_ups::version.eq(expected)),
    )
    .set(follow_up)
    .execute(conn)
    .map(|n| n == 1)
}

/// What a list of follow-ups is filtered on: one provider's, or one coach's orders' among them.
#[derive(Debug, Clone)]
pub struct FollowUpFilter {
    pub provider_id: String,
    /// Only the orders assigned to this coach.
    pub coach_id: Option<String>,
    pub status: Option<FollowUpStatus>,
    pub due_before: Option<NaiveDate>,
    /// Keyset: after this (due date, id).
    pub after: Option<(NaiveDate, String)>,
    pub limit: i64,
}

/// A page of follow-ups by due date.
pub fn list(conn: &mut DbConnection, filter: &FollowUpFilter) -> QueryResult<Vec<FollowUp>> {
    use super::schema::orders;
    let mut query = follow_ups::table
        .inner_join(orders::table)
        .filter(follow_ups::provider_id.eq(&filter.provider_id))
        .select(FollowUp::as_select())
        .order((follow_ups::due_on.asc(), follow_ups::id.asc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(coach) = &filter.coach_id {
        query = query.filter(orders::coach_id.eq(coach));
    }
    if let Some(status) = filter.status {
        query = query.filter(follow_ups::status.eq(status));
    }
    if let Some(before) = filter.due_before {
        query = query.filter(follow_ups::due_on.lt(before));
    }
    if let Some((due, id)) = &filter.after {
        query = query.filter(
            follow_ups::due_on.gt(*due).or(follow_ups::due_on
                .eq(*due)
                .and(follow_ups::id.gt(id.clone()))),
        );
    }
    query.load(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = follow_up_policies)]
pub struct PolicyRecord {
    pub employer_id: String,
    pub days: Json<Vec<u32>>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

pub fn find_policy(
    conn: &mut DbConnection,
    employer_id: &str,
) -> QueryResult<Option<PolicyRecord>> {
    follow_up_policies::table
        .find(employer_id)
        .select(PolicyRecord::as_select())
        .first(conn)
        .optional()
}

/// Inserts the first version or updates the one read; false when someone else wrote between.
pub fn save_policy(
    conn: &mut DbConnection,
    record: &PolicyRecord,
    expected_version: Option<i32>,
) -> QueryResult<bool> {
    match expected_version {
        None => super::sessions::unless_raced(
            diesel::insert_into(follow_up_policies::table)
                .values(record)
                .execute(conn),
        ),
        Some(version) => diesel::update(
            follow_up_policies::table
                .filter(follow_up_policies::employer_id.eq(&record.employer_id))
                .filter(follow_up_policies::version.eq(version)),
        )
        .set((
            follow_up_policies::days.eq(&record.days),
            follow_up_policies::version.eq(record.version),
            follow_up_policies::updated_at.eq(record.updated_at),
        ))
        .execute(conn),
    }
    .map(|n| n == 1)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = closing_reviews)]
pub struct ClosingReviewRecord {
    pub order_id: String,
    pub review: Json<ClosingReview>,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

pub fn find_review(
    conn: &mut DbConnection,
    order_id: &str,
) -> QueryResult<Option<ClosingReviewRecord>> {
    closing_reviews::table
        .find(order_id)
        .select(ClosingReviewRecord::as_select())
        .first(conn)
        .optional()
}

/// Inserts the first version or updates the one read; false when someone else wrote between.
pub fn save_review(
    conn: &mut DbConnection,
    record: &ClosingReviewRecord,
    expected_version: Option<i32>,
) -> QueryResult<bool> {
    match expected_version {
        None => super::sessions::unless_raced(
            diesel::insert_into(closing_reviews::table)
                .values(record)
                .execute(conn),
        ),
        Some(version) => diesel::update(
            closing_reviews::table
                .filter(closing_reviews::order_id.eq(&record.order_id))
                .filter(closing_reviews::version.eq(version)),
        )
        .set((
            closing_reviews::review.eq(&record.review),
            closing_reviews::version.eq(record.version),
            closing_reviews::updated_at.eq(record.updated_at),
        ))
        .execute(conn),
    }
    .map(|n| n == 1)
}
