//! Access that ends when it should (issue 19 §4), tried as an attacker would: a coach who left,
//! a disabled login or client, a revoked token, a forged `sub` or `org`, two `Authorization`
//! headers, a replaced coachee link, and the throttle counting failures only, across instances.

use reqwest::Method;
use serde_json::{json, Value};
use trajectum::admin::demo;

use crate::api_test;
use crate::helpers::{assert_problem, spawn_app, spawn_app_with, Backend, TestApp, OTHER_PASSWORD};
use crate::scene::Scene;
use crate::tokens::{signed, stored_claims, with};

async fn me(app: &TestApp, token: &str) -> Value {
    let response = app.get("/api/v1/me", token).await;
    assert_eq!(response.status(), 200, "/me");
    response.json().await.unwrap()
}

async fn password_grant(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.token_request(&[
        ("grant_type", "password"),
        ("username", email),
        ("password", password),
    ])
    .await
}

async fn client_grant(app: &TestApp, secret: &str) -> reqwest::Response {
    app.token_request(&[
        ("grant_type", "client_credentials"),
        ("client_id", demo::CLIENT_ID),
        ("client_secret", secret),
    ])
    .await
}

fn problem_type_ends_with(problem: &Value, slug: &str) {
    assert!(
        problem["type"].as_str().unwrap_or("").ends_with(slug),
        "expected {slug}: {problem}"
    );
}

/// DOMAIN.md "Who may see what" (000): the coaching relationship rests on trust, so a coach who
/// leaves does not keep reading intakes, and their orders go to another coach by a planner's
/// decision, never silently.
async fn a_coach_who_leaves_is_unassigned_by_a_planner_then_locked_out(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.accepted().await;
    let coach = format!("/api/v1/coaches/{}", s.anna_coach_id);
    let refused = s
        .app
        .patch_json(&coach, &s.planner, &json!({"active": false}))
        .await;
    let problem = assert_problem(refused, 409).await;
    problem_type_ends_with(&problem, "coach-has-open-orders");
    assert!(
        problem["detail"].as_str().unwrap().contains(&order),
        "{problem}"
    );
    assert_eq!(
        s.app
            .get(&Scene::path(&order, "/intake"), &s.anna)
            .await
            .status(),
        200,
        "nothing changed: Anna still coaches"
    );

    // Nor is her login disabled around that rule.
    let anna_user = me(&s.app, &s.anna).await["subject_id"].clone();
    let login_off = s
        .app
        .patch_json(
            &format!("/api/v1/users/{}", anna_user.as_str().unwrap()),
            &s.planner,
            &json!({"active": false}),
        )
        .await;
    problem_type_ends_with(
        &assert_problem(login_off, 409).await,
        "coach-has-open-orders",
    );

    let bram_coach_id = me(&s.app, &s.bram).await["coach_id"].clone();
    let reassigned = s
        .app
        .post_json(
            &Scene::path(&order, "/assign"),
            &s.planner,
            &json!({"coach_id": bram_coach_id}),
        )
        .await;
    assert_eq!(reassigned.status(), 200);
    let deactivated = s
        .app
        .patch_json(&coach, &s.planner, &json!({"active": false}))
        .await;
    assert_eq!(deactivated.status(), 200);

    // Her live token is refused on its next request, and she cannot sign in again.
    assert_problem(s.app.get("/api/v1/me", &s.anna).await, 401).await;
    let login = password_grant(&s.app, demo::COACH_EMAILS[0], demo::COACH_PASSWORD).await;
    assert_eq!(assert_problem(login, 400).await["error"], "invalid_grant");

    // Active again (she came back): she signs in.
    let back = s
        .app
        .patch_json(&coach, &s.planner, &json!({"active": true}))
        .await;
    assert_eq!(back.status(), 200);
    let login = password_grant(&s.app, demo::COACH_EMAILS[0], demo::COACH_PASSWORD).await;
    assert_eq!(login.status(), 200);
}

