//! The provider's coaches: list, add, read, change. Who sees and changes how much of a profile is
//! `domain::coach`.

use chrono::{DateTime, Utc};

use crate::auth::secrets;
use crate::clock::new_id;
use crate::db::coaches::{self as store, CoachFilter};
use crate::db::{self, identity, DbConnection, Json};
use crate::domain::coach::{
    self as rules, CoachAccess, CoachChanges, CoachVisibility, LoginGrant, LoginState, NewCoach,
};
use crate::domain::event::Event;
use crate::domain::principal::{Principal, Role};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::lifecycle::{check_version, lost_race, record_for_organisation};
use crate::service::pagination::PageRequest;
use crate::views::coach::{Coach, CoachPage, LoginSetupIssued};

fn not_found() -> ServiceError {
    ServiceError::NotFound("no such coach".into())
}

/// 409: the organisation has a coach with this email already (one coach, one person).
fn email_taken(existing: &store::Coach) -> ServiceError {
    let mut extensions = serde_json::Map::new();
    extensions.insert("existing_coach_id".into(), existing.id.clone().into());
    ServiceError::Taken {
        slug: "coach-email-taken",
        detail: format!(
            "coach {} has this email already: one person is one coach",
            existing.id
        ),
        extensions,
    }
}

/// 409: the email signs in to another account already (logins are unique by email).
fn email_has_login(email: &str) -> ServiceError {
    ServiceError::Taken {
        slug: "email-has-login",
        detail: format!(
            "{email} is the login of another account; give the coach another email first (PATCH /api/v1/coaches/{{id}})"
        ),
        extensions: serde_json::Map::new(),
    }
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
    let email = new.email.trim().to_lowercase();
    let record = store::Coach {
        id: new_id(),
        organisation_id: caller.organisation_id.clone(),
        user_id: None,
        name: new.name.trim().to_string(),
        email,
        specialisms: Json(new.specialisms),
        languages: Json(new.languages),
        time_zone: new.time_zone,
        active: new.active,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let added = db::write(conn, |conn| {
        if let Some(existing) = store::find_by_email(conn, &record.organisation_id, &record.email)?
        {
            return Err(email_taken(&existing));
        }
        store::insert(conn, &record)?;
        record_for_organisation(
            conn,
            now,
            caller,
            &record.organisation_id,
            Event::CoachAdded {
                coach_id: record.id.clone(),
            },
        )
    });
    // Two adds of one email at once: the unique index stops the second, and says whom it met.
    if let Err(ServiceError::Conflict(_)) = added {
        if let Some(existing) = store::find_by_email(conn, &record.organisation_id, &record.email)?
        {
            return Err(email_taken(&existing));
        }
    }
    added?;
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

/// Whether coach `coach_id` may stop working (deactivated, or their login disabled): only once
/// no open order is in their hands. Each is a planner's decision to hand to another coach (000:
/// the coaching relationship rests on trust; it is not handed on silently).
pub fn may_leave(conn: &mut DbConnection, coach_id: &str) -> ServiceResult<()> {
    let open = crate::db::orders::awaiting_coach(conn, coach_id)?;
    if open.is_empty() {
        return Ok(());
    }
    Err(ServiceError::NotNow {
        slug: "coach-has-open-orders",
        detail: format!(
            "the coach still has {} open orders ({}); a planner assigns each to another coach \
             (POST /api/v1/orders/{{id}}/assign) before the coach stops",
            open.len(),
            open.join(", ")
        ),
    })
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
        // Locked, so that an order assigned to the coach meanwhile is seen below (or waits).
        store::lock(conn, id)?;
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
        let before = record.clone();
        if let Some(v) = changes.name {
            record.name = v.trim().to_string();
        }
        if let Some(v) = changes.email {
            let email = v.trim().to_lowercase();
            if email != record.email {
                if let Some(existing) = store::find_by_email(conn, &record.organisation_id, &email)?
                {
                    return Err(email_taken(&existing));
                }
                // The login follows: its name is the coach's email.
                if let Some(user_id) = &record.user_id {
                    if identity::find_user_by_email(conn, &email)?.is_some() {
                        return Err(email_has_login(&email));
                    }
                    identity::set_user_email(conn, user_id, &email, now.naive_utc())?;
                }
                record.email = email;
            }
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
            if before.active && !v {
                may_leave(conn, &record.id)?;
            }
            record.active = v;
        }
        record.version += 1;
        record.updated_at = now.naive_utc();
        if !store::update(conn, &record, read_version)? {
            return Err(lost_race("coach", expected_version, read_version + 1));
        }
        let changed: Vec<String> = [
            ("name", before.name != record.name),
            ("email", before.email != record.email),
            ("specialisms", before.specialisms.0 != record.specialisms.0),
            ("languages", before.languages.0 != record.languages.0),
            ("time_zone", before.time_zone != record.time_zone),
            ("active", before.active != record.active),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(field, _)| field.to_string())
        .collect();
        record_for_organisation(
            conn,
            now,
            caller,
            &record.organisation_id,
            Event::CoachUpdated {
                coach_id: record.id.clone(),
                changed,
            },
        )?;
        Ok(Coach::build(&record, CoachVisibility::Full))
    })
}

