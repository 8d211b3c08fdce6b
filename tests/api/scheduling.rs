//! Availability, free slots and sessions (DOMAIN.md step 5; API.md "sessions"). The demo coach
//! Anna works weekdays 09:00–12:30 and 13:30–17:00 in Europe/Amsterdam, keeps 15 minutes between
//! sessions, takes bookings 2 hours ahead and at most 6 sessions a day.

use chrono::{DateTime, Datelike, Duration, DurationRound, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Europe::Amsterdam;
use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, etag_version, first_pointer, Backend};
use crate::scene::Scene;

/// The first `weekday` at least a week after the app's now, at `time` on Amsterdam's clock.
pub(crate) fn next(s: &Scene, weekday: Weekday, time: &str) -> DateTime<Utc> {
    let mut date = (s.app.now() + Duration::days(7))
        .with_timezone(&Amsterdam)
        .date_naive();
    while date.weekday() != weekday {
        date += Duration::days(1);
    }
    let time = NaiveTime::parse_from_str(time, "%H:%M").unwrap();
    Amsterdam
        .from_local_datetime(&date.and_time(time))
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn video(kind: &str, at: DateTime<Utc>) -> Value {
    json!({
        "starts_at": stamp(at),
        "duration_minutes": 60,
        "kind": kind,
        "format": "video",
        "meeting_link": "https://meet.example/anna-sam"
    })
}

pub(crate) async fn book(s: &Scene, order: &str, token: &str, body: &Value) -> reqwest::Response {
    s.app
        .post_json(&Scene::path(order, "/sessions"), token, body)
        .await
}

/// A regular video session booked on `order` next `weekday` at `time` (Anna's clock).
pub(crate) async fn booked_regular(s: &Scene, order: &str, weekday: Weekday, time: &str) -> Value {
    booked(s, order, &video("regular", next(s, weekday, time))).await
}

pub(crate) async fn booked(s: &Scene, order: &str, body: &Value) -> Value {
    let response = book(s, order, &s.anna, body).await;
    assert_eq!(response.status(), 201, "book a session");
    response.json().await.unwrap()
}

fn availability_path(s: &Scene) -> String {
    format!("/api/v1/coaches/{}/availability", s.anna_coach_id)
}

fn slots_path(s: &Scene, from: DateTime<Utc>, to: DateTime<Utc>, minutes: u32) -> String {
    format!(
        "/api/v1/coaches/{}/free-slots?from={}&to={}&duration={minutes}",
        s.anna_coach_id,
        stamp(from),
        stamp(to)
    )
}

async fn slots(s: &Scene, from: DateTime<Utc>, to: DateTime<Utc>, minutes: u32) -> Vec<String> {
    let response = s.app.get(&slots_path(s, from, to, minutes), &s.anna).await;
    assert_eq!(response.status(), 200, "free slots");
    let body: Value = response.json().await.unwrap();
    body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["starts_at"].as_str().unwrap().to_string())
        .collect()
}

async fn the_coach_and_the_planner_keep_the_availability(backend: Backend) {
    let s = Scene::new(backend).await;
    let path = availability_path(&s);
    let response = s.app.get(&path, &s.anna).await;
    assert_eq!(response.status(), 200);
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    let current: Value = response.json().await.unwrap();
    assert_eq!(current["time_zone"], "Europe/Amsterdam");
    assert_eq!(current["buffer_minutes"], 15);
    assert_eq!(current["weekly_hours"].as_array().unwrap().len(), 10);

    let rules = json!({
        "weekly_hours": [
            {"day": "tuesday", "start": "09:00", "end": "12:00"},
            {"day": "tuesday", "start": "13:00", "end": "17:00"}
        ],
        "buffer_minutes": 10,
        "minimum_notice_minutes": 60,
        "max_sessions_per_day": 4,
        "exceptions": [{"date": "2027-12-24", "available": false}]
    });
    let response = s
        .app
        .request(Method::PUT, &path, Some(&s.planner))
        .header("If-Match", &etag)
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let saved: Value = response.json().await.unwrap();
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["weekly_hours"], rules["weekly_hours"]);

    // The version read first is stale now.
    let stale = s
        .app
        .request(Method::PUT, &path, Some(&s.anna))
        .header("If-Match", &etag)
        .json(&rules)
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;

    // Overlapping intervals and a buffer out of range, each at its field.
    let bad = json!({
        "weekly_hours": [
            {"day": "monday", "start": "09:00", "end": "12:00"},
            {"day": "monday", "start": "11:00", "end": "13:00"}
        ],
        "buffer_minutes": 500
    });
    let problem = assert_problem(s.put(&path, &s.anna, &bad).await, 422).await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/weekly_hours/1", "/buffer_minutes"]);
    let problem = assert_problem(
        s.put(
            &path,
            &s.anna,
            &json!({"weekly_hours": [{"day": "monday", "start": "9:00", "end": "12:00"}]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/weekly_hours/0/start");

    // A colleague and the employer may see Anna's profile, not her calendar; another provider
    // does not find her.
    assert_problem(s.app.get(&path, &s.bram).await, 403).await;
    assert_problem(s.app.get(&path, &s.hr).await, 403).await;
    let other = s.app.seed_other_tenant().await;
    let stranger = s
        .app
        .access_token(&other.admin_email, crate::helpers::OTHER_PASSWORD)
        .await;
    assert_problem(s.app.get(&path, &stranger).await, 404).await;
}

async fn free_slots_follow_the_hours_and_leave_bookings_with_their_buffer(backend: Backend) {
    let s = Scene::new(backend).await;
    let monday = next(&s, Weekday::Mon, "00:00");
    let day_after = monday + Duration::days(1);
    let free = slots(&s, monday, day_after, 60).await;
    // 09:00–12:30 and 13:30–17:00 on a 15-minute grid, for one hour: 09:00…11:30, 13:30…16:00.
    assert_eq!(free.len(), 11 + 11, "{free:?}");
    assert_eq!(free[0], stamp(next(&s, Weekday::Mon, "09:00")));
    assert_eq!(free[11], stamp(next(&s, Weekday::Mon, "13:30")));

    let order = s.accepted().await;
    booked(
        &s,
        &order,
        &video("intake", next(&s, Weekday::Mon, "10:00")),
    )
    .await;
    let free = slots(&s, monday, day_after, 60).await;
    // 09:00 would end at 10:00, inside the 15 minutes before the intake; the next free start is
    // 11:15 (the intake ends at 11:00, plus the buffer).
    assert!(!free.contains(&stamp(next(&s, Weekday::Mon, "09:00"))));
    assert!(!free.contains(&stamp(next(&s, Weekday::Mon, "10:15"))));
    assert!(free.contains(&stamp(next(&s, Weekday::Mon, "11:15"))));
    assert!(!free.contains(&stamp(next(&s, Weekday::Mon, "11:00"))));

    // The window is bounded; a bad duration or zone names its parameter.
    let far = s
        .app
        .get(
            &slots_path(&s, monday, monday + Duration::days(63), 60),
            &s.anna,
        )
        .await;
    assert_eq!(first_pointer(&assert_problem(far, 400).await), "to");
    let odd = s
        .app
        .get(&slots_path(&s, monday, day_after, 62), &s.anna)
        .await;
    assert_eq!(first_pointer(&assert_problem(odd, 400).await), "duration");
    let zone = s
        .app
        .get(
            &format!(
                "{}&time_zone=Mars/Olympus",
                slots_path(&s, monday, day_after, 60)
            ),
            &s.anna,
        )
        .await;
    assert_eq!(first_pointer(&assert_problem(zone, 400).await), "time_zone");
    let london = s
        .app
        .get(
            &format!(
                "{}&time_zone=Europe/London",
                slots_path(&s, monday, day_after, 60)
            ),
            &s.planner,
        )
        .await;
    let london: Value = london.json().await.unwrap();
    assert_eq!(london["time_zone"], "Europe/London");
    // The first free start, 11:15 on Anna's clock, on London's clock (an hour behind).
    let first = next(&s, Weekday::Mon, "11:15").with_timezone(&chrono_tz::Europe::London);
    assert_eq!(
        london["slots"][0]["local_start"],
        json!(first.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)),
        "{london}"
    );
    assert!(first.to_rfc3339().contains("T10:15:00"));
}

async fn an_intake_books_on_an_accepted_order_and_schedules_it(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    let at = next(&s, Weekday::Tue, "10:00");

    // Regular sessions wait for the start decision (002).
    let problem = assert_problem(book(&s, &order, &s.anna, &video("regular", at)).await, 409).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:session-kind-not-allowed"
    );
    assert_eq!(problem["allowed_kinds"], json!(["intake"]));

    let response = book(&s, &order, &s.planner, &video("intake", at)).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let session: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/sessions/{}", session["id"].as_str().unwrap())
    );
    assert_eq!(session["status"], "planned");
    assert_eq!(session["counts_against_budget"], false);
    assert_eq!(session["duration_minutes"], 60);
    assert_eq!(s.order(&order, &s.hr).await["status"], "intake_scheduled");
    assert!(s
        .timeline_types(&order, &s.hr)
        .await
        .contains(&"session.scheduled".to_string()));

    // One intake at a time.
    let again = video("intake", next(&s, Weekday::Wed, "10:00"));
    let problem = assert_problem(book(&s, &order, &s.anna, &again).await, 409).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:intake-already-planned"
    );

    // Cancelling it puts the order back to accepted, and another can be booked.
    let id = session["id"].as_str().unwrap();
    let cancelled = s
        .app
        .post_json(
            &format!("/api/v1/sessions/{id}/cancel"),
            &s.anna,
            &json!({"reason": "coach is ill", "requested_by": "provider"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    assert_eq!(s.order(&order, &s.hr).await["status"], "accepted");
    assert_eq!(book(&s, &order, &s.anna, &again).await.status(), 201);
}

async fn a_booking_must_fit_the_calendar_and_the_trajectory(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;

    let an_hour_ago = (s.app.now() - Duration::hours(1))
        .duration_trunc(Duration::minutes(1))
        .unwrap();
    let past = video("intake", an_hour_ago);
    let problem = assert_problem(book(&s, &order, &s.anna, &past).await, 422).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:session-in-the-past");

    // Saturday is not a working day: refused with the nearest free starts instead.
    let saturday = video("intake", next(&s, Weekday::Sat, "10:00"));
    let problem = assert_problem(book(&s, &order, &s.planner, &saturday).await, 422).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:outside-availability"
    );
    assert_eq!(problem["reason"], "outside_hours");
    assert_eq!(first_pointer(&problem), "/starts_at");
    let alternatives = problem["alternatives"].as_array().unwrap();
    assert_eq!(alternatives.len(), 3);

    // The planner may not book outside hours; the coach may, on purpose.
    let mut outside = saturday.clone();
    outside["outside_hours"] = json!(true);
    let problem = assert_problem(book(&s, &order, &s.planner, &outside).await, 422).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:outside-hours-coach-only"
    );
    let session = booked(&s, &order, &outside).await;
    assert_eq!(session["outside_hours"], true);

    // After the trajectory's end (a follow-up aside).
    let short = s
        .create(&json!({"coachee": {"name": "Kim", "email": "kim@acme.example"}, "end_date": s.app.date_in(8)}))
        .await;
    let short = short["id"].as_str().unwrap();
    s.app
        .post_json(
            &Scene::path(short, "/assign"),
            &s.planner,
            &json!({"coach_id": s.anna_coach_id}),
        )
        .await;
    let late = video(
        "intake",
        next(&s, Weekday::Mon, "10:00") + Duration::days(7),
    );
    let problem = assert_problem(book(&s, short, &s.anna, &late).await, 422).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:outside-trajectory");
    assert_eq!(problem["end_date"], json!(s.app.date_in(8)));

    // The same slot for another coachee of the same coach is double booking, with the buffer:
    // 15 minutes after the first session ends is the earliest.
    let monday = next(&s, Weekday::Mon, "10:00");
    let first = s.accepted().await;
    booked(&s, &first, &video("intake", monday)).await;
    let other = s.accepted().await;
    for clash in ["10:00", "10:30", "11:10"] {
        let problem = assert_problem(
            book(
                &s,
                &other,
                &s.anna,
                &video("intake", next(&s, Weekday::Mon, clash)),
            )
            .await,
            409,
        )
        .await;
        assert_eq!(
            problem["type"], "urn:trajectum:problem:coach-double-booked",
            "{clash}"
        );
        assert!(!problem["alternatives"].as_array().unwrap().is_empty());
    }
    assert_eq!(
        book(
            &s,
            &other,
            &s.anna,
            &video("intake", next(&s, Weekday::Mon, "11:15"))
        )
        .await
        .status(),
        201
    );

    // Input the request alone gets wrong.
    let mut bad = video("intake", monday);
    bad["format"] = json!("in_person");
    bad["duration_minutes"] = json!(7);
    let problem = assert_problem(book(&s, &other, &s.anna, &bad).await, 422).await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        ["/duration_minutes", "/location", "/meeting_link"]
    );
}

