//! Issue 19 §6: two `trajectum` processes on one database are one service. The sign-in
//! throttle, the rate limit, `Idempotency-Key`s, disabling and the worker hold across them.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};
use trajectum::admin::demo;

use crate::api_test;
use crate::binary::{client_token, password_token, trajectum, Serving};
use crate::helpers::{Backend, TestDb};
use crate::webhooks::Receiver;

/// What both processes run with: every request shares the rate limit's count (exact across
/// them), every token is checked against the database on every request, and the worker sends
/// webhooks to this machine.
const SETTINGS: [(&str, &str); 7] = [
    ("TRAJECTUM_RATE_LIMIT", "40"),
    ("TRAJECTUM_RATE_LIMIT_SHARE_MILLISECONDS", "0"),
    ("TRAJECTUM_ACCESS_RECHECK_SECONDS", "0"),
    ("TRAJECTUM_LOGIN_MAX_FAILURES", "3"),
    ("TRAJECTUM_WORKER_POLL_MILLISECONDS", "100"),
    ("TRAJECTUM_WEBHOOK_ALLOW_HTTP", "true"),
    ("TRAJECTUM_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32"),
];

fn start(db: &TestDb, args: &[&str]) -> Serving {
    let mut command = trajectum(db);
    command.args(args).envs(SETTINGS);
    Serving::start(command)
}

async fn two_serve_processes_on_one_database_are_one_service(backend: Backend) {
    let db = TestDb::new(backend);
    let first = start(&db, &["demo", "--force"]);
    let second = start(&db, &["serve"]);
    let bases = [first.url(""), second.url("")];
    let either = |n: usize| bases[n % 2].clone();
    let http = reqwest::Client::new();

    // The throttle: three wrong passwords, spread over both, lock the account on both.
    let wrong = |base: String| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/api/v1/auth/token"))
                .form(&[
                    ("grant_type", "password"),
                    ("username", demo::COACH_EMAILS[1]),
                    ("password", "not-the-password"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(wrong(either(0)).await, 400);
    assert_eq!(wrong(either(1)).await, 400);
    assert_eq!(wrong(either(0)).await, 400);
    assert_eq!(wrong(either(1)).await, 429);
    assert_eq!(wrong(either(0)).await, 429);

    // The rate limit: 60 requests of one caller at once, half to each: the quota of 40 is
    // served, no more.
    let planner = password_token(&either(0), demo::ADMIN_EMAIL, demo::ADMIN_PASSWORD).await;
    let reads = (0..60).map(|n| {
        http.get(format!("{}/api/v1/orders", either(n)))
            .bearer_auth(&planner)
            .send()
    });
    let statuses: Vec<u16> = futures_util::future::join_all(reads)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    let served = statuses.iter().filter(|s| **s == 200).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((served, limited), (40, 20), "{statuses:?}");

    // The worker: both processes run one; a webhook of each new order reaches the HR system
    // once.
    let system = client_token(&either(0), demo::CLIENT_ID, demo::CLIENT_SECRET).await;
    let receiver = Receiver::start().await;
    let subscribed = http
        .post(format!("{}/api/v1/webhooks", either(0)))
        .bearer_auth(&system)
        .json(&json!({"url": receiver.url, "event_types": ["order.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(subscribed.status(), 201);
    for n in 0..10 {
        let created = http
            .post(format!("{}/api/v1/orders", either(n)))
            .bearer_auth(&system)
            .json(&json!({"coachee": {"name": format!("Sam {n}"), "email": "sam@acme.example"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }

    // An `Idempotency-Key` sent to both at once: one order, every answer its answer.
    let keyed = (0..6).map(|n| {
        http.post(format!("{}/api/v1/orders", either(n)))
            .bearer_auth(&system)
            .header("idempotency-key", "one-key-two-processes")
            .json(&json!({"coachee": {"name": "Kim", "email": "kim@acme.example"}}))
            .send()
    });
    let mut ids = HashSet::new();
    for answer in futures_util::future::join_all(keyed).await {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), 201);
        let order: Value = answer.json().await.unwrap();
        ids.insert(order["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "one order for one key");

    // Eleven orders were created: eleven deliveries, each once, whichever worker sent it.
    for _ in 0..300 {
        if receiver.received().len() >= 11 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for a second delivery of any of them to have come, had one been sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    let distinct: HashSet<String> = received.iter().map(|r| r.id.clone()).collect();
    assert_eq!(
        (received.len(), distinct.len()),
        (11, 11),
        "every order.created delivered once"
    );

    // Disabling: the HR user disables the HR system's client through one process; its token
    // is refused by the other on its next request.
    let hr = password_token(&either(0), demo::HR_EMAIL, demo::HR_PASSWORD).await;
    let me: Value = http
        .get(format!("{}/api/v1/me", either(1)))
        .bearer_auth(&system)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let disabled = http
        .patch(format!(
            "{}/api/v1/clients/{}",
            either(0),
            me["subject_id"].as_str().unwrap()
        ))
        .bearer_auth(&hr)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    let refused = http
        .get(format!("{}/api/v1/orders", either(1)))
        .bearer_auth(&system)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

api_test!(two_serve_processes_on_one_database_are_one_service);
