//! The per-caller request rate limit (issue 19 §5): a quota per window, advertised with the IETF
//! httpapi draft's `RateLimit-Policy` and `RateLimit` fields, 429 with `Retry-After` beyond it,
//! and counted by every instance together (§6).

use std::collections::HashSet;

use reqwest::Response;
use serde_json::Value;

use crate::api_test;
use crate::helpers::{assert_problem, spawn_app_with, Backend};
use crate::scene::{minimal_order, Scene};

fn field(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is missing"))
        .to_str()
        .unwrap()
        .to_string()
}

/// The demo's test clock stands at a whole minute plus this many seconds, or the test says so.
fn seconds_into_the_minute(app: &crate::helpers::TestApp) -> i64 {
    app.now().timestamp().rem_euclid(60)
}

/// A caller gets its quota, told what is left on each answer; then a 429 that says when to come
/// back, while another caller is served; the next window serves it again.
async fn a_caller_gets_its_quota_then_a_429_until_the_window_resets(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = 3;
        s.rate_limit_window_seconds = 60;
        s.cors_allowed_origins = "https://hr.example".into();
    })
    .await;
    // The clock stands still, so the seconds the answers count down are the ones read here: a
    // running clock once passed a second between them (a sign-in is slow), and a minute would
    // begin a new window.
    app.clock.set(app.now());
    let hr = app.hr_token().await;
    let planner = app.planner_token().await;
    let resets_in = 60 - seconds_into_the_minute(&app);
    for remaining in [2, 1, 0] {
        let response = app.get("/api/v1/orders", &hr).await;
        assert_eq!(response.status(), 200);
        assert_eq!(field(&response, "ratelimit-policy"), "\"default\";q=3;w=60");
        assert_eq!(
            field(&response, "ratelimit"),
            format!("\"default\";r={remaining};t={resets_in}")
        );
    }
    // A sign-in sent with a token is not the token's request: not counted, and not its
    // holder's act in the audit trail (the suite's audit check holds it to no entry).
    let signed_in = app
        .request(reqwest::Method::POST, "/api/v1/auth/token", Some(&hr))
        .form(&[
            ("grant_type", "password"),
            ("username", trajectum::admin::demo::COACH_EMAILS[0]),
            ("password", trajectum::admin::demo::COACH_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    // A browser front end reads the refusal and its fields (CORS).
    let refused = app
        .request(reqwest::Method::GET, "/api/v1/orders", Some(&hr))
        .header("origin", "https://hr.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(
        field(&refused, "access-control-allow-origin"),
        "https://hr.example"
    );
    let exposed = field(&refused, "access-control-expose-headers").to_lowercase();
    for name in ["retry-after", "ratelimit", "ratelimit-policy"] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert_eq!(field(&refused, "retry-after"), resets_in.to_string());
    assert_eq!(
        field(&refused, "ratelimit"),
        format!("\"default\";r=0;t={resets_in}")
    );
    assert_eq!(field(&refused, "ratelimit-policy"), "\"default\";q=3;w=60");
    let problem = assert_problem(refused, 429).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:rate-limited");
    // A token sent along to what takes none is not a caller's request.
    for path in ["/health/live", "/health/ready", "/api/v1/openapi.json"] {
        let response = app.get(path, &hr).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(response.headers().get("ratelimit").is_none(), "{path}");
    }

    // Each caller has a quota of its own; a sign-in is not a request of a caller.
    let response = app.get("/api/v1/orders", &planner).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        field(&response, "ratelimit"),
        format!("\"default\";r=2;t={resets_in}")
    );
    let again = app.hr_token().await;
    assert_eq!(app.get("/api/v1/orders", &again).await.status(), 429);

    // Refusals do not use the next window's quota up.
    app.advance(chrono::Duration::seconds(resets_in));
    let response = app.get("/api/v1/orders", &hr).await;
    assert_eq!(response.status(), 200);
    assert_eq!(field(&response, "ratelimit"), "\"default\";r=2;t=60");
}

/// With no quota there is no limit, and no fields that would say there is one.
async fn no_quota_no_limit(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.rate_limit = 0).await;
    let hr = app.hr_token().await;
    let response = app.get("/api/v1/orders", &hr).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("ratelimit").is_none());
    assert!(response.headers().get("ratelimit-policy").is_none());
}

/// Issue 19 §6: two instances on one database are one service. Requests fired at once at both,
/// sharing on every request: exactly the quota is served, whichever instance they reach.
async fn two_instances_serve_one_quota(backend: Backend) {
    let quota = 5;
    let app = spawn_app_with(backend, |s| {
        s.rate_limit = quota;
        s.rate_limit_share_milliseconds = 0;
    })
    .await;
    let other = app
        .another_instance(|s| {
            s.rate_limit = quota;
            s.rate_limit_share_milliseconds = 0;
        })
        .await;
    let hr = app.hr_token().await;
    let requests = (0..12).map(|i| {
        let base = if i % 2 == 0 {
            app.address.clone()
        } else {
            other.clone()
        };
        app.client
            .get(format!("{base}/api/v1/orders"))
            .bearer_auth(&hr)
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let served = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (served, refused),
        (quota as usize, 12 - quota as usize),
        "{statuses:?}"
    );
}

/// Issue 19 §6: one `Idempotency-Key` sent to two instances at once makes one order, and both
/// answer with it.
async fn two_instances_keep_one_idempotency_key(backend: Backend) {
    let s = Scene::new(backend).await;
    let other = s.app.another_instance(|_| {}).await;
    let order = minimal_order();
    let sends = (0..6).map(|i| {
        let base = if i % 2 == 0 {
            s.app.address.clone()
        } else {
            other.clone()
        };
        s.app
            .client
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(&s.hr)
            .header("idempotency-key", "one-key-two-instances")
            .json(&order)
            .send()
    });
    let mut ids = HashSet::new();
    for response in futures_util::future::join_all(sends).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        let order: Value = response.json().await.unwrap();
        ids.insert(order["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "every answer names the one order");
    assert_eq!(s.app.order_count(&s.hr).await, 1);
}

api_test!(
    a_caller_gets_its_quota_then_a_429_until_the_window_resets,
    no_quota_no_limit,
    two_instances_serve_one_quota,
    two_instances_keep_one_idempotency_key,
);
