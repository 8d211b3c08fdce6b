//! A provider's settings: its planners read and change them; its coaches read them.

use chrono::{DateTime, Utc};

use crate::db::settings::{self as store, SettingsRecord};
use crate::db::{self, DbConnection};
use crate::domain::permission::Act;
use crate::domain::principal::Principal;
use crate::domain::provider_settings::ProviderSettings;
use crate::service::error::ServiceResult;
use crate::service::lifecycle::{check_version, lost_race};

/// A provider's settings with their version (0 before the first save).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SettingsView {
    #[serde(flatten)]
    pub settings: ProviderSettings,
    /// Also the `ETag`.
    pub version: i32,
}

/// The settings of `provider_id` (the defaults before the first save).
pub fn of(conn: &mut DbConnection, provider_id: &str) -> ServiceResult<ProviderSettings> {
    Ok(view(store::find(conn, provider_id)?).settings)
}

fn view(record: Option<SettingsRecord>) -> SettingsView {
    match record {
        Some(r) => SettingsView {
            settings: ProviderSettings {
                coachee_self_service: r.coachee_self_service,
                late_cancellation_hours: u32::try_from(r.late_cancellation_hours).unwrap_or(0),
            },
            version: r.version,
        },
        None => SettingsView {
            settings: ProviderSettings::default(),
            version: 0,
        },
    }
}

fn provider_staff(caller: &Principal) -> ServiceResult<()> {
    crate::service::access::require(caller, Act::ReadProviderSettings)
}

/// The caller's provider's settings.
pub fn get(conn: &mut DbConnection, caller: &Principal) -> ServiceResult<SettingsView> {
    provider_staff(caller)?;
    Ok(view(store::find(conn, &caller.organisation_id)?))
}

/// A planner replaces the provider's settings; `expected_version` is `If-Match`.
#[tracing::instrument(skip_all)]
pub fn replace(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    expected_version: Option<i32>,
    settings: ProviderSettings,
) -> ServiceResult<SettingsView> {
    crate::service::access::require(caller, Act::ChangeProviderSettings)?;
    settings.validate()?;
    db::write(conn, |conn| {
        let current = store::find(conn, &caller.organisation_id)?.map_or(0, |r| r.version);
        check_version("settings", current, expected_version)?;
        let record = SettingsRecord {
            organisation_id: caller.organisation_id.clone(),
            coachee_self_service: settings.coachee_self_service,
            late_cancellation_hours: settings.late_cancellation_hours as i32,
            version: current + 1,
            updated_at: now.naive_utc(),
        };
        if !store::save(conn, &record, (current > 0).then_some(current))? {
            return Err(lost_race("settings", expected_version, current + 1));
        }
        crate::service::lifecycle::record_for_organisation(
            conn,
            now,
            caller,
            &caller.organisation_id,
            crate::domain::event::Event::ProviderSettingsUpdated {
                coachee_self_service: settings.coachee_self_service,
                late_cancellation_hours: settings.late_cancellation_hours,
            },
        )?;
        Ok(view(Some(record)))
    })
}
