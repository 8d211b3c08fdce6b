//! The OAuth 2.0 grants of `POST /auth/token` (RFC 6749) and revocation (RFC 7009).
//!
//! - `client_credentials`: an HR system authenticates with its client id and secret; no refresh
//!   token (RFC 6749 §4.4.3).
//! - `password`: a person signs in with email and password; gets a refresh token that starts a
//!   new family (one login session).
//! - `refresh_token`: a refresh token is exchanged once for a new pair in the same family. Using
//!   an already-rotated one again means it leaked: the whole family is revoked.

use std::sync::Arc;

use actix_web::http::StatusCode;
use chrono::{DateTime, Duration, Utc};

use crate::auth::jwt::{Claims, JwtKeys, TokenType};
use crate::auth::secrets;
use crate::clock::new_id;
use crate::db::identity::{self, ApiClient, RefreshToken};
use crate::db::{self, DbConnection, Pool};
use crate::domain::access::{may_sign_in, LoginThrottle};
use crate::domain::principal::{Role, SubjectType};
use crate::error::ApiError;
use crate::service::access::{self, ThrottleKey};

/// Everything needed to issue tokens; shared by all workers.
#[derive(Debug)]
pub struct TokenIssuer {
    pub keys: Arc<JwtKeys>,
    pub throttle: LoginThrottle,
    /// Tokens the database confirmed a moment ago; forgotten when access ends here.
    pub confirmed: crate::auth::confirmed::ConfirmedTokens,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
}

/// What the token endpoint returns (RFC 6749 §5.1).
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub role: Role,
}

/// How the client authenticated, if it did (HTTP Basic or body parameters).
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

fn invalid_grant(description: &str) -> ApiError {
    ApiError::oauth(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn invalid_client() -> ApiError {
    ApiError::oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "client authentication failed",
    )
}

struct Subject<'a> {
    id: &'a str,
    subject_type: SubjectType,
    role: Role,
    organisation_id: &'a str,
}

