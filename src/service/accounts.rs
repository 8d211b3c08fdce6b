//! An organisation's own logins and API clients: listing them, disabling and enabling them, and
//! rotating a client's secret with an overlap. For an employer's HR users and systems and the
//! provider's planners, each in their own organisation (another organisation's is a 404).
//!
//! Disabling ends access at once: a disabled login or client cannot get a token, and the tokens
//! it holds are refused on their next request (`service::access::confirm`). A person's login
//! sessions also end, so enabling the login again needs a new sign-in.

use chrono::{DateTime, Duration, Utc};

use crate::auth::secrets;
use crate::db::identity::{self, ApiClient, User};
use crate::db::{self, coaches, DbConnection};
use crate::domain::access::{secret_overlap, CLIENT_SECRET_OVERLAP_HOURS};
use crate::domain::principal::{Principal, SubjectType};
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::pagination::PageRequest;
use crate::views::identity::{
    ApiClientPage, ApiClientView, RotatedClientSecret, UserAccount, UserAccountPage,
};

fn no_user() -> ServiceError {
    ServiceError::NotFound("no such user in your organisation".into())
}

fn no_client() -> ServiceError {
    ServiceError::NotFound("no such API client in your organisation".into())
}

fn own_access() -> ServiceError {
    ServiceError::NotNow {
        slug: "own-access",
        detail: "you cannot disable the login or client you are calling with; another one of \
                 your organisation can"
            .into(),
    }
}

/// `at` without its fraction of a second, as a token's `iat` is.
fn whole_second(at: DateTime<Utc>) -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(at.timestamp(), 0)
        .unwrap_or(at)
        .naive_utc()
}

/// A coach's login stops only once their open orders went to other coaches.
fn coach_may_leave(conn: &mut DbConnection, user_id: &str) -> ServiceResult<()> {
    match coaches::find_by_user(conn, user_id)? {
        Some(coach) => {
            coaches::lock(conn, &coach.id)?;
            crate::service::coaches::may_leave(conn, &coach.id)
        }
        None => Ok(()),
    }
}

fn account(conn: &mut DbConnection, user: User) -> ServiceResult<UserAccount> {
    let coach_id = coaches::find_by_user(conn, &user.id)?.map(|c| c.id);
    Ok(UserAccount {
        id: user.id,
        email: user.email,
        name: user.name,
        role: user.role,
        active: user.active,
        coach_id,
    })
}

fn client_view(client: &ApiClient, now: DateTime<Utc>) -> ApiClientView {
    ApiClientView {
        id: client.id.clone(),
        client_id: client.client_id.clone(),
        name: client.name.clone(),
        role: client.role,
        active: client.active,
        previous_secret_expires_at: client
            .previous_secret_expires_at
            .map(|at| at.and_utc())
            .filter(|at| *at > now),
    }
}

