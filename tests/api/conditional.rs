//! HEAD on every GET route (RFC 9110 §9.1, §9.3.2) and `If-None-Match` (§13.1.2) on reads that
//! carry an `ETag`.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, Backend, TestApp};
use crate::scene::{minimal_order, Scene};

fn etag(response: &Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_string()
}

async fn read(
    app: &TestApp,
    path: &str,
    token: String,
    condition: Option<String>,
) -> reqwest::Result<Response> {
    let mut request = app.request(Method::GET, path, Some(&token));
    if let Some(condition) = condition {
        request = request.header("if-none-match", condition);
    }
    request.send().await
}

async fn head_answers_every_get_route_as_get_without_a_body(backend: Backend) {
    let s = Scene::new(backend).await;
    let app = &s.app;
    let order = s.accepted().await;
    let coach = format!("/api/v1/coaches/{}", s.anna_coach_id);
    let order_path = Scene::path(&order, "");
    let reads: Vec<(String, Option<&str>)> = vec![
        ("/health/live".into(), None),
        ("/health/ready".into(), None),
        ("/api/v1/openapi.json".into(), None),
        ("/docs/".into(), None),
        ("/api/v1/me".into(), Some(&s.hr)),
        ("/api/v1/coaches".into(), Some(&s.planner)),
        (coach, Some(&s.planner)),
        ("/api/v1/orders".into(), Some(&s.hr)),
        (order_path.clone(), Some(&s.hr)),
        (Scene::path(&order, "/timeline"), Some(&s.hr)),
        (Scene::path(&order, "/coach-suggestions"), Some(&s.planner)),
        (Scene::path(&order, "/intake"), Some(&s.anna)),
        (Scene::path(&order, "/plan"), Some(&s.anna)),
    ];
    for (path, token) in reads {
        let get = app.request(Method::GET, &path, token).send().await.unwrap();
        let head = app
            .request(Method::HEAD, &path, token)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        assert_eq!(get.status(), 200, "GET {path}");
        for name in ["content-type", "etag", "content-length"] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "HEAD {path} has the {name} of GET"
            );
        }
        assert!(head.headers().contains_key("x-request-id"));
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path}: no body"
        );
    }
    // /metrics counts the requests themselves, so only its kind of answer is the same.
    let head = app
        .request(Method::HEAD, "/metrics", None)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));

    // HEAD is authorised and routed exactly as GET: no token is a 401, another tenant's or an
    // unknown order a 404, a POST-only route a 405 that lists what is allowed. Never a body.
    let unauthorised = app
        .request(Method::HEAD, &order_path, None)
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    assert!(unauthorised.headers().contains_key("www-authenticate"));
    let unknown = Scene::path(&uuid::Uuid::now_v7().to_string(), "");
    let missing = app
        .request(Method::HEAD, &unknown, Some(&s.hr))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.bytes().await.unwrap().is_empty());
    let post_only = app
        .request(Method::HEAD, "/api/v1/auth/token", None)
        .send()
        .await
        .unwrap();
    assert_eq!(post_only.status(), 405);
    assert_eq!(post_only.headers()["allow"], "POST");
    let wrong = app
        .request(Method::DELETE, "/health/live", None)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.headers()["allow"], "GET, HEAD");
    assert_problem(wrong, 405).await;
}

