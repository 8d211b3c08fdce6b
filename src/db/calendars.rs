//! Calendar feed tokens, stored as SHA-256 digests.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::calendar_feeds;
use super::DbConnection;

/// Whose calendar a feed shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedOwner {
    Coach(String),
    Order(String),
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = calendar_feeds)]
pub struct Feed {
    pub id: String,
    pub coach_id: Option<String>,
    pub order_id: Option<String>,
    pub token_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

/// Stores a new feed for its owner and revokes the owner's earlier ones. Call with the owner's
/// row locked, so that two rotations cannot both stay live.
pub fn rotate(conn: &mut DbConnection, feed: &Feed, now: NaiveDateTime) -> QueryResult<()> {
    let owner = match (&feed.coach_id, &feed.order_id) {
        (Some(coach), _) => FeedOwner::Coach(coach.clone()),
        (_, Some(order)) => FeedOwner::Order(order.clone()),
        (None, None) => return Err(diesel::result::Error::NotFound),
    };
    revoke(conn, &owner, now)?;
    diesel::insert_into(calendar_feeds::table)
        .values(feed)
        .execute(conn)
        .map(drop)
}

/// Revokes every live feed of `owner`; how many.
pub fn revoke(
    conn: &mut DbConnection,
    owner: &FeedOwner,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let live = calendar_feeds::table
        .filter(calendar_feeds::revoked_at.is_null())
        .into_boxed();
    let live = match owner {
        FeedOwner::Coach(id) => live.filter(calendar_feeds::coach_id.eq(id.clone())),
        FeedOwner::Order(id) => live.filter(calendar_feeds::order_id.eq(id.clone())),
    };
    let ids: Vec<String> = live.select(calendar_feeds::id).load(conn)?;
    diesel::update(calendar_feeds::table.filter(calendar_feeds::id.eq_any(ids)))
        .set(calendar_feeds::revoked_at.eq(now))
        .execute(conn)
}

/// Whether a live feed of `owner` has this token digest.
pub fn opens(conn: &mut DbConnection, owner: &FeedOwner, token_hash: &str) -> QueryResult<bool> {
    let live = calendar_feeds::table
        .filter(calendar_feeds::token_hash.eq(token_hash))
        .filter(calendar_feeds::revoked_at.is_null())
        .select((calendar_feeds::coach_id, calendar_feeds::order_id))
        .get_result::<(Option<String>, Option<String>)>(conn)
        .optional()?;
    Ok(match (live, owner) {
        (Some((Some(coach), _)), FeedOwner::Coach(id)) => &coach == id,
        (Some((_, Some(order))), FeedOwner::Order(id)) => &order == id,
        _ => false,
    })
}
