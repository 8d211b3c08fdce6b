//! Invitation campaigns (DOMAIN.md step 0, source 004): many who need career guidance never ask
//! for it, from stigma or because they cannot find it. An employer invites the group that needs
//! it most; a person says "yes, I want coaching" in one step, with no more than a name and a way
//! to be called back, and gets a person on the phone the same working day. Questions that can
//! demotivate wait until there is trust (004).
//!
//! A campaign may be confidential: the employer then learns how many signed up and how their
//! trajectories went in aggregate, never who, unless the coachee chooses to share it.

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::domain::commission::{Coachee, DEFAULT_SESSIONS, MAX_SESSIONS};
use crate::domain::input::{self, MAX_TEXT};
use crate::domain::order::TrajectoryKind;
use crate::domain::FieldError;

/// The most sign-ups one campaign pays for.
pub const MAX_SIGN_UPS: u32 = 10_000;
/// How far ahead a campaign may end.
pub const MAX_DAYS_OPEN: i64 = 366;

/// A new campaign.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// What the target group sees above the button, e.g. "Coaching for the logistics team".
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// The invitation's words to the group (004: invite actively, without stigma).
    #[schema(min_length = 1, max_length = 2000)]
    pub message: String,
    /// The kind of trajectory each sign-up orders.
    pub kind: TrajectoryKind,
    /// Sessions each sign-up's order pays for (default 8).
    #[schema(minimum = 1, maximum = 50)]
    pub session_budget: Option<u32>,
    /// How many sign-ups the campaign pays for; later ones are refused.
    #[schema(minimum = 1, maximum = 10000)]
    pub max_sign_ups: u32,
    /// The last day to sign up (in the provider's time zone), at most a year ahead.
    pub ends_on: NaiveDate,
    /// Whether the employer is kept from knowing who signed up (default false): it then sees
    /// counts and the suppressed reports only.
    #[serde(default)]
    pub confidential: bool,
}

/// A campaign's terms, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub title: String,
    pub message: String,
    pub kind: TrajectoryKind,
    pub session_budget: u32,
    pub max_sign_ups: u32,
    pub ends_on: NaiveDate,
    pub confidential: bool,
}

impl NewInvitation {
    /// The campaign's terms, or every field that is wrong. `today` is the provider's date.
    pub fn terms(self, today: NaiveDate) -> Result<Terms, Vec<FieldError>> {
        let mut errors = vec![];
        input::required_text("/title", &self.title, 200, &mut errors);
        input::required_text("/message", &self.message, MAX_TEXT, &mut errors);
        if self
            .session_budget
            .is_some_and(|b| !(1..=MAX_SESSIONS).contains(&b))
        {
            errors.push(FieldError::new(
                "/session_budget",
                format!("must be between 1 and {MAX_SESSIONS}"),
            ));
        }
        if !(1..=MAX_SIGN_UPS).contains(&self.max_sign_ups) {
            errors.push(FieldError::new(
                "/max_sign_ups",
                format!("must be between 1 and {MAX_SIGN_UPS}"),
            ));
        }
        if self.ends_on < today {
            errors.push(FieldError::new("/ends_on", "must not be in the past"));
        } else if (self.ends_on - today).num_days() > MAX_DAYS_OPEN {
            errors.push(FieldError::new(
                "/ends_on",
                "must be at most a year from today",
            ));
        }
        input::verdict(errors)?;
        Ok(Terms {
            title: self.title.trim().to_string(),
            message: self.message.trim().to_string(),
            kind: self.kind,
            session_budget: self.session_budget.unwrap_or(DEFAULT_SESSIONS),
            max_sign_ups: self.max_sign_ups,
            ends_on: self.ends_on,
            confidential: self.confidential,
        })
    }
}

/// Why a sign-up was refused; the employer sees how many were, per reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The campaign had as many sign-ups as it pays for.
    Full,
    /// The campaign's last day had passed.
    Ended,
    /// The campaign was closed (answered as an unknown link).
    Closed,
    /// Too many sign-ups from one address, or for the campaign, in a short time.
    RateLimited,
    /// The form was not filled in well enough to call the person back.
    Invalid,
}

