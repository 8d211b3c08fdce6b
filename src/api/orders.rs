//! Orders: commission (`POST /orders`), list, read, edit, and the lifecycle actions
//! (assign, contact, cancel, extend, complete), the timeline and coach suggestions.
//!
//! Who sees what is `domain::visibility`; what is allowed when is `domain::order`.

use actix_web::http::header;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::pagination::PageRequest;
use crate::api::{etag, if_match, IfMatch};
use crate::auth::extract::{Caller, Employers, ProviderAdmins, ProviderStaff, Staff};
use crate::db::orders::{self as store, Order, OrderFilter, OrderScope};
use crate::db::{self, coaches, identity, DbConnection};
use crate::domain::coach as coach_rules;
use crate::domain::contact;
use crate::domain::intake::MIN_SUBSTANTIATION;
use crate::domain::matching::{self, Candidate, MatchRequest, Suggestion};
use crate::domain::order::{
    allowed_actions, IntakeDecision, OrderAction, OrderDetails, OrderStatus, ReasonSource,
    SessionFormat, TrajectoryKind,
};
use crate::domain::principal::{Principal, Role};
use crate::domain::visibility::Audience;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::service::coaching;
use crate::service::orders::{self as lifecycle, Visible};
use crate::state::AppState;

/// Sessions ordered when the employer does not say (002).
pub const DEFAULT_SESSIONS: u32 = 8;
/// Months a trajectory runs when the employer does not say (002).
pub const DEFAULT_MONTHS: u32 = 6;
const MAX_TEXT: usize = 2000;

/// The person the trajectory is for. A name and a way to reach them is enough (004).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Coachee {
    #[schema(example = "Sam de Boer")]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "sam.deboer@acme.example")]
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(example = "+31 6 1234 5678")]
    #[schema(pattern = r"^[0-9 +().-]{6,30}$")]
    pub phone: Option<String>,
}

/// A new order. Only `coachee` is required.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrder {
    pub coachee: Coachee,
    pub job_title: Option<String>,
    pub department: Option<String>,
    /// The employee's id in your HR system.
    pub employee_ref: Option<String>,
    /// Why the trajectory is ordered.
    pub reason: Option<String>,
    pub reason_source: Option<ReasonSource>,
    /// What you hope the trajectory achieves.
    pub hoped_goals: Option<String>,
    pub kind: Option<TrajectoryKind>,
    /// Context tags for the coach match, e.g. `technical_background`.
    #[serde(default)]
    pub context: Vec<String>,
    pub preferred_format: Option<SessionFormat>,
    /// ISO 639-1 code.
    #[schema(pattern = "^[a-z]{2}$")]
    pub preferred_language: Option<String>,
    pub desired_start: Option<NaiveDate>,
    /// Sessions paid for (default 8; the intake is free and not counted).
    #[schema(minimum = 1, maximum = 50)]
    pub session_budget: Option<u32>,
    /// Default: the start plus 6 months.
    pub end_date: Option<NaiveDate>,
    #[serde(default)]
    pub assessment_wanted: bool,
    /// Your reference, unique among your orders: a second order with it is a 409 naming the first.
    #[schema(min_length = 1, max_length = 100)]
    pub external_ref: Option<String>,
    pub purchase_order: Option<String>,
}

/// Changes to an order while nothing has started; absent (or null) fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderChanges {
    pub coachee: Option<CoacheeChanges>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub employee_ref: Option<String>,
    pub reason: Option<String>,
    pub reason_source: Option<ReasonSource>,
    pub hoped_goals: Option<String>,
    pub kind: Option<TrajectoryKind>,
    pub context: Option<Vec<String>>,
    pub preferred_format: Option<SessionFormat>,
    #[schema(pattern = "^[a-z]{2}$")]
    pub preferred_language: Option<String>,
    pub desired_start: Option<NaiveDate>,
    #[schema(minimum = 1, maximum = 50)]
    pub session_budget: Option<u32>,
    pub end_date: Option<NaiveDate>,
    pub assessment_wanted: Option<bool>,
    #[schema(min_length = 1, max_length = 100)]
    pub external_ref: Option<String>,
    pub purchase_order: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CoacheeChanges {
    pub name: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(pattern = r"^[0-9 +().-]{6,30}$")]
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoachSummary {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactStatus {
    /// When first contact with the coachee is due (the same working day, 004).
    pub due_at: DateTime<Utc>,
    pub contacted_at: Option<DateTime<Utc>>,
    pub channel: Option<ContactChannel>,
    /// Not contacted and past due.
    pub overdue: bool,
}

/// What the coachee agreed to share with the employer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SharedSummary {
    /// The goals agreed in the plan.
    pub goals: Vec<String>,
    /// The solution recommended instead of coaching, if that was the intake's outcome.
    pub alternative: Option<String>,
}

