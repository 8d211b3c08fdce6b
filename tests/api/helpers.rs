//! Spawns the real application on a random port with its own fresh database.
//!
//! SQLite: a file in a temporary directory. PostgreSQL (when `TEST_DATABASE_URL` is set): a
//! database of its own, created for the test and dropped (`WITH (FORCE)`) when the test ends.
//! `TEST_LOG=1` turns on the service's logs.

use std::sync::{Arc, Once};

use chrono::{DateTime, Utc};

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::{Method, Response};
use secrecy::SecretString;
use serde_json::{json, Value};
use trajectum::admin::{self, demo, NewOrganisation, NewUser};
use trajectum::clock::{Clock, TestClock};
use trajectum::config::Settings;
use trajectum::db::Pool;
use trajectum::domain::principal::{OrganisationKind, Role};
use trajectum::startup::Application;

pub const TEST_SECRET: &str = "test-secret-for-the-api-suite-0123456789";
/// 32 bytes, base64.
pub const TEST_NOTES_KEY: &str = "dGVzdC1ub3Rlcy1rZXktZm9yLXRoZS1hcGktc3VpdGU=";
/// The key a rotation moves to: 32 bytes, base64.
pub const ROTATED_NOTES_KEY: &str = "cm90YXRlZC1ub3Rlcy1rZXktZm9yLWFwaS1zdWl0ZSE=";

/// Said once per run when the PostgreSQL variants pass without running.
pub const SKIPPED_POSTGRES: &str = "note: TEST_DATABASE_URL is not set, so the PostgreSQL \
variants of the API tests (NAME::postgres) pass without running. To run them: \
TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// PostgreSQL when `TEST_DATABASE_URL` is set. CI sets `TRAJECTUM_REQUIRE_POSTGRES=1` so that
    /// a missing URL fails instead of silently skipping.
    pub fn postgres() -> Option<Backend> {
        static NOTICE: Once = Once::new();
        if std::env::var("TEST_DATABASE_URL").is_ok() {
            return Some(Backend::Postgres);
        }
        if std::env::var("TRAJECTUM_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
            panic!("TRAJECTUM_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set");
        }
        // Written to the process's stderr itself: the test harness captures what `eprintln!`
        // prints and shows it only for a failing test, and a skipped variant passes.
        NOTICE.call_once(|| {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{SKIPPED_POSTGRES}");
        });
        None
    }
}

/// Runs `async fn NAME(backend: Backend)` once per backend, as `NAME::sqlite` and
/// `NAME::postgres`. A test that means one backend only says so, and only that variant exists:
/// `api_test!(sqlite_only: NAME)`, `api_test!(postgres_only: NAME)`.
#[macro_export]
macro_rules! api_test {
    (sqlite_only: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
        }
    )+};
    (postgres_only: $($name:ident),+ $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn postgres() {
                if let Some(backend) = $crate::helpers::Backend::postgres() {
                    super::$name(backend).await
                }
            }
        }
    )+};
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                if let Some(backend) = $crate::helpers::Backend::postgres() {
                    super::$name(backend).await
                }
            }
        }
    )+};
}

/// A database that exists for one test.
pub enum TestDb {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.sqlite3").display());
                TestDb::Sqlite { _dir: dir, url }
            }
            Backend::Postgres => {
                let admin_url = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
                let name = format!("trajectum_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn =
                    PgConnection::establish(&admin_url).expect("connect to TEST_DATABASE_URL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create test database");
                let base = admin_url.split('?').next().unwrap();
                let base = &base[..base.rfind('/').expect("a database URL has a path")];
                let url = format!("{base}/{name}");
                TestDb::Postgres {
                    admin_url,
                    name,
                    url,
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    /// Whether [`TestDb::drop_now`] took this database away.
    pub fn dropped(&self) -> bool {
        DROPPED.lock().unwrap().contains(self.url())
    }

    /// Drops a PostgreSQL test database now (the service's connections are cut).
    pub fn drop_now(&self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            DROPPED.lock().unwrap().insert(self.url().to_string());
            let mut conn =
                PgConnection::establish(admin_url).expect("connect to TEST_DATABASE_URL");
            diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut conn)
                .expect("drop test database");
        }
    }
}

/// The databases tests took away (by URL).
static DROPPED: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

impl Drop for TestDb {
    fn drop(&mut self) {
        self.drop_now();
    }
}

