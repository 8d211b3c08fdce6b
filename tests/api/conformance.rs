//! Every response the suite receives is checked against the committed OpenAPI document: its
//! status must be documented for the operation, and its body must be of a documented media type
//! and valid against the schema (JSON Schema 2020-12, formats included). A test client that
//! generated code from the spec would trip on any difference; here the test fails instead.
//!
//! With `TRAJECTUM_RECORD_PROBLEMS=DIR`, every problem body received is also written to DIR, for
//! `openapi/clients/check.sh` to parse through a generated client.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

use reqwest::Method;
use serde_json::{json, Value};

/// The committed spec and the validators built from it so far.
pub struct Spec {
    doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
        let text = std::fs::read_to_string(path).expect("openapi/openapi.json");
        Spec {
            doc: serde_json::from_str(&text).expect("the spec is JSON"),
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// What the check is given of one exchange.
pub struct Exchange<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub status: u16,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

impl Spec {
    /// The document itself.
    pub fn doc(&self) -> &Value {
        &self.doc
    }

    /// Whether the response conforms; the reason when it does not.
    pub fn check(&self, exchange: &Exchange<'_>) -> Result<(), String> {
        record_problem(exchange);
        let path = exchange.path;
        if path.starts_with("/docs")
            || path == "/api/v1/openapi.json"
            || *exchange.method == Method::OPTIONS
        {
            return Ok(()); // Swagger UI's files, the document itself, CORS preflights.
        }
        let head = *exchange.method == Method::HEAD;
        let method = match *exchange.method {
            Method::HEAD => "get".to_string(),
            ref m => m.as_str().to_ascii_lowercase(),
        };
        let operation = self
            .route(path)
            .and_then(|template| self.doc["paths"][template].get(&method));
        let Some(operation) = operation else {
            // An unknown route or method: a problem document is all that is promised.
            let problem = json!({"$ref": "#/components/schemas/Problem"});
            return match exchange.status {
                404 | 405 if head => Ok(()),
                404 | 405 => self.body_against(exchange, &problem, "application/problem+json"),
                other => Err(format!(
                    "{other} for a route or method the spec does not have"
                )),
            };
        };
        let status = exchange.status.to_string();
        let response = operation["responses"]
            .get(&status)
            .or_else(|| operation["responses"].get("default"))
            .ok_or_else(|| format!("status {status} is not documented"))?;
        let response = self.resolve(response);
        if exchange.body.is_empty() {
            return Ok(());
        }
        let media = exchange
            .content_type
            .and_then(|c| c.split(';').next())
            .unwrap_or("")
            .trim();
        // A documented media type may carry parameters (`text/plain; version=0.0.4`).
        let schema = response["content"]
            .as_object()
            .into_iter()
            .flatten()
            .find(|(documented, _)| documented.split(';').next().unwrap_or("").trim() == media)
            .map(|(_, content)| &content["schema"])
            .ok_or_else(|| format!("a {media:?} body is not documented for {status}"))?;
        self.body_against(exchange, schema, media)
    }

    /// The path template of the spec that `path` is an instance of; literal segments win.
    fn route(&self, path: &str) -> Option<&str> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut best: Option<(&str, usize)> = None;
        for template in self.doc["paths"].as_object()?.keys() {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let fits = parts
                .iter()
                .zip(&segments)
                .all(|(p, s)| p == s || (p.starts_with('{') && !s.is_empty()));
            let literal = parts.iter().filter(|p| !p.starts_with('{')).count();
            if fits && best.is_none_or(|(_, l)| literal > l) {
                best = Some((template, literal));
            }
        }
        best.map(|(template, _)| template)
    }

    fn resolve<'a>(&'a self, response: &'a Value) -> &'a Value {
        match response["$ref"].as_str() {
            Some(reference) => self
                .doc
                .pointer(reference.trim_start_matches('#'))
                .unwrap_or(response),
            None => response,
        }
    }

    fn body_against(
        &self,
        exchange: &Exchange<'_>,
        schema: &Value,
        media: &str,
    ) -> Result<(), String> {
        if !(media == "application/json" || media.ends_with("+json")) {
            return Ok(()); // Text (metrics) has no JSON schema to meet.
        }
        let body: Value = serde_json::from_slice(exchange.body)
            .map_err(|e| format!("the {media} body is not JSON: {e}"))?;
        let validator = self.validator(schema);
        let errors: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("the body breaks its schema: {}", errors.join("; ")))
        }
    }

    fn validator(&self, schema: &Value) -> Arc<jsonschema::Validator> {
        let key = schema.to_string();
        let mut validators = self.validators.lock().unwrap();
        validators
            .entry(key)
            .or_insert_with(|| {
                let mut root = schema.clone();
                root["components"] = self.doc["components"].clone();
                Arc::new(
                    jsonschema::options()
                        .with_draft(jsonschema::Draft::Draft202012)
                        .should_validate_formats(true)
                        .build(&root)
                        .expect("the spec's schemas compile"),
                )
            })
            .clone()
    }
}

fn record_problem(exchange: &Exchange<'_>) {
    let Ok(dir) = std::env::var("TRAJECTUM_RECORD_PROBLEMS") else {
        return;
    };
    if exchange.content_type != Some("application/problem+json") || exchange.body.is_empty() {
        return;
    }
    let Ok(body) = serde_json::from_slice::<Value>(exchange.body) else {
        return;
    };
    // One file per kind of body: the request id differs every time.
    let mut shape = body.clone();
    shape.as_object_mut().map(|o| o.remove("request_id"));
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    shape.to_string().hash(&mut hasher);
    let file = format!("{dir}/{}-{:016x}.json", exchange.status, hasher.finish());
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(file, body.to_string());
}

#[test]
fn the_check_refuses_what_the_spec_does_not_allow() {
    let order = Exchange {
        method: &Method::GET,
        path: "/api/v1/orders/0193f5a4-8c2e-7d41-9b7a-1f2e3d4c5b6a",
        status: 200,
        content_type: Some("application/json"),
        body: br#"{"id": 1}"#,
    };
    assert!(spec()
        .check(&order)
        .unwrap_err()
        .contains("breaks its schema"));
    let teapot = Exchange {
        status: 418,
        body: b"",
        ..order
    };
    assert!(spec()
        .check(&teapot)
        .unwrap_err()
        .contains("not documented"));
    let problem =
        br#"{"type": "urn:x", "title": "Not Found", "status": 404, "detail": "no such order"}"#;
    let as_json = Exchange {
        status: 404,
        content_type: Some("application/json"),
        body: problem,
        ..order
    };
    assert!(spec()
        .check(&as_json)
        .unwrap_err()
        .contains("not documented"));
    let as_problem = Exchange {
        content_type: Some("application/problem+json"),
        ..as_json
    };
    assert_eq!(spec().check(&as_problem), Ok(()));
}