impl RefusalReason {
    pub const ALL: [RefusalReason; 5] = [
        RefusalReason::Full,
        RefusalReason::Ended,
        RefusalReason::Closed,
        RefusalReason::RateLimited,
        RefusalReason::Invalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::Full => "full",
            RefusalReason::Ended => "ended",
            RefusalReason::Closed => "closed",
            RefusalReason::RateLimited => "rate_limited",
            RefusalReason::Invalid => "invalid",
        }
    }

    pub fn parse(s: &str) -> Option<RefusalReason> {
        RefusalReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Where a campaign stands, as far as taking a sign-up goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub closed: bool,
    pub ends_on: NaiveDate,
    pub max_sign_ups: u32,
    pub sign_ups: u32,
}

impl Standing {
    /// Whether the campaign takes a sign-up on `today` (the provider's date). A repeat is
    /// refused alike (it keeps its first order all the same): were it answered otherwise, the
    /// answer would tell anyone with the link and a colleague's address that they signed up.
    pub fn admits(self, today: NaiveDate) -> Result<(), RefusalReason> {
        if self.closed {
            Err(RefusalReason::Closed)
        } else if today > self.ends_on {
            Err(RefusalReason::Ended)
        } else if self.sign_ups >= self.max_sign_ups {
            Err(RefusalReason::Full)
        } else {
            Ok(())
        }
    }

    /// Whether the campaign shows itself to a holder of its link on `today`.
    pub fn is_open(self, today: NaiveDate) -> bool {
        !self.closed && today <= self.ends_on
    }
}

/// When the person prefers to be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallTime {
    /// 09:00–12:00.
    Morning,
    /// 12:00–17:00.
    Afternoon,
    /// After 17:00.
    Evening,
}

/// The one step: "yes, I want coaching". A name and a phone number or an email address; nothing
/// else is asked (004).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    #[schema(example = "Sam de Boer", min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "sam.deboer@acme.example", format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(example = "+31 6 1234 5678", pattern = r"^[0-9 +().-]{6,30}$")]
    pub phone: Option<String>,
    /// When you would rather be called.
    pub preferred_call_time: Option<CallTime>,
    /// The language you would like to be answered and called in (ISO 639-1).
    #[schema(example = "nl", pattern = "^[a-z]{2}$")]
    pub language: Option<String>,
}

/// A sign-up, checked: who to call, when they would rather be called, and in what language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    pub coachee: Coachee,
    pub preferred_call_time: Option<CallTime>,
    pub language: Option<String>,
}

impl SignUp {
    /// The applicant, or every field that is wrong.
    pub fn applicant(self) -> Result<Applicant, Vec<FieldError>> {
        let mut errors = vec![];
        input::name("/name", &self.name, &mut errors);
        if let Some(email) = &self.email {
            input::email("/email", email.trim(), &mut errors);
        }
        if let Some(phone) = &self.phone {
            input::phone("/phone", phone.trim(), &mut errors);
        }
        if self.email.is_none() && self.phone.is_none() {
            errors.push(FieldError::new(
                "/phone",
                "give a phone number or an email address, so that a coach can reach you",
            ));
        }
        if let Some(language) = &self.language {
            input::language("/language", language, &mut errors);
        }
        input::verdict(errors)?;
        Ok(Applicant {
            coachee: Coachee {
                name: self.name.trim().to_string(),
                email: self.email.map(|e| e.trim().to_lowercase()),
                phone: self.phone.map(|p| p.trim().to_string()),
            },
            preferred_call_time: self.preferred_call_time,
            language: self.language,
        })
    }
}

/// The keys that recognise the same person signing up again within a campaign: one per way to
/// reach them (the email address in lower case, the phone number's digits), each a SHA-256
/// digest with the campaign's id, so that the keys say nothing outside the campaign.
pub fn person_keys(invitation_id: &str, coachee: &Coachee) -> Vec<String> {
    let email = coachee.email.as_ref().map(|e| format!("email:{e}"));
    let phone = coachee.phone.as_ref().map(|p| {
        let digits: String = p.chars().filter(char::is_ascii_digit).collect();
        format!("phone:{digits}")
    });
    email
        .into_iter()
        .chain(phone)
        .map(|key| hex::encode(Sha256::digest(format!("{invitation_id}\n{key}").as_bytes())))
        .collect()
}

