//! The map of personal data and erasure (issue 19 §1; DOMAIN.md "Who may see what": personal
//! data under the GDPR, erasable when the trajectory is over).

use chrono::Weekday;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::{json, Value};
use trajectum::db::personal_data;
use trajectum::domain::event::Event;
use trajectum::domain::principal::OrganisationKind;

use crate::api_test;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::scene::{long_text, Scene};

/// The database holds exactly the columns the map classifies: a table or column added without a
/// decision about its personal data fails here.
async fn every_column_of_the_database_is_in_the_map(backend: Backend) {
    let s = Scene::new(backend).await;
    let mut found = s
        .app
        .blocking(|conn| Ok(personal_data::columns_in_database(conn)?))
        .await;
    found.sort();
    let mut mapped: Vec<(String, String)> = personal_data::MAP
        .iter()
        .map(|c| (c.table.to_string(), c.column.to_string()))
        .collect();
    mapped.sort();
    let unmapped: Vec<_> = found.iter().filter(|c| !mapped.contains(c)).collect();
    let gone: Vec<_> = mapped.iter().filter(|c| !found.contains(c)).collect();
    assert!(
        unmapped.is_empty(),
        "columns without a classification: {unmapped:?}"
    );
    assert!(
        gone.is_empty(),
        "mapped columns the database lacks: {gone:?}"
    );
}

/// Where `marker` is stored: every (table, column) whose value contains it.
async fn stored_in(app: &TestApp, marker: &str) -> Vec<String> {
    let marker = marker.to_string();
    app.blocking(move |conn| {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut places = vec![];
        for (table, column) in personal_data::columns_in_database(conn)? {
            let sql = format!(
                "SELECT count(*) AS n FROM {table} WHERE CAST({column} AS TEXT) LIKE '%{marker}%'"
            );
            let count: Count = match conn {
                trajectum::db::DbConnection::Postgres(c) => diesel::sql_query(sql).get_result(c)?,
                trajectum::db::DbConnection::Sqlite(c) => diesel::sql_query(sql).get_result(c)?,
            };
            if count.n > 0 {
                places.push(format!("{table}.{column}"));
            }
        }
        Ok(places)
    })
    .await
}

