//! JSON Web Tokens: the claims Trajectum issues, the keys it signs with, and verification.
//!
//! The algorithm is pinned per key: a token is verified only with the key its `kid` names and
//! only with that key's algorithm, so `alg: none`, an HMAC made with a public key, or any other
//! algorithm swap is refused. A retired key can be kept for verification during rotation.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{JwtAlgorithm, Settings};
use crate::domain::principal::{Principal, Role, SubjectType};

/// Whether a token grants access or only the right to get a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of every token Trajectum issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's or API client's id.
    pub sub: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub typ: TokenType,
    pub role: Role,
    /// The organisation the subject acts for.
    pub org: String,
    /// `user` or `client`.
    pub sub_type: SubjectType,
    /// The refresh-token family (one login session); refresh tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    /// The one order a coachee link token opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ord: Option<String>,
}

impl Claims {
    pub fn principal(&self) -> Principal {
        Principal {
            subject: self.sub.clone(),
            subject_type: self.sub_type,
            role: self.role,
            organisation_id: self.org.clone(),
            order_id: self.ord.clone(),
        }
    }
}

/// Why a token was refused. The reason goes into the 401's detail: it tells an integrator what
/// to fix and nothing an attacker does not already know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    UnknownKey,
    WrongAlgorithm,
    BadSignature,
    Expired,
    NotYetValid,
    WrongIssuer,
    WrongAudience,
    InvalidClaims,
    WrongType,
}

impl TokenError {
    pub fn reason(self) -> &'static str {
        match self {
            TokenError::Malformed => "malformed token",
            TokenError::UnknownKey => "unknown or missing key id",
            TokenError::WrongAlgorithm => "algorithm not allowed for this key",
            TokenError::BadSignature => "bad signature",
            TokenError::Expired => "token expired",
            TokenError::NotYetValid => "token not yet valid",
            TokenError::WrongIssuer => "wrong issuer",
            TokenError::WrongAudience => "wrong audience",
            TokenError::InvalidClaims => "missing or invalid claims",
            TokenError::WrongType => "wrong token type",
        }
    }
}

struct VerifyingKey {
    algorithm: Algorithm,
    key: DecodingKey,
    /// What a token under this key must carry, set up once (`JwtKeys::validate_with`).
    validation: Validation,
}

/// The signing key, the keys accepted for verification, and the fixed claims.
pub struct JwtKeys {
    kid: String,
    algorithm: Algorithm,
    signing: EncodingKey,
    verifying: HashMap<String, VerifyingKey>,
    pub issuer: String,
    pub audience: String,
    leeway: u64,
    /// Tokens whose signature, key, issuer and audience were checked, with their claims: a
    /// client sends the same token for many requests, and checking it again gives the same
    /// answer. The time window and type are checked on every use; nothing here can go stale
    /// (the keys change only with a restart). Whether the token's subject still stands behind
    /// it is asked of the database (`crate::auth::extract`), not here.
    verified: Mutex<HashMap<String, Claims>>,
}

/// How many verified tokens are kept before the set starts afresh.
const VERIFIED_KEPT: usize = 4096;

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn algorithm(alg: JwtAlgorithm) -> Algorithm {
    match alg {
        JwtAlgorithm::HS256 => Algorithm::HS256,
        JwtAlgorithm::EdDSA => Algorithm::EdDSA,
        JwtAlgorithm::RS256 => Algorithm::RS256,
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))
}

/// A key id derived from the verifying material, so it changes when the key does.
fn derived_kid(material: &[u8]) -> String {
    hex::encode(&Sha256::digest(material)[..8])
}

fn hmac_secret(secret: &str) -> anyhow::Result<&[u8]> {
    if secret.len() < 32 {
        bail!("an HS256 secret must be at least 32 bytes");
    }
    Ok(secret.as_bytes())
}

fn verifying_key(
    alg: JwtAlgorithm,
    secret: Option<&str>,
    public_key_file: Option<&Path>,
) -> anyhow::Result<(VerifyingKey, Vec<u8>)> {
    let (key, material) = match alg {
        JwtAlgorithm::HS256 => {
            let secret = hmac_secret(secret.context("HS256 needs a secret")?)?;
            (DecodingKey::from_secret(secret), secret.to_vec())
        }
        JwtAlgorithm::EdDSA | JwtAlgorithm::RS256 => {
            let pem = read(public_key_file.context("EdDSA and RS256 need a public key file")?)?;
            let key = if alg == JwtAlgorithm::EdDSA {
                DecodingKey::from_ed_pem(&pem)
            } else {
                DecodingKey::from_rsa_pem(&pem)
            }
            .context("invalid public key")?;
            (key, pem)
        }
    };
    Ok((
        VerifyingKey {
            algorithm: algorithm(alg),
            key,
            validation: Validation::new(algorithm(alg)),
        },
        material,
    ))
}

