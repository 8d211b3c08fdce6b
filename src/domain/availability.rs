//! A coach's availability and the free slots it leaves (DOMAIN.md step 5: about 8 sessions and an
//! assessment over about 6 months, 002; one-on-one or in a group, in person, by phone or by
//! video, 003).
//!
//! Working hours are wall-clock times in the coach's IANA time zone: "Tuesday 09:00–12:00" means
//! every instant at which the coach's clock reads a time in that interval. On the day the clocks
//! go forward an interval that spans the missing hour is that much shorter; on the day they go
//! back, one that spans the repeated hour is that much longer; an interval inside the missing
//! hour does not happen at all. [`local_to_utc`] computes exactly this, from the offsets in force
//! either side of the change, so no local time is ever guessed.
//!
//! Free slots are pure: the rules, the time zone, the sessions already booked and "now" in, start
//! times out. No slot lies outside working hours, inside the notice period, or within the buffer
//! of a booked session (property tests below).

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;

use crate::domain::FieldError;

/// Free slots start on this grid, counted from the start of each working interval.
pub const SLOT_STEP_MINUTES: i64 = 15;
/// The longest window free slots are computed for.
pub const MAX_WINDOW_DAYS: i64 = 62;
pub const MAX_BUFFER_MINUTES: u32 = 240;
/// 30 days.
pub const MAX_NOTICE_MINUTES: u32 = 43_200;
pub const MAX_SESSIONS_PER_DAY: u32 = 24;
pub const MAX_WEEKLY_INTERVALS: usize = 70;
pub const MAX_EXCEPTIONS: usize = 400;

/// A wall-clock time of day, `HH:MM`, from `00:00` to `24:00` (the end of the day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

impl ClockTime {
    pub const END_OF_DAY: ClockTime = ClockTime(24 * 60);

    pub fn minutes(self) -> i64 {
        i64::from(self.0)
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl std::str::FromStr for ClockTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not a time of day as HH:MM (00:00 to 24:00)");
        let (h, m) = s.split_once(':').ok_or_else(bad)?;
        if h.len() != 2 || m.len() != 2 {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h > 24 || (h == 24 && m != 0) {
            return Err(bad());
        }
        Ok(ClockTime(h * 60 + m))
    }
}

impl Serialize for ClockTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for ClockTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some("^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))
            .description(Some("A wall-clock time in the coach's time zone, HH:MM"))
            .examples([serde_json::json!("09:00")])
            .into()
    }
}

impl ToSchema for ClockTime {}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Day {
    fn of(date: NaiveDate) -> Day {
        match date.weekday() {
            Weekday::Mon => Day::Monday,
            Weekday::Tue => Day::Tuesday,
            Weekday::Wed => Day::Wednesday,
            Weekday::Thu => Day::Thursday,
            Weekday::Fri => Day::Friday,
            Weekday::Sat => Day::Saturday,
            Weekday::Sun => Day::Sunday,
        }
    }
}

/// One working interval in the week, e.g. Tuesday 09:00–12:00.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    pub day: Day,
    pub start: ClockTime,
    /// After `start`; `24:00` is the end of the day.
    pub end: ClockTime,
}

/// A dated change to the weekly hours: a day off (`available: false` without times), hours off
/// (`available: false` with times), or extra hours (`available: true` with times).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityException {
    /// The date in the coach's time zone.
    pub date: NaiveDate,
    pub available: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<ClockTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<ClockTime>,
}

/// When a coach works and how sessions are spaced, in the coach's time zone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityRules {
    /// Working intervals per day of the week; several a day, not overlapping.
    #[schema(max_items = 70)]
    pub weekly_hours: Vec<WeeklyHours>,
    /// Free time kept between two sessions, 0 to 240 minutes.
    #[serde(default)]
    #[schema(maximum = 240)]
    pub buffer_minutes: u32,
    /// How long before its start a session may be booked at the latest, 0 to 43,200 minutes
    /// (30 days).
    #[serde(default)]
    #[schema(maximum = 43200)]
    pub minimum_notice_minutes: u32,
    /// At most this many sessions on one day (1 to 24); none means no limit.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 24)]
    pub max_sessions_per_day: Option<u32>,
    /// Days or hours off, and extra hours, by date.
    #[serde(default)]
    #[schema(max_items = 400)]
    pub exceptions: Vec<AvailabilityException>,
}

