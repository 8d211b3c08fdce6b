//! The per-caller request rate limit (`domain::rate_limit`), shared by every instance.
//!
//! Asking the database on every request would cost each read a write. Instead each instance
//! counts its own requests in memory and, at most once per `TRAJECTUM_RATE_LIMIT_SHARE_MILLISECONDS`
//! per caller, adds what it counted to the caller's row for the window and reads back the sum of
//! every instance's (`db::rate_limits::add`); the request that shares is counted in the same
//! statement and decided on that sum. Between shares an instance decides on the last sum it read
//! plus its own count since. So one instance enforces the quota exactly; with several, a caller
//! may get up to what the other instances served it in one share interval beyond it (0: every
//! request shares, and the quota is exact across instances). When the database cannot be
//! reached the instance decides on its own count and shares it later: the limit protects the
//! service, it is no reason to refuse one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::db::{self, Pool};
use crate::domain::principal::{Principal, SubjectType};
use crate::domain::rate_limit::{Policy, Verdict, Window};
use crate::service::error::ServiceError;

/// A caller's count in the current window, as this instance knows it.
#[derive(Debug)]
struct Count {
    window_start: i64,
    /// The window's count in the database when this instance last shared (every instance's).
    shared: u64,
    /// Served here since, not yet shared.
    unshared: u64,
    /// Being added to the database right now.
    in_flight: u64,
    last_shared: Option<Instant>,
}

impl Count {
    fn new(window_start: i64) -> Count {
        Count {
            window_start,
            shared: 0,
            unshared: 0,
            in_flight: 0,
            last_shared: None,
        }
    }

    fn used(&self) -> u64 {
        self.shared + self.unshared + self.in_flight
    }
}

/// How many callers' counts are kept before those of past windows are dropped.
const KEPT: usize = 10_000;

#[derive(Debug)]
pub struct RateLimiter {
    policy: Policy,
    share_every: Duration,
    counts: Mutex<HashMap<String, Count>>,
}

/// What a request shares with the database: the requests counted here since the last share, and
/// itself.
#[derive(Debug, Clone, Copy)]
struct Share {
    requests: u64,
    /// The first share of this caller's window by this instance: earlier windows are forgotten.
    first: bool,
}

impl RateLimiter {
    pub fn new(policy: Policy, share_every: Duration) -> RateLimiter {
        RateLimiter {
            policy,
            share_every,
            counts: Mutex::new(HashMap::new()),
        }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// The verdict on one more request of `principal` at `now`, counting it when it is served.
    pub async fn admit(
        self: &Arc<Self>,
        pool: &Pool,
        principal: &Principal,
        now: DateTime<Utc>,
    ) -> Verdict {
        self.admit_key(pool, caller(principal), now).await
    }

    /// The verdict on one more request counted against `caller` (any key: a caller, a client
    /// address, a campaign) at `now`.
    pub async fn admit_key(
        self: &Arc<Self>,
        pool: &Pool,
        caller: String,
        now: DateTime<Utc>,
    ) -> Verdict {
        let window = self.policy.window(now);
        let share = match self.count_here(&caller, window) {
            Ok(verdict) => return verdict,
            Err(share) => share,
        };
        // The share runs as a task of its own: a request dropped while it waits (its client
        // went away) still leaves the count's bookkeeping done.
        let (limiter, pool) = (Arc::clone(self), pool.clone());
        let sharing = actix_web::rt::spawn(async move {
            let key = caller.clone();
            let added = i64::try_from(share.requests).unwrap_or(i64::MAX);
            let sum = db::run(&pool, move |conn| -> Result<i64, ServiceError> {
                if share.first {
                    db::rate_limits::forget_before(conn, &key, window.start)?;
                }
                Ok(db::rate_limits::add(conn, &key, window.start, added)?)
            })
            .await;
            limiter.shared(&caller, window, share.requests, sum)
        });
        sharing
            .await
            .unwrap_or_else(|_| self.policy.verdict(0, window))
    }

    /// Decides here when no share is due (`Ok`), or takes what is to be shared (`Err`).
    fn count_here(&self, caller: &str, window: Window) -> Result<Verdict, Share> {
        let Ok(mut counts) = self.counts.lock() else {
            return Ok(self.policy.verdict(0, window));
        };
        if !counts.contains_key(caller) {
            if counts.len() >= KEPT {
                counts.retain(|_, count| count.window_start == window.start);
            }
            counts.insert(caller.to_string(), Count::new(window.start));
        }
        // A caller's count is its key's allocation once, not on every request.
        let Some(count) = counts.get_mut(caller) else {
            return Ok(self.policy.verdict(0, window));
        };
        if window.start > count.window_start {
            *count = Count::new(window.start);
        } else if window.start < count.window_start {
            // Its clock was read just before another request's began the next window: it
            // belongs to a window that is over, and is not counted in the new one.
            return Ok(self.policy.verdict(0, window));
        }
        // Sharing on every request, the database's sum decides; what is in flight may be in
        // the sum already, so only the sum last read is known to be used.
        let exact = self.share_every.is_zero();
        let used = if exact { count.shared } else { count.used() };
        let verdict = self.policy.verdict(used, window);
        if matches!(verdict, Verdict::Refused { .. }) {
            return Ok(verdict);
        }
        let due = exact
            || (count.in_flight == 0
                && count
                    .last_shared
                    .is_none_or(|at| at.elapsed() >= self.share_every));
        if !due {
            count.unshared += 1;
            return Ok(verdict);
        }
        let share = Share {
            requests: count.unshared + 1,
            first: count.last_shared.is_none(),
        };
        count.unshared = 0;
        count.in_flight += share.requests;
        Err(share)
    }

    /// Takes in the database's sum after a share of `requests` (this request the last of them),
    /// and decides on it.
    fn shared(
        &self,
        caller: &str,
        window: Window,
        requests: u64,
        sum: Result<i64, ServiceError>,
    ) -> Verdict {
        let Ok(mut counts) = self.counts.lock() else {
            return self.policy.verdict(0, window);
        };
        let count = counts
            .entry(caller.to_string())
            .or_insert_with(|| Count::new(window.start));
        let current = count.window_start == window.start;
        if current {
            count.in_flight = count.in_flight.saturating_sub(requests);
            count.last_shared = Some(Instant::now());
        }
        match sum {
            Ok(sum) => {
                let sum = u64::try_from(sum).unwrap_or(0);
                if current {
                    count.shared = count.shared.max(sum);
                }
                // The sum counts this request: it is decided on the requests before it.
                self.policy.verdict(sum.saturating_sub(1), window)
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot share the rate limit's count; deciding on this instance's");
                if current {
                    count.unshared += requests;
                }
                // Decided on what this instance counted before it.
                self.policy.verdict(count.used().saturating_sub(1), window)
            }
        }
    }
}

/// Whose quota a request counts against: each user, API client and coachee link has its own.
fn caller(principal: &Principal) -> String {
    let kind = match principal.subject_type {
        SubjectType::User => "user",
        SubjectType::Client => "client",
        SubjectType::Link => "link",
        SubjectType::Service => "service",
    };
    format!("{kind}:{}", principal.subject)
}
