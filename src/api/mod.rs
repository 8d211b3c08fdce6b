//! The HTTP API: one module per resource, the strict extractors, and the OpenAPI document.
//!
//! Routes and their spec are registered together (utoipa-actix-web), so every route is in the
//! spec. The same spec drives the 405 answer: a path that exists with other methods gets
//! `405` and `Allow`, an unknown path `404`.

pub mod auth;
pub mod coachee;
pub mod coaches;
pub mod conditional;
pub mod extract;
pub mod idempotency;
pub mod intake;
pub mod operations;
pub mod orders;
pub mod parse;
pub mod plan;
pub mod problems;
pub mod respond;

use actix_web::http::header;
use actix_web::{dev::ResourceDef, web, HttpRequest};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::{scope, service_config::ServiceConfig, AppExt};

use crate::error::{ApiError, ApiResult};
use crate::service::pagination::PageRequest;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trajectum API",
        description = "Commission and run job-coaching trajectories: orders, coach match, intake, plan, sessions and follow-ups.\n\nErrors are `application/problem+json` (RFC 9457). Lists use keyset pagination (`limit`, `cursor`, `next_cursor`). Another organisation's resource is a 404.",
        license(name = "Proprietary", identifier = "LicenseRef-Proprietary")
    ),
    servers(
        (url = "/", description = "This service")
    ),
    modifiers(&BearerAuth),
    components(responses(
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
        problems::Unavailable,
    )),
    tags(
        (name = "auth", description = "Tokens (OAuth 2.0) and the caller"),
        (name = "coaches", description = "The provider's coaches"),
        (name = "orders", description = "Commissioned trajectories and their lifecycle"),
        (name = "intake", description = "The intake and whether the trajectory may start (confidential)"),
        (name = "plan", description = "Development points, goals and tasks (confidential)"),
        (name = "coachee", description = "The coachee's own link, view and consents"),
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
    }
}

/// The error responses that follow from the conventions rather than from one handler, added to
/// every operation they apply to (an operation's own declaration of a status wins): 401 and 403
/// where a token is needed, 404 where the path names a resource, 400 where there is input,
/// 413/415/422 where there is a body, 503 wherever the database is used.
struct StandardResponses;

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::Ref;

        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/v1/");
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                // `security: [{}]` marks a public operation; a named scheme needs a token.
                let secured = serde_json::to_value(&operation.security)
                    .ok()
                    .and_then(|v| v.as_array().cloned())
                    .is_some_and(|requirements| {
                        requirements
                            .iter()
                            .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
                    });
                let has_body = operation.request_body.is_some();
                let has_query = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == ParameterIn::Query);
                let mut add = |status: &str, name: &str, applies: bool| {
                    if applies {
                        operation
                            .responses
                            .responses
                            .entry(status.into())
                            .or_insert_with(|| Ref::from_response_name(name).into());
                    }
                };
                add("400", "BadRequest", has_body || has_query);
                add("401", "Unauthorized", secured);
                add("403", "Forbidden", secured);
                add("404", "NotFound", api && path.contains('{'));
                add("413", "PayloadTooLarge", has_body);
                add("415", "UnsupportedMediaType", has_body);
                // The token endpoints answer bad input with OAuth's own 400s.
                add(
                    "422",
                    "Unprocessable",
                    has_body && !path.starts_with("/api/v1/auth/"),
                );
                add("503", "Unavailable", api || path == "/health/ready");
            }
        }
    }
}

/// Documents the `Idempotency-Key` convention on every POST it applies to (see
/// `crate::idempotency`): the header, the replay marker, and the answers it can give.
struct IdempotentPosts;

impl Modify for IdempotentPosts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Ref, Required, Type};

        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/v1/") || idempotency::exempt(path) {
                continue;
            }
            let Some(post) = item.post.as_mut() else {
                continue;
            };
            let parameters = post.parameters.get_or_insert_with(Vec::new);
            parameters.push(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "Makes the POST safe to retry: the same key and body within 24 hours return the first response (with `Idempotent-Replayed: true`), refusals included; the same key with another body is a 422. A retry while the first request is still being served waits for its answer (a 409 with `Retry-After` if that takes longer than the database timeout). The key is taken in the same transaction as the change: if the service fails before answering, neither the change nor the key is kept.",
                    ))
                    .schema(Some(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .min_length(Some(1))
                            .max_length(Some(255))
                            .pattern(Some("^[!-~]+$")),
                    ))
                    .build(),
            );
            for (status, response) in post.responses.responses.iter_mut() {
                if let (true, utoipa::openapi::RefOr::T(response)) =
                    (status.starts_with('2'), response)
                {
                    response.headers.insert(
                        "Idempotent-Replayed".into(),
                        HeaderBuilder::new()
                            .schema(ObjectBuilder::new().schema_type(Type::String))
                            .description(Some("`true` when this is the stored answer to an earlier request with the same key"))
                            .build(),
                    );
                }
            }
            for (status, name) in [
                ("400", "BadRequest"),
                ("409", "Conflict"),
                ("422", "Unprocessable"),
            ] {
                post.responses
                    .responses
                    .entry(status.into())
                    .or_insert_with(|| Ref::from_response_name(name).into());
            }
        }
    }
}

