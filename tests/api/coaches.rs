//! Coaches: the provider manages them, a coach keeps their own profile, an employer sees only
//! the professional profile, and another organisation sees nothing (404).

use reqwest::Method;
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{
    assert_problem, etag_version, first_pointer, spawn_app, Backend, OTHER_PASSWORD,
};

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

async fn post_empty(app: &crate::helpers::TestApp, path: &str, token: &str) -> reqwest::Response {
    app.request(Method::POST, path, Some(token))
        .send()
        .await
        .unwrap()
}

async fn set_password(
    app: &crate::helpers::TestApp,
    token: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/set-password"))
        .json(&json!({"setup_token": token, "password": password}))
        .send()
        .await
        .unwrap()
}

fn problem_type(problem: &Value) -> &str {
    problem["type"].as_str().unwrap_or_default()
}

/// Issue 16, one coach one person: a coach the planner added gets one login, whose password
/// only the coach chooses (with a one-time setup token); the same email is never a second coach.
async fn a_coach_added_by_the_planner_gets_one_login_whose_password_they_choose(backend: Backend) {
    let app = spawn_app(backend).await;
    let planner = app.planner_token().await;
    let added = app
        .post_json(
            "/api/v1/coaches",
            &planner,
            &new_coach("Carla Jansen", "carla@coachwise.example"),
        )
        .await;
    assert_eq!(added.status(), 201);
    let carla: Value = added.json().await.unwrap();
    let id = carla["id"].as_str().unwrap().to_string();
    // The same person again, however the email is written: a 409 that names the coach.
    let again = app
        .post_json(
            "/api/v1/coaches",
            &planner,
            &new_coach("Carla J.", "Carla@Coachwise.EXAMPLE"),
        )
        .await;
    let problem = assert_problem(again, 409).await;
    assert_eq!(
        problem_type(&problem),
        "urn:trajectum:problem:coach-email-taken"
    );
    assert_eq!(problem["existing_coach_id"], id.as_str());

    let login_path = format!("/api/v1/coaches/{id}/login");
    // Only the provider's admins give logins; another provider does not find the coach.
    let hr = app.hr_token().await;
    let anna = app.coach_token(0).await;
    assert_problem(post_empty(&app, &login_path, &hr).await, 403).await;
    assert_problem(post_empty(&app, &login_path, &anna).await, 403).await;
    let other = app.seed_other_tenant().await;
    let other_admin = app.access_token(&other.admin_email, OTHER_PASSWORD).await;
    assert_problem(post_empty(&app, &login_path, &other_admin).await, 404).await;

    let granted = post_empty(&app, &login_path, &planner).await;
    assert_eq!(granted.status(), 201);
    assert_eq!(granted.headers()["cache-control"], "no-store");
    let granted: Value = granted.json().await.unwrap();
    assert_eq!(granted["coach_id"], id.as_str());
    assert_eq!(granted["email"], "carla@coachwise.example");
    let first_token = granted["setup_token"].as_str().unwrap().to_string();
    let coach: Value = app
        .get(&format!("/api/v1/coaches/{id}"), &planner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (coach["has_login"].as_bool(), coach["version"].as_i64()),
        (Some(true), Some(2))
    );
    // No password works until Carla chose one.
    for password in ["", "!", "a long enough password"] {
        let refused = app
            .token_request(&[
                ("grant_type", "password"),
                ("username", "carla@coachwise.example"),
                ("password", password),
            ])
            .await;
        assert_eq!(refused.status(), 400, "{password:?}");
    }
    // Asked again before she did: a new token replaces the first.
    let regranted: Value = post_empty(&app, &login_path, &planner)
        .await
        .json()
        .await
        .unwrap();
    let token = regranted["setup_token"].as_str().unwrap().to_string();
    assert_eq!(regranted["user_id"], granted["user_id"]);
    let stale = assert_problem(
        set_password(&app, &first_token, "carla's own long password").await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&stale), "/setup_token");
    let short = assert_problem(set_password(&app, &token, "too short").await, 422).await;
    assert_eq!(first_pointer(&short), "/password");
    assert_eq!(
        set_password(&app, &token, "carla's own long password")
            .await
            .status(),
        204
    );
    let spent = assert_problem(
        set_password(&app, &token, "another long password").await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&spent), "/setup_token");

    // She signs in as the coach the planner added, not as a second one.
    let carla_token = app
        .access_token("carla@coachwise.example", "carla's own long password")
        .await;
    let me: Value = app
        .get("/api/v1/me", &carla_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["coach_id"], id.as_str());
    let has_login = assert_problem(post_empty(&app, &login_path, &planner).await, 409).await;
    assert_eq!(
        problem_type(&has_login),
        "urn:trajectum:problem:coach-has-login"
    );

    // Her login follows her email; another coach's email or another login's is refused.
    let coach_path = format!("/api/v1/coaches/{id}");
    let change = |email: &'static str| {
        let (app, path, planner) = (&app, coach_path.clone(), planner.clone());
        async move {
            app.patch_json(&path, &planner, &json!({ "email": email }))
                .await
        }
    };
    let taken = assert_problem(change("anna@coachwise.example").await, 409).await;
    assert_eq!(
        problem_type(&taken),
        "urn:trajectum:problem:coach-email-taken"
    );
    let login_elsewhere = assert_problem(change("hr@acme.example").await, 409).await;
    assert_eq!(
        problem_type(&login_elsewhere),
        "urn:trajectum:problem:email-has-login"
    );
    assert_eq!(change("carla.jansen@coachwise.example").await.status(), 200);
    app.access_token(
        "carla.jansen@coachwise.example",
        "carla's own long password",
    )
    .await;

    // A setup token works for 7 days.
    let dirk: Value = app
        .post_json(
            "/api/v1/coaches",
            &planner,
            &new_coach("Dirk Smit", "dirk@coachwise.example"),
        )
        .await
        .json()
        .await
        .unwrap();
    let dirk_login = format!("/api/v1/coaches/{}/login", dirk["id"].as_str().unwrap());
    let granted: Value = post_empty(&app, &dirk_login, &planner)
        .await
        .json()
        .await
        .unwrap();
    app.advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    let expired = assert_problem(
        set_password(
            &app,
            granted["setup_token"].as_str().unwrap(),
            "dirk's own long password",
        )
        .await,
        422,
    )
    .await;
    assert_eq!(first_pointer(&expired), "/setup_token");
}

