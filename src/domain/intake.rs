//! The intake (*intakegesprek*) and the rules that decide whether a trajectory may start.
//!
//! At intake the coach and the coachee see whether there is a "click": trust on both sides is
//! the condition to start (000, 002, 004). The coach checks whether the reason for the order is
//! justified, whether the goals are realistic ("a person is not made of elastic"), and whether
//! another solution than coaching would be better (002). Whether an assessment is used is
//! decided together with the employee (002). The outcome is start, decline, or an alternative
//! that is named and substantiated (002).
//!
//! [`validate`] returns findings and changes nothing; completing an intake runs the same
//! validation and refuses when any finding is an error.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::commission::{default_end, DEFAULT_MONTHS, DEFAULT_SESSIONS};
use crate::domain::order::IntakeDecision;
use crate::domain::plan::Plan;
use crate::domain::{input, FieldError};

/// Whether the feedback that led to the order holds up (002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCheck {
    Confirmed,
    PartlyConfirmed,
    NotConfirmed,
}

/// Whether an assessment is part of the trajectory (decided with the coachee, 002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssessmentDecision {
    Planned,
    NotPlanned,
}

/// The four phases of career coaching (001); the trajectory is circular, so several may carry
/// emphasis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoachingPhase {
    SelfExploration,
    VisionDevelopment,
    MarketExploration,
    MarketApproach,
}

/// The coach's record of the intake, kept as a draft until it is completed. Confidential: it
/// belongs to the coaching relationship, never to the employer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeDraft {
    /// Whether the coach felt enough trust to start.
    pub trust_coach: Option<bool>,
    /// Whether the coachee said they felt enough trust to start.
    pub trust_coachee: Option<bool>,
    /// Whether the reason for the order (the feedback from HR or the manager) holds up.
    pub reason: Option<ReasonCheck>,
    /// Why the reason is (partly) not confirmed, or other factors at play.
    pub reason_note: Option<String>,
    /// Whether the goals can be reached by coaching.
    pub goals_realistic: Option<bool>,
    /// Whether another solution than coaching would be better.
    pub other_solution_better: Option<bool>,
    pub assessment: Option<AssessmentDecision>,
    /// Where the emphasis lies among the phases (001).
    #[serde(default)]
    pub phase_emphasis: Vec<CoachingPhase>,
    /// The coach's own note; shown to nobody else.
    pub private_note: Option<String>,
    pub decision: Option<IntakeDecision>,
    /// Why the trajectory does not start (decision `decline`).
    pub decline_reason: Option<String>,
    /// The solution recommended instead of coaching (decision `alternative`).
    pub alternative: Option<String>,
    /// Why that alternative is better.
    pub alternative_substantiation: Option<String>,
}

/// The longest text an intake field takes.
pub const MAX_INTAKE_TEXT: usize = 5000;

impl IntakeDraft {
    /// Whether the draft's texts fit (a draft may be incomplete; [`validate`] judges that).
    pub fn check_texts(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        for (pointer, value) in [
            ("/reason_note", &self.reason_note),
            ("/private_note", &self.private_note),
            ("/decline_reason", &self.decline_reason),
            ("/alternative", &self.alternative),
            (
                "/alternative_substantiation",
                &self.alternative_substantiation,
            ),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.chars().count() > MAX_INTAKE_TEXT)
            {
                errors.push(FieldError::new(
                    pointer,
                    format!("must be at most {MAX_INTAKE_TEXT} characters"),
                ));
            }
        }
        input::verdict(errors)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Completing the intake is refused.
    Error,
    /// Worth a second look; completing is allowed.
    Warning,
}

/// One outcome of the intake validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Finding {
    /// Stable, for programs: e.g. `trust_coachee_missing`.
    #[schema(example = "trust_coachee_missing")]
    pub code: &'static str,
    pub severity: Severity,
    /// JSON pointer into the intake, or into the plan under `/plan`.
    #[schema(example = "/trust_coachee")]
    pub pointer: String,
    /// A sentence a coach understands.
    pub message: String,
}

/// The shortest substantiation that counts as one (about two sentences).
pub const MIN_SUBSTANTIATION: usize = 80;

/// What the rules look at besides the draft.
#[derive(Debug, Clone, Copy)]
pub struct IntakeContext<'a> {
    pub draft: &'a IntakeDraft,
    pub plan: &'a Plan,
    pub session_budget: u32,
    pub order_end: NaiveDate,
    /// The day the trajectory would start (today, at completion).
    pub start: NaiveDate,
    /// Whether the coachee's consent to an assessment is on record now.
    pub assessment_consent: bool,
}

