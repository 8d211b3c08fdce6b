//! The order's lifecycle (API.md "Order states"): which action is allowed in which state and for
//! which role, and where it leads.
//!
//! `submitted → accepted (coach assigned) → intake_scheduled → active | declined |
//! alternative_proposed → completed → following_up → closed`, and `cancelled` from any state
//! before `completed`. An intake may be completed straight from `accepted`: it took place during
//! the first-contact call (004).

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::principal::Role;

/// The kinds of trajectory (001, 002). Their names double as coach specialisms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrajectoryKind {
    /// Improving how the employee functions in the current job (002).
    JobCoaching,
    /// After dismissal or redundancy (outplacement).
    Curative,
    /// Reorientation; the goal can be much broader than a new job.
    Preventive,
    /// Return to work.
    Reintegration,
}

impl TrajectoryKind {
    pub const ALL: [TrajectoryKind; 4] = [
        TrajectoryKind::JobCoaching,
        TrajectoryKind::Curative,
        TrajectoryKind::Preventive,
        TrajectoryKind::Reintegration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TrajectoryKind::JobCoaching => "job_coaching",
            TrajectoryKind::Curative => "curative",
            TrajectoryKind::Preventive => "preventive",
            TrajectoryKind::Reintegration => "reintegration",
        }
    }
}

impl FromStr for TrajectoryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            TrajectoryKind::JobCoaching,
            TrajectoryKind::Curative,
            TrajectoryKind::Preventive,
            TrajectoryKind::Reintegration,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| format!("unknown trajectory kind `{s}`"))
    }
}

/// Who raised the reason for the order (*aanleiding*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasonSource {
    Hr,
    Manager,
    Employee,
}

/// How sessions take place (003).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionFormat {
    InPerson,
    Phone,
    Video,
    Group,
}

/// What the employer told about the order beyond who and what kind: all optional (004).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderDetails {
    pub job_title: Option<String>,
    pub department: Option<String>,
    /// The employee's id in the HR system.
    pub employee_ref: Option<String>,
    /// Why the order is placed (*aanleiding*).
    pub reason: Option<String>,
    pub reason_source: Option<ReasonSource>,
    /// What the employer hopes the trajectory achieves.
    pub hoped_goals: Option<String>,
    pub preferred_format: Option<SessionFormat>,
    /// ISO 639-1 code.
    pub preferred_language: Option<String>,
    pub desired_start: Option<NaiveDate>,
    #[serde(default)]
    pub assessment_wanted: bool,
    pub purchase_order: Option<String>,
    /// When the coachee would rather be called: given when they signed up themselves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_call_time: Option<crate::domain::invitation::CallTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Commissioned by the employer; no coach yet.
    Submitted,
    /// A coach is assigned.
    Accepted,
    /// An intake session is booked.
    IntakeScheduled,
    /// The intake decided to start: the trajectory runs.
    Active,
    /// The intake decided not to start.
    Declined,
    /// The intake recommended another solution than coaching.
    AlternativeProposed,
    /// The trajectory is finished.
    Completed,
    /// Follow-up sessions months after the end.
    FollowingUp,
    /// Done, follow-ups included.
    Closed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 10] = [
        OrderStatus::Submitted,
        OrderStatus::Accepted,
        OrderStatus::IntakeScheduled,
        OrderStatus::Active,
        OrderStatus::Declined,
        OrderStatus::AlternativeProposed,
        OrderStatus::Completed,
        OrderStatus::FollowingUp,
        OrderStatus::Closed,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Submitted => "submitted",
            OrderStatus::Accepted => "accepted",
            OrderStatus::IntakeScheduled => "intake_scheduled",
            OrderStatus::Active => "active",
            OrderStatus::Declined => "declined",
            OrderStatus::AlternativeProposed => "alternative_proposed",
            OrderStatus::Completed => "completed",
            OrderStatus::FollowingUp => "following_up",
            OrderStatus::Closed => "closed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Whether the order takes up its coach's time (counts toward their load in the match).
    pub fn occupies_coach(self) -> bool {
        matches!(
            self,
            OrderStatus::Accepted | OrderStatus::IntakeScheduled | OrderStatus::Active
        )
    }

    /// Whether the order is in its coach's hands and a planner can hand it to another (the
    /// states `Assign` allows, once assigned): a coach who leaves is first unassigned from these,
    /// by a planner's decision, never silently (000: the coaching relationship rests on trust).
    pub fn awaits_its_coach(self) -> bool {
        matches!(
            self,
            OrderStatus::Accepted
                | OrderStatus::IntakeScheduled
                | OrderStatus::Active
                | OrderStatus::FollowingUp
        )
    }

    /// Whether first contact with the coachee is still pending work (004).
    pub fn awaits_contact(self) -> bool {
        matches!(
            self,
            OrderStatus::Submitted | OrderStatus::Accepted | OrderStatus::IntakeScheduled
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrderStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown order status `{s}`"))
    }
}

/// What the intake decided (002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntakeDecision {
    Start,
    Decline,
    Alternative,
}