async fn a_disabled_login_is_refused_on_its_next_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let session = app.login(demo::HR_EMAIL, demo::HR_PASSWORD).await;
    let hr = session["access_token"].as_str().unwrap().to_string();
    let system = app.client_token().await;
    let users: Value = app
        .get("/api/v1/users", &system)
        .await
        .json()
        .await
        .unwrap();
    let hr_user = users["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == demo::HR_EMAIL)
        .expect("the HR user is listed")
        .clone();
    assert_eq!(hr_user["active"], true);
    let path = format!("/api/v1/users/{}", hr_user["id"].as_str().unwrap());

    // No one disables the login they call with.
    let own = app.patch_json(&path, &hr, &json!({"active": false})).await;
    problem_type_ends_with(&assert_problem(own, 409).await, "own-access");

    let disabled = app
        .patch_json(&path, &system, &json!({"active": false}))
        .await;
    assert_eq!(disabled.status(), 200);
    let disabled: Value = disabled.json().await.unwrap();
    assert_eq!(disabled["active"], false);
    assert_problem(app.get("/api/v1/me", &hr).await, 401).await;
    let refresh = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", session["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(assert_problem(refresh, 400).await["error"], "invalid_grant");
    let login = password_grant(&app, demo::HR_EMAIL, demo::HR_PASSWORD).await;
    assert_eq!(assert_problem(login, 400).await["error"], "invalid_grant");

    let enabled = app
        .patch_json(&path, &system, &json!({"active": true}))
        .await;
    assert_eq!(enabled.status(), 200);
    assert_eq!(
        password_grant(&app, demo::HR_EMAIL, demo::HR_PASSWORD)
            .await
            .status(),
        200
    );

    // A coach whose login is disabled (and who holds no open order) is not assigned new ones.
    let planner = app.planner_token().await;
    let bram = app.coach_token(1).await;
    let bram_me = me(&app, &bram).await;
    let bram_login = format!("/api/v1/users/{}", bram_me["subject_id"].as_str().unwrap());
    let off = app
        .patch_json(&bram_login, &planner, &json!({"active": false}))
        .await;
    assert_eq!(off.status(), 200);
    let order: Value = app
        .post_json("/api/v1/orders", &system, &crate::scene::minimal_order())
        .await
        .json()
        .await
        .unwrap();
    let assign = app
        .post_json(
            &format!("/api/v1/orders/{}/assign", order["id"].as_str().unwrap()),
            &planner,
            &json!({"coach_id": bram_me["coach_id"]}),
        )
        .await;
    let problem = assert_problem(assign, 422).await;
    assert_eq!(problem["errors"][0]["pointer"], "/coach_id", "{problem}");

    // Another organisation's login is not there to be disabled.
    let other = app.seed_other_tenant().await;
    let other_hr = app.access_token(&other.hr_email, OTHER_PASSWORD).await;
    let other_id = me(&app, &other_hr).await["subject_id"].clone();
    let foreign = app
        .patch_json(
            &format!("/api/v1/users/{}", other_id.as_str().unwrap()),
            &system,
            &json!({"active": false}),
        )
        .await;
    assert_problem(foreign, 404).await;
    assert_eq!(app.get("/api/v1/me", &other_hr).await.status(), 200);
}

