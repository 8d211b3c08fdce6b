//! Column types: domain enums stored as their names, and JSON documents stored as text, read and
//! written as their domain types on both backends.
//!
//! Statuses, kinds and roles are `TEXT` holding the enum's snake_case name (the same name the API
//! uses); a row holding an unknown name fails to load with an error naming it. JSON columns are
//! `TEXT` on both backends, wrapped in [`Json`]. Timestamps on a hot read are read through
//! [`Stamp`] and [`MaybeStamp`].

use std::io::Write;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Date, Nullable, Text, Timestamp};
use diesel::sqlite::{Sqlite, SqliteValue};
use diesel::{AsExpression, FromSqlRow};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::MultiBackend;
use crate::domain::alliance::AllianceRisk;
use crate::domain::consent::ConsentKind;
use crate::domain::follow_up::{FollowUpFlag, FollowUpStatus, Results};
use crate::domain::order::{ContactChannel, IntakeDecision, OrderStatus, TrajectoryKind};
use crate::domain::principal::{OrganisationKind, Role};
use crate::domain::session::{CancelledFor, MeetingFormat, SessionKind, SessionStatus};

/// Stores each listed enum as its name: `as_str()` to write, `FromStr` to read.
macro_rules! text_enums {
    ($($ty:ident),+ $(,)?) => {$(
        const _: () = {
            // The diesel derives, for a type of `domain` (which knows nothing of diesel).
            #[derive(AsExpression, FromSqlRow)]
            #[diesel(foreign_derive, sql_type = Text)]
            #[allow(dead_code)]
            struct Column($ty);

            impl ToSql<Text, MultiBackend> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                    <str as ToSql<Text, MultiBackend>>::to_sql(self.as_str(), out)
                }
            }

            impl ToSql<Text, Pg> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                    <str as ToSql<Text, Pg>>::to_sql(self.as_str(), out)
                }
            }

            impl ToSql<Text, Sqlite> for $ty {
                fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                    <str as ToSql<Text, Sqlite>>::to_sql(self.as_str(), out)
                }
            }

            // On every backend: a hot query may run on the backend's own connection.
            impl<DB: Backend> FromSql<Text, DB> for $ty
            where
                String: FromSql<Text, DB>,
            {
                fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                    let name = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                    name.parse::<$ty>().map_err(Into::into)
                }
            }
        };
    )+};
}

text_enums!(
    OrderStatus,
    TrajectoryKind,
    IntakeDecision,
    ContactChannel,
    ConsentKind,
    Role,
    OrganisationKind,
    SessionKind,
    MeetingFormat,
    SessionStatus,
    CancelledFor,
    AllianceRisk,
    FollowUpStatus,
    FollowUpFlag,
    Results,
);

/// A JSON document in a `TEXT` column.
#[derive(Debug, Clone, Default, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Json<T>(pub T);

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Json<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned, DB: Backend> FromSql<Text, DB> for Json<T>
where
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
        Ok(Json(serde_json::from_str(&text)?))
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Pg> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(&mut *out, &self.0)?;
        out.flush()?;
        Ok(IsNull::No)
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<Text, Sqlite> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T> ToSql<Text, MultiBackend> for Json<T>
where
    T: Serialize + std::fmt::Debug + Send + Sync + 'static,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}

/// A `TIMESTAMP` column, read as diesel reads it but faster on SQLite, where it is text: diesel
/// tries chrono's `parse_from_str` with one format after another, parsing each format string
/// anew, and an order list of 50 reads 300 timestamps (a tenth of its time, by `perf`). The
/// form diesel writes, `YYYY-MM-DD HH:MM:SS[.fraction]`, is read here directly; any other text
/// goes to diesel's own reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct Stamp(pub NaiveDateTime);

/// A nullable `TIMESTAMP` column, as [`Stamp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct MaybeStamp(pub Option<NaiveDateTime>);

impl From<Stamp> for NaiveDateTime {
    fn from(stamp: Stamp) -> NaiveDateTime {
        stamp.0
    }
}

impl From<MaybeStamp> for Option<NaiveDateTime> {
    fn from(stamp: MaybeStamp) -> Option<NaiveDateTime> {
        stamp.0
    }
}

