//! The OpenAPI document as served. utoipa derives it from the routes and their types; the passes
//! below then finish, over its JSON, what derive attributes cannot say: the responses every
//! operation shares, the security schemes, conditional reads, typed timeline events, and one
//! object schema wherever a type flattens another.

use serde_json::{json, Map, Value};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::api::{configure, idempotency, problems};
use crate::domain::event::Event;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trajectum API",
        description = "Commission and run job-coaching trajectories: orders, coach match, intake, plan, sessions and follow-ups.\n\nErrors are `application/problem+json` (RFC 9457), one `Problem` schema for all. Lists use keyset pagination (`limit`, `cursor`, `next_cursor`). Another organisation's resource is a 404. Every `GET` also answers `HEAD`. A resource with an `ETag` answers `If-None-Match` with `304 Not Modified` while unchanged, and changes with `If-Match` (412 when it changed since). Every response carries `X-Request-Id` (yours, when you send a plain one of up to 128 characters).\n\nAuthentication: an access token from `POST /api/v1/auth/token`, as `Authorization: Bearer`. HR systems use the `client_credentials` grant (client id and secret by HTTP Basic, or `client_id` and `client_secret` in the form); people use `password`, and `refresh_token` to renew.",
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
    doc
}

/// The operations of the document, with their path and method.
fn operations(doc: &mut Value) -> impl Iterator<Item = (String, String, &mut Value)> {
    doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .flat_map(|(path, item)| {
            item.as_object_mut()
                .into_iter()
                .flat_map(|item| item.iter_mut())
                .filter(|(method, _)| {
                    ["get", "put", "post", "delete", "patch"].contains(&method.as_str())
                })
                .map(move |(method, operation)| (path.clone(), method.clone(), operation))
        })
}

/// `#[serde(flatten)]` comes out as `allOf` of the flattened type and the rest; a generator makes
/// an intersection of it, and a flattened type that refuses unknown members (`IntakeDraft`) makes
/// a schema no response can meet. Each such schema becomes the one object it describes: all the
/// members, all the required ones, and closed when a part was.
fn merge_flattened_objects(doc: &mut Value) {
    let schemas = doc["components"]["schemas"].clone();
    let resolve = |part: &Value| -> Option<Value> {
        match part["$ref"].as_str() {
            Some(reference) => {
                let name = reference.strip_prefix("#/components/schemas/")?;
                Some(schemas[name].clone())
            }
            None => Some(part.clone()),
        }
    };
    let Some(all) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for schema in all.values_mut() {
        let Some(parts) = schema["allOf"].as_array().cloned() else {
            continue;
        };
        let Some(parts) = parts.iter().map(resolve).collect::<Option<Vec<Value>>>() else {
            continue;
        };
        if !parts
            .iter()
            .all(|p| p["type"] == "object" && p.get("allOf").is_none())
        {
            continue;
        }
        let mut properties = Map::new();
        let mut required: Vec<Value> = vec![];
        let mut closed = false;
        for part in &parts {
            if let Some(members) = part["properties"].as_object() {
                properties.extend(members.clone());
            }
            for name in part["required"].as_array().into_iter().flatten() {
                if !required.contains(name) {
                    required.push(name.clone());
                }
            }
            closed |= part["additionalProperties"] == false;
        }
        let object = schema.as_object_mut().expect("a schema is an object");
        object.remove("allOf");
        object.insert("type".into(), json!("object"));
        object.insert("properties".into(), Value::Object(properties));
        if !required.is_empty() {
            object.insert("required".into(), Value::Array(required));
        }
        if closed {
            object.insert("additionalProperties".into(), json!(false));
        }
    }
}

