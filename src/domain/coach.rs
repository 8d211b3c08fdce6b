//! Coaches: what a valid profile is, and who sees how much of it.
//!
//! Coaches have specialisms, e.g. people with a technical background (000); the fit between a
//! coach and a question decides the match (001). A coach's contact details and time zone are
//! personal data: the employer sees only the professional profile (name, specialisms, languages)
//! of its contracted provider's active coaches.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::principal::{Principal, Role};
use crate::domain::{input, FieldError};

pub const MAX_SPECIALISMS: usize = 20;
pub const MAX_LANGUAGES: usize = 10;

/// How much of a coach's profile a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoachVisibility {
    /// Everything, including email and time zone.
    Full,
    /// Name, specialisms and languages only.
    Professional,
}

/// Facts about a coach that decide who may see or change it.
#[derive(Debug, Clone, Copy)]
pub struct CoachAccess<'a> {
    pub coach_organisation_id: &'a str,
    pub coach_user_id: Option<&'a str>,
    pub active: bool,
    /// The employer's contracted provider, when the caller is an employer.
    pub callers_provider_id: Option<&'a str>,
}

/// Who sees a coach: the provider's admins and the coach themselves see everything; colleagues
/// see the professional profile; an employer sees the professional profile of its contracted
/// provider's active coaches. Anyone else sees nothing (a 404, so ids cannot be probed).
pub fn visibility(caller: &Principal, coach: CoachAccess<'_>) -> Option<CoachVisibility> {
    let same_provider = caller.organisation_id == coach.coach_organisation_id;
    match caller.role {
        Role::ProviderAdmin if same_provider => Some(CoachVisibility::Full),
        Role::Coach if same_provider && coach.coach_user_id == Some(caller.subject.as_str()) => {
            Some(CoachVisibility::Full)
        }
        Role::Coach if same_provider => Some(CoachVisibility::Professional),
        Role::Employer
            if coach.active && coach.callers_provider_id == Some(coach.coach_organisation_id) =>
        {
            Some(CoachVisibility::Professional)
        }
        _ => None,
    }
}

/// Which fields a caller may change: an admin all of them, the coach their own profile except
/// whether they are active (that is the provider's decision).
pub fn may_edit(caller: &Principal, coach: CoachAccess<'_>, changes_active: bool) -> bool {
    let same_provider = caller.organisation_id == coach.coach_organisation_id;
    match caller.role {
        Role::ProviderAdmin => same_provider,
        Role::Coach => {
            same_provider && coach.coach_user_id == Some(caller.subject.as_str()) && !changes_active
        }
        _ => false,
    }
}

/// A coach profile as the provider's admins add it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCoach {
    #[schema(example = "Anna de Vries")]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "anna@provider.example")]
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[serde(default)]
    #[schema(example = json!(["technical_background", "job_coaching"]))]
    pub specialisms: Vec<String>,
    #[serde(default)]
    #[schema(example = json!(["nl", "en"]))]
    pub languages: Vec<String>,
    #[schema(example = "Europe/Amsterdam")]
    pub time_zone: String,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Changes to a coach; absent fields stay as they are. A coach may change their own profile
/// except `active`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoachChanges {
    pub name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    pub specialisms: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub time_zone: Option<String>,
    pub active: Option<bool>,
}

impl NewCoach {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        CoachChanges {
            name: Some(self.name.clone()),
            email: Some(self.email.clone()),
            specialisms: Some(self.specialisms.clone()),
            languages: Some(self.languages.clone()),
            time_zone: Some(self.time_zone.clone()),
            active: Some(self.active),
        }
        .validate()
    }
}

impl CoachChanges {
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = vec![];
        if let Some(v) = &self.name {
            input::name("/name", v, &mut errors);
        }
        if let Some(v) = &self.email {
            input::email("/email", v, &mut errors);
        }
        if let Some(v) = &self.specialisms {
            input::slugs("/specialisms", v, MAX_SPECIALISMS, &mut errors);
        }
        if let Some(v) = &self.languages {
            input::languages("/languages", v, MAX_LANGUAGES, &mut errors);
        }
        if let Some(v) = &self.time_zone {
            input::time_zone("/time_zone", v, &mut errors);
        }
        input::verdict(errors)
    }
}

/// Whether a coach can take an order of `provider_id`: an active coach of that provider who can
/// sign in. A coach without a login could never run the intake.
pub fn can_take_orders(
    coach_organisation_id: &str,
    active: bool,
    has_login: bool,
    provider_id: &str,
) -> bool {
    coach_organisation_id == provider_id && active && has_login
}

/// How long a login's setup token works: long enough for a coach to find the message.
pub const LOGIN_SETUP_DAYS: i64 = 7;

