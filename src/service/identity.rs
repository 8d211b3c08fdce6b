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
        identity::set_password_hash(conn, &user_id, &hash, now.naive_utc())?;
        tracing::info!(user_id = %user_id, "password set with a setup token");
        Ok(())
    })
}
