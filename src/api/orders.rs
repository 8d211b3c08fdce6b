//! Orders: commission (`POST /orders`), list, read, edit, the lifecycle actions (assign, contact,
//! cancel, extend, complete), the timeline and coach suggestions. Each handler extracts, calls
//! its use case (`crate::service::orders`, `crate::service::order_reads`) and renders.

use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::{Json, OptionalJson, Query};
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::api::{page, require_if_match, PageParams};
use crate::auth::extract::{
    Caller, Coaches, ContractParties, Employers, ProviderAdmins, ProviderStaff, Staff,
};
use crate::domain::commission::{Cancellation, NewOrder, OrderChanges};
use crate::domain::contact::FirstContact;
use crate::domain::extension::{Completion, ExtensionRequest};
use crate::domain::order::{OrderStatus, TrajectoryKind};
use crate::error::ApiResult;
use crate::service::order_reads::{self, OrderQuery};
use crate::service::orders;
use crate::state::AppState;
use crate::views::order::{OrderPage, OrderView, SuggestionList, TimelinePage};

/// An order with its version as `ETag`.
pub fn order_reply(order: &OrderView) -> Reply {
    Reply::ok(order).etag(order.version)
}

/// Commission a trajectory.
///
/// A name and an email or phone number are enough to start (004); everything else can follow.
/// The order goes to your organisation's contracted provider, which should make first contact
/// the same working day: `contact.due_at` says when.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["employer"])),
    request_body = NewOrder,
    responses(
        (status = 201, description = "The order", body = OrderView,
            headers(("Location" = String, description = "the order's URL"), ("ETag" = String, description = "the version"))),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders")]
pub async fn create_order(
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    key: IdempotencyKey,
    Json(body): Json<NewOrder>,
) -> ApiResult<HttpResponse> {
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let order = orders::commission(conn, now, caller, body)?;
        Ok(Reply::created(&order)
            .etag(order.version)
            .location(format!("/api/v1/orders/{}", order.id)))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OrderListParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    #[param(inline)]
    pub status: Option<OrderStatus>,
    /// Orders of this coach.
    pub coach_id: Option<Uuid>,
    #[param(inline)]
    pub kind: Option<TrajectoryKind>,
    /// Only orders whose first contact is overdue (true) or not (false).
    pub contact_overdue: Option<bool>,
    /// Only orders changed at or after this time (for sync).
    #[serde(default, deserialize_with = "crate::api::parse::rfc3339")]
    pub updated_since: Option<DateTime<Utc>>,
}

/// List orders.
///
/// An employer lists its own orders, a coach the orders assigned to them, a planner all orders
/// addressed to the provider. The list leaves out `shared_summary`; read one order for it.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(OrderListParams),
    responses(
        (status = 200, description = "A page of orders, oldest first", body = OrderPage),
    )
)]
#[get("/orders")]
pub async fn list_orders(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    Query(params): Query<OrderListParams>,
) -> ApiResult<HttpResponse> {
    let query = OrderQuery {
        status: params.status,
        coach_id: params.coach_id.map(|c| c.to_string()),
        kind: params.kind,
        contact_overdue: params.contact_overdue,
        updated_since: params.updated_since,
        page: page(params.limit, params.cursor.as_deref())?,
    };
    let page = respond::read(&state, move |conn, now| {
        order_reads::list(conn, now, &caller, query)
    })
    .await?;
    Ok(Reply::page(&page, page.data.len()).into())
}

/// Read an order.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "The order, as much as the caller may see", body = OrderView,
            headers(("ETag" = String, description = "the version, for `If-Match`"))),
    )
)]
#[get("/orders/{id}")]
pub async fn get_order(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let order = respond::read(&state, move |conn, now| {
        order_reads::get(conn, now, &caller, &id)
    })
    .await?;
    Ok(order_reply(&order).into())
}

/// Change an order while nothing has started.
///
/// The employer may change its order while it is `submitted` or `accepted`. `If-Match` with the
/// `ETag` you read is required: a stale version is a 412.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["employer"])),
    params(
        ("id" = Uuid, Path, description = "The order's id"),
        ("If-Match" = String, Header, description = "The `ETag` last read (required)"),
    ),
    request_body = OrderChanges,
    responses(
        (status = 200, description = "The changed order", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
        (status = 428, response = crate::api::problems::PreconditionRequired),
    )
)]
#[patch("/orders/{id}")]
pub async fn update_order(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Employers>,
    id: web::Path<Uuid>,
    Json(changes): Json<OrderChanges>,
) -> ApiResult<HttpResponse> {
    let expected = require_if_match(&req, "the order")?;
    let id = id.to_string();
    let order = respond::call(&state, move |conn, now| {
        orders::edit(conn, now, &caller, &id, expected, changes)
    })
    .await?;
    Ok(order_reply(&order).into())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// An active coach of the provider who can sign in.
    #[schema(format = Uuid)]
    pub coach_id: String,
}

