//! Who may see what (DOMAIN.md): the employer never sees coaching content, one tenant never
//! sees another's orders, a coach only their own, a coachee only their own.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{Backend, OTHER_PASSWORD};
use crate::scene::Scene;

/// Unique strings put in every confidential field.
const MARKERS: [&str; 10] = [
    "MARK-reason-note",
    "MARK-private-note",
    "MARK-decline-reason",
    "MARK-alternative",
    "MARK-substantiation-of-alternative-with-enough-length-to-pass",
    "MARK-development-point",
    "MARK-goal",
    "MARK-task",
    "MARK-extension-substantiation",
    "MARK-alternative-considered",
];

async fn an_employer_never_reads_coaching_content(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let plan = json!({
        "development_points": [{"description": MARKERS[5]}],
        "goals": [{"description": MARKERS[6], "tasks": [{"description": MARKERS[7]}]}],
        "planned_sessions": 8
    });
    assert_eq!(
        s.put(&Scene::path(&id, "/plan"), &s.anna, &plan)
            .await
            .status(),
        200
    );
    let intake = json!({
        "trust_coach": true, "trust_coachee": true, "reason": "partly_confirmed", "reason_note": MARKERS[0],
        "goals_realistic": true, "private_note": MARKERS[1], "decision": "start",
        "decline_reason": MARKERS[2], "alternative": MARKERS[3], "alternative_substantiation": MARKERS[4]
    });
    assert_eq!(
        s.put(&Scene::path(&id, "/intake"), &s.anna, &intake)
            .await
            .status(),
        200
    );
    assert_eq!(
        s.app
            .post_json(&Scene::path(&id, "/intake/complete"), &s.anna, &json!({}))
            .await
            .status(),
        200
    );
    let extension = json!({"additional_sessions": 2, "substantiation": format!("{} {}", MARKERS[8], "x".repeat(80)),
        "alternative_considered": MARKERS[9]});
    assert_eq!(
        s.app
            .post_json(&Scene::path(&id, "/extend"), &s.anna, &extension)
            .await
            .status(),
        200
    );

    // The coach does see them (so the markers are really stored and served).
    let intake_read = s
        .app
        .get(&Scene::path(&id, "/intake"), &s.anna)
        .await
        .text()
        .await
        .unwrap();
    assert!(intake_read.contains(MARKERS[1]));

    let client = s.app.client_token().await;
    for token in [&s.hr, &client] {
        let mut bodies = vec![];
        for path in [
            Scene::path(&id, ""),
            "/api/v1/orders".to_string(),
            format!("/api/v1/orders?status=active&coach_id={}", s.anna_coach_id),
            Scene::path(&id, "/timeline"),
            Scene::path(&id, "/intake"),
            Scene::path(&id, "/plan"),
            Scene::path(&id, "/coach-suggestions"),
            "/api/v1/coaches".to_string(),
            "/api/v1/me".to_string(),
        ] {
            let response = s.app.get(&path, token).await;
            bodies.push((
                path,
                response.status().as_u16(),
                response.text().await.unwrap(),
            ));
        }
        bodies.push((
            "validate".into(),
            0,
            s.app
                .post_json(&Scene::path(&id, "/intake/validate"), token, &json!({}))
                .await
                .text()
                .await
                .unwrap(),
        ));
        for (path, status, body) in &bodies {
            for marker in MARKERS {
                assert!(
                    !body.contains(marker),
                    "{path} ({status}) shows {marker} to the employer: {body}"
                );
            }
        }
        // The timeline shows the steps, not their details.
        let timeline: Value = serde_json::from_str(&bodies[3].2).unwrap();
        for event in timeline["data"].as_array().unwrap() {
            assert!(event.get("data").is_none(), "no details: {event}");
        }
        // The intake and plan are refused outright, not emptied.
        assert_eq!(bodies[4].1, 403);
        assert_eq!(bodies[5].1, 403);
    }
    // The planner sees the intake but not the coach's private note.
    let planner_view = s
        .app
        .get(&Scene::path(&id, "/intake"), &s.planner)
        .await
        .text()
        .await
        .unwrap();
    assert!(planner_view.contains(MARKERS[0]) && !planner_view.contains(MARKERS[1]));
}

/// What the owner sees of an order: the order, its timeline, intake and plan.
async fn snapshot(s: &Scene, id: &str) -> (Value, String, String, String) {
    let path = Scene::path(id, "");
    let order = s.order(id, &s.planner).await;
    let timeline = s
        .app
        .get(&format!("{path}/timeline"), &s.planner)
        .await
        .text()
        .await
        .unwrap();
    let intake = s
        .app
        .get(&format!("{path}/intake"), &s.anna)
        .await
        .text()
        .await
        .unwrap();
    let plan = s
        .app
        .get(&format!("{path}/plan"), &s.anna)
        .await
        .text()
        .await
        .unwrap();
    (order, timeline, intake, plan)
}

