//! Invitation campaigns (issue 20, source 004): "many who need guidance never ask for it, from
//! stigma or because they cannot find it": the employer invites a group, a person signs up in
//! one step with a name and a way to be called back, and a person calls the same working day.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, spawn_app_with, Backend, TestApp, OTHER_PASSWORD};
use crate::scene::Scene;
use crate::webhooks::{local_app, subscribe, Receiver};

/// A campaign of `max` sign-ups until `days` from today; its view and link token.
async fn campaign(
    app: &TestApp,
    hr: &str,
    confidential: bool,
    max: u32,
    days: i64,
) -> (Value, String) {
    let response = app
        .post_json(
            "/api/v1/invitations",
            hr,
            &json!({
                "title": "Coaching for the logistics team",
                "message": "The reorganisation raises questions. Talk to a coach, in confidence.",
                "kind": "preventive",
                "session_budget": 6,
                "max_sign_ups": max,
                "ends_on": app.date_in(days),
                "confidential": confidential,
            }),
        )
        .await;
    assert_eq!(response.status(), 201, "create campaign");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    (body, token)
}

async fn sign_up(app: &TestApp, token: &str, body: &Value) -> Response {
    app.request(Method::POST, &format!("/api/v1/sign-up/{token}"), None)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// `count` different people sign up, each answered 202.
async fn sign_up_people(app: &TestApp, token: &str, count: usize) {
    for n in 0..count {
        let response = sign_up(app, token, &person("p", &format!("p{n}@acme.example"))).await;
        assert_eq!(response.status(), 202, "sign-up {n}");
    }
}

fn person(name: &str, email: &str) -> Value {
    json!({"name": name, "email": email})
}

async fn json_of(response: Response) -> Value {
    response.json().await.unwrap()
}

async fn invitation(app: &TestApp, hr: &str, id: &str) -> Value {
    let response = app.get(&format!("/api/v1/invitations/{id}"), hr).await;
    assert_eq!(response.status(), 200);
    json_of(response).await
}

/// The planner's orders (the provider sees every order, confidential or not).
async fn provider_orders(s: &Scene) -> Vec<Value> {
    let page = json_of(s.app.get("/api/v1/orders", &s.planner).await).await;
    page["data"].as_array().unwrap().clone()
}

/// One sign-up places one order for the campaign's employer with its kind and budget, the
/// person's own consent to be contacted, and first contact due the same working day (004); the
/// answer says so in the language asked for.
async fn a_sign_up_places_one_order_with_the_contact_clock_running(backend: Backend) {
    let s = Scene::new(backend).await;
    let (created, token) = campaign(&s.app, &s.hr, false, 10, 30).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "open");
    assert_eq!(created["sign_ups"], 0);

    let face = s.app.public_json(&format!("/api/v1/sign-up/{token}")).await;
    assert_eq!(face["title"], "Coaching for the logistics team");
    assert_eq!(face["open"], true);

    let response = sign_up(
        &s.app,
        &token,
        &json!({"name": "Noor Bakker", "phone": "+31 6 2345 6789", "preferred_call_time": "afternoon", "language": "nl"}),
    )
    .await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["content-language"], "nl");
    let receipt = json_of(response).await;
    assert_eq!(receipt["language"], "nl");
    assert!(
        receipt["message"]
            .as_str()
            .unwrap()
            .contains("Een coach belt je"),
        "{receipt}"
    );

    let orders = provider_orders(&s).await;
    assert_eq!(orders.len(), 1);
    let order = &orders[0];
    let order_id = order["id"].as_str().unwrap();
    assert_eq!(order["coachee"]["name"], "Noor Bakker");
    assert_eq!(order["kind"], "preventive");
    assert_eq!(order["session_budget"], 6);
    assert_eq!(order["reason_source"], "employee");
    assert_eq!(order["preferred_language"], "nl");
    assert_eq!(order["preferred_call_time"], "afternoon");
    assert_eq!(order["status"], "submitted");
    assert_eq!(order["contact"]["due_at"], receipt["call_expected_by"]);
    assert_eq!(order["contact"]["overdue"], false);
    assert_eq!(
        s.timeline_types(order_id, &s.planner).await,
        ["order.created", "invitation.accepted"]
    );
    // Not confidential: the employer sees it as any order of its own.
    assert_eq!(s.order(order_id, &s.hr).await["id"], order_id);
    // The person's own consent to be contacted, as the coachee sees it.
    let assign = s
        .app
        .post_json(
            &Scene::path(order_id, "/assign"),
            &s.planner,
            &json!({"coach_id": s.anna_coach_id}),
        )
        .await;
    assert_eq!(assign.status(), 200);
    let coachee = s.coachee_token(order_id).await;
    let own = json_of(s.app.get("/api/v1/coachee/order", &coachee).await).await;
    assert_eq!(own["consents"]["contact"]["given"], true);
    assert_eq!(own["consents"]["contact"]["source"], "self_sign_up");

    let view = invitation(&s.app, &s.hr, id).await;
    assert_eq!(view["sign_ups"], 1);
}