impl IntakeDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeDecision::Start => "start",
            IntakeDecision::Decline => "decline",
            IntakeDecision::Alternative => "alternative",
        }
    }
}

impl FromStr for IntakeDecision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            IntakeDecision::Start,
            IntakeDecision::Decline,
            IntakeDecision::Alternative,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
        .ok_or_else(|| format!("unknown intake decision `{s}`"))
    }
}

/// How first contact with the coachee was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactChannel {
    Phone,
    Email,
    Video,
    InPerson,
}

impl ContactChannel {
    pub const ALL: [ContactChannel; 4] = [
        ContactChannel::Phone,
        ContactChannel::Email,
        ContactChannel::Video,
        ContactChannel::InPerson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ContactChannel::Phone => "phone",
            ContactChannel::Email => "email",
            ContactChannel::Video => "video",
            ContactChannel::InPerson => "in_person",
        }
    }
}

impl FromStr for ContactChannel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContactChannel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown contact channel `{s}`"))
    }
}

/// The facts about an order that decide what may be done to it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderState {
    pub status: OrderStatus,
    /// Whether first contact with the coachee is on record (004).
    pub contacted: bool,
}

/// Everything the API can do to an order. (Booking the intake, starting follow-ups and closing
/// arrive with the endpoints that do them.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    /// The employer changes the order's details.
    Edit,
    /// The provider assigns (or reassigns) a coach.
    Assign,
    /// The provider records that the coachee was reached (004).
    RecordContact,
    /// The coach drafts the intake.
    DraftIntake,
    /// The coach records the intake's decision.
    CompleteIntake,
    /// The coach keeps the plan up to date.
    UpdatePlan,
    /// More sessions or a later end, substantiated (002).
    Extend,
    /// The trajectory is finished, its pitfalls reviewed with the coachee (000).
    Complete,
    Cancel,
    /// A scoped link token for the coachee.
    IssueCoacheeLink,
    /// The coachee gives or withdraws a consent.
    RecordConsent,
    /// The coach or the planner books a session (which kinds, `domain::session`).
    BookSession,
    /// The coach keeps the closing review of the client's qualities (000).
    ReviewClosing,
    /// The coach or the planner moves or skips a follow-up, or records its outcome (002).
    FollowUp,
}

