//! Who the caller is: the subject, role and organisation behind a token.

use crate::db::{coaches, identity, DbConnection};
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
