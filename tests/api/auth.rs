//! The token endpoint (RFC 6749), revocation (RFC 7009), throttling and `/me`.

use serde_json::Value;
use trajectum::admin::demo;

use crate::api_test;
use crate::helpers::{assert_problem, spawn_app, Backend, TestApp};

async fn an_hr_system_gets_a_token_with_client_credentials(backend: Backend) {
    let app = spawn_app(backend).await;
    // HTTP Basic client authentication (RFC 6749 §2.3.1).
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .basic_auth(demo::CLIENT_ID, Some(demo::CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["role"], "employer");
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token for clients (RFC 6749 §4.4.3)"
    );

    let me: Value = app
        .get("/api/v1/me", body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["subject_type"], "client");
    assert_eq!(me["role"], "employer");
    assert_eq!(me["organisation"]["id"], demo::EMPLOYER_ID);
    assert_eq!(me["organisation"]["kind"], "employer");
}

async fn a_wrong_client_secret_is_invalid_client(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .await;
    let problem = assert_problem(response, 401).await;
    assert_eq!(problem["error"], "invalid_client");
}

async fn a_person_signs_in_with_a_password(backend: Backend) {
    let app = spawn_app(backend).await;
    let login = app.login(demo::ADMIN_EMAIL, demo::ADMIN_PASSWORD).await;
    assert_eq!(login["role"], "provider_admin");
    assert!(login["refresh_token"].is_string());
    let me: Value = app
        .get("/api/v1/me", login["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["subject_type"], "user");
    assert_eq!(me["email"], demo::ADMIN_EMAIL);
    assert_eq!(me["organisation"]["id"], demo::PROVIDER_ID);

    let coach = app.login(demo::COACH_EMAILS[0], demo::COACH_PASSWORD).await;
    let me: Value = app
        .get("/api/v1/me", coach["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "coach");
    assert!(
        me["coach_id"].is_string(),
        "a coach's /me names their coach profile"
    );
}

async fn a_wrong_password_is_invalid_grant(backend: Backend) {
    let app = spawn_app(backend).await;
    for (user, password) in [
        (demo::HR_EMAIL, "wrong-password"),
        ("nobody@example.org", "whatever-password"),
    ] {
        let response = app
            .token_request(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", password),
            ])
            .await;
        let problem = assert_problem(response, 400).await;
        assert_eq!(problem["error"], "invalid_grant");
        assert_eq!(
            problem["error_description"], "the email or password is wrong",
            "same answer for unknown accounts"
        );
    }
}

async fn token_requests_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let problem = assert_problem(app.token_request(&[("grant_type", "implicit")]).await, 400).await;
    assert_eq!(problem["error"], "unsupported_grant_type");
    let problem = assert_problem(app.token_request(&[("username", "x")]).await, 400).await;
    assert_eq!(problem["error"], "invalid_request");
    let problem = assert_problem(
        app.token_request(&[("grant_type", "password"), ("username", "x")])
            .await,
        400,
    )
    .await;
    assert_eq!(problem["error"], "invalid_request");
    // JSON is not the token endpoint's media type (RFC 6749 §4.3.2).
    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 415).await;
}

async fn a_refresh_token_rotates_and_its_reuse_revokes_the_family(backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.login(demo::HR_EMAIL, demo::HR_PASSWORD).await;
    let refresh_1 = first["refresh_token"].as_str().unwrap().to_string();

    let response = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_1),
        ])
        .await;
    assert_eq!(response.status(), 200);
    let second: Value = response.json().await.unwrap();
    let refresh_2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(refresh_1, refresh_2);
    assert_eq!(
        app.get("/api/v1/me", second["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );

    // The rotated token comes back: someone kept a copy.
    let reuse = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_1),
        ])
        .await;
    let problem = assert_problem(reuse, 400).await;
    assert_eq!(problem["error"], "invalid_grant");
    assert!(problem["error_description"]
        .as_str()
        .unwrap()
        .contains("revoked"));

    // The whole family is gone, including the newest token.
    let after = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_2),
        ])
        .await;
    assert_eq!(assert_problem(after, 400).await["error"], "invalid_grant");

    // Another login session is unaffected.
    let other = app.login(demo::HR_EMAIL, demo::HR_PASSWORD).await;
    let fresh = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", other["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(fresh.status(), 200);
}