impl OrderAction {
    pub const ALL: [OrderAction; 14] = [
        OrderAction::Edit,
        OrderAction::Assign,
        OrderAction::RecordContact,
        OrderAction::DraftIntake,
        OrderAction::CompleteIntake,
        OrderAction::UpdatePlan,
        OrderAction::Extend,
        OrderAction::Complete,
        OrderAction::Cancel,
        OrderAction::IssueCoacheeLink,
        OrderAction::RecordConsent,
        OrderAction::BookSession,
        OrderAction::ReviewClosing,
        OrderAction::FollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderAction::Edit => "edit",
            OrderAction::Assign => "assign",
            OrderAction::RecordContact => "record_contact",
            OrderAction::DraftIntake => "draft_intake",
            OrderAction::CompleteIntake => "complete_intake",
            OrderAction::UpdatePlan => "update_plan",
            OrderAction::Extend => "extend",
            OrderAction::Complete => "complete",
            OrderAction::Cancel => "cancel",
            OrderAction::IssueCoacheeLink => "issue_coachee_link",
            OrderAction::RecordConsent => "record_consent",
            OrderAction::BookSession => "book_session",
            OrderAction::ReviewClosing => "review_closing",
            OrderAction::FollowUp => "follow_up",
        }
    }

    /// The roles that may take this action at all (`domain::permission`, where every
    /// permission is); the state decides whether it is allowed now.
    pub fn roles(self) -> &'static [Role] {
        crate::domain::permission::order_action(self)
    }

    /// Whether this action is allowed in `state`.
    pub fn allowed_in(self, state: OrderState) -> bool {
        use OrderAction::*;
        use OrderStatus::*;
        let status = state.status;
        match self {
            // "while nothing has started": before an intake is booked or held.
            Edit => matches!(status, Submitted | Accepted),
            // Another coach can take over while the follow-ups are still to come (002).
            Assign => matches!(
                status,
                Submitted | Accepted | IntakeScheduled | Active | FollowingUp
            ),
            // First contact is recorded once (004).
            RecordContact => status.awaits_contact() && !state.contacted,
            DraftIntake | CompleteIntake => matches!(status, Accepted | IntakeScheduled),
            UpdatePlan => matches!(status, Accepted | IntakeScheduled | Active),
            Extend | Complete => status == Active,
            Cancel => matches!(
                status,
                Submitted | Accepted | IntakeScheduled | Active | Declined | AlternativeProposed
            ),
            // Once the trajectory is over, nothing about the coachee's part changes.
            IssueCoacheeLink | RecordConsent => !matches!(status, Closed | Cancelled),
            // The intake before the start decision, sessions while it runs, follow-ups after.
            BookSession => matches!(
                status,
                Accepted | IntakeScheduled | Active | Completed | FollowingUp
            ),
            // Before completing: the review is what completing asks for (000).
            ReviewClosing => status == Active,
            FollowUp => status == FollowingUp,
        }
    }

    /// The state the order is in after this action (`decision` for completing an intake).
    pub fn target(self, from: OrderStatus, decision: Option<IntakeDecision>) -> OrderStatus {
        use OrderAction::*;
        match self {
            Assign if from == OrderStatus::Submitted => OrderStatus::Accepted,
            CompleteIntake => match decision {
                Some(IntakeDecision::Start) => OrderStatus::Active,
                Some(IntakeDecision::Decline) => OrderStatus::Declined,
                Some(IntakeDecision::Alternative) => OrderStatus::AlternativeProposed,
                None => from,
            },
            Complete => OrderStatus::Completed,
            Cancel => OrderStatus::Cancelled,
            _ => from,
        }
    }
}

/// The status of an order that went to another coach: its coming intake with the previous coach
/// was called off (it was in their calendar), so unless an intake still stands (one that had
/// started stays for its attendance), the order waits for one with the new coach.
pub fn after_reassignment(status: OrderStatus, intake_stands: bool) -> OrderStatus {
    match status {
        OrderStatus::IntakeScheduled if !intake_stands => OrderStatus::Accepted,
        status => status,
    }
}

/// Why an action cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The caller's role never takes this action.
    Role,
    /// Not in this state; these actions are allowed now.
    State { allowed: Vec<OrderAction> },
}

/// The actions allowed in a state, for any role.
pub fn allowed_actions(state: OrderState) -> Vec<OrderAction> {
    OrderAction::ALL
        .into_iter()
        .filter(|a| a.allowed_in(state))
        .collect()
}

/// The actions `role` may take in `state`: what an order offers its reader.
pub fn offered_actions(state: OrderState, role: Role) -> Vec<OrderAction> {
    allowed_actions(state)
        .into_iter()
        .filter(|a| a.roles().contains(&role))
        .collect()
}