/// Issue 16: the same coach added twice at once is one coach, and the same login given twice at
/// once is one login with one working setup token (the coach's row is locked).
async fn concurrent_adds_and_logins_make_one_coach_and_one_login(backend: Backend) {
    const AT_ONCE: usize = 8;
    let app = spawn_app(backend).await;
    let planner = app.planner_token().await;
    let adds = (0..AT_ONCE).map(|n| {
        let (app, planner) = (&app, planner.clone());
        async move {
            app.post_json(
                "/api/v1/coaches",
                &planner,
                &new_coach(&format!("Eva {n}"), "eva@coachwise.example"),
            )
            .await
        }
    });
    let mut statuses = vec![];
    let mut id = String::new();
    for response in futures_util::future::join_all(adds).await {
        statuses.push(response.status().as_u16());
        if response.status() == 201 {
            let coach: Value = response.json().await.unwrap();
            id = coach["id"].as_str().unwrap().to_string();
        } else {
            let problem = assert_problem(response, 409).await;
            assert_eq!(
                problem_type(&problem),
                "urn:trajectum:problem:coach-email-taken"
            );
        }
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|&&s| s == 409).count(), AT_ONCE - 1);

    let path = format!("/api/v1/coaches/{id}/login");
    let grants = (0..AT_ONCE).map(|_| post_empty(&app, &path, &planner));
    let mut tokens = vec![];
    for response in futures_util::future::join_all(grants).await {
        assert_eq!(response.status(), 201);
        let granted: Value = response.json().await.unwrap();
        tokens.push(granted["setup_token"].as_str().unwrap().to_string());
    }
    let (users, setups) = app
        .blocking(|conn| {
            use diesel::prelude::*;
            use trajectum::db::schema::{login_setups, users};
            let users: i64 = users::table
                .filter(users::email.eq("eva@coachwise.example"))
                .count()
                .get_result(conn)?;
            let setups: i64 = login_setups::table.count().get_result(conn)?;
            Ok((users, setups))
        })
        .await;
    assert_eq!((users, setups), (1, 1), "one login, one token that works");
    let mut working = 0;
    for token in &tokens {
        if set_password(&app, token, "eva's own long password")
            .await
            .status()
            == 204
        {
            working += 1;
        }
    }
    assert_eq!(working, 1, "exactly one of the tokens set the password");
}

