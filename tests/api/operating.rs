//! What a newcomer and an operator meet with only the binary: the files it leaves behind, its
//! logs, its settings, and the test suite's own report of what it skipped.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::api_test;
use crate::binary::{client_token, run, run_refused, trajectum, value, Serving};
use crate::helpers::{Backend, TestDb, SKIPPED_POSTGRES};

/// The binary with a clean environment: only `PATH`, and whatever the test adds.
fn bare_trajectum(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trajectum"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir);
    command
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Issue 16: `demo` in a clone leaves no secret that `git add .` would commit. The demo runs
/// in a git work tree with this repository's `.gitignore`, as a newcomer runs it, generating
/// its JWT secret and notes key beside the SQLite file.
async fn demo_leaves_no_secret_untracked_in_a_git_work_tree(_: Backend) {
    let tree = tempfile::tempdir().unwrap();
    git(tree.path(), &["init", "-q"]);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".gitignore"),
        tree.path().join(".gitignore"),
    )
    .unwrap();
    let mut command = bare_trajectum(tree.path());
    command
        .env("TRAJECTUM_PORT", "0")
        .env("TRAJECTUM_LOG_FORMAT", "json")
        .arg("demo");
    let serving = Serving::start(command);
    let live = reqwest::get(serving.url("/health/ready")).await.unwrap();
    assert_eq!(live.status(), 200);
    drop(serving);

    #[cfg(unix)]
    for data in ["trajectum.sqlite3", "trajectum.sqlite3-wal"] {
        assert_eq!(
            mode(&tree.path().join(data)),
            0o600,
            "{data} holds personal data"
        );
    }
    for secret in ["trajectum.jwt-secret", "trajectum.notes-key"] {
        let path = tree.path().join(secret);
        assert!(path.exists(), "{secret} was generated");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600, "{secret} is readable by its owner only");
    }
    let status = git(
        tree.path(),
        &[
            "status",
            "--porcelain",
            "--untracked-files=all",
            "--ignored=no",
        ],
    );
    let untracked: Vec<&str> = status
        .lines()
        .filter(|line| *line != "?? .gitignore")
        .collect();
    assert!(untracked.is_empty(), "left untracked: {untracked:?}");
}

/// Issue 16: the pretty log format colours only a terminal; written to a file or a pipe it is
/// plain text.
async fn pretty_logs_are_plain_text_in_a_file(_: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trajectum.log");
    let status = bare_trajectum(dir.path())
        .env("TRAJECTUM_LOG_FORMAT", "pretty")
        .arg("migrate")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(written.contains("database migrations applied"), "{written}");
    assert!(!written.contains('\u{1b}'), "no ANSI escapes: {written:?}");
}

api_test!(
    sqlite_only: demo_leaves_no_secret_untracked_in_a_git_work_tree,
    pretty_logs_are_plain_text_in_a_file,
);

/// Issue 16: without `TEST_DATABASE_URL` the PostgreSQL variants pass without running, and
/// the run says so once, with the command that runs them: this suite runs one such variant in
/// a process of its own and reads what it printed.
#[test]
fn skipped_postgres_variants_say_so() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "binary::postgres_without_a_notes_key_refuses_to_start::postgres",
            "--exact",
        ])
        .env_remove("TEST_DATABASE_URL")
        .env_remove("TRAJECTUM_REQUIRE_POSTGRES")
        .output()
        .unwrap();
    assert!(output.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("1 passed"), "{printed}");
    assert_eq!(printed.matches(SKIPPED_POSTGRES).count(), 1, "{printed}");
}

/// Issue 16: with only the binary (or the image), `--help` lists every setting and `settings`
/// prints the values in effect and where they came from, without a secret or a password.
#[test]
fn the_binary_lists_its_settings_and_their_values_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let help = bare_trajectum(dir.path()).arg("--help").output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    for setting in trajectum::config::SETTINGS {
        assert!(
            help.contains(setting.variable),
            "{} in --help",
            setting.variable
        );
    }
    let secret = "a-secret-that-must-not-be-printed-0123456789";
    let printed = bare_trajectum(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://app:db-password-xyz@db.internal/trajectum",
        )
        .env("TRAJECTUM_JWT_SECRET", secret)
        .env("TRAJECTUM_PORT", "9123")
        .arg("settings")
        .output()
        .unwrap();
    assert!(printed.status.success());
    let printed = String::from_utf8(printed.stdout).unwrap();
    assert!(
        !printed.contains(secret) && !printed.contains("db-password-xyz"),
        "{printed}"
    );
    let line = |variable: &str| {
        printed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(variable))
            .unwrap_or_else(|| panic!("{variable} in {printed}"))
            .to_string()
    };
    assert!(line("TRAJECTUM_JWT_SECRET").contains("(set, hidden)  (environment)"));
    assert!(line("TRAJECTUM_PORT").contains("9123  (environment)"));
    assert!(line("TRAJECTUM_HOST").contains("127.0.0.1  (default)"));
    assert!(line("DATABASE_URL").contains("postgres://app:[hidden]@db.internal/trajectum"));
    assert!(line("TRAJECTUM_NOTES_KEY").contains("(not set)  (default)"));
}

