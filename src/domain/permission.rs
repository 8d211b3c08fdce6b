//! Who may do what, in one place.
//!
//! - Each route admits a [`Group`] of roles (the handler's `Caller<Group>` extractor refuses the
//!   others with a 403 before anything is read).
//! - Each use case that a route admits for several purposes, or that the worker runs too, asks
//!   for an [`Act`] again (`service::access::require`), so the rule holds whoever calls it.
//! - Each action on an order has its roles here ([`order_action`]); the order's state decides
//!   whether it is allowed now (`domain::order::decide`).
//!
//! What a caller may see of what it may reach (its own organisation's, a coach's own orders, the
//! coachee's own order) is scoping, not permission: the use cases' queries do that.

use crate::domain::order::OrderAction;
use crate::domain::principal::Role;

/// The roles a route admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Anyone with an organisation account: HR, coaches, planners.
    Staff,
    /// The provider's planners.
    ProviderAdmins,
    /// HR users and HR systems.
    Employers,
    /// The provider's people: planners and coaches.
    ProviderStaff,
    /// Coaches.
    Coaches,
    /// The parties to the order's contract: the employer and the provider's planners.
    ContractParties,
    /// Who manage their organisation's integrations (webhooks, the events feed): an employer's
    /// HR users and systems, the provider's planners.
    Subscribers,
    /// Who manage their organisation's logins and API clients, and read its audit trail: an
    /// employer's HR users and systems, the provider's planners.
    AccountManagers,
    /// Who get a coachee's data export (GDPR art. 15 and 20): the provider's planners, and the
    /// coachee. The employer gets none (DOMAIN.md "Who may see what").
    Exporters,
    /// The coachee, with a link token.
    Coachees,
}

impl Group {
    pub const fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Group::Staff => &[Employer, Coach, ProviderAdmin],
            Group::ProviderAdmins => &[ProviderAdmin],
            Group::Employers => &[Employer],
            Group::ProviderStaff => &[ProviderAdmin, Coach],
            Group::Coaches => &[Coach],
            Group::ContractParties | Group::Subscribers | Group::AccountManagers => {
                &[Employer, ProviderAdmin]
            }
            Group::Exporters => &[ProviderAdmin, Coachee],
            Group::Coachees => &[Coachee],
        }
    }
}

/// What a use case asks of its caller, whichever route (or the worker) calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// See the provider's jobs and retry failed ones.
    SeeJobs,
    /// Set when an employer's orders are followed up (002).
    SetFollowUpPolicy,
    /// Cancel or reschedule a session (the coach of the session, or a planner; the coachee
    /// cancels through their own route).
    ChangeSession,
    /// Read the provider's settings.
    ReadProviderSettings,
    /// Change the provider's settings.
    ChangeProviderSettings,
    /// Erase an order's coachee data: a planner, or the service itself after the retention.
    EraseCoacheeData,
    /// Read the organisation's audit trail.
    ReadAuditTrail,
    /// An action on an order.
    Order(OrderAction),
}

impl Act {
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Act::SeeJobs | Act::ChangeProviderSettings => &[ProviderAdmin],
            Act::SetFollowUpPolicy => &[Employer],
            Act::ChangeSession => &[Coach, ProviderAdmin],
            Act::ReadProviderSettings => Group::ProviderStaff.roles(),
            Act::EraseCoacheeData => &[ProviderAdmin, System],
            Act::ReadAuditTrail => Group::AccountManagers.roles(),
            Act::Order(action) => order_action(action),
        }
    }

    pub fn allows(self, role: Role) -> bool {
        self.roles().contains(&role)
    }

    /// Why a caller of another role is refused (a 403's detail).
    pub fn refusal(self) -> &'static str {
        match self {
            Act::SeeJobs => "the provider's planners see its jobs",
            Act::SetFollowUpPolicy => "an employer sets when its orders are followed up",
            Act::ChangeSession => {
                "the coach or the provider's planners cancel and reschedule sessions"
            }
            Act::ReadProviderSettings => "a provider's settings are its staff's",
            Act::ChangeProviderSettings => "the provider's planners change its settings",
            Act::EraseCoacheeData => "erasure is the provider's planners' to do",
            Act::ReadAuditTrail => {
                "the audit trail is for the provider's planners and the employer's HR"
            }
            Act::Order(_) => "this role does not take this action on an order",
        }
    }
}

/// The roles that may take an action on an order at all (the state decides whether it is
/// allowed now). A coach acts only on orders assigned to them, which the use case checks.
pub fn order_action(action: OrderAction) -> &'static [Role] {
    use OrderAction::*;
    match action {
        Edit => &[Role::Employer],
        Assign => &[Role::ProviderAdmin],
        RecordContact => &[Role::ProviderAdmin, Role::Coach],
        DraftIntake | CompleteIntake | UpdatePlan => &[Role::Coach],
        // The coach substantiates an extension (002) and reviews the pitfalls with the
        // coachee before completing (000): both are the coach's professional acts.
        Extend | Complete => &[Role::Coach],
        Cancel => &[Role::Employer, Role::ProviderAdmin],
        // Only the coach: whoever holds the link speaks as the coachee, so the employer never
        // does (DOMAIN.md: consent is the coachee's own).
        IssueCoacheeLink => &[Role::Coach],
        RecordConsent => &[Role::Coachee],
        // The service itself books the follow-ups it schedules (which kinds each role
        // books: `domain::session_change::may_book`).
        BookSession => &[Role::Coach, Role::ProviderAdmin, Role::System],
        ReviewClosing => &[Role::Coach],
        // The service itself books follow-ups and flags those it cannot book.
        FollowUp => &[Role::Coach, Role::ProviderAdmin, Role::System],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_employer_never_reaches_coaching_content_or_a_coachees_export() {
        // DOMAIN.md "Who may see what": the employer commissioned the work, not the coaching.
        for action in [
            OrderAction::DraftIntake,
            OrderAction::CompleteIntake,
            OrderAction::UpdatePlan,
            OrderAction::ReviewClosing,
            OrderAction::RecordConsent,
            OrderAction::IssueCoacheeLink,
        ] {
            assert!(!Act::Order(action).allows(Role::Employer), "{action:?}");
        }
        assert!(!Group::Exporters.roles().contains(&Role::Employer));
        assert!(!Act::EraseCoacheeData.allows(Role::Employer));
    }

    #[test]
    fn consent_is_the_coachees_own() {
        assert_eq!(order_action(OrderAction::RecordConsent), [Role::Coachee]);
        assert!(!Group::Staff.roles().contains(&Role::Coachee));
    }

    #[test]
    fn the_service_acts_only_where_it_schedules() {
        let acts = OrderAction::ALL.into_iter().map(Act::Order).chain([
            Act::SeeJobs,
            Act::SetFollowUpPolicy,
            Act::ChangeSession,
            Act::ReadProviderSettings,
            Act::ChangeProviderSettings,
            Act::EraseCoacheeData,
            Act::ReadAuditTrail,
        ]);
        let by_the_service: Vec<Act> = acts.filter(|act| act.allows(Role::System)).collect();
        assert_eq!(
            by_the_service,
            [
                Act::Order(OrderAction::BookSession),
                Act::Order(OrderAction::FollowUp),
                Act::EraseCoacheeData
            ]
        );
    }
}