/// Assign a coach.
///
/// The provider's planner sets (or changes) the coach; a submitted order becomes `accepted`.
/// `GET /orders/{id}/coach-suggestions` ranks the candidates. Changing the coach calls off the
/// sessions planned with the previous one (for the provider: none counts); while the order is
/// `following_up`, the service then books the follow-ups still to come with the new coach.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/assign")]
pub async fn assign(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<AssignRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let horizon = state.follow_up_horizon_days;
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        orders::assign(conn, now, caller, &id, &body.coach_id, horizon).map(|o| order_reply(&o))
    })
    .await
}

/// Record first contact with the coachee.
///
/// The provider should reach the coachee the same working day (004). Recorded once.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = FirstContact,
    responses(
        (status = 200, description = "The order", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/contact")]
pub async fn record_contact(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<FirstContact>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        orders::record_contact(conn, now, caller, &id, body).map(|o| order_reply(&o))
    })
    .await
}

/// Cancel an order.
///
/// By the employer or the provider's planner, from any state before `completed`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = Cancellation,
    responses(
        (status = 200, description = "The cancelled order", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller<ContractParties>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<Cancellation>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        orders::cancel(conn, now, caller, &id, body).map(|o| order_reply(&o))
    })
    .await
}

/// Extend a running trajectory.
///
/// The principle is that the employee goes on under their own power within a few months; if
/// coaching must last longer, the coach substantiates it and names the alternative considered
/// (002).
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = ExtensionRequest,
    responses(
        (status = 200, description = "The order with its new budget or end", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/extend")]
pub async fn extend(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<ExtensionRequest>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        orders::extend(conn, now, caller, &id, body).map(|o| order_reply(&o))
    })
    .await
}

/// Complete a trajectory.
///
/// The coach and the coachee review the client's qualities with "too" in front of each first
/// (000, `PUT /orders/{id}/closing-review`): while the review has an error finding, completing is
/// a 422 with the findings. Completing keeps the review's summary with the order (the employer
/// reads it only with the coachee's consent to share), and plans the follow-ups (002): the
/// order's own `follow_up_days`, or the employer's policy (`GET /follow-up-policy`). The order
/// then follows up (`following_up`), or, with no follow-ups, is closed.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = Option<Completion>,
    responses(
        (status = 200, description = "The order, following up (or closed)", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/complete")]
pub async fn complete(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    OptionalJson(body): OptionalJson<Completion>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let horizon = state.follow_up_horizon_days;
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        orders::complete(conn, now, caller, &id, body, horizon).map(|o| order_reply(&o))
    })
    .await
}

/// An order's timeline.
///
/// Every transition, in order, with who (by role) and when.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id"), PageParams),
    responses(
        (status = 200, description = "The events, oldest first", body = TimelinePage),
    )
)]
#[get("/orders/{id}/timeline")]
pub async fn timeline(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
    Query(params): Query<PageParams>,
) -> ApiResult<web::Json<TimelinePage>> {
    let page = page(params.limit, params.cursor.as_deref())?;
    let id = id.to_string();
    respond::read(&state, move |conn, _| {
        order_reads::timeline(conn, &caller, &id, page)
    })
    .await
    .map(web::Json)
}

/// Rank coaches for an order.
///
/// The provider's active coaches who can sign in, ranked by fit: the order's kind and context
/// against their specialisms, the preferred language, and their current load; each with its
/// score and the reasons in words (001, 000).
#[utoipa::path(
    tag = "orders",
    security(("bearer" = ["provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    responses(
        (status = 200, description = "Suggestions, best first", body = SuggestionList),
    )
)]
#[get("/orders/{id}/coach-suggestions")]
pub async fn coach_suggestions(
    state: web::Data<AppState>,
    caller: Caller<ProviderAdmins>,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<SuggestionList>> {
    let id = id.to_string();
    let data = respond::read(&state, move |conn, _| {
        order_reads::coach_suggestions(conn, &caller, &id)
    })
    .await?;
    Ok(web::Json(SuggestionList { data }))
}