/// Where a coach stands with signing in. One coach is one person with at most one login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginState {
    /// No login yet.
    None,
    /// A login whose password has not been set yet.
    AwaitingPassword,
    /// A login with a password.
    Active,
}

/// What giving a coach a login does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginGrant {
    /// Create the login, and a setup token for its password.
    Create,
    /// The login exists but its password was never set: a new setup token replaces the old one
    /// (it was lost, or it expired).
    Reissue,
}

/// Whether a coach in `state` can be given a login, and what that does. A coach who signs in
/// already keeps their password: nobody else sets or learns it.
pub fn grant_login(state: LoginState) -> Option<LoginGrant> {
    match state {
        LoginState::None => Some(LoginGrant::Create),
        LoginState::AwaitingPassword => Some(LoginGrant::Reissue),
        LoginState::Active => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::principal::SubjectType;

    fn caller(role: Role, org: &str, subject: &str) -> Principal {
        Principal {
            subject: subject.into(),
            subject_type: SubjectType::User,
            role,
            organisation_id: org.into(),
            order_id: None,
        }
    }

    fn coach<'a>(provider: Option<&'a str>) -> CoachAccess<'a> {
        CoachAccess {
            coach_organisation_id: "prov",
            coach_user_id: Some("coach-user"),
            active: true,
            callers_provider_id: provider,
        }
    }

    #[test]
    fn the_provider_admin_sees_everything_of_its_own_coaches_only() {
        let admin = caller(Role::ProviderAdmin, "prov", "a");
        assert_eq!(visibility(&admin, coach(None)), Some(CoachVisibility::Full));
        let other = caller(Role::ProviderAdmin, "other", "a");
        assert_eq!(visibility(&other, coach(None)), None);
    }

    #[test]
    fn a_coach_sees_their_own_profile_fully_and_colleagues_professionally() {
        let me = caller(Role::Coach, "prov", "coach-user");
        assert_eq!(visibility(&me, coach(None)), Some(CoachVisibility::Full));
        let colleague = caller(Role::Coach, "prov", "someone-else");
        assert_eq!(
            visibility(&colleague, coach(None)),
            Some(CoachVisibility::Professional)
        );
    }

    #[test]
    fn an_employer_sees_only_the_professional_profile_of_its_providers_active_coaches() {
        let employer = caller(Role::Employer, "emp", "hr");
        assert_eq!(
            visibility(&employer, coach(Some("prov"))),
            Some(CoachVisibility::Professional)
        );
        assert_eq!(visibility(&employer, coach(Some("elsewhere"))), None);
        let inactive = CoachAccess {
            active: false,
            ..coach(Some("prov"))
        };
        assert_eq!(visibility(&employer, inactive), None);
    }

    #[test]
    fn a_coach_edits_their_own_profile_but_not_whether_they_are_active() {
        let me = caller(Role::Coach, "prov", "coach-user");
        assert!(may_edit(&me, coach(None), false));
        assert!(!may_edit(&me, coach(None), true));
        let colleague = caller(Role::Coach, "prov", "x");
        assert!(!may_edit(&colleague, coach(None), false));
        let employer = caller(Role::Employer, "prov", "x");
        assert!(!may_edit(&employer, coach(None), false));
    }

    #[test]
    fn profile_fields_are_validated() {
        let good = CoachChanges {
            name: Some("Anna".into()),
            email: Some("coach@example.org".into()),
            specialisms: Some(vec!["technical_background".into()]),
            languages: Some(vec!["nl".into(), "en".into()]),
            time_zone: Some("Europe/Amsterdam".into()),
            active: None,
        };
        assert_eq!(good.validate(), Ok(()));
        let bad = CoachChanges {
            name: None,
            email: Some("not an email".into()),
            specialisms: Some(vec!["Tech Background".into()]),
            languages: Some(vec!["nl".into(), "nl".into()]),
            time_zone: Some("Mars/Olympus".into()),
            active: None,
        };
        let errors = bad.validate().unwrap_err();
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/email", "/specialisms/0", "/languages/1", "/time_zone"]
        );
    }

    #[test]
    fn only_active_coaches_of_the_provider_with_a_login_take_orders() {
        assert!(can_take_orders("prov", true, true, "prov"));
        assert!(!can_take_orders("prov", true, false, "prov"), "no login");
        assert!(!can_take_orders("prov", false, true, "prov"), "inactive");
        assert!(
            !can_take_orders("other", true, true, "prov"),
            "another provider"
        );
    }

    #[test]
    fn a_coach_gets_one_login_and_only_they_set_its_password() {
        assert_eq!(grant_login(LoginState::None), Some(LoginGrant::Create));
        assert_eq!(
            grant_login(LoginState::AwaitingPassword),
            Some(LoginGrant::Reissue)
        );
        assert_eq!(grant_login(LoginState::Active), None);
    }
}
