//! Coaches: the provider manages them, a coach keeps their own profile, an employer sees only
//! the professional profile, and another organisation sees nothing (404).

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, etag_version, spawn_app, Backend, OTHER_PASSWORD};

fn new_coach(name: &str, email: &str) -> Value {
    json!({
        "name": name,
        "email": email,
        "specialisms": ["technical_background", "reintegration"],
        "languages": ["nl"],
        "time_zone": "Europe/Amsterdam"
    })
}

async fn the_provider_admin_adds_and_reads_a_coach(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let response = app
        .post_json(
            "/api/v1/coaches",
            &token,
            &new_coach("Carla Jansen", "Carla@Coachwise.example"),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(etag_version(&response), 1);
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/coaches/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["email"], "carla@coachwise.example");
    assert_eq!(created["active"], true);
    assert_eq!(created["has_login"], false);

    let fetched: Value = app.get(&location, &token).await.json().await.unwrap();
    assert_eq!(fetched, created);
}

async fn an_invalid_coach_is_a_422_naming_every_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let body = json!({
        "name": " ", "email": "nope", "specialisms": ["Tech!"], "languages": ["dutch"], "time_zone": "Amsterdam"
    });
    let problem = assert_problem(app.post_json("/api/v1/coaches", &token, &body).await, 422).await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/name",
            "/email",
            "/specialisms/0",
            "/languages/0",
            "/time_zone"
        ]
    );
    let list: Value = app
        .get("/api/v1/coaches", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        2,
        "nothing was written"
    );
}