pub fn test_settings(db: &TestDb) -> Settings {
    Settings {
        database_url: db.url().to_string(),
        port: 0,
        jwt_secret: Some(SecretString::from(TEST_SECRET)),
        jwt_kid: Some("test-key".into()),
        db_pool_size: 4,
        db_timeout_seconds: 2,
        // Fixed, so PostgreSQL databases (which get no generated key) work too.
        notes_key: Some(SecretString::from(TEST_NOTES_KEY)),
        // Tests run the queue's due jobs themselves, after moving the clock (`run_jobs`).
        worker: false,
        // The test clock stands still, so a test's requests all fall in one window: a quota
        // no test reaches, except those of the rate limit (`limits.rs`), which set their own.
        rate_limit: 100_000,
        // The same for the public sign-up's limits (`invitations.rs` sets its own).
        sign_up_limit_per_address: 100_000,
        sign_up_limit_per_campaign: 100_000,
        ..Settings::default()
    }
}

/// An HTTP client whose every response is checked against the spec (`conformance`), and whose
/// exchanges are kept for the audit check ([`TestApp`]'s `Drop`).
#[derive(Clone)]
pub struct Client(reqwest::Client, Exchanges);

/// What was asked and answered, for the audit check.
#[derive(Debug, Clone)]
pub struct Exchanged {
    pub method: Method,
    pub path: String,
    pub status: u16,
    pub request_id: String,
    /// The stored answer to an earlier request with the same `Idempotency-Key`.
    pub replayed: bool,
}

pub type Exchanges = Arc<std::sync::Mutex<Vec<Exchanged>>>;

impl Client {
    fn new() -> Client {
        Client(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            Exchanges::default(),
        )
    }

    pub fn request(&self, method: Method, url: impl reqwest::IntoUrl) -> Request {
        Request(self.0.request(method, url), self.1.clone())
    }

    /// Every exchange so far.
    pub fn exchanges(&self) -> Vec<Exchanged> {
        self.1.lock().unwrap().clone()
    }

    pub fn get(&self, url: impl reqwest::IntoUrl) -> Request {
        self.request(Method::GET, url)
    }

    pub fn post(&self, url: impl reqwest::IntoUrl) -> Request {
        self.request(Method::POST, url)
    }
}

/// A request being built, as reqwest's, whose response is checked against the spec.
pub struct Request(reqwest::RequestBuilder, Exchanges);

impl Request {
    pub fn header(self, name: &str, value: impl AsRef<str>) -> Request {
        Request(self.0.header(name, value.as_ref()), self.1)
    }

    pub fn bearer_auth(self, token: impl std::fmt::Display) -> Request {
        Request(self.0.bearer_auth(token), self.1)
    }

    pub fn basic_auth(self, user: &str, password: Option<&str>) -> Request {
        Request(self.0.basic_auth(user, password), self.1)
    }

    pub fn json<T: serde::Serialize + ?Sized>(self, body: &T) -> Request {
        Request(self.0.json(body), self.1)
    }

    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> Request {
        Request(self.0.form(form), self.1)
    }

    pub fn body(self, body: impl Into<reqwest::Body>) -> Request {
        Request(self.0.body(body), self.1)
    }

    /// Sends the request; panics when the response does not conform to the spec.
    pub async fn send(self) -> reqwest::Result<Response> {
        let (client, request) = self.0.build_split();
        let request = request?;
        let method = request.method().clone();
        let path = request.url().path().to_string();
        let response = client.execute(request).await?;
        let status = response.status();
        let version = response.version();
        let headers = response.headers().clone();
        if let Some(request_id) = headers.get("x-request-id").and_then(|v| v.to_str().ok()) {
            self.1.lock().unwrap().push(Exchanged {
                method: method.clone(),
                path: path.clone(),
                status: status.as_u16(),
                request_id: request_id.to_string(),
                replayed: headers.contains_key("idempotent-replayed"),
            });
        }
        let body = response.bytes().await?;
        let exchange = crate::conformance::Exchange {
            method: &method,
            path: &path,
            status: status.as_u16(),
            content_type: headers.get("content-type").and_then(|v| v.to_str().ok()),
            body: &body,
        };
        if let Err(reason) = crate::conformance::spec().check(&exchange) {
            panic!(
                "{method} {path} answered {status}, which the spec does not allow: {reason}\n{}",
                String::from_utf8_lossy(&body)
            );
        }
        let mut rebuilt = http::Response::builder().status(status).version(version);
        *rebuilt.headers_mut().unwrap() = headers;
        Ok(Response::from(rebuilt.body(body).unwrap()))
    }
}