/// The languages the answer to a sign-up is written in; another asked for gets English.
pub const ANSWER_LANGUAGES: [&str; 2] = ["en", "nl"];

/// The language of the answer to one who asked for `asked`.
pub fn answer_language(asked: Option<&str>) -> &'static str {
    asked
        .and_then(|asked| ANSWER_LANGUAGES.into_iter().find(|l| *l == asked))
        .unwrap_or("en")
}

/// What happens next, in words a person understands (004: a person on the phone the same day):
/// "A coach will call you today before 17:00." The day is named relative to `now` in the
/// provider's time zone: today, tomorrow, or the weekday.
pub fn what_happens_next(
    language: &str,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    zone: Tz,
) -> String {
    let due_local = due.with_timezone(&zone);
    let today = now.with_timezone(&zone).date_naive();
    let day = due_local.date_naive();
    let time = due_local.format("%H:%M");
    let dutch = language == "nl";
    let when = if day == today {
        if dutch { "vandaag" } else { "today" }.to_string()
    } else if day == today.succ_opt().unwrap_or(today) {
        if dutch { "morgen" } else { "tomorrow" }.to_string()
    } else if dutch {
        format!("op {}", weekday_nl(day.weekday()))
    } else {
        format!("on {}", day.weekday_name_en())
    };
    if dutch {
        format!(
            "Dank je wel. Een coach belt je {when} vóór {time} om kennis te maken. Je hoeft niets voor te bereiden; het gesprek is vrijblijvend en blijft tussen jou en de coach."
        )
    } else {
        format!(
            "Thank you. A coach will call you {when} before {time} to get to know you. There is nothing to prepare; the call is without obligation and stays between you and the coach."
        )
    }
}

trait WeekdayName {
    fn weekday_name_en(&self) -> &'static str;
}

impl WeekdayName for NaiveDate {
    fn weekday_name_en(&self) -> &'static str {
        match self.weekday() {
            Weekday::Mon => "Monday",
            Weekday::Tue => "Tuesday",
            Weekday::Wed => "Wednesday",
            Weekday::Thu => "Thursday",
            Weekday::Fri => "Friday",
            Weekday::Sat => "Saturday",
            Weekday::Sun => "Sunday",
        }
    }
}

