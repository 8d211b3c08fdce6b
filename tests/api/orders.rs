//! Orders from commission to outcome: the whole path per intake outcome, the first-contact
//! deadline, editing, duplicates, idempotency and coach suggestions.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, etag_version, first_pointer, Backend};
use crate::scene::{long_text, minimal_order, Scene};

async fn a_name_and_a_way_to_reach_the_coachee_are_enough_004(backend: Backend) {
    let s = Scene::new(backend).await;
    let response = s
        .app
        .post_json("/api/v1/orders", &s.hr, &minimal_order())
        .await;
    assert_eq!(response.status(), 201);
    assert!(response.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("/api/v1/orders/"));
    assert_eq!(etag_version(&response), 1);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["status"], "submitted");
    assert_eq!(order["session_budget"], 8, "8 sessions by default (002)");
    assert!(
        order["contact"]["due_at"].is_string(),
        "first contact is due the same working day (004)"
    );
    assert_eq!(order["contact"]["overdue"], false);
    assert_eq!(order["allowed_actions"], json!(["edit", "cancel"]));

    // No way to reach the coachee, or no name: refused with the field.
    let problem = assert_problem(
        s.app
            .post_json(
                "/api/v1/orders",
                &s.hr,
                &json!({"coachee": {"name": "Sam"}}),
            )
            .await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/coachee");
    let problem = assert_problem(
        s.app
            .post_json(
                "/api/v1/orders",
                &s.hr,
                &json!({"coachee": {"email": "x@y.example"}}),
            )
            .await,
        400,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/coachee/name");
    let problem = assert_problem(
        s.app
            .post_json(
                "/api/v1/orders",
                &s.hr,
                &json!({"coachee": {"name": "Sam", "phone": "call me"}, "kind": "therapy"}),
            )
            .await,
        400,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/kind");
    // The HR system (client credentials) orders too; the provider cannot.
    let client = s.app.client_token().await;
    assert_eq!(
        s.app
            .post_json("/api/v1/orders", &client, &minimal_order())
            .await
            .status(),
        201
    );
    assert_problem(
        s.app
            .post_json("/api/v1/orders", &s.planner, &minimal_order())
            .await,
        403,
    )
    .await;
}

async fn an_order_carries_everything_the_employer_tells(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s
        .create(&json!({
            "coachee": {"name": "Sam de Boer", "email": "sam@acme.example", "phone": "+31 6 1234 5678"},
            "job_title": "Lead engineer", "department": "R&D", "employee_ref": "E-1042",
            "reason": "feedback on leading the team", "reason_source": "manager",
            "hoped_goals": "runs the team meeting with confidence", "kind": "job_coaching",
            "context": ["technical_background"], "preferred_format": "video", "preferred_language": "nl",
            "desired_start": "2027-01-04", "session_budget": 6, "assessment_wanted": true,
            "external_ref": "HR-2027-001", "purchase_order": "PO-77"
        }))
        .await;
    assert_eq!(
        order["end_date"], "2027-07-04",
        "start plus 6 months by default (002)"
    );
    assert_eq!(order["session_budget"], 6);
    assert_eq!(order["reason_source"], "manager");
    assert_eq!(order["external_ref"], "HR-2027-001");
    assert_eq!(order["purchase_order"], "PO-77");
    assert_eq!(order["coachee"]["phone"], "+31 6 1234 5678");
}

async fn a_second_order_with_the_same_external_ref_points_at_the_first(backend: Backend) {
    let s = Scene::new(backend).await;
    let body =
        json!({"coachee": {"name": "Sam", "email": "sam@acme.example"}, "external_ref": "HR-1"});
    let first = s.create(&body).await;
    let problem = assert_problem(s.app.post_json("/api/v1/orders", &s.hr, &body).await, 409).await;
    assert_eq!(problem["existing_order_id"], first["id"]);
    assert_eq!(
        problem["existing_order"],
        format!("/api/v1/orders/{}", first["id"].as_str().unwrap())
    );
    // Another employer may use the same reference.
    let other = s.app.seed_other_tenant().await;
    let token = s
        .app
        .access_token(&other.hr_email, crate::helpers::OTHER_PASSWORD)
        .await;
    assert_eq!(
        s.app
            .post_json("/api/v1/orders", &token, &body)
            .await
            .status(),
        201
    );
}

async fn an_idempotency_key_returns_the_first_response(backend: Backend) {
    let s = Scene::new(backend).await;
    let scene = &s;
    let send = |body: Value, key: &'static str| async move {
        scene
            .app
            .post_keyed("/api/v1/orders", &scene.hr, key, &body)
            .await
    };
    let first = send(minimal_order(), "order-key-1").await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(minimal_order(), "order-key-1").await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert!(again.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with(first["id"].as_str().unwrap()));
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(s.app.order_count(&s.hr).await, 1, "one order, not two");

    let other_body = json!({"coachee": {"name": "Someone Else", "phone": "0612345678"}});
    let problem = assert_problem(send(other_body, "order-key-1").await, 422).await;
    assert_eq!(first_pointer(&problem), "Idempotency-Key");
    // A failed request is not remembered as a success, and another key is another request.
    assert_eq!(send(minimal_order(), "order-key-2").await.status(), 201);
}

/// The same key sent several times at once: one order, and every answer is its answer.
async fn concurrent_requests_with_one_key_make_one_order(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = minimal_order();
    let sends = (0..6).map(|_| {
        s.app
            .post_keyed("/api/v1/orders", &s.hr, "the-same-key", &order)
    });
    let mut ids = std::collections::HashSet::new();
    let mut replayed = 0;
    for response in futures_util::future::join_all(sends).await {
        assert_eq!(response.status(), 201);
        replayed += usize::from(response.headers().contains_key("idempotent-replayed"));
        let order: Value = response.json().await.unwrap();
        ids.insert(order["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1, "every answer names the one order");
    assert_eq!(replayed, 5);
    assert_eq!(s.app.order_count(&s.hr).await, 1);
}

/// A refusal is an answer and is replayed; a concurrent change is not and is tried again.
async fn a_refusal_under_a_key_is_replayed(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let path = Scene::path(&id, "/extend");
    let body = json!({"additional_sessions": 2, "substantiation": long_text("x"), "alternative_considered": "group coaching"});
    let extend = || s.app.post_keyed(&path, &s.anna, "extend-1", &body);
    // Not active yet: refused, and the refusal is the key's answer even once the order runs.
    let first = assert_problem(extend().await, 409).await;
    s.force_status(&id, "active").await;
    let again = extend().await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = assert_problem(again, 409).await;
    assert_eq!(
        again["request_id"], first["request_id"],
        "the first answer, as it was"
    );
}

async fn the_whole_path_to_start(backend: Backend) {
    let s = Scene::new(backend).await;
    // The HR system orders.
    let order = s
        .create(&json!({"coachee": {"name": "Sam", "email": "sam@acme.example"}, "kind": "reintegration",
            "context": ["technical_background"], "preferred_language": "nl"}))
        .await;
    let id = order["id"].as_str().unwrap();
    // The planner ranks coaches and assigns the best fit.
    let suggestions: Value = s
        .app
        .get(&Scene::path(id, "/coach-suggestions"), &s.planner)
        .await
        .json()
        .await
        .unwrap();
    let best = &suggestions["data"][0];
    assert_eq!(best["coach_id"], s.anna_coach_id.as_str());
    assert!(best["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r == "specialised in reintegration coaching"));
    let assigned = s
        .app
        .post_json(
            &Scene::path(id, "/assign"),
            &s.planner,
            &json!({"coach_id": s.anna_coach_id}),
        )
        .await;
    assert_eq!(assigned.status(), 200);
    let assigned: Value = assigned.json().await.unwrap();
    assert_eq!(assigned["status"], "accepted");
    assert_eq!(assigned["coach"]["name"], "Anna de Vries");
    // A coach without a login cannot take it; an unknown id neither.
    let profile: Value = s
        .app
        .post_json(
            "/api/v1/coaches",
            &s.planner,
            &json!({"name": "No Login", "email": "nologin@coachwise.example", "time_zone": "Europe/Amsterdam"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let suggested: Value = s
        .app
        .get(&Scene::path(id, "/coach-suggestions"), &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        suggested["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["coach_id"] != profile["id"]),
        "a coach who cannot sign in is not suggested"
    );
    for coach_id in [
        profile["id"].as_str().unwrap().to_string(),
        uuid::Uuid::now_v7().to_string(),
    ] {
        let problem = assert_problem(
            s.app
                .post_json(
                    &Scene::path(id, "/assign"),
                    &s.planner,
                    &json!({"coach_id": coach_id}),
                )
                .await,
            422,
        )
        .await;
        assert_eq!(first_pointer(&problem), "/coach_id");
    }
    // The coach reaches the coachee, keeps the plan and the intake, checks, and completes.
    let contact = s
        .app
        .post_json(
            &Scene::path(id, "/contact"),
            &s.anna,
            &json!({"channel": "phone"}),
        )
        .await;
    assert_eq!(contact.status(), 200);
    assert_eq!(
        s.put(&Scene::path(id, "/plan"), &s.anna, &Scene::good_plan())
            .await
            .status(),
        200
    );
    assert_eq!(
        s.put(&Scene::path(id, "/intake"), &s.anna, &Scene::start_intake())
            .await
            .status(),
        200
    );
    let report: Value = s
        .app
        .post_json(&Scene::path(id, "/intake/validate"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["can_complete"], true, "{report}");
    let done = s
        .app
        .post_json(&Scene::path(id, "/intake/complete"), &s.anna, &json!({}))
        .await;
    assert_eq!(done.status(), 200);
    // The employer reads the result.
    let seen = s.order(id, &s.hr).await;
    assert_eq!(seen["status"], "active");
    assert_eq!(seen["intake_decision"], "start");
    assert_eq!(seen["coach"]["name"], "Anna de Vries");
    assert!(seen["contact"]["contacted_at"].is_string());
    assert_eq!(
        s.timeline_types(id, &s.hr).await,
        [
            "order.created",
            "order.accepted",
            "order.contacted",
            "plan.updated",
            "intake.completed"
        ]
    );
}

async fn the_whole_path_to_decline(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let intake = json!({"trust_coach": true, "trust_coachee": false, "decision": "decline",
        "decline_reason": "no click between coachee and coach"});
    assert_eq!(
        s.put(&Scene::path(&id, "/intake"), &s.anna, &intake)
            .await
            .status(),
        200
    );
    let done: Value = s
        .app
        .post_json(&Scene::path(&id, "/intake/complete"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "declined");
    let seen = s.order(&id, &s.hr).await;
    assert_eq!(seen["status"], "declined");
    assert_eq!(seen["intake_decision"], "decline");
    assert!(
        !seen.to_string().contains("no click"),
        "the reason stays with the coach"
    );
}

async fn the_whole_path_to_an_alternative(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let intake = json!({"trust_coach": true, "trust_coachee": true, "goals_realistic": false,
        "other_solution_better": true, "decision": "alternative",
        "alternative": "mediation with the manager", "alternative_substantiation": long_text("mediation")});
    assert_eq!(
        s.put(&Scene::path(&id, "/intake"), &s.anna, &intake)
            .await
            .status(),
        200
    );
    let done: Value = s
        .app
        .post_json(&Scene::path(&id, "/intake/complete"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "alternative_proposed");
    let seen = s.order(&id, &s.hr).await;
    assert_eq!(seen["intake_decision"], "alternative");
    assert!(
        seen.get("shared_summary").is_none(),
        "without the coachee's consent the employer sees only the decision"
    );
    // With the coachee's consent, the alternative is shared.
    let coachee = s.coachee_token(&id).await;
    assert_eq!(
        s.put(
            "/api/v1/coachee/consents",
            &coachee,
            &json!({"share_summary": true})
        )
        .await
        .status(),
        200
    );
    let seen = s.order(&id, &s.hr).await;
    assert_eq!(
        seen["shared_summary"]["alternative"],
        "mediation with the manager"
    );
}

async fn completing_refuses_an_intake_with_errors_and_changes_nothing(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let mut intake = Scene::start_intake();
    intake["trust_coachee"] = json!(false);
    assert_eq!(
        s.put(&Scene::path(&id, "/intake"), &s.anna, &intake)
            .await
            .status(),
        200
    );
    let report: Value = s
        .app
        .post_json(&Scene::path(&id, "/intake/validate"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["can_complete"], false);
    let codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "trust_coachee_missing",
            "development_points_missing",
            "plan_goals_missing"
        ]
    );
    assert_eq!(report["findings"][0]["severity"], "error");
    assert_eq!(report["findings"][0]["pointer"], "/trust_coachee");

    let problem = assert_problem(
        s.app
            .post_json(&Scene::path(&id, "/intake/complete"), &s.anna, &json!({}))
            .await,
        422,
    )
    .await;
    assert_eq!(problem["findings"].as_array().unwrap().len(), 3);
    assert_eq!(first_pointer(&problem), "/trust_coachee");
    let order = s.order(&id, &s.hr).await;
    assert_eq!(order["status"], "accepted");
    assert!(order["intake_decision"].is_null());
    assert_eq!(
        s.timeline_types(&id, &s.hr).await,
        ["order.created", "order.accepted"]
    );
}

async fn a_warning_does_not_block_completion_002(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let mut plan = Scene::good_plan();
    plan["planned_sessions"] = json!(8);
    assert_eq!(
        s.put(&Scene::path(&id, "/plan"), &s.anna, &plan)
            .await
            .status(),
        200
    );
    let mut intake = Scene::start_intake();
    intake["reason"] = json!("not_confirmed");
    intake["reason_note"] = json!("workload in the team explains most of it");
    assert_eq!(
        s.put(&Scene::path(&id, "/intake"), &s.anna, &intake)
            .await
            .status(),
        200
    );
    let report: Value = s
        .app
        .post_json(&Scene::path(&id, "/intake/validate"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["can_complete"], true);
    assert_eq!(report["findings"][0]["code"], "reason_not_confirmed");
    assert_eq!(report["findings"][0]["severity"], "warning");
    let done: Value = s
        .app
        .post_json(&Scene::path(&id, "/intake/complete"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(done["status"], "active");
}

async fn a_plan_beyond_the_budget_must_be_extended_002(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let mut plan = Scene::good_plan();
    plan["planned_sessions"] = json!(10);
    assert_eq!(
        s.put(&Scene::path(&id, "/plan"), &s.anna, &plan)
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
    let problem = assert_problem(
        s.app
            .post_json(&Scene::path(&id, "/intake/complete"), &s.anna, &json!({}))
            .await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/plan/planned_sessions");
    assert!(problem["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("/extend"));

    // Within budget it starts; then the extension route adds sessions with a substantiation.
    plan["planned_sessions"] = json!(8);
    assert_eq!(
        s.put(&Scene::path(&id, "/plan"), &s.anna, &plan)
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
    let short = json!({"additional_sessions": 2, "substantiation": "needs more", "alternative_considered": "none"});
    let problem = assert_problem(
        s.app
            .post_json(&Scene::path(&id, "/extend"), &s.anna, &short)
            .await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/substantiation");
    // A year and a half from the test clock's today: always after the order's end.
    let new_end = s.app.date_in(540);
    let extension = json!({"additional_sessions": 2, "new_end_date": new_end,
        "substantiation": long_text("a reorganisation"), "alternative_considered": "a team-level intervention"});
    let extended: Value = s
        .app
        .post_json(&Scene::path(&id, "/extend"), &s.anna, &extension)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(extended["session_budget"], 10);
    assert_eq!(extended["end_date"], new_end);
    let types = s.timeline_types(&id, &s.hr).await;
    assert_eq!(types.last().unwrap(), "order.extended");
    // A running plan stays within the order: more goes through the extension route.
    let mut beyond = Scene::good_plan();
    beyond["planned_sessions"] = json!(30);
    let problem = assert_problem(
        s.put(&Scene::path(&id, "/plan"), &s.anna, &beyond).await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/planned_sessions");
    assert!(problem["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("/extend"));
}

async fn completing_a_trajectory_needs_the_closing_review_000(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.active().await;
    let complete = |body: Value| {
        let (s, path) = (&s, Scene::path(&id, "/complete"));
        async move { s.app.post_json(&path, &s.anna, &body).await }
    };
    // No review yet: refused, with the findings, as the intake's are.
    let problem = assert_problem(complete(json!({})).await, 422).await;
    assert_eq!(first_pointer(&problem), "/qualities");
    assert_eq!(problem["findings"][0]["code"], "qualities_missing");
    let review = Scene::path(&id, "/closing-review");
    let unanswered = json!({"qualities": [
        {"quality": "perseverance", "answer": "a weekly moment to stop and ask for help"},
        {"quality": "helpfulness"}
    ]});
    let saved = s.put(&review, &s.anna, &unanswered).await;
    assert_eq!(saved.status(), 200);
    let saved: Value = saved.json().await.unwrap();
    assert_eq!(
        saved["qualities"][1]["question"],
        "What happens if you have too much helpfulness?"
    );
    let report: Value = s
        .app
        .post_json(&format!("{review}/validate"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["can_complete"], false);
    let problem = assert_problem(complete(json!({})).await, 422).await;
    assert_eq!(first_pointer(&problem), "/qualities/1/answer");
    // The review is the coach's and the coachee's: not the planner's, not the employer's.
    assert_problem(s.app.get(&review, &s.planner).await, 403).await;
    assert_problem(s.app.get(&review, &s.hr).await, 403).await;
    // The deprecated flag, when sent, must be true.
    let problem = assert_problem(complete(json!({"pitfalls_reviewed": false})).await, 422).await;
    assert_eq!(first_pointer(&problem), "/pitfalls_reviewed");

    let done = s.complete(&id, &json!({"pitfalls_reviewed": true})).await;
    assert_eq!(done["status"], "following_up");
    // After completion it can no longer be cancelled, nor its review changed.
    let problem = assert_problem(
        s.app
            .post_json(&Scene::path(&id, "/cancel"), &s.hr, &json!({"reason": "x"}))
            .await,
        409,
    )
    .await;
    assert_eq!(
        problem["allowed_actions"],
        json!([
            "assign",
            "issue_coachee_link",
            "record_consent",
            "book_session",
            "follow_up"
        ])
    );
    assert_problem(s.put(&review, &s.anna, &Scene::good_review()).await, 409).await;
}

async fn first_contact_is_tracked_and_overdue_orders_are_listed_004(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let late = s.accepted().await;
    let due = s.order(&late, &s.planner).await["contact"]["due_at"].clone();
    assert_eq!(
        s.order(&late, &s.planner).await["contact"]["overdue"],
        false
    );
    // Contact is due by the next working day's noon at the latest: four days on, it is late.
    s.advance(chrono::Duration::days(4)).await;
    let on_time = s.accepted().await;
    let seen = s.order(&late, &s.planner).await;
    assert_eq!(seen["contact"]["overdue"], true);
    assert_eq!(
        seen["contact"]["due_at"], due,
        "the deadline itself did not move"
    );
    let overdue: Value = s
        .app
        .get("/api/v1/orders?contact_overdue=true", &s.planner)
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = overdue["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [late.as_str()]);
    let fine: Value = s
        .app
        .get("/api/v1/orders?contact_overdue=false", &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fine["data"][0]["id"], on_time.as_str());

    let contacted = s
        .app
        .post_json(
            &Scene::path(&late, "/contact"),
            &s.anna,
            &json!({"channel": "video"}),
        )
        .await;
    assert_eq!(contacted.status(), 200);
    let contacted: Value = contacted.json().await.unwrap();
    assert_eq!(contacted["contact"]["overdue"], false);
    assert_eq!(contacted["contact"]["channel"], "video");
    // What the POST answered is what a later GET reads, to the microsecond.
    assert_eq!(
        s.order(&late, &s.anna).await["contact"]["contacted_at"],
        contacted["contact"]["contacted_at"]
    );
    // Recorded once: no longer offered.
    assert!(!contacted["allowed_actions"]
        .as_array()
        .unwrap()
        .contains(&json!("record_contact")));
    let overdue: Value = s
        .app
        .get("/api/v1/orders?contact_overdue=true", &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["data"].as_array().unwrap().len(), 0);
    // Recording it twice is a refusal that says what is allowed instead; a contact in the future
    // is refused.
    let twice = assert_problem(
        s.app
            .post_json(
                &Scene::path(&late, "/contact"),
                &s.anna,
                &json!({"channel": "phone"}),
            )
            .await,
        409,
    )
    .await;
    let allowed = twice["allowed_actions"].as_array().unwrap();
    assert!(
        allowed.contains(&json!("draft_intake")) && !allowed.contains(&json!("record_contact"))
    );
    let backdated = json!({"channel": "phone", "contacted_at": "2020-01-01T00:00:00Z"});
    let problem = assert_problem(
        s.app
            .post_json(&Scene::path(&on_time, "/contact"), &s.anna, &backdated)
            .await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/contacted_at");
    let future = json!({"channel": "phone", "contacted_at": "2999-01-01T00:00:00Z"});
    assert_problem(
        s.app
            .post_json(&Scene::path(&on_time, "/contact"), &s.anna, &future)
            .await,
        422,
    )
    .await;
    // A time given with nanoseconds is kept, and answered, at microseconds.
    s.app.advance(chrono::Duration::minutes(1));
    let second = (s.app.now() - chrono::Duration::seconds(2)).format("%Y-%m-%dT%H:%M:%S");
    let recorded: Value = s
        .app
        .post_json(
            &Scene::path(&on_time, "/contact"),
            &s.anna,
            &json!({"channel": "phone", "contacted_at": format!("{second}.123456789Z")}),
        )
        .await
        .json()
        .await
        .unwrap();
    let answered = recorded["contact"]["contacted_at"].clone();
    assert_eq!(answered, format!("{second}.123456Z"));
    assert_eq!(
        s.order(&on_time, &s.anna).await["contact"]["contacted_at"],
        answered
    );
}

async fn the_employer_edits_only_while_nothing_has_started(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.create(&minimal_order()).await;
    let id = order["id"].as_str().unwrap();
    let change = json!({"job_title": "Team lead", "session_budget": 10});
    let problem = assert_problem(
        s.app.patch_json(&Scene::path(id, ""), &s.hr, &change).await,
        428,
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("If-Match"));
    let patch = |etag: &'static str, body: Value| {
        s.app
            .request(Method::PATCH, &Scene::path(id, ""), Some(&s.hr))
            .header("if-match", etag)
            .json(&body)
            .send()
    };
    let changed = patch("\"1\"", change.clone()).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(etag_version(&changed), 2);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["job_title"], "Team lead");
    assert_eq!(changed["session_budget"], 10);
    assert_problem(
        patch("\"1\"", json!({"job_title": "stale"})).await.unwrap(),
        412,
    )
    .await;
    // `*` matches whatever version is current (RFC 9110).
    let any = patch("*", json!({"department": "R&D"})).await.unwrap();
    assert_eq!(any.status(), 200);
    assert_eq!(s.order(id, &s.hr).await["job_title"], "Team lead");
    // The provider cannot edit the employer's order.
    let response = s
        .app
        .request(Method::PATCH, &Scene::path(id, ""), Some(&s.planner))
        .header("if-match", "\"3\"")
        .json(&change)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403).await;
    // Once the trajectory runs, the order is fixed.
    let active = s.active().await;
    let version = s.order(&active, &s.hr).await["version"].as_i64().unwrap();
    let response = s
        .app
        .request(Method::PATCH, &Scene::path(&active, ""), Some(&s.hr))
        .header("if-match", format!("\"{version}\""))
        .json(&change)
        .send()
        .await
        .unwrap();
    let problem = assert_problem(response, 409).await;
    assert!(problem["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a != "edit"));
}

async fn orders_are_listed_per_role_with_filters(backend: Backend) {
    let s = Scene::new(backend).await;
    let mine = s.accepted().await;
    let waiting = s
        .create(&json!({"coachee": {"name": "Kim", "phone": "0612345678"}, "kind": "curative"}))
        .await;
    let hr: Value = s
        .app
        .get("/api/v1/orders", &s.hr)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hr["data"].as_array().unwrap().len(), 2);
    let planner: Value = s
        .app
        .get("/api/v1/orders?status=submitted", &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(planner["data"][0]["id"], waiting["id"]);
    assert_eq!(planner["data"].as_array().unwrap().len(), 1);
    let curative: Value = s
        .app
        .get("/api/v1/orders?kind=curative", &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(curative["data"].as_array().unwrap().len(), 1);
    let by_coach: Value = s
        .app
        .get(
            &format!("/api/v1/orders?coach_id={}", s.anna_coach_id),
            &s.planner,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_coach["data"][0]["id"], mine.as_str());
    // A coach sees only the orders assigned to them.
    let anna: Value = s
        .app
        .get("/api/v1/orders", &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(anna["data"].as_array().unwrap().len(), 1);
    let bram: Value = s
        .app
        .get("/api/v1/orders", &s.bram)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bram["data"].as_array().unwrap().len(), 0);
    assert_problem(s.app.get(&Scene::path(&mine, ""), &s.bram).await, 404).await;
    // Pages and sync.
    let page: Value = s
        .app
        .get("/api/v1/orders?limit=1", &s.hr)
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let next: Value = s
        .app
        .get(&format!("/api/v1/orders?limit=1&cursor={cursor}"), &s.hr)
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(next["data"][0]["id"], page["data"][0]["id"]);
    assert!(next["next_cursor"].is_null());
    let none: Value = s
        .app
        .get("/api/v1/orders?updated_since=2999-01-01T00:00:00Z", &s.hr)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    assert_problem(s.app.get("/api/v1/orders?status=lost", &s.hr).await, 400).await;
}

async fn the_plan_records_task_progress_003(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.active().await;
    let plan: Value = s
        .app
        .get(&Scene::path(&id, "/plan"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    let task_id = plan["goals"][0]["tasks"][0]["id"].as_str().unwrap();
    let path = Scene::path(&id, &format!("/plan/tasks/{task_id}"));
    let task: Value = s
        .app
        .patch_json(&path, &s.anna, &json!({"done_count": 2}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(task["done_count"], 2);
    assert_eq!(task["done"], false);
    let task: Value = s
        .app
        .patch_json(&path, &s.anna, &json!({"done_count": 3}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        task["done"], true,
        "the target count reached finishes the task"
    );
    let missing = Scene::path(&id, &format!("/plan/tasks/{}", uuid::Uuid::now_v7()));
    assert_problem(
        s.app
            .patch_json(&missing, &s.anna, &json!({"done": true}))
            .await,
        404,
    )
    .await;
    let plan: Value = s
        .app
        .get(&Scene::path(&id, "/plan"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plan["goals"][0]["tasks"][0]["done_count"], 3);
}

async fn the_coachee_gives_and_withdraws_consent_through_a_link(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.accepted().await;
    let token = s.coachee_token(&id).await;
    let own: Value = s
        .app
        .get("/api/v1/coachee/order", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(own["order_id"], id.as_str());
    assert_eq!(own["coach_name"], "Anna de Vries");
    assert!(own["consents"]["assessment"].is_null());

    // An assessment is planned only with consent (002).
    assert_eq!(
        s.put(&Scene::path(&id, "/plan"), &s.anna, &Scene::good_plan())
            .await
            .status(),
        200
    );
    let mut intake = Scene::start_intake();
    intake["assessment"] = json!("planned");
    assert_eq!(
        s.put(&Scene::path(&id, "/intake"), &s.anna, &intake)
            .await
            .status(),
        200
    );
    let report: Value = s
        .app
        .post_json(&Scene::path(&id, "/intake/validate"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["findings"][0]["code"], "assessment_without_consent");

    let consents: Value = s
        .put(
            "/api/v1/coachee/consents",
            &token,
            &json!({"assessment": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consents["assessment"]["given"], true);
    assert_eq!(consents["assessment"]["source"], "coachee_link");
    assert!(consents["assessment"]["recorded_at"].is_string());
    let report: Value = s
        .app
        .post_json(&Scene::path(&id, "/intake/validate"), &s.anna, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(report["can_complete"], true);

    // Withdrawing stops what depended on it: the planned assessment is cancelled.
    let consents: Value = s
        .put(
            "/api/v1/coachee/consents",
            &token,
            &json!({"assessment": false}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(consents["assessment"]["given"], false);
    let intake: Value = s
        .app
        .get(&Scene::path(&id, "/intake"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(intake["assessment"], "not_planned");
    let types = s.timeline_types(&id, &s.hr).await;
    assert!(
        types.ends_with(&["consent.given".to_string(), "consent.withdrawn".to_string()]),
        "{types:?}"
    );

    assert_problem(
        s.put("/api/v1/coachee/consents", &token, &json!({})).await,
        422,
    )
    .await;
    // The coachee reaches only their own endpoints.
    assert_problem(s.app.get(&Scene::path(&id, ""), &token).await, 403).await;
    assert_problem(s.app.get("/api/v1/orders", &token).await, 403).await;
    // Only the coach hands out links: whoever holds one speaks as the coachee.
    assert_problem(
        s.app
            .post_json(&Scene::path(&id, "/coachee-link"), &s.hr, &json!({}))
            .await,
        403,
    )
    .await;
    let by_hr = s
        .app
        .request(
            Method::DELETE,
            &Scene::path(&id, "/coachee-link"),
            Some(&s.hr),
        )
        .send()
        .await
        .unwrap();
    assert_problem(by_hr, 403).await;
    // A revoked link stops working.
    let revoke = s
        .app
        .request(
            Method::DELETE,
            &Scene::path(&id, "/coachee-link"),
            Some(&s.anna),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    let revoked: Value = revoke.json().await.unwrap();
    assert_eq!(revoked["revoked_links"], 1, "{revoked}");
    assert_problem(s.app.get("/api/v1/coachee/order", &token).await, 401).await;
}

async fn shared_goals_follow_the_coachees_consent(backend: Backend) {
    let s = Scene::new(backend).await;
    let id = s.active().await;
    assert!(s.order(&id, &s.hr).await.get("shared_summary").is_none());
    let token = s.coachee_token(&id).await;
    s.put(
        "/api/v1/coachee/consents",
        &token,
        &json!({"share_summary": true}),
    )
    .await;
    let seen = s.order(&id, &s.hr).await;
    assert_eq!(
        seen["shared_summary"]["goals"],
        json!(["lead the weekly meeting"])
    );
    s.put(
        "/api/v1/coachee/consents",
        &token,
        &json!({"share_summary": false}),
    )
    .await;
    assert!(
        s.order(&id, &s.hr).await.get("shared_summary").is_none(),
        "withdrawn: hidden again"
    );
}

api_test!(
    a_name_and_a_way_to_reach_the_coachee_are_enough_004,
    an_order_carries_everything_the_employer_tells,
    a_second_order_with_the_same_external_ref_points_at_the_first,
    an_idempotency_key_returns_the_first_response,
    concurrent_requests_with_one_key_make_one_order,
    a_refusal_under_a_key_is_replayed,
    the_whole_path_to_start,
    the_whole_path_to_decline,
    the_whole_path_to_an_alternative,
    completing_refuses_an_intake_with_errors_and_changes_nothing,
    a_warning_does_not_block_completion_002,
    a_plan_beyond_the_budget_must_be_extended_002,
    completing_a_trajectory_needs_the_closing_review_000,
    first_contact_is_tracked_and_overdue_orders_are_listed_004,
    the_employer_edits_only_while_nothing_has_started,
    orders_are_listed_per_role_with_filters,
    the_plan_records_task_progress_003,
    the_coachee_gives_and_withdraws_consent_through_a_link,
    shared_goals_follow_the_coachees_consent,
);
