//! The audit trail (issue 19 §2): one entry for every change, written in the change's own
//! transaction, and one for every read of confidential content; none for a refused request or an
//! ordinary read; ids and names of operations only, never content; each organisation reads its
//! own (DOMAIN.md "Who may see what").

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, Backend, OTHER_PASSWORD};
use crate::scene::{minimal_order, Scene};

async fn trail(s: &Scene, token: &str) -> Vec<Value> {
    let response = s.app.get("/api/v1/audit?limit=200", token).await;
    assert_eq!(response.status(), 200);
    let page: Value = response.json().await.unwrap();
    assert!(
        page["next_cursor"].is_null(),
        "one page holds this test's trail"
    );
    page["data"].as_array().unwrap().clone()
}

/// Sends `method path` with a request id of our own, so its entry can be found by it.
async fn send(
    s: &Scene,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    request_id: &str,
) -> reqwest::Response {
    let mut request = s
        .app
        .request(method, path, Some(token))
        .header("x-request-id", request_id);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

fn entries_of<'a>(trail: &'a [Value], request_id: &str) -> Vec<&'a Value> {
    trail
        .iter()
        .filter(|e| e["request_id"] == request_id)
        .collect()
}

async fn every_change_and_confidential_read_leaves_exactly_one_entry(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    let hr_before = trail(&s, &s.hr).await.len();
    let provider_before = trail(&s, &s.planner).await.len();

    // A change by the employer, and the same keyed request twice: one entry.
    let created = send(
        &s,
        Method::POST,
        "/api/v1/orders",
        &s.hr,
        Some(minimal_order()),
        "audit-create",
    )
    .await;
    assert_eq!(created.status(), 201);
    let keyed = |id: &'static str| {
        let s = &s;
        async move {
            s.app
                .request(Method::POST, "/api/v1/orders", Some(&s.hr))
                .header("x-request-id", id)
                .header("idempotency-key", "audit-key-1")
                .json(&minimal_order())
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(keyed("audit-keyed-1").await.status(), 201);
    let replay = keyed("audit-keyed-2").await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    // A refused change: nothing was changed, nothing is recorded.
    let refused = send(
        &s,
        Method::POST,
        &Scene::path(&order, "/cancel"),
        &s.hr,
        Some(json!({"reason": ""})),
        "audit-refused",
    )
    .await;
    assert!(refused.status().is_client_error());
    // The coach's change and reads of confidential content; an ordinary read.
    let plan = send(
        &s,
        Method::PUT,
        &Scene::path(&order, "/plan"),
        &s.anna,
        Some(Scene::good_plan()),
        "audit-plan",
    )
    .await;
    assert_eq!(plan.status(), 200);
    let read = send(
        &s,
        Method::GET,
        &Scene::path(&order, "/plan"),
        &s.anna,
        None,
        "audit-read-plan",
    )
    .await;
    assert_eq!(read.status(), 200);
    let read = send(
        &s,
        Method::GET,
        &Scene::path(&order, "/intake"),
        &s.planner,
        None,
        "audit-read-intake",
    )
    .await;
    assert_eq!(read.status(), 200);
    let plain = send(
        &s,
        Method::GET,
        &Scene::path(&order, ""),
        &s.planner,
        None,
        "audit-plain",
    )
    .await;
    assert_eq!(plain.status(), 200);

    let hr_trail = trail(&s, &s.hr).await;
    assert_eq!(
        hr_trail.len(),
        hr_before + 2,
        "the create and the keyed create"
    );
    let provider_trail = trail(&s, &s.planner).await;
    assert_eq!(
        provider_trail.len(),
        provider_before + 3,
        "the plan, and two confidential reads"
    );
    for (trail, id, count) in [
        (&hr_trail, "audit-create", 1),
        (&hr_trail, "audit-keyed-1", 1),
        (&hr_trail, "audit-keyed-2", 0),
        (&hr_trail, "audit-refused", 0),
        (&provider_trail, "audit-plan", 1),
        (&provider_trail, "audit-read-plan", 1),
        (&provider_trail, "audit-read-intake", 1),
        (&provider_trail, "audit-plain", 0),
    ] {
        assert_eq!(entries_of(trail, id).len(), count, "{id}");
    }
    let plan = entries_of(&provider_trail, "audit-plan")[0];
    assert_eq!(plan["action"], "PUT /api/v1/orders/{id}/plan");
    assert_eq!(plan["resource_id"], order.as_str());
    assert_eq!(plan["kind"], "change");
    assert_eq!(plan["actor"]["role"], "coach");
    assert_eq!(plan["actor"]["type"], "user");
    let read = entries_of(&provider_trail, "audit-read-intake")[0];
    assert_eq!(read["kind"], "read");
    assert_eq!(read["actor"]["role"], "provider_admin");
    // No content: the plan's words are nowhere in the trail.
    let text = serde_json::to_string(&provider_trail).unwrap();
    assert!(
        !text.contains("giving feedback"),
        "no plan text in the trail"
    );
    // Each organisation reads its own: the employer none of the provider's entries.
    assert!(hr_trail.iter().all(|e| e["actor"]["role"] == "employer"));
    assert!(provider_trail
        .iter()
        .all(|e| e["actor"]["role"] != "employer"));
    let other = s.app.seed_other_tenant().await;
    let other_admin = s.app.access_token(&other.admin_email, OTHER_PASSWORD).await;
    assert!(trail(&s, &other_admin).await.is_empty());
    // A coach reads no trail.
    assert_problem(s.app.get("/api/v1/audit", &s.anna).await, 403).await;
    // Filters.
    let reads: Value = s
        .app
        .get(
            &format!("/api/v1/audit?kind=read&resource_id={order}"),
            &s.planner,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(reads["data"].as_array().unwrap().len(), 2);
}

/// The trail is append-only in the database itself: an entry cannot be changed or removed.
async fn the_trail_is_append_only(backend: Backend) {
    let s = Scene::new(backend).await;
    s.accepted().await;
    assert!(!trail(&s, &s.planner).await.is_empty());
    let refused = s
        .app
        .blocking(|conn| {
            let update = diesel::sql_query("UPDATE audit_log SET action = 'x'").execute(conn);
            let delete = diesel::sql_query("DELETE FROM audit_log").execute(conn);
            Ok((update.is_err(), delete.is_err()))
        })
        .await;
    assert_eq!(refused, (true, true));
}

api_test!(
    every_change_and_confidential_read_leaves_exactly_one_entry,
    the_trail_is_append_only,
);
