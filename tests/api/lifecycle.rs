//! API.md "Order states": every action endpoint in every state is either allowed or a 409 whose
//! body lists the actions allowed now.

use chrono::DurationRound;
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
            "review_closing",
        ],
        "declined" | "alternative_proposed" => &["cancel", "issue_coachee_link"],
        "completed" => &["issue_coachee_link"],
        "following_up" => &["assign", "issue_coachee_link", "follow_up"],
        _ => &[],
    }
}

/// Until the trajectory is closed or cancelled the coachee may change their consents.
fn allowed_with_consent(state: &str) -> Vec<&'static str> {
    let mut actions = allowed(state).to_vec();
    if !matches!(state, "closed" | "cancelled") {
        actions.push("record_consent");
    }
    // The intake before the start decision, sessions while it runs, follow-ups after (002).
    if matches!(
        state,
        "accepted" | "intake_scheduled" | "active" | "completed" | "following_up"
    ) {
        actions.push("book_session");
    }
    actions
}

const ACTIONS: [&str; 14] = [
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
    "record_consent",
    "book_session",
    "review_closing",
    "follow_up",
];

async fn attempt(s: &Scene, id: &str, coachee: &str, action: &str) -> reqwest::Response {
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
            // The review completing asks for (saved where the state allows it).
            s.put(&path("/closing-review"), &s.anna, &Scene::good_review())
                .await;
            app.post_json(&path("/complete"), &s.anna, &json!({})).await
        }
        "review_closing" => {
            s.put(&path("/closing-review"), &s.anna, &Scene::good_review())
                .await
        }
        "follow_up" => {
            // A follow-up of the order, as completing would have planned it.
            let (order, follow_up) = (id.to_string(), uuid::Uuid::now_v7().to_string());
            let due = (app.now() + chrono::Duration::days(90)).date_naive();
            let fid = follow_up.clone();
            app.blocking(move |conn| {
                let order = trajectum::db::orders::find(conn, &order)?.unwrap();
                trajectum::db::follow_ups::insert(
                    conn,
                    &trajectum::db::follow_ups::FollowUp {
                        id: fid,
                        order_id: order.id,
                        provider_id: order.provider_id,
                        number: 1,
                        due_on: due,
                        status: trajectum::domain::follow_up::FollowUpStatus::Pending,
                        session_id: None,
                        flag: None,
                        skip_reason: None,
                        results: None,
                        outcome_note: None,
                        outcome_at: None,
                        version: 1,
                        created_at: order.created_at,
                        updated_at: order.created_at,
                    },
                )?;
                Ok(())
            })
            .await;
            let body = json!({"due_on": due + chrono::Duration::days(7)});
            app.request(
                Method::PATCH,
                &format!("/api/v1/follow-ups/{follow_up}"),
                Some(&s.planner),
            )
            .json(&body)
            .send()
            .await
            .unwrap()
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
        "book_session" => {
            // The kind the order's state takes, on a day of its own (outside hours, so any day).
            let status = s.order(id, &s.planner).await["status"].clone();
            let status = status.as_str().unwrap();
            let kind = match status {
                "active" => "regular",
                "completed" | "following_up" => "follow_up",
                _ => "intake",
            };
            let day = STATES.iter().position(|s| *s == status).unwrap() as i64;
            let start = (app.now() + chrono::Duration::days(7 + day))
                .duration_trunc(chrono::Duration::hours(1))
                .unwrap();
            let body = json!({
                "starts_at": start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "duration_minutes": 60, "kind": kind, "format": "phone", "outside_hours": true
            });
            app.post_json(&path("/sessions"), &s.anna, &body).await
        }
        "record_consent" => {
            s.put(
                "/api/v1/coachee/consents",
                coachee,
                &json!({"share_summary": true}),
            )
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
            let coachee = s.coachee_token(&id).await;
            s.force_status(&id, state).await;
            let response = attempt(&s, &id, &coachee, action).await;
            let status = response.status().as_u16();
            if allowed_with_consent(state).contains(&action) {
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
                // Exactly what the API can do now: nothing it has no endpoint for.
                let mut expected = allowed_with_consent(state);
                let mut listed = listed.clone();
                expected.sort();
                listed.sort();
                assert_eq!(listed, expected, "{action} in {state}");
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
    s.complete(&id, &json!({})).await;
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
            (
                json!("follow_up.planned"),
                json!("completed"),
                json!("following_up")
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

/// Every event reaches the event log of the employer and of the provider, numbered 1, 2, 3, …
/// per organisation without gaps, in the order of the timeline; concurrent changes included.
async fn every_event_reaches_each_organisations_log_in_order(backend: Backend) {
    use trajectum::admin::demo;
    let s = Scene::new(backend).await;
    let id = s.active().await;
    let bodies: Vec<Value> = (0..12)
        .map(|n| json!({"coachee": {"name": format!("Coachee {n}"), "email": "c@acme.example"}}))
        .collect();
    let creations = bodies
        .iter()
        .map(|body| s.app.post_json("/api/v1/orders", &s.hr, body));
    for response in futures_util::future::join_all(creations).await {
        assert_eq!(response.status(), 201);
    }
    let logs = s
        .app
        .blocking(|conn| {
            let mut logs = vec![];
            for organisation in [demo::EMPLOYER_ID, demo::PROVIDER_ID] {
                logs.push(trajectum::db::events::log(conn, organisation, 0, 1000)?);
            }
            Ok(logs)
        })
        .await;
    let (employer, provider) = (&logs[0], &logs[1]);
    for log in [employer, provider] {
        let numbers: Vec<i64> = log.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(
            numbers,
            (1..=log.len() as i64).collect::<Vec<_>>(),
            "no gaps"
        );
        let ids: std::collections::HashSet<&str> = log.iter().map(|(_, e)| e.id.as_str()).collect();
        assert_eq!(ids.len(), log.len(), "each event once");
    }
    let events = |log: &Vec<(i64, trajectum::db::events::StoredEvent)>| -> Vec<String> {
        log.iter().map(|(_, e)| e.id.clone()).collect()
    };
    assert_eq!(
        events(employer),
        events(provider),
        "both sides see the same events"
    );
    // One order's events appear in its timeline's order, each typed.
    let page: Value = s
        .app
        .get(&Scene::path(&id, "/timeline"), &s.planner)
        .await
        .json()
        .await
        .unwrap();
    let timeline: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let logged: Vec<&str> = provider
        .iter()
        .filter(|(_, e)| e.order_id.as_deref() == Some(id.as_str()))
        .map(|(_, e)| e.id.as_str())
        .collect();
    assert_eq!(logged, timeline);
    for (_, event) in provider {
        event.event().expect("every logged event is a typed event");
    }
    assert_eq!(
        provider
            .iter()
            .filter(|(_, e)| e.event_type == "order.created")
            .count(),
        13
    );
}

/// A use case runs without HTTP, as the worker and the command line run them: with a
/// connection, the time, a caller and a typed command; its refusals are typed too.
async fn a_use_case_runs_without_http(backend: Backend) {
    use trajectum::admin::demo;
    use trajectum::domain::contact::FirstContact;
    use trajectum::domain::order::ContactChannel;
    use trajectum::domain::principal::{Principal, Role, SubjectType};
    use trajectum::service::{orders, ServiceError};
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let now = s.app.now();
    let order_id = id.clone();
    let (first, second) = s
        .app
        .blocking(move |conn| {
            let planner = trajectum::db::identity::find_user_by_email(conn, demo::ADMIN_EMAIL)?
                .expect("the demo planner");
            let caller = Principal {
                subject: planner.id,
                subject_type: SubjectType::User,
                role: Role::ProviderAdmin,
                organisation_id: demo::PROVIDER_ID.into(),
                order_id: None,
            };
            let contact = || FirstContact {
                channel: ContactChannel::Phone,
                contacted_at: None,
            };
            let first = orders::record_contact(conn, now, &caller, &order_id, contact());
            let second = orders::record_contact(conn, now, &caller, &order_id, contact());
            Ok((first, second))
        })
        .await;
    assert_eq!(first.unwrap().contact.contacted_at, Some(now));
    assert!(matches!(second, Err(ServiceError::Refused { .. })));
    assert!(!second.unwrap_err().is_retryable());
    let types = s.timeline_types(&id, &s.planner).await;
    assert_eq!(types.last().unwrap(), "order.contacted");
}

api_test!(
    every_state_allows_its_actions_and_refuses_the_rest_with_409,
    every_transition_is_an_event_in_the_timeline,
    every_event_reaches_each_organisations_log_in_order,
    a_use_case_runs_without_http,
);