/// The provider's admin gives a coach their login: the coach's email becomes its name, and a
/// one-time setup token, shown once, lets the coach choose the password. A coach who signs in
/// already is refused (409 `coach-has-login`); one whose password was never set gets a new token
/// in place of the old one. The coach's row is locked, so concurrent grants make one login.
#[tracing::instrument(skip_all, fields(coach_id = %id))]
pub fn grant_login(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
) -> ServiceResult<LoginSetupIssued> {
    db::write(conn, |conn| {
        let visible = store::find(conn, id)?
            .filter(|record| rules::visibility(caller, access(record, None)).is_some())
            .ok_or_else(not_found)?;
        store::lock(conn, &visible.id)?;
        let record = store::find(conn, &visible.id)?.ok_or_else(not_found)?;
        let user = match &record.user_id {
            Some(user_id) => identity::find_user(conn, user_id)?,
            None => None,
        };
        let state = match &user {
            None => LoginState::None,
            Some(user) if secrets::has_password(&user.password_hash) => LoginState::Active,
            Some(_) => LoginState::AwaitingPassword,
        };
        let at = now.naive_utc();
        let user_id = match (rules::grant_login(state), user) {
            (None, _) => {
                return Err(ServiceError::Taken {
                    slug: "coach-has-login",
                    detail: "this coach signs in already; only they choose their password".into(),
                    extensions: serde_json::Map::new(),
                })
            }
            (Some(LoginGrant::Reissue), Some(user)) => user.id,
            (Some(_), _) => {
                if identity::find_user_by_email(conn, &record.email)?.is_some() {
                    return Err(email_has_login(&record.email));
                }
                let user = identity::User {
                    id: new_id(),
                    organisation_id: record.organisation_id.clone(),
                    email: record.email.clone(),
                    name: record.name.clone(),
                    role: Role::Coach,
                    password_hash: secrets::NO_PASSWORD.into(),
                    active: true,
                    created_at: at,
                    updated_at: at,
                };
                identity::insert_user(conn, &user)?;
                store::set_user(conn, &record.id, &user.id, at)?;
                user.id
            }
        };
        let (token, expires_at) = crate::service::identity::issue_login_setup(conn, now, &user_id)?;
        record_for_organisation(
            conn,
            now,
            caller,
            &record.organisation_id,
            Event::CoachLoginGranted {
                coach_id: record.id.clone(),
            },
        )?;
        tracing::info!("coach login granted");
        Ok(LoginSetupIssued {
            coach_id: record.id,
            user_id,
            email: record.email,
            setup_token: token,
            expires_at,
        })
    })
}