impl AvailabilityRules {
    /// Every rule the input breaks, each at its field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        if self.weekly_hours.len() > MAX_WEEKLY_INTERVALS {
            errors.push(FieldError::new(
                "/weekly_hours",
                format!("may hold at most {MAX_WEEKLY_INTERVALS} intervals"),
            ));
        }
        for (i, hours) in self.weekly_hours.iter().enumerate() {
            if hours.end <= hours.start {
                errors.push(FieldError::new(
                    format!("/weekly_hours/{i}/end"),
                    "must be after start",
                ));
                continue;
            }
            let overlaps = self.weekly_hours[..i].iter().any(|other| {
                other.day == hours.day && other.start < hours.end && hours.start < other.end
            });
            if overlaps {
                errors.push(FieldError::new(
                    format!("/weekly_hours/{i}"),
                    "overlaps another interval on the same day",
                ));
            }
        }
        if self.buffer_minutes > MAX_BUFFER_MINUTES {
            errors.push(FieldError::new(
                "/buffer_minutes",
                format!("must be at most {MAX_BUFFER_MINUTES}"),
            ));
        }
        if self.minimum_notice_minutes > MAX_NOTICE_MINUTES {
            errors.push(FieldError::new(
                "/minimum_notice_minutes",
                format!("must be at most {MAX_NOTICE_MINUTES} (30 days)"),
            ));
        }
        if let Some(max) = self.max_sessions_per_day {
            if !(1..=MAX_SESSIONS_PER_DAY).contains(&max) {
                errors.push(FieldError::new(
                    "/max_sessions_per_day",
                    format!("must be between 1 and {MAX_SESSIONS_PER_DAY}"),
                ));
            }
        }
        if self.exceptions.len() > MAX_EXCEPTIONS {
            errors.push(FieldError::new(
                "/exceptions",
                format!("may hold at most {MAX_EXCEPTIONS} exceptions"),
            ));
        }
        for (i, exception) in self.exceptions.iter().enumerate() {
            match (exception.start, exception.end) {
                (None, None) if exception.available => errors.push(FieldError::new(
                    format!("/exceptions/{i}/start"),
                    "extra hours need a start and an end",
                )),
                (None, None) => {}
                (Some(_), None) => errors.push(FieldError::new(
                    format!("/exceptions/{i}/end"),
                    "is required with start",
                )),
                (None, Some(_)) => errors.push(FieldError::new(
                    format!("/exceptions/{i}/start"),
                    "is required with end",
                )),
                (Some(start), Some(end)) if end <= start => errors.push(FieldError::new(
                    format!("/exceptions/{i}/end"),
                    "must be after start",
                )),
                _ => {}
            }
        }
        crate::domain::input::verdict(errors)
    }

    /// The coach's working hours on `date`, as sorted, disjoint minute ranges of the local day:
    /// the weekly hours (none on a day off), plus extra hours, minus hours off.
    pub fn local_hours(&self, date: NaiveDate) -> Vec<(i64, i64)> {
        let on_date = || self.exceptions.iter().filter(move |e| e.date == date);
        let day_off = on_date().any(|e| !e.available && e.start.is_none());
        let mut hours: Vec<(i64, i64)> = if day_off {
            vec![]
        } else {
            let day = Day::of(date);
            self.weekly_hours
                .iter()
                .filter(|h| h.day == day)
                .map(|h| (h.start.minutes(), h.end.minutes()))
                .collect()
        };
        for extra in on_date().filter(|e| e.available) {
            if let (Some(start), Some(end)) = (extra.start, extra.end) {
                hours.push((start.minutes(), end.minutes()));
            }
        }
        let mut hours = merge(hours);
        for off in on_date().filter(|e| !e.available) {
            if let (Some(start), Some(end)) = (off.start, off.end) {
                hours = subtract(&hours, (start.minutes(), end.minutes()));
            }
        }
        hours
    }

    /// The working time between `from` and `to`, as sorted, disjoint UTC spans.
    pub fn working_spans(&self, tz: Tz, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        let first = from.with_timezone(&tz).date_naive() - Duration::days(1);
        let last = to.with_timezone(&tz).date_naive() + Duration::days(1);
        let mut spans = vec![];
        let mut date = first;
        while date <= last {
            for (start, end) in self.local_hours(date) {
                spans.extend(local_to_utc(tz, date, start, end));
            }
            date += Duration::days(1);
        }
        spans.sort_by_key(|s| s.start);
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for span in spans {
            match merged.last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => merged.push(span),
            }
        }
        merged
    }
}