/// A `DATE` column, read as diesel reads it but directly on SQLite, where it is the text
/// `YYYY-MM-DD` and diesel parses it with chrono's `parse_from_str` (3% of an order list of 50,
/// by `perf`); any other text goes to diesel's own reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow)]
pub struct Day(pub NaiveDate);

impl From<Day> for NaiveDate {
    fn from(day: Day) -> NaiveDate {
        day.0
    }
}

/// The decimal number `digits` spell, if they are all ASCII digits.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}

/// `YYYY-MM-DD`, exactly; `None` for anything else.
fn written_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        i32::try_from(number(&b[0..4])?).ok()?,
        number(&b[5..7])?,
        number(&b[8..10])?,
    )
}

impl FromSql<Date, Sqlite> for Day {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(day) = written_date(value.read_text().as_bytes()) {
            return Ok(Day(day));
        }
        <NaiveDate as FromSql<Date, Sqlite>>::from_sql(value).map(Day)
    }
}

impl FromSql<Date, Pg> for Day {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDate as FromSql<Date, Pg>>::from_sql(value).map(Day)
    }
}

impl FromSql<Date, MultiBackend> for Day {
    fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Date>()
    }
}

/// `YYYY-MM-DD HH:MM:SS` with an optional `.fraction` of 1 to 9 digits; `None` for anything else.
fn written_timestamp(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            number(digits)? * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    let date = written_date(&b[0..10])?;
    let time = NaiveTime::from_hms_nano_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        nanos,
    )?;
    Some(date.and_time(time))
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        if let Some(stamp) = written_timestamp(value.read_text()) {
            return Ok(Stamp(stamp));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

impl<DB: Backend> FromSql<Nullable<Timestamp>, DB> for MaybeStamp
where
    Stamp: FromSql<Timestamp, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        <Stamp as FromSql<Timestamp, DB>>::from_sql(value).map(|stamp| MaybeStamp(Some(stamp.0)))
    }

    fn from_nullable_sql(value: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        match value {
            Some(value) => Self::from_sql(value),
            None => Ok(MaybeStamp(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_reads_back_as_diesel_writes_it_to_sqlite() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        for time in [
            NaiveTime::from_hms_opt(7, 34, 6).unwrap(),
            NaiveTime::from_hms_micro_opt(23, 59, 59, 176_146).unwrap(),
            NaiveTime::from_hms_nano_opt(0, 0, 0, 1).unwrap(),
            NaiveTime::from_hms_milli_opt(12, 0, 0, 500).unwrap(),
        ] {
            let stamp = date.and_time(time);
            // diesel's ENCODE_NAIVE_DATETIME_FORMAT
            let written = stamp.format("%F %T%.f").to_string();
            assert_eq!(written_timestamp(&written), Some(stamp), "{written}");
        }
    }

    #[test]
    fn a_date_reads_back_as_diesel_writes_it_to_sqlite() {
        for (y, m, d) in [
            (2026, 12, 6),
            (2027, 2, 28),
            (2028, 2, 29),
            (1, 1, 1),
            (9999, 12, 31),
        ] {
            let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            // diesel's SQLite Date encoding: "%F"
            let written = day.format("%F").to_string();
            assert_eq!(written_date(written.as_bytes()), Some(day), "{written}");
        }
        for other in [
            "2026-12-6",
            "2026-02-30",
            "2026-12-06 ",
            "2026/12/06",
            "20261206",
            "+026-12-06",
        ] {
            assert_eq!(written_date(other.as_bytes()), None, "{other}");
        }
    }

    #[test]
    fn other_text_is_left_to_diesel() {
        for other in [
            "2026-12-06T07:34:06",
            "2026-12-06 07:34",
            "2026-12-06 07:34:06Z",
            "2026-12-06 07:34:06.",
            "2026-12-06 07:34:06.1234567890",
            "2026-13-06 07:34:06",
            "2026-12-06 24:00:00",
            "2026-12-06 07:34:0x",
            "+026-12-06 07:34:06",
            "2461015.5",
            "",
        ] {
            assert_eq!(written_timestamp(other), None, "{other}");
        }
    }
}
