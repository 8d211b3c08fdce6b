//! Sessions: `POST/GET /orders/{id}/sessions`, `POST /orders/{id}/sessions/series`, `GET /sessions`, `GET/PATCH /sessions/{id}`,
//! `POST /sessions/{id}/cancel`, `POST /sessions/{id}/attendance`, `GET/PUT /sessions/{id}/notes`. The rules are
//! `domain::session` and `domain::availability`; the use cases `crate::service::sessions`.

use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::api::extract::{Json, Query};
use crate::api::idempotency::IdempotencyKey;
use crate::api::if_match;
use crate::api::respond::{self, Reply};
use crate::api::PageParams;
use crate::auth::extract::{Caller, Coaches, ProviderStaff, Staff};
use crate::domain::session::{NewSeries, NewSession, SessionStatus};
use crate::error::{ApiError, ApiResult};
use crate::service::notes::{self, NotesInput, NotesView};
use crate::service::pagination::TimedPage;
use crate::service::sessions::{
    self, AttendanceRecord, SeriesOutcome, SessionCancellation, SessionChanges, SessionQuery,
};
use crate::state::AppState;
use crate::views::session::{SeriesBooked, SeriesPreview, SessionPage, SessionView};

/// Book a session on an order.
///
/// By the order's coach or the provider's planner. Every rule is its own problem type, with
/// what would be allowed:
/// - the order's state allows the kind (`session-kind-not-allowed`, with `allowed_kinds`): an
///   intake before the start decision (booking it moves the order to `intake_scheduled`; one at
///   a time, `intake-already-planned`), regular sessions and an assessment while it runs,
///   follow-ups after it;
/// - an assessment needs the coachee's consent (`assessment-consent-missing`);
/// - regular sessions stay within the budget (`session-budget-exhausted`); the intake never
///   counts, cancelled sessions do not;
/// - within the trajectory's end date (`outside-trajectory`, 422) and in the future
///   (`session-in-the-past`, 422);
/// - inside the coach's availability (`outside-availability`, 422, with the `reason` and the
///   nearest free `alternatives`), unless the coach books `outside_hours` on purpose;
/// - no overlap with the coach's other sessions and the buffer between them
///   (`coach-double-booked`, 409, with `alternatives`), nor with the coachee's
///   (`coachee-double-booked`). This holds under concurrency: of simultaneous bookings of one
///   slot, one succeeds.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = NewSession,
    responses(
        (status = 201, description = "The session was booked", body = SessionView,
            headers(("Location" = String, description = "the session's URL"), ("ETag" = String, description = "the version"))),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/sessions")]
pub async fn book_session(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<NewSession>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let session = sessions::book(conn, now, caller, &id, body)?;
        let reply = Reply::created(&session).location(format!("/api/v1/sessions/{}", session.id));
        Ok(reply.etag(session.version))
    })
    .await
}

/// List an order's sessions.
///
/// By start time. The employer sees dates, kind, format, status and attendance; not where, the
/// video link, or why a session was called off.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id"), PageParams),
    responses(
        (status = 200, description = "A page of sessions, by start", body = SessionPage),
    )
)]
#[get("/orders/{id}/sessions")]
pub async fn order_sessions(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
    Query(params): Query<PageParams>,
) -> ApiResult<web::Json<SessionPage>> {
    let page = TimedPage::new(params.limit, params.cursor.as_deref())
        .map_err(|e| ApiError::invalid_field(e.pointer, e.detail))?;
    let id = id.to_string();
    respond::read(&state, move |conn, _| {
        sessions::of_order(conn, &caller, &id, page)
    })
    .await
    .map(web::Json)
}

/// Get a session.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The session, as much as the caller may see", body = SessionView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/sessions/{id}")]
pub async fn get_session(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let session = respond::read(&state, move |conn, _| sessions::get(conn, &caller, &id)).await?;
    Ok(Reply::ok(&session).etag(session.version).into())
}

/// Cancel a session.
///
/// By the coach or the provider's planner, before it starts, saying why and on whose behalf. A
/// regular session the coachee's side calls off later than the provider's notice
/// (`late_cancellation_hours` in `GET /provider-settings`, 24 by default) counts against the
/// budget: the answer's `counts_against_budget` says so. Cancelling the only
/// planned intake puts the order back to `accepted`.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The session's id")),
    request_body = SessionCancellation,
    responses(
        (status = 200, description = "The cancelled session", body = SessionView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/sessions/{id}/cancel")]
pub async fn cancel_session(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<SessionCancellation>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let session = sessions::cancel(conn, now, caller, &id, body)?;
        Ok(Reply::ok(&session).etag(session.version))
    })
    .await
}

/// Record attendance.
///
/// By the session's coach, once it has started: `held` or `no_show`. A regular session uses one
/// of the budget either way.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The session's id")),
    request_body = AttendanceRecord,
    responses(
        (status = 200, description = "The session with its attendance", body = SessionView),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/sessions/{id}/attendance")]
pub async fn record_attendance(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<AttendanceRecord>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        let session = sessions::record_attendance(conn, now, caller, &id, body)?;
        Ok(Reply::ok(&session).etag(session.version))
    })
    .await
}

