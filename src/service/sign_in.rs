//! Signing in: the OAuth 2.0 grants of `POST /auth/token` (RFC 6749) and revocation (RFC 7009).
//!
//! - `client_credentials`: an HR system authenticates with its client id and secret; no refresh
//!   token (RFC 6749 §4.4.3).
//! - `password`: a person signs in with email and password; gets a refresh token that starts a
//!   new family (one login session).
//! - `refresh_token`: a refresh token is exchanged once for a new pair in the same family. Using
//!   an already-rotated one again means it leaked: the whole family is revoked.
//!
//! Failed sign-ins are counted per account and per client (`service::access`), and a subject
//! that is disabled (or a coach who left) gets no tokens (`domain::access::may_sign_in`).

use chrono::{DateTime, Duration, Utc};

use crate::auth::issuer::{IssuedTokens, Subject, TokenIssuer};
use crate::auth::jwt::TokenType;
use crate::auth::secrets;
use crate::db::identity::{self, ApiClient, User};
use crate::db::{self, DbConnection};
use crate::domain::access::may_sign_in;
use crate::domain::principal::SubjectType;
use crate::service::access::{self, ThrottleKey};
use crate::service::error::{ServiceError, ServiceResult};

/// How an API client authenticated (HTTP Basic or body parameters).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

fn invalid_grant(description: &str) -> ServiceError {
    ServiceError::InvalidGrant(description.to_string())
}

/// Signs `subject` in: its tokens, the refresh token recorded (in the caller's transaction).
fn issue(
    conn: &mut DbConnection,
    issuer: &TokenIssuer,
    now: DateTime<Utc>,
    subject: Subject<'_>,
    family: Option<String>,
) -> ServiceResult<IssuedTokens> {
    let (tokens, refresh) = issuer.sign(now, subject, family)?;
    if let Some(refresh) = refresh {
        identity::insert_refresh_token(conn, &refresh)?;
    }
    Ok(tokens)
}

fn person(user: &User) -> Subject<'_> {
    Subject {
        id: &user.id,
        subject_type: SubjectType::User,
        role: user.role,
        organisation_id: &user.organisation_id,
    }
}

/// The `client_credentials` grant.
pub fn client_credentials(
    conn: &mut DbConnection,
    issuer: &TokenIssuer,
    now: DateTime<Utc>,
    credentials: &ClientCredentials,
) -> ServiceResult<IssuedTokens> {
    let key = ThrottleKey::client(&credentials.client_id);
    access::admit_sign_in(conn, &issuer.throttle, &key, now)?;
    let client = identity::find_client_by_client_id(conn, &credentials.client_id)?
        .filter(|c| c.active)
        .filter(|c| secret_opens(c, &credentials.client_secret, now));
    access::record_sign_in(conn, &issuer.throttle, &key, now, client.is_some())?;
    let client = client.ok_or(ServiceError::InvalidClient)?;
    db::write(conn, |conn| {
        issue(
            conn,
            issuer,
            now,
            Subject {
                id: &client.id,
                subject_type: SubjectType::Client,
                role: client.role,
                organisation_id: &client.organisation_id,
            },
            None,
        )
    })
}

/// A person's account as the `password` grant finds it, before the password is checked.
#[derive(Debug)]
pub struct Account {
    key: ThrottleKey,
    found: Option<(User, Option<bool>)>,
}

impl Account {
    /// The stored password hash to check the password against (none for an unknown email: the
    /// check then takes as long as for a known one).
    pub fn password_hash(&self) -> Option<&str> {
        self.found
            .as_ref()
            .map(|(user, _)| user.password_hash.as_str())
    }
}

/// The `password` grant, first step: refuses a locked-out account, and finds the person. The
/// password hash is then checked with no database connection held (it is slow on purpose), so a
/// burst of sign-ins cannot starve the pool; [`sign_in_with_password`] finishes.
pub fn find_account(
    conn: &mut DbConnection,
    issuer: &TokenIssuer,
    now: DateTime<Utc>,
    username: &str,
) -> ServiceResult<Account> {
    let key = ThrottleKey::account(username);
    access::admit_sign_in(conn, &issuer.throttle, &key, now)?;
    let found = match identity::find_user_by_email(conn, username)? {
        Some(user) => {
            let coach_active = db::coaches::find_by_user(conn, &user.id)?.map(|c| c.active);
            Some((user, coach_active))
        }
        None => None,
    };
    Ok(Account { key, found })
}