/// Issue 16: `keygen --env-file` gives the file the keys it lacks, readable by its owner only
/// when it makes the file, and never replaces a key (notes are sealed under it): running the
/// README twice keeps the first run's keys.
#[test]
fn keygen_completes_an_env_file_and_keeps_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = || {
        let output = bare_trajectum(dir.path())
            .args(["keygen", "--env-file", ".env"])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        std::fs::read_to_string(dir.path().join(".env")).unwrap()
    };
    let first = keygen();
    #[cfg(unix)]
    assert_eq!(mode(&dir.path().join(".env")), 0o600);
    let value = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .map(String::from)
            .unwrap_or_else(|| panic!("{name} in {text}"))
    };
    let notes_key = value(&first, "TRAJECTUM_NOTES_KEY");
    assert!(trajectum::vault::NotesKey::from_base64(&notes_key).is_ok());
    assert!(value(&first, "TRAJECTUM_JWT_SECRET").len() >= 32);
    assert_eq!(keygen(), first, "a second run changes nothing");

    std::fs::write(
        dir.path().join(".env"),
        "POSTGRES_PASSWORD=chosen\nexport TRAJECTUM_NOTES_KEY=kept",
    )
    .unwrap();
    let completed = keygen();
    assert_eq!(value(&completed, "POSTGRES_PASSWORD"), "chosen");
    assert_eq!(value(&completed, "export TRAJECTUM_NOTES_KEY"), "kept");
    assert!(!completed.contains("\nTRAJECTUM_NOTES_KEY="), "{completed}");
    assert!(value(&completed, "TRAJECTUM_JWT_SECRET").len() >= 32);
}

/// This binary's migrations, oldest first (the folders of `migrations/sqlite`; PostgreSQL's have
/// the same names, which `tests/api/migrations.rs` checks).
fn migrations() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn newest() -> String {
    migrations().pop().unwrap()
}

/// Issue 16, PostgreSQL as pasted: a database that does not exist yet stops the start with the
/// command that creates it, and `migrate --create-database` creates it (once).
async fn a_missing_postgres_database_is_named_and_created_on_request(backend: Backend) {
    let db = TestDb::new(backend);
    db.drop_now();
    let said = run_refused(&db, &["serve"], &[]);
    assert!(
        said.contains("does not exist") && said.contains("--create-database"),
        "{said}"
    );
    let created = run(&db, &["migrate", "--create-database"], &[]);
    assert!(created.contains("database created"), "{created}");
    let again = run(&db, &["migrate", "--create-database"], &[]);
    assert!(!again.contains("database created"), "{again}");
    assert!(again.contains("migrations are up to date"), "{again}");
}

api_test!(postgres_only: a_missing_postgres_database_is_named_and_created_on_request);

/// Issue 16, upgrading and rolling back: `migrate --revert-to` runs this binary's down scripts
/// back to a version, and a database that a newer Trajectum migrated is refused at start rather
/// than misread.
async fn a_rollback_reverts_migrations_and_a_newer_database_is_refused(backend: Backend) {
    let db = TestDb::new(backend);
    run(&db, &["migrate"], &[]);
    let reverted = run(&db, &["migrate", "--revert-to", "2026-12-06-000005"], &[]);
    let newer: Vec<String> = migrations()
        .into_iter()
        .filter(|name| name.as_str() > "2026-12-06-000005_scheduling")
        .collect();
    for name in &newer {
        assert!(reverted.contains(&format!("reverted={name}")), "{reverted}");
    }
    assert!(newer.contains(&"2026-12-07-000006_coach_logins".to_string()));
    assert_eq!(
        value(&reverted, "migrations_reverted"),
        newer.len().to_string()
    );
    let nothing = run(&db, &["migrate", "--revert-to", "2026-12-06-000005"], &[]);
    assert_eq!(value(&nothing, "migrations_reverted"), "0");
    let unknown = run_refused(&db, &["migrate", "--revert-to", "1999-01-01-000001"], &[]);
    assert!(unknown.contains("2026-11-22-000001_identity"));
    assert!(run(&db, &["migrate"], &[]).contains(&format!("newest: {}", newest())));

    // A migration from the future, as a newer release would have left it.
    let url = trajectum::config::DatabaseUrl::parse(db.url()).unwrap();
    actix_web::rt::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let pool = trajectum::db::pool(url, 1, std::time::Duration::from_secs(5)).unwrap();
        diesel::sql_query(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000001')",
        )
        .execute(&mut *pool.get().unwrap())
        .unwrap();
    })
    .await
    .unwrap();
    let said = run_refused(&db, &["serve"], &[]);
    assert!(
        said.contains("29991231000001") && said.contains("a newer version migrated it"),
        "{said}"
    );
}

api_test!(a_rollback_reverts_migrations_and_a_newer_database_is_refused);

