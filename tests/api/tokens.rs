//! Every way a bearer token must be refused (401, `WWW-Authenticate: Bearer error="invalid_token"`,
//! a problem body), minted here by hand.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{assert_problem, spawn_app, spawn_app_with, Backend, TestApp, TEST_SECRET};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Valid claims for the demo HR user's organisation; tests spoil one thing at a time.
pub fn claims(app_org: &str) -> Value {
    json!({
        "iss": "trajectum", "aud": "trajectum-api", "sub": "0192f000-0000-7000-8000-00000000abcd",
        "exp": now() + 600, "iat": now(), "nbf": now(), "jti": "j-1", "typ": "access",
        "role": "employer", "org": app_org, "sub_type": "client"
    })
}

fn hs256(claims: &Value, kid: Option<&str>, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = kid.map(String::from);
    encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub fn signed(claims: &Value) -> String {
    hs256(claims, Some("test-key"), TEST_SECRET)
}

fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().unwrap().remove(field);
    claims
}

pub fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

async fn assert_refused(app: &TestApp, token: &str, why: &str) {
    let response = app.get("/api/v1/coaches", token).await;
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let problem = assert_problem(response, 401).await;
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "{why}: challenge {challenge}"
    );
    assert!(
        problem["detail"].as_str().unwrap().contains("not valid"),
        "{why}: {problem}"
    );
}

const ORG: &str = trajectum::admin::demo::EMPLOYER_ID;

/// Valid claims for the demo HR system as it is stored: a token is accepted only for a subject
/// that exists, with its own organisation and role.
pub async fn stored_claims(app: &TestApp) -> Value {
    let me: Value = app
        .get("/api/v1/me", &app.client_token().await)
        .await
        .json()
        .await
        .unwrap();
    with(claims(ORG), "sub", me["subject_id"].clone())
}

async fn a_well_formed_minted_token_is_accepted(backend: Backend) {
    // The control for the cases below: the same minting, unspoiled, works.
    let app = spawn_app(backend).await;
    let response = app
        .get("/api/v1/coaches", &signed(&stored_claims(&app).await))
        .await;
    assert_eq!(response.status(), 200);
}

async fn no_token_is_a_401_with_a_bearer_challenge(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .client
        .get(app.url("/api/v1/coaches"))
        .send()
        .await
        .unwrap();
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert_problem(response, 401).await;
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no error code without credentials (RFC 6750 §3.1)"
    );
}

async fn alg_none_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"test-key"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims(ORG).to_string());
    assert_refused(&app, &format!("{header}.{payload}."), "alg none").await;
}

async fn another_algorithm_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    // Signed with an Ed25519 key but claiming the HS256 key's kid.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("test-key".into());
    let key = EncodingKey::from_ed_pem(include_bytes!("fixtures/ed25519-private.pem")).unwrap();
    let token = encode(&header, &claims(ORG), &key).unwrap();
    assert_refused(&app, &token, "EdDSA token for an HS256 key").await;
    // HS384 with the right secret is still the wrong algorithm.
    let mut header = Header::new(Algorithm::HS384);
    header.kid = Some("test-key".into());
    let token = encode(
        &header,
        &claims(ORG),
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .unwrap();
    assert_refused(&app, &token, "HS384").await;
}

async fn a_bad_signature_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let forged = hs256(
        &claims(ORG),
        Some("test-key"),
        "another-secret-of-enough-length-0123456789",
    );
    assert_refused(&app, &forged, "other secret").await;
    let token = signed(&claims(ORG));
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    assert_refused(
        &app,
        &format!("{rest}.{flipped}{}", &signature[1..]),
        "tampered",
    )
    .await;
}

async fn an_expired_token_is_refused_beyond_30_seconds_of_leeway(backend: Backend) {
    let app = spawn_app(backend).await;
    let expired = with(claims(ORG), "exp", json!(now() - 31));
    assert_refused(&app, &signed(&expired), "expired").await;
    // Within the leeway it is still accepted: the leeway exists and is at most 30 s.
    let just = with(stored_claims(&app).await, "exp", json!(now() - 5));
    assert_eq!(
        app.get("/api/v1/coaches", &signed(&just)).await.status(),
        200
    );
    assert_refused(&app, &signed(&without(claims(ORG), "exp")), "no exp").await;
}

async fn a_token_not_yet_valid_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let future = with(claims(ORG), "nbf", json!(now() + 120));
    assert_refused(&app, &signed(&future), "nbf in the future").await;
    assert_refused(&app, &signed(&without(claims(ORG), "nbf")), "no nbf").await;
}

