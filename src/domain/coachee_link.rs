//! The coachee's link: a token with role `coachee` that opens one order's coachee endpoints for a
//! limited time. Whoever holds it speaks as the coachee (gives consent, reads the plan), so only
//! the assigned coach issues it and hands it over (DOMAIN.md: consent is the coachee's own).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::FieldError;

pub const DEFAULT_LINK_DAYS: u32 = 30;
pub const MAX_LINK_DAYS: u32 = 90;

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// How long the link works, 1 to 90 days (default 30).
    #[schema(minimum = 1, maximum = 90)]
    pub valid_days: Option<u32>,
}

impl LinkRequest {
    /// When a link issued at `now` expires.
    pub fn expires_at(&self, now: DateTime<Utc>) -> Result<DateTime<Utc>, Vec<FieldError>> {
        let days = self.valid_days.unwrap_or(DEFAULT_LINK_DAYS);
        if !(1..=MAX_LINK_DAYS).contains(&days) {
            return Err(vec![FieldError::new(
                "/valid_days",
                format!("must be between 1 and {MAX_LINK_DAYS}"),
            )]);
        }
        Ok(now + Duration::days(i64::from(days)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_link_works_30_days_by_default_and_at_most_90() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        assert_eq!(
            LinkRequest::default().expires_at(now),
            Ok(now + Duration::days(30))
        );
        for days in [0, 91] {
            let request = LinkRequest {
                valid_days: Some(days),
            };
            assert!(request.expires_at(now).is_err(), "{days}");
        }
    }
}
