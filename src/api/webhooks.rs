//! Webhooks (issue 18): `POST/GET /webhooks`, `GET/PATCH/DELETE /webhooks/{id}`,
//! `POST /webhooks/{id}/rotate-secret`, `POST /webhooks/{id}/ping`,
//! `GET /webhooks/{id}/deliveries`, `POST /webhooks/{id}/deliveries/{delivery_id}/redeliver`.

use actix_web::http::{header, StatusCode};
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::idempotency::IdempotencyKey;
use crate::api::respond::{self, Reply};
use crate::api::{if_match, page, PageParams};
use crate::auth::extract::{Caller, Subscribers};
use crate::delivery::Destination;
use crate::domain::webhook::{NewWebhook, WebhookChange};
use crate::error::{ApiError, ApiResult};
use crate::service::webhooks;
use crate::state::AppState;
use crate::views::webhook::{
    CreatedWebhook, DeliveryPage, DeliveryView, RotatedSecret, WebhookPage, WebhookView,
};

/// Checks `url` as a destination now (scheme, then every address its host resolves to).
async fn destination(state: &AppState, url: &str) -> ApiResult<Destination> {
    Destination::check(url, &state.webhooks)
        .await
        .map_err(|reason| ApiError::Unprocessable {
            detail: format!("the webhook URL {reason}"),
            errors: vec![crate::domain::FieldError::new("/url", reason)],
            extensions: Default::default(),
        })
}

/// Subscribe to events.
///
/// For an employer's HR users and systems, and the provider's planners: an `https` URL that
/// receives the organisation's events of the types named, as they happen, each a `POST` of one
/// event (the same object as in `GET /events`) signed by the Standard Webhooks scheme
/// (`webhook-id`, `webhook-timestamp`, `webhook-signature`). The URL must lead to a public
/// address, checked now and again at every delivery (422 otherwise); one subscription per URL
/// (409 `webhook-url-taken`, with `existing_webhook_id`). The answer holds the signing secret,
/// shown this once; it is not remembered under an `Idempotency-Key` (a credential), and a
/// retried create meets the first one's 409.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    request_body = NewWebhook,
    responses(
        (status = 201, description = "The subscription, with its secret (shown once)", body = CreatedWebhook,
            headers(("Location" = String, description = "the subscription's URL"))),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 422, response = crate::api::problems::Unprocessable),
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    Json(new): Json<NewWebhook>,
) -> ApiResult<HttpResponse> {
    let destination = destination(&state, &new.url).await?;
    let keys = state.notes_key.clone();
    let created = respond::call(&state, move |conn, now| {
        webhooks::create(conn, now, &caller, &keys, destination, new)
    })
    .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::LOCATION,
            format!("/api/v1/webhooks/{}", created.webhook.id),
        ))
        .insert_header((header::ETAG, format!("\"{}\"", created.webhook.version)))
        .json(created))
}

/// List the organisation's webhooks.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(PageParams),
    responses(
        (status = 200, description = "A page of subscriptions, oldest first", body = WebhookPage),
    )
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    Query(params): Query<PageParams>,
) -> ApiResult<web::Json<WebhookPage>> {
    let page = page(params.limit, params.cursor.as_deref())?;
    respond::read(&state, move |conn, now| {
        webhooks::list(conn, now, &caller, page)
    })
    .await
    .map(web::Json)
}

