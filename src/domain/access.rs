//! Whether a token still holds: what it claims against what is stored of its subject now.
//!
//! A signature proves only that Trajectum (or whoever holds the signing key) issued the token.
//! Every request also asks the database whether the subject exists, is still enabled, belongs to
//! the organisation and has the role the token names, and whether the token or its login session
//! was revoked. A coach whose profile is deactivated has left the provider: their login no longer
//! works either, while the orders assigned to them wait for a planner's decision (000: the
//! coaching relationship rests on trust; it is not handed on silently).

use chrono::{DateTime, Utc};

use crate::domain::principal::{Principal, Role, SubjectType};

/// How long an API client's previous secret keeps working after a rotation unless the rotation
/// says otherwise: a day for the HR system to switch over without an outage. It is also the
/// longest overlap a rotation may ask for.
pub const CLIENT_SECRET_OVERLAP_HOURS: u32 = 24;

/// The overlap a rotation asks for (`overlap_hours`): 0 (a secret that leaked stops working at
/// once) up to [`CLIENT_SECRET_OVERLAP_HOURS`]; none asked, the whole day.
pub fn secret_overlap(hours: Option<u32>) -> Result<u32, crate::domain::FieldError> {
    match hours {
        None => Ok(CLIENT_SECRET_OVERLAP_HOURS),
        Some(hours) if hours <= CLIENT_SECRET_OVERLAP_HOURS => Ok(hours),
        Some(_) => Err(crate::domain::FieldError::new(
            "overlap_hours",
            format!("must be 0 to {CLIENT_SECRET_OVERLAP_HOURS}"),
        )),
    }
}

/// What the database says now of a token's subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// A person's login; `coach_active` for a coach's login (their profile's `active`).
    User {
        organisation_id: String,
        role: Role,
        active: bool,
        coach_active: Option<bool>,
        /// The token's login session (its refresh-token family) was revoked or ended.
        session_ended: bool,
    },
    /// An HR system's (or planning system's) API client.
    Client {
        organisation_id: String,
        role: Role,
        active: bool,
        /// The token was issued before the client was last disabled: enabling it again does
        /// not bring such tokens back.
        issued_before_disabling: bool,
    },
    /// A coachee link: the employer and order it was issued for.
    Link {
        employer_id: String,
        order_id: String,
        live: bool,
    },
    /// No such user, client or link.
    Unknown,
}

/// Why a token no longer holds (the 401's detail says which, and nothing more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    UnknownSubject,
    Disabled,
    NotTheClaimedOrganisation,
    NotTheClaimedRole,
    SessionEnded,
    TokenRevoked,
    LinkEnded,
}

impl Lapse {
    pub fn reason(self) -> &'static str {
        match self {
            Lapse::UnknownSubject => "its subject does not exist",
            Lapse::Disabled => "its user or client is disabled",
            Lapse::NotTheClaimedOrganisation => "its subject is not of the organisation it names",
            Lapse::NotTheClaimedRole => "its subject does not have the role it names",
            Lapse::SessionEnded => "its login session was revoked",
            Lapse::TokenRevoked => "it was revoked",
            Lapse::LinkEnded => "the coachee link was revoked, replaced or has expired",
        }
    }
}

/// Whether `principal`'s token holds, given its subject's `standing` and whether the token
/// itself was revoked.
pub fn check(principal: &Principal, standing: &Standing, token_revoked: bool) -> Result<(), Lapse> {
    if token_revoked {
        return Err(Lapse::TokenRevoked);
    }
    let (organisation_id, role) = match (principal.subject_type, standing) {
        (
            SubjectType::User,
            Standing::User {
                organisation_id,
                role,
                active,
                coach_active,
                session_ended,
            },
        ) => {
            if !may_sign_in(*active, *coach_active) {
                return Err(Lapse::Disabled);
            }
            if *session_ended {
                return Err(Lapse::SessionEnded);
            }
            (organisation_id, *role)
        }
        (
            SubjectType::Client,
            Standing::Client {
                organisation_id,
                role,
                active,
                issued_before_disabling,
            },
        ) => {
            if !active {
                return Err(Lapse::Disabled);
            }
            if *issued_before_disabling {
                return Err(Lapse::TokenRevoked);
            }
            (organisation_id, *role)
        }
        (
            SubjectType::Link,
            Standing::Link {
                employer_id,
                order_id,
                live,
            },
        ) => {
            if !live || principal.order_id.as_deref() != Some(order_id.as_str()) {
                return Err(Lapse::LinkEnded);
            }
            (employer_id, Role::Coachee)
        }
        _ => return Err(Lapse::UnknownSubject),
    };
    if *organisation_id != principal.organisation_id {
        return Err(Lapse::NotTheClaimedOrganisation);
    }
    if role != principal.role {
        return Err(Lapse::NotTheClaimedRole);
    }
    Ok(())
}

/// Whether a person may sign in (and their tokens work): their login is enabled and, for a
/// coach, so is their coach profile.
pub fn may_sign_in(login_active: bool, coach_active: Option<bool>) -> bool {
    login_active && coach_active.unwrap_or(true)
}

/// The throttle of failed sign-ins, per account and per API client: after `max_failures`
/// failures within `window` of the first, the next attempt is refused until the window has
/// passed, without checking its credentials. Only failures count: a burst of correct sign-ins
/// is never refused, and a success clears the count.
#[derive(Debug, Clone, Copy)]
pub struct LoginThrottle {
    pub max_failures: u32,
    pub window: chrono::Duration,
}