fn weekday_nl(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "maandag",
        Weekday::Tue => "dinsdag",
        Weekday::Wed => "woensdag",
        Weekday::Thu => "donderdag",
        Weekday::Fri => "vrijdag",
        Weekday::Sat => "zaterdag",
        Weekday::Sun => "zondag",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::contact_due_at;
    use chrono::TimeZone;
    use chrono_tz::Europe::Amsterdam;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn amsterdam(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Amsterdam
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn new(max: u32, ends_on: NaiveDate) -> NewInvitation {
        NewInvitation {
            title: " Coaching for logistics ".into(),
            message: "Yes, I want coaching".into(),
            kind: TrajectoryKind::Preventive,
            session_budget: None,
            max_sign_ups: max,
            ends_on,
            confidential: true,
        }
    }

    #[test]
    fn a_campaign_pays_for_a_number_of_sign_ups_until_its_last_day() {
        let terms = new(20, day(2026, 12, 31)).terms(day(2026, 12, 7)).unwrap();
        assert_eq!(terms.title, "Coaching for logistics");
        assert_eq!(terms.session_budget, DEFAULT_SESSIONS);
        let errors = new(0, day(2026, 12, 6))
            .terms(day(2026, 12, 7))
            .unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/max_sign_ups", "/ends_on"]);
        assert!(new(1, day(2028, 1, 1)).terms(day(2026, 12, 7)).is_err());
    }

    #[test]
    fn a_sign_up_is_refused_once_the_campaign_is_full_ended_or_closed() {
        let open = Standing {
            closed: false,
            ends_on: day(2026, 12, 31),
            max_sign_ups: 2,
            sign_ups: 1,
        };
        assert_eq!(open.admits(day(2026, 12, 31)), Ok(()));
        assert_eq!(open.admits(day(2027, 1, 1)), Err(RefusalReason::Ended));
        let full = Standing {
            sign_ups: 2,
            ..open
        };
        assert_eq!(full.admits(day(2026, 12, 7)), Err(RefusalReason::Full));
        let closed = Standing {
            closed: true,
            ..open
        };
        assert_eq!(closed.admits(day(2026, 12, 7)), Err(RefusalReason::Closed));
        assert!(!closed.is_open(day(2026, 12, 7)) && open.is_open(day(2026, 12, 7)));
    }

    #[test]
    fn a_name_and_one_way_to_call_back_is_all_that_is_asked_004() {
        let sign_up = |email: Option<&str>, phone: Option<&str>| SignUp {
            name: " Sam ".into(),
            email: email.map(String::from),
            phone: phone.map(String::from),
            preferred_call_time: None,
            language: None,
        };
        let applicant = sign_up(Some(" Sam@Acme.example "), None)
            .applicant()
            .unwrap();
        assert_eq!(applicant.coachee.email.as_deref(), Some("sam@acme.example"));
        assert_eq!(applicant.coachee.name, "Sam");
        assert!(sign_up(None, Some("+31 6 1234 5678")).applicant().is_ok());
        let errors = sign_up(None, None).applicant().unwrap_err();
        assert_eq!(errors[0].pointer, "/phone");
        assert!(sign_up(Some("not an address"), None).applicant().is_err());
    }

    #[test]
    fn the_same_person_is_recognised_by_email_or_phone_within_one_campaign_only() {
        let person = |email: Option<&str>, phone: Option<&str>| Coachee {
            name: "Sam".into(),
            email: email.map(String::from),
            phone: phone.map(String::from),
        };
        let first = person_keys(
            "c1",
            &person(Some("sam@acme.example"), Some("+31 6 1234 5678")),
        );
        assert_eq!(first.len(), 2);
        let by_phone = person_keys("c1", &person(None, Some("+31 (6) 12-34-56-78")));
        assert_eq!(by_phone, first[1..]);
        let by_email = person_keys("c1", &person(Some("sam@acme.example"), None));
        assert_eq!(by_email, first[..1]);
        let elsewhere = person_keys("c2", &person(Some("sam@acme.example"), None));
        assert_ne!(elsewhere, by_email);
        assert!(!first[0].contains("sam"));
    }

    #[test]
    fn the_answer_says_when_a_person_will_call_in_plain_words_004() {
        // Tuesday 10:30: today before 17:00.
        let now = amsterdam(2026, 12, 8, 10, 30);
        let due = contact_due_at(now, Amsterdam);
        assert_eq!(
            what_happens_next("en", due, now, Amsterdam),
            "Thank you. A coach will call you today before 17:00 to get to know you. There is nothing to prepare; the call is without obligation and stays between you and the coach."
        );
        assert!(what_happens_next("nl", due, now, Amsterdam).contains("belt je vandaag vóór 17:00"));
        // Tuesday evening: tomorrow before 12:00.
        let evening = amsterdam(2026, 12, 8, 19, 0);
        let due = contact_due_at(evening, Amsterdam);
        assert!(what_happens_next("en", due, evening, Amsterdam).contains("tomorrow before 12:00"));
        // Friday evening: Monday before 12:00.
        let friday = amsterdam(2026, 12, 11, 19, 0);
        let due = contact_due_at(friday, Amsterdam);
        assert!(what_happens_next("en", due, friday, Amsterdam).contains("on Monday before 12:00"));
        assert!(what_happens_next("nl", due, friday, Amsterdam).contains("op maandag vóór 12:00"));
    }

    #[test]
    fn the_answer_is_in_the_language_asked_for_when_there_are_words_for_it() {
        assert_eq!(answer_language(Some("nl")), "nl");
        assert_eq!(answer_language(Some("tr")), "en");
        assert_eq!(answer_language(None), "en");
    }
}
