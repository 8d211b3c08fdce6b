//! The coachee's link tokens: each issued link is a row, so it can expire and be revoked.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::coachee_links;
use super::DbConnection;

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

pub fn insert(conn: &mut DbConnection, link: &CoacheeLink) -> QueryResult<()> {
    diesel::insert_into(coachee_links::table)
        .values(link)
        .execute(conn)
        .map(drop)
}

/// Whether a link is live: issued, not revoked, not expired.
pub fn is_live(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    coachee_links::table
        .filter(coachee_links::id.eq(id))
        .filter(coachee_links::revoked_at.is_null())
        .filter(coachee_links::expires_at.gt(now))
        .count()
        .get_result::<i64>(conn)
        .map(|n| n == 1)
}

/// Revokes every live link of an order; returns how many.
pub fn revoke_all(
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
