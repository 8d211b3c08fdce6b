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
    /// Erasure of coachees' personal data a configured time after their order closed, and of
    /// lapsed sign-in failures and token revocations, once a period.
    EraseClosed,
}

impl JobKind {
    pub const ALL: [JobKind; 3] = [
        JobKind::BookFollowUp,
        JobKind::CheckAlliance,
        JobKind::EraseClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::BookFollowUp => "follow_up.book",
            JobKind::CheckAlliance => "alliance.check",
            JobKind::EraseClosed => "privacy.erase_closed",
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
            JobKind::EraseClosed => Some(Duration::hours(6)),
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

/// How a failed attempt goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Tried again after this wait.
    RetryAfter(Duration),
    /// Parked for a person: its attempts are spent, or another attempt cannot end otherwise.
    Park,
}

/// What follows failed attempt number `attempt` of a job that runs every `period` (`None`: a job
/// that runs once). A periodic job is never
/// parked (it has to run again): it is tried again after the wait, at the latest at its next
/// period. A job that failed for a reason another attempt cannot mend (`mendable` false: what
/// it works on is gone, or refuses) is parked at once; others wait ([`backoff`]) until their last
/// attempt.
pub fn after_failure(
    period: Option<Duration>,
    attempt: u32,
    max_attempts: u32,
    mendable: bool,
    jitter: f64,
) -> AfterFailure {
    let wait = backoff(attempt, jitter);
    match period {
        Some(period) => AfterFailure::RetryAfter(wait.min(period)),
        None if mendable && tries_again(attempt, max_attempts) => AfterFailure::RetryAfter(wait),
        None => AfterFailure::Park,
    }
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
    fn a_periodic_job_is_never_parked_and_waits_at_most_its_period() {
        let period = JobKind::CheckAlliance.period().unwrap();
        for attempt in [1, 9, 10, 50] {
            for mendable in [true, false] {
                let after = after_failure(Some(period), attempt, 10, mendable, 1.0);
                let AfterFailure::RetryAfter(wait) = after else {
                    panic!("parked after attempt {attempt}");
                };
                assert!(wait <= period);
            }
        }
        assert_eq!(
            after_failure(Some(period), 1, 10, true, 1.0),
            AfterFailure::RetryAfter(Duration::seconds(30))
        );
    }

    #[test]
    fn a_failure_no_attempt_mends_parks_the_job_at_once() {
        assert_eq!(
            after_failure(JobKind::BookFollowUp.period(), 1, 10, false, 0.5),
            AfterFailure::Park
        );
        assert_eq!(
            after_failure(JobKind::BookFollowUp.period(), 1, 10, true, 1.0),
            AfterFailure::RetryAfter(Duration::seconds(30))
        );
        assert_eq!(
            after_failure(JobKind::BookFollowUp.period(), 10, 10, true, 1.0),
            AfterFailure::Park
        );
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
