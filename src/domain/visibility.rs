//! Who sees what of an order (DOMAIN.md "Who may see what"), decided here and nowhere else.
//!
//! What the coachee tells the coach belongs to the coaching relationship, not to the employer.
//! The employer sees what it needs to manage the order: status, coach, dates, contact, the
//! intake decision, and what the coachee agreed to share. A coach sees only the orders assigned
//! to them; the provider's planners see all the provider's orders but not the coach's private
//! notes. Anyone else does not see the order at all (404).

use crate::domain::principal::{Principal, Role};

/// The relation of a caller to one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The employer that commissioned the order.
    Employer,
    /// The coach assigned to the order.
    Coach,
    /// A planner of the provider the order is addressed to.
    ProviderAdmin,
    /// The coachee, with a link token for this order.
    Coachee,
}

/// The facts about an order that decide its audience.
#[derive(Debug, Clone, Copy)]
pub struct OrderParties<'a> {
    pub order_id: &'a str,
    pub employer_id: &'a str,
    pub provider_id: &'a str,
    /// The login of the assigned coach, if any.
    pub coach_user_id: Option<&'a str>,
    /// False for an order from a confidential invitation campaign whose coachee does not share
    /// their participation (004: stigma keeps people away): the employer does not see it.
    pub employer_sees: bool,
}

/// The caller's audience for an order, or `None` when the order is not theirs to see.
pub fn audience(caller: &Principal, order: OrderParties<'_>) -> Option<Audience> {
    match caller.role {
        Role::Employer if caller.organisation_id == order.employer_id && order.employer_sees => {
            Some(Audience::Employer)
        }
        Role::ProviderAdmin if caller.organisation_id == order.provider_id => {
            Some(Audience::ProviderAdmin)
        }
        Role::Coach
            if caller.organisation_id == order.provider_id
                && order.coach_user_id == Some(caller.subject.as_str()) =>
        {
            Some(Audience::Coach)
        }
        Role::Coachee if caller.order_id.as_deref() == Some(order.order_id) => {
            Some(Audience::Coachee)
        }
        // The service itself, acting for the provider on a schedule (follow-ups, the
        // first-session check), sees what the provider's planners see, nothing more.
        Role::System if caller.organisation_id == order.provider_id => {
            Some(Audience::ProviderAdmin)
        }
        _ => None,
    }
}

impl Audience {
    /// The intake record (trust, reason check, realism, decision details).
    pub fn sees_intake(self) -> bool {
        matches!(self, Audience::Coach | Audience::ProviderAdmin)
    }

    /// The coach's private note.
    pub fn sees_private_note(self) -> bool {
        self == Audience::Coach
    }

    /// Development points, goals and tasks. The employer sees the agreed goals only through
    /// [`Audience::sees_shared_summary`].
    pub fn sees_plan(self) -> bool {
        matches!(
            self,
            Audience::Coach | Audience::ProviderAdmin | Audience::Coachee
        )
    }

    /// The agreed goals and a recommended alternative: for the employer only when the coachee
    /// consented to share a summary.
    pub fn sees_shared_summary(self, coachee_consented: bool) -> bool {
        self != Audience::Employer || coachee_consented
    }

    /// The details of timeline events (consent kinds, plan counts, extension figures). The
    /// employer sees each step's type, statuses, role and time only.
    pub fn sees_event_details(self) -> bool {
        matches!(self, Audience::Coach | Audience::ProviderAdmin)
    }

    /// Where and how a session takes place (location, video link) and the coachee's rating of
    /// it. The employer sees a session's dates, kind, format, attendance and on whose side it
    /// was called off; why it was is for the coach and the planners (`sees_event_details`).
    pub fn sees_session_details(self) -> bool {
        self != Audience::Employer
    }

    /// Purchase order and the employer's own reference: commercial details.
    pub fn sees_commercial(self) -> bool {
        matches!(self, Audience::Employer | Audience::ProviderAdmin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::principal::SubjectType;

    fn caller(role: Role, org: &str, subject: &str, order: Option<&str>) -> Principal {
        Principal {
            subject: subject.into(),
            subject_type: SubjectType::User,
            role,
            organisation_id: org.into(),
            order_id: order.map(String::from),
        }
    }

    const ORDER: OrderParties<'static> = OrderParties {
        order_id: "o1",
        employer_id: "emp",
        provider_id: "prov",
        coach_user_id: Some("anna"),
        employer_sees: true,
    };

    #[test]
    fn each_party_sees_the_order_as_its_own_audience() {
        assert_eq!(
            audience(&caller(Role::Employer, "emp", "hr", None), ORDER),
            Some(Audience::Employer)
        );
        assert_eq!(
            audience(&caller(Role::ProviderAdmin, "prov", "p", None), ORDER),
            Some(Audience::ProviderAdmin)
        );
        assert_eq!(
            audience(&caller(Role::Coach, "prov", "anna", None), ORDER),
            Some(Audience::Coach)
        );
        assert_eq!(
            audience(&caller(Role::Coachee, "emp", "o1", Some("o1")), ORDER),
            Some(Audience::Coachee)
        );
    }

    #[test]
    fn a_confidential_campaigns_order_is_not_the_employers_to_see_004() {
        let hidden = OrderParties {
            employer_sees: false,
            ..ORDER
        };
        let hr = caller(Role::Employer, "emp", "hr", None);
        assert_eq!(audience(&hr, hidden), None);
        let planner = caller(Role::ProviderAdmin, "prov", "p", None);
        assert_eq!(audience(&planner, hidden), Some(Audience::ProviderAdmin));
        let coachee = caller(Role::Coachee, "emp", "o1", Some("o1"));
        assert_eq!(audience(&coachee, hidden), Some(Audience::Coachee));
    }

    #[test]
    fn the_service_acting_for_the_provider_sees_what_its_planners_see() {
        assert_eq!(
            audience(&Principal::system("prov"), ORDER),
            Some(Audience::ProviderAdmin)
        );
        assert_eq!(audience(&Principal::system("other"), ORDER), None);
        assert_eq!(audience(&Principal::system("emp"), ORDER), None);
    }

    #[test]
    fn others_do_not_see_the_order_at_all() {
        assert_eq!(
            audience(&caller(Role::Employer, "other", "hr", None), ORDER),
            None
        );
        assert_eq!(
            audience(&caller(Role::ProviderAdmin, "other", "p", None), ORDER),
            None
        );
        assert_eq!(
            audience(&caller(Role::Coach, "prov", "bram", None), ORDER),
            None,
            "a coach sees only assigned orders"
        );
        assert_eq!(
            audience(&caller(Role::Coachee, "emp", "o2", Some("o2")), ORDER),
            None
        );
    }

    #[test]
    fn the_employer_never_sees_coaching_content() {
        let employer = Audience::Employer;
        assert!(!employer.sees_intake());
        assert!(!employer.sees_private_note());
        assert!(!employer.sees_plan());
        assert!(!employer.sees_event_details());
        assert!(!employer.sees_shared_summary(false));
        assert!(
            employer.sees_shared_summary(true),
            "unless the coachee shares it"
        );
    }

    #[test]
    fn only_the_coach_sees_the_private_note() {
        assert!(Audience::Coach.sees_private_note());
        assert!(!Audience::ProviderAdmin.sees_private_note());
        assert!(!Audience::Coachee.sees_private_note());
    }
}