async fn a_disabled_client_is_refused_on_its_next_request(backend: Backend) {
    let app = spawn_app(backend).await;
    let system = app.client_token().await;
    let hr = app.hr_token().await;
    let clients: Value = app.get("/api/v1/clients", &hr).await.json().await.unwrap();
    let client = clients["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == demo::CLIENT_ID)
        .expect("the HR system is listed")
        .clone();
    let path = format!("/api/v1/clients/{}", client["id"].as_str().unwrap());
    let own = app
        .patch_json(&path, &system, &json!({"active": false}))
        .await;
    problem_type_ends_with(&assert_problem(own, 409).await, "own-access");

    // A token's `iat` has whole seconds: the disabling comes in a later second than the token.
    app.advance(chrono::Duration::seconds(2));
    let disabled = app.patch_json(&path, &hr, &json!({"active": false})).await;
    assert_eq!(disabled.status(), 200);
    assert_problem(app.get("/api/v1/orders", &system).await, 401).await;
    let grant = client_grant(&app, demo::CLIENT_SECRET).await;
    assert_eq!(assert_problem(grant, 401).await["error"], "invalid_client");

    let enabled = app.patch_json(&path, &hr, &json!({"active": true})).await;
    assert_eq!(enabled.status(), 200);
    // Enabled again, it gets new tokens; the one from before the disabling stays refused.
    assert_problem(app.get("/api/v1/orders", &system).await, 401).await;
    let fresh = client_grant(&app, demo::CLIENT_SECRET).await;
    assert_eq!(fresh.status(), 200);
    let fresh: Value = fresh.json().await.unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/orders", fresh).await.status(), 200);
}

async fn a_client_secret_rotates_with_a_day_of_overlap(backend: Backend) {
    let app = spawn_app(backend).await;
    let system = app.client_token().await;
    let id = me(&app, &system).await["subject_id"].clone();
    let rotated = app
        .request(
            Method::POST,
            &format!("/api/v1/clients/{}/rotate-secret", id.as_str().unwrap()),
            Some(&system),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    assert_eq!(rotated.headers()["cache-control"], "no-store");
    let rotated: Value = rotated.json().await.unwrap();
    let new_secret = rotated["client_secret"].as_str().unwrap().to_string();
    assert!(rotated["client"]["previous_secret_expires_at"].is_string());

    // Both work during the overlap.
    assert_eq!(client_grant(&app, demo::CLIENT_SECRET).await.status(), 200);
    assert_eq!(client_grant(&app, &new_secret).await.status(), 200);
    // After a day only the new one does.
    app.advance(chrono::Duration::hours(25));
    let old = client_grant(&app, demo::CLIENT_SECRET).await;
    assert_eq!(assert_problem(old, 401).await["error"], "invalid_client");
    assert_eq!(client_grant(&app, &new_secret).await.status(), 200);
}

/// A secret that leaked stops working at once: a rotation with `overlap_hours=0` keeps no
/// previous secret, not even one an earlier rotation left working, and ends the tokens issued
/// before it. The client itself may not cut its own overlap short (a token that leaked must not
/// lock the HR system out); the employer's HR user does.
async fn a_leaked_client_secret_ends_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let system = app.client_token().await;
    let hr = app.hr_token().await;
    let id = me(&app, &system).await["subject_id"].clone();
    let rotate = |token: &str, query: &str| {
        let (app, token) = (&app, token.to_string());
        let path = format!(
            "/api/v1/clients/{}/rotate-secret{query}",
            id.as_str().unwrap()
        );
        async move {
            app.request(Method::POST, &path, Some(&token))
                .send()
                .await
                .unwrap()
        }
    };
    let first = rotate(&system, "").await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let first_secret = first["client_secret"].as_str().unwrap().to_string();
    let own = assert_problem(rotate(&system, "?overlap_hours=0").await, 409).await;
    problem_type_ends_with(&own, "own-access");

    app.advance(chrono::Duration::seconds(1));
    let leaked = rotate(&hr, "?overlap_hours=0").await;
    assert_eq!(leaked.status(), 200);
    let leaked: Value = leaked.json().await.unwrap();
    assert!(leaked["client"]["previous_secret_expires_at"].is_null());
    let current = leaked["client_secret"].as_str().unwrap().to_string();
    for gone in [demo::CLIENT_SECRET, first_secret.as_str()] {
        let refused = client_grant(&app, gone).await;
        assert_eq!(
            assert_problem(refused, 401).await["error"],
            "invalid_client"
        );
    }
    assert_problem(app.get("/api/v1/orders", &system).await, 401).await;
    let fresh = client_grant(&app, &current).await;
    assert_eq!(fresh.status(), 200);
    let fresh: Value = fresh.json().await.unwrap();
    let fresh = fresh["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/orders", fresh).await.status(), 200);

    let too_long = rotate(&hr, "?overlap_hours=25").await;
    let problem = assert_problem(too_long, 400).await;
    assert_eq!(problem["errors"][0]["pointer"], "overlap_hours");
    // Refused before anything changed: the current secret still works.
    assert_eq!(client_grant(&app, &current).await.status(), 200);
}

