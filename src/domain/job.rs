//! What the service does on its own, and how it tries again: the kinds of job, how long a failed
//! one waits before its next attempt (exponential, with jitter, so that many failing at once do
//! not all come back at once), and when it stops trying.

use chrono::Duration;

/// How many times a job is tried before it is parked for a person, unless configured.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// The first wait after a failure; it doubles with each attempt.
const FIRST_WAIT_SECONDS: i64 = 30;
/// The longest wait between two attempts.
const LONGEST_WAIT_SECONDS: i64 = 6 * 3600;

/// The kinds of job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Book a follow-up's session when its due date comes within the horizon (002).
    BookFollowUp,
    /// The first-session check (004), once a period.
    CheckAlliance,
}

impl JobKind {
    pub const ALL: [JobKind; 2] = [JobKind::BookFollowUp, JobKind::CheckAlliance];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::BookFollowUp => "follow_up.book",
            JobKind::CheckAlliance => "alliance.check",
        }
    }

    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// How often a periodic job runs; `None` for a job that runs once.
    pub fn period(self) -> Option<Duration> {
        match self {
            JobKind::BookFollowUp => None,
            JobKind::CheckAlliance => Some(Duration::hours(1)),
        }
    }
}

/// How long to wait after failed attempt number `attempt` (1 for the first), with `jitter` a
/// number from 0 to 1: the wait doubles each time up to six hours, and lies between half and all
/// of that.
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(20);
    let full = (FIRST_WAIT_SECONDS << doublings).min(LONGEST_WAIT_SECONDS);
    let jitter = jitter.clamp(0.0, 1.0);
    Duration::milliseconds(((full * 1000) as f64 * (0.5 + 0.5 * jitter)) as i64)
}

/// Whether a job that failed its attempt number `attempt` is tried again, or parked.
pub fn tries_again(attempt: u32, max_attempts: u32) -> bool {
    attempt < max_attempts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_with_each_attempt_within_its_jitter() {
        assert_eq!(backoff(1, 1.0), Duration::seconds(30));
        assert_eq!(backoff(1, 0.0), Duration::seconds(15));
        assert_eq!(backoff(2, 1.0), Duration::seconds(60));
        assert_eq!(backoff(5, 1.0), Duration::seconds(480));
        // It stops growing at six hours, however many attempts.
        assert_eq!(backoff(30, 1.0), Duration::hours(6));
        assert_eq!(backoff(30, 0.0), Duration::hours(3));
        for attempt in 1..40 {
            let (low, high) = (backoff(attempt, 0.0), backoff(attempt, 1.0));
            assert!(low <= high && high <= Duration::hours(6), "{attempt}");
        }
    }

    #[test]
    fn a_job_is_parked_after_its_last_attempt() {
        assert!(tries_again(1, 10));
        assert!(tries_again(9, 10));
        assert!(!tries_again(10, 10));
    }

    #[test]
    fn kinds_have_names_and_periods() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("nothing"), None);
        assert!(JobKind::BookFollowUp.period().is_none());
        assert!(JobKind::CheckAlliance.period().is_some());
    }
}
