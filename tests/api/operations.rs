//! Health, readiness, metrics, Swagger UI and the committed OpenAPI document.

use std::time::Duration;

use serde_json::Value;

use crate::api_test;
use crate::helpers::{assert_problem, spawn_app, spawn_app_with, Backend, TestDb};

async fn liveness_and_readiness_answer(backend: Backend) {
    let app = spawn_app(backend).await;
    let live = app
        .client
        .get(app.url("/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let ready = app.public_json("/health/ready").await;
    assert_eq!(ready["status"], "ready");
}

/// PostgreSQL only: an embedded SQLite file cannot vanish from under open handles; the SQLite
/// variant of `an_exhausted_pool_is_a_503_not_a_hang` covers its unavailable case.
async fn readiness_is_503_when_the_database_is_gone(backend: Backend) {
    // A request may wait 5 s for the database; readiness answers 503 long before that, so a
    // probe with a timeout (here 2 s) sees the 503 rather than timing out.
    let app = spawn_app_with(backend, |s| s.db_timeout_seconds = 5).await;
    app.db.drop_now();
    let probe = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let response = probe.get(app.url("/health/ready")).send().await;
    let response = response.expect("readiness answers within a probe's timeout");
    assert_problem(response, 503).await;
    let token_attempt = app
        .token_request(&[
            ("grant_type", "password"),
            ("username", "a@b.example"),
            ("password", "whatever-password"),
        ])
        .await;
    assert_problem(token_attempt, 503).await;
}

async fn an_exhausted_pool_is_a_503_not_a_hang(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.db_pool_size = 2;
        s.db_timeout_seconds = 1;
    })
    .await;
    let pool = app.pool.clone();
    // Hold every connection, as a burst of slow requests would.
    let held = actix_web::rt::task::spawn_blocking(move || {
        (0..2).map(|_| pool.get().unwrap()).collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let response = tokio::time::timeout(
        Duration::from_secs(10),
        app.client.get(app.url("/health/ready")).send(),
    )
    .await
    .expect("answers instead of hanging")
    .unwrap();
    let retry_after = response.headers().get("retry-after").cloned();
    assert_problem(response, 503).await;
    // The database wait the service is configured with (1 s here), not a fixed guess.
    assert_eq!(retry_after.unwrap(), "1");
    drop(held);
    let response = app
        .client
        .get(app.url("/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "recovers once connections are back");
}

/// Another transaction holding what a request needs: a write lock on SQLite, the orders table
/// on PostgreSQL.
enum LockHolder {
    Sqlite(diesel::SqliteConnection),
    Postgres(diesel::PgConnection),
}

impl LockHolder {
    fn take(db: &TestDb) -> LockHolder {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        match db {
            TestDb::Sqlite { url, .. } => {
                let path = url.trim_start_matches("sqlite://");
                let mut conn = diesel::SqliteConnection::establish(path).unwrap();
                conn.batch_execute("BEGIN IMMEDIATE").unwrap();
                LockHolder::Sqlite(conn)
            }
            TestDb::Postgres { url, .. } => {
                let mut conn = diesel::PgConnection::establish(url).unwrap();
                conn.batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
                    .unwrap();
                LockHolder::Postgres(conn)
            }
        }
    }

    fn release(self) {
        use diesel::connection::SimpleConnection;
        match self {
            LockHolder::Sqlite(mut c) => c.batch_execute("ROLLBACK").unwrap(),
            LockHolder::Postgres(mut c) => c.batch_execute("ROLLBACK").unwrap(),
        }
    }
}

/// One setting says how long a request may wait for the database, for a connection and for a
/// lock another transaction holds (SQLite's busy wait, PostgreSQL's lock wait): here 1 s, so a
/// client with a 4 s timeout gets a 503 it can retry, not a timeout (the fixed 5 s wait before).
async fn a_request_waits_for_a_lock_as_long_as_the_setting_says(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.db_timeout_seconds = 1).await;
    let hr = app.hr_token().await;
    let order = serde_json::json!({"coachee": {"name": "Sam", "email": "sam@acme.example"}});
    let holder = LockHolder::take(&app.db);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(4))
        .build()
        .unwrap();
    let response = client
        .post(app.url("/api/v1/orders"))
        .bearer_auth(&hr)
        .json(&order)
        .send()
        .await
        .expect("answers before the client gives up");
    let retry_after = response.headers().get("retry-after").cloned();
    assert_problem(response, 503).await;
    // The database wait the service is configured with (1 s here), not a fixed guess.
    assert_eq!(retry_after.unwrap(), "1");
    holder.release();
    let response = app.post_json("/api/v1/orders", &hr, &order).await;
    assert_eq!(response.status(), 201, "served once the lock is released");
}

async fn metrics_count_requests_by_route_template(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let id = uuid::Uuid::now_v7();
    app.get(&format!("/api/v1/coaches/{id}"), &token).await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"trajectum_http_requests_total{method="GET",route="/api/v1/coaches/{id}",status="404"} 1"#),
        "{text}"
    );
    assert!(!text.contains(&id.to_string()), "ids never become labels");
    assert!(text.contains("trajectum_http_request_duration_seconds_bucket"));
    assert!(text.contains("trajectum_db_pool_max_connections 4"));
}

async fn swagger_ui_is_served_from_the_binary(backend: Backend) {
    let app = spawn_app(backend).await;
    let redirect = app.client.get(app.url("/docs")).send().await.unwrap();
    assert!(redirect.status().is_redirection());
    let page = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("swagger-ui"));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no external assets: {page}"
    );
    let bundle = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/api/v1/openapi.json"));
    assert!(
        init.contains(r#""validatorUrl": "none""#),
        "no online validator: {init}"
    );
}

