//! The error responses every route may give, declared once and referenced from each path.

// These types exist only to describe responses in the OpenAPI document.
#![allow(dead_code)]

use utoipa::{ToResponse, ToSchema};

use crate::domain::intake::Finding;
use crate::domain::order::{OrderAction, OrderStatus};
use crate::domain::FieldError;

/// A problem document (RFC 9457), the body of every error. Beside the five standard members it
/// carries those of its kind, listed here; a client ignores members it does not know (RFC 9457
/// §3.2), so more may be added.
#[derive(ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// A URI that identifies the kind of problem, e.g. `urn:trajectum:problem:validation`.
    #[schema(rename = "type", example = "urn:trajectum:problem:validation")]
    problem_type: String,
    /// The HTTP reason phrase of `status`.
    #[schema(example = "Unprocessable Entity")]
    title: String,
    /// The HTTP status code.
    #[schema(example = 422, minimum = 400, maximum = 599)]
    status: u16,
    /// What went wrong with this request, in words.
    detail: String,
    /// Every invalid field, when the problem is about the input (400, 422).
    #[schema(required = false)]
    errors: Vec<FieldError>,
    /// The request id (also the `X-Request-Id` header); quote it when asking for support.
    #[schema(required = false)]
    request_id: String,
    /// The order's status, when an action is not allowed in it (409).
    #[schema(required = false)]
    order_status: OrderStatus,
    /// What the caller may do in the order's status instead (409).
    #[schema(required = false)]
    allowed_actions: Vec<OrderAction>,
    /// The path of the order that already has this `external_ref` (409).
    #[schema(
        required = false,
        example = "/api/v1/orders/0193f5a4-8c2e-7d41-9b7a-1f2e3d4c5b6a"
    )]
    existing_order: String,
    /// The id of the order that already has this `external_ref` (409).
    #[schema(required = false, format = Uuid)]
    existing_order_id: String,
    /// The coach who has this email already (409 `coach-email-taken`).
    #[schema(required = false, format = Uuid)]
    existing_coach_id: String,
    /// Why the intake cannot be completed yet, rule by rule (422).
    #[schema(required = false)]
    findings: Vec<Finding>,
    /// The kinds of session the order takes in its status (409 `session-kind-not-allowed`).
    #[schema(required = false)]
    allowed_kinds: Vec<crate::domain::session::SessionKind>,
    /// The nearest start times that are free, nearest first (`outside-availability`,
    /// `coach-double-booked`).
    #[schema(required = false)]
    alternatives: Vec<chrono::DateTime<chrono::Utc>>,
    /// Why a session does not fit the coach's availability (`outside-availability`).
    #[schema(required = false)]
    reason: crate::domain::availability::Misfit,
    /// The order's session budget when it is used up (`session-budget-exhausted`).
    #[schema(required = false)]
    sessions: crate::views::session::SessionCounts,
    /// The trajectory's end date (`outside-trajectory`).
    #[schema(required = false)]
    end_date: chrono::NaiveDate,
    /// The session's status when it can no longer change (`session-not-planned`).
    #[schema(required = false)]
    session_status: crate::domain::session::SessionStatus,
    /// How many participants the group session takes (409 `group-full`).
    #[schema(required = false)]
    capacity: u32,
    /// Each occurrence of a series and whether it fits (409 `series-does-not-fit`).
    #[schema(required = false)]
    occurrences: Vec<crate::views::session::SeriesOccurrence>,
    /// Why a sign-up to an invitation campaign was refused (409 `sign-up-refused`).
    #[schema(required = false)]
    refusal: crate::domain::invitation::RefusalReason,
    /// The OAuth 2.0 error code, on the token endpoints (RFC 6749 §5.2).
    #[schema(required = false)]
    error: OAuthError,
    /// The same as `detail`, for OAuth clients.
    #[schema(required = false)]
    error_description: String,
}

/// OAuth 2.0 error codes (RFC 6749 §5.2, RFC 7009 §2.2.1).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum OAuthError {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    UnsupportedTokenType,
}

#[derive(ToResponse)]
#[response(
    description = "The input is malformed: bad JSON, an unknown or missing field, a wrong type, or a bad query parameter or header (`errors[].pointer` names it); or the HTTP request itself could not be parsed",
    content_type = "application/problem+json"
)]
pub struct BadRequest(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "No bearer token, or one that is expired, badly signed, of the wrong type or for another issuer or audience",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`, with `error=\"invalid_token\"` when a token was sent"))
)]
pub struct Unauthorized(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "The caller's role may not use this endpoint, or may not change this resource",
    content_type = "application/problem+json"
)]
pub struct Forbidden(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "No such resource, or it belongs to another organisation",
    content_type = "application/problem+json"
)]
pub struct NotFound(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "The resource changed since it was read: `If-Match` does not match its `ETag`",
    content_type = "application/problem+json"
)]
pub struct PreconditionFailed(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "The request body is larger than the configured limit",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "The body is not sent as the media type this endpoint takes",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "The input is well-formed but breaks a rule; `errors[]` lists every field that does",
    content_type = "application/problem+json"
)]
pub struct Unprocessable(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "Too many failed sign-ins for this account or client (counted by every instance together); retry after the given seconds",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "seconds to wait"))
)]
pub struct TooManyRequests(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "This caller's quota of requests for the rate limit's window is used up (`urn:trajectum:problem:rate-limited`); retry after the given seconds. Each user, API client and coachee link has its own quota, counted by every instance of the service together",
    content_type = "application/problem+json",
    headers(
        ("Retry-After" = u64, description = "seconds until the window resets"),
        ("RateLimit-Policy" = String, description = "the quota and its window in seconds (IETF httpapi draft), e.g. `\"default\";q=1200;w=60`"),
        ("RateLimit" = String, description = "what is left of the quota and the seconds until it is whole again, e.g. `\"default\";r=0;t=42`"),
    )
)]
pub struct RateLimited(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "The database is unavailable or busy; retry later",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "seconds to wait: the service's database wait (`TRAJECTUM_DB_TIMEOUT_SECONDS`)"))
)]
pub struct Unavailable(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "The request conflicts with the resource's state: an action not allowed now (the body lists `allowed_actions`), a duplicate `external_ref` (the body names `existing_order_id`), or a scheduling rule (`type` names it, e.g. `urn:trajectum:problem:coach-double-booked`, with `alternatives`)",
    content_type = "application/problem+json"
)]
pub struct Conflict(ProblemDocument);

#[derive(ToResponse)]
#[response(
    description = "This update needs `If-Match` with the `ETag` last read",
    content_type = "application/problem+json"
)]
pub struct PreconditionRequired(ProblemDocument);