/// Issue 16: `trajectum admin create-user` for the email of a coach the planner added gives that
/// coach the login, and a second login for the same person is refused.
async fn the_admin_command_gives_an_existing_coach_the_login(backend: Backend) {
    let app = spawn_app(backend).await;
    let planner = app.planner_token().await;
    let added: Value = app
        .post_json(
            "/api/v1/coaches",
            &planner,
            &new_coach("Fenna de Wit", "fenna@coachwise.example"),
        )
        .await
        .json()
        .await
        .unwrap();
    let args = [
        "admin",
        "create-user",
        "--org",
        trajectum::admin::demo::PROVIDER_ID,
        "--email",
        "Fenna@coachwise.example",
        "--name",
        "Fenna de Wit",
        "--role",
        "coach",
    ];
    let env = [("TRAJECTUM_NEW_PASSWORD", "fenna's own long password")];
    let output = crate::binary::run(&app.db, &args, &env);
    assert_eq!(crate::binary::value(&output, "coach_id"), added["id"]);
    let fenna = app
        .access_token("fenna@coachwise.example", "fenna's own long password")
        .await;
    let me: Value = app.get("/api/v1/me", &fenna).await.json().await.unwrap();
    assert_eq!(me["coach_id"], added["id"]);
    let coaches: Value = app
        .get("/api/v1/coaches?limit=200", &planner)
        .await
        .json()
        .await
        .unwrap();
    let fennas = coaches["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["email"] == "fenna@coachwise.example")
        .count();
    assert_eq!(fennas, 1);
    let twice = crate::binary::run_refused(&app.db, &args, &env);
    assert!(twice.contains("signs in already"), "{twice}");
}

/// Issue 16: a setup token sets a login's first password only. One issued while the coach was
/// setting theirs (a grant racing the setup) sets nothing; a lost password or a token someone
/// else used is the operator's to reset (`admin reset-login`), which ends the login's sessions.
async fn a_setup_token_sets_only_a_first_password_and_the_operator_resets_a_login(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let planner = app.planner_token().await;
    let carla: Value = app
        .post_json(
            "/api/v1/coaches",
            &planner,
            &new_coach("Carla Jansen", "carla@coachwise.example"),
        )
        .await
        .json()
        .await
        .unwrap();
    let login_path = format!("/api/v1/coaches/{}/login", carla["id"].as_str().unwrap());
    let granted: Value = post_empty(&app, &login_path, &planner)
        .await
        .json()
        .await
        .unwrap();
    let token = granted["setup_token"].as_str().unwrap();
    assert_eq!(
        set_password(&app, token, "carla's own long password")
            .await
            .status(),
        204
    );
    // What the race leaves behind: a working token for a login that has its password.
    let user_id = granted["user_id"].as_str().unwrap().to_string();
    let late = "trj_setup_issued-while-carla-set-her-password";
    let digest = trajectum::auth::secrets::hash_client_secret(late);
    let expires = (app.now() + chrono::Duration::days(7)).naive_utc();
    app.blocking(move |conn| {
        trajectum::db::identity::replace_login_setup(
            conn,
            &trajectum::db::identity::LoginSetup {
                token_hash: digest,
                user_id,
                expires_at: expires,
                created_at: expires,
            },
        )?;
        Ok(())
    })
    .await;
    let refused = assert_problem(set_password(&app, late, "a takeover password!").await, 422).await;
    assert_eq!(first_pointer(&refused), "/setup_token");
    let session = app
        .login("carla@coachwise.example", "carla's own long password")
        .await;

    // The operator resets her login: the password and the session end, a new token works once.
    let reset = crate::binary::run(
        &app.db,
        &["admin", "reset-login", "--email", "carla@coachwise.example"],
        &[],
    );
    let token = crate::binary::value(&reset, "setup_token").to_string();
    let old_password = app
        .token_request(&[
            ("grant_type", "password"),
            ("username", "carla@coachwise.example"),
            ("password", "carla's own long password"),
        ])
        .await;
    assert_eq!(old_password.status(), 400);
    let refresh = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", session["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(refresh.status(), 400, "her login sessions ended");
    assert_eq!(
        set_password(&app, &token, "carla's new long password")
            .await
            .status(),
        204
    );
    app.access_token("carla@coachwise.example", "carla's new long password")
        .await;
}

api_test!(
    a_setup_token_sets_only_a_first_password_and_the_operator_resets_a_login,
    a_coach_added_by_the_planner_gets_one_login_whose_password_they_choose,
    concurrent_adds_and_logins_make_one_coach_and_one_login,
    the_admin_command_gives_an_existing_coach_the_login,
    the_provider_admin_adds_and_reads_a_coach,
    an_invalid_coach_is_a_422_naming_every_field,
    a_change_needs_the_current_version,
    a_coach_keeps_their_own_profile_but_not_others,
    an_employer_sees_only_the_professional_profile,
    another_organisations_coach_is_a_404,
    coaches_page_with_a_cursor,
);
