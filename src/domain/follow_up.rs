//! Follow-ups (DOMAIN.md step 8, 002): one or two follow-up sessions a few months after the end
//! check whether the results last (*beklijven*). Scheduling them is automatic: completing a
//! trajectory plans them from the employer's policy (or the order's own), the service books each
//! when its due date comes within a horizon, and what they find is reported to the employer.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::order::OrderStatus;
use crate::domain::FieldError;

/// Follow-ups at about 3 and 6 months after the end (002).
pub const DEFAULT_DAYS: [u32; 2] = [90, 180];
/// At most two follow-ups (002: "one or two").
pub const MAX_FOLLOW_UPS: usize = 2;
/// The soonest and the latest a follow-up may be due, in days after completion.
pub const MIN_DAYS: u32 = 14;
pub const MAX_DAYS: u32 = 730;
/// How long a follow-up session takes, in minutes.
pub const SESSION_MINUTES: u32 = 60;
/// How many days before its due date a follow-up is booked, and how far after it a free time
/// is looked for, unless configured (`TRAJECTUM_FOLLOW_UP_HORIZON_DAYS`).
pub const DEFAULT_HORIZON_DAYS: u32 = 21;

/// When an employer's orders are followed up: days after completion, 0 to 2 of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpPolicy {
    /// Days after completion at which each follow-up is due, ascending, 14 to 730 each; none
    /// for no follow-ups. Default `[90, 180]` (002).
    #[schema(max_items = 2, example = json!([90, 180]))]
    pub days: Vec<u32>,
}

impl Default for FollowUpPolicy {
    fn default() -> Self {
        FollowUpPolicy {
            days: DEFAULT_DAYS.to_vec(),
        }
    }
}

/// What is wrong with follow-up days at `pointer`.
pub fn check_days(pointer: &str, days: &[u32]) -> Result<(), Vec<FieldError>> {
    let mut errors = vec![];
    if days.len() > MAX_FOLLOW_UPS {
        errors.push(FieldError::new(
            pointer,
            format!("at most {MAX_FOLLOW_UPS} follow-ups (002: one or two)"),
        ));
    }
    for (i, day) in days.iter().enumerate() {
        if !(MIN_DAYS..=MAX_DAYS).contains(day) {
            errors.push(FieldError::new(
                format!("{pointer}/{i}"),
                format!("must be {MIN_DAYS} to {MAX_DAYS} days after completion"),
            ));
        }
        if i > 0 && days[i - 1] >= *day {
            errors.push(FieldError::new(
                format!("{pointer}/{i}"),
                "must come after the one before",
            ));
        }
    }
    crate::domain::input::verdict(errors)
}

impl FollowUpPolicy {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        check_days("/days", &self.days)
    }
}

/// The dates follow-ups are due on, for a trajectory completed on `completed_on`.
pub fn due_dates(completed_on: NaiveDate, days: &[u32]) -> Vec<NaiveDate> {
    days.iter()
        .map(|d| completed_on + Duration::days(i64::from(*d)))
        .collect()
}

/// The order's status once it completed with `follow_ups` planned: it follows up, or, with none,
/// it is done.
pub fn after_completion(follow_ups: usize) -> OrderStatus {
    if follow_ups == 0 {
        OrderStatus::Closed
    } else {
        OrderStatus::FollowingUp
    }
}

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown {} `{s}`", stringify!($name)))
            }
        }
    };
}

text_enum!(
    /// Where a follow-up stands.
    FollowUpStatus {
        /// Waiting to be booked (when its due date comes within the horizon).
        Pending => "pending",
        /// A follow-up session is booked.
        Scheduled => "scheduled",
        /// The service could not book it: a planner looks at it (`flag` says why).
        Flagged => "flagged",
        /// Its outcome is recorded.
        Done => "done",
        /// Not held, with a reason.
        Skipped => "skipped",
    }
);

text_enum!(
    /// Why a follow-up waits for a planner.
    FollowUpFlag {
        /// The coach had no free time from the due date through the horizon.
        NoSlot => "no_slot",
        /// The order's coach is no longer active or has no login.
        CoachUnavailable => "coach_unavailable",
        /// Its session was called off.
        SessionCancelled => "session_cancelled",
    }
);

text_enum!(
    /// Whether the results of the trajectory lasted (002: *beklijven*).
    Results {
        Lasted => "lasted",
        Partly => "partly",
        NotLasted => "not_lasted",
    }
);

impl FollowUpStatus {
    /// Whether the follow-up needs nothing more (its outcome is recorded, or it was skipped).
    pub fn settled(self) -> bool {
        matches!(self, FollowUpStatus::Done | FollowUpStatus::Skipped)
    }

    /// Whether a session can still be booked for it (by the service or by hand).
    pub fn awaits_session(self) -> bool {
        matches!(self, FollowUpStatus::Pending | FollowUpStatus::Flagged)
    }
}

/// Whether the order is done once its follow-ups stand so: every one settled.
pub fn all_settled(statuses: &[FollowUpStatus]) -> bool {
    statuses.iter().all(|s| s.settled())
}

