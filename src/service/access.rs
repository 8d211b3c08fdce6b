//! Whether a presented token still holds, and the sign-in throttle every instance shares.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::db::{self, access as store, DbConnection};
use crate::domain::access::{self, LoginThrottle};
use crate::domain::permission::Act;
use crate::domain::principal::Principal;
use crate::service::error::{ServiceError, ServiceResult};

/// A verified token's claims that the database is asked about.
#[derive(Debug, Clone)]
pub struct Presented<'a> {
    pub principal: &'a Principal,
    /// The token's id (revocation is per token).
    pub jti: &'a str,
    /// A person's login session (refresh-token family), when the token names one.
    pub family: Option<&'a str>,
    /// When the token was issued (`iat`).
    pub issued_at: DateTime<Utc>,
}

/// Refuses a token whose subject no longer stands behind it: unknown, disabled, of another
/// organisation or role than the token says, a revoked login session, a revoked token or link.
pub fn confirm(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    presented: &Presented<'_>,
) -> ServiceResult<()> {
    let principal = presented.principal;
    let standing = store::standing(
        conn,
        principal.subject_type,
        &principal.subject,
        presented.family,
        presented.issued_at.naive_utc(),
        now.naive_utc(),
    )?;
    let revoked = store::is_revoked(conn, presented.jti)?;
    access::check(principal, &standing, revoked).map_err(|lapse| {
        tracing::info!(reason = lapse.reason(), "a token no longer holds");
        ServiceError::Unauthorized(lapse.reason())
    })
}

/// Revokes the access token `jti`, which would expire at `expires_at` anyway.
pub fn revoke_token(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    jti: &str,
    expires_at: DateTime<Utc>,
) -> ServiceResult<()> {
    db::write(conn, |conn| {
        store::revoke(conn, jti, expires_at.naive_utc(), now.naive_utc())
    })?;
    Ok(())
}

/// What the throttle counts a sign-in under: `account:<email>` or `client:<client id>`, stored
/// as a digest only.
#[derive(Debug, Clone)]
pub struct ThrottleKey(String);

impl ThrottleKey {
    pub fn account(email: &str) -> Self {
        Self::digest(&format!("account:{}", email.trim().to_lowercase()))
    }

    pub fn client(client_id: &str) -> Self {
        Self::digest(&format!("client:{client_id}"))
    }

    fn digest(key: &str) -> Self {
        ThrottleKey(hex::encode(Sha256::digest(key.as_bytes())))
    }
}

/// Refuses a sign-in while its key is locked out (`TooManyAttempts`).
pub fn admit_sign_in(
    conn: &mut DbConnection,
    throttle: &LoginThrottle,
    key: &ThrottleKey,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let since = throttle.counted_after(now).naive_utc();
    if let Some((failures, first)) = store::failures_since(conn, &key.0, since)? {
        if let Some(retry_after_seconds) =
            throttle.locked_for(failures.max(0) as u32, first.and_utc(), now)
        {
            return Err(ServiceError::TooManyAttempts {
                retry_after_seconds,
            });
        }
    }
    Ok(())
}

/// Counts a failed sign-in, or clears the count after a success.
pub fn record_sign_in(
    conn: &mut DbConnection,
    throttle: &LoginThrottle,
    key: &ThrottleKey,
    now: DateTime<Utc>,
    succeeded: bool,
) -> ServiceResult<()> {
    db::write(conn, |conn| {
        if succeeded {
            store::clear_failures(conn, &key.0)
        } else {
            let since = throttle.counted_after(now).naive_utc();
            store::count_failure(conn, &key.0, since, now.naive_utc())
        }
    })?;
    Ok(())
}

/// Refuses (403) a caller whose role may not take `act` (`domain::permission`).
pub fn require(caller: &Principal, act: Act) -> ServiceResult<()> {
    if act.allows(caller.role) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(act.refusal().into()))
    }
}
