//! The error responses every route may give, declared once and referenced from each path.

// These types exist only to describe responses in the OpenAPI document.
#![allow(dead_code)]

use utoipa::ToResponse;

use crate::error::Problem;

#[derive(ToResponse)]
#[response(
    description = "The input is malformed: bad JSON, an unknown or missing field, a wrong type, or a bad query parameter; `errors[].pointer` names it",
    content_type = "application/problem+json"
)]
pub struct BadRequest(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "No bearer token, or one that is expired, badly signed, of the wrong type or for another issuer or audience",
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`, with `error=\"invalid_token\"` when a token was sent"))
)]
pub struct Unauthorized(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "The caller's role may not use this endpoint, or may not change this resource",
    content_type = "application/problem+json"
)]
pub struct Forbidden(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "No such resource, or it belongs to another organisation",
    content_type = "application/problem+json"
)]
pub struct NotFound(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "The resource changed since it was read: `If-Match` does not match its `ETag`",
    content_type = "application/problem+json"
)]
pub struct PreconditionFailed(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "The request body is larger than the configured limit",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "The body is not sent as the media type this endpoint takes",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "The input is well-formed but breaks a rule; `errors[]` lists every field that does",
    content_type = "application/problem+json"
)]
pub struct Unprocessable(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "Too many failed attempts; retry after the given seconds",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "seconds to wait"))
)]
pub struct TooManyRequests(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "The database is unavailable or busy; retry later",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "seconds to wait"))
)]
pub struct Unavailable(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "The request conflicts with the resource's state: an action not allowed now (the body lists `allowed_actions`), or a duplicate `external_ref` (the body names `existing_order_id`)",
    content_type = "application/problem+json"
)]
pub struct Conflict(#[to_schema] Problem);

#[derive(ToResponse)]
#[response(
    description = "This update needs `If-Match` with the `ETag` last read",
    content_type = "application/problem+json"
)]
pub struct PreconditionRequired(#[to_schema] Problem);
