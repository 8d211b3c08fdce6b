//! What a provider decides for all its trajectories: whether coachees book, move and cancel
//! their own sessions (off unless the provider turns it on), and how late before a session the
//! coachee's side may call it off without it counting against the budget.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::FieldError;

pub const DEFAULT_LATE_CANCELLATION_HOURS: u32 = 24;
/// A week.
pub const MAX_LATE_CANCELLATION_HOURS: u32 = 168;

/// A provider's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderSettings {
    /// Coachees list their coach's free slots and book, move and cancel their own regular
    /// sessions with their link, under the same rules. Off by default.
    pub coachee_self_service: bool,
    /// A cancellation by the coachee's side later than this many hours before the start counts
    /// against the budget; 0 to 168 (default 24).
    #[schema(maximum = 168, example = 24)]
    pub late_cancellation_hours: u32,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        ProviderSettings {
            coachee_self_service: false,
            late_cancellation_hours: DEFAULT_LATE_CANCELLATION_HOURS,
        }
    }
}

impl ProviderSettings {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        if self.late_cancellation_hours > MAX_LATE_CANCELLATION_HOURS {
            return Err(vec![FieldError::new(
                "/late_cancellation_hours",
                format!("must be 0 to {MAX_LATE_CANCELLATION_HOURS}"),
            )]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_service_is_off_and_the_notice_is_a_day_by_default() {
        let settings = ProviderSettings::default();
        assert!(!settings.coachee_self_service);
        assert_eq!(settings.late_cancellation_hours, 24);
        let week_and_a_bit = ProviderSettings {
            late_cancellation_hours: 169,
            ..settings
        };
        assert!(week_and_a_bit.validate().is_err());
    }
}