/// The same person signing up again (by email, or by phone) keeps the first order, and is
/// answered exactly as a first sign-up is: the answer tells nobody who signed up before.
async fn a_repeat_sign_up_keeps_the_first_order(backend: Backend) {
    let s = Scene::new(backend).await;
    let (created, token) = campaign(&s.app, &s.hr, true, 10, 30).await;
    let id = created["id"].as_str().unwrap();
    let first = sign_up(
        &s.app,
        &token,
        &json!({"name": "Noor Bakker", "email": "noor@acme.example", "phone": "06-23456789"}),
    )
    .await;
    assert_eq!(first.status(), 202);
    let first = json_of(first).await;
    for again in [
        person("Noor B.", "NOOR@acme.example"),
        json!({"name": "Noor", "phone": "06 2345 6789", "email": "other@acme.example"}),
    ] {
        let response = sign_up(&s.app, &token, &again).await;
        assert_eq!(response.status(), 202);
        let receipt = json_of(response).await;
        assert_eq!(receipt, first, "the same answer");
    }
    let orders = provider_orders(&s).await;
    assert_eq!(orders.len(), 1, "one order");
    assert_eq!(orders[0]["coachee"]["name"], "Noor Bakker");
    let order_id = orders[0]["id"].as_str().unwrap();
    assert_eq!(
        s.timeline_types(order_id, &s.planner).await,
        [
            "order.created",
            "invitation.accepted",
            "invitation.accepted",
            "invitation.accepted"
        ]
    );
    assert_eq!(invitation(&s.app, &s.hr, id).await["sign_ups"], 1);
    // Another person is another order.
    let other = sign_up(&s.app, &token, &person("Sam", "sam@acme.example")).await;
    assert_eq!(other.status(), 202);
    assert_eq!(provider_orders(&s).await.len(), 2);
}

/// A campaign pays for so many sign-ups until its last day; beyond either, a clear refusal, and
/// the employer sees how many were refused and why. A form without a way to call back is a 422
/// naming the field.
async fn the_limit_and_the_last_day_hold(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let (created, token) = campaign(&s.app, &s.hr, false, 2, 3).await;
    let id = created["id"].as_str().unwrap().to_string();
    for name in ["a", "b"] {
        let response = sign_up(
            &s.app,
            &token,
            &person(name, &format!("{name}@acme.example")),
        )
        .await;
        assert_eq!(response.status(), 202);
    }
    let full = sign_up(&s.app, &token, &person("c", "c@acme.example")).await;
    let problem = assert_problem(full, 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:sign-up-refused");
    assert_eq!(problem["refusal"], "full");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("as many sign-ups"));
    // A repeat is refused alike once the campaign is full (its first order stays).
    let repeat = sign_up(&s.app, &token, &person("a", "a@acme.example")).await;
    assert_eq!(assert_problem(repeat, 409).await["refusal"], "full");
    let nameless = sign_up(&s.app, &token, &json!({"name": "d"})).await;
    let problem = assert_problem(nameless, 422).await;
    assert_eq!(problem["errors"][0]["pointer"], "/phone");
    let face = s.app.public_json(&format!("/api/v1/sign-up/{token}")).await;
    assert_eq!(face["open"], false);
    assert_eq!(invitation(&s.app, &s.hr, &id).await["status"], "full");

    let (ended, ended_token) = campaign(&s.app, &s.hr, false, 5, 1).await;
    s.advance(chrono::Duration::days(3)).await;
    let late = sign_up(&s.app, &ended_token, &person("e", "e@acme.example")).await;
    let problem = assert_problem(late, 409).await;
    assert_eq!(problem["refusal"], "ended");
    assert!(problem["detail"].as_str().unwrap().contains("ended on"));
    let ended = invitation(&s.app, &s.hr, ended["id"].as_str().unwrap()).await;
    assert_eq!(ended["status"], "ended");
    assert_eq!(ended["refused"]["ended"], 1);

    let view = invitation(&s.app, &s.hr, &id).await;
    assert_eq!(view["sign_ups"], 2);
    assert_eq!(
        view["refused"],
        json!({"full": 2, "ended": 0, "closed": 0, "rate_limited": 0, "invalid": 1})
    );
    assert_eq!(provider_orders(&s).await.len(), 2);
}

