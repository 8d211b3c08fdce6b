//! The coachee's own voice: a scoped link token (`POST/DELETE /orders/{id}/coachee-link`), their
//! trajectory (`GET /coachee/order`) and their consents (`PUT /coachee/consents`).
//!
//! Consent to an assessment and to sharing a summary with the employer is the coachee's own,
//! given and withdrawn by them, and recorded with when and how (DOMAIN.md). Withdrawing stops
//! what depended on it: a planned assessment is cancelled, the employer stops seeing the summary.

use actix_web::{delete, get, post, put, web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::api::extract::Json;
use crate::auth::extract::{Caller, Coachees, Coaches, LinkKeepers};
use crate::auth::jwt::{Claims, TokenType};
use crate::db::orders::{self as store, CoacheeLink, Consent};
use crate::db::{self, coaches, DbConnection};
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::plan::Plan;
use crate::domain::principal::{Principal, Role, SubjectType};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::coaching;
use crate::service::orders::{self as lifecycle, Visible};
use crate::state::AppState;

pub const DEFAULT_LINK_DAYS: u32 = 30;
pub const MAX_LINK_DAYS: u32 = 90;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// How long the link works, 1 to 90 days (default 30).
    #[schema(minimum = 1, maximum = 90)]
    pub valid_days: Option<u32>,
}

/// A link token for the coachee. Hand it over privately; it is shown only now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoacheeLinkIssued {
    #[schema(format = Uuid)]
    pub link_id: String,
    /// A bearer token with role `coachee` for this order only.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Give the coachee a link.
///
/// Issues a bearer token with role `coachee` that opens only this order's coachee endpoints,
/// for a limited time; revocable with `DELETE /orders/{id}/coachee-link`. Only the assigned
/// coach issues it and hands it to the coachee: whoever holds it speaks as the coachee (gives
/// consent, reads the plan), so the employer never does.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = LinkRequest,
    responses(
        (status = 201, description = "The link token", body = CoacheeLinkIssued),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/coachee-link")]
pub async fn issue_link(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    Json(body): Json<LinkRequest>,
) -> ApiResult<HttpResponse> {
    let days = body.valid_days.unwrap_or(DEFAULT_LINK_DAYS);
    if !(1..=MAX_LINK_DAYS).contains(&days) {
        return Err(ApiError::validation(vec![FieldError::new(
            "/valid_days",
            format!("must be between 1 and {MAX_LINK_DAYS}"),
        )]));
    }
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let state = state.into_inner();
    let pool = state.pool.clone();
    let issued = db::run(&pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            lifecycle::check(&caller, &visible, OrderAction::IssueCoacheeLink, None)?;
            let now = db::now();
            let link = CoacheeLink {
                id: db::new_id(),
                order_id: visible.order.id.clone(),
                issued_by: caller.subject.clone(),
                issued_at: now,
                expires_at: now + Duration::days(i64::from(days)),
                revoked_at: None,
            };
            store::insert_link(conn, &link)?;
            let keys = &state.issuer.keys;
            let token = keys.sign(&Claims {
                iss: keys.issuer.clone(),
                aud: keys.audience.clone(),
                sub: link.id.clone(),
                exp: link.expires_at.and_utc().timestamp(),
                iat: now.and_utc().timestamp(),
                nbf: now.and_utc().timestamp(),
                jti: db::new_id(),
                typ: TokenType::Access,
                role: Role::Coachee,
                org: visible.order.employer_id.clone(),
                sub_type: SubjectType::Link,
                fam: None,
                ord: Some(visible.order.id.clone()),
            })?;
            lifecycle::record_event(
                conn,
                &caller,
                &visible.order.id,
                "coachee_link.issued",
                Some(visible.status),
                visible.status,
                json!({"link_id": link.id, "expires_at": link.expires_at.and_utc()}),
            )?;
            Ok(CoacheeLinkIssued {
                link_id: link.id,
                token,
                expires_at: link.expires_at.and_utc(),
            })
        })
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(issued))
}