fn own_user(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<User> {
    identity::find_user(conn, id)?
        .filter(|u| u.organisation_id == caller.organisation_id)
        .ok_or_else(no_user)
}

/// The caller's organisation's client `id`, locked for the change that writes it back.
fn own_client(conn: &mut DbConnection, caller: &Principal, id: &str) -> ServiceResult<ApiClient> {
    identity::lock_client(conn, id)?
        .filter(|c| c.organisation_id == caller.organisation_id)
        .ok_or_else(no_client)
}

pub fn list_users(
    conn: &mut DbConnection,
    caller: &Principal,
    page: PageRequest,
) -> ServiceResult<UserAccountPage> {
    let rows = identity::list_users(
        conn,
        &caller.organisation_id,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |u| &u.id);
    let data = rows
        .into_iter()
        .map(|user| account(conn, user))
        .collect::<ServiceResult<_>>()?;
    Ok(UserAccountPage { data, next_cursor })
}

/// Enables or disables a login of the caller's organisation; disabling ends its sessions.
#[tracing::instrument(skip_all, fields(user_id = %id, active))]
pub fn set_user_active(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    active: bool,
) -> ServiceResult<UserAccount> {
    db::write(conn, |conn| {
        let mut user = own_user(conn, caller, id)?;
        if !active && caller.subject_type == SubjectType::User && caller.subject == user.id {
            return Err(own_access());
        }
        if !active {
            coach_may_leave(conn, &user.id)?;
        }
        if user.active != active {
            identity::set_user_active(conn, &user.id, active, now.naive_utc())?;
            if !active {
                identity::end_sessions(conn, &user.id, now.naive_utc())?;
            }
            tracing::info!("login {}", if active { "enabled" } else { "disabled" });
        }
        user.active = active;
        account(conn, user)
    })
}

pub fn list_clients(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    page: PageRequest,
) -> ServiceResult<ApiClientPage> {
    let rows = identity::list_clients(
        conn,
        &caller.organisation_id,
        page.after.as_deref(),
        page.fetch(),
    )?;
    let (rows, next_cursor) = page.finish(rows, |c| &c.id);
    Ok(ApiClientPage {
        data: rows.iter().map(|c| client_view(c, now)).collect(),
        next_cursor,
    })
}

/// Enables or disables an API client of the caller's organisation.
#[tracing::instrument(skip_all, fields(client = %id, active))]
pub fn set_client_active(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    active: bool,
) -> ServiceResult<ApiClientView> {
    db::write(conn, |conn| {
        let mut client = own_client(conn, caller, id)?;
        if !active && caller.subject_type == SubjectType::Client && caller.subject == client.id {
            return Err(own_access());
        }
        if client.active != active {
            client.active = active;
            if !active {
                client.tokens_not_before = Some(whole_second(now));
            }
            client.updated_at = now.naive_utc();
            identity::save_client(conn, &client)?;
            tracing::info!("API client {}", if active { "enabled" } else { "disabled" });
        }
        Ok(client_view(&client, now))
    })
}

/// A new secret for an API client; the one it replaces keeps working for `overlap_hours` (a day
/// unless asked otherwise: `domain::access::secret_overlap`), so the HR system can switch
/// without an outage; with 0 it stops working now, as a secret that leaked must. A secret
/// replaced earlier stops working now. The client itself may rotate its own secret.
#[tracing::instrument(skip_all, fields(client = %id))]
pub fn rotate_client_secret(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    caller: &Principal,
    id: &str,
    overlap_hours: Option<u32>,
) -> ServiceResult<RotatedClientSecret> {
    let overlap = secret_overlap(overlap_hours).map_err(|e| ServiceError::BadQuery(vec![e]))?;
    db::write(conn, |conn| {
        let mut client = own_client(conn, caller, id)?;
        let itself = caller.subject_type == SubjectType::Client && caller.subject == client.id;
        if itself && overlap < CLIENT_SECRET_OVERLAP_HOURS {
            // Whoever holds one of its tokens could otherwise lock the HR system out at once.
            return Err(ServiceError::NotNow {
                slug: "own-access",
                detail: "a client cannot cut its own secret's overlap short; an HR user or \
                         another client of your organisation can"
                    .into(),
            });
        }
        let secret = secrets::generate_client_secret();
        let previous = std::mem::replace(
            &mut client.secret_hash,
            secrets::hash_client_secret(&secret),
        );
        if overlap == 0 {
            // A secret that leaked: it, and the tokens issued with it, stop working now.
            client.previous_secret_hash = None;
            client.previous_secret_expires_at = None;
            client.tokens_not_before = Some(whole_second(now));
        } else {
            let until = now + Duration::hours(i64::from(overlap));
            client.previous_secret_hash = Some(previous);
            client.previous_secret_expires_at = Some(until.naive_utc());
        }
        client.updated_at = now.naive_utc();
        identity::save_client(conn, &client)?;
        tracing::info!("API client secret rotated");
        Ok(RotatedClientSecret {
            client: client_view(&client, now),
            client_secret: secret,
        })
    })
}

/// A login or API client as the operator names it (`trajectum admin disable|enable`).
#[derive(Debug, Clone)]
pub enum Named {
    /// A person's login, by email.
    Login(String),
    /// An API client, by its `client_id`.
    Client(String),
}

/// The operator disables or enables a login or API client of any organisation; returns its id.
/// As through the API, disabling a login ends its sessions.
pub fn operator_set_active(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    named: &Named,
    active: bool,
) -> ServiceResult<String> {
    db::write(conn, |conn| match named {
        Named::Login(email) => {
            let user = identity::find_user_by_email(conn, email.trim())?
                .ok_or_else(|| ServiceError::NotFound(format!("no login has the email {email}")))?;
            if !active {
                coach_may_leave(conn, &user.id)?;
            }
            identity::set_user_active(conn, &user.id, active, now.naive_utc())?;
            if !active {
                identity::end_sessions(conn, &user.id, now.naive_utc())?;
            }
            tracing::info!(user_id = %user.id, active, "login changed by the operator");
            Ok(user.id)
        }
        Named::Client(client_id) => {
            let named = identity::find_client_by_client_id(conn, client_id)?;
            let mut client = named
                .and_then(|found| identity::lock_client(conn, &found.id).transpose())
                .transpose()?
                .ok_or_else(|| {
                    ServiceError::NotFound(format!("no API client has the client_id {client_id}"))
                })?;
            if client.active && !active {
                client.tokens_not_before = Some(whole_second(now));
            }
            client.active = active;
            client.updated_at = now.naive_utc();
            identity::save_client(conn, &client)?;
            tracing::info!(client = %client.id, active, "API client changed by the operator");
            Ok(client.id)
        }
    })
}
