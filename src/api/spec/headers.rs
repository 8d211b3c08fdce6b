//! The headers responses carry: the request's id on every one, and those many carry alike
//! defined once.

use serde_json::{json, Value};

use super::passes::operations;

/// Every response, errors included, carries the request's id.
pub(super) fn request_ids_on_responses(doc: &mut Value) {
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

/// Headers that many responses carry alike (`X-Request-Id`, the rate limit's fields, `ETag`) are
/// defined once under `components/headers` and referred to: the document is smaller to serve,
/// to hold in memory and to generate clients from, and says once what each means.
pub(super) fn shared_headers(doc: &mut Value) {
    const SHARED: [&str; 4] = ["X-Request-Id", "RateLimit", "RateLimit-Policy", "ETag"];
    let escape = |key: &str| key.replace('~', "~0").replace('/', "~1");
    // Where every response is: the named ones, and each operation's.
    let mut responses: Vec<String> = doc["components"]["responses"]
        .as_object()
        .into_iter()
        .flat_map(|named| named.keys())
        .map(|name| format!("/components/responses/{}", escape(name)))
        .collect();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            for status in operation["responses"]
                .as_object()
                .into_iter()
                .flat_map(|r| r.keys())
            {
                responses.push(format!(
                    "/paths/{}/{method}/responses/{status}",
                    escape(path)
                ));
            }
        }
    }
    // Each header's most common definition is the shared one.
    let mut seen: Vec<(&str, Value, usize)> = vec![];
    for response in &responses {
        for name in SHARED {
            let Some(definition) = doc.pointer(&format!("{response}/headers/{name}")) else {
                continue;
            };
            match seen
                .iter_mut()
                .find(|(n, d, _)| *n == name && d == definition)
            {
                Some((_, _, count)) => *count += 1,
                None => seen.push((name, definition.clone(), 1)),
            }
        }
    }
    let mut shared = serde_json::Map::new();
    for name in SHARED {
        let common = seen
            .iter()
            .filter(|(n, _, _)| *n == name)
            .max_by_key(|(_, _, count)| *count);
        if let Some((_, definition, _)) = common {
            shared.insert(name.to_string(), definition.clone());
        }
    }
    for response in &responses {
        let headers = doc
            .pointer_mut(&format!("{response}/headers"))
            .and_then(Value::as_object_mut);
        for (name, definition) in headers.into_iter().flatten() {
            if shared.get(name) == Some(definition) {
                *definition = json!({"$ref": format!("#/components/headers/{name}")});
            }
        }
    }
    doc["components"]["headers"] = Value::Object(shared);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_many_responses_carry_alike_are_defined_once() {
        let id = json!({"description": "the id", "schema": {"type": "string"}});
        let other = json!({"description": "another", "schema": {"type": "string"}});
        let mut doc = json!({
            "paths": {"/a/{id}": {"get": {"responses": {
                "200": {"headers": {"X-Request-Id": id.clone(), "ETag": other.clone()}},
                "404": {"$ref": "#/components/responses/NotFound"},
            }}}},
            "components": {"responses": {"NotFound": {"headers": {"X-Request-Id": id.clone()}}}},
        });
        shared_headers(&mut doc);
        let reference = json!({"$ref": "#/components/headers/X-Request-Id"});
        assert_eq!(
            doc.pointer("/paths/~1a~1{id}/get/responses/200/headers/X-Request-Id"),
            Some(&reference)
        );
        assert_eq!(
            doc.pointer("/components/responses/NotFound/headers/X-Request-Id"),
            Some(&reference)
        );
        assert_eq!(doc["components"]["headers"]["X-Request-Id"], id);
        assert_eq!(doc["components"]["headers"]["ETag"], other);
    }
}
