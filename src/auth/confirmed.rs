//! Tokens whose subject the database confirmed a moment ago.
//!
//! Every request's token is checked against the database (`service::access::confirm`): its
//! subject exists, is enabled, has the organisation and role the token names, and neither the
//! token nor its login session was revoked. A client sends the same token for many requests, so
//! a confirmation is kept for `TRAJECTUM_ACCESS_RECHECK_SECONDS` (0: ask on every request).
//! A change through this instance that ends access (disabling, revoking) forgets every
//! confirmation at once; another instance's change is seen within that many seconds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Confirmations are kept by the token's signature, not by its `jti`: a claim is only what the
/// token says, and two tokens naming one `jti` are two tokens, while only the signing key makes
/// a signature, over the whole token, and the token was verified before it is looked up here.
fn signature(token: &str) -> &str {
    token.rsplit('.').next().unwrap_or(token)
}

#[derive(Debug)]
pub struct ConfirmedTokens {
    keep_for: Duration,
    confirmed: Mutex<HashMap<String, Instant>>,
    /// Moves on with every [`ConfirmedTokens::forget_all`]: a confirmation asked of the database
    /// before it is not kept after it (the answer may predate the change that ended access).
    generation: AtomicU64,
}

/// When a confirmation was asked for ([`ConfirmedTokens::asking`]).
#[derive(Debug, Clone, Copy)]
pub struct Asked(u64);

/// How many confirmations are kept before the set starts afresh.
const KEPT: usize = 4096;

impl ConfirmedTokens {
    pub fn new(keep_for: Duration) -> Self {
        Self {
            keep_for,
            confirmed: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Notes the moment before the database is asked, for [`ConfirmedTokens::remember`].
    pub fn asking(&self) -> Asked {
        Asked(self.generation.load(Ordering::SeqCst))
    }

    /// Whether `token` was confirmed within the time a confirmation is kept.
    pub fn holds(&self, token: &str) -> bool {
        if self.keep_for.is_zero() {
            return false;
        }
        let key = signature(token);
        self.confirmed
            .lock()
            .ok()
            .and_then(|confirmed| confirmed.get(key).copied())
            .is_some_and(|at| at.elapsed() < self.keep_for)
    }

    /// Keeps the database's confirmation of `token`, asked at `asked`, unless access was ended
    /// here since.
    pub fn remember(&self, token: &str, asked: Asked) {
        if self.keep_for.is_zero() {
            return;
        }
        if let Ok(mut confirmed) = self.confirmed.lock() {
            // Under the lock `forget_all` takes too: no confirmation slips in after a clearing.
            if self.generation.load(Ordering::SeqCst) != asked.0 {
                return;
            }
            if confirmed.len() >= KEPT {
                let keep_for = self.keep_for;
                confirmed.retain(|_, at| at.elapsed() < keep_for);
                if confirmed.len() >= KEPT {
                    confirmed.clear();
                }
            }
            confirmed.insert(signature(token).to_string(), Instant::now());
        }
    }

    /// Forgets every confirmation: the next request of each token asks the database again.
    pub fn forget_all(&self) {
        if let Ok(mut confirmed) = self.confirmed.lock() {
            self.generation.fetch_add(1, Ordering::SeqCst);
            confirmed.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_holds_until_forgotten() {
        let tokens = ConfirmedTokens::new(Duration::from_secs(60));
        assert!(!tokens.holds("a"));
        tokens.remember("a", tokens.asking());
        assert!(tokens.holds("a"));
        assert!(!tokens.holds("b"));
        tokens.remember("h.p.sig", tokens.asking());
        assert!(
            tokens.holds("h.other.sig"),
            "by the signature, which only the key makes"
        );
        assert!(!tokens.holds("h.p.other"));
        tokens.forget_all();
        assert!(!tokens.holds("a"));
    }

    #[test]
    fn an_answer_asked_before_access_ended_is_not_kept() {
        let tokens = ConfirmedTokens::new(Duration::from_secs(60));
        let asked = tokens.asking();
        tokens.forget_all();
        tokens.remember("a", asked);
        assert!(!tokens.holds("a"));
    }

    #[test]
    fn with_no_time_to_keep_nothing_is_kept() {
        let tokens = ConfirmedTokens::new(Duration::ZERO);
        tokens.remember("a", tokens.asking());
        assert!(!tokens.holds("a"));
    }
}