async fn outsiders_are_refused_on_every_order_endpoint_and_change_nothing(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.active().await;
    let own_coachee = s.coachee_token(&id).await;
    let other_order = s.accepted().await;
    let other_coachee = s.coachee_token(&other_order).await;
    let tenant = s.app.seed_other_tenant().await;
    let other_hr = s.app.access_token(&tenant.hr_email, OTHER_PASSWORD).await;
    let other_coach = s
        .app
        .access_token(&tenant.coach_email, OTHER_PASSWORD)
        .await;
    let other_admin = s
        .app
        .access_token(&tenant.admin_email, OTHER_PASSWORD)
        .await;

    let before = snapshot(&s, &id).await;
    let plan: Value = s
        .app
        .get(&Scene::path(&id, "/plan"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    let task = plan["goals"][0]["tasks"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let endpoints: Vec<(Method, String, Value)> = vec![
        (Method::GET, Scene::path(&id, ""), Value::Null),
        (
            Method::PATCH,
            Scene::path(&id, ""),
            json!({"job_title": "x"}),
        ),
        (
            Method::POST,
            Scene::path(&id, "/assign"),
            json!({"coach_id": s.anna_coach_id}),
        ),
        (
            Method::POST,
            Scene::path(&id, "/contact"),
            json!({"channel": "phone"}),
        ),
        (
            Method::POST,
            Scene::path(&id, "/cancel"),
            json!({"reason": "x"}),
        ),
        (
            Method::POST,
            Scene::path(&id, "/extend"),
            json!({"additional_sessions": 1, "substantiation": "y".repeat(100), "alternative_considered": "z"}),
        ),
        (
            Method::POST,
            Scene::path(&id, "/complete"),
            json!({"pitfalls_reviewed": true}),
        ),
        (Method::GET, Scene::path(&id, "/timeline"), Value::Null),
        (
            Method::GET,
            Scene::path(&id, "/coach-suggestions"),
            Value::Null,
        ),
        (Method::GET, Scene::path(&id, "/intake"), Value::Null),
        (
            Method::PUT,
            Scene::path(&id, "/intake"),
            Scene::start_intake(),
        ),
        (
            Method::POST,
            Scene::path(&id, "/intake/validate"),
            json!({}),
        ),
        (
            Method::POST,
            Scene::path(&id, "/intake/complete"),
            json!({}),
        ),
        (Method::GET, Scene::path(&id, "/plan"), Value::Null),
        (Method::PUT, Scene::path(&id, "/plan"), Scene::good_plan()),
        (
            Method::PATCH,
            Scene::path(&id, &format!("/plan/tasks/{task}")),
            json!({"done": true}),
        ),
        (Method::POST, Scene::path(&id, "/coachee-link"), json!({})),
        (
            Method::DELETE,
            Scene::path(&id, "/coachee-link"),
            Value::Null,
        ),
    ];
    let callers: [(&str, Option<&str>); 7] = [
        ("the other employer", Some(&other_hr)),
        ("the other provider's coach", Some(&other_coach)),
        ("the other provider's planner", Some(&other_admin)),
        ("an unassigned coach", Some(&s.bram)),
        ("the other order's coachee", Some(&other_coachee)),
        ("no token", None),
        ("a garbage token", Some("garbage")),
    ];
    for (who, token) in callers {
        for (method, path, body) in &endpoints {
            let mut request = s.app.request(method.clone(), path, token);
            if method == Method::PATCH && path.ends_with(&id) {
                request = request.header("if-match", "\"1\"");
            }
            if !body.is_null() {
                request = request.json(body);
            }
            let status = request.send().await.unwrap().status().as_u16();
            let expected: &[u16] = match token {
                None | Some("garbage") => &[401],
                // A role that never takes the action is a 403 before the order is looked up;
                // otherwise the order does not exist for this caller.
                _ => &[403, 404],
            };
            assert!(
                expected.contains(&status),
                "{who}: {method} {path} gave {status}"
            );
        }
    }
    // The other order's coachee sees their own order, not this one.
    let theirs: Value = s
        .app
        .get("/api/v1/coachee/order", &other_coachee)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["order_id"], other_order.as_str());
    let ours: Value = s
        .app
        .get("/api/v1/coachee/order", &own_coachee)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ours["order_id"], id.as_str());

    let after = snapshot(&s, &id).await;
    assert_eq!(before.0, after.0, "the order is unchanged");
    assert_eq!(before.1, after.1, "no events were added");
    assert_eq!(before.2, after.2, "the intake is unchanged");
    assert_eq!(before.3, after.3, "the plan is unchanged");
}

api_test!(
    an_employer_never_reads_coaching_content,
    outsiders_are_refused_on_every_order_endpoint_and_change_nothing,
);