/// Reschedule a session.
///
/// By the coach or the provider's planner, while it is planned and has not started: a new start,
/// length or format, under the same checks as a booking (availability, the coach's and the
/// coachee's calendars, the trajectory's end). `If-Match` is honoured.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(
        ("id" = Uuid, Path, description = "The session's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if the session changed since"),
    ),
    request_body = SessionChanges,
    responses(
        (status = 200, description = "The rescheduled session", body = SessionView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 409, response = crate::api::problems::Conflict),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[patch("/sessions/{id}")]
pub async fn reschedule_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    Json(changes): Json<SessionChanges>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let session = respond::call(&state, move |conn, now| {
        sessions::reschedule(conn, now, &caller, &id, expected, changes)
    })
    .await?;
    Ok(Reply::ok(&session).etag(session.version).into())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SessionListParams {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only this coach's sessions.
    #[param(value_type = Option<Uuid>)]
    pub coach_id: Option<Uuid>,
    /// Only sessions starting at or after this time (RFC 3339).
    #[serde(default, deserialize_with = "crate::api::parse::rfc3339")]
    pub from: Option<DateTime<Utc>>,
    /// Only sessions starting before this time (RFC 3339).
    #[serde(default, deserialize_with = "crate::api::parse::rfc3339")]
    pub to: Option<DateTime<Utc>>,
    /// Only sessions in this status.
    pub status: Option<SessionStatus>,
}

/// List sessions.
///
/// Of the caller's orders, by start: an employer's own orders (dates, kind, format and
/// attendance), a planner's provider's, a coach's own sessions. For calendars and planning
/// boards: filter on `coach_id` and a `from`/`to` window.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["employer", "coach", "provider_admin"])),
    params(SessionListParams),
    responses(
        (status = 200, description = "A page of sessions, by start", body = SessionPage),
    )
)]
#[get("/sessions")]
pub async fn list_sessions(
    state: web::Data<AppState>,
    caller: Caller<Staff>,
    Query(params): Query<SessionListParams>,
) -> ApiResult<web::Json<SessionPage>> {
    let query = SessionQuery {
        coach_id: params.coach_id.map(|id| id.to_string()),
        from: params.from,
        to: params.to,
        status: params.status,
        page: TimedPage::new(params.limit, params.cursor.as_deref())
            .map_err(|e| ApiError::invalid_field(e.pointer, e.detail))?,
    };
    respond::read(&state, move |conn, _| sessions::list(conn, &caller, query))
        .await
        .map(web::Json)
}

/// Read a session's notes.
///
/// The coach's private notes: for the session's coach only (not the planner, the employer or
/// the coachee). Stored sealed (AES-256-GCM).
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The session's id")),
    responses(
        (status = 200, description = "The notes (empty, version 0, before the first save)", body = NotesView,
            headers(("ETag" = String, description = "the version"))),
    )
)]
#[get("/sessions/{id}/notes")]
pub async fn get_notes(
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    let key = state.notes_key.clone();
    let view =
        respond::read_confidential(&state, move |conn, _| notes::get(conn, &caller, &key, &id))
            .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Replace a session's notes.
///
/// For the session's coach only. `If-Match` is honoured.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach"])),
    params(("id" = Uuid, Path, description = "The session's id"),
        ("If-Match" = Option<String>, Header, description = "The `ETag` last read; 412 if the notes changed since")),
    request_body = NotesInput,
    responses(
        (status = 200, description = "The saved notes", body = NotesView,
            headers(("ETag" = String, description = "the new version"))),
        (status = 412, response = crate::api::problems::PreconditionFailed),
    )
)]
#[put("/sessions/{id}/notes")]
pub async fn put_notes(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller<Coaches>,
    id: web::Path<Uuid>,
    Json(input): Json<NotesInput>,
) -> ApiResult<HttpResponse> {
    let expected = if_match(&req)?.version();
    let id = id.to_string();
    let key = state.notes_key.clone();
    let view = respond::call(&state, move |conn, now| {
        notes::replace(conn, now, &caller, &key, &id, expected, input)
    })
    .await?;
    Ok(Reply::ok(&view).etag(view.version).into())
}

/// Book a recurring series.
///
/// "Every two weeks on Tuesday 10:00, 6 sessions": the first start, `every_weeks` and `count`;
/// the others keep the first one's time of day on the coach's clock, across daylight-saving
/// changes. Each occurrence is checked by the same rules as a single booking, earlier
/// occurrences of the series included. With `preview: true` the answer (200) says which
/// occurrences fit and, for those that do not, why and the nearest free start; nothing is
/// booked. Otherwise it is all or nothing: 201 with every session, or 409
/// `series-does-not-fit` with the same `occurrences` and nothing booked.
#[utoipa::path(
    tag = "sessions",
    security(("bearer" = ["coach", "provider_admin"])),
    params(("id" = Uuid, Path, description = "The order's id")),
    request_body = NewSeries,
    responses(
        (status = 200, description = "The preview: which occurrences fit", body = SeriesPreview),
        (status = 201, description = "The series was booked", body = SeriesBooked),
        (status = 409, response = crate::api::problems::Conflict),
    )
)]
#[post("/orders/{id}/sessions/series")]
pub async fn book_series(
    state: web::Data<AppState>,
    caller: Caller<ProviderStaff>,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    Json(body): Json<NewSeries>,
) -> ApiResult<HttpResponse> {
    let id = id.to_string();
    respond::post(&state, caller.0, key, move |conn, now, caller| {
        Ok(match sessions::book_series(conn, now, caller, &id, body)? {
            SeriesOutcome::Preview(preview) => Reply::ok(&preview),
            SeriesOutcome::Booked(booked) => Reply::created(&booked),
        })
    })
    .await
}