/// Registers every route with its spec.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(operations::live)
        .service(operations::ready)
        .service(operations::metrics)
        .service(
            scope::scope("/api/v1")
                .service(auth::token)
                .service(auth::revoke)
                .service(auth::me)
                .service(coaches::list_coaches)
                .service(coaches::create_coach)
                .service(coaches::get_coach)
                .service(coaches::update_coach)
                .service(orders::create_order)
                .service(orders::list_orders)
                .service(orders::get_order)
                .service(orders::update_order)
                .service(orders::assign)
                .service(orders::record_contact)
                .service(orders::cancel)
                .service(orders::extend)
                .service(orders::complete)
                .service(orders::timeline)
                .service(orders::coach_suggestions)
                .service(intake::get_intake)
                .service(intake::put_intake)
                .service(intake::validate_intake)
                .service(intake::complete_intake)
                .service(plan::get_plan)
                .service(plan::put_plan)
                .service(plan::update_task)
                .service(coachee::issue_link)
                .service(coachee::revoke_links)
                .service(coachee::coachee_view)
                .service(coachee::put_consents),
        );
}

/// The OpenAPI document of every route, as the service serves it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, spec) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(configure)
        .split_for_parts();
    // After the routes are in: the derive's modifiers run before they are registered.
    let mut spec = spec;
    StandardResponses.modify(&mut spec);
    IdempotentPosts.modify(&mut spec);
    spec
}

/// The routes of the spec, to tell a wrong method (405) from an unknown path (404).
#[derive(Debug)]
pub struct RouteTable(Vec<(ResourceDef, Vec<String>)>);

impl RouteTable {
    pub fn from_spec(spec: &utoipa::openapi::OpenApi) -> Self {
        let routes = spec
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = serde_json::to_value(item)
                    .ok()
                    .and_then(|v| v.as_object().cloned())
                    .map(|o| {
                        let mut methods: Vec<String> = o
                            .keys()
                            .filter(|k| {
                                ["get", "put", "post", "delete", "patch", "head", "options"]
                                    .contains(&k.as_str())
                            })
                            .map(|k| k.to_ascii_uppercase())
                            .collect();
                        // Every GET route answers HEAD too (`conditional::conditional_reads`).
                        if let Some(get) = methods.iter().position(|m| m == "GET") {
                            methods.insert(get + 1, "HEAD".into());
                        }
                        methods
                    })
                    .unwrap_or_default();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        RouteTable(routes)
    }

    pub fn allowed(&self, path: &str) -> Option<&[String]> {
        self.0
            .iter()
            .find(|(def, _)| def.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}

/// What an unrouted request gets: 405 with `Allow` if the path exists, else 404.
pub async fn unrouted(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> ApiResult<actix_web::HttpResponse> {
    Err(match routes.allowed(req.path()) {
        Some(methods) => ApiError::MethodNotAllowed {
            allow: methods.to_vec(),
        },
        None => ApiError::not_found(format!("there is no route {}", req.path())),
    })
}

/// What an `If-Match` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// No header.
    Absent,
    /// `*`: any current version (RFC 9110 §13.1.1).
    Any,
    Version(i32),
}

impl IfMatch {
    /// The version the resource must still have, if one was named.
    pub fn version(self) -> Option<i32> {
        match self {
            IfMatch::Version(v) => Some(v),
            IfMatch::Absent | IfMatch::Any => None,
        }
    }
}

/// The `If-Match` precondition. `If-Match` uses the strong comparison (RFC 9110 §13.1.1): a weak
/// ETag (`W/"2"`) never matches, so it fails the precondition (412).
pub fn if_match(req: &HttpRequest) -> ApiResult<IfMatch> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(IfMatch::Absent);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(IfMatch::Any);
    }
    if text.starts_with("W/") {
        return Err(ApiError::PreconditionFailed(
            "If-Match compares ETags strongly (RFC 9110 §13.1.1) and a weak ETag never matches; send the ETag exactly as read".into(),
        ));
    }
    conditional::version_of(text)
        .map(IfMatch::Version)
        .ok_or_else(|| ApiError::invalid_field("If-Match", "must be an ETag this API returned"))
}

/// `If-Match` where a change needs it (428 without it); the version it names, if any.
pub fn require_if_match(req: &HttpRequest, what: &str) -> ApiResult<Option<i32>> {
    match if_match(req)? {
        IfMatch::Absent => Err(ApiError::PreconditionRequired(format!(
            "send If-Match with the ETag of {what} to change it"
        ))),
        other => Ok(other.version()),
    }
}

/// The page a list request asks for; a bad `limit` or `cursor` is a 400 naming it.
pub fn page(limit: Option<i64>, cursor: Option<&str>) -> ApiResult<PageRequest> {
    PageRequest::new(limit, cursor).map_err(|e| ApiError::invalid_field(e.pointer, e.detail))
}