/// A link that leads nowhere says nothing of why: unknown, rotated away or closed alike.
async fn a_closed_or_rotated_link_is_a_404_that_says_nothing(backend: Backend) {
    let s = Scene::new(backend).await;
    let (created, first_token) = campaign(&s.app, &s.hr, false, 10, 30).await;
    let id = created["id"].as_str().unwrap().to_string();
    let unknown = sign_up(
        &s.app,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &person("a", "a@acme.example"),
    )
    .await;
    let unknown = assert_problem(unknown, 404).await;

    let rotated = s
        .app
        .request(
            Method::POST,
            &format!("/api/v1/invitations/{id}/rotate-token"),
            Some(&s.hr),
        )
        .header("if-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated = json_of(rotated).await;
    let token = rotated["token"].as_str().unwrap().to_string();
    assert_ne!(token, first_token);
    assert_eq!(rotated["version"], 2);
    let old = sign_up(&s.app, &first_token, &person("a", "a@acme.example")).await;
    let old = assert_problem(old, 404).await;
    assert_eq!(old["detail"], unknown["detail"]);
    let old_face = s
        .app
        .request(Method::GET, &format!("/api/v1/sign-up/{first_token}"), None)
        .send()
        .await
        .unwrap();
    assert_problem(old_face, 404).await;
    assert_eq!(
        sign_up(&s.app, &token, &person("a", "a@acme.example"))
            .await
            .status(),
        202
    );

    let closed = s
        .app
        .post_json(
            &format!("/api/v1/invitations/{id}/close"),
            &s.hr,
            &json!({}),
        )
        .await;
    assert_eq!(closed.status(), 200);
    assert_eq!(json_of(closed).await["status"], "closed");
    let after = sign_up(&s.app, &token, &person("b", "b@acme.example")).await;
    let after = assert_problem(after, 404).await;
    assert_eq!(after["detail"], unknown["detail"]);
    let view = invitation(&s.app, &s.hr, &id).await;
    assert_eq!(view["refused"]["closed"], 1);
    assert_eq!(view["sign_ups"], 1);
    // Another employer's campaign is not there for this one.
    let other = s.app.seed_other_tenant().await;
    let other_hr = s.app.access_token(&other.hr_email, OTHER_PASSWORD).await;
    let theirs = s
        .app
        .get(&format!("/api/v1/invitations/{id}"), &other_hr)
        .await;
    assert_problem(theirs, 404).await;
}

/// Beyond the sign-ups allowed per client address, or per campaign, in a window: 429 with
/// `Retry-After`; those refused per campaign are counted for the employer.
async fn sign_ups_beyond_their_limits_are_429_with_retry_after(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.sign_up_limit_per_address = 3;
        s.sign_up_limit_per_campaign = 0;
        s.sign_up_limit_window_seconds = 600;
    })
    .await;
    let hr = app.hr_token().await;
    let (_, token) = campaign(&app, &hr, false, 100, 30).await;
    sign_up_people(&app, &token, 3).await;
    let refused = sign_up(&app, &token, &person("p", "p9@acme.example")).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    let problem = assert_problem(refused, 429).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:rate-limited");
    drop(app);

    let app = spawn_app_with(backend, |s| {
        s.sign_up_limit_per_address = 0;
        s.sign_up_limit_per_campaign = 2;
    })
    .await;
    let hr = app.hr_token().await;
    let (created, token) = campaign(&app, &hr, false, 100, 30).await;
    sign_up_people(&app, &token, 2).await;
    let refused = sign_up(&app, &token, &person("p", "p9@acme.example")).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429).await;
    let view = invitation(&app, &hr, created["id"].as_str().unwrap()).await;
    assert_eq!(view["refused"]["rate_limited"], 1);
    assert_eq!(view["sign_ups"], 2);
}

