//! Throttling of failed logins, per account and per API client.
//!
//! Every attempt counts as a failure until it succeeds: [`LoginThrottle::attempt`] checks and
//! counts in one step, so parallel guesses cannot slip past the limit while their credentials
//! are being checked. After `max_failures` within `window`, further attempts on that key are
//! refused (429 with `Retry-After`) until the window has passed since the first failure, without
//! checking the credentials at all. A success clears the key. The state lives in memory: it
//! protects one instance; behind several instances each counts on its own.

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: DateTime<Utc>,
}

/// Entries kept before expired ones are swept.
const SWEEP_ABOVE: usize = 10_000;

impl LoginThrottle {
    pub fn new(max_failures: u32, window: std::time::Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window: Duration::from_std(window).unwrap_or(Duration::MAX),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt on `key`; `Err(seconds)` when it is locked out, with the seconds until
    /// it may try again. Call [`LoginThrottle::record_success`] when the credentials are right.
    pub fn attempt(&self, key: &str, now: DateTime<Utc>) -> Result<(), u64> {
        let mut failures = self.failures.lock().expect("throttle lock");
        if failures.len() > SWEEP_ABOVE {
            let window = self.window;
            failures.retain(|_, f| now - f.first < window);
        }
        let entry = failures.entry(key.to_string()).or_insert(Failures {
            count: 0,
            first: now,
        });
        if now - entry.first >= self.window {
            *entry = Failures {
                count: 0,
                first: now,
            };
        }
        if entry.count >= self.max_failures {
            let until = entry.first + self.window;
            return Err((until - now).num_seconds().max(1) as u64);
        }
        entry.count += 1;
        Ok(())
    }

    pub fn record_success(&self, key: &str) {
        self.failures.lock().expect("throttle lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap()
    }

    #[test]
    fn locks_after_the_maximum_failures_until_the_window_passes() {
        let throttle = LoginThrottle::new(3, std::time::Duration::from_secs(60));
        for _ in 0..3 {
            assert!(throttle.attempt("a", start()).is_ok());
        }
        let retry = throttle.attempt("a", start() + Duration::seconds(10));
        assert_eq!(retry, Err(50));
        assert!(
            throttle.attempt("b", start()).is_ok(),
            "other keys are unaffected"
        );
        assert!(throttle
            .attempt("a", start() + Duration::seconds(61))
            .is_ok());
    }

    #[test]
    fn a_success_clears_the_count() {
        let throttle = LoginThrottle::new(2, std::time::Duration::from_secs(60));
        throttle.attempt("a", start()).unwrap();
        throttle.record_success("a");
        throttle.attempt("a", start()).unwrap();
        assert!(throttle.attempt("a", start()).is_ok());
        assert!(throttle.attempt("a", start()).is_err());
    }
}
