//! First contact, the same working day (004: someone who says "yes" should have a person on the
//! phone "dezelfde dag nog", the same day, while the wish is fresh).
//!
//! What "the same working day" means here, in the provider's time zone, with working days Monday
//! to Friday and working hours 09:00–17:00:
//! - an order is **received** on the working day it arrives in, if it arrives during working
//!   hours; otherwise at the next start of a working day. For an order placed before 09:00 on a
//!   working day, that is the same day;
//! - an order received **during the day** is due by 17:00 that day (one placed at 16:30 is due at
//!   17:00: the rule is the same day, not a number of hours);
//! - an order that was **waiting when the day began** (placed in the evening, at night, at the
//!   weekend, or before 09:00) is due by 12:00, the end of that day's morning: it has waited
//!   already, so it is called first.
//!
//! | placed | due |
//! | --- | --- |
//! | Tuesday 08:30 | Tuesday 12:00 |
//! | Tuesday 10:30 | Tuesday 17:00 |
//! | Tuesday 16:30 | Tuesday 17:00 |
//! | Tuesday 18:00 | Wednesday 12:00 |
//! | Friday 19:00, Saturday, Sunday | Monday 12:00 |
//!
//! Public holidays count as working days: the service knows no holiday calendar, so an order
//! placed the evening before King's Day is due by 12:00 on King's Day.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::order::ContactChannel;
use crate::domain::FieldError;

const DAY_STARTS: (u32, u32) = (9, 0);
const MORNING_ENDS: (u32, u32) = (12, 0);
const DAY_ENDS: (u32, u32) = (17, 0);

fn at(h_m: (u32, u32)) -> NaiveTime {
    NaiveTime::from_hms_opt(h_m.0, h_m.1, 0).expect("valid time")
}

pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The local time on `date` as a UTC instant (the earliest one, should a DST change make it
/// ambiguous; skipped times move forward an hour).
fn instant(zone: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(time);
    zone.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(local + Duration::hours(1)))
                .earliest()
        })
        .expect("a local time exists within an hour")
        .with_timezone(&Utc)
}

/// When first contact with the coachee is due for an order that arrived at `arrived`.
pub fn contact_due_at(arrived: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
    let local = arrived.with_timezone(&zone);
    let date = local.date_naive();
    let time = local.time();
    if is_working_day(date) && time >= at(DAY_STARTS) && time < at(DAY_ENDS) {
        return instant(zone, date, at(DAY_ENDS));
    }
    let mut next = if is_working_day(date) && time < at(DAY_STARTS) {
        date
    } else {
        date + Duration::days(1)
    };
    while !is_working_day(next) {
        next += Duration::days(1);
    }
    instant(zone, next, at(MORNING_ENDS))
}

/// Whether contact is overdue at `now`.
pub fn is_overdue(due: DateTime<Utc>, contacted: bool, now: DateTime<Utc>) -> bool {
    !contacted && now > due
}

/// First contact with the coachee, as the provider records it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ContactRequest)]
pub struct FirstContact {
    /// How the coachee was reached.
    pub channel: ContactChannel,
    /// When; default now. Not in the future.
    pub contacted_at: Option<DateTime<Utc>>,
}

/// How far ahead of our clock a caller's clock may run when it says when contact was made.
const CLOCK_SKEW_MINUTES: i64 = 5;

