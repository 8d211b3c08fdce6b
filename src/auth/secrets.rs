//! Passwords (argon2id at the OWASP minimum: m=19456 KiB, t=2, p=1) and API client secrets.
//!
//! Client secrets are 256 random bits generated here, so a SHA-256 digest stores them safely:
//! a slow hash protects guessable secrets, and these are not guessable.

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

pub const MIN_PASSWORD_LENGTH: usize = 12;

/// The stored hash of a login whose password has not been set yet: no password matches it.
pub const NO_PASSWORD: &str = "!";

/// Whether a stored hash is of a password that was set.
pub fn has_password(stored: &str) -> bool {
    stored != NO_PASSWORD
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// Checks a password against a stored hash. With no hash (unknown account) it still does the
/// work of a verification, so response times do not tell which accounts exist.
/// A login whose password was never set ([`NO_PASSWORD`]) is checked the same way.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password").expect("hash"));
    let stored = stored.filter(|hash| has_password(hash));
    let hash = stored.unwrap_or(dummy);
    let verified = PasswordHash::new(hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false);
    verified && stored.is_some()
}

/// A new client secret: 32 random bytes, base64url.
pub fn generate_client_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash_client_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares a presented secret with a stored digest in constant time.
pub fn verify_client_secret(secret: &str, stored_hash: &str) -> bool {
    let presented = hash_client_secret(secret);
    presented.len() == stored_hash.len()
        && presented
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_at_the_owasp_minimum() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        assert!(!verify_password("not-a-real-password", None));
    }

    #[test]
    fn client_secrets_verify_against_their_digest_only() {
        let secret = generate_client_secret();
        let stored = hash_client_secret(&secret);
        assert!(verify_client_secret(&secret, &stored));
        assert!(!verify_client_secret("guess", &stored));
        assert_ne!(stored, secret);
    }
}
