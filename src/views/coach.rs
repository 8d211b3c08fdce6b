//! A coach's profile, as much of it as the caller may see (`domain::coach::visibility`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::coaches::Coach as CoachRecord;
use crate::domain::coach::CoachVisibility;

/// A coach. Email, time zone, `active` and `has_login` are shown only to the provider's admins
/// and to the coach themselves; employers and colleagues see the professional profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct Coach {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// Lower-case slugs, e.g. `technical_background`, `reintegration`.
    pub specialisms: Vec<String>,
    /// ISO 639-1 codes.
    pub languages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// IANA time zone of the coach's working hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Europe/Amsterdam")]
    pub time_zone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Whether the coach can sign in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_login: Option<bool>,
    /// Increases with every change; also the `ETag`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl Coach {
    pub fn build(record: &CoachRecord, visibility: CoachVisibility) -> Coach {
        let full = visibility == CoachVisibility::Full;
        Coach {
            id: record.id.clone(),
            name: record.name.clone(),
            specialisms: record.specialisms.0.clone(),
            languages: record.languages.0.clone(),
            email: full.then(|| record.email.clone()),
            time_zone: full.then(|| record.time_zone.clone()),
            active: full.then_some(record.active),
            has_login: full.then(|| record.user_id.is_some()),
            version: full.then_some(record.version),
            created_at: full.then(|| record.created_at.and_utc()),
            updated_at: full.then(|| record.updated_at.and_utc()),
        }
    }
}

/// A page of coaches.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoachPage {
    pub data: Vec<Coach>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A coach's login, waiting for its password. The setup token is shown once: hand it to the
/// coach, who chooses a password with it (`POST /api/v1/auth/set-password`) and then signs in
/// with their email and that password. Nobody else learns the password.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginSetupIssued {
    #[schema(format = Uuid)]
    pub coach_id: String,
    /// The login's id (the `sub` of the coach's tokens).
    #[schema(format = Uuid)]
    pub user_id: String,
    /// The login name: the coach's email.
    pub email: String,
    /// For `POST /api/v1/auth/set-password`, once, before `expires_at`.
    pub setup_token: String,
    pub expires_at: DateTime<Utc>,
}