async fn revoke(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/revoke"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

async fn revoking_a_refresh_token_ends_the_session(backend: Backend) {
    let app = spawn_app(backend).await;
    let login = app.login(demo::HR_EMAIL, demo::HR_PASSWORD).await;
    let refresh = login["refresh_token"].as_str().unwrap();
    let access = login["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", access).await.status(), 200);
    let response = app
        .client
        .post(app.url("/api/v1/auth/revoke"))
        .form(&[("token", refresh), ("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after = app
        .token_request(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(assert_problem(after, 400).await["error"], "invalid_grant");
    // The session's access token ends with it, on its next request.
    let refused = assert_problem(app.get("/api/v1/me", access).await, 401).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("session"),
        "{refused}"
    );

    // Unknown tokens are not an error (RFC 7009 §2.2).
    assert_eq!(revoke(&app, "nonsense").await.status(), 200);
}

async fn revoking_an_access_token_ends_that_token_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let revoked = app.client_token().await;
    let other = app.client_token().await;
    assert_eq!(app.get("/api/v1/me", &revoked).await.status(), 200);
    assert_eq!(revoke(&app, &revoked).await.status(), 200);
    assert_problem(app.get("/api/v1/me", &revoked).await, 401).await;
    assert_eq!(app.get("/api/v1/me", &other).await.status(), 200);
    // Revoking it again is no error.
    assert_eq!(revoke(&app, &revoked).await.status(), 200);
}

async fn failed_logins_are_throttled_per_account(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..5 {
        let response = app
            .token_request(&[
                ("grant_type", "password"),
                ("username", demo::HR_EMAIL),
                ("password", "wrong-password"),
            ])
            .await;
        assert_eq!(response.status(), 400);
    }
    // Now even the right password waits.
    let response = app
        .token_request(&[
            ("grant_type", "password"),
            ("username", demo::HR_EMAIL),
            ("password", demo::HR_PASSWORD),
        ])
        .await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 900);
    assert_problem(response, 429).await;
    // Another account is not affected.
    app.login(demo::ADMIN_EMAIL, demo::ADMIN_PASSWORD).await;
}

async fn failed_client_authentications_are_throttled_per_client(backend: Backend) {
    let app = spawn_app(backend).await;
    for _ in 0..5 {
        let response = app
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", demo::CLIENT_ID),
                ("client_secret", "wrong"),
            ])
            .await;
        assert_eq!(response.status(), 401);
    }
    let response = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::CLIENT_SECRET),
        ])
        .await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 429).await;
}

async fn without_a_configured_key_sqlite_generates_one_and_postgres_refuses_to_start(
    backend: Backend,
) {
    match backend {
        Backend::Sqlite => {
            let app = crate::helpers::spawn_app_with(backend, |s| {
                s.jwt_secret = None;
                s.jwt_kid = None;
            })
            .await;
            let db_path = app.db.url().trim_start_matches("sqlite://").to_string();
            let key_file = std::path::Path::new(&db_path).with_file_name("trajectum.jwt-secret");
            let metadata =
                std::fs::metadata(&key_file).expect("a generated key beside the database");
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
            assert!(std::fs::read_to_string(&key_file).unwrap().trim().len() >= 32);
            let token = app.client_token().await;
            assert_eq!(app.get("/api/v1/me", &token).await.status(), 200);
        }
        Backend::Postgres => {
            let settings = trajectum::config::Settings {
                database_url: std::env::var("TEST_DATABASE_URL").unwrap(),
                port: 0,
                ..Default::default()
            };
            let error = trajectum::startup::Application::build(settings)
                .await
                .err()
                .expect("refused");
            assert!(
                format!("{error:#}").contains("TRAJECTUM_JWT_SECRET"),
                "{error:#}"
            );
        }
    }
}

api_test!(
    without_a_configured_key_sqlite_generates_one_and_postgres_refuses_to_start,
    an_hr_system_gets_a_token_with_client_credentials,
    a_wrong_client_secret_is_invalid_client,
    a_person_signs_in_with_a_password,
    a_wrong_password_is_invalid_grant,
    token_requests_are_checked,
    a_refresh_token_rotates_and_its_reuse_revokes_the_family,
    revoking_a_refresh_token_ends_the_session,
    revoking_an_access_token_ends_that_token_only,
    failed_logins_are_throttled_per_account,
    failed_client_authentications_are_throttled_per_client,
);