/// An order, as much as the caller may see. An employer never sees coaching content; it sees
/// the agreed goals only when the coachee consented to share them.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    #[schema(format = Uuid)]
    pub id: String,
    pub status: OrderStatus,
    /// Also the `ETag`.
    pub version: i32,
    pub coachee: Coachee,
    #[serde(flatten)]
    pub details: OrderDetails,
    pub kind: Option<TrajectoryKind>,
    pub context: Vec<String>,
    pub session_budget: i32,
    pub end_date: NaiveDate,
    /// Employer and provider only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coach: Option<CoachSummary>,
    pub contact: ContactStatus,
    pub intake_decision: Option<IntakeDecision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_summary: Option<SharedSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// What the caller may do now.
    pub allowed_actions: Vec<OrderAction>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactChannel {
    Phone,
    Email,
    Video,
    InPerson,
}

impl ContactChannel {
    fn as_str(self) -> &'static str {
        match self {
            ContactChannel::Phone => "phone",
            ContactChannel::Email => "email",
            ContactChannel::Video => "video",
            ContactChannel::InPerson => "in_person",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Phone, Self::Email, Self::Video, Self::InPerson]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

/// Extra facts a view may show.
#[derive(Debug, Default)]
pub struct ViewExtras {
    pub coach_name: Option<String>,
    pub summary: Option<SharedSummary>,
}

impl OrderView {
    pub fn build(
        order: &Order,
        audience: Audience,
        role: Role,
        extras: ViewExtras,
        now: DateTime<Utc>,
    ) -> ApiResult<Self> {
        let status: OrderStatus = order.status.parse().map_err(anyhow::Error::msg)?;
        let mut details: OrderDetails =
            serde_json::from_str(&order.details).map_err(anyhow::Error::from)?;
        if !audience.sees_commercial() {
            details.purchase_order = None;
        }
        let due = order.contact_due_at.and_utc();
        Ok(OrderView {
            id: order.id.clone(),
            status,
            version: order.version,
            coachee: Coachee {
                name: order.coachee_name.clone(),
                email: order.coachee_email.clone(),
                phone: order.coachee_phone.clone(),
            },
            details,
            kind: order.kind.as_deref().and_then(|k| k.parse().ok()),
            context: db::from_json_text(&order.context),
            session_budget: order.session_budget,
            end_date: order.end_date,
            external_ref: order
                .external_ref
                .clone()
                .filter(|_| audience.sees_commercial()),
            coach: match (&order.coach_id, extras.coach_name) {
                (Some(id), Some(name)) => Some(CoachSummary {
                    id: id.clone(),
                    name,
                }),
                _ => None,
            },
            contact: ContactStatus {
                due_at: due,
                contacted_at: order.contacted_at.map(|t| t.and_utc()),
                channel: order
                    .contact_channel
                    .as_deref()
                    .and_then(ContactChannel::parse),
                overdue: status.awaits_contact()
                    && contact::is_overdue(due, order.contacted_at.is_some(), now),
            },
            intake_decision: order
                .intake_decision
                .as_deref()
                .and_then(|d| d.parse().ok()),
            shared_summary: extras.summary,
            cancel_reason: order
                .cancel_reason
                .clone()
                .filter(|_| audience != Audience::Coachee),
            allowed_actions: allowed_actions(status)
                .into_iter()
                .filter(|a| a.roles().contains(&role))
                .collect(),
            created_at: order.created_at.and_utc(),
            updated_at: order.updated_at.and_utc(),
        })
    }
}

/// The summary the audience may see: for the employer only with the coachee's consent.
pub fn shared_summary(
    conn: &mut DbConnection,
    visible: &Visible,
) -> ApiResult<Option<SharedSummary>> {
    let consented = coaching::consent_given(conn, &visible.order.id, "share_summary")?;
    if !visible.audience.sees_shared_summary(consented) {
        return Ok(None);
    }
    let (plan, _) = coaching::load_plan(conn, &visible.order.id)?;
    let alternative = match visible.order.intake_decision.as_deref() {
        Some("alternative") => {
            coaching::load_intake(conn, &visible.order.id)?
                .0
                .alternative
        }
        _ => None,
    };
    if plan.goals.is_empty() && alternative.is_none() {
        return Ok(None);
    }
    Ok(Some(SharedSummary {
        goals: plan.goals.into_iter().map(|g| g.description).collect(),
        alternative,
    }))
}

/// The full view of one visible order.
pub fn view(
    conn: &mut DbConnection,
    caller: &Principal,
    visible: &Visible,
) -> ApiResult<OrderView> {
    let coach_name = match &visible.order.coach_id {
        Some(id) => coaches::find(conn, id)?.map(|c| c.name),
        None => None,
    };
    let summary = shared_summary(conn, visible)?;
    OrderView::build(
        &visible.order,
        visible.audience,
        caller.role,
        ViewExtras {
            coach_name,
            summary,
        },
        Utc::now(),
    )
}

fn order_response(status: actix_web::http::StatusCode, view: &OrderView) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(view.version)))
        .json(view)
}