impl LoginThrottle {
    pub fn new(max_failures: u32, window: std::time::Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window: chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// Failures that began at or before this instant no longer count at `now`.
    pub fn counted_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(self.window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// `Some(seconds to wait)` when `failures` counted since `first` lock the key out at `now`.
    pub fn locked_for(
        &self,
        failures: u32,
        first: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<u64> {
        if failures < self.max_failures || now - first >= self.window {
            return None;
        }
        Some(((first + self.window) - now).num_seconds().max(1) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_overlaps_a_day_or_less_and_none_for_a_leak() {
        assert_eq!(secret_overlap(None), Ok(24));
        assert_eq!(secret_overlap(Some(0)), Ok(0));
        assert_eq!(secret_overlap(Some(24)), Ok(24));
        assert_eq!(
            secret_overlap(Some(25)).unwrap_err().pointer,
            "overlap_hours"
        );
    }

    fn principal(subject_type: SubjectType, role: Role, org: &str) -> Principal {
        Principal {
            subject: "s".into(),
            subject_type,
            role,
            organisation_id: org.into(),
            order_id: None,
        }
    }

    fn coach_login(active: bool, coach_active: bool, session_ended: bool) -> Standing {
        Standing::User {
            organisation_id: "provider".into(),
            role: Role::Coach,
            active,
            coach_active: Some(coach_active),
            session_ended,
        }
    }

    #[test]
    fn a_coach_whose_profile_is_deactivated_is_refused() {
        let coach = principal(SubjectType::User, Role::Coach, "provider");
        assert_eq!(
            check(&coach, &coach_login(true, true, false), false),
            Ok(())
        );
        assert_eq!(
            check(&coach, &coach_login(true, false, false), false),
            Err(Lapse::Disabled)
        );
        assert_eq!(
            check(&coach, &coach_login(false, true, false), false),
            Err(Lapse::Disabled)
        );
        assert_eq!(
            check(&coach, &coach_login(true, true, true), false),
            Err(Lapse::SessionEnded)
        );
    }

    #[test]
    fn a_forged_organisation_or_role_is_refused() {
        let client = Standing::Client {
            organisation_id: "acme".into(),
            role: Role::Employer,
            active: true,
            issued_before_disabling: false,
        };
        let honest = principal(SubjectType::Client, Role::Employer, "acme");
        assert_eq!(check(&honest, &client, false), Ok(()));
        let other_org = principal(SubjectType::Client, Role::Employer, "globex");
        assert_eq!(
            check(&other_org, &client, false),
            Err(Lapse::NotTheClaimedOrganisation)
        );
        let other_role = principal(SubjectType::Client, Role::ProviderAdmin, "acme");
        assert_eq!(
            check(&other_role, &client, false),
            Err(Lapse::NotTheClaimedRole)
        );
        // A client's id named as a user's is no subject at all.
        let as_user = principal(SubjectType::User, Role::Employer, "acme");
        assert_eq!(check(&as_user, &client, false), Err(Lapse::UnknownSubject));
        assert_eq!(
            check(&honest, &Standing::Unknown, false),
            Err(Lapse::UnknownSubject)
        );
    }

    #[test]
    fn a_revoked_token_or_a_disabled_client_is_refused() {
        let honest = principal(SubjectType::Client, Role::Employer, "acme");
        let client = |active, issued_before_disabling| Standing::Client {
            organisation_id: "acme".into(),
            role: Role::Employer,
            active,
            issued_before_disabling,
        };
        assert_eq!(
            check(&honest, &client(false, false), false),
            Err(Lapse::Disabled)
        );
        assert_eq!(
            check(&honest, &client(true, false), true),
            Err(Lapse::TokenRevoked)
        );
        // Enabled again: a token from before the disabling stays refused.
        assert_eq!(
            check(&honest, &client(true, true), false),
            Err(Lapse::TokenRevoked)
        );
        assert_eq!(check(&honest, &client(true, false), false), Ok(()));
    }

    #[test]
    fn a_link_holds_for_its_own_order_while_live() {
        let mut coachee = principal(SubjectType::Link, Role::Coachee, "acme");
        coachee.order_id = Some("o1".into());
        let link = |order: &str, live| Standing::Link {
            employer_id: "acme".into(),
            order_id: order.into(),
            live,
        };
        assert_eq!(check(&coachee, &link("o1", true), false), Ok(()));
        assert_eq!(
            check(&coachee, &link("o1", false), false),
            Err(Lapse::LinkEnded)
        );
        assert_eq!(
            check(&coachee, &link("o2", true), false),
            Err(Lapse::LinkEnded)
        );
    }

    #[test]
    fn only_an_enabled_login_signs_in() {
        assert!(may_sign_in(true, None));
        assert!(may_sign_in(true, Some(true)));
        assert!(!may_sign_in(true, Some(false)));
        assert!(!may_sign_in(false, None));
    }

    #[test]
    fn the_throttle_locks_after_the_maximum_failures_until_the_window_passes() {
        use chrono::TimeZone;
        let throttle = LoginThrottle::new(3, std::time::Duration::from_secs(60));
        let first = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let later = first + chrono::Duration::seconds(10);
        assert_eq!(throttle.locked_for(2, first, later), None);
        assert_eq!(throttle.locked_for(3, first, later), Some(50));
        assert_eq!(
            throttle.locked_for(3, first, first + chrono::Duration::seconds(60)),
            None
        );
        assert_eq!(
            throttle.counted_after(later),
            later - chrono::Duration::seconds(60)
        );
    }
}