async fn if_none_match_is_a_304_while_the_representation_is_unchanged(backend: Backend) {
    let mut s = Scene::new(backend).await;
    let order = s.create(&minimal_order()).await;
    let path = Scene::path(order["id"].as_str().unwrap(), "");
    let get = |token: String, condition: Option<String>| read(&s.app, &path, token, condition);
    let first = get(s.hr.clone(), None).await.unwrap();
    let tag = etag(&first);

    // The tag read, weakly compared, alone or in a list, or `*`: unchanged, 304, no body.
    for condition in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"1-0000000000000000\", {tag}"),
        "*".to_string(),
    ] {
        let response = get(s.hr.clone(), Some(condition.clone())).await.unwrap();
        assert_eq!(response.status(), 304, "If-None-Match: {condition}");
        assert_eq!(etag(&response), tag);
        assert!(response.headers().contains_key("x-request-id"));
        assert!(!response.headers().contains_key("content-type"));
        assert!(response.bytes().await.unwrap().is_empty());
    }
    let head = s
        .app
        .request(Method::HEAD, &path, Some(&s.hr))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 304);
    // Another tag, the bare version, or a tag of another caller's view: the full body.
    let planner_tag = etag(&get(s.planner.clone(), None).await.unwrap());
    assert_ne!(
        planner_tag, tag,
        "the planner's view is another representation"
    );
    for condition in ["\"1\"".to_string(), planner_tag] {
        let response = get(s.hr.clone(), Some(condition)).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(etag(&response), tag);
    }

    // A change gives a new tag: the old one no longer matches.
    let changed = s
        .app
        .request(Method::PATCH, &path, Some(&s.hr))
        .header("if-match", &tag)
        .json(&json!({"job_title": "Team lead"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed_tag = etag(&changed);
    assert_ne!(changed_tag, tag);
    let response = get(s.hr.clone(), Some(tag.clone())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(etag(&response), changed_tag);
    assert_eq!(
        get(s.hr.clone(), Some(changed_tag.clone()))
            .await
            .unwrap()
            .status(),
        304
    );

    // The same version, but the first contact fell overdue (004): the view changed, so the tag
    // did, and a poller is not told "not modified".
    s.advance(chrono::Duration::days(3)).await;
    let response = read(&s.app, &path, s.hr.clone(), Some(changed_tag.clone()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_ne!(etag(&response), changed_tag);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["version"], 2);
    assert_eq!(view["contact"]["overdue"], true);

    // Not found stays not found, whatever the condition.
    let unknown = Scene::path(&uuid::Uuid::now_v7().to_string(), "");
    let response = s
        .app
        .request(Method::GET, &unknown, Some(&s.hr))
        .header("if-none-match", "*")
        .send()
        .await
        .unwrap();
    assert_problem(response, 404).await;
}

api_test!(
    head_answers_every_get_route_as_get_without_a_body,
    if_none_match_is_a_304_while_the_representation_is_unchanged,
);

/// Polling costs nothing while nothing changed (issue 18): a list, free slots, a calendar feed
/// and the events feed carry an `ETag` (a feed its `Last-Modified` too) and answer a matching
/// `If-None-Match` with 304; a change gives a new tag.
async fn lists_slots_and_feeds_answer_304_while_unchanged(backend: Backend) {
    let s = Scene::new(backend).await;
    s.create(&minimal_order()).await;
    let from = s.app.now() + chrono::Duration::days(1);
    let to = from + chrono::Duration::days(7);
    let slots = format!(
        "/api/v1/coaches/{}/free-slots?from={}&to={}&duration=60",
        s.anna_coach_id,
        crate::scheduling::stamp(from),
        crate::scheduling::stamp(to)
    );
    let calendar = format!("/api/v1/coaches/{}/calendar.ics", s.anna_coach_id);
    for path in [
        "/api/v1/orders?limit=50".to_string(),
        "/api/v1/events".to_string(),
        "/api/v1/coaches".to_string(),
        slots,
    ] {
        let token = if path.contains("free-slots") {
            s.planner.clone()
        } else {
            s.hr.clone()
        };
        let first = read(&s.app, &path, token.clone(), None).await.unwrap();
        assert_eq!(first.status(), 200, "{path}");
        let tag = etag(&first);
        let again = read(&s.app, &path, token.clone(), Some(tag.clone()))
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(etag(&again), tag);
    }
    let order = s.active().await;
    let book = |day| crate::scheduling::booked_regular(&s, &order, day, "10:00");
    let empty = read(&s.app, &calendar, s.anna.clone(), None).await.unwrap();
    assert!(
        !empty.headers().contains_key("last-modified"),
        "an empty feed"
    );
    book(chrono::Weekday::Tue).await;
    let feed = read(&s.app, &calendar, s.anna.clone(), None).await.unwrap();
    assert_eq!(feed.status(), 200);
    let tag = etag(&feed);
    let modified = feed.headers()["last-modified"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        chrono::DateTime::parse_from_rfc2822(&modified).is_ok(),
        "an HTTP date: {modified}"
    );
    let unchanged = read(&s.app, &calendar, s.anna.clone(), Some(tag.clone()))
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    book(chrono::Weekday::Wed).await;
    let changed = read(&s.app, &calendar, s.anna.clone(), Some(tag.clone()))
        .await
        .unwrap();
    assert_eq!(changed.status(), 200, "a booking changes the feed");
    assert_ne!(etag(&changed), tag);
    let orders = read(&s.app, "/api/v1/orders?limit=50", s.hr.clone(), None)
        .await
        .unwrap();
    assert_ne!(etag(&orders), "", "a list has a tag");
}

api_test!(lists_slots_and_feeds_answer_304_while_unchanged);

/// `If-None-Match` is `*` or a list of entity tags; an empty or garbage value names no tag and
/// gets the full answer, on a resource and on a list alike (the spec takes any string).
async fn a_malformed_if_none_match_names_no_tag(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.create(&minimal_order()).await;
    let resource = Scene::path(order["id"].as_str().unwrap(), "");
    for path in [resource.as_str(), "/api/v1/orders"] {
        for garbage in ["", "abc", "3", "\"3", "W/3", "\"a\" \"b\""] {
            let response = read(&s.app, path, s.hr.clone(), Some(garbage.to_string()))
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path} {garbage:?}");
            assert!(!etag(&response).is_empty());
            assert!(!response.bytes().await.unwrap().is_empty());
        }
    }
}

api_test!(a_malformed_if_none_match_names_no_tag);

/// A group session is one event in its coach's calendar: when one of its places changes, its
/// `SEQUENCE` rises and its `DTSTAMP` and `LAST-MODIFIED` move with it.
async fn a_group_events_stamp_moves_with_its_sequence(backend: Backend) {
    let s = Scene::new(backend).await;
    let orders = [s.active().await, s.active().await];
    let at = crate::scheduling::next(&s, chrono::Weekday::Tue, "10:00");
    let created: Value = s
        .app
        .post_json(
            "/api/v1/session-groups",
            &s.anna,
            &json!({
                "starts_at": crate::scheduling::stamp(at), "duration_minutes": 60, "format": "video",
                "meeting_link": "https://meet.example/group", "capacity": 4, "order_ids": orders
            }),
        )
        .await
        .json()
        .await
        .unwrap();
    let calendar = format!("/api/v1/coaches/{}/calendar.ics", s.anna_coach_id);
    let event = |token: String| {
        let (calendar, app) = (calendar.clone(), &s.app);
        async move {
            let body = read(app, &calendar, token, None)
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let events = crate::scheduling::parse_ics(&body);
            assert_eq!(events.len(), 1, "one event for the group");
            events.into_iter().next().unwrap()
        }
    };
    let before = event(s.anna.clone()).await;
    assert_eq!(before["SEQUENCE"], "0");
    s.app.advance(chrono::Duration::minutes(10));
    // Stopped, so that the stamp read back is the change's, not a second later's.
    s.app.clock.set(s.app.now());
    let anna = s.app.coach_token(0).await;
    let place = created["participants"][1]["session_id"]
        .as_str()
        .or_else(|| created["participants"][1]["id"].as_str())
        .unwrap()
        .to_string();
    let cancelled = s
        .app
        .post_json(
            &format!("/api/v1/sessions/{place}/cancel"),
            &anna,
            &json!({"requested_by": "coachee", "reason": "another appointment"}),
        )
        .await;
    assert_eq!(cancelled.status(), 200);
    let after = event(anna.clone()).await;
    assert_eq!(after["SEQUENCE"], "1");
    let now = crate::scheduling::ics_stamp(s.app.now());
    assert_eq!(after["DTSTAMP"], now, "the stamp moved with the sequence");
    assert_eq!(after["LAST-MODIFIED"], now);
    assert_ne!(before["DTSTAMP"], after["DTSTAMP"]);
}

api_test!(a_group_events_stamp_moves_with_its_sequence);