/// A unique marker in every personal field the API takes, through the worker, webhooks and the
/// feed, then erasure: the marker is in no table and no answer, was in no webhook payload and no
/// log line, while the order, its events and the figures the reports need stay.
async fn erasure_leaves_no_trace_of_the_coachee(backend: Backend) {
    let s = Scene::with(crate::webhooks::local_app(backend).await).await;
    let marker = format!("mrk{}", uuid::Uuid::new_v4().simple());
    // Both organisations hear of everything, by webhook.
    let receivers = [
        crate::webhooks::Receiver::start().await,
        crate::webhooks::Receiver::start().await,
    ];
    for (receiver, token, kind) in [
        (&receivers[0], &s.hr, OrganisationKind::Employer),
        (&receivers[1], &s.planner, OrganisationKind::Provider),
    ] {
        let types: Vec<&str> = Event::TYPES
            .into_iter()
            .filter(|t| trajectum::domain::webhook::told_to(kind, t))
            .collect();
        crate::webhooks::subscribe(&s.app, token, &receiver.url, &types).await;
    }
    let created = s
        .app
        .post_keyed(
            "/api/v1/orders",
            &s.hr,
            &format!("key-{marker}"),
            &json!({
                "coachee": {"name": format!("Sam {marker}"), "email": format!("{marker}@acme.example")},
                "external_ref": format!("ref-{marker}"),
                "job_title": format!("engineer {marker}"),
                "department": format!("dept {marker}"),
                "employee_ref": format!("emp-{marker}"),
                "reason": format!("the reason {marker}"),
                "hoped_goals": format!("the goals {marker}"),
            }),
        )
        .await;
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let created: Value = created.json().await.unwrap();
    let order = created["id"].as_str().unwrap().to_string();
    let assigned = s
        .app
        .post_json(
            &Scene::path(&order, "/assign"),
            &s.planner,
            &json!({"coach_id": s.anna_coach_id}),
        )
        .await;
    assert_eq!(assigned.status(), 200);
    let mut plan = Scene::good_plan();
    plan["development_points"][0]["description"] = json!(format!("develop {marker}"));
    assert_eq!(
        s.put(&Scene::path(&order, "/plan"), &s.anna, &plan)
            .await
            .status(),
        200
    );
    let mut intake = Scene::start_intake();
    intake["private_note"] = json!(format!("private {marker}"));
    intake["reason_note"] = json!(format!("reason note {marker}"));
    assert_eq!(
        s.put(&Scene::path(&order, "/intake"), &s.anna, &intake)
            .await
            .status(),
        200
    );
    let completed = s
        .app
        .post_json(
            &Scene::path(&order, "/intake/complete"),
            &s.anna,
            &json!({}),
        )
        .await;
    assert_eq!(completed.status(), 200);
    let coachee = s.coachee_token(&order).await;
    let extended = s
        .app
        .post_json(
            &Scene::path(&order, "/extend"),
            &s.anna,
            &json!({"additional_sessions": 2, "substantiation": long_text(&marker), "alternative_considered": format!("group {marker}")}),
        )
        .await;
    assert_eq!(extended.status(), 200, "{}", extended.text().await.unwrap());
    let session = crate::scheduling::booked_regular(&s, &order, Weekday::Tue, "10:00").await;
    let session = session["id"].as_str().unwrap().to_string();
    let notes = s
        .put(
            &format!("/api/v1/sessions/{session}/notes"),
            &s.anna,
            &json!({"text": format!("notes {marker}")}),
        )
        .await;
    assert_eq!(notes.status(), 200);
    let other = crate::scheduling::booked_regular(&s, &order, Weekday::Wed, "10:00").await;
    let cancelled = s
        .app
        .post_json(
            &format!("/api/v1/sessions/{}/cancel", other["id"].as_str().unwrap()),
            &s.anna,
            &json!({"requested_by": "coachee", "reason": format!("away {marker}")}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);

    // The export: everything held about the coachee, the coach's notes in their own only.
    let export = |token: String| {
        let (app, path) = (&s.app, Scene::path(&order, "/export"));
        async move {
            let response = app.get(&path, &token).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let planners = export(s.planner.clone()).await;
    assert_eq!(planners["notes_included"], false);
    assert!(planners["data"].get("session_notes").is_none());
    let text = planners.to_string();
    for part in [
        format!("Sam {marker}"),
        format!("{marker}@acme.example"),
        format!("develop {marker}"),
        format!("away {marker}"),
    ] {
        assert!(text.contains(&part), "{part} in the planner's export");
    }
    assert!(
        !text.contains(&format!("private {marker}")),
        "no private note for the planner"
    );
    assert!(
        !text.contains(&format!("notes {marker}")),
        "no notes for the planner"
    );
    let own = export(coachee.clone()).await;
    assert_eq!(own["notes_included"], true);
    assert_eq!(
        own["data"]["session_notes"][0]["text"],
        format!("notes {marker}")
    );
    assert_eq!(
        own["data"]["intakes"][0]["draft"]["private_note"],
        format!("private {marker}")
    );
    assert!(own["data"]["consents"].is_array());
    // One document whichever the backend: booleans are booleans, instants RFC 3339 in UTC.
    let sessions = own["data"]["sessions"].as_array().unwrap();
    assert!(!sessions.is_empty());
    for session in sessions {
        assert!(session["outside_hours"].is_boolean(), "{session}");
        assert!(session["counts_against_budget"].is_boolean(), "{session}");
    }
    for (table, rows) in own["data"].as_object().unwrap() {
        for row in rows.as_array().into_iter().flatten() {
            for (column, value) in row.as_object().into_iter().flatten() {
                if column.ends_with("_at") && !value.is_null() {
                    let text = value.as_str().unwrap_or_default();
                    assert!(
                        chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with('Z'),
                        "{table}.{column}: {value}"
                    );
                }
            }
        }
    }
    assert!(!own["data"]["events"].as_array().unwrap().is_empty());
    assert_problem(s.app.get(&Scene::path(&order, "/export"), &s.hr).await, 403).await;
    let elsewhere = s.accepted().await;
    assert_problem(
        s.app
            .get(&Scene::path(&elsewhere, "/export"), &coachee)
            .await,
        404,
    )
    .await;

    // Not before the trajectory is over.
    let early = s
        .app
        .post_json(&Scene::path(&order, "/erase"), &s.planner, &json!({}))
        .await;
    let problem = assert_problem(early, 409).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("order-not-finished"),
        "{problem}"
    );
    let cancel = s
        .app
        .post_json(
            &Scene::path(&order, "/cancel"),
            &s.hr,
            &json!({"reason": format!("left {marker}")}),
        )
        .await;
    assert_eq!(cancel.status(), 200);
    // The worker's rounds (the first-session check) and every webhook sent.
    s.app.run_jobs().await;
    assert!(s.app.run_deliveries().await > 0);
    let before = stored_in(&s.app, &marker).await;
    for place in [
        "orders.coachee_name",
        "orders.details",
        "orders.external_ref",
        "plans.plan",
        "intakes.draft",
        "order_extensions.substantiation",
        "sessions.cancel_reason",
        "idempotency_keys.response_body",
    ] {
        assert!(before.contains(&place.to_string()), "{place} in {before:?}");
    }

    // The employer may not erase; the planner does.
    assert_problem(
        s.app
            .post_json(&Scene::path(&order, "/erase"), &s.hr, &json!({}))
            .await,
        403,
    )
    .await;
    let erased = s
        .app
        .post_json(&Scene::path(&order, "/erase"), &s.planner, &json!({}))
        .await;
    assert_eq!(erased.status(), 200);
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["order_id"], order.as_str());

    assert_eq!(stored_in(&s.app, &marker).await, Vec::<String>::new());
    let notes_left = s
        .app
        .blocking(move |conn| {
            use trajectum::db::schema::session_notes::dsl as n;
            Ok(n::session_notes
                .filter(n::session_id.eq(session))
                .count()
                .get_result::<i64>(conn)?)
        })
        .await;
    assert_eq!(notes_left, 0, "the sealed notes are gone");
    for (path, token) in [
        (Scene::path(&order, ""), &s.planner),
        (Scene::path(&order, ""), &s.hr),
        (Scene::path(&order, "/timeline"), &s.planner),
        (Scene::path(&order, "/sessions"), &s.planner),
        ("/api/v1/events".to_string(), &s.planner),
        ("/api/v1/events".to_string(), &s.hr),
        ("/api/v1/audit?limit=200".to_string(), &s.planner),
        (Scene::path(&order, "/export"), &s.planner),
    ] {
        let response = s.app.get(&path, token).await;
        assert_eq!(response.status(), 200, "{path}");
        let body = response.text().await.unwrap();
        assert!(!body.contains(&marker), "{path}: {body}");
    }
    let seen: Value = s
        .app
        .get(&Scene::path(&order, ""), &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        seen["status"], "cancelled",
        "the order stays, for the reports"
    );
    // The coachee's link is gone with the rest.
    assert_problem(s.app.get("/api/v1/coachee/order", &coachee).await, 401).await;
    // Erasing again answers the first erasure.
    let again: Value = s
        .app
        .post_json(&Scene::path(&order, "/erase"), &s.planner, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["erased_at"], erased["erased_at"]);

    // Nothing that left the service carried it: webhook payloads and log lines.
    s.app.run_jobs().await;
    s.app.run_deliveries().await;
    for receiver in &receivers {
        let received = receiver.received();
        assert!(received.len() > 5, "{} deliveries", received.len());
        for delivery in received {
            assert!(!delivery.body.contains(&marker), "{}", delivery.body);
        }
    }
    let logged = crate::helpers::logged();
    assert!(
        logged.contains(&order),
        "the log is kept (it names the order)"
    );
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains(&marker)).collect();
    assert!(lines.is_empty(), "logged: {lines:#?}");
}