/// Each event type gets its own schema, `type` fixed and `data` typed, and a timeline entry is
/// one of them; `data` is left out for the employer, who sees no details.
fn typed_timeline_events(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    let Some(variants) = schemas["Event"]["oneOf"].as_array().cloned() else {
        return;
    };
    let entry = schemas["TimelineEvent"].clone();
    let mut choices = vec![];
    let mut mapping = Map::new();
    for variant in variants {
        let Some(event_type) = variant["properties"]["type"]["enum"][0].as_str() else {
            continue;
        };
        let name = schema_name(event_type);
        let mut properties = entry["properties"].clone();
        properties["type"] = json!({"type": "string", "enum": [event_type]});
        properties["data"] = variant["properties"]["data"].clone();
        properties["data"]["description"] = json!("The step's details; left out for the employer.");
        let mut step = json!({
            "type": "object",
            "required": entry["required"].as_array().cloned().unwrap_or_default()
                .into_iter().filter(|r| r != "data").collect::<Vec<_>>(),
            "properties": properties,
            "additionalProperties": false,
        });
        if let Some(description) = variant["description"].as_str() {
            step["description"] = json!(description);
        }
        let reference = format!("#/components/schemas/{name}");
        mapping.insert(event_type.into(), json!(reference));
        choices.push(json!({"$ref": reference}));
        schemas[name.as_str()] = step;
    }
    schemas["TimelineEvent"] = json!({
        "description": entry["description"],
        "oneOf": choices,
        "discriminator": {"propertyName": "type", "mapping": mapping},
    });
}

/// `order.coach_changed` → `OrderCoachChangedEvent`.
fn schema_name(event_type: &str) -> String {
    let words = event_type.split(['.', '_']).map(|word| {
        let mut chars = word.chars();
        chars
            .next()
            .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
            .unwrap_or_default()
    });
    words.collect::<String>() + "Event"
}

/// A problem may carry members of its kind beyond those declared (RFC 9457 §3.2).
fn open_problem(doc: &mut Value) {
    doc["components"]["schemas"]["Problem"]["additionalProperties"] = json!(true);
}

/// utoipa marks an operation without a token as `security: [{}]` ("a token is optional"), and
/// generators then still make a client with credentials for it. A token is the rule, so it is
/// required document-wide, and a public operation opts out with `security: []`.
fn public_operations_without_security(doc: &mut Value) {
    for (_, _, operation) in operations(doc) {
        let public = operation["security"]
            .as_array()
            .is_some_and(|requirements| {
                requirements
                    .iter()
                    .all(|r| r.as_object().is_some_and(|r| r.is_empty()))
            });
        if public {
            operation["security"] = json!([]);
        }
    }
    doc["security"] = json!([{"bearer": []}, {"oauth2": []}]);
}

/// Schemas no longer referenced once others were merged (a flattened type used nowhere else).
fn drop_unreferenced_schemas(doc: &mut Value) {
    loop {
        let text = doc.to_string();
        let names: Vec<String> = doc["components"]["schemas"]
            .as_object()
            .map(|schemas| schemas.keys().cloned().collect())
            .unwrap_or_default();
        let unused: Vec<String> = names
            .into_iter()
            .filter(|name| !text.contains(&format!("\"#/components/schemas/{name}\"")))
            .collect();
        if unused.is_empty() {
            return;
        }
        if let Some(schemas) = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            for name in &unused {
                schemas.shift_remove(name);
            }
        }
    }
}

/// The token endpoint as an OAuth 2.0 scheme, so Swagger UI's "Authorize" and generated clients
/// can get a token themselves; every operation that takes a bearer token takes one from it.
fn oauth2_alongside_bearer(doc: &mut Value) {
    doc["components"]["securitySchemes"]["oauth2"] = json!({
        "type": "oauth2",
        "description": "Tokens from `POST /api/v1/auth/token`. The client authenticates with HTTP Basic (or `client_id` and `client_secret` in the form). Access is by role, not scope: request no scopes.",
        "flows": {
            "clientCredentials": {"tokenUrl": "/api/v1/auth/token", "scopes": {}},
            "password": {"tokenUrl": "/api/v1/auth/token", "refreshUrl": "/api/v1/auth/token", "scopes": {}},
        },
    });
    for (_, _, operation) in operations(doc) {
        if let Some(requirements) = operation.get_mut("security").and_then(Value::as_array_mut) {
            if requirements.iter().any(|r| r.get("bearer").is_some()) {
                requirements.push(json!({"oauth2": []}));
            }
        }
    }
}

const ETAG_DESCRIPTION: &str = "The version and a digest of this representation. Send it as `If-Match` to change the resource, as `If-None-Match` to ask whether it changed.";

