//! Coaches: what a valid profile is, and who sees how much of it.
//!
//! Coaches have specialisms, e.g. people with a technical background (000); the fit between a
//! coach and a question decides the match (001). A coach's contact details and time zone are
//! personal data: the employer sees only the professional profile (name, specialisms, languages)
//! of its contracted provider's active coaches.

use chrono_tz::Tz;

use crate::domain::principal::{Principal, Role};
use crate::domain::FieldError;

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

pub fn validate_name(pointer: &str, name: &str, errors: &mut Vec<FieldError>) {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new(pointer, "must not be empty"));
    } else if trimmed.chars().count() > 200 {
        errors.push(FieldError::new(pointer, "must be at most 200 characters"));
    }
}

/// A pragmatic email check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn validate_email(pointer: &str, email: &str, errors: &mut Vec<FieldError>) {
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !valid {
        errors.push(FieldError::new(pointer, "is not a valid email address"));
    }
}

pub fn validate_time_zone(pointer: &str, zone: &str, errors: &mut Vec<FieldError>) {
    if zone.parse::<Tz>().is_err() {
        errors.push(FieldError::new(
            pointer,
            "is not an IANA time zone (e.g. Europe/Amsterdam)",
        ));
    }
}

/// Specialisms are lower-case slugs (`technical_background`, `reintegration`), unique.
pub fn validate_specialisms(pointer: &str, values: &[String], errors: &mut Vec<FieldError>) {
    if values.len() > MAX_SPECIALISMS {
        errors.push(FieldError::new(
            pointer,
            format!("must have at most {MAX_SPECIALISMS} entries"),
        ));
    }
    for (i, value) in values.iter().enumerate() {
        let slug = (2..=50).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !slug {
            errors.push(FieldError::new(
                format!("{pointer}/{i}"),
                "must be 2 to 50 characters of a-z, 0-9 and _",
            ));
        } else if values[..i].contains(value) {
            errors.push(FieldError::new(format!("{pointer}/{i}"), "is a duplicate"));
        }
    }
}

/// Languages are ISO 639-1 codes (`nl`, `en`), unique.
pub fn validate_languages(pointer: &str, values: &[String], errors: &mut Vec<FieldError>) {
    if values.len() > MAX_LANGUAGES {
        errors.push(FieldError::new(
            pointer,
            format!("must have at most {MAX_LANGUAGES} entries"),
        ));
    }
    for (i, value) in values.iter().enumerate() {
        if value.len() != 2 || !value.chars().all(|c| c.is_ascii_lowercase()) {
            errors.push(FieldError::new(
                format!("{pointer}/{i}"),
                "must be a two-letter ISO 639-1 code such as nl or en",
            ));
        } else if values[..i].contains(value) {
            errors.push(FieldError::new(format!("{pointer}/{i}"), "is a duplicate"));
        }
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
        let mut errors = vec![];
        validate_time_zone("/time_zone", "Europe/Amsterdam", &mut errors);
        validate_email("/email", "coach@example.org", &mut errors);
        validate_specialisms(
            "/specialisms",
            &["technical_background".into()],
            &mut errors,
        );
        validate_languages("/languages", &["nl".into(), "en".into()], &mut errors);
        assert!(errors.is_empty(), "{errors:?}");

        validate_time_zone("/time_zone", "Mars/Olympus", &mut errors);
        validate_email("/email", "not an email", &mut errors);
        validate_specialisms("/specialisms", &["Tech Background".into()], &mut errors);
        validate_languages("/languages", &["nl".into(), "nl".into()], &mut errors);
        let pointers: Vec<_> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/time_zone", "/email", "/specialisms/0", "/languages/1"]
        );
    }
}