/// Sign-ups fired at once never take more places than the campaign has, and the same person
/// fired at once gets one order.
async fn concurrent_sign_ups_never_overfill_a_campaign(backend: Backend) {
    let s = Scene::new(backend).await;
    let (created, token) = campaign(&s.app, &s.hr, false, 3, 30).await;
    let id = created["id"].as_str().unwrap().to_string();
    let others: Vec<_> = (0..8)
        .map(|n| {
            let app = &s.app;
            let token = token.clone();
            async move {
                sign_up(app, &token, &person("p", &format!("p{n}@acme.example")))
                    .await
                    .status()
                    .as_u16()
            }
        })
        .collect();
    let mut statuses = futures_util::future::join_all(others).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 202, 202, 409, 409, 409, 409, 409]);
    assert_eq!(invitation(&s.app, &s.hr, &id).await["sign_ups"], 3);
    assert_eq!(provider_orders(&s).await.len(), 3);

    let (created, token) = campaign(&s.app, &s.hr, false, 10, 30).await;
    let same: Vec<_> = (0..6)
        .map(|_| {
            let app = &s.app;
            let token = token.clone();
            async move {
                sign_up(app, &token, &person("Noor", "noor@acme.example"))
                    .await
                    .status()
                    .as_u16()
            }
        })
        .collect();
    let statuses = futures_util::future::join_all(same).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(
        invitation(&s.app, &s.hr, created["id"].as_str().unwrap()).await["sign_ups"],
        1
    );
    assert_eq!(provider_orders(&s).await.len(), 4);
}

const MARK_NAME: &str = "Zxqmarker Quillon";
const MARK_EMAIL: &str = "zxqmarker@private.example";
const MARK_PHONE: &str = "+31 6 9876 1234";

fn leaks(text: &str) -> Vec<&'static str> {
    [MARK_NAME, "zxqmarker", "9876 1234", "98761234"]
        .into_iter()
        .filter(|m| text.to_lowercase().contains(&m.to_lowercase()))
        .collect()
}