fn text(pointer: &str, value: &Option<String>, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(v) = value {
        if v.trim().is_empty() {
            errors.push(FieldError::new(pointer, "must not be empty when given"));
        } else if v.chars().count() > max {
            errors.push(FieldError::new(
                pointer,
                format!("must be at most {max} characters"),
            ));
        }
    }
}

fn validate_phone(pointer: &str, phone: &Option<String>, errors: &mut Vec<FieldError>) {
    if let Some(p) = phone {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        let allowed = p
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !allowed || !(6..=15).contains(&digits) {
            errors.push(FieldError::new(
                pointer,
                "is not a phone number (6 to 15 digits, with + - ( ) . or spaces)",
            ));
        }
    }
}

/// The details part of an order, validated.
fn validate_details(details: &OrderDetails, errors: &mut Vec<FieldError>) {
    text("/job_title", &details.job_title, 200, errors);
    text("/department", &details.department, 200, errors);
    text("/employee_ref", &details.employee_ref, 100, errors);
    text("/reason", &details.reason, MAX_TEXT, errors);
    text("/hoped_goals", &details.hoped_goals, MAX_TEXT, errors);
    text("/purchase_order", &details.purchase_order, 100, errors);
    if let Some(language) = &details.preferred_language {
        coach_rules::validate_languages(
            "/preferred_language",
            std::slice::from_ref(language),
            errors,
        );
        if let Some(e) = errors
            .last_mut()
            .filter(|e| e.pointer == "/preferred_language/0")
        {
            e.pointer = "/preferred_language".into();
        }
    }
}

fn validate_coachee(
    name: Option<&str>,
    email: &Option<String>,
    phone: &Option<String>,
    errors: &mut Vec<FieldError>,
) {
    if let Some(name) = name {
        coach_rules::validate_name("/coachee/name", name, errors);
    }
    if let Some(email) = email {
        coach_rules::validate_email("/coachee/email", email, errors);
    }
    validate_phone("/coachee/phone", phone, errors);
}

fn validate_budget(budget: Option<u32>, errors: &mut Vec<FieldError>) {
    if budget.is_some_and(|b| !(1..=50).contains(&b)) {
        errors.push(FieldError::new(
            "/session_budget",
            "must be between 1 and 50",
        ));
    }
}

fn reject(errors: Vec<FieldError>) -> ApiResult<()> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

fn duplicate_ref(existing: &Order) -> ApiError {
    let mut extensions = serde_json::Map::new();
    extensions.insert("existing_order_id".into(), json!(existing.id));
    extensions.insert(
        "existing_order".into(),
        json!(format!("/api/v1/orders/{}", existing.id)),
    );
    ApiError::Conflict {
        detail: "an order with this external_ref exists already".into(),
        extensions,
    }
}