/// With the signing key alone, a token for a subject that does not exist, or for another
/// organisation or role than its subject's, gets nothing (defence in depth).
async fn forged_subjects_organisations_and_roles_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let honest = stored_claims(&app).await;
    assert_eq!(
        app.get("/api/v1/orders", &signed(&honest)).await.status(),
        200
    );
    let forgeries = [
        (
            "a client that does not exist",
            with(
                honest.clone(),
                "sub",
                json!(uuid::Uuid::new_v4().to_string()),
            ),
        ),
        (
            "another organisation",
            with(honest.clone(), "org", json!(demo::PROVIDER_ID)),
        ),
        (
            "another role",
            with(honest.clone(), "role", json!("provider_admin")),
        ),
        (
            "a user, not a client",
            with(honest.clone(), "sub_type", json!("user")),
        ),
    ];
    for (what, claims) in forgeries {
        let token = signed(&claims);
        let created = app
            .post_json("/api/v1/orders", &token, &crate::scene::minimal_order())
            .await;
        assert_eq!(created.status(), 401, "{what}");
        assert_problem(app.get("/api/v1/orders", &token).await, 401).await;
    }
    // A forged org naming another employer reads none of its orders.
    let other = app.seed_other_tenant().await;
    let other_hr = app.access_token(&other.hr_email, OTHER_PASSWORD).await;
    let other_org = me(&app, &other_hr).await["organisation"]["id"].clone();
    let token = signed(&with(honest, "org", other_org));
    assert_problem(app.get("/api/v1/orders", &token).await, 401).await;
}

/// RFC 9110 §11.6.2: one `Authorization` header. Two are not served as the first.
async fn two_authorization_headers_are_a_400(backend: Backend) {
    let app = spawn_app(backend).await;
    let planner = app.planner_token().await;
    let hr = app.hr_token().await;
    for path in ["/api/v1/orders", "/api/v1/me", "/health/live"] {
        let response = app
            .client
            .request(Method::GET, app.url(path))
            .header("authorization", format!("Bearer {planner}"))
            .header("authorization", format!("Bearer {hr}"))
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 400).await;
        assert_eq!(problem["errors"][0]["pointer"], "Authorization", "{path}");
    }
    let token = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .basic_auth(demo::CLIENT_ID, Some(demo::CLIENT_SECRET))
        .header("authorization", format!("Bearer {hr}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_problem(token, 400).await;
}

/// An order has one live coachee link: a new one replaces the old, which stops at once.
async fn a_new_coachee_link_replaces_the_old(backend: Backend) {
    let s = Scene::new(backend).await;
    let order = s.active().await;
    let first = s.coachee_token(&order).await;
    assert_eq!(
        s.app.get("/api/v1/coachee/order", &first).await.status(),
        200
    );
    let issued = s
        .app
        .post_json(&Scene::path(&order, "/coachee-link"), &s.anna, &json!({}))
        .await;
    assert_eq!(issued.status(), 201);
    let issued: Value = issued.json().await.unwrap();
    assert_eq!(issued["replaced_links"], 1);
    let second = issued["token"].as_str().unwrap();
    assert_problem(s.app.get("/api/v1/coachee/order", &first).await, 401).await;
    assert_eq!(
        s.app.get("/api/v1/coachee/order", second).await.status(),
        200
    );
}

/// The throttle counts failures, not attempts in flight: a burst of correct sign-ins for one
/// account all succeed.
async fn parallel_correct_logins_are_not_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    let logins = (0..12).map(|_| password_grant(&app, demo::HR_EMAIL, demo::HR_PASSWORD));
    let statuses: Vec<u16> = futures_util::future::join_all(logins)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(statuses, vec![200; 12]);
}