/// Get a webhook.
///
/// With why it is disabled, when it is (`disabled`): the receiver answered 410 Gone, or a
/// delivery failed for a day.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The subscription's id")),
    responses(
        (status = 200, description = "The subscription", body = WebhookView,
            headers(("ETag" = String, description = "the version, for `If-Match`"))),
    )
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let view = respond::read(&state, move |conn, now| {
        webhooks::get(conn, now, &caller, &id)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Change a webhook.
///
/// Its URL (checked as when subscribing), event types or description; `"enabled": true` enables
/// a disabled one again, and its pending deliveries go out in order; `false` disables it.
/// `If-Match` is honoured.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The subscription's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if it changed since")),
    request_body = WebhookChange,
    responses(
        (status = 200, description = "The subscription", body = WebhookView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
        (status = 422, response = crate::api::problems::Unprocessable),
    )
)]
#[patch("/webhooks/{id}")]
pub async fn update_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    id: web::Path<Uuid>,
    Json(change): Json<WebhookChange>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let destination = match &change.url {
        Some(url) => Some(destination(&state, url).await?),
        None => None,
    };
    let id = id.to_string();
    let view = respond::call(&state, move |conn, now| {
        webhooks::change(conn, now, &caller, &id, expected, destination, change)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Delete a webhook.
///
/// With its deliveries: nothing more is sent to it.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The subscription's id")),
    responses((status = 204, description = "Deleted"))
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::call(&state, move |conn, _| webhooks::delete(conn, &caller, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate a webhook's signing secret.
///
/// The answer holds the new secret, shown this once. For a day the previous secret signs beside
/// it (`webhook-signature` carries both, space-separated), so the receiver can change over
/// without missing a delivery. Not remembered under an `Idempotency-Key`: the secret is a
/// credential. `If-Match` is honoured.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The subscription's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if it changed since")),
    responses(
        (status = 200, description = "The new secret", body = RotatedSecret,
            headers(("ETag" = String, description = "the subscription's new version"))),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let keys = state.notes_key.clone();
    let rotated = respond::call(&state, move |conn, now| {
        webhooks::rotate_secret(conn, now, &caller, &keys, &id, expected)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::ETAG, format!("\"{}\"", rotated.version)))
        .json(rotated))
}

/// Send a ping.
///
/// A `ping` (`{"type": "ping", "webhook_id": …}`), signed like every delivery, ahead of the
/// subscription's pending events: to try a receiver. Watch it in the deliveries.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The subscription's id")),
    responses(
        (status = 202, description = "The ping, queued", body = DeliveryView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/webhooks/{id}/ping")]
pub async fn ping(
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let view = webhooks::ping(conn, now, caller, &id)?;
        Ok(Reply::json(StatusCode::ACCEPTED, &view))
    })
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryListParams {
    /// Only deliveries in this state.
    #[param(pattern = "^(pending|delivered|failed)$")]
    pub status: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// List a webhook's deliveries.
///
/// Newest first, each with its attempts: when, the receiver's status code (or why none came),
/// the start of its answer, and how long it took.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The subscription's id"), DeliveryListParams),
    responses(
        (status = 200, description = "A page of deliveries, newest first", body = DeliveryPage),
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    id: web::Path<Uuid>,
    Query(params): Query<DeliveryListParams>,
) -> ApiResult<web::Json<DeliveryPage>> {
    if let Some(status) = &params.status {
        if !["pending", "delivered", "failed"].contains(&status.as_str()) {
            return Err(ApiError::invalid_field(
                "status",
                "must be pending, delivered or failed",
            ));
        }
    }
    let page = page(params.limit, params.cursor.as_deref())?;
    let id = id.to_string();
    respond::read(&state, move |conn, _| {
        webhooks::deliveries(conn, &caller, &id, params.status.as_deref(), page)
    })
    .await
    .map(web::Json)
}

/// Redeliver.
///
/// Sends the delivery again as soon as may be, with the same `webhook-id` (a receiver that has
/// it already drops it), whatever became of it: for a receiver that lost it, or one that was
/// down for longer than the day of retries. The subscription must be enabled (409
/// `webhook-disabled`).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = ["employer", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The subscription's id"),
        ("delivery_id" = Uuid, Path, description = "The delivery's id (its `webhook-id`)")),
    responses(
        (status = 202, description = "The delivery, pending", body = DeliveryView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    caller: Caller<Subscribers>,
    path: web::Path<(Uuid, Uuid)>,
    key: IdempotencyKey,
) -> ApiResult<HttpResponse> {
    let (id, delivery_id) = path.into_inner();
    let (id, delivery_id) = (id.to_string(), delivery_id.to_string());
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let view = webhooks::redeliver(conn, now, caller, &id, &delivery_id)?;
        Ok(Reply::json(StatusCode::ACCEPTED, &view))
    })
    .await
}
