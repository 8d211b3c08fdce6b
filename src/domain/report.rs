//! Outcome reports for HR, in aggregate only (002: the employer wants to know whether the
//! coaching helped and whether its results lasted; DOMAIN.md "Who may see what": without seeing
//! any one person's coaching, and no single coachee singled out).
//!
//! Every figure is a count in a breakdown: how many orders, sessions or follow-ups fall in each
//! category. A count from 1 to below the threshold is suppressed, since it points at a few
//! people. So that a suppressed count cannot be found again by difference (the breakdown's total
//! minus the counts shown), a breakdown never shows all but one of its counts: more of the
//! smallest counts are suppressed until those hidden add up to at least the threshold, and when
//! that cannot be done, or the total itself is small, the whole breakdown is suppressed.

use chrono::NaiveDateTime;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::alliance::AllianceRisk;
use crate::domain::follow_up::Results;
use crate::domain::order::{IntakeDecision, OrderStatus, TrajectoryKind};
use crate::domain::session::SessionStatus;

/// The default threshold below which a count is not shown.
pub const DEFAULT_MIN_COUNT: u32 = 5;

/// One category's count, or `None` when it is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Cell {
    /// The category, e.g. `job_coaching` or `held`.
    pub category: String,
    /// How many; absent when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Whether the count is withheld (small, or hidden so that a small one cannot be derived).
    pub suppressed: bool,
}

/// The counts of one population by one attribute, with their total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Breakdown {
    /// What is counted and by what, e.g. `orders_by_kind`.
    pub name: String,
    /// The whole population; absent when it is suppressed too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    pub cells: Vec<Cell>,
}

impl Breakdown {
    /// The same breakdown with its total and every count it has withheld.
    pub fn hidden_whole(mut self) -> Breakdown {
        self.total = None;
        for cell in &mut self.cells {
            if cell.count != Some(0) {
                cell.count = None;
                cell.suppressed = true;
            }
        }
        self
    }

    /// The breakdown `name` of `counts` (every category, zeros included, in the order given),
    /// with small counts suppressed below `min_count`.
    pub fn of(name: &str, counts: &[(&str, u64)], min_count: u32) -> Breakdown {
        let min = u64::from(min_count.max(1));
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        let small = |n: u64| n > 0 && n < min;
        let mut hidden: Vec<bool> = counts.iter().map(|(_, n)| small(*n)).collect();
        let mut whole_hidden = small(total);
        // Hide more of the smallest shown counts while the hidden ones could be told apart.
        while !whole_hidden && hidden.iter().any(|h| *h) {
            let hidden_sum: u64 = counts
                .iter()
                .zip(&hidden)
                .filter(|(_, h)| **h)
                .map(|((_, n), _)| n)
                .sum();
            let hidden_cells = hidden.iter().filter(|h| **h).count();
            if hidden_cells >= 2 && hidden_sum >= min {
                break;
            }
            let next = counts
                .iter()
                .enumerate()
                .filter(|(i, (_, n))| !hidden[*i] && *n > 0)
                .min_by_key(|(_, (_, n))| *n)
                .map(|(i, _)| i);
            match next {
                Some(i) => hidden[i] = true,
                None => whole_hidden = true,
            }
        }
        let cells = counts
            .iter()
            .zip(&hidden)
            .map(|((category, n), h)| {
                let suppressed = whole_hidden && *n > 0 || *h;
                Cell {
                    category: (*category).to_string(),
                    count: (!suppressed).then_some(*n),
                    suppressed,
                }
            })
            .collect();
        Breakdown {
            name: name.to_string(),
            total: (!whole_hidden).then_some(total),
            cells,
        }
    }
}

/// What a report needs of one order, and nothing more: no names, no content.
#[derive(Debug, Clone)]
pub struct OrderFacts {
    pub kind: Option<TrajectoryKind>,
    pub status: OrderStatus,
    /// When first contact was due (the same working day, 004) and when it was made.
    pub contact_due_at: NaiveDateTime,
    pub contacted_at: Option<NaiveDateTime>,
    pub intake_decision: Option<IntakeDecision>,
    pub session_budget: u32,
    pub sessions_used: u32,
    pub alliance_risk: Option<AllianceRisk>,
}

/// What a report counts of a session: held, missed, or cancelled late by the coachee's side
/// (it counted against the budget). Planned sessions and those the provider called off are not
/// outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOutcome {
    Held,
    NoShow,
    LateCancelled,
}

impl SessionOutcome {
    pub fn of(status: SessionStatus, counts_against_budget: bool) -> Option<SessionOutcome> {
        match status {
            SessionStatus::Held => Some(SessionOutcome::Held),
            SessionStatus::NoShow => Some(SessionOutcome::NoShow),
            SessionStatus::Cancelled if counts_against_budget => {
                Some(SessionOutcome::LateCancelled)
            }
            SessionStatus::Cancelled | SessionStatus::Planned => None,
        }
    }
}

