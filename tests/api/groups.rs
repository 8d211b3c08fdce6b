//! Group sessions under concurrent requests (issue 17, part 0): places are counted under a lock,
//! and every booking path takes its locks in one order (the coach, the orders by id, the group;
//! the event log's head rows last, just before commit), so neither an overfilled group nor a
//! deadlock can come of requests at once.

use chrono::Weekday;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, Backend};
use crate::scene::Scene;
use crate::scheduling::{book, booked, next, stamp, video};

fn group(at: chrono::DateTime<chrono::Utc>, capacity: u32, order_ids: &[String]) -> Value {
    json!({
        "starts_at": stamp(at), "duration_minutes": 60, "format": "video",
        "meeting_link": "https://meet.example/group", "capacity": capacity, "order_ids": order_ids
    })
}

/// Anna's group of `capacity` at `time` on the coming Tuesday, with `orders` in it: the group's
/// path.
async fn tuesday_group(s: &Scene, time: &str, capacity: u32, orders: &[String]) -> String {
    let body = group(next(s, Weekday::Tue, time), capacity, orders);
    let created = s
        .app
        .post_json("/api/v1/session-groups", &s.anna, &body)
        .await;
    assert_eq!(created.status(), 201, "create the group");
    let created: Value = created.json().await.unwrap();
    format!("/api/v1/session-groups/{}", created["id"].as_str().unwrap())
}

