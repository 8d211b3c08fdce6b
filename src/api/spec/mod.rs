//! The OpenAPI document as served. utoipa derives it from the routes and their types;
//! `conventions` adds the responses every operation shares, and the `passes` then finish, over
//! its JSON, what derive attributes cannot say: the security schemes, conditional reads, typed
//! timeline events, and one object schema wherever a type flattens another.

use actix_web::http::header::ContentType;
use actix_web::{web, HttpResponse};
use serde_json::Value;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::api::{configure, problems};
use crate::domain::event::Event;

mod conventions;
mod headers;
mod passes;

use conventions::{IdempotentPosts, RateLimitedOperations, StandardResponses};
use headers::{request_ids_on_responses, shared_headers};
use passes::*;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trajectum API",
        description = "Commission and run job-coaching trajectories: orders, coach match, intake, plan, sessions and follow-ups.\n\nErrors are `application/problem+json` (RFC 9457), one `Problem` schema for all. Lists use keyset pagination (`limit`, `cursor`, `next_cursor`). Another organisation's resource is a 404. Every `GET` also answers `HEAD`. A resource with an `ETag` answers `If-None-Match` with `304 Not Modified` while unchanged, and changes with `If-Match` (412 when it changed since). Every response carries `X-Request-Id` (yours, when you send a plain one of up to 128 characters).\n\nAuthentication: an access token from `POST /api/v1/auth/token`, as `Authorization: Bearer`. HR systems use the `client_credentials` grant (client id and secret by HTTP Basic, or `client_id` and `client_secret` in the form); people use `password`, and `refresh_token` to renew.\n\nRate limit: each user, API client and coachee link may make a quota of requests per window, counted by every instance together. Every answer to a bearer token says the quota in `RateLimit-Policy` (e.g. `\"default\";q=1200;w=60`) and what is left in `RateLimit` (e.g. `\"default\";r=1187;t=42`: 1187 more in the next 42 seconds), as the IETF httpapi draft \"RateLimit header fields for HTTP\" has them; beyond the quota the answer is 429 `urn:trajectum:problem:rate-limited` with `Retry-After`.",
        license(name = "Proprietary", identifier = "LicenseRef-Proprietary")
    ),
    servers(
        (url = "/", description = "This service")
    ),
    modifiers(&BearerAuth),
    components(schemas(problems::ProblemDocument, Event), responses(
        problems::BadRequest,
        problems::Unauthorized,
        problems::Forbidden,
        problems::NotFound,
        problems::PreconditionFailed,
        problems::PreconditionRequired,
        problems::Conflict,
        problems::PayloadTooLarge,
        problems::UnsupportedMediaType,
        problems::Unprocessable,
        problems::TooManyRequests,
        problems::RateLimited,
        problems::Unavailable,
    )),
    tags(
        (name = "auth", description = "Tokens (OAuth 2.0) and the caller"),
        (name = "access", description = "Your organisation's logins and API clients (disable, enable, rotate a client's secret) and its audit trail"),
        (name = "coaches", description = "The provider's coaches"),
        (name = "orders", description = "Commissioned trajectories and their lifecycle"),
        (name = "intake", description = "The intake and whether the trajectory may start (confidential)"),
        (name = "plan", description = "Development points, goals and tasks (confidential)"),
        (name = "availability", description = "Coaches' working hours and free slots"),
        (name = "sessions", description = "Sessions booked on orders: intake, regular, assessment, follow-up"),
        (name = "calendars", description = "Sessions as iCalendar feeds (RFC 5545) for calendar apps"),
        (name = "follow-ups", description = "Follow-ups months after the end (002): booked by the service, moved, skipped, their outcome; the employer's policy"),
        (name = "coachee", description = "The coachee's own link, view and consents"),
        (name = "provider", description = "The provider's settings"),
        (name = "jobs", description = "Work the service does on its own, and the jobs that failed"),
        (name = "reports", description = "Outcomes in aggregate for HR (002, 004), small counts withheld"),
        (name = "invitations", description = "Invitation campaigns (004): an employer invites a group to sign up for coaching in one step, and the public sign-up behind the campaign's link"),
        (name = "webhooks", description = "Events as they happen: signed webhooks (Standard Webhooks) and the events feed for systems that poll"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /api/v1/auth/token`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "calendar_feed",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "A calendar feed's token (`POST /coaches/{id}/calendar-feed`, `POST /orders/{id}/calendar-feed`), for calendar apps that cannot send a bearer token",
            ))),
        );
    }
}

/// The document, as served at `/api/v1/openapi.json` and committed as `openapi/openapi.json`.
pub fn document() -> Value {
    let (_, spec) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(configure)
        .split_for_parts();
    // After the routes are in: the derive's modifiers run before they are registered.
    let mut spec = spec;
    StandardResponses.modify(&mut spec);
    IdempotentPosts.modify(&mut spec);
    RateLimitedOperations.modify(&mut spec);
    let mut doc = serde_json::to_value(spec).expect("the spec serialises");
    merge_flattened_objects(&mut doc);
    typed_timeline_events(&mut doc);
    drop_unreferenced_schemas(&mut doc);
    open_problem(&mut doc);
    public_operations_without_security(&mut doc);
    oauth2_alongside_bearer(&mut doc);
    conditional_reads(&mut doc);
    request_ids_on_responses(&mut doc);
    rules_the_schema_can_carry(&mut doc);
    shared_headers(&mut doc);
    doc
}

/// The document as the service serves it, serialised once at start-up.
#[derive(Debug, Clone)]
pub struct Served(web::Bytes);

impl From<&Value> for Served {
    fn from(document: &Value) -> Served {
        let mut text = serde_json::to_vec(document).expect("the spec serialises");
        text.push(b'\n');
        Served(web::Bytes::from(text))
    }
}

/// `GET /api/v1/openapi.json`: this document (which does not list this path itself).
pub async fn served(document: web::Data<Served>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(document.0.clone())
}
