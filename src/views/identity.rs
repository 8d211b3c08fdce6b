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

/// A person's login in the caller's organisation.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAccount {
    #[schema(format = Uuid)]
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Whether the login may sign in; a disabled login's tokens stop working at once.
    pub active: bool,
    /// For a coach's login: their coach profile (deactivating it also stops the login).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub coach_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserAccountPage {
    pub data: Vec<UserAccount>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// An HR system's (or planning system's) API client in the caller's organisation. Its secret
/// is never shown again after it is made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientView {
    #[schema(format = Uuid)]
    pub id: String,
    /// What it authenticates with (`client_id` of the `client_credentials` grant).
    pub client_id: String,
    pub name: String,
    pub role: Role,
    /// Whether it may get tokens; a disabled client's tokens stop working at once.
    pub active: bool,
    /// After a rotation: until when the previous secret still works.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApiClientPage {
    pub data: Vec<ApiClientView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A client's new secret, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotatedClientSecret {
    pub client: ApiClientView,
    /// The new secret: store it now, it is not shown again.
    pub client_secret: String,
}