impl TokenIssuer {
    /// The claims of a token for `subject`, issued at `now` and valid until `expires`.
    fn claims(
        &self,
        subject: &Subject<'_>,
        typ: TokenType,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Claims {
        Claims {
            iss: self.keys.issuer.clone(),
            aud: self.keys.audience.clone(),
            sub: subject.id.to_string(),
            exp: expires.timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: new_id(),
            typ,
            role: subject.role,
            org: subject.organisation_id.to_string(),
            sub_type: subject.subject_type,
            fam: None,
            ord: None,
        }
    }

    /// The bearer token of a coachee link: role `coachee`, for one order, until the link expires.
    pub fn coachee_link_token(
        &self,
        link_id: &str,
        order_id: &str,
        employer_id: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let subject = Subject {
            id: link_id,
            subject_type: SubjectType::Link,
            role: Role::Coachee,
            organisation_id: employer_id,
        };
        let claims = Claims {
            ord: Some(order_id.to_string()),
            ..self.claims(&subject, TokenType::Access, now, expires)
        };
        self.keys.sign(&claims)
    }

    /// Issues an access token, and for people a refresh token in `family` (a new family when
    /// `None`), recording the refresh token so it can be rotated once.
    fn issue(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
        subject: Subject<'_>,
        family: Option<String>,
    ) -> Result<IssuedTokens, ApiError> {
        // A person's tokens name their login session: revoking it ends the access token too.
        let family =
            (subject.subject_type == SubjectType::User).then(|| family.unwrap_or_else(new_id));
        let access = self.keys.sign(&Claims {
            fam: family.clone(),
            ..self.claims(&subject, TokenType::Access, now, now + self.access_ttl)
        })?;
        let refresh_token = match family {
            None => None,
            Some(family) => {
                let expires = now + self.refresh_ttl;
                let claims = Claims {
                    fam: Some(family.clone()),
                    ..self.claims(&subject, TokenType::Refresh, now, expires)
                };
                identity::insert_refresh_token(
                    conn,
                    &RefreshToken {
                        id: claims.jti.clone(),
                        family_id: family,
                        user_id: subject.id.to_string(),
                        issued_at: now.naive_utc(),
                        expires_at: expires.naive_utc(),
                        rotated_at: None,
                        revoked_at: None,
                    },
                )?;
                Some(self.keys.sign(&claims)?)
            }
        };
        Ok(IssuedTokens {
            access_token: access,
            expires_in: self.access_ttl.num_seconds(),
            refresh_token,
            role: subject.role,
        })
    }

    pub fn client_credentials(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
        credentials: &ClientCredentials,
    ) -> Result<IssuedTokens, ApiError> {
        let key = ThrottleKey::client(&credentials.client_id);
        access::admit_sign_in(conn, &self.throttle, &key, now)?;
        let client = identity::find_client_by_client_id(conn, &credentials.client_id)?
            .filter(|c| c.active)
            .filter(|c| secret_opens(c, &credentials.client_secret, now));
        access::record_sign_in(conn, &self.throttle, &key, now, client.is_some())?;
        let Some(client) = client else {
            return Err(invalid_client());
        };
        db::write(conn, |conn| {
            self.issue(
                conn,
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

    /// The password grant. The password hash is checked on a blocking thread while no database
    /// connection is held, so a burst of logins cannot starve the pool.
    pub async fn password(
        self: &Arc<Self>,
        pool: &Pool,
        now: DateTime<Utc>,
        username: &str,
        password: &str,
    ) -> Result<IssuedTokens, ApiError> {
        let key = ThrottleKey::account(username);
        let email = username.to_string();
        let throttle = self.throttle;
        let admitted = key.clone();
        let user = db::run(pool, move |conn| {
            access::admit_sign_in(conn, &throttle, &admitted, now)?;
            let Some(user) = identity::find_user_by_email(conn, &email)? else {
                return Ok::<_, ApiError>(None);
            };
            let coach_active = crate::db::coaches::find_by_user(conn, &user.id)?.map(|c| c.active);
            Ok(Some((user, coach_active)))
        })
        .await?;
        let password = password.to_string();
        let stored = user.as_ref().map(|(u, _)| u.password_hash.clone());
        let verified = crate::telemetry::spawn_blocking_in_span(move || {
            secrets::verify_password(&password, stored.as_deref())
        })
        .await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("password check panicked")))?;
        let user = match user {
            Some((user, coach_active)) if verified && may_sign_in(user.active, coach_active) => {
                Some(user)
            }
            _ => None,
        };
        let issuer = Arc::clone(self);
        db::run(pool, move |conn| {
            access::record_sign_in(conn, &issuer.throttle, &key, now, user.is_some())?;
            let user = user.ok_or_else(|| invalid_grant("the email or password is wrong"))?;
            db::write(conn, |conn| {
                issuer.issue(
                    conn,
                    now,
                    Subject {
                        id: &user.id,
                        subject_type: SubjectType::User,
                        role: user.role,
                        organisation_id: &user.organisation_id,
                    },
                    None,
                )
            })
        })
        .await
    }

    pub fn refresh(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
        refresh_token: &str,
    ) -> Result<IssuedTokens, ApiError> {
        enum Outcome {
            Issued(IssuedTokens),
            Reused,
            Dead,
        }
        let claims = self
            .keys
            .verify(refresh_token, TokenType::Refresh, now)
            .map_err(|e| {
                invalid_grant(&format!("the refresh token is not valid: {}", e.reason()))
            })?;
        let outcome = db::write(conn, |conn| -> Result<Outcome, ApiError> {
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
                    let coach = crate::db::coaches::find_by_user(conn, &user.id)?;
                    may_sign_in(user.active, coach.map(|c| c.active)).then_some(user)
                }
                None => None,
            };
            let Some(user) = user else {
                return Ok(Outcome::Dead);
            };
            self.issue(
                conn,
                now,
                Subject {
                    id: &user.id,
                    subject_type: SubjectType::User,
                    role: user.role,
                    organisation_id: &user.organisation_id,
                },
                Some(stored.family_id),
            )
            .map(Outcome::Issued)
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
    /// token is not an error (the client's goal is met).
    pub fn revoke(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
        token: &str,
    ) -> Result<(), ApiError> {
        if let Ok(claims) = self.keys.verify(token, TokenType::Access, now) {
            let expires_at = DateTime::from_timestamp(claims.exp, 0).unwrap_or(now);
            // Kept past `exp` by the verifier's leeway, so the token is refused until it lapses.
            let expires_at = expires_at + Duration::seconds(self.keys.leeway_seconds() as i64);
            access::revoke_token(conn, now, &claims.jti, expires_at)?;
            self.confirmed.forget_all();
            return Ok(());
        }
        if let Ok(claims) = self.keys.verify(token, TokenType::Refresh, now) {
            if let Some(family) = claims.fam {
                db::write(conn, |conn| {
                    identity::revoke_refresh_family(conn, &family, now.naive_utc())
                })?;
                self.confirmed.forget_all();
            }
        }
        Ok(())
    }
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
