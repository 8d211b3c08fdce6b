//! API.md "Conventions": every error is a problem document, request ids, strict bodies, CORS.

use reqwest::Method;
use serde_json::json;

use crate::api_test;
use crate::conformance::spec;
use crate::helpers::{assert_problem, first_pointer, spawn_app, spawn_app_with, Backend};
use crate::scene::Scene;

async fn an_unknown_route_is_a_404_problem(backend: Backend) {
    let app = spawn_app(backend).await;
    for path in ["/nowhere", "/api/v1/nowhere", "/api/v2/coaches"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_problem(response, 404).await;
    }
}

async fn a_wrong_method_is_a_405_with_allow(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let response = app
        .request(Method::DELETE, "/api/v1/coaches", Some(&token))
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_string();
    assert_problem(response, 405).await;
    assert_eq!(allow, "GET, HEAD, POST");
    let response = app
        .request(
            Method::PUT,
            &format!("/api/v1/coaches/{}", uuid::Uuid::now_v7()),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_string();
    assert_problem(response, 405).await;
    assert_eq!(allow, "GET, HEAD, PATCH");
    let response = app
        .client
        .get(app.url("/api/v1/auth/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "POST");
    assert_problem(response, 405).await;
}

async fn malformed_json_is_a_400_naming_the_position(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let response = app
        .request(Method::POST, "/api/v1/coaches", Some(&token))
        .header("content-type", "application/json")
        .body("{\n  \"name\": \"Anna\",\n  \"email\": }")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("line 3, column 12"), "{detail}");
}

async fn an_unknown_field_is_a_400_naming_the_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let body = json!({"name": "Anna", "email": "a@b.example", "time_zone": "Europe/Amsterdam", "timezone": "x"});
    let problem = assert_problem(app.post_json("/api/v1/coaches", &token, &body).await, 400).await;
    assert_eq!(first_pointer(&problem), "/timezone");
    // A wrong type and a missing field are named too.
    let problem = assert_problem(
        app.post_json(
            "/api/v1/coaches",
            &token,
            &json!({"name": 7, "email": "a@b.example", "time_zone": "UTC"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/name");
    let problem = assert_problem(
        app.post_json(
            "/api/v1/coaches",
            &token,
            &json!({"name": "Anna", "time_zone": "UTC"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/email");
}

async fn a_wrong_content_type_is_a_415(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let response = app
        .request(Method::POST, "/api/v1/coaches", Some(&token))
        .header("content-type", "text/plain")
        .body(r#"{"name":"Anna"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
    let response = app
        .request(Method::POST, "/api/v1/coaches", Some(&token))
        .body(r#"{"name":"Anna"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
}

async fn an_oversized_body_is_a_413(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.body_limit_bytes = 2048).await;
    let token = app.planner_token().await;
    let body = json!({"name": "x".repeat(4096), "email": "a@b.example", "time_zone": "UTC"});
    let problem = assert_problem(app.post_json("/api/v1/coaches", &token, &body).await, 413).await;
    assert!(problem["detail"].as_str().unwrap().contains("2048"));
    // Nothing was written.
    let list: serde_json::Value = app
        .get("/api/v1/coaches", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid::Uuid::parse_str(&generated).is_ok());
    let response = app
        .client
        .get(app.url("/api/v1/nowhere"))
        .header("x-request-id", "hr-sync-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "hr-sync-42");
    let problem = assert_problem(response, 404).await;
    assert_eq!(problem["request_id"], "hr-sync-42");
    // A hostile id is replaced, not echoed.
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "a b\"c");
}

async fn a_bad_id_or_query_parameter_is_a_clear_error(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    assert_problem(app.get("/api/v1/coaches/not-a-uuid", &token).await, 404).await;
    let problem = assert_problem(app.get("/api/v1/coaches?limt=5", &token).await, 400).await;
    assert_eq!(first_pointer(&problem), "limt");
    let problem = assert_problem(app.get("/api/v1/coaches?limit=abc", &token).await, 400).await;
    assert_eq!(first_pointer(&problem), "limit");
}

async fn cors_allows_only_configured_origins(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.cors_allowed_origins = "https://hr.example".into()
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/coaches"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight("https://hr.example").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://hr.example"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    assert_problem(refused, 400).await;
}

async fn json_bodies_end_with_a_newline(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.hr_token().await;
    for (path, token) in [
        ("/health/live", None),
        ("/api/v1/me", Some(token.as_str())),
        ("/api/v1/openapi.json", None),
    ] {
        let response = app.request(Method::GET, path, token).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let text = response.text().await.unwrap();
        assert!(
            text.ends_with("}\n"),
            "{path}: {:?}",
            &text[text.len() - 10..]
        );
    }
}

async fn malformed_json_points_at_the_nearest_valid_location(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.hr_token().await;
    let response = app
        .request(Method::POST, "/api/v1/orders", Some(&token))
        .header("content-type", "application/json")
        .body(r#"{"coachee": {"name": "a",,}}"#)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 400).await;
    assert_eq!(first_pointer(&problem), "/coachee");
    let detail = problem["errors"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains("column 26: key must be a string"),
        "{detail}"
    );
}

async fn a_bad_query_parameter_is_named_with_what_it_expects(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.hr_token().await;
    let problem = assert_problem(
        app.get("/api/v1/orders?updated_since=yesterday", &token)
            .await,
        400,
    )
    .await;
    assert_eq!(first_pointer(&problem), "updated_since");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("updated_since: must be an RFC 3339 date-time"),
        "{detail}"
    );
    let ok = app
        .get("/api/v1/orders?updated_since=2026-01-01T00:00:00Z", &token)
        .await;
    assert_eq!(ok.status(), 200);
}

async fn a_nul_character_is_refused_in_every_kind_of_input(backend: Backend) {
    let app = spawn_app(backend).await;
    // Before any token: a form field.
    let form = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&username=a%00b%40x.example&password=p")
        .send()
        .await
        .unwrap();
    assert_eq!(first_pointer(&assert_problem(form, 400).await), "username");
    let hr = app.hr_token().await;
    let planner = app.planner_token().await;
    let order = |coachee_name: &str, external_ref: &str| json!({"coachee": {"name": coachee_name, "email": "sam@acme.example"}, "external_ref": external_ref});
    for (body, pointer) in [
        (order("Sam\u{0}", "HR-1"), "/coachee/name"),
        (order("Sam", "HR-\u{0}1"), "/external_ref"),
    ] {
        let problem = assert_problem(app.post_json("/api/v1/orders", &hr, &body).await, 400).await;
        assert_eq!(first_pointer(&problem), pointer);
    }
    let created: serde_json::Value = app
        .post_json("/api/v1/orders", &hr, &order("Sam", "HR-2"))
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let cancel = app
        .post_json(
            &format!("/api/v1/orders/{id}/cancel"),
            &hr,
            &json!({"reason": "no\u{0}"}),
        )
        .await;
    assert_eq!(first_pointer(&assert_problem(cancel, 400).await), "/reason");
    let coach = json!({"name": "Carla\u{0}", "email": "c@p.example", "time_zone": "UTC"});
    let problem = assert_problem(
        app.post_json("/api/v1/coaches", &planner, &coach).await,
        400,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/name");
    let query = app.get("/api/v1/coaches?cursor=a%00", &planner).await;
    assert_eq!(first_pointer(&assert_problem(query, 400).await), "cursor");
    // Nothing was written: one order, still submitted.
    let orders: serde_json::Value = app.get("/api/v1/orders", &hr).await.json().await.unwrap();
    assert_eq!(orders["data"].as_array().unwrap().len(), 1);
    assert_eq!(orders["data"][0]["status"], "submitted");
}

async fn a_weak_etag_never_matches_if_match(backend: Backend) {
    let app = spawn_app(backend).await;
    let hr = app.hr_token().await;
    let body = json!({"coachee": {"name": "Sam", "email": "sam@acme.example"}});
    let created: serde_json::Value = app
        .post_json("/api/v1/orders", &hr, &body)
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/orders/{}", created["id"].as_str().unwrap());
    let change = |if_match: &'static str| {
        app.request(Method::PATCH, &path, Some(&hr))
            .header("if-match", if_match)
            .json(&json!({"job_title": "Team lead"}))
            .send()
    };
    // RFC 9110 §13.1.1: If-Match uses the strong comparison.
    assert_problem(change("W/\"1\"").await.unwrap(), 412).await;
    assert_eq!(change("\"1\"").await.unwrap().status(), 200);
}

/// Issue 16: an operation whose body is optional accepts none, everywhere, as the spec says:
/// no body, an empty one, `null` or `{}` are the defaults; a body that is there is still held
/// to its content type and its fields.
async fn an_optional_body_may_be_left_out(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let path = Scene::path(&id, "/coachee-link");
    let post = || s.app.request(Method::POST, &path, Some(&s.anna));
    for (content_type, body) in [
        (None, ""),
        (Some("application/json"), ""),
        (Some("application/json"), "null"),
        (Some("application/json"), "{}"),
        (Some("text/plain"), "  "),
    ] {
        let mut request = post();
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.body(body).send().await.unwrap();
        assert_eq!(response.status(), 201, "{content_type:?} {body:?}");
    }
    let week = post().json(&json!({"valid_days": 7})).send().await.unwrap();
    assert_eq!(week.status(), 201);
    let issued: serde_json::Value = week.json().await.unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(issued["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let off = expires - s.app.now() - chrono::Duration::days(7);
    assert!(off.num_seconds().abs() < 60, "{issued}");
    let refused = post()
        .header("content-type", "text/plain")
        .body("valid_days=7")
        .send()
        .await
        .unwrap();
    assert_problem(refused, 415).await;
    let typo = post().json(&json!({"valid_day": 7})).send().await.unwrap();
    assert_eq!(
        first_pointer(&assert_problem(typo, 400).await),
        "/valid_day"
    );
}

/// Issue 16: a POST whose body requires nothing declares it optional (and its handler takes an
/// `OptionalJson`, which the test above holds to it); a PUT or PATCH always sends its body.
#[test]
fn a_body_that_requires_nothing_is_optional_on_a_post() {
    let doc = spec().doc();
    let schema = |reference: &str| {
        let name = reference.trim_start_matches("#/components/schemas/");
        doc["components"]["schemas"][name].clone()
    };
    let mut checked = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let Some(body) = operations.get("post").and_then(|op| op.get("requestBody")) else {
            continue;
        };
        let Some(media) = body["content"].get("application/json") else {
            continue;
        };
        let reference = media["schema"]["$ref"].as_str().or_else(|| {
            media["schema"]["oneOf"]
                .as_array()?
                .iter()
                .find_map(|s| s["$ref"].as_str())
        });
        let requires_nothing = reference.is_some_and(|r| {
            schema(r)["required"]
                .as_array()
                .is_none_or(|required| required.is_empty())
        });
        let required = body["required"].as_bool().unwrap_or(false);
        assert_eq!(
            required, !requires_nothing,
            "POST {path}: a body that requires nothing is optional, and only then"
        );
        checked += 1;
    }
    assert!(checked > 10, "the spec's POST bodies were found");
}

api_test!(
    an_optional_body_may_be_left_out,
    json_bodies_end_with_a_newline,
    malformed_json_points_at_the_nearest_valid_location,
    a_bad_query_parameter_is_named_with_what_it_expects,
    a_nul_character_is_refused_in_every_kind_of_input,
    a_weak_etag_never_matches_if_match,
    an_unknown_route_is_a_404_problem,
    a_wrong_method_is_a_405_with_allow,
    malformed_json_is_a_400_naming_the_position,
    an_unknown_field_is_a_400_naming_the_field,
    a_wrong_content_type_is_a_415,
    an_oversized_body_is_a_413,
    every_response_carries_a_request_id,
    a_bad_id_or_query_parameter_is_a_clear_error,
    cors_allows_only_configured_origins,
);
