//! A coach's availability: `GET/PUT /coaches/{id}/availability`,
//! `GET /coaches/{id}/free-slots`. The rules are `domain::availability`.

use actix_web::{get, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::if_match;
use crate::api::respond::{self, Reply};
use crate::auth::extract::{Caller, ProviderStaff};
use crate::domain::availability::AvailabilityRules;
use crate::error::{ApiError, ApiResult};
use crate::service::availability::{self, SlotQuery};
use crate::state::AppState;
use crate::views::session::{AvailabilityView, FreeSlots};

/// Read a coach's availability.
///
/// For the coach and the provider's planners. Times are wall-clock times in the coach's time
/// zone (`time_zone`, set on the coach).
#[utoipa::path(
    tag = "availability",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The coach's id")),
    responses(
        (status = 200, description = "The availability (empty, version 0, before the first save)", body = AvailabilityView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/coaches/{id}/availability")]
pub async fn get_availability(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let view = respond::read(&state, move |conn, _| availability::get(conn, &caller, &id)).await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Replace a coach's availability.
///
/// Weekly working hours (several intervals a day) in the coach's time zone, the buffer between
/// sessions, the minimum notice, a daily maximum, and dated exceptions: a day off, hours off,
/// extra hours. On the days the clocks change, an interval means the hours the coach's clock
/// shows: one that spans the missing hour is an hour shorter, one that spans the repeated hour
/// an hour longer. Sessions booked already stay. `If-Match` is honoured.
#[utoipa::path(
    tag = "availability",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The coach's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if it changed since")),
    request_body = AvailabilityRules,
    responses(
        (status = 200, description = "The saved availability", body = AvailabilityView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/coaches/{id}/availability")]
pub async fn put_availability(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Json(rules): Json<AvailabilityRules>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let view = respond::call(&state, move |conn, now| {
        availability::replace(conn, now, &caller, &id, expected, rules)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FreeSlotParams {
    /// The window's start (RFC 3339).
    #[serde(default, deserialize_with = "crate::api::parse::rfc3339")]
    #[param(value_type = DateTime<Utc>, required = true)]
    pub from: Option<DateTime<Utc>>,
    /// The window's end (RFC 3339), at most 62 days after `from`.
    #[serde(default, deserialize_with = "crate::api::parse::rfc3339")]
    #[param(value_type = DateTime<Utc>, required = true)]
    pub to: Option<DateTime<Utc>>,
    /// The session's length in minutes: 15 to 240, in steps of 5.
    #[param(minimum = 15, maximum = 240, multiple_of = 5)]
    pub duration: u32,
    /// The IANA time zone to write `local_start` in (the coach's by default).
    #[param(example = "Europe/Amsterdam")]
    pub time_zone: Option<String>,
}

impl FreeSlotParams {
    /// The query, with `from` and `to` required.
    pub fn query(self) -> ApiResult<SlotQuery> {
        Ok(SlotQuery {
            from: self
                .from
                .ok_or_else(|| ApiError::invalid_field("from", "is required"))?,
            to: self
                .to
                .ok_or_else(|| ApiError::invalid_field("to", "is required"))?,
            duration_minutes: self.duration,
            time_zone: self.time_zone,
        })
    }
}

/// A coach's free slots.
///
/// The start times in `[from, to)` at which a session of `duration` minutes fits: inside the
/// working hours and exceptions, after the minimum notice, clear of booked sessions and the
/// buffer around them, on days below the daily maximum. Starts are on a 15-minute grid from the
/// start of each working interval.
#[utoipa::path(
    tag = "availability",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The coach's id"), FreeSlotParams),
    responses(
        (status = 200, description = "The free slots, in order", body = FreeSlots),
    )
)]
#[get("/coaches/{id}/free-slots")]
pub async fn free_slots(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Query(params): Query<FreeSlotParams>,
) -> ApiResult<web::Json<FreeSlots>> {
    let query = params.query()?;
    let id = id.to_string();
    respond::read(&state, move |conn, now| {
        availability::free_slots(conn, now, &caller, &id, query)
    })
    .await
    .map(web::Json)
}
