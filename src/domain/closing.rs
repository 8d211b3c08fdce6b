//! The closing review (DOMAIN.md step 7, 000): before a trajectory is done, the coach and the
//! coachee take each of the client's qualities, put "too" in front of it ("what happens if you
//! have too much perseverance?") and say what the plan does about it. The review is the coaching
//! relationship's own (coach and coachee); its closing summary reaches the employer only with the
//! coachee's consent to share a summary.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::input;
use crate::domain::intake::{Finding, Severity};
use crate::domain::FieldError;

pub const MAX_QUALITIES: usize = 20;
const MAX_QUALITY_CHARS: usize = 100;
const MAX_ANSWER_CHARS: usize = 2000;
const MAX_SUMMARY_CHARS: usize = 4000;

/// One quality of the client, reviewed with "too" in front of it (000).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityReview {
    /// The quality, in a word or a few, e.g. `perseverance`.
    #[schema(min_length = 1, max_length = 100, example = "perseverance")]
    pub quality: String,
    /// What the plan does when there is too much of it; empty until the coach and the coachee
    /// discussed it.
    #[schema(max_length = 2000)]
    pub answer: Option<String>,
}

/// The closing review as the coach keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ClosingReviewInput)]
pub struct ClosingReview {
    /// The client's qualities, each with what the plan does if there is too much of it.
    #[schema(max_items = 20)]
    #[serde(default)]
    pub qualities: Vec<QualityReview>,
    /// The closing summary: what the trajectory brought. The employer reads it only when the
    /// coachee consents to share a summary.
    #[schema(max_length = 4000)]
    pub summary: Option<String>,
}

fn blank(text: &Option<String>) -> bool {
    text.as_deref().is_none_or(|t| t.trim().is_empty())
}

impl ClosingReview {
    /// The question the review asks of a quality (000).
    pub fn question(quality: &str) -> String {
        format!("What happens if you have too much {}?", quality.trim())
    }

    /// The review as it is kept: trimmed, blanks as none.
    pub fn normalised(mut self) -> ClosingReview {
        for quality in &mut self.qualities {
            quality.quality = quality.quality.trim().to_string();
            quality.answer = quality
                .answer
                .take()
                .map(|a| a.trim().to_string())
                .filter(|a| !a.is_empty());
        }
        self.summary = self
            .summary
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        self
    }

    /// What is wrong with the review's shape, field by field.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        if self.qualities.len() > MAX_QUALITIES {
            errors.push(FieldError::new(
                "/qualities",
                format!("must hold at most {MAX_QUALITIES} qualities"),
            ));
        }
        for (i, quality) in self.qualities.iter().enumerate() {
            let name = quality.quality.trim().chars().count();
            if !(1..=MAX_QUALITY_CHARS).contains(&name) {
                errors.push(FieldError::new(
                    format!("/qualities/{i}/quality"),
                    format!("must be 1 to {MAX_QUALITY_CHARS} characters"),
                ));
            }
            input::optional_text(
                &format!("/qualities/{i}/answer"),
                quality.answer.as_deref(),
                MAX_ANSWER_CHARS,
                &mut errors,
            );
        }
        input::optional_text(
            "/summary",
            self.summary.as_deref(),
            MAX_SUMMARY_CHARS,
            &mut errors,
        );
        input::verdict(errors)
    }

    /// Whether the trajectory can be completed on this review: errors refuse completing,
    /// warnings do not (000).
    pub fn findings(&self) -> Vec<Finding> {
        let mut findings = vec![];
        if self.qualities.is_empty() {
            findings.push(Finding {
                code: "qualities_missing",
                severity: Severity::Error,
                pointer: "/qualities".into(),
                message: "name the client's qualities and review each with \"too\" in front of it \
                          before completing (000)"
                    .into(),
            });
        }
        for (i, quality) in self.qualities.iter().enumerate() {
            if blank(&quality.answer) {
                findings.push(Finding {
                    code: "quality_unanswered",
                    severity: Severity::Error,
                    pointer: format!("/qualities/{i}/answer"),
                    message: format!(
                        "{} Say what the plan does about it (000).",
                        ClosingReview::question(&quality.quality)
                    ),
                });
            }
        }
        if blank(&self.summary) {
            findings.push(Finding {
                code: "closing_summary_missing",
                severity: Severity::Warning,
                pointer: "/summary".into(),
                message: "no closing summary: the employer gets none, even with the coachee's \
                          consent to share one"
                    .into(),
            });
        }
        findings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality(name: &str, answer: Option<&str>) -> QualityReview {
        QualityReview {
            quality: name.into(),
            answer: answer.map(String::from),
        }
    }

    #[test]
    fn every_quality_needs_its_answer_before_completing_000() {
        let review = ClosingReview {
            qualities: vec![
                quality("perseverance", Some("plan a weekly stop-and-ask moment")),
                quality("helpfulness", Some("  ")),
            ],
            summary: Some("back at work three days a week".into()),
        }
        .normalised();
        let findings = review.findings();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].code, "quality_unanswered");
        assert_eq!(findings[0].pointer, "/qualities/1/answer");
        assert!(findings[0]
            .message
            .starts_with("What happens if you have too much helpfulness?"));
    }

    #[test]
    fn a_review_without_qualities_refuses_and_without_a_summary_warns() {
        let findings = ClosingReview::default().findings();
        let codes: Vec<(&str, Severity)> = findings.iter().map(|f| (f.code, f.severity)).collect();
        assert_eq!(
            codes,
            [
                ("qualities_missing", Severity::Error),
                ("closing_summary_missing", Severity::Warning)
            ]
        );
    }

    #[test]
    fn the_shape_is_checked_field_by_field() {
        let review = ClosingReview {
            qualities: vec![quality("", None), quality(&"x".repeat(101), None)],
            summary: Some("y".repeat(4001)),
        };
        let pointers: Vec<String> = review
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.pointer)
            .collect();
        assert_eq!(
            pointers,
            ["/qualities/0/quality", "/qualities/1/quality", "/summary"]
        );
        let many = ClosingReview {
            qualities: vec![quality("q", Some("a")); 21],
            summary: None,
        };
        assert_eq!(many.validate().unwrap_err()[0].pointer, "/qualities");
    }
}