/// Issue 19 §6: two instances on one database are one service. The throttle's failures and a
/// disabling through one instance hold on the other.
async fn two_instances_share_the_throttle_and_disabling(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.login_max_failures = 3;
        s.access_recheck_seconds = 0;
    })
    .await;
    let other = app
        .another_instance(|s| {
            s.login_max_failures = 3;
            s.access_recheck_seconds = 0;
        })
        .await;
    let wrong = |address: String| {
        let client = app.client.clone();
        async move {
            client
                .post(format!("{address}/api/v1/auth/token"))
                .form(&[
                    ("grant_type", "password"),
                    ("username", demo::HR_EMAIL),
                    ("password", "not-the-password"),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Two failures here, one there: the account is locked on both.
    assert_eq!(wrong(app.address.clone()).await, 400);
    assert_eq!(wrong(other.clone()).await, 400);
    assert_eq!(wrong(app.address.clone()).await, 400);
    assert_eq!(wrong(other.clone()).await, 429);
    assert_eq!(wrong(app.address.clone()).await, 429);

    // A client disabled through the second instance is refused by the first.
    let system = app.client_token().await;
    let id = me(&app, &system).await["subject_id"].clone();
    assert_eq!(app.get("/api/v1/orders", &system).await.status(), 200);
    let employer_user = second_hr_login(&app).await;
    let disabled = app
        .client
        .request(
            Method::PATCH,
            format!("{other}/api/v1/clients/{}", id.as_str().unwrap()),
        )
        .bearer_auth(&employer_user)
        .json(&json!({"active": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), 200);
    assert_problem(app.get("/api/v1/orders", &system).await, 401).await;
}

/// A second HR user of the demo employer (the demo HR user is locked out by the test above).
async fn second_hr_login(app: &TestApp) -> String {
    let now = app.now();
    app.blocking(move |conn| {
        trajectum::admin::create_user(
            conn,
            now,
            trajectum::admin::NewUser {
                id: None,
                organisation_id: demo::EMPLOYER_ID,
                email: "second-hr@acme.example",
                name: "Second HR",
                role: trajectum::domain::principal::Role::Employer,
                password: OTHER_PASSWORD,
                specialisms: vec![],
                languages: vec![],
                time_zone: None,
            },
        )
        .map(drop)
    })
    .await;
    app.access_token("second-hr@acme.example", OTHER_PASSWORD)
        .await
}

/// STYLE.md 16, the race of a coach's leaving against an order's assignment: deactivating a
/// coach and assigning them an order, fired at once, never both succeed (no inactive coach left
/// holding an open order); both lock the coach first.
async fn deactivating_a_coach_and_assigning_them_an_order_at_once_never_both_succeed(
    backend: Backend,
) {
    let s = Scene::new(backend).await;
    for round in 0..6 {
        let email = format!("racer{round}@coachwise.example");
        let now = s.app.now();
        let coach_id = s
            .app
            .blocking(move |conn| {
                let created = trajectum::admin::create_user(
                    conn,
                    now,
                    trajectum::admin::NewUser {
                        id: None,
                        organisation_id: demo::PROVIDER_ID,
                        email: &email,
                        name: "Race Coach",
                        role: trajectum::domain::principal::Role::Coach,
                        password: OTHER_PASSWORD,
                        specialisms: vec![],
                        languages: vec!["nl".into()],
                        time_zone: None,
                    },
                )?;
                Ok(created.coach.expect("a coach profile").id)
            })
            .await;
        let order = s.create(&crate::scene::minimal_order()).await;
        let order = order["id"].as_str().unwrap().to_string();
        let (coach_path, order_path) = (
            format!("/api/v1/coaches/{coach_id}"),
            Scene::path(&order, "/assign"),
        );
        let (off, to) = (json!({"active": false}), json!({"coach_id": coach_id}));
        let deactivate = s.app.patch_json(&coach_path, &s.planner, &off);
        let assign = s.app.post_json(&order_path, &s.planner, &to);
        let (deactivated, assigned) = tokio::join!(deactivate, assign);
        let outcome = (deactivated.status().as_u16(), assigned.status().as_u16());
        assert!(
            outcome == (200, 422) || outcome == (409, 200),
            "round {round}: deactivation {} and assignment {}",
            outcome.0,
            outcome.1
        );
    }
}

/// The sign-in throttle under concurrent failures: every failure counts (none lost to a race),
/// so after more wrong guesses than the limit, fired at once, the account is locked.
async fn concurrent_failed_logins_all_count(backend: Backend) {
    let app = spawn_app_with(backend, |s| s.login_max_failures = 5).await;
    let guesses = (0..10).map(|_| password_grant(&app, demo::HR_EMAIL, "not-the-password"));
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(
        statuses.iter().all(|s| [400, 429].contains(s)),
        "{statuses:?}"
    );
    let correct = password_grant(&app, demo::HR_EMAIL, demo::HR_PASSWORD).await;
    assert_eq!(correct.status(), 429, "at least five failures were counted");
}

api_test!(
    deactivating_a_coach_and_assigning_them_an_order_at_once_never_both_succeed,
    concurrent_failed_logins_all_count,
    a_coach_who_leaves_is_unassigned_by_a_planner_then_locked_out,
    a_disabled_login_is_refused_on_its_next_request,
    a_disabled_client_is_refused_on_its_next_request,
    a_client_secret_rotates_with_a_day_of_overlap,
    a_leaked_client_secret_ends_at_once,
    forged_subjects_organisations_and_roles_are_refused,
    two_authorization_headers_are_a_400,
    a_new_coachee_link_replaces_the_old,
    parallel_correct_logins_are_not_throttled,
    two_instances_share_the_throttle_and_disabling,
    disabling_a_client_while_its_secret_rotates_leaves_it_disabled,
);

/// STYLE.md 16, a client's row: disabling a client and rotating its secret, fired at once, never
/// leave the client enabled (a rotation that read the row before the disabling must not write
/// its `active` back), and the secret the rotation answered with is the one stored.
async fn disabling_a_client_while_its_secret_rotates_leaves_it_disabled(backend: Backend) {
    let app = spawn_app(backend).await;
    let hr = app.hr_token().await;
    let system = app.client_token().await;
    let id = me(&app, &system).await["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    let client_path = format!("/api/v1/clients/{id}");
    let rotate_path = format!("/api/v1/clients/{id}/rotate-secret");
    for round in 0..8 {
        let enabled = app
            .patch_json(&client_path, &hr, &json!({"active": true}))
            .await;
        assert_eq!(enabled.status(), 200);
        let off = json!({"active": false});
        let disable = app.patch_json(&client_path, &hr, &off);
        let rotate = app.request(Method::POST, &rotate_path, Some(&hr)).send();
        let (disabled, rotated) = tokio::join!(disable, rotate);
        assert_eq!(disabled.status(), 200, "round {round}");
        let rotated = rotated.unwrap();
        assert_eq!(rotated.status(), 200, "round {round}");
        let rotated: Value = rotated.json().await.unwrap();
        let clients: Value = app.get("/api/v1/clients", &hr).await.json().await.unwrap();
        let client = clients["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.as_str())
            .unwrap()
            .clone();
        assert_eq!(client["active"], false, "round {round}: {client}");
        // The answered secret is the stored one: it signs in once the client is enabled.
        app.patch_json(&client_path, &hr, &json!({"active": true}))
            .await;
        let secret = rotated["client_secret"].as_str().unwrap();
        assert_eq!(
            client_grant(&app, secret).await.status(),
            200,
            "round {round}"
        );
    }
}