impl JwtKeys {
    /// Loads the keys the settings name. `generated_secret` is the HS256 secret generated for a
    /// zero-config SQLite start, used when no key is configured.
    pub fn from_settings(
        settings: &Settings,
        generated_secret: Option<&str>,
    ) -> anyhow::Result<Self> {
        let alg = settings.jwt_algorithm;
        let secret = settings
            .jwt_secret
            .as_ref()
            .map(|s| s.expose_secret().to_string())
            .or_else(|| generated_secret.map(String::from));
        let signing = match alg {
            JwtAlgorithm::HS256 => {
                EncodingKey::from_secret(hmac_secret(secret.as_deref().context(
                    "no JWT signing key: set TRAJECTUM_JWT_SECRET (HS256) or configure EdDSA/RS256 key files",
                )?)?)
            }
            JwtAlgorithm::EdDSA | JwtAlgorithm::RS256 => {
                let pem = read(
                    settings
                        .jwt_private_key_file
                        .as_deref()
                        .context("EdDSA and RS256 need TRAJECTUM_JWT_PRIVATE_KEY_FILE")?,
                )?;
                if alg == JwtAlgorithm::EdDSA {
                    EncodingKey::from_ed_pem(&pem)
                } else {
                    EncodingKey::from_rsa_pem(&pem)
                }
                .context("invalid private key")?
            }
        };
        let (current, material) = verifying_key(
            alg,
            secret.as_deref(),
            settings.jwt_public_key_file.as_deref(),
        )?;
        let kid = settings
            .jwt_kid
            .clone()
            .unwrap_or_else(|| derived_kid(&material));
        let mut verifying = HashMap::from([(kid.clone(), current)]);
        if let Some(previous_alg) = settings.jwt_previous_algorithm {
            let previous_kid = settings
                .jwt_previous_kid
                .clone()
                .context("a previous JWT key needs TRAJECTUM_JWT_PREVIOUS_KID")?;
            if previous_kid == kid {
                bail!("the previous JWT key id must differ from the current one");
            }
            let previous_secret = settings
                .jwt_previous_secret
                .as_ref()
                .map(|s| s.expose_secret().to_string());
            let (previous, _) = verifying_key(
                previous_alg,
                previous_secret.as_deref(),
                settings.jwt_previous_public_key_file.as_deref(),
            )?;
            verifying.insert(previous_kid, previous);
        }
        let keys = JwtKeys {
            kid,
            algorithm: algorithm(alg),
            signing,
            verifying,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
            leeway: settings.jwt_leeway_seconds.min(30),
            verified: Mutex::new(HashMap::new()),
        };
        Ok(keys.validate_with())
    }

    /// Each key's validation: its algorithm, our issuer and audience, the claims required. The
    /// time window is checked in `verify` against the application's clock, not the system's.
    fn validate_with(mut self) -> Self {
        for key in self.verifying.values_mut() {
            let mut validation = Validation::new(key.algorithm);
            validation.validate_exp = false;
            validation.validate_nbf = false;
            validation.set_issuer(&[&self.issuer]);
            validation.set_audience(&[&self.audience]);
            validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
            key.validation = validation;
        }
        self
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The clock skew allowed on `exp` and `nbf`.
    pub fn leeway_seconds(&self) -> u64 {
        self.leeway
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".into());
        encode(&header, claims, &self.signing).context("cannot sign token")
    }

    /// Verifies signature, key, algorithm, time window (against `now`, with the leeway), issuer,
    /// audience and token type.
    pub fn verify(
        &self,
        token: &str,
        expected: TokenType,
        now: DateTime<Utc>,
    ) -> Result<Claims, TokenError> {
        let claims = self.signed_claims(token)?;
        let (now, leeway) = (now.timestamp(), self.leeway as i64);
        if claims.exp + leeway < now {
            return Err(TokenError::Expired);
        }
        if claims.nbf - leeway > now {
            return Err(TokenError::NotYetValid);
        }
        if claims.typ != expected {
            return Err(TokenError::WrongType);
        }
        // The service's own role is never a caller's, even in a token signed with our key.
        if claims.role == Role::System {
            return Err(TokenError::InvalidClaims);
        }
        Ok(claims)
    }

    /// The claims of a token signed by one of our keys, for our issuer and audience.
    fn signed_claims(&self, token: &str) -> Result<Claims, TokenError> {
        let verified = |cache: &mut HashMap<String, Claims>| cache.get(token).cloned();
        if let Some(claims) = self.verified.lock().ok().as_deref_mut().and_then(verified) {
            return Ok(claims);
        }
        let claims = self.check_signature(token)?;
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() >= VERIFIED_KEPT {
                cache.clear();
            }
            cache.insert(token.to_string(), claims.clone());
        }
        Ok(claims)
    }

