//! Organisations, users, API clients and refresh-token families.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{api_clients, login_setups, organisations, refresh_tokens, users};
use super::DbConnection;
use crate::domain::principal::{OrganisationKind, Role};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = organisations)]
pub struct Organisation {
    pub id: String,
    pub kind: OrganisationKind,
    pub name: String,
    pub time_zone: String,
    pub provider_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub organisation_id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_clients)]
pub struct ApiClient {
    pub id: String,
    pub organisation_id: String,
    pub name: String,
    pub client_id: String,
    pub secret_hash: String,
    pub role: Role,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The secret before the last rotation, working until `previous_secret_expires_at`.
    pub previous_secret_hash: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    /// Tokens issued before this are refused (set when the client is disabled).
    pub tokens_not_before: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshToken {
    pub id: String,
    pub family_id: String,
    pub user_id: String,
    pub issued_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub rotated_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert_organisation(conn: &mut DbConnection, org: &Organisation) -> QueryResult<()> {
    diesel::insert_into(organisations::table)
        .values(org)
        .execute(conn)
        .map(drop)
}

pub fn find_organisation(conn: &mut DbConnection, id: &str) -> QueryResult<Option<Organisation>> {
    organisations::table
        .find(id)
        .select(Organisation::as_select())
        .first(conn)
        .optional()
}

pub fn insert_user(conn: &mut DbConnection, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(drop)
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> QueryResult<Option<User>> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::email.eq(email.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

/// Sets the first password of a login that has none yet; false when it has one (set meanwhile).
pub fn set_first_password(
    conn: &mut DbConnection,
    user_id: &str,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        users::table
            .find(user_id)
            .filter(users::password_hash.eq(crate::auth::secrets::NO_PASSWORD)),
    )
    .set((users::password_hash.eq(hash), users::updated_at.eq(now)))
    .execute(conn)
    .map(|n| n == 1)
}

/// Takes a login's password away (no password matches it until a new one is set) and ends its
/// login sessions: every refresh token it holds is revoked.
pub fn clear_password(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::password_hash.eq(crate::auth::secrets::NO_PASSWORD),
            users::updated_at.eq(now),
        ))
        .execute(conn)?;
    end_sessions(conn, user_id, now)
}

/// Ends every login session of `user_id`: each refresh token it holds is revoked, and with it
/// every access token issued in that session.
pub fn end_sessions(conn: &mut DbConnection, user_id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
    .map(drop)
}

/// A page of an organisation's logins, by id.
pub fn list_users(
    conn: &mut DbConnection,
    organisation_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut query = users::table
        .filter(users::organisation_id.eq(organisation_id))
        .order(users::id.asc())
        .limit(limit)
        .select(User::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// Enables or disables a login.
pub fn set_user_active(
    conn: &mut DbConnection,
    user_id: &str,
    active: bool,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((users::active.eq(active), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn set_user_email(
    conn: &mut DbConnection,
    user_id: &str,
    email: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((users::email.eq(email), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

/// A login waiting for its password: the digest of its one-time setup token.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = login_setups)]
pub struct LoginSetup {
    pub token_hash: String,
    pub user_id: String,
    pub expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
}

/// Stores a new setup token for the user; any earlier one stops working.
pub fn replace_login_setup(conn: &mut DbConnection, setup: &LoginSetup) -> QueryResult<()> {
    diesel::delete(login_setups::table.filter(login_setups::user_id.eq(&setup.user_id)))
        .execute(conn)?;
    diesel::insert_into(login_setups::table)
        .values(setup)
        .execute(conn)
        .map(drop)
}

/// Whether a setup token with this digest exists and works at `now`.
pub fn login_setup_works(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    login_setups::table
        .find(token_hash)
        .filter(login_setups::expires_at.gt(now))
        .count()
        .get_result::<i64>(conn)
        .map(|n| n == 1)
}

/// Spends the setup token with this digest: the user it was for, if it exists and has not
/// expired at `now`. Every setup token of that user is gone afterwards either way.
pub fn spend_login_setup(
    conn: &mut DbConnection,
    token_hash: &str,
    now: NaiveDateTime,
) -> QueryResult<Option<String>> {
    let found: Option<LoginSetup> = login_setups::table
        .find(token_hash)
        .select(LoginSetup::as_select())
        .first(conn)
        .optional()?;
    let Some(setup) = found else {
        return Ok(None);
    };
    let deleted =
        diesel::delete(login_setups::table.filter(login_setups::user_id.eq(&setup.user_id)))
            .execute(conn)?;
    Ok((deleted >= 1 && setup.expires_at > now).then_some(setup.user_id))
}

pub fn insert_client(conn: &mut DbConnection, client: &ApiClient) -> QueryResult<()> {
    diesel::insert_into(api_clients::table)
        .values(client)
        .execute(conn)
        .map(drop)
}

pub fn find_client(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiClient>> {
    api_clients::table
        .find(id)
        .select(ApiClient::as_select())
        .first(conn)
        .optional()
}

/// The API client `id`, its row locked until the transaction ends (PostgreSQL; on SQLite the
/// write transaction holds the database): a change reads what it writes back. A client's row is
/// locked alone, in no transaction that locks a coach or an order.
pub fn lock_client(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ApiClient>> {
    match conn {
        DbConnection::Postgres(c) => api_clients::table
            .find(id)
            .select(ApiClient::as_select())
            .for_update()
            .first(c)
            .optional(),
        DbConnection::Sqlite(_) => find_client(conn, id),
    }
}

pub fn find_client_by_client_id(
    conn: &mut DbConnection,
    client_id: &str,
) -> QueryResult<Option<ApiClient>> {
    api_clients::table
        .filter(api_clients::client_id.eq(client_id))
        .select(ApiClient::as_select())
        .first(conn)
        .optional()
}

/// A page of an organisation's API clients, by id.
pub fn list_clients(
    conn: &mut DbConnection,
    organisation_id: &str,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<ApiClient>> {
    let mut query = api_clients::table
        .filter(api_clients::organisation_id.eq(organisation_id))
        .order(api_clients::id.asc())
        .limit(limit)
        .select(ApiClient::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(api_clients::id.gt(after.to_string()));
    }
    query.load(conn)
}

/// Saves a client's `active`, secrets and `updated_at`.
pub fn save_client(conn: &mut DbConnection, client: &ApiClient) -> QueryResult<()> {
    diesel::update(api_clients::table.find(&client.id))
        .set((
            api_clients::active.eq(client.active),
            api_clients::secret_hash.eq(&client.secret_hash),
            api_clients::previous_secret_hash.eq(&client.previous_secret_hash),
            api_clients::previous_secret_expires_at.eq(client.previous_secret_expires_at),
            api_clients::tokens_not_before.eq(client.tokens_not_before),
            api_clients::updated_at.eq(client.updated_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn insert_refresh_token(conn: &mut DbConnection, token: &RefreshToken) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(token)
        .execute(conn)
        .map(drop)
}

pub fn find_refresh_token(conn: &mut DbConnection, id: &str) -> QueryResult<Option<RefreshToken>> {
    refresh_tokens::table
        .find(id)
        .select(RefreshToken::as_select())
        .first(conn)
        .optional()
}

/// Marks a live refresh token as used; false when it was already used, revoked or expired.
/// One statement, so two concurrent refreshes cannot both succeed.
pub fn mark_refresh_token_rotated(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::id.eq(id))
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(now)),
    )
    .set(refresh_tokens::rotated_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Revokes every token of a family (a login session).
pub fn revoke_refresh_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}