/// Issue 16, backups: `trajectum backup FILE` copies a SQLite database while the service serves
/// it, and the copy serves what was there when it was taken.
async fn a_sqlite_database_is_backed_up_while_serving_and_the_copy_restores(backend: Backend) {
    let db = TestDb::new(backend);
    let mut command = trajectum(&db);
    command.arg("demo");
    let serving = Serving::start(command);
    let base = serving.url("");
    let token = client_token(
        &base,
        trajectum::admin::demo::CLIENT_ID,
        trajectum::admin::demo::CLIENT_SECRET,
    )
    .await;
    let http = reqwest::Client::new();
    let order = |name: &'static str| {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            let created: serde_json::Value = http
                .post(format!("{base}/api/v1/orders"))
                .bearer_auth(token)
                .json(&serde_json::json!({"coachee": {"name": name, "phone": "+31612345678"}}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            created["id"].as_str().unwrap().to_string()
        }
    };
    let before = order("Before Backup").await;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.sqlite3");
    let done = run(&db, &["backup", copy.to_str().unwrap()], &[]);
    assert!(done.starts_with("backup="), "{done}");
    order("After Backup").await;
    let again = trajectum(&db)
        .args(["backup", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "an existing file is not overwritten"
    );
    drop(serving);

    let restored = TestDb::Sqlite {
        _dir: dir,
        url: format!("sqlite://{}", copy.display()),
    };
    let mut command = trajectum(&restored);
    command.arg("serve");
    let serving = Serving::start(command);
    let page: serde_json::Value = http
        .get(serving.url("/api/v1/orders"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["external_ref"] != trajectum::admin::demo::HISTORY_REF)
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [before.as_str()]);
}

api_test!(sqlite_only: a_sqlite_database_is_backed_up_while_serving_and_the_copy_restores);

/// Issue 16: an older version let `admin create-user` make a second coach with the email of one
/// added through the API. The upgrade that makes the email unique stops before its migration,
/// naming both coaches and what to do, and goes through once they differ.
async fn an_upgrade_names_coaches_that_share_an_email(backend: Backend) {
    let db = TestDb::new(backend);
    run(&db, &["migrate"], &[]);
    run(&db, &["migrate", "--revert-to", "2026-12-06-000005"], &[]);
    let url = trajectum::config::DatabaseUrl::parse(db.url()).unwrap();
    let sql = |statements: Vec<&'static str>| {
        let url = url.clone();
        actix_web::rt::task::spawn_blocking(move || {
            use diesel::RunQueryDsl;
            let pool = trajectum::db::pool(url, 1, std::time::Duration::from_secs(5)).unwrap();
            for statement in statements {
                diesel::sql_query(statement)
                    .execute(&mut *pool.get().unwrap())
                    .unwrap();
            }
        })
    };
    sql(vec![
        "INSERT INTO organisations (id, kind, name, time_zone, created_at, updated_at) \
         VALUES ('org-1', 'provider', 'P', 'Europe/Amsterdam', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        "INSERT INTO coaches (id, organisation_id, name, email, time_zone, created_at, updated_at) \
         VALUES ('coach-a', 'org-1', 'Carla', 'carla@p.example', 'Europe/Amsterdam', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        "INSERT INTO coaches (id, organisation_id, name, email, time_zone, created_at, updated_at) \
         VALUES ('coach-b', 'org-1', 'Carla', 'carla@p.example', 'Europe/Amsterdam', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    ])
    .await
    .unwrap();
    let said = run_refused(&db, &["migrate"], &[]);
    assert!(
        said.contains("coach coach-a (carla@p.example)")
            && said.contains("coach coach-b (carla@p.example)")
            && said.contains("give all but one of each another email"),
        "{said}"
    );
    sql(vec![
        "UPDATE coaches SET email = 'carla.b@p.example' WHERE id = 'coach-b'",
    ])
    .await
    .unwrap();
    assert!(run(&db, &["migrate"], &[]).contains(&format!("newest: {}", newest())));
}

api_test!(an_upgrade_names_coaches_that_share_an_email);

/// Issue 17: the demo's past holds a trajectory completed 75 days ago whose first follow-up is
/// due in 15 days: the worker that `demo` starts books it (the README's walkthrough shows it).
async fn the_demo_worker_books_the_follow_up_that_is_due(backend: Backend) {
    let db = TestDb::new(backend);
    let mut command = trajectum(&db);
    command
        .env("TRAJECTUM_WORKER_POLL_MILLISECONDS", "50")
        .arg("demo");
    let serving = Serving::start(command);
    let token = client_token(
        &serving.url(""),
        trajectum::admin::demo::CLIENT_ID,
        trajectum::admin::demo::CLIENT_SECRET,
    )
    .await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let (http, url, token) = (http.clone(), serving.url(&path), token.clone());
        async move {
            let body: serde_json::Value = http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body
        }
    };
    let following = get("/api/v1/orders?status=following_up".into()).await;
    let order = following["data"][0]["id"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    loop {
        let follow_ups = get(format!("/api/v1/orders/{order}/follow-ups")).await;
        if follow_ups["data"][0]["status"] == "scheduled" {
            assert_eq!(follow_ups["data"][1]["status"], "pending");
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{follow_ups}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

api_test!(sqlite_only: the_demo_worker_books_the_follow_up_that_is_due);
