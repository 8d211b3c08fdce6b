//! What tokens are made of: the issuer signs access and refresh tokens for a subject and keeps
//! the settings they are issued under. Whether a subject gets them is decided by the sign-in
//! use cases (`service::sign_in`).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::auth::jwt::{Claims, JwtKeys, TokenType};
use crate::clock::new_id;
use crate::db::identity::RefreshToken;
use crate::domain::access::LoginThrottle;
use crate::domain::principal::{Role, SubjectType};

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

/// Whom tokens are issued to.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub id: &'a str,
    pub subject_type: SubjectType,
    pub role: Role,
    pub organisation_id: &'a str,
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

    /// Signs an access token, and for people a refresh token in `family` (a new family when
    /// `None`); returns the refresh token's record, which the caller stores so that it can be
    /// rotated once.
    pub fn sign(
        &self,
        now: DateTime<Utc>,
        subject: Subject<'_>,
        family: Option<String>,
    ) -> anyhow::Result<(IssuedTokens, Option<RefreshToken>)> {
        // A person's tokens name their login session: revoking it ends the access token too.
        let family =
            (subject.subject_type == SubjectType::User).then(|| family.unwrap_or_else(new_id));
        let access = self.keys.sign(&Claims {
            fam: family.clone(),
            ..self.claims(&subject, TokenType::Access, now, now + self.access_ttl)
        })?;
        let (refresh_token, record) = match family {
            None => (None, None),
            Some(family) => {
                let expires = now + self.refresh_ttl;
                let claims = Claims {
                    fam: Some(family.clone()),
                    ..self.claims(&subject, TokenType::Refresh, now, expires)
                };
                let record = RefreshToken {
                    id: claims.jti.clone(),
                    family_id: family,
                    user_id: subject.id.to_string(),
                    issued_at: now.naive_utc(),
                    expires_at: expires.naive_utc(),
                    rotated_at: None,
                    revoked_at: None,
                };
                (Some(self.keys.sign(&claims)?), Some(record))
            }
        };
        let tokens = IssuedTokens {
            access_token: access,
            expires_in: self.access_ttl.num_seconds(),
            refresh_token,
            role: subject.role,
        };
        Ok((tokens, record))
    }
}
