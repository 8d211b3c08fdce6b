//! The coachee's consents (DOMAIN.md "Who may see what"): to an assessment (002) and to sharing a
//! summary with the employer. A consent is the coachee's own, given and withdrawn by them, and
//! recorded with when and how. Withdrawing stops what depended on it.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// To an assessment, decided together with the coachee (002).
    Assessment,
    /// To sharing a summary (the agreed goals) with the employer.
    ShareSummary,
    /// To be contacted, given by signing up to an invitation campaign oneself (004).
    Contact,
    /// To the employer knowing of one's trajectory, for an order from a confidential campaign
    /// (004: stigma keeps people away, so the employer does not know unless the coachee says).
    ShareParticipation,
}

impl ConsentKind {
    pub const ALL: [ConsentKind; 4] = [
        ConsentKind::Assessment,
        ConsentKind::ShareSummary,
        ConsentKind::Contact,
        ConsentKind::ShareParticipation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentKind::Assessment => "assessment",
            ConsentKind::ShareSummary => "share_summary",
            ConsentKind::Contact => "contact",
            ConsentKind::ShareParticipation => "share_participation",
        }
    }
}

impl FromStr for ConsentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ConsentKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown consent `{s}`"))
    }
}

/// Consents to give or withdraw; absent ones stay as they are.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChanges {
    /// Consent to an assessment.
    pub assessment: Option<bool>,
    /// Consent to share a summary (the agreed goals) with the employer.
    pub share_summary: Option<bool>,
    /// For an order from a confidential invitation campaign: consent to the employer knowing
    /// of your trajectory (it then sees the order as any other); withdrawn, it no longer does.
    pub share_participation: Option<bool>,
}

impl ConsentChanges {
    /// The consents this request gives (`true`) or withdraws (`false`); at least one.
    pub fn changes(&self) -> Result<Vec<(ConsentKind, bool)>, Vec<FieldError>> {
        let changes: Vec<_> = [
            (ConsentKind::Assessment, self.assessment),
            (ConsentKind::ShareSummary, self.share_summary),
            (ConsentKind::ShareParticipation, self.share_participation),
        ]
        .into_iter()
        .filter_map(|(kind, given)| given.map(|g| (kind, g)))
        .collect();
        if changes.is_empty() {
            return Err(vec![FieldError::new(
                "/",
                "give or withdraw at least one consent: assessment, share_summary or share_participation",
            )]);
        }
        Ok(changes)
    }
}

/// Whether a change is news: recording the same word twice says nothing new.
pub fn is_change(current: Option<bool>, given: bool) -> bool {
    current != Some(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_gives_or_withdraws_at_least_one_consent() {
        let none = ConsentChanges {
            assessment: None,
            share_summary: None,
            share_participation: None,
        };
        assert!(none.changes().is_err());
        let withdraw = ConsentChanges {
            assessment: Some(false),
            share_summary: None,
            share_participation: None,
        };
        assert_eq!(
            withdraw.changes().unwrap(),
            [(ConsentKind::Assessment, false)]
        );
    }

    #[test]
    fn only_a_different_word_is_recorded() {
        assert!(is_change(None, false));
        assert!(is_change(Some(true), false));
        assert!(!is_change(Some(true), true));
    }

    #[test]
    fn kinds_round_trip() {
        for kind in ConsentKind::ALL {
            assert_eq!(kind.as_str().parse::<ConsentKind>(), Ok(kind));
        }
    }
}