async fn regular_sessions_stay_within_the_budget(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let order = s.active().await;
    // A budget of 8 (002); fill it with 8 sessions on 8 working days.
    let first = next(&s, Weekday::Mon, "09:00");
    let mut ids = vec![];
    let mut day = first;
    while ids.len() < 8 {
        if day.with_timezone(&Amsterdam).weekday().number_from_monday() <= 5 {
            let session = booked(&s, &order, &video("regular", day)).await;
            assert_eq!(session["counts_against_budget"], true);
            ids.push(session["id"].as_str().unwrap().to_string());
        }
        day += Duration::days(1);
    }
    let view = s.order(&order, &s.hr).await;
    assert_eq!(
        view["sessions"],
        json!({"budget": 8, "used": 0, "planned": 8, "left": 0})
    );
    let problem =
        assert_problem(book(&s, &order, &s.anna, &video("regular", day)).await, 409).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:session-budget-exhausted"
    );
    assert_eq!(problem["sessions"]["planned"], 8);

    // An assessment is on top of the budget but needs the coachee's consent (002).
    let assessment = video("assessment", next(&s, Weekday::Mon, "13:30"));
    let problem = assert_problem(book(&s, &order, &s.anna, &assessment).await, 409).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:assessment-consent-missing"
    );
    let coachee = s.coachee_token(&order).await;
    let consent = s
        .put(
            "/api/v1/coachee/consents",
            &coachee,
            &json!({"assessment": true}),
        )
        .await;
    assert_eq!(consent.status(), 200);
    let assessment = booked(&s, &order, &assessment).await;

    // Cancelled by the provider: it does not count. Cancelled late by the coachee's side: it
    // does, and the answer says so.
    let cancel = |id: &str, by: &str| {
        (
            format!("/api/v1/sessions/{id}/cancel"),
            json!({"reason": "a conflicting appointment", "requested_by": by}),
        )
    };
    let (path, body) = cancel(&ids[7], "provider");
    let response = s.app.post_json(&path, &s.planner, &body).await;
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["counts_against_budget"], false);
    assert_eq!(cancelled["cancellation"]["requested_by"], "provider");

    // Move to 12 hours before the first session: cancelling it now is late.
    let until = first - Duration::hours(12) - s.app.now();
    s.advance(until).await;
    let (path, body) = cancel(&ids[0], "coachee");
    let response = s.app.post_json(&path, &s.anna, &body).await;
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["counts_against_budget"], true, "{cancelled}");
    let view = s.order(&order, &s.hr).await;
    assert_eq!(
        view["sessions"],
        json!({"budget": 8, "used": 1, "planned": 6, "left": 1})
    );
    // Once cancelled, it cannot be cancelled again.
    let problem = assert_problem(s.app.post_json(&path, &s.anna, &body).await, 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:session-not-planned");
    assert_eq!(problem["session_status"], "cancelled");

    // Withdrawing the consent calls the assessment off (002), on the coachee's side.
    let coachee = s.coachee_token(&order).await;
    let withdrawn = s
        .put(
            "/api/v1/coachee/consents",
            &coachee,
            &json!({"assessment": false}),
        )
        .await;
    assert_eq!(withdrawn.status(), 200);
    let path = format!("/api/v1/sessions/{}", assessment["id"].as_str().unwrap());
    let after: Value = s.app.get(&path, &s.anna).await.json().await.unwrap();
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["cancellation"]["requested_by"], "coachee");
    assert_eq!(after["counts_against_budget"], false);
}

