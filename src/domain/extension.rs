//! Longer than planned (002), and finishing (000).
//!
//! The principle is that within a few months the employee goes on under their own power. If
//! coaching must last longer, another approach is often better: an extension needs a
//! substantiation, and the alternative that was considered is named (002). Before finishing, the
//! plan's pitfalls are reviewed with the coachee: each quality with "too" in front of it; only
//! then is the trajectory done (000).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::commission::MAX_SESSIONS;
use crate::domain::input::{self, MAX_TEXT};
use crate::domain::intake::MIN_SUBSTANTIATION;
use crate::domain::FieldError;

/// A request for more sessions or a later end.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExtendRequest)]
pub struct ExtensionRequest {
    /// Sessions to add to the budget.
    #[serde(default)]
    #[schema(maximum = 50)]
    pub additional_sessions: u32,
    /// A later end date.
    pub new_end_date: Option<NaiveDate>,
    /// Why coaching must last longer (002); at least 80 characters. Not shown to the employer.
    #[schema(min_length = 80, max_length = 2000)]
    pub substantiation: String,
    /// The other approach that was considered and why coaching still fits better (002).
    #[schema(min_length = 1, max_length = 2000)]
    pub alternative_considered: String,
}

/// The order's terms after an extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExtendedTerms {
    pub session_budget: u32,
    pub end_date: NaiveDate,
}

impl ExtensionRequest {
    /// The terms after this extension of an order with `session_budget` and `end_date`, or every
    /// field that is wrong.
    pub fn extend(
        &self,
        session_budget: u32,
        end_date: NaiveDate,
    ) -> Result<ExtendedTerms, Vec<FieldError>> {
        let mut errors = vec![];
        if self.substantiation.trim().chars().count() < MIN_SUBSTANTIATION {
            errors.push(FieldError::new(
                "/substantiation",
                format!(
                    "must substantiate the extension in at least {MIN_SUBSTANTIATION} characters"
                ),
            ));
        }
        input::required_text(
            "/substantiation",
            &self.substantiation,
            MAX_TEXT,
            &mut errors,
        );
        input::required_text(
            "/alternative_considered",
            &self.alternative_considered,
            MAX_TEXT,
            &mut errors,
        );
        if self.additional_sessions > MAX_SESSIONS {
            errors.push(FieldError::new(
                "/additional_sessions",
                format!("must be at most {MAX_SESSIONS}"),
            ));
        }
        if self.additional_sessions == 0 && self.new_end_date.is_none() {
            errors.push(FieldError::new(
                "/additional_sessions",
                "add sessions or give a new_end_date",
            ));
        }
        if let Some(end) = self.new_end_date.filter(|end| *end <= end_date) {
            errors.push(FieldError::new(
                "/new_end_date",
                format!("must be after the current end date {end_date} (not {end})"),
            ));
        }
        input::verdict(errors)?;
        Ok(ExtendedTerms {
            session_budget: session_budget + self.additional_sessions,
            end_date: self.new_end_date.unwrap_or(end_date),
        })
    }
}

/// Completing a trajectory: what it asks for is the closing review (000, `PUT
/// /orders/{id}/closing-review`); the body can set the order's own follow-ups.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CompleteRequest)]
pub struct Completion {
    /// Deprecated: the recorded closing review shows the pitfalls were reviewed (000). If sent,
    /// it must be true.
    #[schema(deprecated)]
    pub pitfalls_reviewed: Option<bool>,
    /// This order's follow-ups, in days after completion (0 to 2, ascending, 14 to 730 each), in
    /// place of the employer's policy (002); `[]` for none.
    #[schema(max_items = 2, example = json!([90]))]
    pub follow_up_days: Option<Vec<u32>>,
}

impl Completion {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        if self.pitfalls_reviewed == Some(false) {
            errors.push(FieldError::new(
                "/pitfalls_reviewed",
                "review the plan's pitfalls with the coachee before completing (000)",
            ));
        }
        if let Some(days) = &self.follow_up_days {
            if let Err(mut wrong) = crate::domain::follow_up::check_days("/follow_up_days", days) {
                errors.append(&mut wrong);
            }
        }
        crate::domain::input::verdict(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 5, 24).unwrap()
    }

    fn request(
        sessions: u32,
        new_end: Option<NaiveDate>,
        substantiation: &str,
    ) -> ExtensionRequest {
        ExtensionRequest {
            additional_sessions: sessions,
            new_end_date: new_end,
            substantiation: substantiation.into(),
            alternative_considered: "group coaching".into(),
        }
    }

    fn pointers(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.pointer).collect()
    }

    const WHY: &str = "the coachee returned to work later than planned, and two more sessions secure the new routine";

    #[test]
    fn an_extension_needs_a_substantiation_of_two_sentences_002() {
        let errors = request(2, None, "because").extend(8, end()).unwrap_err();
        assert_eq!(pointers(errors), ["/substantiation"]);
        assert_eq!(
            request(2, None, WHY).extend(8, end()),
            Ok(ExtendedTerms {
                session_budget: 10,
                end_date: end()
            })
        );
    }

    #[test]
    fn an_extension_names_the_alternative_considered_002() {
        let mut no_alternative = request(2, None, WHY);
        no_alternative.alternative_considered = " ".into();
        assert_eq!(
            pointers(no_alternative.extend(8, end()).unwrap_err()),
            ["/alternative_considered"]
        );
    }

    #[test]
    fn an_extension_adds_something_and_only_moves_the_end_later() {
        assert_eq!(
            pointers(request(0, None, WHY).extend(8, end()).unwrap_err()),
            ["/additional_sessions"]
        );
        assert_eq!(
            pointers(request(0, Some(end()), WHY).extend(8, end()).unwrap_err()),
            ["/new_end_date"]
        );
        let later = end().succ_opt().unwrap();
        assert_eq!(
            request(0, Some(later), WHY)
                .extend(8, end())
                .unwrap()
                .end_date,
            later
        );
    }

    #[test]
    fn completing_checks_what_it_is_given() {
        let with = |pitfalls_reviewed, follow_up_days| Completion {
            pitfalls_reviewed,
            follow_up_days,
        };
        assert!(with(None, None).check().is_ok());
        assert!(with(Some(true), Some(vec![90])).check().is_ok());
        assert!(with(Some(true), Some(vec![])).check().is_ok());
        let refused = with(Some(false), None).check().unwrap_err();
        assert_eq!(refused[0].pointer, "/pitfalls_reviewed");
        let refused = with(None, Some(vec![90, 60])).check().unwrap_err();
        assert_eq!(refused[0].pointer, "/follow_up_days/1");
    }
}