    fn check_signature(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let key = self.verifying.get(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(TokenError::WrongAlgorithm);
        }
        decode::<Claims>(token, &key.key, &key.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
                ErrorKind::MissingRequiredClaim(_) | ErrorKind::Json(_) => {
                    TokenError::InvalidClaims
                }
                _ => TokenError::Malformed,
            })
    }
}

/// Creates a random HS256 secret (64 bytes, base64url).
pub fn generate_secret() -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn settings(secret: &str) -> Settings {
        Settings {
            jwt_secret: Some(SecretString::from(secret)),
            ..Settings::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_000_000, 0).unwrap()
    }

    fn claims(typ: TokenType) -> Claims {
        let now = now().timestamp();
        Claims {
            iss: "trajectum".into(),
            aud: "trajectum-api".into(),
            sub: "u1".into(),
            exp: now + 600,
            iat: now,
            nbf: now,
            jti: "j1".into(),
            typ,
            role: Role::Employer,
            org: "o1".into(),
            sub_type: SubjectType::User,
            fam: None,
            ord: None,
        }
    }

    #[test]
    fn a_signed_token_verifies_and_keeps_its_claims() {
        let keys = JwtKeys::from_settings(&settings(&"k".repeat(40)), None).unwrap();
        let token = keys.sign(&claims(TokenType::Access)).unwrap();
        assert_eq!(
            keys.verify(&token, TokenType::Access, now()).unwrap(),
            claims(TokenType::Access)
        );
    }

    #[test]
    fn the_services_own_role_is_refused_even_in_a_well_signed_token() {
        let keys = JwtKeys::from_settings(&settings(&"k".repeat(40)), None).unwrap();
        let token = keys
            .sign(&Claims {
                role: Role::System,
                ..claims(TokenType::Access)
            })
            .unwrap();
        assert_eq!(
            keys.verify(&token, TokenType::Access, now()),
            Err(TokenError::InvalidClaims)
        );
    }

    #[test]
    fn a_refresh_token_is_not_an_access_token() {
        let keys = JwtKeys::from_settings(&settings(&"k".repeat(40)), None).unwrap();
        let token = keys.sign(&claims(TokenType::Refresh)).unwrap();
        assert_eq!(
            keys.verify(&token, TokenType::Access, now()),
            Err(TokenError::WrongType)
        );
    }

    #[test]
    fn a_token_verified_before_is_still_checked_for_type_and_a_changed_one_is_not_taken() {
        let keys = JwtKeys::from_settings(&settings(&"k".repeat(40)), None).unwrap();
        let token = keys.sign(&claims(TokenType::Access)).unwrap();
        assert!(keys.verify(&token, TokenType::Access, now()).is_ok());
        assert_eq!(
            keys.verify(&token, TokenType::Refresh, now()),
            Err(TokenError::WrongType)
        );
        let (body, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { "B" } else { "A" };
        let tampered = format!("{body}.{flipped}{}", &signature[1..]);
        assert_eq!(
            keys.verify(&tampered, TokenType::Access, now()),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_short_hmac_secret_is_refused() {
        assert!(JwtKeys::from_settings(&settings("short"), None).is_err());
    }

    #[test]
    fn tokens_of_a_previous_key_verify_during_rotation() {
        let old = JwtKeys::from_settings(
            &Settings {
                jwt_kid: Some("old".into()),
                ..settings(&"o".repeat(40))
            },
            None,
        )
        .unwrap();
        let rotated = JwtKeys::from_settings(
            &Settings {
                jwt_kid: Some("new".into()),
                jwt_previous_algorithm: Some(JwtAlgorithm::HS256),
                jwt_previous_kid: Some("old".into()),
                jwt_previous_secret: Some(SecretString::from("o".repeat(40))),
                ..settings(&"n".repeat(40))
            },
            None,
        )
        .unwrap();
        let token = old.sign(&claims(TokenType::Access)).unwrap();
        assert!(rotated.verify(&token, TokenType::Access, now()).is_ok());
        let fresh = rotated.sign(&claims(TokenType::Access)).unwrap();
        assert_eq!(
            old.verify(&fresh, TokenType::Access, now()),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn the_time_window_follows_the_given_clock_with_leeway() {
        let keys = JwtKeys::from_settings(&settings(&"k".repeat(40)), None).unwrap();
        let token = keys.sign(&claims(TokenType::Access)).unwrap();
        let at = |seconds| now() + chrono::Duration::seconds(seconds);
        assert!(keys.verify(&token, TokenType::Access, at(600 + 30)).is_ok());
        assert_eq!(
            keys.verify(&token, TokenType::Access, at(600 + 31)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&token, TokenType::Access, at(-31)),
            Err(TokenError::NotYetValid)
        );
    }
}