fn blank(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(|v| v.trim().is_empty())
}

struct Findings(Vec<Finding>);

impl Findings {
    fn error(
        &mut self,
        code: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(code, Severity::Error, pointer, message)
    }
    fn warning(
        &mut self,
        code: &'static str,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.push(code, Severity::Warning, pointer, message)
    }
    fn push(
        &mut self,
        code: &'static str,
        severity: Severity,
        pointer: impl Into<String>,
        message: impl Into<String>,
    ) {
        self.0.push(Finding {
            code,
            severity,
            pointer: pointer.into(),
            message: message.into(),
        })
    }
}

/// All findings for the intake as it stands.
pub fn validate(ctx: IntakeContext<'_>) -> Vec<Finding> {
    let draft = ctx.draft;
    let mut f = Findings(vec![]);

    // A reason that does not hold needs saying why (002), whatever the decision.
    if matches!(
        draft.reason,
        Some(ReasonCheck::NotConfirmed | ReasonCheck::PartlyConfirmed)
    ) && blank(&draft.reason_note)
    {
        f.error(
            "reason_note_missing",
            "/reason_note",
            "The reason for the order is not (fully) confirmed: note what you found, e.g. other factors than the employee's shortcoming.",
        );
    }
    // An assessment only with the coachee's consent (002).
    if draft.assessment == Some(AssessmentDecision::Planned) && !ctx.assessment_consent {
        f.error(
            "assessment_without_consent",
            "/assessment",
            "An assessment is decided together with the coachee: their consent is not on record. Ask them to give it, or do not plan one.",
        );
    }

    match draft.decision {
        None => f.error(
            "decision_missing",
            "/decision",
            "Choose the intake's outcome: start, decline, or recommend an alternative.",
        ),
        Some(IntakeDecision::Start) => start_rules(&ctx, &mut f),
        Some(IntakeDecision::Decline) => {
            if blank(&draft.decline_reason) {
                f.error(
                    "decline_reason_missing",
                    "/decline_reason",
                    "Say why the trajectory does not start.",
                );
            }
        }
        Some(IntakeDecision::Alternative) => {
            if blank(&draft.alternative) {
                f.error(
                    "alternative_missing",
                    "/alternative",
                    "Name the solution you recommend instead of coaching.",
                );
            }
            let length = draft
                .alternative_substantiation
                .as_deref()
                .map_or(0, |s| s.trim().chars().count());
            if length < MIN_SUBSTANTIATION {
                f.error(
                    "alternative_substantiation_too_short",
                    "/alternative_substantiation",
                    format!("Substantiate why the alternative is better, in at least {MIN_SUBSTANTIATION} characters."),
                );
            }
        }
    }
    f.0
}