async fn a_wrong_or_missing_issuer_or_audience_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_refused(
        &app,
        &signed(&with(claims(ORG), "iss", json!("evil"))),
        "iss",
    )
    .await;
    assert_refused(&app, &signed(&without(claims(ORG), "iss")), "no iss").await;
    assert_refused(
        &app,
        &signed(&with(claims(ORG), "aud", json!("other-api"))),
        "aud",
    )
    .await;
    assert_refused(&app, &signed(&without(claims(ORG), "aud")), "no aud").await;
}

async fn a_refresh_token_is_not_an_access_token(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_refused(
        &app,
        &signed(&with(claims(ORG), "typ", json!("refresh"))),
        "minted refresh",
    )
    .await;
    let login = app
        .login(
            trajectum::admin::demo::HR_EMAIL,
            trajectum::admin::demo::HR_PASSWORD,
        )
        .await;
    assert_refused(
        &app,
        login["refresh_token"].as_str().unwrap(),
        "issued refresh",
    )
    .await;
}

async fn an_unknown_or_missing_kid_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_refused(
        &app,
        &hs256(&claims(ORG), Some("retired"), TEST_SECRET),
        "unknown kid",
    )
    .await;
    assert_refused(&app, &hs256(&claims(ORG), None, TEST_SECRET), "no kid").await;
}

async fn garbage_and_other_schemes_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_refused(&app, "not-a-jwt", "garbage").await;
    let response = app
        .client
        .get(app.url("/api/v1/coaches"))
        .header("authorization", "Basic dXNlcjpwdw==")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401).await;
}

async fn eddsa_keys_sign_and_verify(backend: Backend) {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
    let app = spawn_app_with(backend, |s| {
        s.jwt_algorithm = trajectum::config::JwtAlgorithm::EdDSA;
        s.jwt_secret = None;
        s.jwt_private_key_file = Some(format!("{fixtures}/ed25519-private.pem").into());
        s.jwt_public_key_file = Some(format!("{fixtures}/ed25519-public.pem").into());
    })
    .await;
    let token = app.client_token().await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(app.get("/api/v1/me", &token).await.status(), 200);
    // An HS256 token is refused by an EdDSA service, whatever its kid.
    let kid = header.kid.unwrap();
    assert_refused(
        &app,
        &hs256(&claims(ORG), Some(&kid), TEST_SECRET),
        "HS256 on EdDSA",
    )
    .await;
    // So is an Ed25519 token signed by another key.
    let mut other = Header::new(Algorithm::EdDSA);
    other.kid = Some(kid);
    let key =
        EncodingKey::from_ed_pem(include_bytes!("fixtures/ed25519-other-private.pem")).unwrap();
    assert_refused(
        &app,
        &encode(&other, &claims(ORG), &key).unwrap(),
        "other Ed25519 key",
    )
    .await;
}

async fn rs256_keys_sign_and_verify(backend: Backend) {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/fixtures");
    let app = spawn_app_with(backend, |s| {
        s.jwt_algorithm = trajectum::config::JwtAlgorithm::RS256;
        s.jwt_secret = None;
        s.jwt_private_key_file = Some(format!("{fixtures}/rsa-private.pem").into());
        s.jwt_public_key_file = Some(format!("{fixtures}/rsa-public.pem").into());
    })
    .await;
    let token = app.client_token().await;
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().alg,
        Algorithm::RS256
    );
    assert_eq!(app.get("/api/v1/me", &token).await.status(), 200);
}

async fn a_previous_key_still_verifies_during_rotation(backend: Backend) {
    let app = spawn_app_with(backend, |s| {
        s.jwt_kid = Some("key-2026-12".into());
        s.jwt_secret = Some(
            "the-new-secret-after-rotation-0123456789"
                .to_string()
                .into(),
        );
        s.jwt_previous_algorithm = Some(trajectum::config::JwtAlgorithm::HS256);
        s.jwt_previous_kid = Some("test-key".into());
        s.jwt_previous_secret = Some(TEST_SECRET.to_string().into());
    })
    .await;
    // Signed with the retired key: still accepted.
    assert_eq!(
        app.get("/api/v1/coaches", &signed(&stored_claims(&app).await))
            .await
            .status(),
        200
    );
    // New tokens carry the new kid.
    let token = app.client_token().await;
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid.as_deref(),
        Some("key-2026-12")
    );
}

api_test!(
    a_well_formed_minted_token_is_accepted,
    no_token_is_a_401_with_a_bearer_challenge,
    alg_none_is_refused,
    another_algorithm_is_refused,
    a_bad_signature_is_refused,
    an_expired_token_is_refused_beyond_30_seconds_of_leeway,
    a_token_not_yet_valid_is_refused,
    a_wrong_or_missing_issuer_or_audience_is_refused,
    a_refresh_token_is_not_an_access_token,
    an_unknown_or_missing_kid_is_refused,
    garbage_and_other_schemes_are_refused,
    eddsa_keys_sign_and_verify,
    rs256_keys_sign_and_verify,
    a_previous_key_still_verifies_during_rotation,
);
