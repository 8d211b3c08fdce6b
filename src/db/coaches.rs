//! Coach profiles.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::coaches;
use super::{DbConnection, Json};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = coaches)]
pub struct Coach {
    pub id: String,
    pub organisation_id: String,
    pub user_id: Option<String>,
    pub name: String,
    pub email: String,
    /// Slugs, e.g. `technical_background`.
    pub specialisms: Json<Vec<String>>,
    /// ISO 639-1 codes.
    pub languages: Json<Vec<String>>,
    pub time_zone: String,
    pub active: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// What a list of coaches is filtered on; ids after `after` (keyset pagination).
#[derive(Debug, Clone, Default)]
pub struct CoachFilter {
    pub organisation_id: String,
    pub active: Option<bool>,
    pub updated_since: Option<NaiveDateTime>,
    pub after: Option<String>,
    pub limit: i64,
}

pub fn insert(conn: &mut DbConnection, coach: &Coach) -> QueryResult<()> {
    diesel::insert_into(coaches::table)
        .values(coach)
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Coach>> {
    coaches::table
        .find(id)
        .select(Coach::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_user(conn: &mut DbConnection, user_id: &str) -> QueryResult<Option<Coach>> {
    coaches::table
        .filter(coaches::user_id.eq(user_id))
        .select(Coach::as_select())
        .first(conn)
        .optional()
}

/// The organisation's coach with this email (stored in lower case), if any.
pub fn find_by_email(
    conn: &mut DbConnection,
    organisation_id: &str,
    email: &str,
) -> QueryResult<Option<Coach>> {
    coaches::table
        .filter(coaches::organisation_id.eq(organisation_id))
        .filter(coaches::email.eq(email.trim().to_lowercase()))
        .select(Coach::as_select())
        .first(conn)
        .optional()
}

/// Links the coach to their login, as a change of the profile (its version moves on).
pub fn set_user(
    conn: &mut DbConnection,
    coach_id: &str,
    user_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(coaches::table.find(coach_id))
        .set((
            coaches::user_id.eq(user_id),
            coaches::version.eq(coaches::version + 1),
            coaches::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// At most `filter.limit` coaches in id order (ids are time-ordered UUID v7).
pub fn list(conn: &mut DbConnection, filter: &CoachFilter) -> QueryResult<Vec<Coach>> {
    let mut query = coaches::table
        .filter(coaches::organisation_id.eq(&filter.organisation_id))
        .select(Coach::as_select())
        .order(coaches::id.asc())
        .limit(filter.limit)
        .into_boxed();
    if let Some(active) = filter.active {
        query = query.filter(coaches::active.eq(active));
    }
    if let Some(since) = filter.updated_since {
        query = query.filter(coaches::updated_at.ge(since));
    }
    if let Some(after) = &filter.after {
        query = query.filter(coaches::id.gt(after));
    }
    query.load(conn)
}

/// Writes a changed profile if nobody changed it since `expected_version` was read; returns
/// whether it was written.
pub fn update(conn: &mut DbConnection, coach: &Coach, expected_version: i32) -> QueryResult<bool> {
    diesel::update(
        coaches::table
            .filter(coaches::id.eq(&coach.id))
            .filter(coaches::version.eq(expected_version)),
    )
    .set((
        coaches::name.eq(&coach.name),
        coaches::email.eq(&coach.email),
        coaches::specialisms.eq(&coach.specialisms),
        coaches::languages.eq(&coach.languages),
        coaches::time_zone.eq(&coach.time_zone),
        coaches::active.eq(coach.active),
        coaches::version.eq(coach.version),
        coaches::updated_at.eq(coach.updated_at),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

impl Coach {
    /// Whether this coach can take an order of `provider_id` (`domain::coach`).
    pub fn can_take_orders_of(&self, provider_id: &str) -> bool {
        crate::domain::coach::can_take_orders(
            &self.organisation_id,
            self.active,
            self.user_id.is_some(),
            provider_id,
        )
    }
}

/// Locks the coach's row until the transaction ends, so that bookings on the coach's calendar
/// (for different orders) check and write one at a time (PostgreSQL: `FOR UPDATE`; a SQLite
/// write transaction holds the whole database already).
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(c) => coaches::table
            .find(id)
            .select(coaches::id)
            .for_update()
            .first::<String>(c)
            .optional()
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}