fn start_rules(ctx: &IntakeContext<'_>, f: &mut Findings) {
    let draft = ctx.draft;
    // Trust on both sides is the condition to start (000, 002, 004).
    if draft.trust_coach != Some(true) {
        f.error(
            "trust_coach_missing",
            "/trust_coach",
            "A trajectory starts only when you, the coach, feel there is enough trust.",
        );
    }
    if draft.trust_coachee != Some(true) {
        f.error(
            "trust_coachee_missing",
            "/trust_coachee",
            "A trajectory starts only when the coachee says there is enough trust.",
        );
    }
    // Not everything can be coached (002).
    if draft.goals_realistic != Some(true) {
        f.error(
            "goals_not_realistic",
            "/goals_realistic",
            "A trajectory starts only with realistic goals. If they are not, recommend an alternative instead.",
        );
    }
    match draft.reason {
        None => f.error(
            "reason_not_checked",
            "/reason",
            "Check whether the reason for the order holds up before starting.",
        ),
        Some(ReasonCheck::NotConfirmed) => f.warning(
            "reason_not_confirmed",
            "/reason",
            "You are starting although the reason for the order was not confirmed: make sure the goals address what you did find.",
        ),
        _ => {}
    }
    if draft.other_solution_better == Some(true) {
        f.warning(
            "other_solution_better",
            "/other_solution_better",
            "You noted that another solution than coaching would be better: consider recommending it instead.",
        );
    }
    // After the intake: development points and a concrete approach (002), goals as tasks (004).
    let plan = ctx.plan;
    if plan.development_points.is_empty() {
        f.error(
            "development_points_missing",
            "/plan/development_points",
            "Map at least one development point before starting.",
        );
    }
    if plan.goals.is_empty() {
        f.error(
            "plan_goals_missing",
            "/plan/goals",
            "The plan needs at least one goal.",
        );
    }
    for (i, goal) in plan.goals.iter().enumerate() {
        if goal.tasks.is_empty() {
            f.error(
                "goal_without_tasks",
                format!("/plan/goals/{i}/tasks"),
                format!(
                    "Break the goal \"{}\" into at least one task, phrased as something to do.",
                    goal.description
                ),
            );
        }
    }
    // Within what was ordered; more needs the extension route (002).
    let overruns = plan.overruns(ctx.session_budget, ctx.order_end);
    let overrun = |field: &str| overruns.iter().find(|o| o.field == field);
    if let Some(o) = overrun("planned_sessions") {
        f.error(o.code, format!("/plan/{}", o.field), o.message.clone());
    }
    if plan.planned_sessions.is_some_and(|n| n > DEFAULT_SESSIONS) {
        f.warning(
            "many_sessions",
            "/plan/planned_sessions",
            format!("More than {DEFAULT_SESSIONS} sessions: a longer trajectory usually calls for another approach (002)."),
        );
    }
    if let Some(o) = overrun("planned_end") {
        f.error(o.code, format!("/plan/{}", o.field), o.message.clone());
    }
    if let Some(end) = plan.planned_end {
        if end > default_end(ctx.start) {
            f.warning(
                "long_trajectory",
                "/plan/planned_end",
                format!("Longer than {DEFAULT_MONTHS} months: within a few months the coachee should go on under their own power; a longer trajectory usually calls for another approach (002)."),
            );
        }
    }
}

