//! API.md "Order states": every action endpoint in every state is either allowed or a 409 whose
//! body lists the actions allowed now.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, Backend};
use crate::scene::{long_text, Scene};

const STATES: [&str; 10] = [
    "submitted",
    "accepted",
    "intake_scheduled",
    "active",
    "declined",
    "alternative_proposed",
    "completed",
    "following_up",
    "closed",
    "cancelled",
];

/// The contract: which endpoint actions each state allows (API.md "Order states"; cancel from
/// any state before completed; an intake may complete straight from accepted, 004).
fn allowed(state: &str) -> &'static [&'static str] {
    match state {
        "submitted" => &[
            "edit",
            "assign",
            "record_contact",
            "cancel",
            "issue_coachee_link",
        ],
        "accepted" => &[
            "edit",
            "assign",
            "record_contact",
            "draft_intake",
            "complete_intake",
            "update_plan",
            "cancel",
            "issue_coachee_link",
        ],
        "intake_scheduled" => &[
            "assign",
            "record_contact",
            "draft_intake",
            "complete_intake",
            "update_plan",
            "cancel",
            "issue_coachee_link",
        ],
        "active" => &[
            "assign",
            "update_plan",
            "extend",
            "complete",
            "cancel",
            "issue_coachee_link",
        ],
        "declined" | "alternative_proposed" => &["cancel", "issue_coachee_link"],
        "completed" | "following_up" => &["issue_coachee_link"],
        _ => &[],
    }
}

const ACTIONS: [&str; 10] = [
    "edit",
    "assign",
    "record_contact",
    "draft_intake",
    "complete_intake",
    "update_plan",
    "extend",
    "complete",
    "cancel",
    "issue_coachee_link",
];

async fn attempt(s: &Scene, id: &str, action: &str) -> reqwest::Response {
    let app = &s.app;
    let path = |rest: &str| Scene::path(id, rest);
    match action {
        "edit" => {
            let version = s.order(id, &s.hr).await["version"].as_i64().unwrap();
            app.request(Method::PATCH, &path(""), Some(&s.hr))
                .header("if-match", format!("\"{version}\""))
                .json(&json!({"job_title": "Team lead"}))
                .send()
                .await
                .unwrap()
        }
        "assign" => {
            app.post_json(
                &path("/assign"),
                &s.planner,
                &json!({"coach_id": s.anna_coach_id}),
            )
            .await
        }
        "record_contact" => {
            app.post_json(&path("/contact"), &s.anna, &json!({"channel": "phone"}))
                .await
        }
        "draft_intake" => {
            s.put(&path("/intake"), &s.anna, &Scene::start_intake())
                .await
        }
        "complete_intake" => {
            app.post_json(&path("/intake/complete"), &s.anna, &json!({}))
                .await
        }
        "update_plan" => s.put(&path("/plan"), &s.anna, &Scene::good_plan()).await,
        "extend" => {
            let body = json!({"additional_sessions": 1, "substantiation": long_text("extra"), "alternative_considered": "group coaching"});
            app.post_json(&path("/extend"), &s.anna, &body).await
        }
        "complete" => {
            app.post_json(
                &path("/complete"),
                &s.anna,
                &json!({"pitfalls_reviewed": true}),
            )
            .await
        }
        "cancel" => {
            app.post_json(
                &path("/cancel"),
                &s.hr,
                &json!({"reason": "budget withdrawn"}),
            )
            .await
        }
        "issue_coachee_link" => {
            app.post_json(&path("/coachee-link"), &s.anna, &json!({}))
                .await
        }
        other => unreachable!("{other}"),
    }
}

async fn every_state_allows_its_actions_and_refuses_the_rest_with_409(backend: Backend) {
    let s = Scene::new(backend).await;
    for state in STATES {
        for action in ACTIONS {
            // An order with a coach, a plan and an intake ready to start, then put in `state`.
            let id = s.accepted().await;
            assert_eq!(
                s.put(&Scene::path(&id, "/plan"), &s.anna, &Scene::good_plan())
                    .await
                    .status(),
                200
            );
            assert_eq!(
                s.put(
                    &Scene::path(&id, "/intake"),
                    &s.anna,
                    &Scene::start_intake()
                )
                .await
                .status(),
                200
            );
            s.force_status(&id, state).await;
            let response = attempt(&s, &id, action).await;
            let status = response.status().as_u16();
            if allowed(state).contains(&action) {
                let body = response.text().await.unwrap();
                assert!(
                    (200..300).contains(&status),
                    "{action} in {state} should be allowed: {status} {body}"
                );
            } else {
                let problem = assert_problem(response, 409).await;
                let listed: Vec<&str> = problem["allowed_actions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                assert!(!listed.contains(&action), "{action} in {state}");
                for expected in allowed(state) {
                    assert!(
                        listed.contains(expected),
                        "{state} lists {expected}: {listed:?}"
                    );
                }
                assert_eq!(problem["order_status"], state);
                // A refused action changes nothing.
                assert_eq!(
                    s.order(&id, &s.planner).await["status"],
                    state,
                    "{action} in {state}"
                );
            }
        }
    }
}

async fn every_transition_is_an_event_in_the_timeline(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.active().await;
    s.app
        .post_json(
            &Scene::path(&id, "/complete"),
            &s.anna,
            &json!({"pitfalls_reviewed": true}),
        )
        .await;
    let page: Value = s
        .app
        .get(&Scene::path(&id, "/timeline"), &s.hr)
        .await
        .json()
        .await
        .unwrap();
    let events = page["data"].as_array().unwrap();
    let transitions: Vec<(Value, Value, Value)> = events
        .iter()
        .filter(|e| e["from_status"] != e["to_status"])
        .map(|e| {
            (
                e["type"].clone(),
                e["from_status"].clone(),
                e["to_status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        transitions,
        [
            (json!("order.created"), Value::Null, json!("submitted")),
            (
                json!("order.accepted"),
                json!("submitted"),
                json!("accepted")
            ),
            (
                json!("intake.completed"),
                json!("accepted"),
                json!("active")
            ),
            (
                json!("order.completed"),
                json!("active"),
                json!("completed")
            ),
        ]
    );
    for event in events {
        assert!(event["actor_role"].is_string() && event["occurred_at"].is_string());
    }
    // Cancelling is a transition too.
    let other = s.accepted().await;
    s.app
        .post_json(
            &Scene::path(&other, "/cancel"),
            &s.planner,
            &json!({"reason": "coachee left the company"}),
        )
        .await;
    let types = s.timeline_types(&other, &s.hr).await;
    assert_eq!(types.last().unwrap(), "order.cancelled");
    assert_eq!(
        s.order(&other, &s.hr).await["cancel_reason"],
        "coachee left the company"
    );
}

api_test!(
    every_state_allows_its_actions_and_refuses_the_rest_with_409,
    every_transition_is_an_event_in_the_timeline,
);