pub struct TestApp {
    pub address: String,
    pub client: Client,
    pub pool: Pool,
    pub db: TestDb,
    /// The app's clock: tests move it with [`TestApp::advance`].
    pub clock: Arc<TestClock>,
    /// The settings it runs with.
    pub settings: Settings,
}

/// Issue 19 "Done when": every change and every read of confidential content in the API suite
/// leaves exactly one audit entry, and every other request none. Checked for every test's every
/// request when its app goes (unless the test failed already).
impl Drop for TestApp {
    fn drop(&mut self) {
        // A test that failed already, or took its database away (readiness), is not checked.
        if std::thread::panicking() || self.db.dropped() {
            return;
        }
        let wrong = audit_mismatches(&self.pool, &self.client.exchanges());
        assert!(
            wrong.is_empty(),
            "requests whose audit entries are not as many as expected (README \"The audit trail\"):\n{}",
            wrong.join("\n")
        );
    }
}

/// How many audit entries a request leaves: one for a change it made (a success of POST, PUT,
/// PATCH or DELETE, not the replayed answer of an `Idempotency-Key`, not a sign-in, not a
/// series' preview), one for a read of confidential content (an intake, a plan, a closing
/// review, a session's notes, an export, by GET or HEAD, and what completing an intake or a
/// closing review would find), none otherwise.
fn audit_entries_expected(exchange: &Exchanged) -> i64 {
    let path = exchange.path.as_str();
    if !(200..300).contains(&exchange.status) || !path.starts_with("/api/v1/") {
        return 0;
    }
    let segments: Vec<&str> = path.trim_start_matches("/api/v1/").split('/').collect();
    let confidential = matches!(
        segments.as_slice(),
        ["orders", _, "intake" | "plan" | "closing-review" | "export"] | ["sessions", _, "notes"]
    );
    let no_change = matches!(segments.as_slice(), ["auth", ..])
        || (matches!(segments.as_slice(), ["orders", _, "sessions", "series"])
            && exchange.status == 200);
    match exchange.method {
        Method::GET | Method::HEAD => i64::from(confidential),
        _ if exchange.replayed => 0,
        Method::POST => i64::from(!no_change),
        Method::PUT | Method::PATCH | Method::DELETE => 1,
        _ => 0,
    }
}

/// The requests whose audit entries are not as many as [`audit_entries_expected`] says.
fn audit_mismatches(pool: &Pool, exchanges: &[Exchanged]) -> Vec<String> {
    use diesel::sql_types::{BigInt, Nullable, Text};
    #[derive(diesel::QueryableByName)]
    struct Entries {
        #[diesel(sql_type = Nullable<Text>)]
        request_id: Option<String>,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let mut conn = pool.get().expect("a connection for the audit check");
    let sql = "SELECT request_id, count(*) AS n FROM audit_log GROUP BY request_id";
    let rows: Vec<Entries> = match &mut *conn {
        trajectum::db::DbConnection::Postgres(c) => diesel::sql_query(sql).load(c),
        trajectum::db::DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c),
    }
    .expect("the audit trail reads");
    let found: std::collections::HashMap<String, i64> = rows
        .into_iter()
        .filter_map(|row| Some((row.request_id?, row.n)))
        .collect();
    // Every entry that names a request names one of this test's.
    let mut wrong: Vec<String> = found
        .iter()
        .filter(|(id, _)| !exchanges.iter().any(|e| &e.request_id == *id))
        .map(|(id, n)| format!("{n} entries of request {id}, which the test did not send"))
        .collect();
    // A request id sent by the test itself may name several requests: their entries add up.
    let mut expected: std::collections::BTreeMap<&str, (i64, Vec<String>)> = Default::default();
    for exchange in exchanges {
        let (sum, requests) = expected.entry(exchange.request_id.as_str()).or_default();
        *sum += audit_entries_expected(exchange);
        requests.push(format!(
            "{} {} answered {}",
            exchange.method, exchange.path, exchange.status
        ));
    }
    wrong.extend(
        expected
            .into_iter()
            .filter_map(|(request_id, (sum, requests))| {
                let entries = found.get(request_id).copied().unwrap_or(0);
                (entries != sum)
                    .then(|| format!("{}: {entries} entries, {sum} expected", requests.join(", ")))
            }),
    );
    wrong
}