/// Whether findings allow completing the intake.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// The errors among the findings, as field errors.
pub fn errors(findings: &[Finding]) -> Vec<FieldError> {
    findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| FieldError::new(f.pointer.clone(), f.message.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::plan::{DevelopmentPoint, Goal, Task};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn ready_to_start() -> (IntakeDraft, Plan) {
        let draft = IntakeDraft {
            trust_coach: Some(true),
            trust_coachee: Some(true),
            reason: Some(ReasonCheck::Confirmed),
            goals_realistic: Some(true),
            decision: Some(IntakeDecision::Start),
            ..Default::default()
        };
        let plan = Plan {
            development_points: vec![DevelopmentPoint {
                description: "giving feedback".into(),
            }],
            goals: vec![Goal {
                id: "g".into(),
                description: "lead meetings".into(),
                tasks: vec![Task {
                    id: "t".into(),
                    description: "chair 3 team meetings".into(),
                    target_count: Some(3),
                    done_count: 0,
                    due_date: None,
                    done: false,
                }],
            }],
            planned_sessions: Some(8),
            planned_end: Some(date(2027, 5, 1)),
        };
        (draft, plan)
    }

    fn check(draft: &IntakeDraft, plan: &Plan) -> Vec<Finding> {
        validate(IntakeContext {
            draft,
            plan,
            session_budget: 8,
            order_end: date(2027, 6, 1),
            start: date(2026, 12, 1),
            assessment_consent: false,
        })
    }

    fn codes(findings: &[Finding]) -> Vec<&'static str> {
        findings.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_complete_start_has_no_findings() {
        let (draft, plan) = ready_to_start();
        assert_eq!(check(&draft, &plan), vec![]);
    }

    #[test]
    fn start_needs_trust_on_both_sides_000_002_004() {
        let (mut draft, plan) = ready_to_start();
        draft.trust_coachee = Some(false);
        draft.trust_coach = None;
        let findings = check(&draft, &plan);
        assert_eq!(
            codes(&findings),
            ["trust_coach_missing", "trust_coachee_missing"]
        );
        assert!(has_errors(&findings));
    }

    #[test]
    fn start_needs_realistic_goals_and_points_to_the_alternative_002() {
        let (mut draft, plan) = ready_to_start();
        draft.goals_realistic = Some(false);
        let findings = check(&draft, &plan);
        assert_eq!(codes(&findings), ["goals_not_realistic"]);
        assert!(findings[0].message.contains("alternative"));
    }

    #[test]
    fn an_unconfirmed_reason_needs_a_note_and_warns_on_start_002() {
        let (mut draft, plan) = ready_to_start();
        draft.reason = Some(ReasonCheck::NotConfirmed);
        assert_eq!(
            codes(&check(&draft, &plan)),
            ["reason_note_missing", "reason_not_confirmed"]
        );
        draft.reason_note = Some("the team's workload explains most of it".into());
        let findings = check(&draft, &plan);
        assert_eq!(codes(&findings), ["reason_not_confirmed"]);
        assert!(!has_errors(&findings), "a warning does not block");
    }

    #[test]
    fn start_needs_development_points_and_tasks_for_every_goal_002_004() {
        let (draft, mut plan) = ready_to_start();
        plan.development_points.clear();
        plan.goals[0].tasks.clear();
        let findings = check(&draft, &plan);
        assert_eq!(
            codes(&findings),
            ["development_points_missing", "goal_without_tasks"]
        );
        assert_eq!(findings[1].pointer, "/plan/goals/0/tasks");
        plan.goals.clear();
        assert!(codes(&check(&draft, &plan)).contains(&"plan_goals_missing"));
    }

    #[test]
    fn a_plan_beyond_budget_or_end_date_names_the_extension_route_002() {
        let (draft, mut plan) = ready_to_start();
        plan.planned_sessions = Some(10);
        plan.planned_end = Some(date(2027, 7, 1));
        let findings = check(&draft, &plan);
        assert_eq!(
            codes(&findings),
            [
                "sessions_over_budget",
                "many_sessions",
                "end_after_order_end",
                "long_trajectory"
            ]
        );
        assert!(findings[0].message.contains("/extend"));
        assert!(findings[2].message.contains("/extend"));
    }

    #[test]
    fn a_long_plan_is_a_warning_002() {
        let (draft, mut plan) = ready_to_start();
        plan.planned_end = Some(date(2027, 6, 15));
        let findings = validate(IntakeContext {
            draft: &draft,
            plan: &plan,
            session_budget: 12,
            order_end: date(2027, 12, 1),
            start: date(2026, 12, 1),
            assessment_consent: false,
        });
        assert_eq!(codes(&findings), ["long_trajectory"]);
        assert_eq!(findings[0].severity, Severity::Warning);
        plan.planned_sessions = Some(10);
        plan.planned_end = None;
        let findings = validate(IntakeContext {
            draft: &draft,
            plan: &plan,
            session_budget: 12,
            order_end: date(2027, 12, 1),
            start: date(2026, 12, 1),
            assessment_consent: false,
        });
        assert_eq!(codes(&findings), ["many_sessions"]);
        assert!(!has_errors(&findings));
    }

    #[test]
    fn an_alternative_is_named_and_substantiated_002() {
        let draft = IntakeDraft {
            decision: Some(IntakeDecision::Alternative),
            alternative_substantiation: Some("too short".into()),
            ..Default::default()
        };
        let plan = Plan::default();
        assert_eq!(
            codes(&check(&draft, &plan)),
            [
                "alternative_missing",
                "alternative_substantiation_too_short"
            ]
        );
        let draft = IntakeDraft {
            alternative: Some("mediation between employee and manager".into()),
            alternative_substantiation: Some("The conflict with the manager is the bottleneck; coaching the employee alone would not touch it, mediation would.".into()),
            ..draft
        };
        assert_eq!(
            check(&draft, &plan),
            vec![],
            "no plan needed for an alternative"
        );
    }

    #[test]
    fn a_decline_needs_a_reason() {
        let draft = IntakeDraft {
            decision: Some(IntakeDecision::Decline),
            ..Default::default()
        };
        assert_eq!(
            codes(&check(&draft, &Plan::default())),
            ["decline_reason_missing"]
        );
    }

    #[test]
    fn an_assessment_needs_the_coachees_consent_002() {
        let (mut draft, plan) = ready_to_start();
        draft.assessment = Some(AssessmentDecision::Planned);
        assert_eq!(codes(&check(&draft, &plan)), ["assessment_without_consent"]);
        let findings = validate(IntakeContext {
            draft: &draft,
            plan: &plan,
            session_budget: 8,
            order_end: date(2027, 6, 1),
            start: date(2026, 12, 1),
            assessment_consent: true,
        });
        assert_eq!(findings, vec![]);
    }

    #[test]
    fn no_decision_is_an_error() {
        assert_eq!(
            codes(&check(&IntakeDraft::default(), &Plan::default())),
            ["decision_missing"]
        );
    }
}
