//! The event store (issue 17, part 0): an organisation's own changes are events too, stored
//! payloads carry their version and are read back typed, and the employer's timeline is filtered
//! before its page is cut.

use chrono::Weekday;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::Backend;
use crate::scene::Scene;
use crate::scheduling::{booked, next, video};

fn log_of(
    conn: &mut trajectum::db::DbConnection,
    organisation: &str,
) -> anyhow::Result<Vec<(i64, trajectum::db::events::StoredEvent)>> {
    Ok(trajectum::db::events::log(conn, organisation, 0, 1000)?)
}

/// Settings, coaches, their logins and availability change with an event in the provider's own
/// log, numbered in line with its orders' events; the employer's log has none of them, and no
/// payload carries a name or an email.
async fn an_organisations_own_changes_are_events_in_its_log(backend: Backend) {
    use trajectum::admin::demo;
    let s = Scene::new(backend).await;
    let put = |path: &'static str, body: Value| {
        let s = &s;
        async move {
            let response = s.put(path, &s.planner, &body).await;
            assert_eq!(response.status(), 200, "{path}");
        }
    };
    put(
        "/api/v1/provider-settings",
        json!({"coachee_self_service": true, "late_cancellation_hours": 48}),
    )
    .await;
    let added: Value = s
        .app
        .post_json(
            "/api/v1/coaches",
            &s.planner,
            &json!({"name": "Carla Jansen", "email": "carla@coachwise.example", "time_zone": "Europe/Amsterdam"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let carla = added["id"].as_str().unwrap().to_string();
    let renamed = s
        .app
        .patch_json(
            &format!("/api/v1/coaches/{carla}"),
            &s.planner,
            &json!({"name": "Carla de Jong"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let availability = format!("/api/v1/coaches/{carla}/availability");
    let hours = json!({"weekly_hours": [{"day": "monday", "start": "09:00", "end": "12:00"}]});
    let response = s
        .app
        .request(Method::PUT, &availability, Some(&s.planner))
        .json(&hours)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let granted = s
        .app
        .request(
            Method::POST,
            &format!("/api/v1/coaches/{carla}/login"),
            Some(&s.planner),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(granted.status(), 201);

    let (provider, employer) = s
        .app
        .blocking(|conn| {
            Ok((
                log_of(conn, demo::PROVIDER_ID)?,
                log_of(conn, demo::EMPLOYER_ID)?,
            ))
        })
        .await;
    let seen: Vec<(String, Value)> = provider
        .iter()
        .map(|(_, e)| (e.event_type.clone(), e.data.0.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (
                "provider_settings.updated".to_string(),
                json!({"coachee_self_service": true, "late_cancellation_hours": 48})
            ),
            ("coach.added".into(), json!({"coach_id": carla})),
            (
                "coach.updated".into(),
                json!({"coach_id": carla, "changed": ["name"]})
            ),
            ("availability.updated".into(), json!({"coach_id": carla})),
            ("coach.login_granted".into(), json!({"coach_id": carla})),
        ]
    );
    let numbers: Vec<i64> = provider.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
    for (_, event) in &provider {
        assert_eq!(event.order_id, None);
        assert_eq!(event.organisation_id.as_deref(), Some(demo::PROVIDER_ID));
        assert_eq!(
            event.data_version,
            trajectum::domain::event::Event::DATA_VERSION
        );
        assert!(event.event().is_ok(), "read back typed: {event:?}");
    }
    assert!(employer.is_empty(), "{employer:?}");
}

/// The employer's timeline leaves out what is the provider's alone (the relationship at risk,
/// 004) before it cuts its page: a page of N holds N events the employer sees.
async fn the_employers_timeline_pages_hold_full_pages(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let session = booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Tue, "10:00")),
    )
    .await;
    let session_id = session["id"].as_str().unwrap().to_string();
    let coachee = s.coachee_token(&order).await;
    s.app.advance(chrono::Duration::days(14));
    // Tokens expire on the moved clock too.
    let (anna, planner, hr) = (
        s.app.coach_token(0).await,
        s.app.planner_token().await,
        s.app.hr_token().await,
    );
    let held = s
        .app
        .post_json(
            &format!("/api/v1/sessions/{session_id}/attendance"),
            &anna,
            &json!({"attendance": "held"}),
        )
        .await;
    assert_eq!(held.status(), 200);
    let rated = s
        .app
        .post_json(
            &format!("/api/v1/coachee/sessions/{session_id}/feedback"),
            &coachee,
            &json!({"rating": 1}),
        )
        .await;
    assert_eq!(rated.status(), 200);
    let plan = s
        .put(&Scene::path(&order, "/plan"), &anna, &Scene::good_plan())
        .await;
    assert_eq!(plan.status(), 200);

    let timeline = |token: String, limit: usize| {
        let s = &s;
        let path = format!("{}?limit={limit}", Scene::path(&order, "/timeline"));
        async move {
            let page: Value = s.app.get(&path, &token).await.json().await.unwrap();
            page
        }
    };
    let provider = timeline(planner, 200).await;
    let types: Vec<&str> = provider["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    let at_risk = types.iter().position(|t| *t == "alliance.at_risk").unwrap();
    assert!(at_risk + 1 < types.len(), "events follow it: {types:?}");
    let seen = types.len() - 1;
    let page = timeline(hr, seen).await;
    let employers: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(employers.len(), seen, "a full page: {employers:?}");
    assert!(!employers.contains(&"alliance.at_risk"));
    assert!(page["next_cursor"].is_null(), "{page}");
}

/// A stored event this build cannot read (a payload version from a newer one) stays on the
/// timeline in its place, without its details: never a row silently left out, never a 500.
async fn an_unreadable_stored_event_keeps_its_place_without_details(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    let id = order.clone();
    s.app
        .blocking(move |conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::events;
            diesel::update(events::table.filter(events::order_id.eq(&id)))
                .set(events::data_version.eq(99))
                .execute(conn)?;
            Ok(())
        })
        .await;
    // Written by a newer version (a rollback after an upgrade): each event is still in its
    // place, by type, without the details this version cannot read.
    let response = s
        .app
        .get(&Scene::path(&order, "/timeline"), &s.planner)
        .await;
    assert_eq!(response.status(), 200);
    let timeline: serde_json::Value = response.json().await.unwrap();
    let types: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["order.created", "order.accepted"]);
    for event in timeline["data"].as_array().unwrap() {
        assert!(event.get("data").is_none(), "{event}");
    }
}

api_test!(
    an_organisations_own_changes_are_events_in_its_log,
    the_employers_timeline_pages_hold_full_pages,
    an_unreadable_stored_event_keeps_its_place_without_details,
);