/// The `password` grant, second step: counts the attempt, and signs the person in when the
/// password was right and they may sign in.
pub fn sign_in_with_password(
    conn: &mut DbConnection,
    issuer: &TokenIssuer,
    now: DateTime<Utc>,
    account: Account,
    password_verified: bool,
) -> ServiceResult<IssuedTokens> {
    let user = account
        .found
        .filter(|(user, coach_active)| password_verified && may_sign_in(user.active, *coach_active))
        .map(|(user, _)| user);
    access::record_sign_in(conn, &issuer.throttle, &account.key, now, user.is_some())?;
    let user = user.ok_or_else(|| invalid_grant("the email or password is wrong"))?;
    db::write(conn, |conn| issue(conn, issuer, now, person(&user), None))
}

/// The `refresh_token` grant.
pub fn refresh(
    conn: &mut DbConnection,
    issuer: &TokenIssuer,
    now: DateTime<Utc>,
    refresh_token: &str,
) -> ServiceResult<IssuedTokens> {
    enum Outcome {
        Issued(IssuedTokens),
        Reused,
        Dead,
    }
    let claims = issuer
        .keys
        .verify(refresh_token, TokenType::Refresh, now)
        .map_err(|e| invalid_grant(&format!("the refresh token is not valid: {}", e.reason())))?;
    let outcome = db::write(conn, |conn| -> ServiceResult<Outcome> {
        let now_at = now.naive_utc();
        let Some(stored) = identity::find_refresh_token(conn, &claims.jti)? else {
            return Ok(Outcome::Dead);
        };
        if !identity::mark_refresh_token_rotated(conn, &stored.id, now_at)? {
            // Read again: a concurrent refresh may have rotated it after our first read.
            let stored = identity::find_refresh_token(conn, &claims.jti)?.unwrap_or(stored);
            if stored.rotated_at.is_some() && stored.revoked_at.is_none() {
                // A rotated token came back: someone kept a copy. End the whole session.
                identity::revoke_refresh_family(conn, &stored.family_id, now_at)?;
                return Ok(Outcome::Reused);
            }
            return Ok(Outcome::Dead);
        }
        let user = match identity::find_user(conn, &stored.user_id)? {
            Some(user) => {
                let coach = db::coaches::find_by_user(conn, &user.id)?;
                may_sign_in(user.active, coach.map(|c| c.active)).then_some(user)
            }
            None => None,
        };
        let Some(user) = user else {
            return Ok(Outcome::Dead);
        };
        issue(conn, issuer, now, person(&user), Some(stored.family_id)).map(Outcome::Issued)
    })?;
    match outcome {
        Outcome::Issued(tokens) => Ok(tokens),
        Outcome::Reused => {
            tracing::warn!(family = ?claims.fam, "refresh token reused; session revoked");
            Err(invalid_grant(
                "this refresh token was already used; the session has been revoked",
            ))
        }
        Outcome::Dead => Err(invalid_grant("the refresh token is revoked or expired")),
    }
}

/// RFC 7009: revoking a refresh token ends its whole session, with every access token issued
/// in it; revoking an access token ends that token (and nothing else). An invalid or unknown
/// token is not an error (the client's goal is met). Returns whether anything was revoked.
pub fn revoke(
    conn: &mut DbConnection,
    issuer: &TokenIssuer,
    now: DateTime<Utc>,
    token: &str,
) -> ServiceResult<bool> {
    if let Ok(claims) = issuer.keys.verify(token, TokenType::Access, now) {
        let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
        // Kept past `exp` by the verifier's leeway, so the token is refused until it lapses.
        let expires_at = expires_at + Duration::seconds(issuer.keys.leeway_seconds() as i64);
        access::revoke_token(conn, now, &claims.jti, expires_at)?;
        return Ok(true);
    }
    if let Ok(claims) = issuer.keys.verify(token, TokenType::Refresh, now) {
        if let Some(family) = claims.fam {
            db::write(conn, |conn| {
                identity::revoke_refresh_family(conn, &family, now.naive_utc())
            })?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether `secret` is the client's secret, or its previous one during the overlap after a
/// rotation.
fn secret_opens(client: &ApiClient, secret: &str, now: DateTime<Utc>) -> bool {
    let previous_opens = match (
        &client.previous_secret_hash,
        client.previous_secret_expires_at,
    ) {
        (Some(hash), Some(until)) => {
            until > now.naive_utc() && secrets::verify_client_secret(secret, hash)
        }
        _ => false,
    };
    secrets::verify_client_secret(secret, &client.secret_hash) || previous_opens
}