/// Counts the answers: how many of each status, each 409's problem type checked.
async fn tally(responses: Vec<reqwest::Response>, conflict: &str) -> (usize, usize) {
    let (mut created, mut refused) = (0, 0);
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            409 => {
                let problem = assert_problem(response, 409).await;
                assert_eq!(problem["type"], format!("urn:trajectum:problem:{conflict}"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    (created, refused)
}

/// A group of 4 with one participant, and 9 orders asking to join at once: 3 get a place, 6
/// are told it is full, and the group holds 4.
async fn concurrent_joins_never_overfill_a_group(backend: Backend) {
    let s = Scene::new(backend).await;
    let first = s.active().await;
    let mut joiners = vec![];
    for _ in 0..9 {
        joiners.push(s.active().await);
    }
    let created = s
        .app
        .post_json(
            "/api/v1/session-groups",
            &s.anna,
            &group(next(&s, Weekday::Tue, "10:00"), 4, &[first]),
        )
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let path = format!(
        "/api/v1/session-groups/{}/participants",
        created["id"].as_str().unwrap()
    );
    let joins = joiners.iter().map(|order| {
        let body = json!({ "order_id": order });
        let (s, path) = (&s, &path);
        async move { s.app.post_json(path, &s.planner, &body).await }
    });
    let responses = futures_util::future::join_all(joins).await;
    assert_eq!(tally(responses, "group-full").await, (3, 6));
    let now: Value = s
        .app
        .get(
            &format!("/api/v1/session-groups/{}", created["id"].as_str().unwrap()),
            &s.planner,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(now["taken"], 4);
}

/// Ten groups set up for one coach at once: at ten different times all ten are made, without a
/// deadlock or a 503; at one time, one is made and nine are told the coach is booked.
async fn concurrent_group_creations_for_one_coach_all_get_an_answer(backend: Backend) {
    let s = Scene::new(backend).await;
    let mut times = vec![];
    for day in [Weekday::Tue, Weekday::Thu] {
        for time in ["09:00", "10:15", "11:30", "13:30", "14:45"] {
            times.push(next(&s, day, time));
        }
    }
    let mut orders = vec![];
    for _ in 0..20 {
        orders.push(s.active().await);
    }
    let (apart, together) = orders.split_at(10);
    let creations = apart.iter().zip(&times).map(|(order, at)| {
        let body = group(*at, 2, std::slice::from_ref(order));
        let s = &s;
        async move {
            s.app
                .post_json("/api/v1/session-groups", &s.anna, &body)
                .await
        }
    });
    let responses = futures_util::future::join_all(creations).await;
    assert_eq!(tally(responses, "coach-double-booked").await, (10, 0));

    let at = next(&s, Weekday::Fri, "10:00");
    let creations = together.iter().map(|order| {
        let body = group(at, 2, std::slice::from_ref(order));
        let s = &s;
        async move {
            s.app
                .post_json("/api/v1/session-groups", &s.planner, &body)
                .await
        }
    });
    let responses = futures_util::future::join_all(creations).await;
    assert_eq!(tally(responses, "coach-double-booked").await, (1, 9));
}

/// Issue 17: a group session moves and is called off as a whole: every place that stands, each on
/// its own order, under the rules of a single session; all or none.
async fn a_group_session_moves_and_is_called_off_as_a_whole(backend: Backend) {
    let s = Scene::new(backend).await;
    let orders = [s.active().await, s.active().await, s.active().await];
    let path = tuesday_group(&s, "10:00", 4, &orders).await;
    // Another coachee's session of Anna's on Wednesday afternoon.
    let other = s.active().await;
    booked(
        &s,
        &other,
        &video("regular", next(&s, Weekday::Wed, "14:00")),
    )
    .await;
    let patch = |body: Value| {
        let (s, path) = (&s, &path);
        async move {
            s.app
                .request(reqwest::Method::PATCH, path, Some(&s.planner))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let clash = patch(json!({"starts_at": stamp(next(&s, Weekday::Wed, "14:30"))})).await;
    let problem = assert_problem(clash, 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:coach-double-booked");
    let unmoved: Value = s.app.get(&path, &s.anna).await.json().await.unwrap();
    for place in unmoved["participants"].as_array().unwrap() {
        assert_eq!(place["starts_at"], stamp(next(&s, Weekday::Tue, "10:00")));
    }

    let to = next(&s, Weekday::Wed, "10:00");
    let moved = patch(json!({"starts_at": stamp(to), "duration_minutes": 90})).await;
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["taken"], 3);
    for place in moved["participants"].as_array().unwrap() {
        assert_eq!(place["starts_at"], stamp(to));
        assert_eq!(place["duration_minutes"], 90);
    }
    for order in &orders {
        let types = s.timeline_types(order, &s.planner).await;
        assert_eq!(types.last().unwrap(), "session.rescheduled");
    }

    let cancel = format!("{path}/cancel");
    let body = json!({"reason": "the coach is ill"});
    assert_problem(s.app.post_json(&cancel, &s.hr, &body).await, 403).await;
    let called_off = s.app.post_json(&cancel, &s.anna, &body).await;
    assert_eq!(called_off.status(), 200);
    let called_off: Value = called_off.json().await.unwrap();
    assert_eq!(called_off["taken"], 0);
    for place in called_off["participants"].as_array().unwrap() {
        assert_eq!(place["status"], "cancelled");
        assert_eq!(place["counts_against_budget"], false);
    }
    for order in &orders {
        let sessions = &s.order(order, &s.hr).await["sessions"];
        assert_eq!(
            (sessions["planned"].as_i64(), sessions["used"].as_i64()),
            (Some(0), Some(0))
        );
    }
    let again = assert_problem(s.app.post_json(&cancel, &s.anna, &body).await, 409).await;
    assert_eq!(again["type"], "urn:trajectum:problem:session-not-planned");
}

/// A session or a group moved to a time that overlaps where it is now leaves only itself out of
/// the coach's calendar (003: the coach is not booked twice), its group's other places included.
async fn a_session_or_a_group_moves_into_its_own_time(backend: Backend) {
    let s = Scene::new(backend).await;
    let one = s.active().await;
    let single = booked(&s, &one, &video("regular", next(&s, Weekday::Tue, "10:00"))).await;
    let session = format!("/api/v1/sessions/{}", single["id"].as_str().unwrap());
    let orders = [s.active().await, s.active().await];
    let whole = tuesday_group(&s, "14:00", 2, &orders).await;
    let patch = |path: &str, at: &str| {
        let request = s
            .app
            .request(reqwest::Method::PATCH, path, Some(&s.planner));
        request
            .json(&json!({"starts_at": stamp(next(&s, Weekday::Tue, at))}))
            .send()
    };

    // Half an hour later, each overlaps its own time only.
    let moved = patch(&session, "10:30").await.unwrap();
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    assert_eq!(moved["starts_at"], stamp(next(&s, Weekday::Tue, "10:30")));
    let moved = patch(&whole, "14:30").await.unwrap();
    assert_eq!(moved.status(), 200);
    let moved: Value = moved.json().await.unwrap();
    for place in moved["participants"].as_array().unwrap() {
        assert_eq!(place["starts_at"], stamp(next(&s, Weekday::Tue, "14:30")));
    }

    // Onto each other's time: refused, as the other is not left out.
    for (path, at) in [(&session, "14:00"), (&whole, "10:00")] {
        let problem = assert_problem(patch(path, at).await.unwrap(), 409).await;
        assert_eq!(problem["type"], "urn:trajectum:problem:coach-double-booked");
    }
}

/// A group takes one of the coach's sessions a day, however many take part (003: the coach's
/// daily maximum counts what takes their time).
async fn a_group_counts_once_towards_the_coachs_daily_maximum(backend: Backend) {
    let s = Scene::new(backend).await;
    let path = format!("/api/v1/coaches/{}/availability", s.anna_coach_id);
    let mut rules: Value = s.app.get(&path, &s.anna).await.json().await.unwrap();
    let rules = json!({
        "weekly_hours": rules["weekly_hours"].take(), "buffer_minutes": rules["buffer_minutes"],
        "minimum_notice_minutes": rules["minimum_notice_minutes"],
        "max_sessions_per_day": 2, "exceptions": []
    });
    let response = s
        .app
        .request(reqwest::Method::PUT, &path, Some(&s.anna))
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let orders = [s.active().await, s.active().await, s.active().await];
    tuesday_group(&s, "10:00", 3, &orders).await;

    // Three places, one of the two sessions the day takes.
    let (one, two) = (s.active().await, s.active().await);
    let at = |time| video("regular", next(&s, Weekday::Tue, time));
    let second = book(&s, &one, &s.planner, &at("14:00")).await;
    assert_eq!(second.status(), 201);
    let third = book(&s, &two, &s.planner, &at("16:00")).await;
    let problem = assert_problem(third, 422).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:outside-availability"
    );
}

api_test!(
    a_group_session_moves_and_is_called_off_as_a_whole,
    a_group_counts_once_towards_the_coachs_daily_maximum,
    a_session_or_a_group_moves_into_its_own_time,
    concurrent_joins_never_overfill_a_group,
    concurrent_group_creations_for_one_coach_all_get_an_answer,
);