impl TestApp {
    /// Runs every job due on the app's clock, as the worker would, until none is due; how many
    /// ran.
    pub async fn run_jobs(&self) -> usize {
        let worker = trajectum::worker::Worker::new(self.clock.clone(), self.worker_settings(10));
        self.blocking(move |conn| {
            worker.prepare(conn)?;
            Ok(worker.run_due(conn)?)
        })
        .await
    }

    /// How the tests' workers work: claiming `batch` jobs at a time, on a lease of a minute.
    pub fn worker_settings(&self, batch: u32) -> trajectum::worker::WorkerSettings {
        trajectum::worker::WorkerSettings {
            poll: std::time::Duration::from_millis(10),
            batch,
            lease: chrono::Duration::seconds(60),
            follow_up_horizon_days: trajectum::domain::follow_up::DEFAULT_HORIZON_DAYS,
            alliance_rating_days: 7,
            erase_after_months: self.settings.erase_after_months,
            login_window: chrono::Duration::seconds(900),
            webhooks: self.webhook_settings(),
        }
    }

    /// How the app sends webhooks.
    pub fn webhook_settings(&self) -> trajectum::delivery::WebhookSettings {
        trajectum::delivery::WebhookSettings::from_settings(&self.settings)
    }

    /// A deliverer of webhooks as the app's worker runs, named `name`.
    pub fn deliverer(&self, name: &str) -> trajectum::delivery::Deliverer {
        let keys = trajectum::startup::load_notes_keys(&self.settings).expect("notes key");
        trajectum::delivery::Deliverer::new(
            name,
            self.clock.clone(),
            self.pool.clone(),
            self.webhook_settings(),
            Arc::new(keys),
            chrono::Duration::seconds(60),
        )
        .expect("deliverer")
    }

    /// Sends every webhook delivery due on the app's clock, as the worker would, until none is
    /// due; how many subscription jobs ran.
    pub async fn run_deliveries(&self) -> usize {
        self.deliverer("test-deliverer")
            .run_due()
            .await
            .expect("deliveries run")
    }

    /// Another instance of the service on this test's database and clock, with settings changed
    /// by `configure` (as a restart with new settings would be); returns its base URL.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut Settings)) -> String {
        let mut settings = test_settings(&self.db);
        configure(&mut settings);
        let app = Application::build_with_clock(settings, self.clock.clone())
            .await
            .expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.into_server());
        address
    }
}

/// Every log line of the apps this test process ran (unless `TEST_LOG` sends them to stderr).
static LOG_LINES: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogLines;

impl std::io::Write for LogLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        LOG_LINES.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the apps of this test process logged so far.
pub fn logged() -> String {
    String::from_utf8_lossy(&LOG_LINES.lock().unwrap()).into_owned()
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Spawns the app with settings changed by `configure`, and the demo data seeded.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    static LOGS: Once = Once::new();
    LOGS.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            trajectum::telemetry::init(trajectum::config::LogFormat::Pretty, "debug");
        } else {
            // Kept, as a log collector keeps them, for tests to search ([`logged`]); the
            // service's own lines down to debug.
            trajectum::telemetry::init_with_writer(
                trajectum::config::LogFormat::Json,
                "info,trajectum=debug",
                false,
                || LogLines,
            );
        }
    });
    let db = TestDb::new(backend);
    let mut settings = test_settings(&db);
    configure(&mut settings);
    let clock = Arc::new(TestClock::new());
    let app = Application::build_with_clock(settings.clone(), clock.clone())
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let pool = app.pool().clone();
    actix_web::rt::spawn(app.into_server());
    let test_app = TestApp {
        address,
        client: Client::new(),
        pool,
        db,
        clock,
        settings,
    };
    let now = test_app.now();
    test_app
        .blocking(move |conn| admin::seed_demo(conn, now).map(drop))
        .await;
    test_app
}

/// A second provider with its own planner and coach, and an employer contracted with it.
pub struct OtherTenant {
    pub admin_email: String,
    pub coach_email: String,
    pub hr_email: String,
}

pub const OTHER_PASSWORD: &str = "other-tenant-password";