async fn a_change_needs_the_current_version(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    let created: Value = app
        .post_json(
            "/api/v1/coaches",
            &token,
            &new_coach("Dirk", "dirk@coachwise.example"),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/api/v1/coaches/{}", created["id"].as_str().unwrap());
    let response = app
        .request(Method::PATCH, &path, Some(&token))
        .header("if-match", "\"1\"")
        .json(&json!({"languages": ["nl", "en"], "active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(etag_version(&response), 2);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["languages"], json!(["nl", "en"]));
    assert_eq!(changed["active"], false);
    assert_eq!(changed["name"], "Dirk", "absent fields stay");

    // A stale version is refused and changes nothing.
    let stale = app
        .request(Method::PATCH, &path, Some(&token))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Overwritten"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;
    let now: Value = app.get(&path, &token).await.json().await.unwrap();
    assert_eq!(now["name"], "Dirk");
    assert_eq!(now["version"], 2);
}

async fn a_coach_keeps_their_own_profile_but_not_others(backend: Backend) {
    let app = spawn_app(backend).await;
    let anna = app.coach_token(0).await;
    let me: Value = app.get("/api/v1/me", &anna).await.json().await.unwrap();
    let own = format!("/api/v1/coaches/{}", me["coach_id"].as_str().unwrap());
    let response = app
        .patch_json(
            &own,
            &anna,
            &json!({"specialisms": ["technical_background", "burnout"]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    // `active` is the provider's to set.
    assert_problem(
        app.patch_json(&own, &anna, &json!({"active": false})).await,
        403,
    )
    .await;

    let bram = app.coach_token(1).await;
    let bram_me: Value = app.get("/api/v1/me", &bram).await.json().await.unwrap();
    let colleague = format!("/api/v1/coaches/{}", bram_me["coach_id"].as_str().unwrap());
    assert_problem(
        app.patch_json(&colleague, &anna, &json!({"name": "Renamed"}))
            .await,
        403,
    )
    .await;
    // A colleague sees the professional profile only.
    let seen: Value = app.get(&colleague, &anna).await.json().await.unwrap();
    assert!(
        seen.get("email").is_none() && seen.get("time_zone").is_none(),
        "{seen}"
    );
    // Coaches do not add coaches.
    assert_problem(
        app.post_json("/api/v1/coaches", &anna, &new_coach("X", "x@x.example"))
            .await,
        403,
    )
    .await;
}

async fn an_employer_sees_only_the_professional_profile(backend: Backend) {
    let app = spawn_app(backend).await;
    for token in [app.hr_token().await, app.client_token().await] {
        let list: Value = app
            .get("/api/v1/coaches", &token)
            .await
            .json()
            .await
            .unwrap();
        let coaches = list["data"].as_array().unwrap();
        assert_eq!(coaches.len(), 2);
        for coach in coaches {
            let mut keys: Vec<&String> = coach.as_object().unwrap().keys().collect();
            keys.sort();
            assert_eq!(keys, ["id", "languages", "name", "specialisms"], "{coach}");
        }
        let one: Value = app
            .get(
                &format!("/api/v1/coaches/{}", coaches[0]["id"].as_str().unwrap()),
                &token,
            )
            .await
            .json()
            .await
            .unwrap();
        assert!(one.get("email").is_none());
        assert_problem(
            app.post_json("/api/v1/coaches", &token, &new_coach("X", "x@x.example"))
                .await,
            403,
        )
        .await;
        let id = coaches[0]["id"].as_str().unwrap();
        assert_problem(
            app.patch_json(
                &format!("/api/v1/coaches/{id}"),
                &token,
                &json!({"name": "HR edit"}),
            )
            .await,
            403,
        )
        .await;
    }
    // An inactive coach disappears from the employer's view.
    let planner = app.planner_token().await;
    let list: Value = app
        .get("/api/v1/coaches", &planner)
        .await
        .json()
        .await
        .unwrap();
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    app.patch_json(
        &format!("/api/v1/coaches/{id}"),
        &planner,
        &json!({"active": false}),
    )
    .await;
    let hr = app.hr_token().await;
    assert_problem(app.get(&format!("/api/v1/coaches/{id}"), &hr).await, 404).await;
    let list: Value = app.get("/api/v1/coaches", &hr).await.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
}

async fn another_organisations_coach_is_a_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let other = app.seed_other_tenant().await;
    let planner = app.planner_token().await;
    let list: Value = app
        .get("/api/v1/coaches", &planner)
        .await
        .json()
        .await
        .unwrap();
    let ours = list["data"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/coaches/{ours}");

    for (email, patch_status) in [
        (&other.admin_email, 404),
        (&other.coach_email, 404),
        // Employers never change coaches: refused by role, for any id, so nothing is probed.
        (&other.hr_email, 403),
    ] {
        let token = app.access_token(email, OTHER_PASSWORD).await;
        assert_problem(app.get(&path, &token).await, 404).await;
        let response = app
            .patch_json(&path, &token, &json!({"name": "Taken over"}))
            .await;
        assert_problem(response, patch_status).await;
        let theirs: Value = app
            .get("/api/v1/coaches", &token)
            .await
            .json()
            .await
            .unwrap();
        assert!(theirs["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["id"] != ours.as_str()));
    }
    let unchanged: Value = app.get(&path, &planner).await.json().await.unwrap();
    assert_ne!(unchanged["name"], "Taken over");
    assert_eq!(unchanged["version"], 1);
    // An id that does not exist looks the same as one that belongs to someone else.
    let missing = app
        .get(
            &format!("/api/v1/coaches/{}", uuid::Uuid::now_v7()),
            &planner,
        )
        .await;
    assert_problem(missing, 404).await;
}

async fn coaches_page_with_a_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let token = app.planner_token().await;
    for i in 0..5 {
        let response = app
            .post_json(
                "/api/v1/coaches",
                &token,
                &new_coach(&format!("Coach {i}"), &format!("c{i}@coachwise.example")),
            )
            .await;
        assert_eq!(response.status(), 201);
    }
    let mut seen = vec![];
    let mut path = "/api/v1/coaches?limit=3".to_string();
    let mut pages = 0;
    loop {
        let page: Value = app.get(&path, &token).await.json().await.unwrap();
        pages += 1;
        for coach in page["data"].as_array().unwrap() {
            seen.push(coach["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/coaches?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen, "in id order, without repeats");

    assert_problem(app.get("/api/v1/coaches?limit=0", &token).await, 400).await;
    assert_problem(app.get("/api/v1/coaches?limit=201", &token).await, 400).await;
    assert_problem(app.get("/api/v1/coaches?cursor=forged", &token).await, 400).await;
    let inactive: Value = app
        .get("/api/v1/coaches?active=false", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inactive["data"].as_array().unwrap().len(), 0);
    let future = app
        .get("/api/v1/coaches?updated_since=2999-01-01T00:00:00Z", &token)
        .await;
    let future: Value = future.json().await.unwrap();
    assert_eq!(future["data"].as_array().unwrap().len(), 0);
}

api_test!(
    the_provider_admin_adds_and_reads_a_coach,
    an_invalid_coach_is_a_422_naming_every_field,
    a_change_needs_the_current_version,
    a_coach_keeps_their_own_profile_but_not_others,
    an_employer_sees_only_the_professional_profile,
    another_organisations_coach_is_a_404,
    coaches_page_with_a_cursor,
);
