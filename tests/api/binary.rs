//! The `trajectum` binary itself: its admin commands, and graceful shutdown on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::api_test;
use crate::helpers::{Backend, TestDb, TEST_SECRET};

fn trajectum(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trajectum"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("TRAJECTUM_JWT_SECRET", TEST_SECRET)
        .env("TRAJECTUM_PORT", "0")
        .env("TRAJECTUM_LOG_FORMAT", "json");
    command
}

fn run(db: &TestDb, args: &[&str], env: &[(&str, &str)]) -> String {
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

fn value<'a>(output: &'a str, key: &str) -> &'a str {
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
    let refused = trajectum(&db)
        .args(["admin", "create-client", "--org", provider, "--name", "x"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("employer"));

    let settings = trajectum::config::Settings {
        database_url: db.url().to_string(),
        port: 0,
        jwt_secret: Some(TEST_SECRET.to_string().into()),
        ..Default::default()
    };
    let app = trajectum::startup::Application::build(settings)
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.into_server());
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/api/v1/auth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let coaches: Value = http
        .get(format!("{base}/api/v1/coaches"))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(coaches["data"][0]["name"], "A Coach");
    assert_eq!(coaches["data"][0]["specialisms"][0], "reintegration");
}

/// SQLite only: the shutdown path does not depend on the database.
async fn sigterm_lets_an_in_flight_request_finish(backend: Backend) {
    let db = TestDb::new(backend);
    let mut child = trajectum(&db)
        .arg("serve")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut logs = BufReader::new(child.stderr.take().unwrap());
    let address = loop {
        let mut line = String::new();
        assert!(
            logs.read_line(&mut line).unwrap() > 0,
            "the service stopped before it was ready"
        );
        if let Ok(entry) = serde_json::from_str::<Value>(&line) {
            if entry["message"] == "trajectum is ready" {
                break entry["address"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("http://")
                    .to_string();
            }
        }
    };
    // Keep reading the logs so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut logs, &mut std::io::sink()));

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
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(&body.as_bytes()[10..]).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 401"),
        "the request finished: {response}"
    );
    assert!(response.contains("invalid_client"));
    let status = child.wait().unwrap();
    assert!(status.success(), "exits cleanly after SIGTERM: {status}");
}

api_test!(admin_commands_create_what_the_api_then_accepts);
api_test!(sqlite_only: sigterm_lets_an_in_flight_request_finish);