/// Commission a trajectory.
///
/// A name and an email or phone number are enough to start (004); everything else can follow.
/// The order goes to your organisation's contracted provider, which should make first contact
/// the same working day: `contact.due_at` says when.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
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
    Json(body): Json<NewOrder>,
) -> ApiResult<HttpResponse> {
    let details = OrderDetails {
        job_title: body.job_title,
        department: body.department,
        employee_ref: body.employee_ref,
        reason: body.reason,
        reason_source: body.reason_source,
        hoped_goals: body.hoped_goals,
        preferred_format: body.preferred_format,
        preferred_language: body.preferred_language,
        desired_start: body.desired_start,
        assessment_wanted: body.assessment_wanted,
        purchase_order: body.purchase_order,
    };
    let mut errors = vec![];
    validate_coachee(
        Some(&body.coachee.name),
        &body.coachee.email,
        &body.coachee.phone,
        &mut errors,
    );
    if body.coachee.email.is_none() && body.coachee.phone.is_none() {
        errors.push(FieldError::new(
            "/coachee",
            "needs an email or a phone number to reach the coachee",
        ));
    }
    validate_details(&details, &mut errors);
    coach_rules::validate_specialisms("/context", &body.context, &mut errors);
    validate_budget(body.session_budget, &mut errors);
    text("/external_ref", &body.external_ref, 100, &mut errors);
    let start = details
        .desired_start
        .unwrap_or_else(|| Utc::now().date_naive());
    let end_date = body.end_date.unwrap_or_else(|| {
        start
            .checked_add_months(Months::new(DEFAULT_MONTHS))
            .unwrap_or(start)
    });
    if end_date < start {
        errors.push(FieldError::new("/end_date", "must not be before the start"));
    }
    reject(errors)?;
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let employer = identity::find_organisation(conn, &caller.organisation_id)?.ok_or(
                ApiError::InvalidToken("the token's organisation no longer exists"),
            )?;
            let provider_id = employer.provider_id.ok_or_else(|| {
                ApiError::validation(vec![FieldError::new(
                    "/",
                    "your organisation has no contracted coaching provider to send the order to",
                )])
            })?;
            let provider = identity::find_organisation(conn, &provider_id)?
                .ok_or_else(|| anyhow::anyhow!("contracted provider missing"))?;
            if let Some(external_ref) = &body.external_ref {
                if let Some(existing) =
                    store::find_by_external_ref(conn, &employer.id, external_ref)?
                {
                    return Err(duplicate_ref(&existing));
                }
            }
            let now = db::now();
            let zone = provider
                .time_zone
                .parse()
                .unwrap_or(chrono_tz::Europe::Amsterdam);
            let order = Order {
                id: db::new_id(),
                employer_id: employer.id.clone(),
                provider_id: provider.id.clone(),
                status: OrderStatus::Submitted.as_str().into(),
                version: 1,
                coachee_name: body.coachee.name.trim().to_string(),
                coachee_email: body.coachee.email.map(|e| e.trim().to_lowercase()),
                coachee_phone: body.coachee.phone.map(|p| p.trim().to_string()),
                kind: body.kind.map(|k| k.as_str().to_string()),
                context: db::to_json_text(&body.context),
                details: serde_json::to_string(&details).map_err(anyhow::Error::from)?,
                session_budget: body.session_budget.unwrap_or(DEFAULT_SESSIONS) as i32,
                end_date,
                external_ref: body.external_ref,
                coach_id: None,
                contact_due_at: contact::contact_due_at(now.and_utc(), zone).naive_utc(),
                contacted_at: None,
                contact_channel: None,
                intake_decision: None,
                completed_at: None,
                cancelled_at: None,
                cancel_reason: None,
                created_by: caller.subject.clone(),
                created_at: now,
                updated_at: now,
            };
            store::insert(conn, &order).map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => ApiError::conflict("an order with this external_ref exists already"),
                other => other.into(),
            })?;
            lifecycle::record_event(
                conn,
                &caller,
                &order.id,
                "order.created",
                None,
                OrderStatus::Submitted,
                json!({"contact_due_at": order.contact_due_at.and_utc()}),
            )?;
            let visible = Visible {
                order,
                audience: Audience::Employer,
                status: OrderStatus::Submitted,
            };
            view(conn, &caller, &visible)
        })
    })
    .await?;
    tracing::info!(order_id = %view.id, "order created");
    let mut response = order_response(actix_web::http::StatusCode::CREATED, &view);
    response.headers_mut().insert(
        header::LOCATION,
        header::HeaderValue::from_str(&format!("/api/v1/orders/{}", view.id)).expect("ascii"),
    );
    Ok(response)
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
    pub updated_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub data: Vec<OrderView>,
    pub next_cursor: Option<String>,
}

