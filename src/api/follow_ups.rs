//! Follow-ups (002): `GET /orders/{id}/follow-ups`, `GET /follow-ups`, `PATCH /follow-ups/{id}`,
//! `POST /follow-ups/{id}/outcome`, and the employer's `GET/PUT /follow-up-policy`.

use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::api::{if_match, page};
use crate::auth::extract::{Caller, Coaches, Employers, ProviderStaff, Staff};
use crate::domain::follow_up::{FollowUpPolicy, FollowUpStatus};
use crate::error::ApiResult;
use crate::service::follow_ups::{self, FollowUpChange, FollowUpQuery, Outcome};
use crate::state::AppState;
use crate::views::follow_up::{FollowUpPage, FollowUpPolicyView, FollowUpView};

/// An order's follow-ups.
///
/// For whoever sees the order. The employer sees when each is due, where it stands and whether
/// the results lasted; the coach's note on it only with the coachee's consent to share a summary;
/// never why one was skipped or flagged.
#[utoipa::path(
    tag = "follow-ups",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order's follow-ups, first first", body = FollowUpPage),
    )
)]
#[get("/orders/{id}/follow-ups")]
pub async fn order_follow_ups(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<FollowUpPage>> {
    let id = id.to_string();
    respond::read(&state, move |conn, _| {
        follow_ups::of_order(conn, &caller, &id).map(|data| FollowUpPage {
            data,
            next_cursor: None,
        })
    })
    .await
    .map(web::Json)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FollowUpListParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only follow-ups in this state, e.g. `flagged`: the ones waiting for a planner.
    pub status: Option<FollowUpStatus>,
    /// Only follow-ups due before this day.
    pub due_before: Option<NaiveDate>,
}

/// List follow-ups.
///
/// The provider's, by due date: a planner's all of them (e.g. `?status=flagged`, the ones the
/// service could not book), a coach's those of their orders.
#[utoipa::path(
    tag = "follow-ups",
    security(("bearer" = ["coach", "provider_admin"])),
    params(FollowUpListParams),
    responses(
        (status = 200, description = "A page of follow-ups, due first first", body = FollowUpPage),
    )
)]
#[get("/follow-ups")]
pub async fn list_follow_ups(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    Query(params): Query<FollowUpListParams>,
) -> ApiResult<web::Json<FollowUpPage>> {
    let query = FollowUpQuery {
        status: params.status,
        due_before: params.due_before,
        page: page(params.limit, params.cursor.as_deref())?,
    };
    respond::read(&state, move |conn, _| {
        follow_ups::list(conn, &caller, query)
    })
    .await
    .map(web::Json)
}

/// Move or skip a follow-up.
///
/// By the order's coach or the provider's planners, while the order follows up. A new `due_on`
/// calls its booked session off (if it is still to come) and the service books it again when the
/// new date comes within the horizon; `skip: true` with a `reason` calls the session off and
/// settles it (with every follow-up settled, the order closes). Once its session has started
/// or took place, it is neither moved nor skipped (409 `follow-up-session-started`,
/// `follow-up-session-held`): record attendance and the outcome instead. `If-Match` is honoured.
#[utoipa::path(
    tag = "follow-ups",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The follow-up's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if it changed since")),
    request_body = FollowUpChange,
    responses(
        (status = 200, description = "The follow-up", body = FollowUpView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[patch("/follow-ups/{id}")]
pub async fn change_follow_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Json(change): Json<FollowUpChange>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let horizon = state.follow_up_horizon_days;
    let view = respond::call(&state, move |conn, now| {
        follow_ups::change(conn, now, &caller, &id, expected, change, horizon)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Record a follow-up's outcome.
///
/// By the order's coach, once it is due and its session (if any) is over: whether the results
/// lasted (002), reported to the employer, and a note it reads only with the coachee's consent to
/// share a summary. With every follow-up settled, the order closes (`order.closed`).
#[utoipa::path(
    tag = "follow-ups",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The follow-up's id")),
    request_body = Outcome,
    responses(
        (status = 200, description = "The follow-up with its outcome", body = FollowUpView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/follow-ups/{id}/outcome")]
pub async fn record_outcome(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(outcome): Json<Outcome>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let view = follow_ups::record_outcome(conn, now, caller, &id, outcome)?;
        Ok(Reply::ok(&view).etag(view.version))
    })
    .await
}

/// Read the follow-up policy.
///
/// The employer's: how many days after completion its orders' follow-ups are due (default 90
/// and 180, 002).
#[utoipa::path(
    tag = "follow-ups",
    security(("bearer" = ["employer"])),
    responses(
        (status = 200, description = "The policy", body = FollowUpPolicyView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/follow-up-policy")]
pub async fn get_policy(
    state: web::Data<AppState>,
    caller: Caller<Employers>,
) -> ApiResult<HttpResponse> {
    let view = respond::read(&state, move |conn, _| follow_ups::policy(conn, &caller)).await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Set the follow-up policy.
///
/// 0 to 2 follow-ups, each 14 to 730 days after completion, ascending. Orders completed from
/// then on follow it, unless completing names their own. `If-Match` is honoured.
#[utoipa::path(
    tag = "follow-ups",
    security(("bearer" = ["employer"])),
    params(("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if it changed since")),
    request_body = FollowUpPolicy,
    responses(
        (status = 200, description = "The policy", body = FollowUpPolicyView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/follow-up-policy")]
pub async fn put_policy(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    Json(policy): Json<FollowUpPolicy>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let view = respond::call(&state, move |conn, now| {
        follow_ups::set_policy(conn, now, &caller, expected, policy)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}
