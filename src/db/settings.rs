//! Providers' settings.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::provider_settings;
use super::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = provider_settings)]
pub struct SettingsRecord {
    pub organisation_id: String,
    pub coachee_self_service: bool,
    pub late_cancellation_hours: i32,
    pub version: i32,
    pub updated_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConnection, organisation_id: &str) -> QueryResult<Option<SettingsRecord>> {
    provider_settings::table
        .find(organisation_id)
        .select(SettingsRecord::as_select())
        .get_result(conn)
        .optional()
}

/// Saves the settings over version `expected` (none: the first save); false when someone else
/// saved first.
pub fn save(
    conn: &mut DbConnection,
    record: &SettingsRecord,
    expected: Option<i32>,
) -> QueryResult<bool> {
    let written = match expected {
        None => super::sessions::unless_raced(
            diesel::insert_into(provider_settings::table)
                .values(record)
                .execute(conn),
        )?,
        Some(version) => diesel::update(
            provider_settings::table
                .filter(provider_settings::organisation_id.eq(&record.organisation_id))
                .filter(provider_settings::version.eq(version)),
        )
        .set(record)
        .execute(conn)?,
    };
    Ok(written == 1)
}