async fn the_served_spec_is_the_committed_spec(backend: Backend) {
    let app = spawn_app(backend).await;
    let served = app.public_json("/api/v1/openapi.json").await;
    let generated = serde_json::to_value(trajectum::api::openapi()).unwrap();
    assert_eq!(served, generated);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&trajectum::api::openapi()).unwrap() + "\n",
        )
        .unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test the_served_spec` or `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn the_spec_documents_every_route_with_its_errors() {
    let spec = serde_json::to_value(trajectum::api::openapi()).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().unwrap();
    let mut routes: Vec<String> = paths
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    routes.sort();
    assert_eq!(
        routes,
        [
            "DELETE /api/v1/orders/{id}/coachee-link",
            "DELETE /api/v1/webhooks/{id}",
            "GET /api/v1/audit",
            "GET /api/v1/clients",
            "GET /api/v1/coachee/free-slots",
            "GET /api/v1/coachee/order",
            "GET /api/v1/coaches",
            "GET /api/v1/coaches/{id}",
            "GET /api/v1/coaches/{id}/availability",
            "GET /api/v1/coaches/{id}/calendar.ics",
            "GET /api/v1/coaches/{id}/free-slots",
            "GET /api/v1/events",
            "GET /api/v1/follow-up-policy",
            "GET /api/v1/follow-ups",
            "GET /api/v1/invitations",
            "GET /api/v1/invitations/{id}",
            "GET /api/v1/jobs",
            "GET /api/v1/me",
            "GET /api/v1/orders",
            "GET /api/v1/orders/{id}",
            "GET /api/v1/orders/{id}/calendar.ics",
            "GET /api/v1/orders/{id}/closing-review",
            "GET /api/v1/orders/{id}/coach-suggestions",
            "GET /api/v1/orders/{id}/export",
            "GET /api/v1/orders/{id}/follow-ups",
            "GET /api/v1/orders/{id}/intake",
            "GET /api/v1/orders/{id}/plan",
            "GET /api/v1/orders/{id}/sessions",
            "GET /api/v1/orders/{id}/timeline",
            "GET /api/v1/provider-settings",
            "GET /api/v1/reports/outcomes",
            "GET /api/v1/session-groups/{id}",
            "GET /api/v1/sessions",
            "GET /api/v1/sessions/{id}",
            "GET /api/v1/sessions/{id}/notes",
            "GET /api/v1/sign-up/{token}",
            "GET /api/v1/users",
            "GET /api/v1/webhooks",
            "GET /api/v1/webhooks/{id}",
            "GET /api/v1/webhooks/{id}/deliveries",
            "GET /health/live",
            "GET /health/ready",
            "GET /metrics",
            "PATCH /api/v1/clients/{id}",
            "PATCH /api/v1/coachee/sessions/{id}",
            "PATCH /api/v1/coaches/{id}",
            "PATCH /api/v1/follow-ups/{id}",
            "PATCH /api/v1/orders/{id}",
            "PATCH /api/v1/orders/{id}/plan/tasks/{task_id}",
            "PATCH /api/v1/session-groups/{id}",
            "PATCH /api/v1/sessions/{id}",
            "PATCH /api/v1/users/{id}",
            "PATCH /api/v1/webhooks/{id}",
            "POST /api/v1/auth/revoke",
            "POST /api/v1/auth/set-password",
            "POST /api/v1/auth/token",
            "POST /api/v1/clients/{id}/rotate-secret",
            "POST /api/v1/coachee/sessions",
            "POST /api/v1/coachee/sessions/{id}/cancel",
            "POST /api/v1/coachee/sessions/{id}/feedback",
            "POST /api/v1/coaches",
            "POST /api/v1/coaches/{id}/calendar-feed",
            "POST /api/v1/coaches/{id}/login",
            "POST /api/v1/follow-ups/{id}/outcome",
            "POST /api/v1/invitations",
            "POST /api/v1/invitations/{id}/close",
            "POST /api/v1/invitations/{id}/rotate-token",
            "POST /api/v1/jobs/{id}/retry",
            "POST /api/v1/orders",
            "POST /api/v1/orders/{id}/assign",
            "POST /api/v1/orders/{id}/calendar-feed",
            "POST /api/v1/orders/{id}/cancel",
            "POST /api/v1/orders/{id}/closing-review/validate",
            "POST /api/v1/orders/{id}/coachee-link",
            "POST /api/v1/orders/{id}/complete",
            "POST /api/v1/orders/{id}/contact",
            "POST /api/v1/orders/{id}/erase",
            "POST /api/v1/orders/{id}/extend",
            "POST /api/v1/orders/{id}/intake/complete",
            "POST /api/v1/orders/{id}/intake/validate",
            "POST /api/v1/orders/{id}/sessions",
            "POST /api/v1/orders/{id}/sessions/series",
            "POST /api/v1/session-groups",
            "POST /api/v1/session-groups/{id}/cancel",
            "POST /api/v1/session-groups/{id}/participants",
            "POST /api/v1/sessions/{id}/attendance",
            "POST /api/v1/sessions/{id}/cancel",
            "POST /api/v1/sign-up/{token}",
            "POST /api/v1/webhooks",
            "POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            "POST /api/v1/webhooks/{id}/ping",
            "POST /api/v1/webhooks/{id}/rotate-secret",
            "PUT /api/v1/coachee/consents",
            "PUT /api/v1/coaches/{id}/availability",
            "PUT /api/v1/follow-up-policy",
            "PUT /api/v1/orders/{id}/closing-review",
            "PUT /api/v1/orders/{id}/intake",
            "PUT /api/v1/orders/{id}/plan",
            "PUT /api/v1/provider-settings",
            "PUT /api/v1/sessions/{id}/notes",
        ]
    );
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                let described =
                    response.get("description").is_some() || response.get("$ref").is_some();
                assert!(described, "{method} {path} {status} has a description");
            }
            // Public operations opt out of the document-wide token requirement.
            let public = operation["security"] == serde_json::json!([]);
            assert!(
                operation.get("security").is_some(),
                "{method} {path} declares its security"
            );
            if public {
                assert!(!responses.contains_key("403"), "{method} {path} is public");
            } else {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents 401"
                );
            }
        }
    }
    assert!(spec["components"]["securitySchemes"]["bearer"].is_object());
}

api_test!(
    liveness_and_readiness_answer,
    an_exhausted_pool_is_a_503_not_a_hang,
    a_request_waits_for_a_lock_as_long_as_the_setting_says,
    metrics_count_requests_by_route_template,
    swagger_ui_is_served_from_the_binary,
    the_served_spec_is_the_committed_spec,
);
api_test!(postgres_only: readiness_is_503_when_the_database_is_gone);
