//! What stands behind a token now (its subject, its session, its revocation), and the failed
//! sign-ins every instance counts together.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{
    api_clients, coachee_links, coaches, login_failures, orders, refresh_tokens, revoked_tokens,
    users,
};
use super::DbConnection;
use crate::domain::access::Standing;
use crate::domain::principal::{Role, SubjectType};

/// The standing of a token's subject; `family` is a person's login session, when the token
/// names one, and `issued_at` when the token was issued.
pub fn standing(
    conn: &mut DbConnection,
    subject_type: SubjectType,
    subject: &str,
    family: Option<&str>,
    issued_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Standing> {
    Ok(match subject_type {
        SubjectType::User => {
            let Some((organisation_id, role, active)) = users::table
                .find(subject)
                .select((users::organisation_id, users::role, users::active))
                .first::<(String, Role, bool)>(conn)
                .optional()?
            else {
                return Ok(Standing::Unknown);
            };
            let coach_active = coaches::table
                .filter(coaches::user_id.eq(subject))
                .select(coaches::active)
                .first::<bool>(conn)
                .optional()?;
            let session_ended = match family {
                Some(family) => refresh_tokens::table
                    .filter(refresh_tokens::family_id.eq(family))
                    .filter(refresh_tokens::revoked_at.is_not_null())
                    .select(refresh_tokens::id)
                    .first::<String>(conn)
                    .optional()?
                    .is_some(),
                None => false,
            };
            Standing::User {
                organisation_id,
                role,
                active,
                coach_active,
                session_ended,
            }
        }
        SubjectType::Client => api_clients::table
            .find(subject)
            .select((
                api_clients::organisation_id,
                api_clients::role,
                api_clients::active,
                api_clients::tokens_not_before,
            ))
            .first::<(String, Role, bool, Option<NaiveDateTime>)>(conn)
            .optional()?
            .map_or(
                Standing::Unknown,
                |(organisation_id, role, active, not_before)| Standing::Client {
                    organisation_id,
                    role,
                    active,
                    // `iat` has whole seconds: a token of the disabling's own second is let be.
                    issued_before_disabling: not_before.is_some_and(|at| issued_at < at),
                },
            ),
        SubjectType::Link => coachee_links::table
            .inner_join(orders::table.on(orders::id.eq(coachee_links::order_id)))
            .filter(coachee_links::id.eq(subject))
            .select((
                orders::employer_id,
                coachee_links::order_id,
                coachee_links::revoked_at,
                coachee_links::expires_at,
            ))
            .first::<(String, String, Option<NaiveDateTime>, NaiveDateTime)>(conn)
            .optional()?
            .map_or(
                Standing::Unknown,
                |(employer_id, order_id, revoked_at, expires_at)| Standing::Link {
                    employer_id,
                    order_id,
                    live: revoked_at.is_none() && expires_at > now,
                },
            ),
        SubjectType::Service => Standing::Unknown,
    })
}

/// Whether the access token `jti` was revoked.
pub fn is_revoked(conn: &mut DbConnection, jti: &str) -> QueryResult<bool> {
    revoked_tokens::table
        .find(jti)
        .select(revoked_tokens::jti)
        .first::<String>(conn)
        .optional()
        .map(|found| found.is_some())
}

/// Revokes the access token `jti` until `expires_at`, and forgets revocations of tokens that
/// have expired on their own by `now`.
pub fn revoke(
    conn: &mut DbConnection,
    jti: &str,
    expires_at: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
        .execute(conn)?;
    crate::on_each_backend!(conn, |c| diesel::insert_into(revoked_tokens::table)
        .values((
            revoked_tokens::jti.eq(jti),
            revoked_tokens::expires_at.eq(expires_at)
        ))
        .on_conflict_do_nothing()
        .execute(c))
    .map(drop)
}

/// The failures counted for `key_hash` since `since`, and when the first of them was.
pub fn failures_since(
    conn: &mut DbConnection,
    key_hash: &str,
    since: NaiveDateTime,
) -> QueryResult<Option<(i32, NaiveDateTime)>> {
    login_failures::table
        .find(key_hash)
        .filter(login_failures::first_at.gt(since))
        .select((login_failures::failures, login_failures::first_at))
        .first(conn)
        .optional()
}

/// Counts one failure for `key_hash`: a count whose window began at or before `since` starts
/// over at `now`. One statement per step, so concurrent failures all count. Lapsed counts of
/// other keys are left to [`sweep_lapsed`].
pub fn count_failure(
    conn: &mut DbConnection,
    key_hash: &str,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<()> {
    // Only this key's own count that has lapsed: a global sweep here would make every failed
    // sign-in scan (and on PostgreSQL lock) the others' rows.
    diesel::delete(
        login_failures::table
            .find(key_hash)
            .filter(login_failures::first_at.le(since)),
    )
    .execute(conn)?;
    crate::on_each_backend!(conn, |c| diesel::insert_into(login_failures::table)
        .values((
            login_failures::key_hash.eq(key_hash),
            login_failures::failures.eq(1),
            login_failures::first_at.eq(now),
        ))
        .on_conflict(login_failures::key_hash)
        .do_update()
        .set(login_failures::failures.eq(login_failures::failures + 1))
        .execute(c))
    .map(drop)
}

/// Forgets the failures of `key_hash` (after a success).
pub fn clear_failures(conn: &mut DbConnection, key_hash: &str) -> QueryResult<()> {
    diesel::delete(login_failures::table.find(key_hash))
        .execute(conn)
        .map(drop)
}

/// Forgets lapsed sign-in failures (their window began at or before `since`) and revocations of
/// tokens that have expired by `now` (the worker, now and then).
pub fn sweep_lapsed(
    conn: &mut DbConnection,
    since: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let failures = diesel::delete(login_failures::table.filter(login_failures::first_at.le(since)))
        .execute(conn)?;
    let revoked = diesel::delete(revoked_tokens::table.filter(revoked_tokens::expires_at.lt(now)))
        .execute(conn)?;
    Ok(failures + revoked)
}
