//! Coach match (001, 000): which coach fits depends on the question, the occasion, the goal and
//! the context of the candidate; coaches have specialisms, e.g. people with a technical
//! background (000).
//!
//! A suggestion's score (0–100) adds up: the order's kind among the coach's specialisms (40),
//! each of the order's context tags among them (15, at most 30), the preferred language spoken
//! (20; 10 when no language is preferred), and room in the coach's load (10 minus one per active
//! trajectory). Every part that counts is given as a reason in words. The earliest free intake
//! slot joins the ranking once coaches keep availability.

use serde::Serialize;
use utoipa::ToSchema;

/// What the order asks for.
#[derive(Debug, Clone, Default)]
pub struct MatchRequest<'a> {
    /// The trajectory kind's slug, e.g. `reintegration`.
    pub kind: Option<&'a str>,
    /// Context tags, e.g. `technical_background`.
    pub context: &'a [String],
    pub language: Option<&'a str>,
}

/// A coach who could take the order.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub coach_id: &'a str,
    pub name: &'a str,
    pub specialisms: &'a [String],
    pub languages: &'a [String],
    pub active_trajectories: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Suggestion {
    #[schema(format = Uuid)]
    pub coach_id: String,
    pub name: String,
    /// 0 to 100; higher fits better.
    pub score: u32,
    pub active_trajectories: u32,
    /// Why, in words.
    pub reasons: Vec<String>,
}

fn words(slug: &str) -> String {
    slug.replace('_', " ")
}

pub fn score(request: &MatchRequest<'_>, candidate: &Candidate<'_>) -> Suggestion {
    let mut score = 0;
    let mut reasons = vec![];
    if let Some(kind) = request.kind {
        if candidate.specialisms.iter().any(|s| s == kind) {
            score += 40;
            reasons.push(format!(
                "specialised in {} coaching",
                words(kind).replace(" coaching", "")
            ));
        }
    }
    let context_points: u32 = request
        .context
        .iter()
        .filter(|tag| candidate.specialisms.contains(tag))
        .map(|tag| {
            reasons.push(format!("experience with {}", words(tag)));
            15
        })
        .sum();
    score += context_points.min(30);
    match request.language {
        Some(language) if candidate.languages.iter().any(|l| l == language) => {
            score += 20;
            reasons.push(format!("speaks the preferred language ({language})"));
        }
        Some(language) => reasons.push(format!(
            "does not speak the preferred language ({language})"
        )),
        None => score += 10,
    }
    let room = 10u32.saturating_sub(candidate.active_trajectories);
    score += room;
    reasons.push(match candidate.active_trajectories {
        0 => "no active trajectories".to_string(),
        1 => "1 active trajectory".to_string(),
        n => format!("{n} active trajectories"),
    });
    Suggestion {
        coach_id: candidate.coach_id.to_string(),
        name: candidate.name.to_string(),
        score,
        active_trajectories: candidate.active_trajectories,
        reasons,
    }
}

/// Candidates ranked best first: by score, then the lighter load, then name.
pub fn rank(request: &MatchRequest<'_>, candidates: &[Candidate<'_>]) -> Vec<Suggestion> {
    let mut suggestions: Vec<Suggestion> = candidates.iter().map(|c| score(request, c)).collect();
    suggestions.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then(a.active_trajectories.cmp(&b.active_trajectories))
            .then(a.name.cmp(&b.name))
    });
    suggestions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_specialist_for_the_question_ranks_first_001() {
        let tech = strings(&["reintegration", "technical_background"]);
        let general = strings(&["curative"]);
        let nl = strings(&["nl"]);
        let candidates = [
            Candidate {
                coach_id: "a",
                name: "General",
                specialisms: &general,
                languages: &nl,
                active_trajectories: 0,
            },
            Candidate {
                coach_id: "b",
                name: "Specialist",
                specialisms: &tech,
                languages: &nl,
                active_trajectories: 3,
            },
        ];
        let context = strings(&["technical_background"]);
        let request = MatchRequest {
            kind: Some("reintegration"),
            context: &context,
            language: Some("nl"),
        };
        let ranked = rank(&request, &candidates);
        assert_eq!(ranked[0].coach_id, "b");
        assert_eq!(ranked[0].score, 40 + 15 + 20 + 7);
        assert_eq!(
            ranked[0].reasons,
            [
                "specialised in reintegration coaching",
                "experience with technical background",
                "speaks the preferred language (nl)",
                "3 active trajectories"
            ]
        );
    }

    #[test]
    fn with_equal_fit_the_lighter_load_wins() {
        let s = strings(&["curative"]);
        let l = strings(&["en"]);
        let candidates = [
            Candidate {
                coach_id: "busy",
                name: "A",
                specialisms: &s,
                languages: &l,
                active_trajectories: 6,
            },
            Candidate {
                coach_id: "free",
                name: "B",
                specialisms: &s,
                languages: &l,
                active_trajectories: 1,
            },
        ];
        let ranked = rank(
            &MatchRequest {
                kind: Some("curative"),
                ..Default::default()
            },
            &candidates,
        );
        assert_eq!(ranked[0].coach_id, "free");
    }

    #[test]
    fn a_missing_language_is_said_and_costs_points() {
        let s = strings(&[]);
        let l = strings(&["en"]);
        let c = Candidate {
            coach_id: "x",
            name: "X",
            specialisms: &s,
            languages: &l,
            active_trajectories: 0,
        };
        let suggestion = score(
            &MatchRequest {
                language: Some("nl"),
                ..Default::default()
            },
            &c,
        );
        assert_eq!(suggestion.score, 10);
        assert!(suggestion.reasons[0].contains("does not speak"));
    }
}