impl TestApp {
    /// The app's now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves the app's clock forward. Tokens expire as they would: sign in again after a jump
    /// longer than their lifetime.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// The app's today plus `days`, as the API writes dates.
    pub fn date_in(&self, days: i64) -> String {
        (self.now().date_naive() + chrono::Duration::days(days)).to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// Runs database work (seeding, inspection) off the async executor.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut trajectum::db::DbConnection) -> anyhow::Result<T> + Send + 'static,
    ) -> T {
        let pool = self.pool.clone();
        actix_web::rt::task::spawn_blocking(move || f(&mut pool.get().expect("connection")))
            .await
            .expect("task")
            .expect("database work")
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> Request {
        let builder = self.client.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The JSON body of a GET that needs no token.
    pub async fn public_json(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_keyed(&self, path: &str, token: &str, key: &str, body: &Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// How many orders `token` sees.
    pub async fn order_count(&self, token: &str) -> usize {
        let list: Value = self
            .get("/api/v1/orders", token)
            .await
            .json()
            .await
            .unwrap();
        list["data"].as_array().unwrap().len()
    }

    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/api/v1/auth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Signs in with a password and returns the whole token response.
    pub async fn login(&self, email: &str, password: &str) -> Value {
        let response = self
            .token_request(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", password),
            ])
            .await;
        assert_eq!(response.status(), 200, "login of {email}");
        response.json().await.unwrap()
    }

    pub async fn access_token(&self, email: &str, password: &str) -> String {
        self.login(email, password).await["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn hr_token(&self) -> String {
        self.access_token(demo::HR_EMAIL, demo::HR_PASSWORD).await
    }

    pub async fn planner_token(&self) -> String {
        self.access_token(demo::ADMIN_EMAIL, demo::ADMIN_PASSWORD)
            .await
    }

    pub async fn coach_token(&self, which: usize) -> String {
        self.access_token(demo::COACH_EMAILS[which], demo::COACH_PASSWORD)
            .await
    }

    pub async fn client_token(&self) -> String {
        let response = self
            .token_request(&[
                ("grant_type", "client_credentials"),
                ("client_id", demo::CLIENT_ID),
                ("client_secret", demo::CLIENT_SECRET),
            ])
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Seeds a second, unrelated provider and employer.
    pub async fn seed_other_tenant(&self) -> OtherTenant {
        let now = self.now();
        self.blocking(move |conn| {
            let provider = admin::create_organisation(
                conn,
                now,
                NewOrganisation {
                    id: None,
                    kind: OrganisationKind::Provider,
                    name: "Other Coaching",
                    time_zone: "Europe/Brussels",
                    provider_id: None,
                },
            )?;
            let employer = admin::create_organisation(
                conn,
                now,
                NewOrganisation {
                    id: None,
                    kind: OrganisationKind::Employer,
                    name: "Other Employer",
                    time_zone: "Europe/Brussels",
                    provider_id: Some(&provider.id),
                },
            )?;
            let tenant = OtherTenant {
                admin_email: "admin@other.example".into(),
                coach_email: "coach@other.example".into(),
                hr_email: "hr@other.example".into(),
            };
            for (org, email, role) in [
                (&provider.id, &tenant.admin_email, Role::ProviderAdmin),
                (&provider.id, &tenant.coach_email, Role::Coach),
                (&employer.id, &tenant.hr_email, Role::Employer),
            ] {
                admin::create_user(
                    conn,
                    now,
                    NewUser {
                        id: None,
                        organisation_id: org,
                        email,
                        name: "Other Person",
                        role,
                        password: OTHER_PASSWORD,
                        specialisms: vec![],
                        languages: vec![],
                        time_zone: None,
                    },
                )?;
            }
            Ok(tenant)
        })
        .await
    }
}

/// Asserts a problem+json response with `status`, returns its body.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    assert!(response.headers().contains_key("x-request-id"));
    let text = response.text().await.unwrap();
    assert!(
        text.ends_with('\n'),
        "a JSON body ends with a newline: {text:?}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], json!(status));
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    assert!(
        body["request_id"].is_string(),
        "problem carries the request id: {body}"
    );
    body
}

pub fn first_pointer(problem: &Value) -> &str {
    problem["errors"][0]["pointer"].as_str().unwrap_or("")
}

/// The version an `ETag` names (`"<version>-<digest>"`).
pub fn etag_version(response: &Response) -> i64 {
    let tag = response.headers()["etag"].to_str().unwrap();
    let opaque = tag.trim_matches('"');
    opaque.split('-').next().unwrap().parse().unwrap()
}
