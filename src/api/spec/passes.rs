//! Passes over the document's JSON, each named for what it makes the document say.

use serde_json::{json, Map, Value};

/// The operations of the document, with their path and method.
pub(super) fn operations(doc: &mut Value) -> impl Iterator<Item = (String, String, &mut Value)> {
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
pub(super) fn merge_flattened_objects(doc: &mut Value) {
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
pub(super) fn typed_timeline_events(doc: &mut Value) {
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
pub(super) fn open_problem(doc: &mut Value) {
    doc["components"]["schemas"]["Problem"]["additionalProperties"] = json!(true);
}

/// utoipa marks an operation without a token as `security: [{}]` ("a token is optional"), and
/// generators then still make a client with credentials for it. A token is the rule, so it is
/// required document-wide, and a public operation opts out with `security: []`.
pub(super) fn public_operations_without_security(doc: &mut Value) {
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
pub(super) fn drop_unreferenced_schemas(doc: &mut Value) {
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
pub(super) fn oauth2_alongside_bearer(doc: &mut Value) {
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

/// Every read that carries an `ETag` answers `If-None-Match` with 304 while it is unchanged;
/// every read of the API carries one (`crate::api::conditional`), and a calendar feed its
/// `Last-Modified`.
pub(super) fn conditional_reads(doc: &mut Value) {
    for (path, method, operation) in operations(doc) {
        let ok = operation.pointer_mut("/responses/200");
        if let (true, Some(ok)) = (method == "get" && path.starts_with("/api/v1/"), ok) {
            if ok.get("headers").and_then(|h| h.get("ETag")).is_none() {
                ok["headers"]["ETag"] = json!({});
            }
            if path.ends_with("calendar.ics") {
                ok["headers"]["Last-Modified"] = json!({
                    "description": "When the latest change to a session in the feed was made (an HTTP date); absent for an empty feed.",
                    "schema": {"type": "string"},
                });
            }
        }
    }
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
            "description": "The `ETag` last read (or several, comma-separated, or `*`): while the representation is unchanged the answer is 304 without a body. A value that is not `*` or a list of entity tags names no tag: the full answer.",
            "schema": {"type": "string"},
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

/// Rules of `domain::input` and of the HTTP conventions that a schema can say, so a client can
/// check before it sends: ETags, cursors, slugs and languages, and "at least one" change.
pub(super) fn rules_the_schema_can_carry(doc: &mut Value) {
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
