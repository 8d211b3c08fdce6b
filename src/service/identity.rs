//! Who the caller is: the subject, role and organisation behind a token.

use chrono::{DateTime, Utc};

use crate::auth::secrets;
use crate::db::{self, coaches, identity, DbConnection};
use crate::domain::principal::{Principal, SubjectType};
use crate::service::error::{ServiceError, ServiceResult};
use crate::views::identity::{Me, OrganisationSummary};

/// The caller, as far as their token still holds: a deactivated user or client is unauthorised.
pub fn who_am_i(conn: &mut DbConnection, caller: &Principal) -> ServiceResult<Me> {
    let organisation = identity::find_organisation(conn, &caller.organisation_id)?.ok_or(
        ServiceError::Unauthorized("the token's organisation no longer exists"),
    )?;
    let (name, email, coach_id) = match caller.subject_type {
        SubjectType::User => {
            let user = identity::find_user(conn, &caller.subject)?
                .filter(|u| u.active)
                .ok_or(ServiceError::Unauthorized(
                    "the token's user no longer exists",
                ))?;
            let coach = coaches::find_by_user(conn, &user.id)?;
            (user.name, Some(user.email), coach.map(|c| c.id))
        }
        SubjectType::Link => {
            return Err(ServiceError::Forbidden(
                "a coachee link reads GET /api/v1/coachee/order".into(),
            ))
        }
        SubjectType::Service => {
            return Err(ServiceError::Unauthorized(
                "the service's own role has no token",
            ))
        }
        SubjectType::Client => {
            let client = identity::find_client(conn, &caller.subject)?
                .filter(|c| c.active)
                .ok_or(ServiceError::Unauthorized(
                    "the token's client no longer exists",
                ))?;
            (client.name, None, None)
        }
    };
    Ok(Me {
        subject_id: caller.subject.clone(),
        subject_type: caller.subject_type,
        role: caller.role,
        organisation: OrganisationSummary {
            id: organisation.id,
            name: organisation.name,
            kind: organisation.kind,
        },
        name,
        email,
        coach_id,
    })
}

/// The longest password taken, in characters (argon2 hashes any length; this bounds its work).
pub const MAX_PASSWORD_LENGTH: usize = 1024;

/// A login's first password, chosen with the setup token its grant gave out.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordSetup {
    /// The `setup_token` of `POST /api/v1/coaches/{id}/login`: works once, for 7 days.
    pub setup_token: String,
    /// At least 12 characters.
    #[schema(min_length = 12, max_length = 1024)]
    pub password: String,
}

fn unusable_token() -> ServiceError {
    ServiceError::invalid(
        "/setup_token",
        "is not a setup token that works: unknown, expired or used already (ask for a new one)",
    )
}

/// Sets the password of the login the setup token is for, and spends the token. The token is
/// checked before the password is hashed, so a guess costs nothing but a lookup.
#[tracing::instrument(skip_all)]
pub fn set_password(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    setup: PasswordSetup,
) -> ServiceResult<()> {
    let length = setup.password.chars().count();
    if !(secrets::MIN_PASSWORD_LENGTH..=MAX_PASSWORD_LENGTH).contains(&length) {
        return Err(ServiceError::invalid(
            "/password",
            format!(
                "must be {} to {MAX_PASSWORD_LENGTH} characters",
                secrets::MIN_PASSWORD_LENGTH
            ),
        ));
    }
    let digest = secrets::hash_client_secret(&setup.setup_token);
    if !identity::login_setup_works(conn, &digest, now.naive_utc())? {
        return Err(unusable_token());
    }
    let hash = secrets::hash_password(&setup.password)?;
    db::write(conn, |conn| {
        let user_id = identity::spend_login_setup(conn, &digest, now.naive_utc())?
            .ok_or_else(unusable_token)?;
        // Only a login without a password takes one this way: a token issued while its owner
        // was setting the password (a grant racing the setup) sets nothing.
        if !identity::set_first_password(conn, &user_id, &hash, now.naive_utc())? {
            return Err(unusable_token());
        }
        tracing::info!(user_id = %user_id, "password set with a setup token");
        Ok(())
    })
}

/// A new one-time setup token for the login `user_id`, valid for
/// [`LOGIN_SETUP_DAYS`](crate::domain::coach::LOGIN_SETUP_DAYS); any earlier one stops working.
/// Returns the token (shown once) and when it expires.
pub fn issue_login_setup(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    user_id: &str,
) -> ServiceResult<(String, DateTime<Utc>)> {
    let token = format!("trj_setup_{}", secrets::generate_client_secret());
    let expires_at = now + chrono::Duration::days(crate::domain::coach::LOGIN_SETUP_DAYS);
    identity::replace_login_setup(
        conn,
        &identity::LoginSetup {
            token_hash: secrets::hash_client_secret(&token),
            user_id: user_id.to_string(),
            expires_at: expires_at.naive_utc(),
            created_at: now.naive_utc(),
        },
    )?;
    Ok((token, expires_at))
}

/// The operator resets a person's login (`trajectum admin reset-login`), for one who lost the
/// password or whose setup token someone else used: the password stops working, every login
/// session ends, and a new setup token lets the person choose a new password.
pub fn reset_login(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    email: &str,
) -> ServiceResult<(String, String, DateTime<Utc>)> {
    db::write(conn, |conn| {
        let user = identity::find_user_by_email(conn, email.trim())?
            .ok_or_else(|| ServiceError::NotFound(format!("no login has the email {email}")))?;
        identity::clear_password(conn, &user.id, now.naive_utc())?;
        let (token, expires_at) = issue_login_setup(conn, now, &user.id)?;
        tracing::info!(user_id = %user.id, "login reset by the operator");
        Ok((user.id, token, expires_at))
    })
}
