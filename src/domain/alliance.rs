//! The first-session check (DOMAIN.md step 5, 004): the working relationship must be good after
//! the first session for the trajectory to have a good chance, so that is the moment to ask the
//! coachee how it is going. A low rating, or none within a few days, puts the order at risk and
//! tells the provider; the employer sees neither the rating nor the comment.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::FieldError;

/// A rating at or below this is a working relationship at risk.
pub const AT_RISK_RATING: u8 = 2;
/// Days after the first session the coachee has to rate it, unless configured otherwise.
pub const DEFAULT_RATING_DAYS: u32 = 7;
pub const MAX_COMMENT_CHARS: usize = 2000;

/// Why the working relationship is at risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AllianceRisk {
    /// The coachee rated the first session 2 or lower.
    LowRating,
    /// The coachee did not rate the first session in time.
    NoRating,
}

impl AllianceRisk {
    pub fn as_str(self) -> &'static str {
        match self {
            AllianceRisk::LowRating => "low_rating",
            AllianceRisk::NoRating => "no_rating",
        }
    }
}

impl FromStr for AllianceRisk {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [AllianceRisk::LowRating, AllianceRisk::NoRating]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown alliance risk `{s}`"))
    }
}

/// The coachee's rating of the working relationship after the first session.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    /// 1 (not at all) to 5 (very well): how is the working relationship going?
    #[schema(minimum = 1, maximum = 5)]
    pub rating: u8,
    /// In your own words, if you like (up to 2,000 characters). Your coach and the provider read
    /// it; your employer does not.
    #[schema(max_length = 2000)]
    pub comment: Option<String>,
}

impl Feedback {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        if !(1..=5).contains(&self.rating) {
            errors.push(FieldError::new("/rating", "must be 1 to 5"));
        }
        if self
            .comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS)
        {
            errors.push(FieldError::new(
                "/comment",
                format!("must be at most {MAX_COMMENT_CHARS} characters"),
            ));
        }
        crate::domain::input::verdict(errors)
    }

    /// Whether this rating puts the working relationship at risk.
    pub fn at_risk(&self) -> bool {
        self.rating <= AT_RISK_RATING
    }
}

/// Whether the coachee's time to rate the first session, which ended at `ended`, is over.
pub fn rating_overdue(ended: DateTime<Utc>, now: DateTime<Utc>, days: u32) -> bool {
    now - ended > Duration::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_or_lower_is_a_relationship_at_risk_004() {
        let rated = |rating| Feedback {
            rating,
            comment: None,
        };
        assert!(rated(1).at_risk() && rated(2).at_risk());
        assert!(!rated(3).at_risk() && !rated(5).at_risk());
        assert!(rated(0).validate().is_err() && rated(6).validate().is_err());
        let long = Feedback {
            rating: 4,
            comment: Some("x".repeat(2001)),
        };
        assert_eq!(long.validate().unwrap_err()[0].pointer, "/comment");
    }

    #[test]
    fn the_rating_is_overdue_after_the_configured_days() {
        let ended = DateTime::parse_from_rfc3339("2027-01-12T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(!rating_overdue(ended, ended + Duration::days(7), 7));
        assert!(rating_overdue(
            ended,
            ended + Duration::days(7) + Duration::minutes(1),
            7
        ));
    }
}