/// For a confidential campaign the employer learns how many, never who (004): the markers put
/// in the sign-up's name, email and phone appear in no response the employer gets, no event of
/// its feed, no webhook it receives, no report row; the order is not there for it at all (404)
/// until the coachee shares their participation, and not once they withdraw that.
async fn a_confidential_campaign_tells_the_employer_how_many_never_who(backend: Backend) {
    let receiver = Receiver::start().await;
    let s = Scene::with(local_app(backend).await).await;
    subscribe(
        &s.app,
        &s.hr,
        &receiver.url,
        &[
            "order.created",
            "order.accepted",
            "order.contacted",
            "invitation.accepted",
            "consent.given",
            "consent.withdrawn",
        ],
    )
    .await;
    let (created, token) = campaign(&s.app, &s.hr, true, 10, 30).await;
    let id = created["id"].as_str().unwrap().to_string();
    let response = sign_up(
        &s.app,
        &token,
        &json!({"name": MARK_NAME, "email": MARK_EMAIL, "phone": MARK_PHONE}),
    )
    .await;
    assert_eq!(response.status(), 202);
    let orders = provider_orders(&s).await;
    assert_eq!(orders.len(), 1);
    let order_id = orders[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        orders[0]["coachee"]["email"], MARK_EMAIL,
        "the provider sees the order as usual"
    );
    // The provider works the order: events the employer would otherwise be told of.
    let assign = s
        .app
        .post_json(
            &Scene::path(&order_id, "/assign"),
            &s.planner,
            &json!({"coach_id": s.anna_coach_id}),
        )
        .await;
    assert_eq!(assign.status(), 200);
    let contact = s
        .app
        .post_json(
            &Scene::path(&order_id, "/contact"),
            &s.anna,
            &json!({"channel": "phone"}),
        )
        .await;
    assert_eq!(contact.status(), 200);
    s.app.run_deliveries().await;

    let mut seen = String::new();
    for path in [
        "/api/v1/orders".to_string(),
        "/api/v1/orders?status=accepted".to_string(),
        "/api/v1/events".to_string(),
        "/api/v1/sessions".to_string(),
        format!("/api/v1/invitations/{id}"),
        "/api/v1/invitations".to_string(),
        "/api/v1/audit".to_string(),
    ] {
        let response = s.app.get(&path, &s.hr).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        seen.push_str(&text);
    }
    for rest in ["", "/timeline", "/sessions", "/follow-ups"] {
        let response = s.app.get(&Scene::path(&order_id, rest), &s.hr).await;
        assert_problem(response, 404).await;
    }
    let this = s.app.now().format("%Y-%m").to_string();
    for accept in ["application/json", "text/csv"] {
        let response = s
            .app
            .request(
                Method::GET,
                &format!("/api/v1/reports/outcomes?from={this}&to={this}"),
                Some(&s.hr),
            )
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        seen.push_str(&response.text().await.unwrap());
    }
    let delivered: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    seen.push_str(&serde_json::to_string(&delivered).unwrap());
    assert_eq!(leaks(&seen), Vec::<&str>::new(), "the employer saw: {seen}");
    assert!(!seen.contains(&order_id), "the employer learns no order id");

    // What it does learn: that someone signed up, to which campaign.
    let feed = json_of(s.app.get("/api/v1/events", &s.hr).await).await;
    let accepted: Vec<&Value> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "invitation.accepted")
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0]["data"]["invitation_id"], id);
    assert!(accepted[0].get("order_id").is_none());
    assert!(feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["type"] != "order.created"));
    let webhook_types: Vec<&str> = delivered
        .iter()
        .map(|d| d["type"].as_str().unwrap())
        .collect();
    assert_eq!(webhook_types, ["invitation.accepted"]);
    assert_eq!(invitation(&s.app, &s.hr, &id).await["sign_ups"], 1);
    assert_eq!(s.app.order_count(&s.hr).await, 0);

    // The coachee chooses to share their participation: the employer sees the order from then.
    let coachee = s.coachee_token(&order_id).await;
    let shared = s
        .app
        .request(Method::PUT, "/api/v1/coachee/consents", Some(&coachee))
        .json(&json!({"share_participation": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);
    assert_eq!(json_of(shared).await["share_participation"]["given"], true);
    assert_eq!(
        s.order(&order_id, &s.hr).await["coachee"]["name"],
        MARK_NAME
    );
    assert_eq!(s.app.order_count(&s.hr).await, 1);
    // Withdrawn: the employer is told, and then no longer sees it.
    let withdrawn = s
        .app
        .request(Method::PUT, "/api/v1/coachee/consents", Some(&coachee))
        .json(&json!({"share_participation": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 200);
    assert_problem(s.app.get(&Scene::path(&order_id, ""), &s.hr).await, 404).await;
    assert_eq!(s.app.order_count(&s.hr).await, 0);
    let feed = json_of(s.app.get("/api/v1/events", &s.hr).await).await;
    let types: Vec<&str> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["invitation.accepted", "consent.given", "consent.withdrawn"]
    );
}

/// Sharing one's participation is a word about a confidential campaign's order only.
async fn sharing_participation_applies_to_a_confidential_campaigns_order_only(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let coachee = s.coachee_token(&id).await;
    let response = s
        .app
        .request(Method::PUT, "/api/v1/coachee/consents", Some(&coachee))
        .json(&json!({"share_participation": true}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 422).await;
    assert_eq!(problem["errors"][0]["pointer"], "/share_participation");
}

/// Only the employer runs campaigns; a campaign's terms are checked field by field.
async fn only_the_employer_runs_campaigns_and_their_terms_are_checked(backend: Backend) {
    let s = Scene::new(backend).await;
    let response = s
        .app
        .post_json("/api/v1/invitations", &s.planner, &json!({"title": "x", "message": "y", "kind": "preventive", "max_sign_ups": 1, "ends_on": s.app.date_in(1)}))
        .await;
    assert_problem(response, 403).await;
    let response = s
        .app
        .post_json("/api/v1/invitations", &s.hr, &json!({"title": " ", "message": "y", "kind": "preventive", "max_sign_ups": 0, "ends_on": s.app.date_in(-1)}))
        .await;
    let problem = assert_problem(response, 422).await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/title", "/max_sign_ups", "/ends_on"]);
    let list = json_of(s.app.get("/api/v1/invitations", &s.hr).await).await;
    assert_eq!(list["data"], json!([]));
}

/// How a campaign's trajectories went, in aggregate, is what its employer may know of them
/// (004): the outcome report of one campaign counts its orders only, small counts withheld as
/// in every report; another employer's campaign is not there to ask about.
async fn a_campaigns_outcomes_are_reported_in_aggregate_only(backend: Backend) {
    let s = Scene::new(backend).await;
    // An order of the employer's own, of the same kind, outside the campaign.
    s.create(
        &json!({"coachee": {"name": "Sam", "email": "sam@acme.example"}, "kind": "preventive"}),
    )
    .await;
    let (created, token) = campaign(&s.app, &s.hr, true, 10, 30).await;
    let id = created["id"].as_str().unwrap().to_string();
    let this = s.app.now().format("%Y-%m").to_string();
    let query = format!("/api/v1/reports/outcomes?from={this}&to={this}&invitation_id={id}");
    let kinds = |report: &Value| -> Value {
        report["breakdowns"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "orders_by_kind")
            .unwrap()["cells"]
            .clone()
    };
    let count = |cells: &Value, category: &str| -> Value {
        cells
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["category"] == category)
            .unwrap()["count"]
            .clone()
    };
    sign_up_people(&s.app, &token, 4).await;
    // Four: too few to show.
    let report = json_of(s.app.get(&query, &s.hr).await).await;
    assert_eq!(report["invitation_id"], id.as_str());
    assert_eq!(count(&kinds(&report), "preventive"), Value::Null);
    let response = sign_up(&s.app, &token, &person("p", "p4@acme.example")).await;
    assert_eq!(response.status(), 202);
    let report = json_of(s.app.get(&query, &s.hr).await).await;
    let cells = kinds(&report);
    assert_eq!(
        count(&cells, "preventive"),
        5,
        "the employer's own order is not the campaign's"
    );
    // The employer's report of its own orders leaves the confidential ones out: with them it
    // would say 6, and 6 minus the one order it sees would be the campaign's, unsuppressed.
    let own = format!("/api/v1/reports/outcomes?from={this}&to={this}");
    let own = json_of(s.app.get(&own, &s.hr).await).await;
    assert_eq!(
        count(&kinds(&own), "preventive"),
        Value::Null,
        "1, withheld"
    );
    // The provider's planner may ask too; another employer may not.
    assert_eq!(s.app.get(&query, &s.planner).await.status(), 200);
    let other = s.app.seed_other_tenant().await;
    let other_hr = s.app.access_token(&other.hr_email, OTHER_PASSWORD).await;
    assert_problem(s.app.get(&query, &other_hr).await, 404).await;
}

/// Rolling the schema back past the campaigns would show a confidential campaign's orders to
/// their employer (the old code knows no hidden order): the down migration refuses while there
/// is one, and leaves everything as it was.
async fn rolling_back_refuses_to_bare_a_confidential_campaigns_orders(backend: Backend) {
    let s = Scene::new(backend).await;
    let (_, token) = campaign(&s.app, &s.hr, true, 10, 30).await;
    let response = sign_up(&s.app, &token, &person("Noor", "noor@acme.example")).await;
    assert_eq!(response.status(), 202);
    let reverted = s
        .app
        .blocking(|conn| {
            Ok(trajectum::db::migrations::revert_to(
                conn,
                "2026-12-08-000011_request_counts",
            ))
        })
        .await;
    let error = reverted.expect_err("the revert is refused").to_string();
    assert!(error.contains("confidential"), "{error}");
    assert_eq!(provider_orders(&s).await.len(), 1);
    assert_eq!(s.app.order_count(&s.hr).await, 0, "still hidden");
}

/// Closing a campaign, and rotating its link, while sign-ups come in at once: each sign-up is
/// either placed (202, counted, one order) or meets a link that leads nowhere (404); none is
/// lost half-way or counted without its order (the campaign's row lock, then the order).
async fn closing_or_rotating_while_people_sign_up_loses_no_sign_up(backend: Backend) {
    let s = Scene::new(backend).await;
    let mut placed = 0;
    for (round, action) in ["close", "rotate-token", "close", "rotate-token"]
        .into_iter()
        .enumerate()
    {
        let (created, token) = campaign(&s.app, &s.hr, false, 100, 30).await;
        let id = created["id"].as_str().unwrap().to_string();
        let sign_ups = (0..6).map(|n| {
            let (app, token) = (&s.app, token.clone());
            async move {
                let email = format!("r{round}p{n}@acme.example");
                sign_up(app, &token, &person("p", &email))
                    .await
                    .status()
                    .as_u16()
            }
        });
        let change = async {
            let path = format!("/api/v1/invitations/{id}/{action}");
            s.app
                .post_json(&path, &s.hr, &json!({}))
                .await
                .status()
                .as_u16()
        };
        let (statuses, changed) =
            futures_util::future::join(futures_util::future::join_all(sign_ups), change).await;
        assert_eq!(changed, 200, "{action}");
        assert!(
            statuses.iter().all(|s| [202, 404].contains(s)),
            "{statuses:?}"
        );
        let signed = statuses.iter().filter(|s| **s == 202).count();
        let view = invitation(&s.app, &s.hr, &id).await;
        assert_eq!(view["sign_ups"], signed, "{action}: {statuses:?}");
        placed += signed;
        assert_eq!(provider_orders(&s).await.len(), placed, "one order per 202");
    }
}

/// The coachee shares and withdraws their participation many times at once: the employer ends
/// up seeing the order exactly when the last consent recorded says so (the order's row lock
/// orders the consents and the flag together).
async fn sharing_and_withdrawing_at_once_leaves_the_employer_as_the_last_word_says(
    backend: Backend,
) {
    let s = Scene::new(backend).await;
    let (_, token) = campaign(&s.app, &s.hr, true, 10, 30).await;
    assert_eq!(
        sign_up(&s.app, &token, &person("Noor", "noor@acme.example"))
            .await
            .status(),
        202
    );
    let order_id = provider_orders(&s).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let assign = s
        .app
        .post_json(
            &Scene::path(&order_id, "/assign"),
            &s.planner,
            &json!({"coach_id": s.anna_coach_id}),
        )
        .await;
    assert_eq!(assign.status(), 200);
    let coachee = s.coachee_token(&order_id).await;
    for round in 0..4 {
        let words = (0..8).map(|n| {
            let (app, coachee) = (&s.app, coachee.clone());
            async move {
                app.request(Method::PUT, "/api/v1/coachee/consents", Some(&coachee))
                    .json(&json!({"share_participation": (n + round) % 2 == 0}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        });
        let statuses = futures_util::future::join_all(words).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
        let own = json_of(s.app.get("/api/v1/coachee/order", &coachee).await).await;
        let shared = own["consents"]["share_participation"]["given"]
            .as_bool()
            .unwrap();
        let seen = s
            .app
            .get(&Scene::path(&order_id, ""), &s.hr)
            .await
            .status()
            .as_u16();
        assert_eq!(seen, if shared { 200 } else { 404 }, "round {round}");
        assert_eq!(s.app.order_count(&s.hr).await, usize::from(shared));
    }
}

api_test!(
    a_sign_up_places_one_order_with_the_contact_clock_running,
    a_repeat_sign_up_keeps_the_first_order,
    the_limit_and_the_last_day_hold,
    a_closed_or_rotated_link_is_a_404_that_says_nothing,
    sign_ups_beyond_their_limits_are_429_with_retry_after,
    concurrent_sign_ups_never_overfill_a_campaign,
    a_confidential_campaign_tells_the_employer_how_many_never_who,
    sharing_participation_applies_to_a_confidential_campaigns_order_only,
    only_the_employer_runs_campaigns_and_their_terms_are_checked,
    a_campaigns_outcomes_are_reported_in_aggregate_only,
    rolling_back_refuses_to_bare_a_confidential_campaigns_orders,
    closing_or_rotating_while_people_sign_up_loses_no_sign_up,
    sharing_and_withdrawing_at_once_leaves_the_employer_as_the_last_word_says,
);
