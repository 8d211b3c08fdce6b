//! The provider's coaches: list, add, read, change. Who sees and changes how much of a profile is
//! `domain::coach`.

use chrono::{DateTime, Utc};

use crate::clock::new_id;
use crate::db::coaches::{self as store, CoachFilter};
use crate::db::{self, identity, DbConnection, Json};
use crate::domain::coach::{self as rules, CoachAccess, CoachChanges, CoachVisibility, NewCoach};
use crate::domain::principal::{Principal, Role};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{check_version, lost_race};
use crate::service::pagination::PageRequest;
use crate::views::coach::{Coach, CoachPage};

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such coach".into())
}

/// The employer's contracted provider, for employers.
fn callers_provider(conn: &mut DbConnection, caller: &Principal) -> ServiceResult<Option<String>> {
    if caller.role != Role::Employer {
        return Ok(None);
    }
    Ok(identity::find_organisation(conn, &caller.organisation_id)?.and_then(|o| o.provider_id))
}

fn access<'a>(record: &'a store::Coach, provider: Option<&'a str>) -> CoachAccess<'a> {
    CoachAccess {
        coach_organisation_id: &record.organisation_id,
        coach_user_id: record.user_id.as_deref(),
        active: record.active,
        callers_provider_id: provider,
    }
}

/// What a list of coaches is filtered on.
#[derive(Debug, Clone)]
pub struct CoachQuery {
    /// Only active (true) or inactive (false) coaches; provider staff only.
    pub active: Option<bool>,
    pub updated_since: Option<DateTime<Utc>>,
    pub page: PageRequest,
}

/// Provider staff list their provider's coaches; an employer the professional profiles of its
/// contracted provider's active coaches.
pub fn list(
    conn: &mut DbConnection,
    caller: &Principal,
    query: CoachQuery,
) -> ServiceResult<CoachPage> {
    let provider = callers_provider(conn, caller)?;
    let (organisation_id, active) = match caller.role {
        Role::Employer => match &provider {
            Some(p) => (p.clone(), Some(true)),
            None => {
                return Ok(CoachPage {
                    data: vec![],
                    next_cursor: None,
                })
            }
        },
        _ => (caller.organisation_id.clone(), query.active),
    };
    let rows = store::list(
        conn,
        &CoachFilter {
            organisation_id,
            active,
            updated_since: query.updated_since.map(|t| t.naive_utc()),
            after: query.page.after.clone(),
            limit: query.page.fetch(),
        },
    )?;
    let (rows, next_cursor) = query.page.finish(rows, |r| &r.id);
    let data = rows
        .iter()
        .filter_map(|row| {
            rules::visibility(caller, access(row, provider.as_deref()))
                .map(|v| Coach::build(row, v))
        })
        .collect();
    Ok(CoachPage { data, next_cursor })
}

/// A provider admin adds a coach (without a login: `trajectum admin create-user` gives one).
#[tracing::instrument(skip_all)]
pub fn add(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    new: NewCoach,
) -> ServiceResult<Coach> {
    new.validate()?;
    let at = now.naive_utc();
    let record = store::Coach {
        id: new_id(),
        organisation_id: caller.organisation_id.clone(),
        user_id: None,
        name: new.name.trim().to_string(),
        email: new.email.trim().to_lowercase(),
        specialisms: Json(new.specialisms),
        languages: Json(new.languages),
        time_zone: new.time_zone,
        active: new.active,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    db::write(conn, |conn| store::insert(conn, &record))?;
    tracing::info!(coach_id = %record.id, "coach added");
    Ok(Coach::build(&record, CoachVisibility::Full))
}

/// A coach, as much as the caller may see.
pub fn get(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<Coach> {
    let provider = callers_provider(conn, caller)?;
    let record = store::find(conn, id)?.ok_or_else(not_found)?;
    let visibility =
        rules::visibility(caller, access(&record, provider.as_deref())).ok_or_else(not_found)?;
    Ok(Coach::build(&record, visibility))
}

/// The provider's admins change any of their coaches; a coach their own profile (not `active`).
#[tracing::instrument(skip_all, fields(coach_id = %id))]
pub fn change(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    expected_version: Option<i32>,
    changes: CoachChanges,
) -> ServiceResult<Coach> {
    changes.validate()?;
    db::write(conn, |conn| {
        let provider = callers_provider(conn, caller)?;
        let mut record = store::find(conn, id)?.ok_or_else(not_found)?;
        let access = access(&record, provider.as_deref());
        if rules::visibility(caller, access).is_none() {
            return Err(not_found());
        }
        if !rules::may_edit(caller, access, changes.active.is_some()) {
            return Err(ServiceError::Forbidden(
                "only the provider's admins, or the coach for their own profile, may change it; `active` is the admins' to set".into(),
            ));
        }
        check_version("coach", record.version, expected_version)?;
        let read_version = record.version;
        if let Some(v) = changes.name {
            record.name = v.trim().to_string();
        }
        if let Some(v) = changes.email {
            record.email = v.trim().to_lowercase();
        }
        if let Some(v) = changes.specialisms {
            record.specialisms = Json(v);
        }
        if let Some(v) = changes.languages {
            record.languages = Json(v);
        }
        if let Some(v) = changes.time_zone {
            record.time_zone = v;
        }
        if let Some(v) = changes.active {
            record.active = v;
        }
        record.version += 1;
        record.updated_at = now.naive_utc();
        if !store::update(conn, &record, read_version)? {
            return Err(lost_race("coach", expected_version, read_version + 1));
        }
        Ok(Coach::build(&record, CoachVisibility::Full))
    })
}
