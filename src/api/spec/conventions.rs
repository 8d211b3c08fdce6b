//! The responses and headers that follow from the API's conventions rather than from one
//! handler, added to every operation they apply to.

use utoipa::Modify;

use crate::api::idempotency;

/// Every operation of a path item that the service serves, to change.
fn operations_of(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .flatten()
}

/// The security schemes any of an operation's requirements names (none for a public one:
/// `security: [{}]`).
fn schemes(operation: &utoipa::openapi::path::Operation) -> Vec<String> {
    serde_json::to_value(&operation.security)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_object().cloned())
        .flat_map(|requirement| requirement.into_iter().map(|(scheme, _)| scheme))
        .collect()
}

/// The error responses that follow from the conventions rather than from one handler, added to
/// every operation they apply to (an operation's own declaration of a status wins): 401 and 403
/// where a token is needed, 404 where the path names a resource, 400 where there is input,
/// 413/415/422 where there is a body, 503 wherever the database is used.
pub(super) struct StandardResponses;

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::Ref;

        for (path, item) in openapi.paths.paths.iter_mut() {
            let api = path.starts_with("/api/v1/");
            for operation in operations_of(item) {
                // `security: [{}]` marks a public operation; a named scheme needs a token.
                let secured = !schemes(operation).is_empty();
                let has_body = operation.request_body.is_some();
                let mut add = |status: &str, name: &str, applies: bool| {
                    if applies {
                        operation
                            .responses
                            .responses
                            .entry(status.into())
                            .or_insert_with(|| Ref::from_response_name(name).into());
                    }
                };
                // Any request may be refused as malformed, down to the HTTP parser.
                add("400", "BadRequest", true);
                add("401", "Unauthorized", secured);
                add("403", "Forbidden", secured);
                add("404", "NotFound", api && path.contains('{'));
                add("413", "PayloadTooLarge", has_body);
                add("415", "UnsupportedMediaType", has_body);
                // The OAuth endpoints answer bad input with OAuth's own 400s.
                let oauth = matches!(path.as_str(), "/api/v1/auth/token" | "/api/v1/auth/revoke");
                add("422", "Unprocessable", has_body && !oauth);
                add("503", "Unavailable", api || path == "/health/ready");
            }
        }
    }
}

/// Documents the `Idempotency-Key` convention on every POST it applies to (see
/// `crate::idempotency`): the header, the replay marker, and the answers it can give.
pub(super) struct IdempotentPosts;

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

/// Documents the rate limit (`crate::rate_limit`) on every operation a bearer token calls: its
/// fields on each success, and the 429 beyond the quota.
pub(super) struct RateLimitedOperations;

impl Modify for RateLimitedOperations {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::{ObjectBuilder, Ref, RefOr, Type};

        for item in openapi.paths.paths.values_mut() {
            for operation in operations_of(item) {
                if !schemes(operation).iter().any(|scheme| scheme == "bearer") {
                    continue;
                }
                for (status, response) in operation.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else {
                        continue;
                    };
                    if !(status.starts_with('2') || status.starts_with('3')) {
                        continue;
                    }
                    for (name, description) in [
                        (
                            "RateLimit-Policy",
                            "the caller's quota of requests and its window in seconds (IETF httpapi draft), e.g. `\"default\";q=1200;w=60`",
                        ),
                        (
                            "RateLimit",
                            "what is left of the quota and the seconds until it is whole again, e.g. `\"default\";r=1187;t=42`",
                        ),
                    ] {
                        response.headers.insert(
                            name.into(),
                            HeaderBuilder::new()
                                .schema(ObjectBuilder::new().schema_type(Type::String))
                                .description(Some(description))
                                .build(),
                        );
                    }
                }
                operation
                    .responses
                    .responses
                    .entry("429".into())
                    .or_insert_with(|| Ref::from_response_name("RateLimited").into());
            }
        }
    }
}
