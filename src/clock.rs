//! The one reader of the system time.
//!
//! Everything that depends on "now" (contact deadlines, token lifetimes, the login throttle,
//! idempotency retention, and later follow-ups, free slots and retry backoff) asks a [`Clock`]
//! held in the application state. The service runs on [`SystemClock`]; tests run on a
//! [`TestClock`] they can set and advance, so months can pass in a test without touching the
//! database. Times are UTC at microsecond precision, what both backends store, so a value reads
//! back exactly as it was answered.
//!
//! Two things read time here without being "now" for the domain: [`new_id`] (a UUIDv7 carries the
//! real time of its creation, so ids keep the real order of creation whatever a test clock says,
//! and serve as keyset cursors), and the latency of requests, measured with the monotonic
//! `std::time::Instant` in the middleware and the metrics.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// Where "now" comes from.
pub trait Clock: Send + Sync + Debug {
    /// Now, in UTC, at microsecond precision.
    fn now(&self) -> DateTime<Utc>;
}

/// The clock the application shares.
pub type SharedClock = Arc<dyn Clock>;

/// The system's time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// A clock for tests: it runs with the system's time, shifted by however far the test advanced
/// it, or stands still at a time the test set.
#[derive(Debug, Default)]
pub struct TestClock {
    state: Mutex<TestTime>,
}

#[derive(Debug, Default, Clone, Copy)]
struct TestTime {
    offset: Duration,
    frozen: Option<DateTime<Utc>>,
}

impl TestClock {
    /// A clock that starts at the system's time and runs with it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (a negative duration is refused: time does not run back).
    pub fn advance(&self, by: Duration) {
        assert!(by >= Duration::zero(), "a test clock only moves forward");
        let mut state = self.state.lock().expect("test clock");
        match &mut state.frozen {
            Some(at) => *at += by,
            None => state.offset += by,
        }
    }

    /// Stops the clock at `at`; it stays there until advanced or set again.
    pub fn set(&self, at: DateTime<Utc>) {
        self.state.lock().expect("test clock").frozen = Some(at.trunc_subsecs(6));
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        let state = *self.state.lock().expect("test clock");
        match state.frozen {
            Some(at) => at,
            None => (Utc::now() + state.offset).trunc_subsecs(6),
        }
    }
}

/// A new id: UUID v7, so ids sort by their (real) time of creation and serve as keyset cursors.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};

    #[test]
    fn a_test_clock_stands_still_where_it_was_set_and_moves_when_advanced() {
        let clock = TestClock::new();
        let at = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap();
        clock.set(at);
        assert_eq!(clock.now(), at);
        clock.advance(Duration::days(190));
        assert_eq!(clock.now(), at + Duration::days(190));
    }

    #[test]
    fn an_advanced_running_clock_is_ahead_of_the_system() {
        let clock = TestClock::new();
        let before = SystemClock.now();
        clock.advance(Duration::hours(5));
        assert!(clock.now() >= before + Duration::hours(5));
    }

    #[test]
    fn now_has_microsecond_precision() {
        for now in [SystemClock.now(), TestClock::new().now()] {
            assert_eq!(now.nanosecond() % 1000, 0, "{now:?}");
        }
    }
}