/// Revoke the coachee's links.
///
/// Every link issued for this order stops working at once. By the coach or the provider's
/// planner.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 204, description = "Revoked"),
    )
)]
#[delete("/orders/{id}/coachee-link")]
pub async fn revoke_links(
    state: web::Data<AppState>,
    caller: Caller<LinkKeepers>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner().to_string();
    let caller = caller.0;
    db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            let revoked = store::revoke_links(conn, &visible.order.id, db::now())?;
            if revoked > 0 {
                lifecycle::record_event(
                    conn,
                    &caller,
                    &visible.order.id,
                    "coachee_link.revoked",
                    Some(visible.status),
                    visible.status,
                    json!({"links": revoked}),
                )?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The coachee's order behind a live link; a revoked or expired link is an invalid token.
fn coachee_order(conn: &mut DbConnection, caller: &Principal) -> ApiResult<Visible> {
    if !store::link_is_live(conn, &caller.subject, db::now())? {
        return Err(ApiError::InvalidToken(
            "this link was revoked or has expired",
        ));
    }
    let order_id = caller
        .order_id
        .clone()
        .ok_or(ApiError::InvalidToken("a coachee token names its order"))?;
    lifecycle::load(conn, caller, &order_id)
}

/// A consent as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentState {
    pub given: bool,
    pub recorded_at: DateTime<Utc>,
    /// How it was recorded, e.g. `coachee_link`.
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consents {
    /// To an assessment (002); absent until the coachee says.
    pub assessment: Option<ConsentState>,
    /// To sharing a summary (the agreed goals) with the employer.
    pub share_summary: Option<ConsentState>,
}

fn consents(conn: &mut DbConnection, order_id: &str) -> ApiResult<Consents> {
    let current = store::current_consents(conn, order_id)?;
    let state = |kind: &str| {
        current
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| ConsentState {
                given: c.given,
                recorded_at: c.recorded_at.and_utc(),
                source: c.source.split(':').next().unwrap_or_default().to_string(),
            })
    };
    Ok(Consents {
        assessment: state("assessment"),
        share_summary: state("share_summary"),
    })
}

/// The trajectory as the coachee sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoacheeOrder {
    #[schema(format = Uuid)]
    pub order_id: String,
    pub status: OrderStatus,
    /// Your coach's name, once one is assigned.
    pub coach_name: Option<String>,
    pub session_budget: i32,
    pub end_date: NaiveDate,
    /// Your development points, goals and tasks.
    pub plan: Plan,
    pub consents: Consents,
}

/// The coachee's trajectory.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Your trajectory", body = CoacheeOrder),
    )
)]
#[get("/coachee/order")]
pub async fn coachee_view(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
) -> ApiResult<web::Json<CoacheeOrder>> {
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        let visible = coachee_order(conn, &caller)?;
        let order = &visible.order;
        let coach_name = match &order.coach_id {
            Some(id) => coaches::find(conn, id)?.map(|c| c.name),
            None => None,
        };
        let plan = if visible.audience.sees_plan() {
            coaching::load_plan(conn, &order.id)?.0
        } else {
            Plan::default()
        };
        Ok(CoacheeOrder {
            order_id: order.id.clone(),
            status: visible.status,
            coach_name,
            session_budget: order.session_budget,
            end_date: order.end_date,
            plan,
            consents: consents(conn, &order.id)?,
        })
    })
    .await?;
    Ok(web::Json(view))
}

/// Consents to give or withdraw; absent ones stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentChanges {
    /// Consent to an assessment.
    pub assessment: Option<bool>,
    /// Consent to share a summary (the agreed goals) with the employer.
    pub share_summary: Option<bool>,
}

/// Give or withdraw consent.
///
/// Each change is recorded with its time and source. Withdrawing consent to an assessment
/// cancels a planned one; withdrawing consent to share hides the summary from the employer.
#[utoipa::path(
    tag = "coachee",
    security(("bearer" = [])),
    request_body = ConsentChanges,
    responses(
        (status = 200, description = "Your consents now", body = Consents),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[put("/coachee/consents")]
pub async fn put_consents(
    state: web::Data<AppState>,
    caller: Caller<Coachees>,
    Json(changes): Json<ConsentChanges>,
) -> ApiResult<web::Json<Consents>> {
    if changes.assessment.is_none() && changes.share_summary.is_none() {
        return Err(ApiError::validation(vec![FieldError::new(
            "/",
            "give or withdraw at least one consent: assessment or share_summary",
        )]));
    }
    let caller = caller.0;
    let result = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = coachee_order(conn, &caller)?;
            if matches!(visible.status, OrderStatus::Closed | OrderStatus::Cancelled) {
                return Err(ApiError::conflict(
                    "this trajectory is over; consents can no longer change",
                ));
            }
            let current = store::current_consents(conn, &visible.order.id)?;
            for (kind, given) in [
                ("assessment", changes.assessment),
                ("share_summary", changes.share_summary),
            ] {
                let Some(given) = given else { continue };
                if current.iter().any(|c| c.kind == kind && c.given == given) {
                    continue;
                }
                store::record_consent(
                    conn,
                    &Consent {
                        id: db::new_id(),
                        order_id: visible.order.id.clone(),
                        kind: kind.to_string(),
                        given,
                        source: format!("coachee_link:{}", caller.subject),
                        recorded_at: db::now(),
                    },
                )?;
                let mut data = json!({"consent": kind});
                if kind == "assessment"
                    && !given
                    && coaching::withdraw_assessment(conn, &visible.order.id)?
                {
                    data["assessment_cancelled"] = json!(true);
                }
                lifecycle::record_event(
                    conn,
                    &caller,
                    &visible.order.id,
                    if given {
                        "consent.given"
                    } else {
                        "consent.withdrawn"
                    },
                    Some(visible.status),
                    visible.status,
                    data,
                )?;
            }
            consents(conn, &visible.order.id)
        })
    })
    .await?;
    Ok(web::Json(result))
}