/// Sorts and joins overlapping or touching minute ranges.
fn merge(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (start, end) in ranges {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// The ranges without `cut`.
fn subtract(ranges: &[(i64, i64)], cut: (i64, i64)) -> Vec<(i64, i64)> {
    let mut out = vec![];
    for &(start, end) in ranges {
        if cut.1 <= start || end <= cut.0 {
            out.push((start, end));
            continue;
        }
        if start < cut.0 {
            out.push((start, cut.0));
        }
        if cut.1 < end {
            out.push((cut.1, end));
        }
    }
    out
}

/// A half-open stretch of time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Span {
        Span { start, end }
    }

    pub fn contains(&self, other: &Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// The instants at which the clock in `tz` reads a time in `[start, end)` minutes of `date`:
/// one span, two when the clocks go back inside it, fewer minutes (or none) when they go forward.
///
/// Zones change offset at most once in the two days around a date, so the offsets in force a
/// day before and a day after, and the instant of the change between them, say everything.
pub fn local_to_utc(tz: Tz, date: NaiveDate, start: i64, end: i64) -> Vec<Span> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    let local = |minutes: i64| midnight + Duration::minutes(minutes);
    let before = midnight.and_utc() - Duration::days(1);
    let after = midnight.and_utc() + Duration::days(2);
    let offset = |at: DateTime<Utc>| {
        use chrono::Offset;
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc()
    };
    let (early, late) = (offset(before), offset(after));
    let at = |minutes: i64, offset: i32| {
        (local(minutes) - Duration::seconds(i64::from(offset))).and_utc()
    };
    if early == late {
        return vec![Span::new(at(start, early), at(end, early))];
    }
    // The instant of the change: the first second at which the late offset is in force.
    let (mut lo, mut hi) = (before, after);
    while hi - lo > Duration::seconds(1) {
        let mid = lo + Duration::seconds((hi - lo).num_seconds() / 2);
        if offset(mid) == early {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let change = hi;
    let mut spans = vec![];
    for (offset, in_force) in [
        (early, Span::new(DateTime::<Utc>::MIN_UTC, change)),
        (late, Span::new(change, DateTime::<Utc>::MAX_UTC)),
    ] {
        let span = Span::new(
            at(start, offset).max(in_force.start),
            at(end, offset).min(in_force.end),
        );
        if span.start < span.end {
            spans.push(span);
        }
    }
    match spans.as_slice() {
        [a, b] if a.end >= b.start => vec![Span::new(a.start, b.end)],
        _ => spans,
    }
}

/// The local date of an instant in `tz`.
pub fn local_date(tz: Tz, at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// A session already on the coach's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Booked {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Its end plus the buffer it was booked with (the coach may have changed the buffer since).
    pub blocked_until: DateTime<Utc>,
}

impl Booked {
    /// A session with no buffer of its own kept after it.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Booked {
        Booked {
            start,
            end,
            blocked_until: end,
        }
    }

    /// Whether `slot` runs into this session, keeping `buffer` between them: before it the
    /// current buffer, after it the current one or the one it was booked with, whichever is
    /// longer (so that what PostgreSQL's exclusion constraint holds, this check holds too).
    fn clashes(&self, slot: Span, buffer: Duration) -> bool {
        self.start < slot.end + buffer && slot.start < (self.end + buffer).max(self.blocked_until)
    }
}

/// Why a session does not fit the coach's availability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Misfit {
    /// Not (entirely) inside the coach's working hours.
    OutsideHours,
    /// Sooner than the coach's minimum notice.
    InsideNotice,
    /// The coach has as many sessions that day as they take.
    DayFull,
    /// It overlaps another session of the coach, or its buffer.
    Overlaps,
}

/// The coach's rules and calendar, ready to answer "does this fit?" and "what is free?".
#[derive(Debug, Clone)]
pub struct Calendar<'a> {
    pub rules: &'a AvailabilityRules,
    pub tz: Tz,
    /// The coach's sessions (not cancelled) around the times asked about, in any order.
    pub booked: &'a [Booked],
    pub now: DateTime<Utc>,
}

