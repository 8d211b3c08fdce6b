//! Webhooks and the events feed (issue 18), against receivers in this test process. Their
//! signatures are checked by [`verify`], written here from the Standard Webhooks specification
//! (HMAC-SHA256 over `id.timestamp.body`, base64, `v1,` and space-separated), not with the
//! service's signing code.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Duration;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::api_test;
use crate::helpers::{spawn_app_with, Backend, TestApp};
use crate::scene::{minimal_order, Scene};

/// The specification's tolerance for a delivery's timestamp.
const TOLERANCE_SECONDS: i64 = 5 * 60;

/// Verifies a delivery as the Standard Webhooks specification says a receiver does, at `now`
/// (seconds): the timestamp within five minutes, and one of the `v1` signatures the HMAC-SHA256
/// of `id.timestamp.body` under the secret (base64 after `whsec_`), compared in constant time.
pub fn verify(secret: &str, delivery: &Received, now: i64) -> Result<(), &'static str> {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("not a whsec_ secret")?)
        .map_err(|_| "the secret is not base64")?;
    let timestamp: i64 = delivery.timestamp.parse().map_err(|_| "no timestamp")?;
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err("the timestamp is too old or too new");
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", delivery.id, delivery.timestamp, delivery.body).as_bytes());
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    let matches = delivery
        .signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|signature| {
            signature.len() == expected.len()
                && signature
                    .bytes()
                    .zip(expected.bytes())
                    .fold(0, |acc, (a, b)| acc | (a ^ b))
                    == 0
        });
    if matches {
        Ok(())
    } else {
        Err("no signature matches")
    }
}

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// How a receiver answers one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Held until [`Receiver::release`].
    pub hold: bool,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: vec![],
            hold: false,
        }
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Answer>>,
    otherwise: Mutex<Option<Answer>>,
    released: tokio::sync::Notify,
}

/// A webhook receiver on this machine: it records each request and answers as scripted (200
/// when the script is empty).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

