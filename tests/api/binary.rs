//! The `trajectum` binary itself: its admin commands, and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::api_test;
use crate::helpers::{Backend, TestDb, TEST_NOTES_KEY, TEST_SECRET};

pub(crate) fn trajectum(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trajectum"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("TRAJECTUM_JWT_SECRET", TEST_SECRET)
        .env("TRAJECTUM_NOTES_KEY", TEST_NOTES_KEY)
        .env("TRAJECTUM_PORT", "0")
        .env("TRAJECTUM_LOG_FORMAT", "json");
    command
}

pub(crate) fn run(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = trajectum(db)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `trajectum ARGS`, which must fail; what it said on stderr.
pub(crate) fn run_refused(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = trajectum(db)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(!output.status.success(), "{args:?} is refused");
    String::from_utf8(output.stderr).unwrap()
}

pub(crate) fn value<'a>(output: &'a str, key: &str) -> &'a str {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {output}"))
}

async fn admin_commands_create_what_the_api_then_accepts(backend: Backend) {
    let db = TestDb::new(backend);
    let provider = run(
        &db,
        &[
            "admin",
            "create-org",
            "--kind",
            "provider",
            "--name",
            "Coaches BV",
        ],
        &[],
    );
    let provider = provider.trim();
    let employer = run(
        &db,
        &[
            "admin",
            "create-org",
            "--kind",
            "employer",
            "--name",
            "Acme",
            "--provider",
            provider,
        ],
        &[],
    );
    let employer = employer.trim();
    let user = run(
        &db,
        &[
            "admin",
            "create-user",
            "--org",
            provider,
            "--email",
            "coach@coaches.example",
            "--name",
            "A Coach",
            "--role",
            "coach",
            "--specialism",
            "reintegration",
            "--language",
            "nl",
        ],
        &[("TRAJECTUM_NEW_PASSWORD", "a long enough password")],
    );
    assert!(value(&user, "coach_id").len() == 36);
    let client = run(
        &db,
        &[
            "admin",
            "create-client",
            "--org",
            employer,
            "--name",
            "HR system",
        ],
        &[],
    );
    let (client_id, secret) = (value(&client, "client_id"), value(&client, "client_secret"));
    // A wrong combination is refused with a clear message.
    let refused = run_refused(
        &db,
        &["admin", "create-client", "--org", provider, "--name", "x"],
        &[],
    );
    assert!(refused.contains("employer"));

    let settings = trajectum::config::Settings {
        database_url: db.url().to_string(),
        port: 0,
        jwt_secret: Some(TEST_SECRET.to_string().into()),
        notes_key: Some(TEST_NOTES_KEY.to_string().into()),
        ..Default::default()
    };
    let app = trajectum::startup::Application::build(settings)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.into_server());
    let http = reqwest::Client::new();
    let token = client_token(&base, client_id, secret).await;
    let coaches: Value = http
        .get(format!("{base}/api/v1/coaches"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(coaches["data"][0]["name"], "A Coach");
    assert_eq!(coaches["data"][0]["specialisms"][0], "reintegration");
}

/// The binary serving: its process, its address, what it logged until it was ready, and what
/// it logs after.
pub(crate) struct Serving {
    pub(crate) child: Child,
    pub(crate) address: String,
    pub(crate) startup_logs: Vec<Value>,
    pub(crate) logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Serving {
    /// Starts `trajectum ARGS` and waits until it is ready.
    pub(crate) fn start(mut command: Command) -> Serving {
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut logs = BufReader::new(child.stderr.take().unwrap());
        let mut startup_logs = vec![];
        let address = loop {
            let mut line = String::new();
            assert!(
                logs.read_line(&mut line).unwrap() > 0,
                "the service stopped before it was ready: {startup_logs:?}"
            );
            if let Ok(entry) = serde_json::from_str::<Value>(&line) {
                if entry["message"] == "trajectum is ready" {
                    break entry["address"]
                        .as_str()
                        .unwrap()
                        .trim_start_matches("http://")
                        .to_string();
                }
                startup_logs.push(entry);
            }
        };
        // Keep reading the logs so the child never blocks on a full pipe.
        let kept = std::sync::Arc::new(std::sync::Mutex::new(vec![]));
        let sink = kept.clone();
        std::thread::spawn(move || {
            for line in logs.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Serving {
            child,
            address,
            startup_logs,
            logs: kept,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub(crate) fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// SQLite only: the shutdown path does not depend on the database.
async fn sigterm_lets_an_in_flight_request_finish(backend: Backend) {
    let db = TestDb::new(backend);
    let mut command = trajectum(&db);
    command.arg("serve");
    let mut serving = Serving::start(command);
    let address = serving.address.clone();

    // Half a request is on the wire when SIGTERM arrives.
    let body = "grant_type=client_credentials&client_id=nobody&client_secret=wrong";
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        &body[..10]
    )
    .unwrap();
    // Time for the server to take the connection and read the half request's head. Until
    // "trajectum is ready" waited for the workers to build their apps, a SIGTERM in the ~90 ms
    // after it reset this connection: under three busy loops, in 12 of 15 runs with 300 ms
    // here and in 15 of 15 with 20 ms; since, in none of 15 with either.
    std::thread::sleep(Duration::from_millis(300));
    serving.signal("-TERM");
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 401"),
        "the request finished: {response}"
    );
    assert!(response.contains("invalid_client"));
    let status = serving.child.wait().unwrap();
    assert!(status.success(), "exits cleanly after SIGTERM: {status}");
}

/// Kubernetes injects `TRAJECTUM_PORT=tcp://…` and `TRAJECTUM_SERVICE_*` into every pod of a
/// Service named `trajectum`: the service starts, says what it ignored, and takes its port from
/// the config file. An unknown key in the config file is still an error.
async fn unknown_environment_variables_are_warnings_not_a_crash(backend: Backend) {
    let db = TestDb::new(backend);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("trajectum.toml");
    std::fs::write(&config, "port = 0\n").unwrap();
    let mut command = trajectum(&db);
    command
        .env_remove("TRAJECTUM_PORT")
        .env("TRAJECTUM_CONFIG", &config)
        .env("TRAJECTUM_PORT", "tcp://10.0.0.1:8080")
        .env("TRAJECTUM_SERVICE_HOST", "10.0.0.1")
        .env("TRAJECTUM_SERVICE_PORT", "8080")
        .arg("serve");
    let serving = Serving::start(command);
    let warnings: Vec<String> = serving
        .startup_logs
        .iter()
        .filter(|entry| entry["level"] == "WARN")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_string())
        .collect();
    for expected in [
        "TRAJECTUM_SERVICE_HOST is not a setting",
        "TRAJECTUM_SERVICE_PORT is not a setting",
        "TRAJECTUM_PORT looks like a Kubernetes service link",
    ] {
        assert!(
            warnings.iter().any(|w| w.starts_with(expected)),
            "{expected}: {warnings:?}"
        );
    }
    let live = reqwest::get(serving.url("/health/live")).await.unwrap();
    assert_eq!(live.status(), 200);
    drop(serving);

    std::fs::write(&config, "port = 0\nprot = 1\n").unwrap();
    let refused = trajectum(&db)
        .env("TRAJECTUM_CONFIG", &config)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        !refused.status.success(),
        "an unknown key in the file is refused"
    );
    assert!(String::from_utf8_lossy(&refused.stderr).contains("prot"));
}

/// What one client saw of one key: the order it was answered with, or nothing (the process
/// died under it).
type Attempts = Vec<(String, Option<String>)>;

/// A client that creates orders one after another, each with a key of its own, until the
/// service stops answering.
async fn keep_ordering(
    base: String,
    token: String,
    client_no: usize,
    answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Attempts {
    let http = reqwest::Client::new();
    let mut attempts = vec![];
    for n in 0..10_000 {
        let key = format!("client-{client_no}-order-{n}");
        let body = serde_json::json!({"coachee": {"name": key, "email": "sam@acme.example"}});
        let answer = http
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .json(&body)
            .send()
            .await;
        match answer {
            Ok(response) => {
                assert_eq!(response.status(), 201, "{key}");
                let order: Value = response.json().await.unwrap();
                attempts.push((key, Some(order["id"].as_str().unwrap().to_string())));
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Err(_) => {
                attempts.push((key, None));
                break;
            }
        }
    }
    attempts
}

/// The access token a token request to `base` answers with.
async fn access_token(request: reqwest::RequestBuilder) -> String {
    let token: Value = request.send().await.unwrap().json().await.unwrap();
    token["access_token"].as_str().unwrap().to_string()
}

/// An HR system's access token (client credentials).
pub(crate) async fn client_token(base: &str, client_id: &str, secret: &str) -> String {
    access_token(
        reqwest::Client::new()
            .post(format!("{base}/api/v1/auth/token"))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")]),
    )
    .await
}

/// A person's access token (the password grant).
pub(crate) async fn password_token(base: &str, email: &str, password: &str) -> String {
    access_token(
        reqwest::Client::new()
            .post(format!("{base}/api/v1/auth/token"))
            .form(&[
                ("grant_type", "password"),
                ("username", email),
                ("password", password),
            ]),
    )
    .await
}

/// A crash loses no accepted order and repeats none (API.md "Conventions", `Idempotency-Key`):
/// eight clients create orders with keys of their own, the process is killed with SIGKILL
/// mid-load and started again, every request that got no answer is sent again with its key and
/// body, and then every key has been answered exactly once, by an order of its own.
async fn a_killed_process_answers_every_idempotency_key_exactly_once(backend: Backend) {
    const CLIENTS: usize = 8;
    let db = TestDb::new(backend);
    let mut command = trajectum(&db);
    command.args(["demo", "--force"]);
    let serving = Serving::start(command);
    let base = serving.url("");
    let (id, secret) = (
        trajectum::admin::demo::CLIENT_ID,
        trajectum::admin::demo::CLIENT_SECRET,
    );
    let token = client_token(&base, id, secret).await;
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let load = keep_ordering(base.clone(), token.clone(), c, answered.clone());
            actix_web::rt::spawn(load)
        })
        .collect();
    // Mid-load: once every client is well under way.
    while answered.load(std::sync::atomic::Ordering::SeqCst) < CLIENTS * 5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serving.signal("-KILL");
    let mut attempts: Attempts = vec![];
    for client in clients {
        attempts.extend(client.await.unwrap());
    }
    drop(serving);
    let unanswered = attempts.iter().filter(|(_, id)| id.is_none()).count();
    assert_eq!(unanswered, CLIENTS, "each client was cut off mid-request");

    let mut command = trajectum(&db);
    command.arg("serve");
    let serving = Serving::start(command);
    let base = serving.url("");
    let http = reqwest::Client::new();
    let mut ids = std::collections::HashSet::new();
    for (key, answered) in &attempts {
        let body = serde_json::json!({"coachee": {"name": key, "email": "sam@acme.example"}});
        let response = http
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{key} is answered");
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let order: Value = response.json().await.unwrap();
        let id = order["id"].as_str().unwrap().to_string();
        assert_eq!(order["coachee"]["name"], key.as_str());
        if let Some(first) = answered {
            assert!(replayed, "{key} was answered before the crash");
            assert_eq!(&id, first, "{key} keeps its first answer");
        }
        assert!(ids.insert(id), "{key} has an order of its own");
    }
    // And no order exists that no key answered.
    let mut listed = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page: Value = http
            .get(format!("{base}/api/v1/orders"))
            .query(&[("limit", "200")])
            .query(
                &cursor
                    .iter()
                    .map(|c| ("cursor", c.as_str()))
                    .collect::<Vec<_>>(),
            )
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        // The demo's own past (a completed trajectory) is no key's.
        listed += page["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["external_ref"] != trajectum::admin::demo::HISTORY_REF)
            .count();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(listed, attempts.len(), "one order per key, no duplicates");
}

api_test!(
    admin_commands_create_what_the_api_then_accepts,
    a_killed_process_answers_every_idempotency_key_exactly_once,
);
/// Sends raw bytes and reads the whole answer (the connection closes after a refusal).
fn raw_exchange(address: &str, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = vec![];
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// What the HTTP parser refuses before any handler runs (a 200 KB header, a raw 0xFF in the
/// query) is a problem document with a request id, and a warning in the log, not an error.
async fn requests_the_http_parser_refuses_are_problems_and_warnings(backend: Backend) {
    let db = TestDb::new(backend);
    let mut command = trajectum(&db);
    command.arg("serve");
    let serving = Serving::start(command);
    let mut huge = b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 200_000));
    huge.extend_from_slice(b"\r\n\r\n");
    for (request, status) in [
        (huge, 431),
        (
            b"GET /api/v1/orders?x=\xff HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
    ] {
        let answer = raw_exchange(&serving.address, &request);
        let (head, body) = answer.split_once("\r\n\r\n").expect("a whole response");
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert!(head.contains("x-request-id: "), "{head}");
        let problem: Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], status);
        assert!(problem["request_id"].is_string());
    }
    // The same service still answers normally.
    let live = reqwest::get(serving.url("/health/live")).await.unwrap();
    assert_eq!(live.status(), 200);
    std::thread::sleep(Duration::from_millis(200));
    let logs = serving.logs.lock().unwrap().clone();
    let levels: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|entry| entry["level"].clone())
        .collect();
    assert!(!levels.contains(&json!("ERROR")), "{logs:?}");
    let refusals = logs
        .iter()
        .filter(|l| l.contains("refused a request the HTTP parser could not read"))
        .count();
    assert_eq!(refusals, 2, "{logs:?}");
}

api_test!(
    sqlite_only: unknown_environment_variables_are_warnings_not_a_crash,
    requests_the_http_parser_refuses_are_problems_and_warnings,
);
api_test!(sqlite_only: sigterm_lets_an_in_flight_request_finish);

/// The service says it is ready once every worker serves, not once its port is bound:
/// `run_until_stopped` calls `ready` only then. Here `ready` blocks the thread that runs the
/// server's own loop while it asks `/health/live`, so the answer can only come from workers
/// already serving; a `ready` called before they start would leave the request unanswered.
async fn ready_is_said_once_every_worker_serves(backend: Backend) {
    let db = TestDb::new(backend);
    let app = trajectum::startup::Application::build(crate::helpers::test_settings(&db))
        .await
        .unwrap();
    let address = format!("127.0.0.1:{}", app.port());
    let (answered, answer) = tokio::sync::oneshot::channel();
    actix_web::rt::spawn(app.run_until_stopped(move || {
        let reply = raw_exchange(
            &address,
            b"GET /health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        );
        let _ = answered.send(reply);
    }));
    let reply = answer.await.expect("ready was called");
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

api_test!(sqlite_only: ready_is_said_once_every_worker_serves);

/// PostgreSQL gets no generated key for session notes: the service refuses to start without
/// one, and says which setting to set, before it touches the database.
async fn postgres_without_a_notes_key_refuses_to_start(backend: Backend) {
    let db = TestDb::new(backend);
    let output = trajectum(&db)
        .env_remove("TRAJECTUM_NOTES_KEY")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TRAJECTUM_NOTES_KEY"), "{stderr}");
}

/// `demo --force` on PostgreSQL without a notes key refuses before it migrates or seeds: the
/// database is left as it was (empty).
async fn demo_without_a_notes_key_touches_no_database(backend: Backend) {
    use diesel::prelude::*;
    let db = TestDb::new(backend);
    let output = trajectum(&db)
        .env_remove("TRAJECTUM_NOTES_KEY")
        .args(["demo", "--force"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TRAJECTUM_NOTES_KEY"), "{stderr}");
    let mut conn = diesel::PgConnection::establish(db.url()).unwrap();
    let tables: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public')",
    ))
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(tables, 0, "no migration ran, nothing was seeded");
}

/// The operator disables an API client and a login (`admin disable`), and a running service
/// refuses their tokens and sign-ins; `admin enable` lets them back.
async fn the_operator_disables_and_enables_logins_and_clients(backend: Backend) {
    use trajectum::admin::demo;
    let app = crate::helpers::spawn_app_with(backend, |s| s.access_recheck_seconds = 0).await;
    let system = app.client_token().await;
    let hr = app.hr_token().await;
    run(
        &app.db,
        &["admin", "disable", "--client-id", demo::CLIENT_ID],
        &[],
    );
    run(
        &app.db,
        &["admin", "disable", "--email", demo::HR_EMAIL],
        &[],
    );
    crate::helpers::assert_problem(app.get("/api/v1/orders", &system).await, 401).await;
    crate::helpers::assert_problem(app.get("/api/v1/orders", &hr).await, 401).await;
    let grant = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::CLIENT_SECRET),
        ])
        .await;
    crate::helpers::assert_problem(grant, 401).await;
    let refused = run_refused(
        &app.db,
        &["admin", "disable", "--email", "nobody@acme.example"],
        &[],
    );
    assert!(refused.contains("no login has the email"), "{refused}");
    run(
        &app.db,
        &["admin", "enable", "--client-id", demo::CLIENT_ID],
        &[],
    );
    run(
        &app.db,
        &["admin", "enable", "--email", demo::HR_EMAIL],
        &[],
    );
    assert_eq!(
        app.get("/api/v1/orders", &app.client_token().await)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/api/v1/orders", &app.hr_token().await)
            .await
            .status(),
        200
    );
}

api_test!(
    postgres_only: postgres_without_a_notes_key_refuses_to_start,
    demo_without_a_notes_key_touches_no_database,
);
api_test!(the_operator_disables_and_enables_logins_and_clients);