impl Calendar<'_> {
    fn buffer(&self) -> Duration {
        Duration::minutes(i64::from(self.rules.buffer_minutes))
    }

    /// The booked session that `slot`, with the buffer around it, runs into, if any.
    pub fn overlapping(&self, slot: Span) -> Option<Booked> {
        let buffer = self.buffer();
        self.booked
            .iter()
            .copied()
            .find(|b| b.clashes(slot, buffer))
    }

    /// How many sessions each of the coach's local days holds, where a daily maximum applies
    /// (empty otherwise): counted once for a search over many slots, not again for each.
    fn sessions_per_day(&self) -> HashMap<NaiveDate, usize> {
        let mut counts = HashMap::new();
        if self.rules.max_sessions_per_day.is_some() {
            for booked in self.booked.iter() {
                *counts.entry(local_date(self.tz, booked.start)).or_default() += 1;
            }
        }
        counts
    }

    fn day_full(&self, sessions_per_day: &HashMap<NaiveDate, usize>, start: DateTime<Utc>) -> bool {
        let Some(max) = self.rules.max_sessions_per_day else {
            return false;
        };
        let that_day = sessions_per_day.get(&local_date(self.tz, start));
        that_day.copied().unwrap_or(0) >= max as usize
    }

    fn notice_ends(&self) -> DateTime<Utc> {
        self.now + Duration::minutes(i64::from(self.rules.minimum_notice_minutes))
    }

    /// Whether a session at `slot` fits: inside working hours, after the notice period, on a day
    /// that is not full, clear of other sessions and their buffers. The first rule broken.
    pub fn check(&self, slot: Span) -> Result<(), Misfit> {
        let inside = self
            .rules
            .working_spans(self.tz, slot.start, slot.end)
            .iter()
            .any(|span| span.contains(&slot));
        if !inside {
            return Err(Misfit::OutsideHours);
        }
        if slot.start < self.notice_ends() {
            return Err(Misfit::InsideNotice);
        }
        if self.overlapping(slot).is_some() {
            return Err(Misfit::Overlaps);
        }
        if self.day_full(&self.sessions_per_day(), slot.start) {
            return Err(Misfit::DayFull);
        }
        Ok(())
    }

    /// The start times in `[from, to)` at which a session of `duration` fits, in order: on a
    /// grid of [`SLOT_STEP_MINUTES`] from the start of each working interval.
    pub fn free_slots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        duration: Duration,
    ) -> Vec<DateTime<Utc>> {
        let step = Duration::minutes(SLOT_STEP_MINUTES);
        let earliest = from.max(self.notice_ends());
        let mut booked = self.booked.to_vec();
        booked.sort_by_key(|b| b.start);
        let buffer = self.buffer();
        // For the sessions sorted by start, the latest instant any of the first n keeps the coach
        // busy until, buffer included: a slot is clear of the sessions that start before its end
        // (and buffer) exactly when that instant for them is not after the slot's start. One
        // binary search a slot, however full the calendar.
        let busy_until: Vec<DateTime<Utc>> = booked
            .iter()
            .scan(DateTime::<Utc>::MIN_UTC, |latest, b| {
                *latest = (*latest).max((b.end + buffer).max(b.blocked_until));
                Some(*latest)
            })
            .collect();
        let sessions_per_day = self.sessions_per_day();
        let mut slots = vec![];
        for span in self.rules.working_spans(self.tz, from, to) {
            // The first start on the span's grid at or after `earliest`.
            let mut start = span.start;
            if start < earliest {
                let steps = (earliest - start)
                    .num_seconds()
                    .div_euclid(step.num_seconds());
                start += step * steps as i32;
                if start < earliest {
                    start += step;
                }
            }
            while start < to && start + duration <= span.end {
                let slot = Span::new(start, start + duration);
                // Sessions sorted by start: only those starting before the slot's end and its
                // buffer matter (`Booked::clashes`).
                let upto = booked.partition_point(|b| b.start < slot.end + buffer);
                let clear = upto == 0 || busy_until[upto - 1] <= slot.start;
                if clear && !self.day_full(&sessions_per_day, start) {
                    slots.push(start);
                }
                start += step;
            }
        }
        slots
    }

    /// Up to `n` free start times nearest to `wanted` (within two weeks either side), nearest
    /// first: what a refused booking offers instead.
    pub fn nearest(
        &self,
        wanted: DateTime<Utc>,
        duration: Duration,
        n: usize,
    ) -> Vec<DateTime<Utc>> {
        let reach = Duration::days(14);
        let mut slots = self.free_slots(wanted - reach, wanted + reach, duration);
        slots.sort_by_key(|s| ((*s - wanted).num_seconds().abs(), *s));
        slots.truncate(n);
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Amsterdam;
    use proptest::prelude::*;

    fn t(s: &str) -> ClockTime {
        s.parse().unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn weekdays(start: &str, end: &str) -> AvailabilityRules {
        AvailabilityRules {
            weekly_hours: [
                Day::Monday,
                Day::Tuesday,
                Day::Wednesday,
                Day::Thursday,
                Day::Friday,
                Day::Saturday,
                Day::Sunday,
            ]
            .into_iter()
            .map(|day| WeeklyHours {
                day,
                start: t(start),
                end: t(end),
            })
            .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn clock_times_are_hh_mm_up_to_the_end_of_the_day() {
        assert_eq!(t("09:30").minutes(), 570);
        assert_eq!(t("24:00"), ClockTime::END_OF_DAY);
        for bad in ["9:30", "24:01", "12:60", "noon", "12-00"] {
            assert!(bad.parse::<ClockTime>().is_err(), "{bad}");
        }
        assert_eq!(t("07:05").to_string(), "07:05");
    }

    #[test]
    fn a_summer_day_in_amsterdam_is_two_hours_ahead_of_utc() {
        let spans = local_to_utc(Amsterdam, date("2027-06-15"), 9 * 60, 12 * 60);
        assert_eq!(
            spans,
            vec![Span::new(
                utc("2027-06-15T07:00:00Z"),
                utc("2027-06-15T10:00:00Z")
            )]
        );
    }

    #[test]
    fn the_spring_gap_shortens_an_interval_that_spans_it() {
        // 28 March 2027: at 02:00 CET the clocks jump to 03:00 CEST.
        let spans = local_to_utc(Amsterdam, date("2027-03-28"), 60, 4 * 60);
        // 01:00 CET = 00:00 UTC until 04:00 CEST = 02:00 UTC: two hours of work, not three.
        assert_eq!(
            spans,
            vec![Span::new(
                utc("2027-03-28T00:00:00Z"),
                utc("2027-03-28T02:00:00Z")
            )]
        );
        // An interval inside the missing hour never happens.
        assert!(local_to_utc(Amsterdam, date("2027-03-28"), 2 * 60 + 15, 2 * 60 + 45).is_empty());
        // One that ends in it ends when the clock jumps.
        assert_eq!(
            local_to_utc(Amsterdam, date("2027-03-28"), 60, 2 * 60 + 30),
            vec![Span::new(
                utc("2027-03-28T00:00:00Z"),
                utc("2027-03-28T01:00:00Z")
            )]
        );
    }

    #[test]
    fn the_autumn_repeat_lengthens_an_interval_that_spans_it() {
        // 31 October 2027: at 03:00 CEST the clocks go back to 02:00 CET.
        let spans = local_to_utc(Amsterdam, date("2027-10-31"), 60, 4 * 60);
        // 01:00 CEST = 23:00 UTC the day before, until 04:00 CET = 03:00 UTC: four hours.
        assert_eq!(
            spans,
            vec![Span::new(
                utc("2027-10-30T23:00:00Z"),
                utc("2027-10-31T03:00:00Z")
            )]
        );
        // An interval inside the repeated hour happens twice.
        assert_eq!(
            local_to_utc(Amsterdam, date("2027-10-31"), 2 * 60 + 15, 2 * 60 + 45),
            vec![
                Span::new(utc("2027-10-31T00:15:00Z"), utc("2027-10-31T00:45:00Z")),
                Span::new(utc("2027-10-31T01:15:00Z"), utc("2027-10-31T01:45:00Z")),
            ]
        );
    }

    #[test]
    fn free_slots_keep_local_hours_across_the_change() {
        // 09:00–10:00 every day: on both sides of the spring change the first slot is at 09:00
        // on the coach's clock, one hour earlier in UTC after the change.
        let rules = weekdays("09:00", "10:00");
        let calendar = Calendar {
            rules: &rules,
            tz: Amsterdam,
            booked: &[],
            now: utc("2027-03-01T00:00:00Z"),
        };
        let slots = calendar.free_slots(
            utc("2027-03-27T00:00:00Z"),
            utc("2027-03-29T00:00:00Z"),
            Duration::minutes(60),
        );
        assert_eq!(
            slots,
            vec![utc("2027-03-27T08:00:00Z"), utc("2027-03-28T07:00:00Z")]
        );
    }

    #[test]
    fn exceptions_take_days_and_hours_off_and_add_hours() {
        let mut rules = weekdays("09:00", "17:00");
        rules.exceptions = vec![
            AvailabilityException {
                date: date("2027-06-14"),
                available: false,
                start: None,
                end: None,
            },
            AvailabilityException {
                date: date("2027-06-15"),
                available: false,
                start: Some(t("12:00")),
                end: Some(t("13:00")),
            },
            AvailabilityException {
                date: date("2027-06-15"),
                available: true,
                start: Some(t("19:00")),
                end: Some(t("21:00")),
            },
        ];
        assert!(rules.local_hours(date("2027-06-14")).is_empty());
        assert_eq!(
            rules.local_hours(date("2027-06-15")),
            vec![(540, 720), (780, 1020), (1140, 1260)]
        );
        assert_eq!(rules.local_hours(date("2027-06-16")), vec![(540, 1020)]);
    }

    #[test]
    fn buffers_notice_and_a_full_day_remove_slots() {
        let mut rules = weekdays("09:00", "12:00");
        rules.buffer_minutes = 15;
        rules.max_sessions_per_day = Some(2);
        rules.minimum_notice_minutes = 24 * 60;
        // 15 June 2027, 10:00–11:00 local (08:00–09:00 UTC) is booked.
        let booked = [Booked::new(
            utc("2027-06-15T08:00:00Z"),
            utc("2027-06-15T09:00:00Z"),
        )];
        let calendar = Calendar {
            rules: &rules,
            tz: Amsterdam,
            booked: &booked,
            now: utc("2027-06-14T08:00:00Z"),
        };
        let hour = Duration::minutes(60);
        let slots = calendar.free_slots(
            utc("2027-06-14T00:00:00Z"),
            utc("2027-06-16T00:00:00Z"),
            hour,
        );
        // 14 June: all inside the 24 h notice (now is 10:00 local on the 14th), so nothing.
        // 15 June: 09:00 would end at 10:00, inside the buffer; 11:15 is the first after it but
        // would end after 12:00. Only a slot ending by 08:45 local would do: none.
        assert!(slots.is_empty(), "{slots:?}");
        let half = calendar.free_slots(
            utc("2027-06-15T00:00:00Z"),
            utc("2027-06-16T00:00:00Z"),
            Duration::minutes(30),
        );
        // 09:00 local (07:00 UTC) would fit the buffer but is inside the 24 h notice.
        assert_eq!(
            half,
            vec![utc("2027-06-15T09:15:00Z"), utc("2027-06-15T09:30:00Z")]
        );
        assert_eq!(
            calendar.check(Span::new(
                utc("2027-06-15T09:00:00Z"),
                utc("2027-06-15T09:30:00Z")
            )),
            Err(Misfit::Overlaps)
        );
        assert_eq!(
            calendar.check(Span::new(
                utc("2027-06-14T09:00:00Z"),
                utc("2027-06-14T09:30:00Z")
            )),
            Err(Misfit::InsideNotice)
        );
        assert_eq!(
            calendar.check(Span::new(
                utc("2027-06-15T11:00:00Z"),
                utc("2027-06-15T11:30:00Z")
            )),
            Err(Misfit::OutsideHours)
        );
        let two = [
            booked[0],
            Booked::new(utc("2027-06-16T07:00:00Z"), utc("2027-06-16T07:30:00Z")),
            Booked::new(utc("2027-06-16T09:00:00Z"), utc("2027-06-16T09:30:00Z")),
        ];
        let full = Calendar {
            booked: &two,
            ..calendar.clone()
        };
        assert_eq!(
            full.check(Span::new(
                utc("2027-06-16T08:00:00Z"),
                utc("2027-06-16T08:30:00Z")
            )),
            Err(Misfit::DayFull)
        );
    }

    #[test]
    fn rules_are_validated_field_by_field() {
        let mut rules = weekdays("09:00", "12:00");
        rules.weekly_hours.push(WeeklyHours {
            day: Day::Monday,
            start: t("11:00"),
            end: t("13:00"),
        });
        rules.weekly_hours.push(WeeklyHours {
            day: Day::Tuesday,
            start: t("15:00"),
            end: t("14:00"),
        });
        rules.buffer_minutes = 241;
        rules.max_sessions_per_day = Some(0);
        rules.exceptions.push(AvailabilityException {
            date: date("2027-01-01"),
            available: true,
            start: None,
            end: None,
        });
        let pointers: Vec<String> = rules
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        assert_eq!(
            pointers,
            [
                "/weekly_hours/7",
                "/weekly_hours/8/end",
                "/buffer_minutes",
                "/max_sessions_per_day",
                "/exceptions/0/start"
            ]
        );
    }

    // Properties: whatever the rules, bookings and now, every free slot lies inside working hours
    // (checked minute by minute on the coach's own clock), after the notice period, and clear of
    // every booking and its buffer.

    fn zone() -> impl Strategy<Value = Tz> {
        prop_oneof![
            Just(Amsterdam),
            Just(chrono_tz::America::New_York),
            Just(chrono_tz::Australia::Lord_Howe),
            Just(chrono_tz::UTC),
        ]
    }

    fn weekly() -> impl Strategy<Value = Vec<WeeklyHours>> {
        prop::collection::vec((0usize..7, 0u16..96, 1u16..40), 0..10).prop_map(|raw| {
            let days = [
                Day::Monday,
                Day::Tuesday,
                Day::Wednesday,
                Day::Thursday,
                Day::Friday,
                Day::Saturday,
                Day::Sunday,
            ];
            let mut hours: Vec<WeeklyHours> = vec![];
            for (d, start, len) in raw {
                let start = start * 15;
                let end = (start + len * 15).min(24 * 60);
                let candidate = WeeklyHours {
                    day: days[d],
                    start: ClockTime(start),
                    end: ClockTime(end),
                };
                let clash = hours.iter().any(|h| {
                    h.day == candidate.day && h.start < candidate.end && candidate.start < h.end
                });
                if !clash && end > start {
                    hours.push(candidate);
                }
            }
            hours
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn free_slots_respect_every_rule(
            tz in zone(),
            weekly_hours in weekly(),
            buffer in 0u32..60,
            notice in 0u32..(3 * 24 * 60),
            // From 1 March 2027, so both of Europe's changes and New York's fall in range.
            from_offset in 0i64..(250 * 24 * 60),
            window in 1i64..(10 * 24 * 60),
            now_offset in -(5 * 24 * 60)..(5i64 * 24 * 60),
            duration in prop_oneof![Just(30i64), Just(45), Just(60), Just(90)],
            bookings in prop::collection::vec((0i64..(10 * 24 * 60), 15i64..120, 0i64..90), 0..12),
        ) {
            let base = utc("2027-03-01T00:00:00Z");
            let from = base + Duration::minutes(from_offset);
            let to = from + Duration::minutes(window);
            let now = from + Duration::minutes(now_offset);
            let booked: Vec<Booked> = bookings
                .iter()
                .map(|&(at, len, kept)| Booked {
                    start: from + Duration::minutes(at),
                    end: from + Duration::minutes(at + len),
                    // The buffer it was booked with, which may differ from today's.
                    blocked_until: from + Duration::minutes(at + len + kept),
                })
                .collect();
            let rules = AvailabilityRules {
                weekly_hours,
                buffer_minutes: buffer,
                minimum_notice_minutes: notice,
                ..Default::default()
            };
            let calendar = Calendar { rules: &rules, tz, booked: &booked, now };
            let duration = Duration::minutes(duration);
            for slot in calendar.free_slots(from, to, duration) {
                prop_assert!(slot >= from && slot < to);
                prop_assert!(slot >= now + Duration::minutes(i64::from(notice)));
                let span = Span::new(slot, slot + duration);
                let buffer = Duration::minutes(i64::from(buffer));
                for b in &booked {
                    prop_assert!(
                        span.end + buffer <= b.start
                            || (b.end + buffer <= span.start && b.blocked_until <= span.start),
                        "slot {slot} runs into a booking {b:?} or its buffer"
                    );
                }
                // Every minute of the slot, read on the coach's clock, is working time.
                let mut minute = slot;
                while minute < span.end {
                    let local = minute.with_timezone(&tz).naive_local();
                    let of_day = i64::from(local.time().hour()) * 60 + i64::from(local.time().minute());
                    let inside = rules
                        .local_hours(local.date())
                        .iter()
                        .any(|&(s, e)| s <= of_day && of_day < e);
                    prop_assert!(inside, "{minute} ({local} local) is outside working hours");
                    minute += Duration::minutes(1);
                }
                prop_assert_eq!(calendar.check(span), Ok(()));
            }
        }
    }

    use chrono::Timelike;
}