/// The instant from which free time is looked for, and the one before which it must start: from
/// the start of the due date on the coach's clock (or `now`, if later) through the end of the
/// horizon's last day.
pub fn search_window(
    due_on: NaiveDate,
    horizon_days: u32,
    tz: Tz,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let start_of = |date: NaiveDate| {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight");
        // Where a clock change skips midnight, the day starts at the moment it would have been.
        tz.from_local_datetime(&midnight)
            .earliest()
            .unwrap_or_else(|| tz.from_utc_datetime(&midnight))
            .with_timezone(&Utc)
    };
    let from = start_of(due_on).max(now);
    let to = start_of(due_on + Duration::days(i64::from(horizon_days) + 1));
    (from, to)
}

/// When the service books a follow-up due on `due_on`: `horizon_days` before it (at the start of
/// that day, UTC), or now if that has passed.
pub fn booking_time(due_on: NaiveDate, horizon_days: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    let day = due_on - Duration::days(i64::from(horizon_days));
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .max(now)
}

/// Whether the coach may record a follow-up's outcome now: once it is due (on the provider's
/// calendar), unless its session is still to come; never twice, never for a skipped one.
pub fn may_record_outcome(
    status: FollowUpStatus,
    due_on: NaiveDate,
    today: NaiveDate,
    session_to_come: bool,
) -> Result<(), &'static str> {
    match status {
        FollowUpStatus::Done => Err("its outcome is recorded already"),
        FollowUpStatus::Skipped => Err("it was skipped"),
        _ if today < due_on => Err("it is not due yet"),
        _ if session_to_come => Err("its session is still to come: record the outcome after it"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Amsterdam;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn one_or_two_follow_ups_a_few_months_after_the_end_002() {
        assert_eq!(FollowUpPolicy::default().days, [90, 180]);
        assert!(FollowUpPolicy::default().validate().is_ok());
        assert!(FollowUpPolicy { days: vec![] }.validate().is_ok());
        let three = FollowUpPolicy {
            days: vec![30, 60, 90],
        };
        assert_eq!(three.validate().unwrap_err()[0].pointer, "/days");
        let backwards = FollowUpPolicy {
            days: vec![180, 90],
        };
        assert_eq!(backwards.validate().unwrap_err()[0].pointer, "/days/1");
        let too_soon = FollowUpPolicy { days: vec![7] };
        assert_eq!(too_soon.validate().unwrap_err()[0].pointer, "/days/0");
        assert_eq!(
            due_dates(day(2027, 1, 29), &[90, 180]),
            [day(2027, 4, 29), day(2027, 7, 28)]
        );
    }

    #[test]
    fn a_trajectory_without_follow_ups_is_done_when_it_completes() {
        assert_eq!(after_completion(0), OrderStatus::Closed);
        assert_eq!(after_completion(2), OrderStatus::FollowingUp);
        assert!(all_settled(&[
            FollowUpStatus::Done,
            FollowUpStatus::Skipped
        ]));
        assert!(!all_settled(&[
            FollowUpStatus::Done,
            FollowUpStatus::Flagged
        ]));
    }

    #[test]
    fn free_time_is_looked_for_from_the_due_date_on_the_coachs_clock() {
        let now = Utc.with_ymd_and_hms(2027, 4, 1, 12, 0, 0).unwrap();
        let (from, to) = search_window(day(2027, 4, 29), 21, Amsterdam, now);
        // Midnight in Amsterdam, summer time: 22:00 UTC the day before.
        assert_eq!(from, Utc.with_ymd_and_hms(2027, 4, 28, 22, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2027, 5, 20, 22, 0, 0).unwrap());
        // A follow-up already due is looked for from now.
        let late = Utc.with_ymd_and_hms(2027, 5, 2, 9, 0, 0).unwrap();
        assert_eq!(search_window(day(2027, 4, 29), 21, Amsterdam, late).0, late);
        assert_eq!(
            booking_time(day(2027, 4, 29), 21, now),
            Utc.with_ymd_and_hms(2027, 4, 8, 0, 0, 0).unwrap()
        );
        assert_eq!(booking_time(day(2027, 4, 10), 21, now), now);
    }

    #[test]
    fn an_outcome_is_recorded_once_the_follow_up_is_due_and_held() {
        let due = day(2027, 4, 29);
        assert!(may_record_outcome(FollowUpStatus::Scheduled, due, due, false).is_ok());
        assert!(may_record_outcome(FollowUpStatus::Flagged, due, day(2027, 5, 3), false).is_ok());
        assert!(
            may_record_outcome(FollowUpStatus::Scheduled, due, day(2027, 4, 28), false).is_err()
        );
        assert!(may_record_outcome(FollowUpStatus::Scheduled, due, due, true).is_err());
        assert!(may_record_outcome(FollowUpStatus::Done, due, due, false).is_err());
        assert!(may_record_outcome(FollowUpStatus::Skipped, due, due, false).is_err());
    }
}