async fn receive(
    req: actix_web::HttpRequest,
    body: actix_web::web::Bytes,
    shared: actix_web::web::Data<Arc<Shared>>,
) -> actix_web::HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let answer = {
        shared.received.lock().unwrap().push(Received {
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let scripted = shared.script.lock().unwrap().pop_front();
        scripted
            .or_else(|| shared.otherwise.lock().unwrap().clone())
            .unwrap_or(Answer::status(200))
    };
    if answer.hold {
        shared.released.notified().await;
    }
    let mut response = actix_web::HttpResponse::build(
        actix_web::http::StatusCode::from_u16(answer.status).unwrap(),
    );
    for (name, value) in answer.headers {
        response.insert_header((name, value));
    }
    response.body("thanks")
}

impl Receiver {
    pub async fn start() -> Receiver {
        let shared = Arc::new(Shared::default());
        let data = actix_web::web::Data::new(shared.clone());
        let server = actix_web::HttpServer::new(move || {
            actix_web::App::new()
                .app_data(data.clone())
                .default_service(actix_web::web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        actix_web::rt::spawn(server.run());
        Receiver {
            url: format!("http://127.0.0.1:{port}/hooks"),
            shared,
        }
    }

    /// The next requests get these answers, in turn.
    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.shared.script.lock().unwrap().extend(answers);
    }

    /// Requests past the script get this answer.
    pub fn otherwise(&self, answer: Answer) {
        *self.shared.otherwise.lock().unwrap() = Some(answer);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Lets the held requests answer.
    pub fn release(&self) {
        self.shared.released.notify_waiters();
    }
}

/// An app that sends webhooks to this machine over plain http (as development does), with
/// loopback allowed as an operator allows a private network.
pub async fn local_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |settings| {
        settings.webhook_allow_http = true;
        settings.webhook_allowed_networks = "127.0.0.1/32".into();
        settings.webhook_timeout_seconds = 2;
    })
    .await
}

/// Subscribes `url` to `types` as `token`; the subscription with its secret.
pub async fn subscribe(app: &TestApp, token: &str, url: &str, types: &[&str]) -> Value {
    let response = app
        .post_json(
            "/api/v1/webhooks",
            token,
            &json!({"url": url, "event_types": types, "description": "tests"}),
        )
        .await;
    assert_eq!(response.status(), 201, "subscribe");
    response.json().await.unwrap()
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap().to_string()
}

async fn deliveries(app: &TestApp, token: &str, webhook: &str) -> Vec<Value> {
    let page: Value = app
        .get(&format!("/api/v1/webhooks/{webhook}/deliveries"), token)
        .await
        .json()
        .await
        .unwrap();
    page["data"].as_array().unwrap().clone()
}

/// Enables the subscription again; the subscription.
async fn enable(app: &TestApp, token: &str, webhook: &str) -> Value {
    let response = app
        .patch_json(
            &format!("/api/v1/webhooks/{webhook}"),
            token,
            &json!({"enabled": true}),
        )
        .await;
    assert_eq!(response.status(), 200, "enable");
    response.json().await.unwrap()
}

async fn webhook(app: &TestApp, token: &str, webhook: &str) -> Value {
    app.get(&format!("/api/v1/webhooks/{webhook}"), token)
        .await
        .json()
        .await
        .unwrap()
}

/// Each delivery is signed as the specification says: it verifies with the secret shown at
/// subscription; a tampered body, another secret and an old timestamp do not. The employer's
/// payload is the step without its details; the provider's carries them.
async fn deliveries_are_signed_as_the_specification_says(backend: Backend) {
    let s = Scene::with(local_app(backend).await).await;
    let hr_receiver = Receiver::start().await;
    let provider_receiver = Receiver::start().await;
    let hr_hook = subscribe(
        &s.app,
        &s.hr,
        &hr_receiver.url,
        &["order.created", "order.accepted"],
    )
    .await;
    let secret = hr_hook["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(hr_hook["enabled"], true);
    let shown_again = webhook(&s.app, &s.hr, &id_of(&hr_hook)).await;
    assert!(
        shown_again.get("secret").is_none(),
        "the secret is shown once"
    );
    let provider_hook = subscribe(
        &s.app,
        &s.planner,
        &provider_receiver.url,
        &["order.accepted"],
    )
    .await;

    let order = s.accepted().await;
    assert_eq!(s.app.run_deliveries().await, 2);
    let got = hr_receiver.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let now = s.app.now().timestamp();
    for delivery in &got {
        verify(&secret, delivery, now).expect("a delivery verifies");
    }
    let created = got[0].json();
    assert_eq!(created["type"], "order.created");
    assert_eq!(created["order_id"], order.as_str());
    assert_eq!(created["to_status"], "submitted");
    assert_eq!(created["version"], 1);
    assert!(
        created.get("data").is_none(),
        "the employer sees no details"
    );
    let accepted = got[1].json();
    assert_eq!(accepted["type"], "order.accepted");
    assert_eq!(
        accepted["sequence"].as_i64().unwrap(),
        created["sequence"].as_i64().unwrap() + 1
    );
    assert_ne!(got[0].id, got[1].id);

    let mut tampered = got[0].clone();
    tampered.body = tampered.body.replace("submitted", "accepted");
    assert_eq!(verify(&secret, &tampered, now), Err("no signature matches"));
    let other_secret = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    assert_eq!(
        verify(&other_secret, &got[0], now),
        Err("no signature matches")
    );
    assert_eq!(
        verify(&secret, &got[0], now + TOLERANCE_SECONDS + 60),
        Err("the timestamp is too old or too new")
    );

    let provider_got = provider_receiver.received();
    assert_eq!(provider_got.len(), 1);
    let provider_secret = provider_hook["secret"].as_str().unwrap();
    verify(provider_secret, &provider_got[0], now).unwrap();
    assert_eq!(
        provider_got[0].json()["data"]["coach_id"],
        s.anna_coach_id.as_str()
    );
    assert!(verify(&secret, &provider_got[0], now).is_err());

    let listed = deliveries(&s.app, &s.hr, &id_of(&hr_hook)).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["type"], "order.accepted", "newest first");
    for delivery in &listed {
        assert_eq!(delivery["status"], "delivered");
        assert_eq!(delivery["attempts"][0]["status_code"], 200);
        assert_eq!(delivery["attempts"][0]["response_body"], "thanks");
    }
    assert_eq!(listed[1]["id"].as_str().unwrap(), got[0].id);
}

api_test!(deliveries_are_signed_as_the_specification_says);

/// After a rotation, deliveries carry both signatures for a day: a receiver verifies with
/// either secret; after the overlap only the new one signs.
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(backend: Backend) {
    let mut s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(&s.app, &s.hr, &receiver.url, &["order.created"]).await;
    let old = hook["secret"].as_str().unwrap().to_string();
    let rotated = s
        .app
        .post_json(
            &format!("/api/v1/webhooks/{}/rotate-secret", id_of(&hook)),
            &s.hr,
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_string();
    assert_ne!(old, new);

    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    let during = receiver.received().pop().unwrap();
    assert_eq!(
        during.signature.split(' ').count(),
        2,
        "{}",
        during.signature
    );
    let now = s.app.now().timestamp();
    verify(&old, &during, now).expect("the old secret verifies during the overlap");
    verify(&new, &during, now).expect("the new secret verifies");

    s.advance(Duration::hours(25)).await;
    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    let after = receiver.received().pop().unwrap();
    let now = s.app.now().timestamp();
    assert_eq!(after.signature.split(' ').count(), 1);
    verify(&new, &after, now).unwrap();
    assert!(
        verify(&old, &after, now).is_err(),
        "the old secret is retired"
    );
    let shown = webhook(&s.app, &s.hr, &id_of(&hook)).await;
    assert!(shown.get("previous_secret_expires_at").is_none(), "{shown}");
}

api_test!(a_rotated_secret_signs_beside_the_new_one_for_a_day);

/// A failed delivery waits (growing waits, or longer when the receiver says `Retry-After`) and
/// holds back the subscription's later events, which then follow in the log's order.
async fn failures_are_retried_in_order_honouring_retry_after(backend: Backend) {
    let s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(
        &s.app,
        &s.hr,
        &receiver.url,
        &["order.created", "order.accepted"],
    )
    .await;
    receiver.script([
        Answer::status(500),
        Answer {
            status: 503,
            headers: vec![("retry-after", "600".into())],
            hold: false,
        },
    ]);
    s.accepted().await;
    s.app.run_deliveries().await;
    assert_eq!(receiver.received().len(), 1, "the first attempt failed");
    // Not due yet: nothing goes, the later event included.
    s.app.run_deliveries().await;
    assert_eq!(receiver.received().len(), 1);
    let listed = deliveries(&s.app, &s.hr, &id_of(&hook)).await;
    let first = listed
        .iter()
        .find(|d| d["type"] == "order.created")
        .unwrap();
    assert_eq!(first["status"], "pending");
    assert_eq!(first["attempts"][0]["status_code"], 500);
    let next =
        chrono::DateTime::parse_from_rfc3339(first["next_attempt_at"].as_str().unwrap()).unwrap();
    let wait = next.with_timezone(&chrono::Utc) - s.app.now();
    assert!(
        wait >= Duration::seconds(15) && wait <= Duration::seconds(30),
        "the first wait is 15 to 30 s: {wait}"
    );

    s.app.advance(Duration::seconds(31));
    s.app.run_deliveries().await;
    assert_eq!(receiver.received().len(), 2, "the second attempt (503)");
    // Retry-After: 600 outlasts the backoff.
    s.app.advance(Duration::seconds(300));
    s.app.run_deliveries().await;
    assert_eq!(receiver.received().len(), 2, "Retry-After is honoured");
    s.app.advance(Duration::seconds(301));
    s.app.run_deliveries().await;
    let got = receiver.received();
    assert_eq!(got.len(), 4, "delivered, then the held-back event");
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(got[1].id, got[2].id, "the same webhook-id on every attempt");
    assert_eq!(got[2].json()["type"], "order.created");
    assert_eq!(got[3].json()["type"], "order.accepted");
    let listed = deliveries(&s.app, &s.hr, &id_of(&hook)).await;
    assert!(
        listed.iter().all(|d| d["status"] == "delivered"),
        "{listed:?}"
    );
}

api_test!(failures_are_retried_in_order_honouring_retry_after);

/// 410 Gone disables the subscription at once, and says why; events meanwhile are not queued
/// for it (the feed has them). Enabled again, it receives; a receiver that fails for a day
/// disables it again, with the last answer; a redelivery sends the failed one with its id.
async fn gone_or_failing_for_a_day_disables_and_enabling_resumes(backend: Backend) {
    let mut s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(&s.app, &s.hr, &receiver.url, &["order.created"]).await;
    let id = id_of(&hook);
    receiver.script([Answer::status(410)]);
    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    let disabled = webhook(&s.app, &s.hr, &id).await;
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["disabled"]["reason"], "gone");
    assert!(disabled["disabled"]["detail"]
        .as_str()
        .unwrap()
        .contains("410"));
    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    assert_eq!(
        receiver.received().len(),
        1,
        "a disabled subscription gets nothing"
    );
    let redeliver_disabled = s
        .app
        .post_json(
            &format!(
                "/api/v1/webhooks/{id}/deliveries/{}/redeliver",
                receiver.received()[0].id
            ),
            &s.hr,
            &json!({}),
        )
        .await;
    crate::helpers::assert_problem(redeliver_disabled, 409).await;

    let enabled = enable(&s.app, &s.hr, &id).await;
    assert_eq!(enabled["enabled"], true);
    assert!(enabled.get("disabled").is_none());

    receiver.otherwise(Answer::status(500));
    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    let started = s.app.now();
    let mut attempts = 1;
    while webhook(&s.app, &s.hr, &id).await["enabled"] == true {
        s.advance(Duration::hours(1)).await;
        s.app.run_deliveries().await;
        attempts = receiver.received().len() - 1;
        assert!(
            s.app.now() - started < Duration::hours(40),
            "disabled in time"
        );
    }
    assert!(
        s.app.now() - started >= Duration::hours(24),
        "retried for at least a day"
    );
    assert!(attempts >= 8, "{attempts} attempts");
    let failing = webhook(&s.app, &s.hr, &id).await;
    assert_eq!(failing["disabled"]["reason"], "failing");
    assert!(failing["disabled"]["detail"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    let failed: Vec<Value> = deliveries(&s.app, &s.hr, &id)
        .await
        .into_iter()
        .filter(|d| d["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 2, "the gone one and the failing one");

    // Enabled again, with a receiver that works: a redelivery goes with the same id.
    receiver.otherwise(Answer::status(204));
    enable(&s.app, &s.hr, &id).await;
    let failing_id = failed[0]["id"].as_str().unwrap().to_string();
    let redelivered = s
        .app
        .post_json(
            &format!("/api/v1/webhooks/{id}/deliveries/{failing_id}/redeliver"),
            &s.hr,
            &json!({}),
        )
        .await;
    assert_eq!(redelivered.status(), 202);
    s.app.run_deliveries().await;
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.id, failing_id);
    let listed = deliveries(&s.app, &s.hr, &id).await;
    let again = listed
        .iter()
        .find(|d| d["id"] == failing_id.as_str())
        .unwrap();
    assert_eq!(again["status"], "delivered");
}

api_test!(gone_or_failing_for_a_day_disables_and_enabling_resumes);

/// A receiver that does not answer holds up its own subscription only: another's deliveries
/// go out meanwhile.
async fn one_slow_receiver_holds_up_no_other(backend: Backend) {
    let s = Scene::with(local_app(backend).await).await;
    let slow = Receiver::start().await;
    let quick = Receiver::start().await;
    slow.otherwise(Answer {
        status: 200,
        headers: vec![],
        hold: true,
    });
    subscribe(&s.app, &s.hr, &slow.url, &["order.created"]).await;
    subscribe(&s.app, &s.planner, &quick.url, &["order.created"]).await;
    let deliverer = s.app.deliverer("slow-and-quick");
    let running = actix_web::rt::spawn(async move { deliverer.run_due().await });
    for _ in 0..3 {
        s.create(&minimal_order()).await;
    }
    let waited = std::time::Instant::now();
    while quick.received().len() < 3 || slow.received().is_empty() {
        assert!(
            waited.elapsed() < std::time::Duration::from_secs(30),
            "quick got {}",
            quick.received().len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        // Deliveries queued after the run began are taken by another.
        if running.is_finished() {
            break;
        }
    }
    s.app.run_deliveries().await;
    assert_eq!(
        quick.received().len(),
        3,
        "the quick receiver got all three"
    );
    assert_eq!(
        slow.received().len(),
        1,
        "the slow one is still on its first"
    );
    slow.release();
    let _ = running.await;
}

api_test!(one_slow_receiver_holds_up_no_other);

/// Where deliveries never go: plain http (unless configured), loopback, link-local and the
/// metadata address, private and unique-local networks, IPv6 loopback and IPv4-mapped
/// addresses, a name that resolves to loopback. Refused at subscription, and again at delivery
/// for a subscription made while an operator allowed it; a redirect is not followed.
async fn deliveries_never_go_to_the_services_own_networks(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await;
    let hr = app.hr_token().await;
    for url in [
        "http://hr.example.com/hooks",
        "https://127.0.0.1/hooks",
        "https://127.1.2.3:8443/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://10.0.0.8/hooks",
        "https://172.20.1.1/hooks",
        "https://192.168.1.10/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[::ffff:a9fe:a9fe]/hooks",
        "https://[fd00::1]/hooks",
        "https://[fe80::1]/hooks",
        "https://localhost/hooks",
        "https://localhost:8080/hooks",
        "https://0.0.0.0/hooks",
    ] {
        let response = app
            .post_json(
                "/api/v1/webhooks",
                &hr,
                &json!({"url": url, "event_types": ["order.created"]}),
            )
            .await;
        let problem = crate::helpers::assert_problem(response, 422).await;
        assert_eq!(crate::helpers::first_pointer(&problem), "/url", "{url}");
    }

    // Made while loopback was allowed; delivered by a worker whose operator allows it no more.
    let s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(&s.app, &s.hr, &receiver.url, &["order.created"]).await;
    s.create(&minimal_order()).await;
    let mut strict = s.app.webhook_settings();
    strict.policy = trajectum::domain::webhook::AddressPolicy::default();
    let keys = trajectum::startup::load_notes_keys(&s.app.settings).unwrap();
    let deliverer = trajectum::delivery::Deliverer::new(
        "strict",
        s.app.clock.clone(),
        s.app.pool.clone(),
        strict,
        Arc::new(keys),
        Duration::seconds(60),
    )
    .unwrap();
    deliverer.run_due().await.unwrap();
    assert!(receiver.received().is_empty(), "nothing reached loopback");
    let listed = deliveries(&s.app, &s.hr, &id_of(&hook)).await;
    let attempt = &listed[0]["attempts"][0];
    assert!(attempt["status_code"].is_null());
    assert!(
        attempt["error"].as_str().unwrap().contains("loopback"),
        "{attempt}"
    );

    // A receiver that redirects elsewhere: not followed, a failed attempt.
    let elsewhere = Receiver::start().await;
    let redirecting = Receiver::start().await;
    redirecting.otherwise(Answer {
        status: 307,
        headers: vec![("location", elsewhere.url.clone())],
        hold: false,
    });
    let hook = subscribe(&s.app, &s.planner, &redirecting.url, &["order.created"]).await;
    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    assert_eq!(redirecting.received().len(), 1);
    assert!(
        elsewhere.received().is_empty(),
        "the redirect is not followed"
    );
    let listed = deliveries(&s.app, &s.planner, &id_of(&hook)).await;
    assert_eq!(listed[0]["status"], "pending");
    assert_eq!(listed[0]["attempts"][0]["status_code"], 307);
}

api_test!(deliveries_never_go_to_the_services_own_networks);

/// A worker process killed while its receiver holds a delivery: the delivery is sent again, by
/// the next worker, with the same `webhook-id`; every event's deliveries share one id.
async fn a_killed_worker_delivers_again_with_the_same_id(backend: Backend) {
    let s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    subscribe(&s.app, &s.hr, &receiver.url, &["order.created"]).await;
    receiver.script([Answer {
        status: 200,
        headers: vec![],
        hold: true,
    }]);
    for _ in 0..3 {
        s.create(&minimal_order()).await;
    }
    let worker = || {
        let mut command = crate::binary::trajectum(&s.app.db);
        command
            .env("TRAJECTUM_WORKER_LEASE_SECONDS", "2")
            .env("TRAJECTUM_WEBHOOK_TIMEOUT_SECONDS", "1")
            .env("TRAJECTUM_WORKER_POLL_MILLISECONDS", "50")
            .env("TRAJECTUM_WEBHOOK_ALLOW_HTTP", "true")
            .env("TRAJECTUM_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.1/32")
            .arg("worker")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let wait_for = |count: usize| {
        let receiver = receiver.clone();
        async move {
            let started = std::time::Instant::now();
            while receiver.received().len() < count {
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(60),
                    "{count} requests: {:?}",
                    receiver.received()
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    let mut first = worker();
    wait_for(1).await;
    first.kill().unwrap();
    first.wait().unwrap();
    receiver.release();
    let mut second = worker();
    wait_for(4).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let got = receiver.received();
    assert_eq!(got.len(), 4, "one delivery twice, the others once: {got:?}");
    assert_eq!(got[0].id, got[1].id, "sent again with the same webhook-id");
    assert_eq!(got[0].body, got[1].body);
    let mut by_event = std::collections::HashMap::new();
    for delivery in &got {
        let event = delivery.json()["id"].as_str().unwrap().to_string();
        let id = by_event.entry(event).or_insert_with(|| delivery.id.clone());
        assert_eq!(*id, delivery.id, "one webhook-id per event");
    }
    assert_eq!(by_event.len(), 3);
}

api_test!(a_killed_worker_delivers_again_with_the_same_id);

/// Managing subscriptions: strict input, one per URL, another organisation's is a 404, a coach
/// has none, and a deleted one receives nothing.
async fn subscriptions_are_strict_and_the_organisations_own(backend: Backend) {
    let s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    for (body, pointer) in [
        (
            json!({"url": receiver.url, "event_types": ["order.teleported"]}),
            "/event_types/0",
        ),
        (
            json!({"url": receiver.url, "event_types": ["alliance.at_risk"]}),
            "/event_types/0",
        ),
        (
            json!({"url": receiver.url, "event_types": []}),
            "/event_types",
        ),
        (
            json!({"url": "not a url", "event_types": ["order.created"]}),
            "/url",
        ),
    ] {
        let response = s.app.post_json("/api/v1/webhooks", &s.hr, &body).await;
        let problem = crate::helpers::assert_problem(response, 422).await;
        assert_eq!(crate::helpers::first_pointer(&problem), pointer, "{body}");
    }
    let unknown = s
        .app
        .post_json(
            "/api/v1/webhooks",
            &s.hr,
            &json!({"url": receiver.url, "event_types": ["order.created"], "secret": "mine"}),
        )
        .await;
    crate::helpers::assert_problem(unknown, 400).await;
    let coach = s
        .app
        .post_json(
            "/api/v1/webhooks",
            &s.anna,
            &json!({"url": receiver.url, "event_types": ["order.created"]}),
        )
        .await;
    crate::helpers::assert_problem(coach, 403).await;

    let hook = subscribe(&s.app, &s.hr, &receiver.url, &["order.created"]).await;
    let id = id_of(&hook);
    let again = s
        .app
        .post_json(
            "/api/v1/webhooks",
            &s.hr,
            &json!({"url": receiver.url, "event_types": ["order.accepted"]}),
        )
        .await;
    let problem = crate::helpers::assert_problem(again, 409).await;
    assert_eq!(problem["existing_webhook_id"], id.as_str());

    let other = s.app.seed_other_tenant().await;
    let other_hr = s
        .app
        .access_token(&other.hr_email, crate::helpers::OTHER_PASSWORD)
        .await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/webhooks/{id}")),
        (Method::GET, format!("/api/v1/webhooks/{id}/deliveries")),
        (Method::DELETE, format!("/api/v1/webhooks/{id}")),
        (Method::POST, format!("/api/v1/webhooks/{id}/ping")),
    ] {
        let response = s
            .app
            .request(method.clone(), &path, Some(&other_hr))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
    }
    let listed: Value = s
        .app
        .get("/api/v1/webhooks", &other_hr)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);

    let stale = s
        .app
        .request(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}"),
            Some(&s.hr),
        )
        .header("if-match", "\"7\"")
        .json(&json!({"description": "x"}))
        .send()
        .await
        .unwrap();
    crate::helpers::assert_problem(stale, 412).await;
    let changed = s
        .app
        .patch_json(
            &format!("/api/v1/webhooks/{id}"),
            &s.hr,
            &json!({"event_types": ["order.created", "session.scheduled"]}),
        )
        .await;
    assert_eq!(changed.status(), 200);

    let ping = s
        .app
        .post_json(&format!("/api/v1/webhooks/{id}/ping"), &s.hr, &json!({}))
        .await;
    assert_eq!(ping.status(), 202);
    s.app.run_deliveries().await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "ping");
    verify(
        hook["secret"].as_str().unwrap(),
        &got[0],
        s.app.now().timestamp(),
    )
    .unwrap();

    let deleted = s
        .app
        .request(
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}"),
            Some(&s.hr),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    assert_eq!(
        receiver.received().len(),
        1,
        "a deleted subscription gets nothing"
    );
    let gone = s.app.get(&format!("/api/v1/webhooks/{id}"), &s.hr).await;
    assert_eq!(gone.status(), 404);
}

api_test!(subscriptions_are_strict_and_the_organisations_own);

/// A page of the feed as `token` sees it.
async fn feed(app: &TestApp, token: &str, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/events?{query}"), token).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn sequences(page: &Value) -> Vec<i64> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect()
}

/// Markers in every confidential field a trajectory has (intake, plan, notes, reasons, the
/// closing review, feedback, the follow-up's outcome) appear in no payload, no delivery record
/// and no feed entry; the employer is never told of the provider's own events.
async fn no_confidential_content_leaves_the_service(backend: Backend) {
    let mut s = Scene::with(local_app(backend).await).await;
    let hr_receiver = Receiver::start().await;
    let provider_receiver = Receiver::start().await;
    let employer_types: Vec<&str> = trajectum::domain::event::Event::TYPES
        .into_iter()
        .filter(|t| {
            trajectum::domain::webhook::told_to(
                trajectum::domain::principal::OrganisationKind::Employer,
                t,
            )
        })
        .collect();
    let provider_types: Vec<&str> = trajectum::domain::event::Event::TYPES
        .into_iter()
        .filter(|t| {
            trajectum::domain::webhook::told_to(
                trajectum::domain::principal::OrganisationKind::Provider,
                t,
            )
        })
        .collect();
    let hr_hook = subscribe(&s.app, &s.hr, &hr_receiver.url, &employer_types).await;
    let provider_hook =
        subscribe(&s.app, &s.planner, &provider_receiver.url, &provider_types).await;

    const CANARY: &str = "CANARY-7f3a";
    let order = s
        .create(&json!({
            "coachee": {"name": format!("Sam {CANARY}"), "email": "canary@acme.example"},
            "reason": format!("reason {CANARY}: the employee asks for support with the team"),
            "hoped_goals": format!("goals {CANARY}"),
            "external_ref": format!("REF-{CANARY}"),
        }))
        .await;
    let order = id_of(&order);
    let assigned = s
        .app
        .post_json(
            &Scene::path(&order, "/assign"),
            &s.planner,
            &json!({"coach_id": s.anna_coach_id}),
        )
        .await;
    assert_eq!(assigned.status(), 200);
    let plan = json!({
        "development_points": [{"description": format!("point {CANARY}")}],
        "goals": [{"description": format!("goal {CANARY}"), "tasks": [{"description": format!("task {CANARY}"), "target_count": 3}]}],
        "planned_sessions": 6
    });
    assert_eq!(
        s.put(&Scene::path(&order, "/plan"), &s.anna, &plan)
            .await
            .status(),
        200
    );
    let mut intake = Scene::start_intake();
    intake["reason_note"] = json!(format!("reason note {CANARY}"));
    intake["private_note"] = json!(format!("private note {CANARY}"));
    let saved = s
        .put(&Scene::path(&order, "/intake"), &s.anna, &intake)
        .await;
    assert_eq!(saved.status(), 200, "intake");
    let completed = s
        .app
        .post_json(
            &Scene::path(&order, "/intake/complete"),
            &s.anna,
            &json!({}),
        )
        .await;
    assert_eq!(completed.status(), 200);
    let session =
        crate::scheduling::booked_regular(&s, &order, chrono::Weekday::Tue, "10:00").await;
    let session_id = id_of(&session);
    let notes = s
        .put(
            &format!("/api/v1/sessions/{session_id}/notes"),
            &s.anna,
            &json!({"text": format!("note {CANARY}")}),
        )
        .await;
    assert_eq!(notes.status(), 200);
    let cancelled = s
        .app
        .post_json(
            &format!("/api/v1/sessions/{session_id}/cancel"),
            &s.anna,
            &json!({"requested_by": "provider", "reason": format!("cancel {CANARY}")}),
        )
        .await;
    assert_eq!(cancelled.status(), 200, "cancel");
    // The first session held and rated low: the relationship at risk, the provider's alone (004).
    let first = crate::scheduling::booked_regular(&s, &order, chrono::Weekday::Wed, "10:00").await;
    let first_id = id_of(&first);
    let coachee = s.coachee_token(&order).await;
    s.advance(Duration::days(14)).await;
    let held = s
        .app
        .post_json(
            &format!("/api/v1/sessions/{first_id}/attendance"),
            &s.anna,
            &json!({"attendance": "held"}),
        )
        .await;
    assert_eq!(held.status(), 200, "attendance");
    let rated = s
        .app
        .post_json(
            &format!("/api/v1/coachee/sessions/{first_id}/feedback"),
            &coachee,
            &json!({"rating": 1, "comment": format!("comment {CANARY}")}),
        )
        .await;
    assert_eq!(rated.status(), 200, "feedback");
    s.complete(&order, &json!({"follow_up_days": [14]})).await;

    s.app.run_deliveries().await;
    let hr_got = hr_receiver.received();
    let provider_got = provider_receiver.received();
    assert!(hr_got.len() >= 8, "{}", hr_got.len());
    let at_risk = |got: &[Received]| got.iter().any(|d| d.json()["type"] == "alliance.at_risk");
    assert!(at_risk(&provider_got), "the provider is told");
    assert!(!at_risk(&hr_got), "the employer is not");
    let employer_feed = feed(&s.app, &s.hr, "limit=200").await;
    let provider_feed = feed(&s.app, &s.planner, "limit=200").await;
    let mut everything: Vec<String> = hr_got
        .iter()
        .chain(&provider_got)
        .map(|r| r.body.clone())
        .collect();
    everything.push(employer_feed.to_string());
    everything.push(provider_feed.to_string());
    for token_and_hook in [(&s.hr, &hr_hook), (&s.planner, &provider_hook)] {
        let listed = deliveries(&s.app, token_and_hook.0, &id_of(token_and_hook.1)).await;
        everything.push(Value::Array(listed).to_string());
    }
    for text in &everything {
        assert!(!text.contains(CANARY), "confidential content left: {text}");
        assert!(!text.contains("canary@"), "personal data left: {text}");
    }
    for delivery in &hr_got {
        let kind = delivery.json()["type"].as_str().unwrap().to_string();
        assert!(employer_types.contains(&kind.as_str()), "{kind}");
        assert!(delivery.json().get("data").is_none());
    }
    assert!(provider_got
        .iter()
        .any(|d| d.json()["type"] == "session.cancelled" && d.json()["data"].is_object()));
}

api_test!(no_confidential_content_leaves_the_service);

/// The feed: the organisation's events in order, numbered without gaps; types, limit and
/// `Link`; strict parameters; the employer without details; another organisation's not at all.
async fn the_feed_pages_through_the_organisations_events(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    s.create(&minimal_order()).await;
    let all = feed(&s.app, &s.hr, "").await;
    let numbers = sequences(&all);
    assert_eq!(numbers, (1..=numbers.len() as i64).collect::<Vec<_>>());
    assert!(numbers.len() >= 3);
    assert_eq!(all["has_more"], false);
    assert_eq!(all["next_cursor"], numbers.last().unwrap().to_string());
    assert!(all["data"][0].get("data").is_none());

    let response = s.app.get("/api/v1/events?limit=1", &s.hr).await;
    let link = response.headers()["link"].to_str().unwrap().to_string();
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["has_more"], true);
    assert!(
        link.contains("after=1") && link.contains("rel=\"next\""),
        "{link}"
    );
    let second = feed(&s.app, &s.hr, "limit=1&after=1").await;
    assert_eq!(sequences(&second), [2]);

    let accepted = feed(&s.app, &s.hr, "types=order.accepted").await;
    let types: Vec<&str> = accepted["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["order.accepted"]);
    assert_eq!(accepted["data"][0]["order_id"], order.as_str());

    let provider = feed(&s.app, &s.planner, "types=order.accepted").await;
    assert_eq!(
        provider["data"][0]["data"]["coach_id"],
        s.anna_coach_id.as_str()
    );

    let beyond = format!("after={}", numbers.last().unwrap() + 1);
    for query in [
        beyond.as_str(),
        "after=-1",
        "after=x",
        "limit=0",
        "limit=201",
        "wait=31",
        "types=alliance.at_risk",
        "types=order.teleported",
        "colour=blue",
    ] {
        let response = s.app.get(&format!("/api/v1/events?{query}"), &s.hr).await;
        crate::helpers::assert_problem(response, 400).await;
    }
    let coach = s.app.get("/api/v1/events", &s.anna).await;
    crate::helpers::assert_problem(coach, 403).await;
    let other = s.app.seed_other_tenant().await;
    let other_hr = s
        .app
        .access_token(&other.hr_email, crate::helpers::OTHER_PASSWORD)
        .await;
    let theirs = feed(&s.app, &other_hr, "").await;
    assert!(theirs["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["order_id"] != order.as_str()));
}

api_test!(the_feed_pages_through_the_organisations_events);

/// Two events committed in the "wrong" order around a poll: one written first and held open,
/// another written and committed meanwhile. A poller following the cursor gets each once, none
/// skipped: an event is numbered when its transaction commits, under the organisation's head
/// row, so no number is visible before the ones under it.
async fn the_feed_skips_nothing_when_commits_come_out_of_order(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    let start = feed(&s.app, &s.hr, "").await;
    let cursor = start["next_cursor"].as_str().unwrap().to_string();

    let (appended_tx, appended_rx) = std::sync::mpsc::channel::<()>();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let pool = s.app.pool.clone();
    let (held_order, now) = (order.clone(), s.app.now());
    let held = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        trajectum::db::write(&mut conn, |conn| {
            let event = trajectum::domain::event::Event::OrderUpdated {};
            trajectum::db::events::append(
                conn,
                &trajectum::db::events::NewEvent {
                    id: trajectum::clock::new_id(),
                    subject: trajectum::db::events::Subject::Order {
                        order_id: &held_order,
                        employer_id: trajectum::admin::demo::EMPLOYER_ID,
                        employer_sees: true,
                        provider_id: trajectum::admin::demo::PROVIDER_ID,
                        from: None,
                        to: trajectum::domain::order::OrderStatus::Accepted,
                    },
                    event: &event,
                    actor_role: trajectum::domain::principal::Role::System,
                    actor_id: "test",
                    occurred_at: now.naive_utc(),
                },
            )?;
            appended_tx.send(()).unwrap();
            commit_rx.recv().unwrap();
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    appended_rx.recv().unwrap();
    // Written after the held event, committed before it (on SQLite it waits for it instead).
    let app = s.app.address.clone();
    let hr = s.hr.clone();
    let client = s.app.client.clone();
    let other = actix_web::rt::spawn(async move {
        client
            .post(format!("{app}/api/v1/orders"))
            .bearer_auth(&hr)
            .json(&minimal_order())
            .send()
            .await
            .unwrap()
            .status()
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mut seen = sequences(&feed(&s.app, &s.hr, &format!("after={cursor}")).await);
    commit_tx.send(()).unwrap();
    held.await.unwrap();
    assert_eq!(other.await.unwrap(), 201);
    let last = seen.last().map_or(cursor.clone(), |n| n.to_string());
    seen.extend(sequences(
        &feed(&s.app, &s.hr, &format!("after={last}")).await,
    ));
    let from: i64 = cursor.parse().unwrap();
    assert_eq!(seen, [from + 1, from + 2], "each once, none skipped");
    let both = feed(&s.app, &s.hr, &format!("after={cursor}")).await;
    let mut types: Vec<&str> = both["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    types.sort_unstable();
    assert_eq!(types, ["order.created", "order.updated"]);
}

api_test!(the_feed_skips_nothing_when_commits_come_out_of_order);

/// Eight writers at once and a poller following the cursor all along: the poller ends with
/// every event of the log once, in order, none skipped.
async fn a_poller_following_the_cursor_misses_nothing_under_concurrent_writes(backend: Backend) {
    let s = Scene::new(backend).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (app, hr, client, stop) = (
            s.app.address.clone(),
            s.hr.clone(),
            s.app.client.clone(),
            stop.clone(),
        );
        actix_web::rt::spawn(async move {
            let mut seen = vec![];
            let mut cursor = "0".to_string();
            loop {
                let done = stop.load(std::sync::atomic::Ordering::SeqCst);
                let page: Value = client
                    .get(format!("{app}/api/v1/events?after={cursor}&limit=7"))
                    .bearer_auth(&hr)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                seen.extend(sequences(&page));
                cursor = page["next_cursor"].as_str().unwrap().to_string();
                if done && page["has_more"] == false {
                    return seen;
                }
            }
        })
    };
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let (app, hr, client) = (s.app.address.clone(), s.hr.clone(), s.app.client.clone());
            actix_web::rt::spawn(async move {
                for _ in 0..5 {
                    let status = client
                        .post(format!("{app}/api/v1/orders"))
                        .bearer_auth(&hr)
                        .json(&minimal_order())
                        .send()
                        .await
                        .unwrap()
                        .status();
                    assert_eq!(status, 201);
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = poller.await.unwrap();
    let head = sequences(&feed(&s.app, &s.hr, "limit=200").await);
    assert!(head.len() >= 40);
    assert_eq!(seen, head, "the poller saw the whole log, once, in order");
}

api_test!(a_poller_following_the_cursor_misses_nothing_under_concurrent_writes);

/// A long poll answers as soon as an event is committed, in this instance or another on the
/// same database, long before its wait is over; with nothing committed it answers empty at the
/// end of its wait, with the cursor it was given.
async fn a_long_poll_answers_when_an_event_is_committed(backend: Backend) {
    let s = Scene::new(backend).await;
    let start = feed(&s.app, &s.hr, "").await;
    let cursor = start["next_cursor"].as_str().unwrap().to_string();
    let empty = feed(&s.app, &s.hr, &format!("after={cursor}&wait=1")).await;
    assert!(empty["data"].as_array().unwrap().is_empty());
    assert_eq!(empty["next_cursor"], cursor.as_str());

    let other_instance = s.app.another_instance(|_| {}).await;
    for writer in [s.app.address.clone(), other_instance] {
        let cursor = feed(&s.app, &s.hr, "limit=200").await["next_cursor"]
            .as_str()
            .unwrap()
            .to_string();
        let (app, hr, client) = (s.app.address.clone(), s.hr.clone(), s.app.client.clone());
        let asked = std::time::Instant::now();
        let polling = actix_web::rt::spawn(async move {
            let page: Value = client
                .get(format!("{app}/api/v1/events?after={cursor}&wait=20"))
                .bearer_auth(&hr)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (page, asked.elapsed())
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let created = s
            .app
            .client
            .post(format!("{writer}/api/v1/orders"))
            .bearer_auth(&s.hr)
            .json(&minimal_order())
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let (page, waited) = polling.await.unwrap();
        assert_eq!(page["data"][0]["type"], "order.created", "{page}");
        assert!(
            waited < std::time::Duration::from_secs(10),
            "answered on the commit, not at the end of the wait: {waited:?}"
        );
    }
}

api_test!(a_long_poll_answers_when_an_event_is_committed);

/// Events committed while the deliverer finishes its jobs: a subscription's job that found
/// nothing pending must not end while a transaction is writing a delivery for it. Eight writers
/// in bursts against a deliverer that only wakes when told of a commit (its poll is longer than
/// the test): every order's delivery arrives, once.
async fn deliveries_racing_the_end_of_their_job_are_never_stranded(backend: Backend) {
    let s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    subscribe(&s.app, &s.hr, &receiver.url, &["order.created"]).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let deliverer = s.app.deliverer("racing");
    let running = actix_web::rt::spawn(deliverer.run(std::time::Duration::from_secs(120), stopped));
    const WRITERS: usize = 8;
    const ROUNDS: usize = 20;
    for _ in 0..ROUNDS {
        let writers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let (app, hr, client) = (s.app.address.clone(), s.hr.clone(), s.app.client.clone());
                actix_web::rt::spawn(async move {
                    let response = client
                        .post(format!("{app}/api/v1/orders"))
                        .bearer_auth(&hr)
                        .json(&minimal_order())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 201);
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    let started = std::time::Instant::now();
    while receiver.received().len() < WRITERS * ROUNDS {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "stranded: {} of {} delivered",
            receiver.received().len(),
            WRITERS * ROUNDS
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    running.await.unwrap();
    let got = receiver.received();
    let ids: std::collections::HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(got.len(), WRITERS * ROUNDS, "none twice");
    assert_eq!(ids.len(), WRITERS * ROUNDS);
    let sequences: Vec<i64> = got
        .iter()
        .map(|r| r.json()["sequence"].as_i64().unwrap())
        .collect();
    let mut sorted = sequences.clone();
    sorted.sort_unstable();
    assert_eq!(sequences, sorted, "in the log's order");
}

api_test!(deliveries_racing_the_end_of_their_job_are_never_stranded);

/// The interleaving behind it, step by step: a transaction holds the organisation's head row
/// and has written a delivery, not yet committed, when the subscription's job, with nothing
/// pending that it can see, comes to finish. The job waits for that transaction and then sends
/// its delivery; it does not end with the delivery stranded behind it.
async fn a_job_about_to_finish_waits_for_the_deliveries_being_written(backend: Backend) {
    use trajectum::db::webhooks as store;
    let s = Scene::with(local_app(backend).await).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(&s.app, &s.hr, &receiver.url, &["order.created"]).await;
    let webhook_id = id_of(&hook);
    s.create(&minimal_order()).await;
    s.app.run_deliveries().await;
    let event_id = feed(&s.app, &s.hr, "types=order.created").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ping = s
        .app
        .post_json(
            &format!("/api/v1/webhooks/{webhook_id}/ping"),
            &s.hr,
            &json!({}),
        )
        .await;
    assert_eq!(ping.status(), 202);
    let now = s.app.now();
    let lease_until = now + Duration::seconds(60);
    let job = s
        .app
        .blocking(move |conn| {
            use diesel::prelude::*;
            let claimed = trajectum::db::write(conn, |conn| {
                store::claim_jobs(conn, "racer", now.naive_utc(), lease_until.naive_utc(), 10)
            })?;
            // Nothing pending: the job has only to finish.
            diesel::update(trajectum::db::schema::webhook_deliveries::table)
                .set(trajectum::db::schema::webhook_deliveries::status.eq("delivered"))
                .execute(conn)?;
            Ok(claimed.into_iter().next().expect("the ping's job"))
        })
        .await;

    let (written_tx, written_rx) = std::sync::mpsc::channel::<String>();
    let (commit_tx, commit_rx) = std::sync::mpsc::channel::<()>();
    let pool = s.app.pool.clone();
    let (writer_hook, writer_event) = (webhook_id.clone(), event_id.clone());
    let writer = actix_web::rt::task::spawn_blocking(move || {
        use diesel::prelude::*;
        let mut conn = pool.get().unwrap();
        trajectum::db::write(&mut conn, |conn| {
            if let trajectum::db::DbConnection::Postgres(c) = conn {
                use trajectum::db::schema::event_log_heads;
                event_log_heads::table
                    .find(trajectum::admin::demo::EMPLOYER_ID)
                    .select(event_log_heads::last_seq)
                    .for_update()
                    .first::<i64>(c)?;
            }
            let delivery = store::Delivery::of_event(
                &writer_hook,
                Some(&writer_event),
                "order.created",
                1_000_000,
                now.naive_utc(),
            );
            store::insert_delivery(conn, &delivery)?;
            written_tx.send(delivery.id.clone()).unwrap();
            commit_rx.recv().unwrap();
            Ok::<_, diesel::result::Error>(())
        })
        .unwrap();
    });
    let written = written_rx.recv().unwrap();

    let (pool, keys) = (
        s.app.pool.clone(),
        trajectum::startup::load_notes_keys(&s.app.settings).unwrap(),
    );
    let (done_tx, done_rx) = std::sync::mpsc::channel::<Option<String>>();
    let runner = actix_web::rt::task::spawn_blocking(move || {
        let mut conn = pool.get().unwrap();
        let step = trajectum::service::webhooks::next_delivery(
            &mut conn,
            now,
            lease_until,
            &job.id,
            "racer",
            &webhook_id,
            &keys,
        )
        .unwrap();
        done_tx
            .send(match step {
                trajectum::service::webhooks::Step::Send { outgoing, .. } => {
                    Some(outgoing.delivery_id)
                }
                trajectum::service::webhooks::Step::Finished => None,
            })
            .unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        done_rx.try_recv().is_err(),
        "the job waits for the transaction writing deliveries"
    );
    commit_tx.send(()).unwrap();
    writer.await.unwrap();
    runner.await.unwrap();
    assert_eq!(
        done_rx.recv().unwrap(),
        Some(written),
        "it sends the delivery written meanwhile"
    );
}

api_test!(a_job_about_to_finish_waits_for_the_deliveries_being_written);