/// The worker erases an order's data `TRAJECTUM_ERASE_AFTER_MONTHS` after it closed, not before,
/// through the same use case as a planner.
async fn the_worker_erases_a_time_after_close(backend: Backend) {
    let s = Scene::new(backend).await;
    let cancel = |order: String| {
        let s = &s;
        async move {
            let response = s
                .app
                .post_json(
                    &Scene::path(&order, "/cancel"),
                    &s.hr,
                    &json!({"reason": "no longer needed"}),
                )
                .await;
            assert_eq!(response.status(), 200);
        }
    };
    let old = s
        .create(&json!({"coachee": {"name": "Old Timer", "email": "old@acme.example"}}))
        .await;
    let old = old["id"].as_str().unwrap().to_string();
    cancel(old.clone()).await;
    s.app.advance(chrono::Duration::days(30 * 23));
    let hr = s.app.hr_token().await;
    let recent = s
        .app
        .post_json(
            "/api/v1/orders",
            &hr,
            &json!({"coachee": {"name": "New Comer", "email": "new@acme.example"}}),
        )
        .await;
    let recent: Value = recent.json().await.unwrap();
    let recent = recent["id"].as_str().unwrap().to_string();
    let cancelled = s
        .app
        .post_json(
            &Scene::path(&recent, "/cancel"),
            &hr,
            &json!({"reason": "no longer needed"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    s.app.run_jobs().await;
    assert_eq!(
        stored_in(&s.app, "Old Timer").await.len(),
        1,
        "not yet: 23 months"
    );
    s.app.advance(chrono::Duration::days(60));
    s.app.run_jobs().await;
    assert_eq!(
        stored_in(&s.app, "Old Timer").await,
        Vec::<String>::new(),
        "erased after 24 months"
    );
    assert_eq!(
        stored_in(&s.app, "New Comer").await,
        vec!["orders.coachee_name".to_string()]
    );
    let erased_by = s
        .app
        .blocking(move |conn| {
            use trajectum::db::schema::erasures::dsl as e;
            Ok(e::erasures
                .filter(e::order_id.eq(old))
                .select(e::erased_by)
                .first::<String>(conn)?)
        })
        .await;
    assert_eq!(erased_by, "trajectum");
}

api_test!(
    the_worker_erases_a_time_after_close,
    every_column_of_the_database_is_in_the_map,
    erasure_leaves_no_trace_of_the_coachee,
);
