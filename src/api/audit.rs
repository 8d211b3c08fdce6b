//! `GET /audit`: the organisation's audit trail, newest first, in keyset pages.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::extract::Query;
use crate::api::{page, respond};
use crate::auth::extract::{AccountManagers, Caller};
use crate::db::audit::Filter;
use crate::error::{ApiError, ApiResult};
use crate::service::audit;
use crate::state::AppState;
use crate::views::audit::AuditPage;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this user's, client's or link's entries.
    pub actor_id: Option<String>,
    /// Only entries about this resource (an order's, session's, coach's … id).
    pub resource_id: Option<String>,
    /// Only changes, or only reads of confidential content.
    #[param(pattern = "^(change|read)$")]
    pub kind: Option<String>,
    /// From this instant (RFC 3339), included.
    pub since: Option<DateTime<Utc>>,
    /// Before this instant (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Audit trail.
///
/// Every change and every read of confidential content (an intake, a plan, a session's notes, a
/// closing review), one entry each, written with the change in its transaction: who (role, user,
/// client or coachee link), what (the operation and the id it names), when, and the request's
/// id. No content. The provider's planners read their organisation's trail (their people's and
/// systems', their coachees', and the service's own jobs); an employer's HR users and systems
/// their own users' and clients' entries. Newest first.
#[utoipa::path(
    tag = "access",
    security(("bearer" = ["employer", "provider_admin"])),
    params(AuditParams),
    responses(
        (status = 200, description = "A page of entries, newest first", body = AuditPage),
    )
)]
#[get("/audit")]
pub async fn audit_trail(
    state: web::Data<AppState>,
    caller: Caller<AccountManagers>,
    Query(params): Query<AuditParams>,
) -> ApiResult<web::Json<AuditPage>> {
    let page = page(params.limit, params.cursor.as_deref())?;
    let kind = match params.kind.as_deref() {
        None => None,
        Some("change") => Some("change"),
        Some("read") => Some("read"),
        Some(_) => return Err(ApiError::invalid_field("kind", "must be change or read")),
    };
    let filter = Filter {
        actor_types: None,
        actor_id: params.actor_id,
        resource_id: params.resource_id,
        kind,
        since: params.since.map(|at| at.naive_utc()),
        before: params.until.map(|at| at.naive_utc()),
    };
    respond::read(&state, move |conn, _| {
        audit::list(conn, &caller, filter, page)
    })
    .await
    .map(web::Json)
}