/// Checks the time a caller says first contact was made: not in the future, not before the
/// order was placed.
pub fn check_contacted_at(
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    placed_at: DateTime<Utc>,
) -> Result<(), FieldError> {
    if at > now + Duration::minutes(CLOCK_SKEW_MINUTES) {
        return Err(FieldError::new(
            "/contacted_at",
            "must not be in the future",
        ));
    }
    if at < placed_at {
        return Err(FieldError::new(
            "/contacted_at",
            "must not be before the order was placed",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Amsterdam;

    fn amsterdam(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Amsterdam
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The table in this module's doc, which the README repeats (004).
    #[test]
    fn the_same_working_day_004() {
        for ((day, hour, minute), (due_day, due_hour)) in [
            // Tuesday 24 November 2026, before the day starts: due at the end of its morning.
            ((24, 8, 30), (24, 12)),
            ((24, 10, 30), (24, 17)),
            // Half an hour before the end of the day: still the same day.
            ((24, 16, 30), (24, 17)),
            ((24, 17, 0), (25, 12)),
            ((24, 18, 0), (25, 12)),
            // Friday evening: Monday's morning.
            ((27, 19, 0), (30, 12)),
        ] {
            assert_eq!(
                contact_due_at(amsterdam(2026, 11, day, hour, minute), Amsterdam),
                amsterdam(2026, 11, due_day, due_hour, 0),
                "placed on the {day}th at {hour}:{minute:02}"
            );
        }
    }

    #[test]
    fn public_holidays_count_as_working_days() {
        // King's Day, Tuesday 27 April 2027: no holiday calendar is known.
        assert_eq!(
            contact_due_at(amsterdam(2027, 4, 26, 19, 0), Amsterdam),
            amsterdam(2027, 4, 27, 12, 0)
        );
    }

    #[test]
    fn during_working_hours_contact_is_due_the_same_day_004() {
        // Tuesday 10:30 in Amsterdam.
        assert_eq!(
            contact_due_at(amsterdam(2026, 11, 24, 10, 30), Amsterdam),
            amsterdam(2026, 11, 24, 17, 0)
        );
    }

    #[test]
    fn after_hours_it_is_due_by_the_next_working_mornings_end() {
        // Tuesday 18:00 → Wednesday 12:00.
        assert_eq!(
            contact_due_at(amsterdam(2026, 11, 24, 18, 0), Amsterdam),
            amsterdam(2026, 11, 25, 12, 0)
        );
        // Tuesday 07:00 → Tuesday 12:00.
        assert_eq!(
            contact_due_at(amsterdam(2026, 11, 24, 7, 0), Amsterdam),
            amsterdam(2026, 11, 24, 12, 0)
        );
    }

    #[test]
    fn weekends_are_not_working_days() {
        // Friday 17:30, Saturday and Sunday → Monday 12:00.
        for arrival in [
            amsterdam(2026, 11, 27, 17, 30),
            amsterdam(2026, 11, 28, 11, 0),
            amsterdam(2026, 11, 29, 23, 0),
        ] {
            assert_eq!(
                contact_due_at(arrival, Amsterdam),
                amsterdam(2026, 11, 30, 12, 0)
            );
        }
    }

    #[test]
    fn the_providers_time_zone_decides() {
        // 08:30 UTC on a Tuesday is 09:30 in Amsterdam (working hours) but 03:30 in New York.
        let arrival = Utc.with_ymd_and_hms(2026, 11, 24, 8, 30, 0).unwrap();
        assert_eq!(
            contact_due_at(arrival, Amsterdam),
            amsterdam(2026, 11, 24, 17, 0)
        );
        let new_york = chrono_tz::America::New_York;
        let due = contact_due_at(arrival, new_york);
        assert_eq!(
            due.with_timezone(&new_york).naive_local(),
            NaiveDate::from_ymd_opt(2026, 11, 24)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap()
        );
    }

    #[test]
    fn overdue_only_when_not_contacted_and_past_due() {
        let due = amsterdam(2026, 11, 24, 17, 0);
        assert!(is_overdue(due, false, due + Duration::minutes(1)));
        assert!(!is_overdue(due, true, due + Duration::minutes(1)));
        assert!(!is_overdue(due, false, due - Duration::minutes(1)));
    }

    #[test]
    fn contact_is_recorded_between_the_order_and_now() {
        let placed = amsterdam(2026, 11, 24, 10, 0);
        let now = amsterdam(2026, 11, 24, 15, 0);
        assert!(check_contacted_at(placed + Duration::hours(1), now, placed).is_ok());
        assert!(check_contacted_at(now + Duration::minutes(4), now, placed).is_ok());
        assert!(check_contacted_at(now + Duration::minutes(6), now, placed).is_err());
        assert!(check_contacted_at(placed - Duration::minutes(1), now, placed).is_err());
    }
}