/// Decides whether `role` may take `action` on an order in `state`, and where it leads.
pub fn decide(
    state: OrderState,
    action: OrderAction,
    role: Role,
    decision: Option<IntakeDecision>,
) -> Result<OrderStatus, Refusal> {
    if !action.roles().contains(&role) {
        return Err(Refusal::Role);
    }
    if !action.allowed_in(state) {
        return Err(Refusal::State {
            allowed: allowed_actions(state),
        });
    }
    Ok(action.target(state.status, decision))
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderAction as A;
    use OrderStatus as S;

    fn state(status: OrderStatus) -> OrderState {
        OrderState {
            status,
            contacted: false,
        }
    }

    #[test]
    fn another_coach_means_another_intake() {
        assert_eq!(after_reassignment(S::IntakeScheduled, false), S::Accepted);
        assert_eq!(
            after_reassignment(S::IntakeScheduled, true),
            S::IntakeScheduled,
            "a started intake stays for its attendance"
        );
        for status in [S::Accepted, S::Active] {
            assert_eq!(after_reassignment(status, false), status);
        }
    }

    #[test]
    fn the_main_path_runs_from_submitted_to_completed() {
        let mut status = S::Submitted;
        for (action, role, decision, expected) in [
            (A::Assign, Role::ProviderAdmin, None, S::Accepted),
            (
                A::CompleteIntake,
                Role::Coach,
                Some(IntakeDecision::Start),
                S::Active,
            ),
            (A::Extend, Role::Coach, None, S::Active),
            (A::Complete, Role::Coach, None, S::Completed),
        ] {
            status = decide(state(status), action, role, decision).unwrap();
            assert_eq!(status, expected, "{action:?}");
        }
    }

    #[test]
    fn an_intake_can_complete_straight_from_accepted_004() {
        for (decision, expected) in [
            (IntakeDecision::Start, S::Active),
            (IntakeDecision::Decline, S::Declined),
            (IntakeDecision::Alternative, S::AlternativeProposed),
        ] {
            assert_eq!(
                decide(
                    state(S::Accepted),
                    A::CompleteIntake,
                    Role::Coach,
                    Some(decision)
                ),
                Ok(expected)
            );
        }
    }

    #[test]
    fn cancel_is_allowed_before_completed_only() {
        for status in S::ALL {
            let before_completed = !matches!(
                status,
                S::Completed | S::FollowingUp | S::Closed | S::Cancelled
            );
            assert_eq!(
                A::Cancel.allowed_in(state(status)),
                before_completed,
                "{status}"
            );
        }
    }

    #[test]
    fn a_refusal_lists_the_actions_allowed_now() {
        let refusal = decide(state(S::Completed), A::Cancel, Role::Employer, None).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::State {
                // Follow-up sessions are booked after the end (002).
                allowed: vec![A::IssueCoacheeLink, A::RecordConsent, A::BookSession]
            }
        );
    }

    #[test]
    fn first_contact_is_recorded_once_004() {
        let contacted = OrderState {
            status: S::Accepted,
            contacted: true,
        };
        assert!(A::RecordContact.allowed_in(state(S::Accepted)));
        assert!(!A::RecordContact.allowed_in(contacted));
        assert!(!offered_actions(contacted, Role::Coach).contains(&A::RecordContact));
        assert!(matches!(
            decide(contacted, A::RecordContact, Role::Coach, None),
            Err(Refusal::State { allowed }) if !allowed.contains(&A::RecordContact)
        ));
    }

    #[test]
    fn completing_and_extending_are_the_coachs_acts_000_002() {
        for action in [A::Complete, A::Extend] {
            assert_eq!(action.roles(), [Role::Coach]);
            assert_eq!(
                decide(state(S::Active), action, Role::ProviderAdmin, None),
                Err(Refusal::Role)
            );
        }
    }

    #[test]
    fn consents_stop_changing_once_the_trajectory_is_over() {
        for status in S::ALL {
            let over = matches!(status, S::Closed | S::Cancelled);
            assert_eq!(
                A::RecordConsent.allowed_in(state(status)),
                !over,
                "{status}"
            );
        }
    }

    #[test]
    fn roles_outside_an_action_are_refused_whatever_the_state() {
        assert_eq!(
            decide(state(S::Submitted), A::Assign, Role::Employer, None),
            Err(Refusal::Role)
        );
        assert_eq!(
            decide(
                state(S::Accepted),
                A::CompleteIntake,
                Role::ProviderAdmin,
                None
            ),
            Err(Refusal::Role)
        );
    }

    #[test]
    fn every_state_and_action_has_a_verdict() {
        // The table the API suite walks: every pair is either allowed or lists alternatives.
        for status in S::ALL {
            for contacted in [false, true] {
                let state = OrderState { status, contacted };
                for action in A::ALL {
                    let role = action.roles()[0];
                    match decide(state, action, role, Some(IntakeDecision::Start)) {
                        Ok(_) => assert!(action.allowed_in(state)),
                        Err(Refusal::State { allowed }) => {
                            assert!(!allowed.contains(&action));
                            assert_eq!(allowed, allowed_actions(state));
                        }
                        Err(Refusal::Role) => unreachable!(),
                    }
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for status in S::ALL {
            assert_eq!(status.as_str().parse::<S>().unwrap(), status);
        }
        for channel in ContactChannel::ALL {
            assert_eq!(channel.as_str().parse::<ContactChannel>(), Ok(channel));
        }
    }
}
