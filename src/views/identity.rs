//! Who the caller is (`GET /me`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::principal::{OrganisationKind, Role, SubjectType};

/// The organisation a caller acts for.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    pub kind: OrganisationKind,
}

/// Who the caller is.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user's or API client's id (the token's `sub`).
    #[schema(format = Uuid)]
    pub subject_id: String,
    pub subject_type: SubjectType,
    pub role: Role,
    pub organisation: OrganisationSummary,
    /// The person's or client's name.
    pub name: String,
    /// People only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// For a coach: their coach profile's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub coach_id: Option<String>,
}