/// List orders.
///
/// An employer lists its own orders, a coach the orders assigned to them, a planner all orders
/// addressed to the provider. The list leaves out `shared_summary`; read one order for it.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
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
) -> ApiResult<web::Json<OrderPage>> {
    let page = PageRequest::new(params.limit, params.cursor.as_deref())?;
    let caller = caller.0;
    let result = db::run(&state.pool, move |conn| {
        let (scope, audience) = match caller.role {
            Role::Employer => (
                OrderScope::Employer(caller.organisation_id.clone()),
                Audience::Employer,
            ),
            Role::ProviderAdmin => (
                OrderScope::Provider(caller.organisation_id.clone()),
                Audience::ProviderAdmin,
            ),
            Role::Coach => match coaches::find_by_user(conn, &caller.subject)? {
                Some(coach) => (OrderScope::Coach(coach.id), Audience::Coach),
                None => {
                    return Ok(OrderPage {
                        data: vec![],
                        next_cursor: None,
                    })
                }
            },
            Role::Coachee => {
                return Err(ApiError::Forbidden(
                    "coachees read GET /coachee/order".into(),
                ))
            }
        };
        let now = Utc::now();
        let filter = OrderFilter {
            scope,
            status: params.status.map(|s| s.as_str().to_string()),
            coach_id: params.coach_id.map(|c| c.to_string()),
            kind: params.kind.map(|k| k.as_str().to_string()),
            overdue_at: (params.contact_overdue == Some(true)).then(|| now.naive_utc()),
            not_overdue_at: (params.contact_overdue == Some(false)).then(|| now.naive_utc()),
            updated_since: params.updated_since.map(|t| t.naive_utc()),
            after: page.after.clone(),
            limit: page.fetch(),
        };
        let rows = store::list(conn, &filter)?;
        let (rows, next_cursor) = page.finish(rows, |o| &o.id);
        let coach_ids: Vec<String> = rows.iter().filter_map(|o| o.coach_id.clone()).collect();
        let names = coaches::names(conn, &coach_ids)?;
        let data = rows
            .iter()
            .map(|order| {
                let coach_name = order.coach_id.as_ref().and_then(|id| {
                    names
                        .iter()
                        .find(|(cid, _)| cid == id)
                        .map(|(_, n)| n.clone())
                });
                OrderView::build(
                    order,
                    audience,
                    caller.role,
                    ViewExtras {
                        coach_name,
                        summary: None,
                    },
                    now,
                )
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(OrderPage { data, next_cursor })
    })
    .await?;
    Ok(web::Json(result))
}

/// Read an order.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
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
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        let visible = lifecycle::load(conn, &caller, &id)?;
        view(conn, &caller, &visible)
    })
    .await?;
    Ok(order_response(actix_web::http::StatusCode::OK, &view))
}

/// Change an order while nothing has started.
///
/// The employer may change its order while it is `submitted` or `accepted`. `If-Match` with the
/// `ETag` you read is required: a stale version is a 412.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
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
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
    Json(changes): Json<OrderChanges>,
) -> ApiResult<HttpResponse> {
    let precondition = if_match(&req)?;
    if precondition == IfMatch::Absent {
        return Err(ApiError::PreconditionRequired(
            "send If-Match with the order's ETag to change it".into(),
        ));
    }
    let expected = precondition.version();
    let mut errors = vec![];
    if let Some(c) = &changes.coachee {
        validate_coachee(c.name.as_deref(), &c.email, &c.phone, &mut errors);
    }
    if let Some(context) = &changes.context {
        coach_rules::validate_specialisms("/context", context, &mut errors);
    }
    validate_budget(changes.session_budget, &mut errors);
    text("/external_ref", &changes.external_ref, 100, &mut errors);
    reject(errors)?;
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let view = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            let to = lifecycle::check(&caller, &visible, OrderAction::Edit, None)?;
            ApiError::check_version("order", visible.order.version, expected)?;
            let mut order = visible.order.clone();
            let mut details: OrderDetails =
                serde_json::from_str(&order.details).map_err(anyhow::Error::from)?;
            macro_rules! set {
                ($($field:ident),+) => {$(
                    if let Some(v) = changes.$field { details.$field = Some(v); }
                )+};
            }
            set!(
                job_title,
                department,
                employee_ref,
                reason,
                reason_source,
                hoped_goals,
                preferred_format,
                preferred_language,
                desired_start,
                purchase_order
            );
            if let Some(v) = changes.assessment_wanted {
                details.assessment_wanted = v;
            }
            let mut errors = vec![];
            validate_details(&details, &mut errors);
            if let Some(c) = changes.coachee {
                if let Some(name) = c.name {
                    order.coachee_name = name.trim().to_string();
                }
                if let Some(email) = c.email {
                    order.coachee_email = Some(email.trim().to_lowercase());
                }
                if let Some(phone) = c.phone {
                    order.coachee_phone = Some(phone.trim().to_string());
                }
            }
            if let Some(kind) = changes.kind {
                order.kind = Some(kind.as_str().to_string());
            }
            if let Some(context) = changes.context {
                order.context = db::to_json_text(&context);
            }
            if let Some(budget) = changes.session_budget {
                order.session_budget = budget as i32;
            }
            if let Some(end) = changes.end_date {
                order.end_date = end;
            }
            if details
                .desired_start
                .is_some_and(|start| order.end_date < start)
            {
                errors.push(FieldError::new("/end_date", "must not be before the start"));
            }
            reject(errors)?;
            if let Some(external_ref) = changes.external_ref {
                if let Some(existing) =
                    store::find_by_external_ref(conn, &order.employer_id, &external_ref)?
                {
                    if existing.id != order.id {
                        return Err(duplicate_ref(&existing));
                    }
                }
                order.external_ref = Some(external_ref);
            }
            order.details = serde_json::to_string(&details).map_err(anyhow::Error::from)?;
            let order = lifecycle::save(
                conn,
                &caller,
                order,
                visible.status,
                to,
                "order.updated",
                json!({}),
            )?;
            view(conn, &caller, &Visible { order, ..visible })
        })
    })
    .await?;
    Ok(order_response(actix_web::http::StatusCode::OK, &view))
}

