//! How many requests a caller may make: a quota per fixed window, the same for every caller
//! (each user, API client and coachee link counts on its own), advertised on every answer with
//! the fields of the IETF httpapi draft "RateLimit header fields for HTTP":
//! `RateLimit-Policy: "default";q=1200;w=60` and `RateLimit: "default";r=1187;t=42`.
//!
//! Windows are aligned to the epoch (`[k·w, (k+1)·w)` in Unix seconds), so every instance of the
//! service agrees on which window a request falls in and they can add their counts up in the
//! database without talking to each other.

use chrono::{DateTime, Utc};

/// The longest window a policy may have: a day.
pub const LONGEST_WINDOW_SECONDS: u32 = 86_400;

/// The name of the one policy in both fields.
const POLICY: &str = "default";

/// A quota of requests per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub quota: u32,
    pub window_seconds: u32,
}

/// The window a moment falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Its first second, in Unix seconds (a multiple of the window's length).
    pub start: i64,
    /// Seconds until the next window begins (at least 1).
    pub resets_in: u32,
}

/// Whether one more request is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Served; `remaining` more may follow in this window.
    Admitted { remaining: u32, resets_in: u32 },
    /// Refused until the window resets.
    Refused { resets_in: u32 },
}

impl Policy {
    /// `None` when the quota is 0: no limit.
    pub fn new(quota: u32, window_seconds: u32) -> Option<Policy> {
        (quota > 0 && (1..=LONGEST_WINDOW_SECONDS).contains(&window_seconds)).then_some(Policy {
            quota,
            window_seconds,
        })
    }

    /// The window `now` falls in.
    pub fn window(&self, now: DateTime<Utc>) -> Window {
        let length = i64::from(self.window_seconds);
        let second = now.timestamp();
        let start = second.div_euclid(length) * length;
        Window {
            start,
            resets_in: u32::try_from(start + length - second).unwrap_or(self.window_seconds),
        }
    }

    /// The verdict on a request when `used` requests of its window were served before it.
    pub fn verdict(&self, used: u64, window: Window) -> Verdict {
        if used < u64::from(self.quota) {
            Verdict::Admitted {
                remaining: self.quota - 1 - u32::try_from(used).unwrap_or(u32::MAX),
                resets_in: window.resets_in,
            }
        } else {
            Verdict::Refused {
                resets_in: window.resets_in,
            }
        }
    }

    /// The `RateLimit-Policy` field: the quota and its window.
    pub fn policy_field(&self) -> String {
        format!("\"{POLICY}\";q={};w={}", self.quota, self.window_seconds)
    }
}

impl Verdict {
    /// The `RateLimit` field: what is left of the quota, and when it is whole again.
    pub fn field(&self) -> String {
        let (remaining, resets_in) = match *self {
            Verdict::Admitted {
                remaining,
                resets_in,
            } => (remaining, resets_in),
            Verdict::Refused { resets_in } => (0, resets_in),
        };
        format!("\"{POLICY}\";r={remaining};t={resets_in}")
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    #[test]
    fn no_quota_is_no_limit() {
        assert_eq!(Policy::new(0, 60), None);
        assert!(Policy::new(1, 60).is_some());
    }

    #[test]
    fn windows_are_aligned_to_the_epoch_so_instances_agree() {
        let policy = Policy::new(10, 60).unwrap();
        assert_eq!(
            policy.window(at(120)),
            Window {
                start: 120,
                resets_in: 60
            }
        );
        assert_eq!(
            policy.window(at(179)),
            Window {
                start: 120,
                resets_in: 1
            }
        );
        assert_eq!(policy.window(at(180)).start, 180);
    }

    #[test]
    fn the_quota_is_served_and_no_more() {
        let policy = Policy::new(3, 60).unwrap();
        let window = policy.window(at(130));
        assert_eq!(
            policy.verdict(0, window),
            Verdict::Admitted {
                remaining: 2,
                resets_in: 50
            }
        );
        assert_eq!(
            policy.verdict(2, window),
            Verdict::Admitted {
                remaining: 0,
                resets_in: 50
            }
        );
        assert_eq!(
            policy.verdict(3, window),
            Verdict::Refused { resets_in: 50 }
        );
        assert_eq!(
            policy.verdict(70, window),
            Verdict::Refused { resets_in: 50 }
        );
    }

    #[test]
    fn the_fields_follow_the_ietf_draft() {
        let policy = Policy::new(1200, 60).unwrap();
        assert_eq!(policy.policy_field(), "\"default\";q=1200;w=60");
        let window = policy.window(at(18));
        assert_eq!(
            policy.verdict(12, window).field(),
            "\"default\";r=1187;t=42"
        );
        assert_eq!(
            Verdict::Refused { resets_in: 7 }.field(),
            "\"default\";r=0;t=7"
        );
    }
}