/// Every read that carries an `ETag` answers `If-None-Match` with 304 while it is unchanged.
fn conditional_reads(doc: &mut Value) {
    for (_, method, operation) in operations(doc) {
        let responses = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut);
        for (_, response) in responses.into_iter().flatten() {
            let headers = response.get_mut("headers");
            if let Some(etag) = headers.and_then(|headers| headers.get_mut("ETag")) {
                *etag = json!({"description": ETAG_DESCRIPTION, "schema": {"type": "string"}});
            }
        }
        if method != "get"
            || operation["responses"]["200"]["headers"]
                .get("ETag")
                .is_none()
        {
            continue;
        }
        let parameters = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut);
        let parameter = json!({
            "name": "If-None-Match",
            "in": "header",
            "required": false,
            "description": "The `ETag` last read: while the representation is unchanged the answer is 304 without a body.",
            "schema": {"type": "string", "minLength": 1},
        });
        match parameters {
            Some(parameters) => parameters.push(parameter),
            None => operation["parameters"] = json!([parameter]),
        }
        operation["responses"]["304"] = json!({
            "description": "Not modified: the `ETag` sent in `If-None-Match` is still current",
            "headers": {"ETag": {"description": ETAG_DESCRIPTION, "schema": {"type": "string"}}},
        });
    }
}

/// Every response, errors included, carries the request's id.
fn request_ids_on_responses(doc: &mut Value) {
    let header = json!({
        "description": "The request's id: the `X-Request-Id` sent, when plain and at most 128 characters, or one of ours. Quote it when asking for support.",
        "schema": {"type": "string"},
    });
    let add = |response: &mut Value| {
        if response.get("$ref").is_none() {
            response["headers"]["X-Request-Id"] = header.clone();
        }
    };
    for response in doc
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|r| r.values_mut())
    {
        add(response);
    }
    for (_, _, operation) in operations(doc) {
        for response in operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
            .into_iter()
            .flat_map(|r| r.values_mut())
        {
            add(response);
        }
    }
}

/// Rules of `domain::input` and of the HTTP conventions that a schema can say, so a client can
/// check before it sends: ETags, cursors, slugs and languages, and "at least one" change.
fn rules_the_schema_can_carry(doc: &mut Value) {
    for (_, _, operation) in operations(doc) {
        let parameters = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut);
        for parameter in parameters.into_iter().flatten() {
            let pattern = match parameter["name"].as_str() {
                Some("If-Match") => r#"^(\*|"[0-9]+(-[0-9a-f]{16})?")$"#,
                // The `next_cursor` of a page: base64url without padding.
                Some("cursor") => "^[A-Za-z0-9_-]+$",
                _ => continue,
            };
            parameter["schema"]["pattern"] = json!(pattern);
            parameter["schema"]["minLength"] = json!(1);
        }
    }
    let schemas = &mut doc["components"]["schemas"];
    let slug = json!({"type": "string", "pattern": "^[a-z0-9_]{2,50}$"});
    let language = json!({"type": "string", "pattern": "^[a-z]{2}$"});
    for (schema, property, items) in [
        ("NewOrder", "context", &slug),
        ("OrderChanges", "context", &slug),
        ("NewCoach", "specialisms", &slug),
        ("CoachChanges", "specialisms", &slug),
        ("NewCoach", "languages", &language),
        ("CoachChanges", "languages", &language),
    ] {
        if let Some(property) = schemas[schema]["properties"].get_mut(property) {
            property["items"] = items.clone();
        }
    }
    schemas["ConsentChanges"]["minProperties"] = json!(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_name_their_schemas() {
        assert_eq!(schema_name("order.coach_changed"), "OrderCoachChangedEvent");
        assert_eq!(
            schema_name("coachee_link.revoked"),
            "CoacheeLinkRevokedEvent"
        );
    }

    #[test]
    fn a_flattened_type_becomes_one_object() {
        let mut doc = json!({"components": {"schemas": {
            "Draft": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"], "additionalProperties": false},
            "View": {"description": "d", "allOf": [
                {"$ref": "#/components/schemas/Draft"},
                {"type": "object", "properties": {"version": {"type": "integer"}}, "required": ["version"]},
            ]},
        }}});
        merge_flattened_objects(&mut doc);
        assert_eq!(
            doc["components"]["schemas"]["View"],
            json!({"description": "d", "type": "object",
                   "properties": {"a": {"type": "string"}, "version": {"type": "integer"}},
                   "required": ["a", "version"], "additionalProperties": false})
        );
    }
}
