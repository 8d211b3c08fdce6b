//! Who is calling: the role and organisation an access token carries.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The roles of API.md "Principals and tokens".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An HR user or HR system of one employer organisation.
    Employer,
    /// A coach of a provider organisation.
    Coach,
    /// A planner at the provider.
    ProviderAdmin,
    /// The employee, through a scoped link token for one order.
    Coachee,
    /// The service itself, acting on a schedule (e.g. the first-session check, 004). Never in a
    /// token: it only appears as who did something.
    System,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Employer,
        Role::Coach,
        Role::ProviderAdmin,
        Role::Coachee,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Employer => "employer",
            Role::Coach => "coach",
            Role::ProviderAdmin => "provider_admin",
            Role::Coachee => "coachee",
            Role::System => "system",
        }
    }

    /// The kind of organisation a role belongs to.
    pub fn organisation_kind(self) -> OrganisationKind {
        match self {
            Role::Employer | Role::Coachee => OrganisationKind::Employer,
            Role::Coach | Role::ProviderAdmin | Role::System => OrganisationKind::Provider,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrganisationKind {
    /// Commissions coaching for its employees.
    Employer,
    /// Carries trajectories out with its coaches.
    Provider,
}

impl OrganisationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrganisationKind::Employer => "employer",
            OrganisationKind::Provider => "provider",
        }
    }
}

impl FromStr for OrganisationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "employer" => Ok(OrganisationKind::Employer),
            "provider" => Ok(OrganisationKind::Provider),
            _ => Err(format!("unknown organisation kind `{s}`")),
        }
    }
}

/// Whether the subject of a token is a person or a machine client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    User,
    Client,
    /// A coachee's link token: the subject is the link.
    Link,
    /// The service itself (role `system`); never in a token.
    Service,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's or client's id.
    pub subject: String,
    pub subject_type: SubjectType,
    pub role: Role,
    pub organisation_id: String,
    /// For a coachee link token: the one order it opens (the token id is the subject).
    pub order_id: Option<String>,
}

impl Principal {
    /// The service itself, acting on a schedule for the provider `organisation_id`.
    pub fn system(organisation_id: &str) -> Principal {
        Principal {
            subject: "trajectum".into(),
            subject_type: SubjectType::Service,
            role: Role::System,
            organisation_id: organisation_id.into(),
            order_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("admin".parse::<Role>().is_err());
    }

    #[test]
    fn coaches_and_planners_belong_to_providers() {
        assert_eq!(Role::Coach.organisation_kind(), OrganisationKind::Provider);
        assert_eq!(
            Role::ProviderAdmin.organisation_kind(),
            OrganisationKind::Provider
        );
        assert_eq!(
            Role::Employer.organisation_kind(),
            OrganisationKind::Employer
        );
    }
}
