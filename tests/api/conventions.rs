//! API.md "Conventions": every error is a problem document, request ids, strict bodies, CORS.

use reqwest::Method;
use serde_json::json;

use crate::api_test;
use crate::helpers::{assert_problem, first_pointer, spawn_app, spawn_app_with, Backend};

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
    assert_eq!(allow, "GET, POST");
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
    assert_eq!(allow, "GET, PATCH");
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

api_test!(
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