/// Runs one lifecycle action on an order inside a write transaction and answers with the order.
async fn act<F>(state: &AppState, caller: Principal, id: Uuid, f: F) -> ApiResult<HttpResponse>
where
    F: FnOnce(&mut DbConnection, &Principal, Visible) -> ApiResult<Order> + Send + 'static,
{
    let id = id.to_string();
    let view = db::run(&state.pool, move |conn| {
        db::write(conn, |conn| {
            let visible = lifecycle::load(conn, &caller, &id)?;
            let audience = visible.audience;
            let order = f(conn, &caller, visible)?;
            let status = order.status.parse().map_err(anyhow::Error::msg)?;
            view(
                conn,
                &caller,
                &Visible {
                    order,
                    audience,
                    status,
                },
            )
        })
    })
    .await?;
    Ok(order_response(actix_web::http::StatusCode::OK, &view))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// An active coach of the provider.
    #[schema(format = Uuid)]
    pub coach_id: String,
}

/// Assign a coach.
///
/// The provider's planner sets (or changes) the coach; a submitted order becomes `accepted`.
/// `GET /orders/{id}/coach-suggestions` ranks the candidates.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
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
    Json(body): Json<AssignRequest>,
) -> ApiResult<HttpResponse> {
    act(
        &state,
        caller.0,
        id.into_inner(),
        move |conn, caller, visible| {
            let to = lifecycle::check(caller, &visible, OrderAction::Assign, None)?;
            let coach = coaches::find(conn, &body.coach_id)?
                // A coach without a login could never run the intake.
                .filter(|c| {
                    c.organisation_id == visible.order.provider_id
                        && c.active
                        && c.user_id.is_some()
                })
                .ok_or_else(|| {
                    ApiError::validation(vec![FieldError::new(
                        "/coach_id",
                        "is not an active coach of this provider with a login",
                    )])
                })?;
            let mut order = visible.order.clone();
            let event = if order.coach_id.is_none() {
                "order.accepted"
            } else {
                "order.coach_changed"
            };
            order.coach_id = Some(coach.id.clone());
            lifecycle::save(
                conn,
                caller,
                order,
                visible.status,
                to,
                event,
                json!({"coach_id": coach.id}),
            )
        },
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactRequest {
    /// How the coachee was reached.
    pub channel: ContactChannel,
    /// When; default now. Not in the future.
    pub contacted_at: Option<DateTime<Utc>>,
}

/// Record first contact with the coachee.
///
/// The provider should reach the coachee the same working day (004).
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = ContactRequest,
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
    Json(body): Json<ContactRequest>,
) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let at = body.contacted_at.unwrap_or(now);
    if at > now + chrono::Duration::minutes(5) {
        return Err(ApiError::validation(vec![FieldError::new(
            "/contacted_at",
            "must not be in the future",
        )]));
    }
    act(
        &state,
        caller.0,
        id.into_inner(),
        move |conn, caller, visible| {
            let to = lifecycle::check(caller, &visible, OrderAction::RecordContact, None)?;
            if at.naive_utc() < visible.order.created_at {
                return Err(ApiError::validation(vec![FieldError::new(
                    "/contacted_at",
                    "must not be before the order was placed",
                )]));
            }
            if visible.order.contacted_at.is_some() {
                return Err(ApiError::conflict("first contact is already recorded"));
            }
            let mut order = visible.order.clone();
            order.contacted_at = Some(at.naive_utc());
            order.contact_channel = Some(body.channel.as_str().to_string());
            let overdue = contact::is_overdue(order.contact_due_at.and_utc(), false, at);
            lifecycle::save(
                conn,
                caller,
                order,
                visible.status,
                to,
                "order.contacted",
                json!({"channel": body.channel.as_str(), "contacted_at": at, "late": overdue}),
            )
        },
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Why; shown to the employer and the provider.
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Cancel an order.
///
/// By the employer or the provider, from any state before `completed`.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = CancelRequest,
    responses(
        (status = 200, description = "The cancelled order", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
    Json(body): Json<CancelRequest>,
) -> ApiResult<HttpResponse> {
    let mut errors = vec![];
    text("/reason", &Some(body.reason.clone()), MAX_TEXT, &mut errors);
    reject(errors)?;
    act(
        &state,
        caller.0,
        id.into_inner(),
        move |conn, caller, visible| {
            let to = lifecycle::check(caller, &visible, OrderAction::Cancel, None)?;
            let mut order = visible.order.clone();
            order.cancelled_at = Some(db::now());
            order.cancel_reason = Some(body.reason.trim().to_string());
            lifecycle::save(
                conn,
                caller,
                order,
                visible.status,
                to,
                "order.cancelled",
                json!({}),
            )
        },
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendRequest {
    /// Sessions to add to the budget.
    #[serde(default)]
    #[schema(maximum = 50)]
    pub additional_sessions: u32,
    /// A later end date.
    pub new_end_date: Option<NaiveDate>,
    /// Why coaching must last longer (002); at least 80 characters. Not shown to the employer.
    #[schema(min_length = 80, max_length = 2000)]
    pub substantiation: String,
    /// The other approach that was considered and why coaching still fits better (002).
    #[schema(min_length = 1, max_length = 2000)]
    pub alternative_considered: String,
}

/// Extend a running trajectory.
///
/// The principle is that the employee goes on under their own power within a few months; if
/// coaching must last longer, that needs a substantiation and the alternative named (002).
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = ExtendRequest,
    responses(
        (status = 200, description = "The order with its new budget or end", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/extend")]
pub async fn extend(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Json(body): Json<ExtendRequest>,
) -> ApiResult<HttpResponse> {
    let mut errors = vec![];
    if body.substantiation.trim().chars().count() < MIN_SUBSTANTIATION {
        errors.push(FieldError::new(
            "/substantiation",
            format!("must substantiate the extension in at least {MIN_SUBSTANTIATION} characters"),
        ));
    }
    text(
        "/substantiation",
        &Some(body.substantiation.clone()),
        MAX_TEXT,
        &mut errors,
    );
    text(
        "/alternative_considered",
        &Some(body.alternative_considered.clone()),
        MAX_TEXT,
        &mut errors,
    );
    if body.additional_sessions > 50 {
        errors.push(FieldError::new(
            "/additional_sessions",
            "must be at most 50",
        ));
    }
    if body.additional_sessions == 0 && body.new_end_date.is_none() {
        errors.push(FieldError::new(
            "/additional_sessions",
            "add sessions or give a new_end_date",
        ));
    }
    reject(errors)?;
    act(&state, caller.0, id.into_inner(), move |conn, caller, visible| {
        let to = lifecycle::check(caller, &visible, OrderAction::Extend, None)?;
        let mut order = visible.order.clone();
        if let Some(end) = body.new_end_date {
            if end <= order.end_date {
                return Err(ApiError::validation(vec![FieldError::new("/new_end_date", format!("must be after the current end date {}", order.end_date))]));
            }
            order.end_date = end;
        }
        order.session_budget += body.additional_sessions as i32;
        store::insert_extension(
            conn,
            &store::Extension {
                id: db::new_id(),
                order_id: order.id.clone(),
                added_sessions: body.additional_sessions as i32,
                new_end_date: order.end_date,
                substantiation: body.substantiation.trim().to_string(),
                alternative_considered: body.alternative_considered.trim().to_string(),
                created_by: caller.subject.clone(),
                created_at: db::now(),
            },
        )?;
        let data = json!({"added_sessions": body.additional_sessions, "session_budget": order.session_budget, "end_date": order.end_date});
        lifecycle::save(conn, caller, order, visible.status, to, "order.extended", data)
    })
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// The plan's pitfalls were reviewed with the coachee: each quality with "too" in front of it
    /// (000). Must be true.
    pub pitfalls_reviewed: bool,
}

/// Complete a trajectory.
///
/// Before finishing, the pitfalls are reviewed (000); only then is the trajectory done.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = CompleteRequest,
    responses(
        (status = 200, description = "The completed order", body = OrderView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/complete")]
pub async fn complete(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Json(body): Json<CompleteRequest>,
) -> ApiResult<HttpResponse> {
    if !body.pitfalls_reviewed {
        return Err(ApiError::validation(vec![FieldError::new(
            "/pitfalls_reviewed",
            "review the plan's pitfalls with the coachee before completing (000)",
        )]));
    }
    act(
        &state,
        caller.0,
        id.into_inner(),
        move |conn, caller, visible| {
            let to = lifecycle::check(caller, &visible, OrderAction::Complete, None)?;
            let mut order = visible.order.clone();
            order.completed_at = Some(db::now());
            lifecycle::save(
                conn,
                caller,
                order,
                visible.status,
                to,
                "order.completed",
                json!({}),
            )
        },
    )
    .await
}

/// One step in an order's life, without confidential content.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineEvent {
    #[schema(format = Uuid)]
    pub id: String,
    /// e.g. `order.created`, `order.accepted`, `intake.completed`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub from_status: Option<OrderStatus>,
    pub to_status: OrderStatus,
    pub actor_role: Role,
    pub occurred_at: DateTime<Utc>,
    /// Details of the step, for the provider's side; empty for the employer.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimelinePage {
    pub data: Vec<TimelineEvent>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An order's timeline.
///
/// Every transition, in order, with who (by role) and when.
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
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
    let page = PageRequest::new(params.limit, params.cursor.as_deref())?;
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let result = db::run(&state.pool, move |conn| {
        let visible = lifecycle::load(conn, &caller, &id)?;
        let rows = store::events(conn, &visible.order.id, page.after.as_deref(), page.fetch())?;
        let (rows, next_cursor) = page.finish(rows, |e| &e.id);
        let data = rows
            .into_iter()
            .map(|e| {
                Ok(TimelineEvent {
                    id: e.id,
                    event_type: e.event_type,
                    from_status: e
                        .from_status
                        .map(|s| s.parse())
                        .transpose()
                        .map_err(anyhow::Error::msg)?,
                    to_status: e.to_status.parse().map_err(anyhow::Error::msg)?,
                    actor_role: e.actor_role.parse().map_err(anyhow::Error::msg)?,
                    occurred_at: e.occurred_at.and_utc(),
                    data: if visible.audience.sees_event_details() {
                        serde_json::from_str(&e.data).unwrap_or_default()
                    } else {
                        json!({})
                    },
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(TimelinePage { data, next_cursor })
    })
    .await?;
    Ok(web::Json(result))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionList {
    /// Best fit first.
    pub data: Vec<Suggestion>,
}

/// Rank coaches for an order.
///
/// The provider's active coaches who can sign in, ranked by fit: the order's kind and context against their
/// specialisms, the preferred language, and their current load; each with its score and the
/// reasons in words (001, 000).
#[utoipa::path(
    tag = "orders",
    security(("bearer" = [])),
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
    let id = id.into_inner().to_string();
    let caller = caller.0;
    let data = db::run(&state.pool, move |conn| {
        let visible = lifecycle::load(conn, &caller, &id)?;
        let order = &visible.order;
        let coaches = coaches::list(
            conn,
            &coaches::CoachFilter {
                organisation_id: order.provider_id.clone(),
                active: Some(true),
                limit: 1000,
                ..Default::default()
            },
        )?;
        // Only coaches who can sign in can take an order.
        let coaches: Vec<_> = coaches
            .into_iter()
            .filter(|c| c.user_id.is_some())
            .collect();
        let ids: Vec<String> = coaches.iter().map(|c| c.id.clone()).collect();
        let load = store::load_of(conn, &ids)?;
        let specialisms: Vec<Vec<String>> = coaches
            .iter()
            .map(|c| db::from_json_text(&c.specialisms))
            .collect();
        let languages: Vec<Vec<String>> = coaches
            .iter()
            .map(|c| db::from_json_text(&c.languages))
            .collect();
        let candidates: Vec<Candidate> = coaches
            .iter()
            .enumerate()
            .map(|(i, c)| Candidate {
                coach_id: &c.id,
                name: &c.name,
                specialisms: &specialisms[i],
                languages: &languages[i],
                active_trajectories: load
                    .iter()
                    .find(|(id, _)| *id == c.id)
                    .map_or(0, |(_, n)| *n as u32),
            })
            .collect();
        let details: OrderDetails =
            serde_json::from_str(&order.details).map_err(anyhow::Error::from)?;
        let context = db::from_json_text(&order.context);
        let request = MatchRequest {
            kind: order.kind.as_deref(),
            context: &context,
            language: details.preferred_language.as_deref(),
        };
        Ok(matching::rank(&request, &candidates))
    })
    .await?;
    Ok(web::Json(SuggestionList { data }))
}