fn count<T>(items: &[T], which: impl Fn(&T) -> bool) -> u64 {
    items.iter().filter(|item| which(item)).count() as u64
}

/// The breakdowns of the outcome report (002, 004) of the orders commissioned in a period, their
/// sessions' outcomes and their follow-ups' results.
pub fn outcome_breakdowns(
    orders: &[OrderFacts],
    sessions: &[SessionOutcome],
    results: &[Results],
    min_count: u32,
) -> Vec<Breakdown> {
    let mut kinds: Vec<(&str, u64)> = TrajectoryKind::ALL
        .iter()
        .map(|k| (k.as_str(), count(orders, |o| o.kind == Some(*k))))
        .collect();
    kinds.push(("unspecified", count(orders, |o| o.kind.is_none())));
    let statuses: Vec<(&str, u64)> = OrderStatus::ALL
        .iter()
        .map(|s| (s.as_str(), count(orders, |o| o.status == *s)))
        .collect();
    let on_time = |o: &OrderFacts| o.contacted_at.is_some_and(|at| at <= o.contact_due_at);
    let contact = [
        ("same_working_day", count(orders, on_time)),
        (
            "later",
            count(orders, |o| o.contacted_at.is_some() && !on_time(o)),
        ),
        ("not_recorded", count(orders, |o| o.contacted_at.is_none())),
    ];
    let decided = |d: IntakeDecision| move |o: &OrderFacts| o.intake_decision == Some(d);
    let decisions = [
        ("start", count(orders, decided(IntakeDecision::Start))),
        ("decline", count(orders, decided(IntakeDecision::Decline))),
        (
            "alternative",
            count(orders, decided(IntakeDecision::Alternative)),
        ),
        ("none_yet", count(orders, |o| o.intake_decision.is_none())),
    ];
    let outcome = |which: SessionOutcome| count(sessions, |s| *s == which);
    let session_outcomes = [
        ("held", outcome(SessionOutcome::Held)),
        ("no_show", outcome(SessionOutcome::NoShow)),
        ("late_cancelled", outcome(SessionOutcome::LateCancelled)),
    ];
    let started: Vec<&OrderFacts> = orders
        .iter()
        .filter(|o| o.intake_decision == Some(IntakeDecision::Start))
        .collect();
    let risk = |which: Option<AllianceRisk>| count(&started, |o| o.alliance_risk == which);
    let alliance = [
        ("not_at_risk", risk(None)),
        ("at_risk_low_rating", risk(Some(AllianceRisk::LowRating))),
        ("at_risk_no_rating", risk(Some(AllianceRisk::NoRating))),
    ];
    let lasting = |which: Results| count(results, |r| *r == which);
    let follow_ups = [
        ("lasted", lasting(Results::Lasted)),
        ("partly", lasting(Results::Partly)),
        ("not_lasted", lasting(Results::NotLasted)),
    ];
    let budget_total: u64 = orders.iter().map(|o| u64::from(o.session_budget)).sum();
    let used: u64 = orders
        .iter()
        .map(|o| u64::from(o.sessions_used.min(o.session_budget)))
        .sum();
    let budget = [("used", used), ("not_used", budget_total - used)];
    let mut budget = Breakdown::of("budget_sessions", &budget, min_count);
    // Sessions are not people, but the budget of a few orders tells of those orders.
    let population = orders.len() as u64;
    if population > 0 && population < u64::from(min_count) {
        budget = budget.hidden_whole();
    }
    let decisions = Breakdown::of("intake_decisions", &decisions, min_count);
    let mut alliance = Breakdown::of("started_orders_by_alliance", &alliance, min_count);
    // Its population is the `start` count: where that is withheld, so is this breakdown's total
    // (and all of it), or it would give the withheld count away.
    if decisions
        .cells
        .iter()
        .any(|c| c.category == "start" && c.suppressed)
    {
        alliance = alliance.hidden_whole();
    }
    vec![
        Breakdown::of("orders_by_kind", &kinds, min_count),
        Breakdown::of("orders_by_status", &statuses, min_count),
        Breakdown::of("first_contact", &contact, min_count),
        decisions,
        Breakdown::of("sessions", &session_outcomes, min_count),
        budget,
        alliance,
        Breakdown::of("follow_up_results", &follow_ups, min_count),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(b: &Breakdown) -> Vec<Option<u64>> {
        b.cells.iter().map(|c| c.count).collect()
    }

    fn started(n: usize, decision: IntakeDecision) -> Vec<OrderFacts> {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 1, 5)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        (0..n)
            .map(|_| OrderFacts {
                kind: None,
                status: OrderStatus::Active,
                contact_due_at: at,
                contacted_at: None,
                intake_decision: Some(decision),
                session_budget: 8,
                sessions_used: 0,
                alliance_risk: None,
            })
            .collect()
    }

    #[test]
    fn a_withheld_start_count_is_not_given_away_by_the_alliance_total() {
        // start 7, decline 2, alternative 10: start and decline are withheld together, and the
        // alliance breakdown (whose total is the start count) with them.
        let orders = [
            started(7, IntakeDecision::Start),
            started(2, IntakeDecision::Decline),
            started(10, IntakeDecision::Alternative),
        ]
        .concat();
        let report = outcome_breakdowns(&orders, &[], &[], 5);
        let named = |name: &str| report.iter().find(|b| b.name == name).unwrap();
        let decisions = named("intake_decisions");
        assert!(decisions
            .cells
            .iter()
            .any(|c| c.category == "start" && c.suppressed));
        assert_eq!(named("started_orders_by_alliance").total, None);
        // With enough started and declined, both show.
        let orders = [
            started(7, IntakeDecision::Start),
            started(6, IntakeDecision::Decline),
        ]
        .concat();
        let report = outcome_breakdowns(&orders, &[], &[], 5);
        let alliance = report
            .iter()
            .find(|b| b.name == "started_orders_by_alliance")
            .unwrap();
        assert_eq!(alliance.total, Some(7));
    }

    #[test]
    fn counts_at_or_above_the_threshold_are_shown() {
        let b = Breakdown::of("x", &[("a", 5), ("b", 12), ("c", 0)], 5);
        assert_eq!(shown(&b), vec![Some(5), Some(12), Some(0)]);
        assert_eq!(b.total, Some(17));
    }

    #[test]
    fn a_small_count_is_not_left_to_be_derived_from_the_total() {
        // 3 alone would be total - 10 - 7: the smallest other count is hidden with it.
        let b = Breakdown::of("x", &[("a", 10), ("b", 3), ("c", 7)], 5);
        assert_eq!(shown(&b), vec![Some(10), None, None]);
        assert_eq!(b.total, Some(20));
        // Two small counts that add up below the threshold take a third with them.
        let b = Breakdown::of("x", &[("a", 1), ("b", 2), ("c", 9), ("d", 20)], 5);
        assert_eq!(shown(&b), vec![None, None, None, Some(20)]);
        let hidden: u64 = 1 + 2 + 9;
        assert!(hidden >= 5);
    }

    #[test]
    fn two_small_counts_that_reach_the_threshold_together_are_enough() {
        let b = Breakdown::of("x", &[("a", 3), ("b", 4), ("c", 30)], 5);
        assert_eq!(shown(&b), vec![None, None, Some(30)]);
        assert_eq!(b.total, Some(37));
    }

    #[test]
    fn a_small_population_is_suppressed_whole() {
        let b = Breakdown::of("x", &[("a", 2), ("b", 0), ("c", 1)], 5);
        assert_eq!(b.total, None);
        assert_eq!(shown(&b), vec![None, Some(0), None]);
        // A population with one small count and nothing else to hide with it: all hidden.
        let b = Breakdown::of("x", &[("a", 6), ("b", 1)], 5);
        assert_eq!(shown(&b), vec![None, None]);
        assert_eq!(b.total, Some(7));
        let b = Breakdown::of("x", &[("a", 0), ("b", 0)], 5);
        assert_eq!(b.total, Some(0), "nobody is no one in particular");
    }

    #[test]
    fn no_shown_figure_gives_away_a_hidden_small_count() {
        // Every breakdown of up to four categories with counts 0..=8: whatever is shown, the
        // hidden counts add up to the threshold or more (so none is derivable alone), or the
        // total is hidden too.
        let min = 5;
        for a in 0..=8u64 {
            for b in 0..=8u64 {
                for c in 0..=8u64 {
                    for d in 0..=8u64 {
                        let counts = [("a", a), ("b", b), ("c", c), ("d", d)];
                        let report = Breakdown::of("x", &counts, min);
                        let hidden: Vec<u64> = counts
                            .iter()
                            .zip(&report.cells)
                            .filter(|(_, cell)| cell.suppressed)
                            .map(|((_, n), _)| *n)
                            .collect();
                        for cell in &report.cells {
                            if let Some(n) = cell.count {
                                assert!(n == 0 || n >= u64::from(min), "{counts:?}");
                            }
                        }
                        if report.total.is_some() && !hidden.is_empty() {
                            assert!(hidden.len() >= 2, "{counts:?}");
                            assert!(hidden.iter().sum::<u64>() >= u64::from(min), "{counts:?}");
                        }
                    }
                }
            }
        }
    }
}
