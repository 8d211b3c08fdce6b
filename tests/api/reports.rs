//! Outcome reports for HR (issue 19 §3; 002: did it help and did it last, 004: first contact the
//! same working day, the first session's check), checked against a scenario made by hand, in
//! JSON and CSV, with small counts withheld so that no coachee is singled out.

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, Backend, OTHER_PASSWORD};
use crate::scene::Scene;

fn month(app_now: chrono::DateTime<chrono::Utc>) -> String {
    app_now.format("%Y-%m").to_string()
}

fn breakdown<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["breakdowns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {report}"))
}

/// The count of `category` in `name`: `Some(n)` when shown, `None` when withheld.
fn cell(report: &Value, name: &str, category: &str) -> Option<u64> {
    let cell = breakdown(report, name)["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == category)
        .unwrap_or_else(|| panic!("{name}/{category}"))
        .clone();
    assert_eq!(cell["suppressed"], cell["count"].is_null(), "{cell}");
    cell["count"].as_u64()
}

async fn report(s: &Scene, token: &str, query: &str) -> Value {
    let response = s
        .app
        .get(&format!("/api/v1/reports/outcomes?{query}"), token)
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The scenario: 6 trajectories started (intake decided `start`), first contact recorded the
/// same working day on each; 5 more commissioned as job coaching with 8 sessions each, of which
/// 1 was cancelled. So: active 6, submitted 4, cancelled 1 (4 and 1 are small, and together 5:
/// both withheld, neither derivable from the total 11), intake decisions start 6 / none yet 5,
/// first contact the same day 6 / not recorded 5.
async fn the_outcome_report_counts_a_hand_made_scenario(backend: Backend) {
    let s = Scene::new(backend).await;
    let mut started = vec![];
    for _ in 0..6 {
        let id = s.accepted().await;
        let contact = s
            .app
            .post_json(
                &Scene::path(&id, "/contact"),
                &s.anna,
                &json!({"channel": "phone"}),
            )
            .await;
        assert_eq!(contact.status(), 200);
        s.start(&id).await;
        started.push(id);
    }
    let mut waiting = vec![];
    for _ in 0..5 {
        let order = s
            .create(&json!({
                "coachee": {"name": "Report Person", "email": "report@acme.example"},
                "kind": "job_coaching", "session_budget": 8
            }))
            .await;
        waiting.push(order["id"].as_str().unwrap().to_string());
    }
    let cancelled = s
        .app
        .post_json(
            &Scene::path(&waiting[0], "/cancel"),
            &s.hr,
            &json!({"reason": "the employee left"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    let mut budget = 0;
    for id in started.iter().chain(&waiting) {
        budget += s.order(id, &s.hr).await["session_budget"].as_u64().unwrap();
    }

    let this = month(s.app.now());
    let query = format!("from={this}&to={this}");
    let hr = report(&s, &s.hr, &query).await;
    assert_eq!(hr["min_count"], 5);
    let statuses = breakdown(&hr, "orders_by_status");
    assert_eq!(statuses["total"], 11);
    assert_eq!(cell(&hr, "orders_by_status", "active"), Some(6));
    assert_eq!(cell(&hr, "orders_by_status", "submitted"), None);
    assert_eq!(cell(&hr, "orders_by_status", "cancelled"), None);
    assert_eq!(cell(&hr, "orders_by_status", "closed"), Some(0));
    assert_eq!(cell(&hr, "orders_by_kind", "job_coaching"), Some(5));
    assert_eq!(cell(&hr, "intake_decisions", "start"), Some(6));
    assert_eq!(cell(&hr, "intake_decisions", "none_yet"), Some(5));
    assert_eq!(cell(&hr, "first_contact", "same_working_day"), Some(6));
    assert_eq!(cell(&hr, "first_contact", "not_recorded"), Some(5));
    assert_eq!(
        cell(&hr, "started_orders_by_alliance", "not_at_risk"),
        Some(6)
    );
    assert_eq!(breakdown(&hr, "budget_sessions")["total"], budget);
    assert_eq!(cell(&hr, "budget_sessions", "used"), Some(0));
    assert_eq!(cell(&hr, "sessions", "held"), Some(0));
    assert_eq!(breakdown(&hr, "follow_up_results")["total"], 0);

    // The provider sees the same figures across its employers, and its one employer alone.
    let planner = report(&s, &s.planner, &query).await;
    assert_eq!(planner["breakdowns"], hr["breakdowns"]);
    let employer = trajectum::admin::demo::EMPLOYER_ID;
    let one = report(&s, &s.planner, &format!("{query}&employer_id={employer}")).await;
    assert_eq!(one["breakdowns"], hr["breakdowns"]);
    assert_eq!(one["employer_id"], employer);
    // A month before: nobody.
    let before = month(s.app.now() - chrono::Duration::days(40));
    let empty = report(&s, &s.hr, &format!("from={before}&to={before}")).await;
    assert_eq!(breakdown(&empty, "orders_by_status")["total"], 0);

    // The same figures as CSV, that a spreadsheet opens as it is.
    let csv = s
        .app
        .request(
            Method::GET,
            &format!("/api/v1/reports/outcomes?{query}"),
            Some(&s.hr),
        )
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "breakdown,category,count,suppressed");
    for expected in [
        "orders_by_status,active,6,false",
        "orders_by_status,submitted,,true",
        "orders_by_status,cancelled,,true",
        "orders_by_status,total,11,false",
        "first_contact,same_working_day,6,false",
        &format!("budget_sessions,total,{budget},false"),
    ] {
        assert!(lines.contains(&expected), "{expected} in\n{text}");
    }
    let rows = lines.iter().filter(|l| !l.is_empty()).count() - 1;
    let cells: usize = hr["breakdowns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["cells"].as_array().unwrap().len() + 1)
        .sum();
    assert_eq!(rows, cells, "one line per category and per total");
}

/// Another tenant's figures are not reachable: an employer that is not the provider's is a
/// 404, an employer cannot ask for another, a coach gets no report, and a malformed month is a
/// 400 naming the parameter.
async fn reports_stay_within_their_organisation(backend: Backend) {
    let s = Scene::new(backend).await;
    let this = month(s.app.now());
    let other = s.app.seed_other_tenant().await;
    let other_hr = s.app.access_token(&other.hr_email, OTHER_PASSWORD).await;
    let me: Value = s
        .app
        .get("/api/v1/me", &other_hr)
        .await
        .json()
        .await
        .unwrap();
    let other_employer = me["organisation"]["id"].as_str().unwrap().to_string();
    let query = format!("from={this}&to={this}&employer_id={other_employer}");
    for token in [&s.planner, &s.hr] {
        let response = s
            .app
            .get(&format!("/api/v1/reports/outcomes?{query}"), token)
            .await;
        assert_problem(response, 404).await;
    }
    let coach = s
        .app
        .get(
            &format!("/api/v1/reports/outcomes?from={this}&to={this}"),
            &s.anna,
        )
        .await;
    assert_problem(coach, 403).await;
    for (query, field) in [
        ("from=2026-13&to=2026-12", "from"),
        (&format!("from={this}&to=2020-01")[..], "to"),
    ] {
        let response = s
            .app
            .get(&format!("/api/v1/reports/outcomes?{query}"), &s.hr)
            .await;
        let problem = assert_problem(response, 400).await;
        assert_eq!(problem["errors"][0]["pointer"], field, "{problem}");
    }
}

api_test!(
    the_outcome_report_counts_a_hand_made_scenario,
    reports_stay_within_their_organisation,
);
