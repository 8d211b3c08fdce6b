//! Invitation campaigns, who signed up to them, and how many sign-ups each refused and why.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use super::schema::{invitation_refusals, invitation_sign_ups, invitations};
use super::{Day, DbConnection};
use crate::domain::invitation::{RefusalReason, Standing};
use crate::domain::order::TrajectoryKind;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = invitations, treat_none_as_null = true)]
pub struct Invitation {
    pub id: String,
    pub employer_id: String,
    pub title: String,
    pub message: String,
    pub kind: TrajectoryKind,
    pub session_budget: i32,
    pub max_sign_ups: i32,
    #[diesel(deserialize_as = Day)]
    pub ends_on: NaiveDate,
    pub confidential: bool,
    /// The SHA-256 digest of the campaign's link token.
    pub token_hash: String,
    /// Orders made by sign-ups. Written only by [`count_sign_up`], never by [`save`].
    #[diesel(skip_update)]
    pub sign_ups: i32,
    pub closed_at: Option<NaiveDateTime>,
    pub version: i32,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Invitation {
    pub fn standing(&self) -> Standing {
        Standing {
            closed: self.closed_at.is_some(),
            ends_on: self.ends_on,
            max_sign_ups: u32::try_from(self.max_sign_ups).unwrap_or(0),
            sign_ups: u32::try_from(self.sign_ups).unwrap_or(0),
        }
    }
}

pub fn insert(conn: &mut DbConnection, invitation: &Invitation) -> QueryResult<()> {
    diesel::insert_into(invitations::table)
        .values(invitation)
        .execute(conn)
        .map(drop)
}

/// The employer's campaign `id`.
pub fn find(
    conn: &mut DbConnection,
    employer_id: &str,
    id: &str,
) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::id.eq(id))
        .filter(invitations::employer_id.eq(employer_id))
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

/// The campaign `id`, whoever's it is.
pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Invitation>> {
    invitations::table
        .find(id)
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

/// The campaign whose link token has the digest `token_hash`.
pub fn find_by_token(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<Invitation>> {
    invitations::table
        .filter(invitations::token_hash.eq(token_hash))
        .select(Invitation::as_select())
        .first(conn)
        .optional()
}

/// Locks the campaign until the transaction ends, so that two sign-ups cannot both take its
/// last place (PostgreSQL: `FOR UPDATE`; a SQLite write transaction holds the database).
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(c) => invitations::table
            .find(id)
            .select(invitations::id)
            .for_update()
            .first::<String>(c)
            .optional()
            .map(drop),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// A page of the employer's campaigns, oldest first.
pub fn list(
    conn: &mut DbConnection,
    employer_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Invitation>> {
    let mut query = invitations::table
        .filter(invitations::employer_id.eq(employer_id))
        .order(invitations::id.asc())
        .limit(limit)
        .select(Invitation::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(invitations::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// Saves `invitation` over the version `previous`; false when another change came first.
pub fn save(conn: &mut DbConnection, invitation: &Invitation, previous: i32) -> QueryResult<bool> {
    diesel::update(
        invitations::table
            .filter(invitations::id.eq(&invitation.id))
            .filter(invitations::version.eq(previous)),
    )
    .set(invitation)
    .execute(conn)
    .map(|n| n == 1)
}

/// Counts one more sign-up of the campaign.
pub fn count_sign_up(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(invitations::table.find(id))
        .set(invitations::sign_ups.eq(invitations::sign_ups + 1))
        .execute(conn)
        .map(drop)
}

/// The order a person (one of their `keys`) signed up with in the campaign, if any.
pub fn order_of(
    conn: &mut DbConnection,
    invitation_id: &str,
    keys: &[String],
) -> QueryResult<Option<String>> {
    invitation_sign_ups::table
        .filter(invitation_sign_ups::invitation_id.eq(invitation_id))
        .filter(invitation_sign_ups::person_key.eq_any(keys))
        .select(invitation_sign_ups::order_id)
        .first(conn)
        .optional()
}

/// Remembers that the person with `keys` signed up to the campaign with `order_id`.
pub fn remember_sign_up(
    conn: &mut DbConnection,
    invitation_id: &str,
    keys: &[String],
    order_id: &str,
) -> QueryResult<()> {
    for key in keys {
        diesel::insert_into(invitation_sign_ups::table)
            .values((
                invitation_sign_ups::invitation_id.eq(invitation_id),
                invitation_sign_ups::person_key.eq(key),
                invitation_sign_ups::order_id.eq(order_id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Counts one more sign-up refused for `reason`. One statement: concurrent refusals all count.
pub fn count_refusal(
    conn: &mut DbConnection,
    invitation_id: &str,
    reason: RefusalReason,
) -> QueryResult<()> {
    use invitation_refusals::dsl;
    crate::on_each_backend!(conn, |c| diesel::insert_into(dsl::invitation_refusals)
        .values((
            dsl::invitation_id.eq(invitation_id),
            dsl::reason.eq(reason.as_str()),
            dsl::refused.eq(1_i64),
        ))
        .on_conflict((dsl::invitation_id, dsl::reason))
        .do_update()
        .set(dsl::refused.eq(dsl::refused + 1_i64))
        .execute(c))
    .map(drop)
}

/// The campaigns' refusals, per reason.
pub fn refusals_of(
    conn: &mut DbConnection,
    invitation_ids: &[String],
) -> QueryResult<Vec<(String, RefusalReason, i64)>> {
    let rows: Vec<(String, String, i64)> = invitation_refusals::table
        .filter(invitation_refusals::invitation_id.eq_any(invitation_ids))
        .select((
            invitation_refusals::invitation_id,
            invitation_refusals::reason,
            invitation_refusals::refused,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, reason, n)| RefusalReason::parse(&reason).map(|r| (id, r, n)))
        .collect())
}