async fn attendance_is_recorded_by_the_coach_after_the_start(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let order = s.active().await;
    let at = next(&s, Weekday::Tue, "14:00");
    let session = booked(&s, &order, &video("regular", at)).await;
    let path = format!(
        "/api/v1/sessions/{}/attendance",
        session["id"].as_str().unwrap()
    );
    let held = json!({"attendance": "held"});
    let problem = assert_problem(s.app.post_json(&path, &s.anna, &held).await, 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:session-not-started");

    let until = at + Duration::minutes(70) - s.app.now();
    s.advance(until).await;
    assert_problem(s.app.post_json(&path, &s.planner, &held).await, 403).await;
    let response = s.app.post_json(&path, &s.anna, &held).await;
    assert_eq!(response.status(), 200);
    let recorded: Value = response.json().await.unwrap();
    assert_eq!(recorded["status"], "held");
    assert!(recorded["attendance_recorded_at"].is_string());
    let view = s.order(&order, &s.hr).await;
    assert_eq!(view["sessions"]["used"], 1);
    assert_eq!(view["sessions"]["planned"], 0);
    assert!(s
        .timeline_types(&order, &s.hr)
        .await
        .contains(&"session.held".to_string()));
    // Started sessions are not cancelled; attendance is recorded once.
    let problem = assert_problem(
        s.app
            .post_json(&path, &s.anna, &json!({"attendance": "no_show"}))
            .await,
        409,
    )
    .await;
    assert_eq!(problem["type"], "urn:trajectum:problem:session-not-planned");
}

async fn the_employer_sees_when_not_where_or_why(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let mut body = video("regular", next(&s, Weekday::Thu, "09:00"));
    body["format"] = json!("in_person");
    body["location"] = json!("Coachwise, Oudegracht 12, Utrecht");
    body.as_object_mut().unwrap().remove("meeting_link");
    let session = booked(&s, &order, &body).await;
    let id = session["id"].as_str().unwrap();
    let cancel = s
        .app
        .post_json(
            &format!("/api/v1/sessions/{id}/cancel"),
            &s.anna,
            &json!({"reason": "the coachee has a hospital appointment", "requested_by": "coachee"}),
        )
        .await;
    assert_eq!(cancel.status(), 200);

    let as_hr: Value = s
        .app
        .get(&format!("/api/v1/sessions/{id}"), &s.hr)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_hr["status"], "cancelled");
    assert_eq!(as_hr["cancellation"]["requested_by"], "coachee");
    for hidden in ["location", "meeting_link", "outside_hours"] {
        assert!(as_hr.get(hidden).is_none(), "{hidden}: {as_hr}");
    }
    assert!(as_hr["cancellation"].get("reason").is_none(), "{as_hr}");
    let page: Value = s
        .app
        .get(&Scene::path(&order, "/sessions"), &s.hr)
        .await
        .json()
        .await
        .unwrap();
    assert!(!page.to_string().contains("hospital"), "{page}");
    assert!(!page.to_string().contains("Oudegracht"), "{page}");
    let as_coach: Value = s
        .app
        .get(&format!("/api/v1/sessions/{id}"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_coach["location"], "Coachwise, Oudegracht 12, Utrecht");
    assert_eq!(
        as_coach["cancellation"]["reason"],
        "the coachee has a hospital appointment"
    );
    // Nor does the timeline carry it.
    let timeline = s
        .app
        .get(&Scene::path(&order, "/timeline"), &s.planner)
        .await
        .text()
        .await
        .unwrap();
    assert!(!timeline.contains("hospital") && !timeline.contains("Oudegracht"));

    // A coach who is not on the order, and another tenant, do not find the session; the employer
    // does not book.
    assert_problem(
        s.app.get(&format!("/api/v1/sessions/{id}"), &s.bram).await,
        404,
    )
    .await;
    let other = s.app.seed_other_tenant().await;
    let stranger = s
        .app
        .access_token(&other.hr_email, crate::helpers::OTHER_PASSWORD)
        .await;
    assert_problem(
        s.app
            .get(&format!("/api/v1/sessions/{id}"), &stranger)
            .await,
        404,
    )
    .await;
    assert_problem(
        book(
            &s,
            &order,
            &s.hr,
            &video("regular", next(&s, Weekday::Fri, "09:00")),
        )
        .await,
        403,
    )
    .await;
}

async fn sessions_list_by_start_a_page_at_a_time(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    // Booked out of order: listed by start.
    for time in ["14:00", "09:00", "11:00"] {
        booked(&s, &order, &video("regular", next(&s, Weekday::Wed, time))).await;
    }
    let mut starts = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let mut path = Scene::path(&order, "/sessions?limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = s.app.get(&path, &s.planner).await.json().await.unwrap();
        for session in page["data"].as_array().unwrap() {
            starts.push(session["starts_at"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let expected: Vec<String> = ["09:00", "11:00", "14:00"]
        .iter()
        .map(|t| stamp(next(&s, Weekday::Wed, t)))
        .collect();
    assert_eq!(starts, expected);
    let bad = s
        .app
        .get(&Scene::path(&order, "/sessions?cursor=bm9wZQ"), &s.planner)
        .await;
    assert_eq!(first_pointer(&assert_problem(bad, 400).await), "cursor");
}

async fn cancelling_the_order_cancels_its_planned_sessions(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    let session = booked(
        &s,
        &order,
        &video("intake", next(&s, Weekday::Mon, "09:00")),
    )
    .await;
    let response = s
        .app
        .post_json(
            &Scene::path(&order, "/cancel"),
            &s.hr,
            &json!({"reason": "the employee left the company"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let id = session["id"].as_str().unwrap();
    let after: Value = s
        .app
        .get(&format!("/api/v1/sessions/{id}"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["status"], "cancelled");
    // Its time is free again.
    let monday = next(&s, Weekday::Mon, "00:00");
    let free = slots(&s, monday, monday + Duration::days(1), 60).await;
    assert!(free.contains(&stamp(next(&s, Weekday::Mon, "09:00"))));
}

/// 50 bookings of one slot, for 50 orders of the same coach, at once: one wins, 49 are told
/// the coach is booked. On PostgreSQL the exclusion constraint decides; on SQLite the write
/// transaction taken up front.
async fn fifty_concurrent_bookings_of_one_slot_book_it_once(backend: Backend) {
    let s = Scene::new(backend).await;
    let mut orders = vec![];
    for _ in 0..50 {
        orders.push(s.accepted().await);
    }
    let body = video("intake", next(&s, Weekday::Tue, "10:00"));
    let requests = orders.iter().map(|order| book(&s, order, &s.anna, &body));
    let responses = futures_util::future::join_all(requests).await;
    let mut created = 0;
    let mut refused = 0;
    for response in responses {
        match response.status().as_u16() {
            201 => created += 1,
            409 => {
                let problem: Value = response.json().await.unwrap();
                assert_eq!(problem["type"], "urn:trajectum:problem:coach-double-booked");
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!((created, refused), (1, 49));
}

async fn a_planned_session_reschedules_under_the_same_checks(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let other = s.active().await;
    let first = booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Tue, "10:00")),
    )
    .await;
    booked(
        &s,
        &other,
        &video("regular", next(&s, Weekday::Tue, "14:00")),
    )
    .await;
    let path = format!("/api/v1/sessions/{}", first["id"].as_str().unwrap());
    let patch = |body: Value, etag: Option<&str>| {
        let mut request = s.app.request(Method::PATCH, &path, Some(&s.planner));
        if let Some(etag) = etag {
            request = request.header("If-Match", etag);
        }
        request.json(&body).send()
    };

    // Into the other coachee's session (and its buffer): refused, nothing changes.
    let clash = json!({"starts_at": stamp(next(&s, Weekday::Tue, "14:30"))});
    let problem = assert_problem(patch(clash, Some("\"1\"")).await.unwrap(), 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:coach-double-booked");
    let stale = json!({"starts_at": stamp(next(&s, Weekday::Wed, "10:00"))});
    assert_problem(patch(stale.clone(), Some("\"7\"")).await.unwrap(), 412).await;

    let response = patch(stale, Some("\"1\"")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(etag_version(&response), 2);
    let moved: Value = response.json().await.unwrap();
    assert_eq!(
        moved["starts_at"],
        json!(stamp(next(&s, Weekday::Wed, "10:00")))
    );
    assert_eq!(moved["meeting_link"], "https://meet.example/anna-sam");
    assert!(s
        .timeline_types(&order, &s.hr)
        .await
        .contains(&"session.rescheduled".to_string()));
    // Its old time is free again.
    let tuesday = next(&s, Weekday::Tue, "00:00");
    let free = slots(&s, tuesday, tuesday + Duration::days(1), 60).await;
    assert!(free.contains(&stamp(next(&s, Weekday::Tue, "10:00"))));

    // Anna's Saturday exception is hers: the planner moving it moves it into her hours.
    let mut saturday = video("regular", next(&s, Weekday::Sat, "10:00"));
    saturday["outside_hours"] = json!(true);
    let exception = booked(&s, &order, &saturday).await;
    let elsewhere = s
        .app
        .request(
            Method::PATCH,
            &format!("/api/v1/sessions/{}", exception["id"].as_str().unwrap()),
            Some(&s.planner),
        )
        .json(&json!({"starts_at": stamp(next(&s, Weekday::Sun, "10:00"))}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(elsewhere, 422).await;
    assert_eq!(
        problem["type"],
        "urn:trajectum:problem:outside-availability"
    );

    // A new format needs its own place.
    let problem = assert_problem(
        patch(json!({"format": "in_person"}), None).await.unwrap(),
        422,
    )
    .await;
    assert_eq!(first_pointer(&problem), "/location");
    let response = patch(
        json!({"format": "in_person", "location": "Coachwise, Utrecht"}),
        None,
    )
    .await
    .unwrap();
    let moved: Value = response.json().await.unwrap();
    assert_eq!(moved["format"], "in_person");
    assert!(moved.get("meeting_link").is_none(), "{moved}");
}

async fn sessions_list_across_the_callers_orders(backend: Backend) {
    let s = Scene::new(backend).await;
    let first = s.active().await;
    let second = s.active().await;
    booked(
        &s,
        &second,
        &video("regular", next(&s, Weekday::Thu, "13:30")),
    )
    .await;
    booked(
        &s,
        &first,
        &video("regular", next(&s, Weekday::Thu, "09:00")),
    )
    .await;
    let thursday = next(&s, Weekday::Thu, "00:00");
    let window = format!(
        "/api/v1/sessions?coach_id={}&from={}&to={}",
        s.anna_coach_id,
        stamp(thursday),
        stamp(thursday + Duration::days(1))
    );
    let orders_of = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|session| session["order_id"].as_str().unwrap().to_string())
            .collect()
    };
    for token in [&s.planner, &s.anna, &s.hr] {
        let page: Value = s.app.get(&window, token).await.json().await.unwrap();
        assert_eq!(orders_of(&page), [first.clone(), second.clone()], "{page}");
    }
    let bram: Value = s.app.get(&window, &s.bram).await.json().await.unwrap();
    assert!(orders_of(&bram).is_empty());
    let other = s.app.seed_other_tenant().await;
    let stranger = s
        .app
        .access_token(&other.hr_email, crate::helpers::OTHER_PASSWORD)
        .await;
    let page: Value = s.app.get(&window, &stranger).await.json().await.unwrap();
    assert!(orders_of(&page).is_empty());
    let backwards = format!(
        "/api/v1/sessions?from={}&to={}",
        stamp(thursday),
        stamp(thursday - Duration::days(1))
    );
    let problem = assert_problem(s.app.get(&backwards, &s.planner).await, 400).await;
    assert_eq!(first_pointer(&problem), "to");
}

async fn only_the_coach_reads_the_notes_and_they_are_stored_sealed(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let session = booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Tue, "09:00")),
    )
    .await;
    let id = session["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/sessions/{id}/notes");
    let note = "Sam worries about the reorganisation and her manager's temper";

    let empty: Value = s.app.get(&path, &s.anna).await.json().await.unwrap();
    assert_eq!(empty["version"], 0);
    let response = s.put(&path, &s.anna, &json!({"text": note})).await;
    assert_eq!(response.status(), 200);
    let read: Value = s.app.get(&path, &s.anna).await.json().await.unwrap();
    assert_eq!(
        (read["text"].as_str(), read["version"].as_i64()),
        (Some(note), Some(1))
    );
    let stale = s
        .app
        .request(Method::PUT, &path, Some(&s.anna))
        .header("If-Match", "\"0\"")
        .json(&json!({"text": "again"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;
    let long = "x".repeat(20_001);
    let problem = assert_problem(s.put(&path, &s.anna, &json!({"text": long})).await, 422).await;
    assert_eq!(first_pointer(&problem), "/text");

    // The planner, the employer and the coachee are refused; another coach does not find it.
    assert_problem(s.app.get(&path, &s.planner).await, 403).await;
    assert_problem(s.app.get(&path, &s.hr).await, 403).await;
    let coachee = s.coachee_token(&order).await;
    assert_problem(s.app.get(&path, &coachee).await, 403).await;
    assert_problem(s.app.get(&path, &s.bram).await, 404).await;

    // Nowhere else: not in the session, the order or its timeline, for anyone.
    for token in [&s.anna, &s.planner, &s.hr] {
        for other in [
            format!("/api/v1/sessions/{id}"),
            Scene::path(&order, ""),
            Scene::path(&order, "/sessions"),
        ] {
            let text = s.app.get(&other, token).await.text().await.unwrap();
            assert!(!text.contains("reorganisation"), "{other}: {text}");
        }
    }
    let timeline = s
        .app
        .get(&Scene::path(&order, "/timeline"), &s.anna)
        .await
        .text()
        .await
        .unwrap();
    assert!(!timeline.contains("reorganisation"));

    // And not readable in the database.
    let stored = s
        .app
        .blocking(move |conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::session_notes;
            Ok(session_notes::table
                .find(&id)
                .select(session_notes::sealed)
                .first::<String>(conn)?)
        })
        .await;
    assert!(stored.starts_with("v1."), "{stored}");
    assert!(!stored.contains("reorganisation") && !stored.contains("Sam worries"));
}

/// Issue 16: rotating the notes key. With the new key current and the old one retired, old notes
/// still open and new ones are sealed under the new key; `trajectum admin reseal-notes` then
/// seals the old ones under the new key, once, and the old key is no longer needed.
async fn a_rotated_notes_key_keeps_old_notes_readable_and_reseals_them(backend: Backend) {
    use crate::helpers::{ROTATED_NOTES_KEY, TEST_NOTES_KEY};
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let mut paths = vec![];
    for time in ["09:00", "11:00"] {
        let session = booked(&s, &order, &video("regular", next(&s, Weekday::Tue, time))).await;
        paths.push(format!(
            "/api/v1/sessions/{}/notes",
            session["id"].as_str().unwrap()
        ));
    }
    let put = |base: String, path: String, text: &'static str| {
        let client = s.app.client.clone();
        let token = s.anna.clone();
        async move {
            client
                .request(Method::PUT, format!("{base}{path}"))
                .bearer_auth(token)
                .json(&json!({ "text": text }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let read = |base: String, path: String| {
        let client = s.app.client.clone();
        let token = s.anna.clone();
        async move {
            let response = client
                .get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let notes: Value = response.json().await.unwrap();
            notes["text"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(
        put(s.app.address.clone(), paths[0].clone(), "before").await,
        200
    );

    let rotated = s
        .app
        .another_instance(|settings| {
            settings.notes_key = Some(ROTATED_NOTES_KEY.to_string().into());
            settings.notes_previous_keys = Some(TEST_NOTES_KEY.to_string().into());
        })
        .await;
    assert_eq!(read(rotated.clone(), paths[0].clone()).await, "before");
    assert_eq!(put(rotated.clone(), paths[1].clone(), "after").await, 200);
    let sealed_under = |key: &str| {
        let id = trajectum::vault::NotesKeys::from_base64(key, None)
            .unwrap()
            .current_id()
            .to_string();
        format!("v1.{id}.")
    };
    let stored = || {
        s.app.blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::session_notes;
            Ok(session_notes::table
                .select(session_notes::sealed)
                .load::<String>(conn)?)
        })
    };
    let (old, new) = (
        sealed_under(TEST_NOTES_KEY),
        sealed_under(ROTATED_NOTES_KEY),
    );
    let mut prefixes: Vec<bool> = stored().await.iter().map(|t| t.starts_with(&new)).collect();
    prefixes.sort();
    assert_eq!(prefixes, [false, true], "one note under each key");

    let reseal = |expected: &'static str| {
        let output = crate::binary::run(
            &s.app.db,
            &["admin", "reseal-notes"],
            &[
                ("TRAJECTUM_NOTES_KEY", ROTATED_NOTES_KEY),
                ("TRAJECTUM_NOTES_PREVIOUS_KEYS", TEST_NOTES_KEY),
            ],
        );
        assert_eq!(crate::binary::value(&output, "notes_resealed"), expected);
    };
    reseal("1");
    reseal("0");
    let stored = stored().await;
    assert!(
        stored
            .iter()
            .all(|t| t.starts_with(&new) && !t.starts_with(&old)),
        "{stored:?}"
    );
    let only_new = s
        .app
        .another_instance(|settings| {
            settings.notes_key = Some(ROTATED_NOTES_KEY.to_string().into());
        })
        .await;
    assert_eq!(read(only_new.clone(), paths[0].clone()).await, "before");
    assert_eq!(read(only_new, paths[1].clone()).await, "after");
}

async fn attend(s: &Scene, session: &Value) {
    let path = format!(
        "/api/v1/sessions/{}/attendance",
        session["id"].as_str().unwrap()
    );
    let response = s
        .app
        .post_json(&path, &s.anna, &json!({"attendance": "held"}))
        .await;
    assert_eq!(response.status(), 200, "attendance");
}

fn feedback_path(session: &Value) -> String {
    format!(
        "/api/v1/coachee/sessions/{}/feedback",
        session["id"].as_str().unwrap()
    )
}

async fn the_first_session_is_rated_and_a_low_rating_warns_the_provider_004(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let order = s.active().await;
    let first = booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Tue, "10:00")),
    )
    .await;
    let second = booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Wed, "10:00")),
    )
    .await;
    let coachee = s.coachee_token(&order).await;
    let rating = json!({"rating": 2, "comment": "we do not click"});
    let problem = assert_problem(
        s.app
            .post_json(&feedback_path(&first), &coachee, &rating)
            .await,
        409,
    )
    .await;
    assert_eq!(problem["type"], "urn:trajectum:problem:feedback-not-asked");

    let until = next(&s, Weekday::Wed, "11:30") - s.app.now();
    s.advance(until).await;
    attend(&s, &first).await;
    attend(&s, &second).await;
    let coachee = s.coachee_token(&order).await;
    // The coachee sees their sessions, and rates the first one only, once.
    let mine: Value = s
        .app
        .get("/api/v1/coachee/order", &coachee)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["sessions"].as_array().unwrap().len(), 2);
    let problem = assert_problem(
        s.app
            .post_json(&feedback_path(&second), &coachee, &rating)
            .await,
        409,
    )
    .await;
    assert_eq!(problem["type"], "urn:trajectum:problem:feedback-not-asked");
    let etag = |token: String| {
        let (s, path) = (&s, Scene::path(&order, ""));
        async move {
            let response = s.app.get(&path, &token).await;
            response.headers()["etag"].to_str().unwrap().to_string()
        }
    };
    let (hr_before, planner_before) = (etag(s.hr.clone()).await, etag(s.planner.clone()).await);
    let response = s
        .app
        .post_json(&feedback_path(&first), &coachee, &rating)
        .await;
    assert_eq!(response.status(), 200);
    // Nothing the employer sees changed, so neither did its ETag; the planner's did.
    assert_eq!(etag(s.hr.clone()).await, hr_before);
    assert_ne!(etag(s.planner.clone()).await, planner_before);
    let rated: Value = response.json().await.unwrap();
    assert_eq!(rated["feedback"]["rating"], 2);
    let problem = assert_problem(
        s.app
            .post_json(&feedback_path(&first), &coachee, &rating)
            .await,
        409,
    )
    .await;
    assert_eq!(problem["type"], "urn:trajectum:problem:feedback-given");

    // The provider is told; the employer sees neither the risk, the rating nor the comment.
    let as_planner = s.order(&order, &s.planner).await;
    assert_eq!(as_planner["alliance_at_risk"]["reason"], "low_rating");
    assert!(s
        .timeline_types(&order, &s.planner)
        .await
        .contains(&"alliance.at_risk".to_string()));
    let as_hr = s.order(&order, &s.hr).await;
    assert!(as_hr.get("alliance_at_risk").is_none(), "{as_hr}");
    assert!(!s
        .timeline_types(&order, &s.hr)
        .await
        .contains(&"alliance.at_risk".to_string()));
    let sessions = s
        .app
        .get(&Scene::path(&order, "/sessions"), &s.hr)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !sessions.contains("click") && !sessions.contains("rating"),
        "{sessions}"
    );
    let as_coach: Value = s
        .app
        .get(
            &format!("/api/v1/sessions/{}", first["id"].as_str().unwrap()),
            &s.anna,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(as_coach["feedback"]["comment"], "we do not click");
}

/// The scheduled half of the first-session check, run now with 7 days to rate.
async fn check_alliance(s: &Scene) -> usize {
    let now = s.app.now();
    s.app
        .blocking(move |conn| {
            trajectum::service::alliance::flag_unrated(conn, now, 7).map_err(anyhow::Error::from)
        })
        .await
}

async fn an_unrated_first_session_puts_the_order_at_risk_after_the_days_004(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let unrated = s.active().await;
    let rated = s.active().await;
    let first = booked(
        &s,
        &unrated,
        &video("regular", next(&s, Weekday::Tue, "10:00")),
    )
    .await;
    let other = booked(
        &s,
        &rated,
        &video("regular", next(&s, Weekday::Tue, "14:00")),
    )
    .await;
    let until = next(&s, Weekday::Tue, "15:30") - s.app.now();
    s.advance(until).await;
    attend(&s, &first).await;
    attend(&s, &other).await;
    let coachee = s.coachee_token(&rated).await;
    let fine = s
        .app
        .post_json(&feedback_path(&other), &coachee, &json!({"rating": 4}))
        .await;
    assert_eq!(fine.status(), 200);

    assert_eq!(check_alliance(&s).await, 0, "not overdue yet");
    s.advance(Duration::days(8)).await;
    assert_eq!(check_alliance(&s).await, 1);
    assert_eq!(check_alliance(&s).await, 0, "marked once");
    let view = s.order(&unrated, &s.planner).await;
    assert_eq!(view["alliance_at_risk"]["reason"], "no_rating");
    assert!(s
        .order(&rated, &s.planner)
        .await
        .get("alliance_at_risk")
        .is_none());
    let timeline: Value = s
        .app
        .get(&Scene::path(&unrated, "/timeline"), &s.planner)
        .await
        .json()
        .await
        .unwrap();
    let risk = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "alliance.at_risk")
        .unwrap();
    assert_eq!(risk["actor_role"], "system");
    // In the provider's audit trail once, as the service's change: the sweeps that marked
    // nothing recorded nothing.
    let trail: Value = s
        .app
        .get("/api/v1/audit?limit=200", &s.planner)
        .await
        .json()
        .await
        .unwrap();
    let marks: Vec<&Value> = trail["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "first-session check: marked at risk")
        .collect();
    assert_eq!(marks.len(), 1, "{marks:?}");
    assert_eq!(marks[0]["resource_id"], unrated.as_str());
    assert_eq!(marks[0]["actor"]["role"], "system");
}

/// The events of an iCalendar body, read with an independent parser (the `ical` crate): each as
/// its properties by name.
pub(crate) fn parse_ics(body: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut calendars = ical::IcalParser::new(std::io::BufReader::new(body.as_bytes()));
    let calendar = calendars
        .next()
        .expect("one calendar")
        .expect("a valid calendar");
    assert!(calendars.next().is_none());
    assert!(calendar
        .properties
        .iter()
        .any(|p| p.name == "VERSION" && p.value.as_deref() == Some("2.0")));
    assert!(calendar.properties.iter().any(|p| p.name == "PRODID"));
    calendar
        .events
        .into_iter()
        .map(|event| {
            event
                .properties
                .into_iter()
                .map(|p| (p.name, p.value.unwrap_or_default()))
                .collect()
        })
        .collect()
}

pub(crate) fn ics_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

async fn get_ics(s: &Scene, path: &str, token: Option<&str>) -> reqwest::Response {
    s.app
        .request(Method::GET, path, token)
        .send()
        .await
        .unwrap()
}

async fn calendars_are_rfc_5545_feeds_without_confidential_content(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let cancelled = booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Tue, "10:00")),
    )
    .await;
    let mut in_person = video("regular", next(&s, Weekday::Wed, "10:00"));
    in_person["format"] = json!("in_person");
    in_person["location"] = json!("Coachwise, Oudegracht 12, Utrecht");
    in_person.as_object_mut().unwrap().remove("meeting_link");
    let moved = booked(&s, &order, &in_person).await;
    let cancel = s
        .app
        .post_json(
            &format!(
                "/api/v1/sessions/{}/cancel",
                cancelled["id"].as_str().unwrap()
            ),
            &s.anna,
            &json!({"reason": "the coachee has a hospital appointment", "requested_by": "coachee"}),
        )
        .await;
    assert_eq!(cancel.status(), 200);
    let moved_path = format!("/api/v1/sessions/{}", moved["id"].as_str().unwrap());
    let response = s
        .app
        .request(Method::PATCH, &moved_path, Some(&s.anna))
        .json(&json!({"starts_at": stamp(next(&s, Weekday::Wed, "11:00"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let saved = s
        .put(
            &format!("{moved_path}/notes"),
            &s.anna,
            &json!({"text": "talked about the burn-out"}),
        )
        .await;
    assert_eq!(
        saved.status(),
        200,
        "the note must be there for the feed to leave it out"
    );

    let coach_feed = format!("/api/v1/coaches/{}/calendar.ics", s.anna_coach_id);
    let response = get_ics(&s, &coach_feed, Some(&s.anna)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/calendar"));
    let body = response.text().await.unwrap();
    for secret in ["Sam", "sam@acme", "hospital", "burn-out"] {
        assert!(!body.contains(secret), "the feed holds {secret:?}: {body}");
    }
    let events = parse_ics(&body);
    assert_eq!(events.len(), 2);
    let by_uid = |session: &Value| {
        let uid = format!("{}@trajectum", session["id"].as_str().unwrap());
        events.iter().find(|e| e["UID"] == uid).unwrap().clone()
    };
    let gone = by_uid(&cancelled);
    assert_eq!(gone["STATUS"], "CANCELLED");
    assert_eq!(gone["SEQUENCE"], "1");
    let there = by_uid(&moved);
    assert_eq!(there["STATUS"], "CONFIRMED");
    assert_eq!(there["SEQUENCE"], "1", "raised by the reschedule");
    assert_eq!(there["DTSTART"], ics_stamp(next(&s, Weekday::Wed, "11:00")));
    assert_eq!(there["DTEND"], ics_stamp(next(&s, Weekday::Wed, "12:00")));
    assert_eq!(there["LOCATION"], "Coachwise\\, Oudegracht 12\\, Utrecht");
    assert!(there["DTSTAMP"].ends_with('Z'));

    // The employer's view of the order's feed: when, not where.
    let order_feed = Scene::path(&order, "/calendar.ics");
    let body = get_ics(&s, &order_feed, Some(&s.hr))
        .await
        .text()
        .await
        .unwrap();
    let events = parse_ics(&body);
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| !e.contains_key("LOCATION") && !e.contains_key("URL")));

    // Who may read the coach's feed with a bearer token: Anna and the planner, not a colleague
    // or the coachee; nobody without a token.
    assert_eq!(
        get_ics(&s, &coach_feed, Some(&s.planner)).await.status(),
        200
    );
    assert_problem(get_ics(&s, &coach_feed, Some(&s.bram)).await, 403).await;
    let coachee = s.coachee_token(&order).await;
    assert_problem(get_ics(&s, &coach_feed, Some(&coachee)).await, 403).await;
    assert_problem(get_ics(&s, &coach_feed, None).await, 401).await;
}

/// A new feed token from `path` (by Anna); the feed's address with it.
async fn issue_feed(s: &Scene, path: &str) -> String {
    let response = s.app.post_json(path, &s.anna, &json!({})).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    body["feed_url"].as_str().unwrap().to_string()
}

async fn a_feed_token_opens_one_calendar_until_it_is_rotated(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Thu, "10:00")),
    )
    .await;
    let coach_feed = format!("/api/v1/coaches/{}/calendar-feed", s.anna_coach_id);
    let first = issue_feed(&s, &coach_feed).await;
    assert!(first.starts_with(&format!(
        "/api/v1/coaches/{}/calendar.ics?token=",
        s.anna_coach_id
    )));
    let response = get_ics(&s, &first, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(parse_ics(&response.text().await.unwrap()).len(), 1);
    // Rotated: the first token stops, the new one works; a token opens its own calendar only.
    let second = issue_feed(&s, &coach_feed).await;
    assert_problem(get_ics(&s, &first, None).await, 401).await;
    assert_eq!(get_ics(&s, &second, None).await.status(), 200);
    let token = second.split("token=").nth(1).unwrap();
    let elsewhere = format!("{}?token={token}", Scene::path(&order, "/calendar.ics"));
    assert_problem(get_ics(&s, &elsewhere, None).await, 401).await;

    // The order's feed is the coachee's: with where to go and how to join.
    let order_feed = issue_feed(&s, &Scene::path(&order, "/calendar-feed")).await;
    let events = parse_ics(&get_ics(&s, &order_feed, None).await.text().await.unwrap());
    assert_eq!(events[0]["URL"], "https://meet.example/anna-sam");
    // Revoking the coachee's links stops their feed too.
    let revoked = s
        .app
        .request(
            Method::DELETE,
            &Scene::path(&order, "/coachee-link"),
            Some(&s.anna),
        )
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    assert_problem(get_ics(&s, &order_feed, None).await, 401).await;
    // The employer does not issue feed tokens.
    assert_problem(
        s.app
            .post_json(&Scene::path(&order, "/calendar-feed"), &s.hr, &json!({}))
            .await,
        403,
    )
    .await;
}

async fn a_series_books_all_or_nothing_after_a_preview(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let other = s.active().await;
    let first = next(&s, Weekday::Tue, "10:00");
    // The third Tuesday is taken by another coachee of Anna's.
    let blocker = booked(&s, &other, &video("regular", first + Duration::weeks(2))).await;
    let mut series = video("regular", first);
    series["every_weeks"] = json!(1);
    series["count"] = json!(4);
    series["preview"] = json!(true);
    let path = Scene::path(&order, "/sessions/series");

    let response = s.app.post_json(&path, &s.anna, &series).await;
    assert_eq!(response.status(), 200);
    let preview: Value = response.json().await.unwrap();
    assert_eq!(preview["fits"], false);
    let fits: Vec<bool> = preview["occurrences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["fits"].as_bool().unwrap())
        .collect();
    assert_eq!(fits, [true, true, false, true]);
    let third = &preview["occurrences"][2];
    assert_eq!(
        third["problem_type"],
        "urn:trajectum:problem:coach-double-booked"
    );
    assert!(third["alternative"].is_string(), "{third}");
    let sessions: Value = s
        .app
        .get(&Scene::path(&order, "/sessions"), &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        sessions["data"].as_array().unwrap().is_empty(),
        "a preview books nothing"
    );

    // All or nothing.
    series["preview"] = json!(false);
    let problem = assert_problem(s.app.post_json(&path, &s.anna, &series).await, 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:series-does-not-fit");
    assert_eq!(problem["occurrences"][2]["fits"], false);
    assert_eq!(s.order(&order, &s.hr).await["sessions"]["planned"], 0);

    // Once the slot is free, the whole series books, one event per session.
    let cancel = s
        .app
        .post_json(
            &format!(
                "/api/v1/sessions/{}/cancel",
                blocker["id"].as_str().unwrap()
            ),
            &s.planner,
            &json!({"reason": "moved to another week", "requested_by": "provider"}),
        )
        .await;
    assert_eq!(cancel.status(), 200);
    let response = s.app.post_json(&path, &s.anna, &series).await;
    assert_eq!(response.status(), 201);
    let booked: Value = response.json().await.unwrap();
    let starts: Vec<&str> = booked["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["starts_at"].as_str().unwrap())
        .collect();
    // Tuesdays at 10:00 on Anna's clock, whatever the clocks do in between.
    let first_day = first.with_timezone(&Amsterdam).date_naive();
    assert_eq!(starts.len(), 4, "{starts:?}");
    for (k, start) in starts.iter().enumerate() {
        let local = DateTime::parse_from_rfc3339(start)
            .unwrap()
            .with_timezone(&Amsterdam);
        assert_eq!(local.time(), NaiveTime::from_hms_opt(10, 0, 0).unwrap());
        assert_eq!(local.date_naive(), first_day + Duration::weeks(k as i64));
    }
    assert_eq!(s.order(&order, &s.hr).await["sessions"]["planned"], 4);
    let scheduled = s
        .timeline_types(&order, &s.hr)
        .await
        .iter()
        .filter(|t| *t == "session.scheduled")
        .count();
    assert_eq!(scheduled, 4);

    // Four of the budget of eight are left: a series of five more does not fit its fifth.
    series["starts_at"] = json!(stamp(first + Duration::weeks(5)));
    series["count"] = json!(5);
    series["preview"] = json!(true);
    let preview: Value = s
        .app
        .post_json(&path, &s.anna, &series)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        preview["occurrences"][4]["problem_type"],
        "urn:trajectum:problem:session-budget-exhausted"
    );
    assert_eq!(preview["occurrences"][3]["fits"], true);
}

async fn coachees_book_their_own_sessions_when_the_provider_allows(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let order = s.active().await;
    let other = s.active().await;
    booked(
        &s,
        &order,
        &video("regular", next(&s, Weekday::Tue, "10:00")),
    )
    .await;
    let someone_else = booked(
        &s,
        &other,
        &video("regular", next(&s, Weekday::Tue, "14:00")),
    )
    .await;
    let coachee = s.coachee_token(&order).await;
    let wednesday = next(&s, Weekday::Wed, "00:00");
    let slots_path = format!(
        "/api/v1/coachee/free-slots?from={}&to={}&duration=60",
        stamp(wednesday),
        stamp(wednesday + Duration::days(1))
    );
    // Off by default.
    assert_problem(s.app.get(&slots_path, &coachee).await, 403).await;

    let settings = json!({"coachee_self_service": true, "late_cancellation_hours": 48});
    assert_problem(
        s.put("/api/v1/provider-settings", &s.anna, &settings).await,
        403,
    )
    .await;
    assert_problem(s.app.get("/api/v1/provider-settings", &s.hr).await, 403).await;
    let response = s
        .put("/api/v1/provider-settings", &s.planner, &settings)
        .await;
    assert_eq!(response.status(), 200);
    let read: Value = s
        .app
        .get("/api/v1/provider-settings", &s.anna)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            read["coachee_self_service"].as_bool(),
            read["version"].as_i64()
        ),
        (Some(true), Some(1))
    );

    let free: Value = s.app.get(&slots_path, &coachee).await.json().await.unwrap();
    let first = free["slots"][0]["starts_at"].as_str().unwrap().to_string();
    assert_eq!(first, stamp(next(&s, Weekday::Wed, "09:00")));
    let response = s
        .app
        .post_json(
            "/api/v1/coachee/sessions",
            &coachee,
            &json!({"starts_at": first, "duration_minutes": 60}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let mine: Value = response.json().await.unwrap();
    // Held as the latest session was: by video, with its link.
    assert_eq!(mine["kind"], "regular");
    assert_eq!(mine["meeting_link"], "https://meet.example/anna-sam");
    // The coachee chooses how (issue 17): by phone; not in person, for no place is known.
    let thursday = |time| stamp(next(&s, Weekday::Thu, time));
    let by_phone = s
        .app
        .post_json(
            "/api/v1/coachee/sessions",
            &coachee,
            &json!({"starts_at": thursday("09:00"), "duration_minutes": 60, "format": "phone"}),
        )
        .await;
    assert_eq!(by_phone.status(), 201);
    let by_phone: Value = by_phone.json().await.unwrap();
    assert_eq!(
        (
            by_phone["format"].as_str(),
            by_phone["meeting_link"].as_str()
        ),
        (Some("phone"), None)
    );
    let in_person = s
        .app
        .post_json(
            "/api/v1/coachee/sessions",
            &coachee,
            &json!({"starts_at": thursday("11:00"), "duration_minutes": 60, "format": "in_person"}),
        )
        .await;
    let problem = assert_problem(in_person, 422).await;
    assert_eq!(first_pointer(&problem), "/format");
    let path = format!("/api/v1/coachee/sessions/{}", mine["id"].as_str().unwrap());
    let moved = s
        .app
        .request(Method::PATCH, &path, Some(&coachee))
        .json(&json!({"starts_at": stamp(next(&s, Weekday::Wed, "15:00"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    // The same rules: not into another coachee's session (and nothing of it is shown).
    let clash = s
        .app
        .request(Method::PATCH, &path, Some(&coachee))
        .json(&json!({"starts_at": stamp(next(&s, Weekday::Tue, "14:00"))}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(clash, 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:coach-double-booked");
    assert!(!problem.to_string().contains(&other));
    // Another coachee's session does not exist for them.
    let theirs = format!(
        "/api/v1/coachee/sessions/{}/cancel",
        someone_else["id"].as_str().unwrap()
    );
    assert_problem(
        s.app
            .post_json(&theirs, &coachee, &json!({"reason": "x"}))
            .await,
        404,
    )
    .await;

    // 36 hours before, with the provider's 48 hours' notice: a late cancellation that counts.
    let until = next(&s, Weekday::Wed, "15:00") - Duration::hours(36) - s.app.now();
    s.advance(until).await;
    let coachee = s.coachee_token(&order).await;
    let response = s
        .app
        .post_json(
            &format!("{path}/cancel"),
            &coachee,
            &json!({"reason": "I am ill"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["counts_against_budget"], true);
    assert_eq!(cancelled["cancellation"]["requested_by"], "coachee");
    let as_hr = s.order(&order, &s.hr).await;
    assert_eq!(as_hr["sessions"]["used"], 1);
}

/// Issue 17: an order whose intake was booked with one coach and that goes to another waits for
/// an intake again (the booked one was called off with the old coach), and the new coach books it.
async fn a_reassigned_order_waits_for_an_intake_with_its_new_coach(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    booked(
        &s,
        &order,
        &video("intake", next(&s, Weekday::Mon, "09:00")),
    )
    .await;
    assert_eq!(
        s.order(&order, &s.planner).await["status"],
        "intake_scheduled"
    );
    let bram: Value = s.app.get("/api/v1/me", &s.bram).await.json().await.unwrap();
    let reassigned = s
        .app
        .post_json(
            &Scene::path(&order, "/assign"),
            &s.planner,
            &json!({"coach_id": bram["coach_id"]}),
        )
        .await;
    assert_eq!(reassigned.status(), 200);
    let view: Value = reassigned.json().await.unwrap();
    assert_eq!(view["status"], "accepted");
    let types = s.timeline_types(&order, &s.planner).await;
    assert!(
        types.ends_with(&["session.cancelled".into(), "order.coach_changed".into()]),
        "{types:?}"
    );
    let intake = book(
        &s,
        &order,
        &s.bram,
        &video("intake", next(&s, Weekday::Tue, "11:00")),
    )
    .await;
    assert_eq!(intake.status(), 201);
    assert_eq!(
        s.order(&order, &s.planner).await["status"],
        "intake_scheduled"
    );
}

async fn a_new_coach_starts_with_a_clean_calendar_and_no_notes(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let order = s.accepted().await;
    let started = booked(
        &s,
        &order,
        &video("intake", next(&s, Weekday::Mon, "09:00")),
    )
    .await;
    let id = started["id"].as_str().unwrap().to_string();
    let notes = format!("/api/v1/sessions/{id}/notes");
    assert_eq!(
        s.put(&notes, &s.anna, &json!({"text": "first impressions"}))
            .await
            .status(),
        200
    );
    // Reassigned after the intake started: it stays for its attendance; the notes stay Anna's.
    let until = next(&s, Weekday::Mon, "09:30") - s.app.now();
    s.advance(until).await;
    let bram: Value = s.app.get("/api/v1/me", &s.bram).await.json().await.unwrap();
    let response = s
        .app
        .post_json(
            &Scene::path(&order, "/assign"),
            &s.planner,
            &json!({"coach_id": bram["coach_id"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let session: Value = s
        .app
        .get(&format!("/api/v1/sessions/{id}"), &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        session["status"], "planned",
        "a started session is not called off"
    );
    assert_eq!(
        s.order(&order, &s.planner).await["status"],
        "intake_scheduled",
        "its intake still stands"
    );
    assert_problem(s.app.get(&notes, &s.bram).await, 403).await;
    assert_problem(
        s.app
            .post_json(
                &format!("/api/v1/sessions/{id}/attendance"),
                &s.bram,
                &json!({"attendance": "held"}),
            )
            .await,
        403,
    )
    .await;

    // A session still to come with Anna is called off when Bram takes over.
    let other = s.accepted().await;
    let later = booked(
        &s,
        &other,
        &video("intake", next(&s, Weekday::Thu, "09:00")),
    )
    .await;
    let response = s
        .app
        .post_json(
            &Scene::path(&other, "/assign"),
            &s.planner,
            &json!({"coach_id": bram["coach_id"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let after: Value = s
        .app
        .get(
            &format!("/api/v1/sessions/{}", later["id"].as_str().unwrap()),
            &s.planner,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["cancellation"]["requested_by"], "provider");
}

async fn a_group_session_takes_the_coach_once_and_counts_per_participant_003(backend: Backend) {
    let s = Scene::new(backend).await;
    let (a, b, c) = (s.active().await, s.active().await, s.active().await);
    let at = next(&s, Weekday::Tue, "10:00");
    let group = json!({
        "starts_at": stamp(at), "duration_minutes": 90, "format": "in_person",
        "location": "Coachwise, room 2", "capacity": 2, "order_ids": [a, b]
    });
    let response = s
        .app
        .post_json("/api/v1/session-groups", &s.anna, &group)
        .await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["taken"], 2);
    let group_id = created["id"].as_str().unwrap().to_string();
    let place_of = |order: &str| {
        created["participants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["order_id"] == order)
            .unwrap()
            .clone()
    };
    let a_place = place_of(&a);
    assert_eq!(a_place["group_id"], group_id.as_str());
    // Each participant's own budget.
    for order in [&a, &b] {
        assert_eq!(s.order(order, &s.hr).await["sessions"]["planned"], 1);
    }
    // A participant sees their own session, nothing of the other's order.
    let coachee = s.coachee_token(&a).await;
    let mine = s
        .app
        .get("/api/v1/coachee/order", &coachee)
        .await
        .text()
        .await
        .unwrap();
    assert!(mine.contains(&group_id) && !mine.contains(&b), "{mine}");

    // Full at two; the coach's time is taken (once) for anyone else.
    let participants = format!("/api/v1/session-groups/{group_id}/participants");
    let problem = assert_problem(
        s.app
            .post_json(&participants, &s.planner, &json!({"order_id": c}))
            .await,
        409,
    )
    .await;
    assert_eq!(problem["type"], "urn:trajectum:problem:group-full");
    assert_eq!(problem["capacity"], 2);
    let problem = assert_problem(book(&s, &c, &s.anna, &video("regular", at)).await, 409).await;
    assert_eq!(problem["type"], "urn:trajectum:problem:coach-double-booked");
    let tuesday = next(&s, Weekday::Tue, "00:00");
    let free = slots(&s, tuesday, tuesday + Duration::days(1), 60).await;
    assert!(!free.contains(&stamp(at)));
    let feed = format!("/api/v1/coaches/{}/calendar.ics", s.anna_coach_id);
    let events = parse_ics(
        &get_ics(&s, &feed, Some(&s.anna))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(events.len(), 1, "one event for the group");
    assert_eq!(events[0]["UID"], format!("{group_id}@trajectum"));

    // A place moves with its group, not alone; a place given up makes room.
    let a_path = format!("/api/v1/sessions/{}", a_place["id"].as_str().unwrap());
    let moved = s
        .app
        .request(Method::PATCH, &a_path, Some(&s.anna))
        .json(&json!({"starts_at": stamp(next(&s, Weekday::Wed, "10:00"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_problem(moved, 409).await["type"],
        "urn:trajectum:problem:session-in-group"
    );
    let cancelled = s
        .app
        .post_json(
            &format!("{a_path}/cancel"),
            &s.anna,
            &json!({"reason": "prefers one-on-one", "requested_by": "coachee"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    let joined = s
        .app
        .post_json(&participants, &s.planner, &json!({"order_id": c}))
        .await;
    assert_eq!(joined.status(), 201);
    let group: Value = s
        .app
        .get(&format!("/api/v1/session-groups/{group_id}"), &s.planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(group["taken"], 2);
    assert_eq!(group["participants"].as_array().unwrap().len(), 3);

    // Another coach's order cannot join; the group is not the employer's to see.
    let bram: Value = s.app.get("/api/v1/me", &s.bram).await.json().await.unwrap();
    let theirs = s.accepted().await;
    s.app
        .post_json(
            &Scene::path(&theirs, "/assign"),
            &s.planner,
            &json!({"coach_id": bram["coach_id"]}),
        )
        .await;
    let problem = assert_problem(
        s.app
            .post_json(&participants, &s.planner, &json!({"order_id": theirs}))
            .await,
        422,
    )
    .await;
    assert_eq!(problem["type"], "urn:trajectum:problem:group-other-coach");
    assert_problem(
        s.app
            .get(&format!("/api/v1/session-groups/{group_id}"), &s.hr)
            .await,
        403,
    )
    .await;
    assert_problem(
        s.app
            .get(&format!("/api/v1/session-groups/{group_id}"), &s.bram)
            .await,
        404,
    )
    .await;
}

/// The guarantee under the checks: PostgreSQL itself refuses a second session in a coach's
/// booked time (SQLSTATE 23P01), unless it shares the calendar key of a group.
async fn postgres_refuses_overlapping_sessions_of_a_coach(backend: Backend) {
    let s = Scene::new(backend).await;
    let (a, b) = (s.accepted().await, s.accepted().await);
    let booked = booked(&s, &a, &video("intake", next(&s, Weekday::Tue, "10:00"))).await;
    let id = booked["id"].as_str().unwrap().to_string();
    let (violation, shared) = s
        .app
        .blocking(move |conn| {
            use diesel::result::{DatabaseErrorKind, Error};
            use trajectum::db::sessions as store;
            let mut other = store::find(conn, &id)?.unwrap();
            other.id = uuid::Uuid::now_v7().to_string();
            other.calendar_key = other.id.clone();
            other.order_id = b;
            other.starts_at += chrono::Duration::minutes(30);
            let violation = matches!(
                trajectum::db::write(conn, |conn| store::insert(conn, &other)),
                Err(Error::DatabaseError(
                    DatabaseErrorKind::ExclusionViolation,
                    _
                ))
            );
            // The same time under the first one's calendar key, as a group's participant: fine.
            other.calendar_key = id;
            let shared = trajectum::db::write(conn, |conn| store::insert(conn, &other)).is_ok();
            Ok((violation, shared))
        })
        .await;
    assert!(violation, "an overlapping session of the coach is refused");
    assert!(shared, "a session in the same group shares the time");
}

api_test!(postgres_only: postgres_refuses_overlapping_sessions_of_a_coach);

api_test!(
    a_reassigned_order_waits_for_an_intake_with_its_new_coach,
    a_rotated_notes_key_keeps_old_notes_readable_and_reseals_them,
    a_group_session_takes_the_coach_once_and_counts_per_participant_003,
    a_new_coach_starts_with_a_clean_calendar_and_no_notes,
    coachees_book_their_own_sessions_when_the_provider_allows,
    a_series_books_all_or_nothing_after_a_preview,
    calendars_are_rfc_5545_feeds_without_confidential_content,
    a_feed_token_opens_one_calendar_until_it_is_rotated,
    the_first_session_is_rated_and_a_low_rating_warns_the_provider_004,
    an_unrated_first_session_puts_the_order_at_risk_after_the_days_004,
    only_the_coach_reads_the_notes_and_they_are_stored_sealed,
    a_planned_session_reschedules_under_the_same_checks,
    sessions_list_across_the_callers_orders,
    the_coach_and_the_planner_keep_the_availability,
    free_slots_follow_the_hours_and_leave_bookings_with_their_buffer,
    an_intake_books_on_an_accepted_order_and_schedules_it,
    a_booking_must_fit_the_calendar_and_the_trajectory,
    regular_sessions_stay_within_the_budget,
    attendance_is_recorded_by_the_coach_after_the_start,
    the_employer_sees_when_not_where_or_why,
    sessions_list_by_start_a_page_at_a_time,
    cancelling_the_order_cancels_its_planned_sessions,
    fifty_concurrent_bookings_of_one_slot_book_it_once,
);
