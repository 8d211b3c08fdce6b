//! Typed settings: built-in defaults, then an optional TOML file, then environment variables.
//!
//! Every setting is named, with its default and meaning, in [`SETTINGS`]: `trajectum --help`
//! lists them from there, `trajectum settings` prints the effective values (secrets hidden),
//! and a test holds the README's table to it.
//!
//! Unknown keys in the TOML file are refused. Unknown `TRAJECTUM_*` environment variables are
//! ignored with a warning naming them: platforms inject their own (Kubernetes adds
//! `TRAJECTUM_PORT=tcp://…`, `TRAJECTUM_SERVICE_HOST` and more for a Service named `trajectum`);
//! a `TRAJECTUM_PORT` in that service-link form is ignored with a warning that says so.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database_url: String,
    pub host: String,
    pub port: u16,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub jwt_algorithm: JwtAlgorithm,
    #[serde(serialize_with = "redacted")]
    pub jwt_secret: Option<SecretString>,
    pub jwt_private_key_file: Option<PathBuf>,
    pub jwt_public_key_file: Option<PathBuf>,
    pub jwt_kid: Option<String>,
    pub jwt_previous_algorithm: Option<JwtAlgorithm>,
    #[serde(serialize_with = "redacted")]
    pub jwt_previous_secret: Option<SecretString>,
    pub jwt_previous_public_key_file: Option<PathBuf>,
    pub jwt_previous_kid: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub jwt_leeway_seconds: u64,
    pub access_token_ttl_seconds: i64,
    pub refresh_token_ttl_seconds: i64,
    pub cors_allowed_origins: String,
    pub body_limit_bytes: usize,
    pub db_pool_size: u32,
    pub db_timeout_seconds: u64,
    pub login_max_failures: u32,
    pub login_lockout_seconds: u64,
    /// How long this instance trusts that a token's subject still stands behind it.
    pub access_recheck_seconds: u64,
    pub shutdown_timeout_seconds: u64,
    /// Days the coachee has to rate the first session before the order is at risk (004).
    pub alliance_rating_days: u32,
    /// The key that seals coaches' session notes (`crate::vault`).
    #[serde(serialize_with = "redacted")]
    pub notes_key: Option<SecretString>,
    /// Retired notes keys (comma-separated), still used to open notes sealed under them.
    #[serde(serialize_with = "redacted")]
    pub notes_previous_keys: Option<SecretString>,
    /// Whether `serve` runs the job worker beside the API.
    pub worker: bool,
    pub worker_poll_milliseconds: u64,
    pub worker_batch: u32,
    pub worker_lease_seconds: u64,
    /// Days before its due date a follow-up is booked, and after it free time is looked for.
    pub follow_up_horizon_days: u32,
    /// How long one webhook delivery attempt may take.
    pub webhook_timeout_seconds: u64,
    /// Webhooks to plain `http` URLs (development only).
    pub webhook_allow_http: bool,
    /// Private networks webhooks may go to (comma-separated CIDRs): an on-premise HR system.
    pub webhook_allowed_networks: String,
    /// Subscriptions a worker delivers to at once.
    pub webhook_concurrency: u32,
    /// Counts below this are withheld from outcome reports.
    pub report_min_count: u32,
    /// Months after an order closed that its coachee's personal data is erased (0: never).
    pub erase_after_months: u32,
    /// Requests each caller may make per window (0: no limit).
    pub rate_limit: u32,
    pub rate_limit_window_seconds: u32,
    /// How often an instance adds its count of a caller's requests to the database's.
    pub rate_limit_share_milliseconds: u64,
    /// Sign-ups to invitation campaigns one client address may make per window (0: no limit).
    pub sign_up_limit_per_address: u32,
    /// Sign-ups one campaign takes per window (0: no limit).
    pub sign_up_limit_per_campaign: u32,
    pub sign_up_limit_window_seconds: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (comma-separated CIDRs).
    pub trusted_proxies: String,
}

/// One setting as people read about it: its environment variable, its default and what it means
/// (Markdown, as the README's table shows it).
#[derive(Debug, Clone, Copy)]
pub struct SettingDoc {
    pub variable: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn setting(
    variable: &'static str,
    default: &'static str,
    meaning: &'static str,
) -> SettingDoc {
    SettingDoc {
        variable,
        default,
        meaning,
    }
}

/// Every setting, in the order the README lists them. `TRAJECTUM_CONFIG` and
/// `TRAJECTUM_NEW_PASSWORD` are read by the command line, not kept in [`Settings`].
pub const SETTINGS: &[SettingDoc] = &[
    setting("DATABASE_URL", "`sqlite://trajectum.sqlite3`", "`postgres://USER:PASS@HOST/DB` or `sqlite://PATH`"),
    setting("TRAJECTUM_CONFIG", "none", "path of an optional TOML settings file"),
    setting("TRAJECTUM_HOST", "`127.0.0.1`", "address to bind"),
    setting("TRAJECTUM_PORT", "`8080`", "port to bind"),
    setting("TRAJECTUM_LOG_FORMAT", "`pretty`", "`pretty` (coloured on a terminal only) or `json`"),
    setting("TRAJECTUM_LOG_FILTER", "`info`", "tracing filter, e.g. `info,trajectum=debug`"),
    setting("TRAJECTUM_JWT_ALGORITHM", "`HS256`", "`HS256`, `EdDSA` or `RS256`"),
    setting("TRAJECTUM_JWT_SECRET", "generated on SQLite", "HS256 secret, at least 32 bytes"),
    setting("TRAJECTUM_JWT_PRIVATE_KEY_FILE", "none", "PEM private key (EdDSA, RS256)"),
    setting("TRAJECTUM_JWT_PUBLIC_KEY_FILE", "none", "PEM public key (EdDSA, RS256)"),
    setting("TRAJECTUM_JWT_KID", "derived from the key", "key id in the token header"),
    setting("TRAJECTUM_JWT_PREVIOUS_ALGORITHM", "none", "algorithm of a retired key still accepted"),
    setting("TRAJECTUM_JWT_PREVIOUS_SECRET", "none", "the retired HS256 secret"),
    setting("TRAJECTUM_JWT_PREVIOUS_PUBLIC_KEY_FILE", "none", "the retired PEM public key"),
    setting("TRAJECTUM_JWT_PREVIOUS_KID", "none", "the retired key's id (required with a previous key)"),
    setting("TRAJECTUM_JWT_ISSUER", "`trajectum`", "`iss` issued and required"),
    setting("TRAJECTUM_JWT_AUDIENCE", "`trajectum-api`", "`aud` issued and required"),
    setting("TRAJECTUM_JWT_LEEWAY_SECONDS", "`30`", "clock skew allowed on `exp` and `nbf` (at most 30)"),
    setting("TRAJECTUM_ACCESS_TOKEN_TTL_SECONDS", "`900`", "access token lifetime"),
    setting("TRAJECTUM_REFRESH_TOKEN_TTL_SECONDS", "`2592000`", "refresh token lifetime (30 days)"),
    setting("TRAJECTUM_CORS_ALLOWED_ORIGINS", "empty (none)", "comma-separated origins for browser front ends"),
    setting("TRAJECTUM_BODY_LIMIT_BYTES", "`262144`", "largest request body (413 above it)"),
    setting("TRAJECTUM_DB_POOL_SIZE", "`10`, or twice the cores plus one where that is fewer", "database connections"),
    setting("TRAJECTUM_DB_TIMEOUT_SECONDS", "`5`", "how long a request may wait for the database (a free connection, or a lock another request holds: SQLite's busy wait, PostgreSQL's `lock_timeout`) before answering 503 with `Retry-After` of as many seconds; a 503 is logged as a warning (a busy database is not an error of the service)"),
    setting("TRAJECTUM_LOGIN_MAX_FAILURES", "`5`", "failed logins per account or client before throttling"),
    setting("TRAJECTUM_LOGIN_LOCKOUT_SECONDS", "`900`", "the throttle's window and lockout (counted in the database: shared by every instance)"),
    setting("TRAJECTUM_ACCESS_RECHECK_SECONDS", "`2`", "how long an instance trusts that a token's user, client or link is still enabled and unrevoked before asking the database again (`0`: every request); a change through the same instance takes effect at once"),
    setting("TRAJECTUM_SHUTDOWN_TIMEOUT_SECONDS", "`30`", "on SIGTERM, time given to in-flight requests"),
    setting("TRAJECTUM_ALLIANCE_RATING_DAYS", "`7`", "days the coachee has to rate the first session before the order is marked at risk (004); checked hourly by the worker, and by `trajectum admin check-alliance`"),
    setting("TRAJECTUM_NOTES_KEY", "generated on SQLite", "32 random bytes in base64 (`trajectum keygen`): seals coaches' session notes with AES-256-GCM; required with PostgreSQL"),
    setting("TRAJECTUM_NOTES_PREVIOUS_KEYS", "none", "retired notes keys, comma-separated: notes sealed under them still open until `trajectum admin reseal-notes` has sealed them under the current key"),
    setting("TRAJECTUM_WORKER", "`true`", "whether `serve` runs the job worker (follow-ups, the first-session check) beside the API; `trajectum worker` runs it alone"),
    setting("TRAJECTUM_WORKER_POLL_MILLISECONDS", "`1000`", "how often an idle worker looks for due jobs"),
    setting("TRAJECTUM_WORKER_BATCH", "`10`", "jobs a worker claims at a time"),
    setting("TRAJECTUM_WORKER_LEASE_SECONDS", "`60`", "how long a claimed job is the worker's: a worker that dies leaves it to be taken again after this"),
    setting("TRAJECTUM_FOLLOW_UP_HORIZON_DAYS", "`21`", "days before its due date a follow-up is booked, and after it free time is looked for (002)"),
    setting("TRAJECTUM_WEBHOOK_TIMEOUT_SECONDS", "`10`", "how long one webhook delivery attempt may take, connecting included (a delivery's lease is the worker's plus this)"),
    setting("TRAJECTUM_WEBHOOK_ALLOW_HTTP", "`false`", "take plain `http` webhook URLs: for development only"),
    setting("TRAJECTUM_WEBHOOK_ALLOWED_NETWORKS", "none", "private networks webhooks may go to, comma-separated CIDRs (an on-premise HR system, e.g. `10.20.0.0/16`); loopback, link-local, private and metadata addresses are refused otherwise"),
    setting("TRAJECTUM_WEBHOOK_CONCURRENCY", "`8`", "subscriptions a worker delivers to at once: one slow receiver holds up only its own"),
    setting("TRAJECTUM_ERASE_AFTER_MONTHS", "`24`", "months after an order was closed or cancelled that the worker erases its coachee's personal data (as `POST /orders/{id}/erase` does); `0`: never automatically"),
    setting("TRAJECTUM_REPORT_MIN_COUNT", "`5`", "outcome reports withhold counts from 1 to below this (2 to 100), and as many others as keep them from being derived"),
    setting("TRAJECTUM_RATE_LIMIT", "`1200`", "requests each caller (user, API client, coachee link) may make per window, shared by every instance (`RateLimit-Policy` and `RateLimit` on each answer, 429 with `Retry-After` beyond it); `0`: no limit"),
    setting("TRAJECTUM_RATE_LIMIT_WINDOW_SECONDS", "`60`", "the rate limit's window (1 to 86400); windows are aligned to the clock, so every instance counts the same one"),
    setting("TRAJECTUM_RATE_LIMIT_SHARE_MILLISECONDS", "`1000`", "how often an instance adds its count of a caller's requests to the database's and reads every instance's sum (one write per caller per interval); between shares a caller may get up to what the other instances served it in one interval beyond the quota; `0`: on every request, exact"),
    setting("TRAJECTUM_SIGN_UP_LIMIT_PER_ADDRESS", "`20`", "sign-ups one client address (an IPv6 client: its /64) may make per window on the public `POST /sign-up/{token}` (429 with `Retry-After` beyond it); an office signing up from behind one address shares it, so raise it for a large campaign's launch; `0`: no limit"),
    setting("TRAJECTUM_SIGN_UP_LIMIT_PER_CAMPAIGN", "`120`", "sign-ups one invitation campaign takes per window, from all addresses together; `0`: no limit"),
    setting("TRAJECTUM_SIGN_UP_LIMIT_WINDOW_SECONDS", "`600`", "the window of the two sign-up limits (1 to 86400)"),
    setting("TRAJECTUM_TRUSTED_PROXIES", "none", "reverse proxies in front of the service, comma-separated CIDRs or addresses: from a peer among them, the client's address is the last one in `X-Forwarded-For` that is not itself a trusted proxy; from any other peer the header is ignored"),
    setting("TRAJECTUM_NEW_PASSWORD", "none", "password for `admin create-user`"),
];

/// The settings as `--help` lists them, in plain text.
pub fn settings_help() -> String {
    let plain = |text: &str| text.replace('`', "");
    let mut help = String::from(
        "Settings (environment variables; in the TOML file, the same names in lower case without \
         TRAJECTUM_, e.g. port = 9000):\n",
    );
    for doc in SETTINGS {
        help.push_str(&format!(
            "  {}  [default: {}]\n      {}\n",
            doc.variable,
            plain(doc.default),
            plain(doc.meaning)
        ));
    }
    help.push_str("\n`trajectum settings` prints the values in effect, secrets hidden.");
    help
}

/// Where a setting's value in effect came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// `--config` or `TRAJECTUM_CONFIG`.
    CommandLine,
    File,
    Environment,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Default => "default",
            Origin::CommandLine => "command line or environment",
            Origin::File => "config file",
            Origin::Environment => "environment",
        }
    }
}

/// A setting's value in effect (a secret shown only as set or not), and where it came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub variable: &'static str,
    pub value: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JwtAlgorithm {
    HS256,
    EdDSA,
    RS256,
}

/// What a secret is shown as when settings are printed.
const REDACTED: &str = "[redacted]";

fn redacted<S: serde::Serializer>(
    value: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(_) => serializer.serialize_some(REDACTED),
        None => serializer.serialize_none(),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "sqlite://trajectum.sqlite3".into(),
            host: "127.0.0.1".into(),
            port: 8080,
            log_format: LogFormat::Pretty,
            log_filter: "info".into(),
            jwt_algorithm: JwtAlgorithm::HS256,
            jwt_secret: None,
            jwt_private_key_file: None,
            jwt_public_key_file: None,
            jwt_kid: None,
            jwt_previous_algorithm: None,
            jwt_previous_secret: None,
            jwt_previous_public_key_file: None,
            jwt_previous_kid: None,
            jwt_issuer: "trajectum".into(),
            jwt_audience: "trajectum-api".into(),
            jwt_leeway_seconds: 30,
            access_token_ttl_seconds: 900,
            refresh_token_ttl_seconds: 30 * 24 * 3600,
            cors_allowed_origins: String::new(),
            body_limit_bytes: 256 * 1024,
            db_pool_size: default_pool_size(),
            db_timeout_seconds: 5,
            login_max_failures: 5,
            login_lockout_seconds: 900,
            access_recheck_seconds: 2,
            shutdown_timeout_seconds: 30,
            alliance_rating_days: crate::domain::alliance::DEFAULT_RATING_DAYS,
            notes_key: None,
            notes_previous_keys: None,
            worker: true,
            worker_poll_milliseconds: 1000,
            worker_batch: 10,
            worker_lease_seconds: 60,
            follow_up_horizon_days: crate::domain::follow_up::DEFAULT_HORIZON_DAYS,
            webhook_timeout_seconds: 10,
            webhook_allow_http: false,
            webhook_allowed_networks: String::new(),
            webhook_concurrency: 8,
            report_min_count: crate::domain::report::DEFAULT_MIN_COUNT,
            erase_after_months: 24,
            rate_limit: 1200,
            rate_limit_window_seconds: 60,
            rate_limit_share_milliseconds: 1000,
            sign_up_limit_per_address: 20,
            sign_up_limit_per_campaign: 120,
            sign_up_limit_window_seconds: 600,
            trusted_proxies: String::new(),
        }
    }
}

/// The pool's size unless set: ten connections, or twice the cores plus one on a smaller
/// machine, where more connections than that only queue for the CPU. On this project's 2-core
/// machine, 5 instead of 10 took the p99 of an order read under 32 concurrent clients on
/// PostgreSQL from 10.3 to 5.9 ms (`bench/README.md`).
pub fn default_pool_size() -> u32 {
    pool_size_for(std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn pool_size_for(cores: usize) -> u32 {
    u32::try_from(2 * cores + 1).unwrap_or(u32::MAX).min(10)
}

/// Which database a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A SQLite database file (or a `file:` URI for shared in-memory databases).
    Sqlite(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url.to_string()));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if path.is_empty() || path.contains("://") {
            bail!("DATABASE_URL must be postgres://… or sqlite://PATH");
        }
        Ok(DatabaseUrl::Sqlite(path.to_string()))
    }

    /// The directory that holds a SQLite database file, where a generated signing key is kept.
    pub fn sqlite_dir(&self) -> Option<PathBuf> {
        match self {
            DatabaseUrl::Sqlite(path) if !path.starts_with("file:") => {
                let parent = Path::new(path).parent().map(Path::to_path_buf);
                Some(
                    parent
                        .filter(|p| !p.as_os_str().is_empty())
                        .unwrap_or_else(|| ".".into()),
                )
            }
            _ => None,
        }
    }
}

/// What a setting takes, read off its default: an environment variable is text, and a number or
/// a yes/no is parsed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    YesNo,
}

/// Each setting's name and [`Kind`].
fn setting_kinds() -> Vec<(String, Kind)> {
    match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(fields)) => fields
            .into_iter()
            .map(|(key, value)| {
                let kind = match value {
                    serde_json::Value::Number(_) => Kind::Number,
                    serde_json::Value::Bool(_) => Kind::YesNo,
                    _ => Kind::Text,
                };
                (key, kind)
            })
            .collect(),
        _ => vec![],
    }
}

/// The `TRAJECTUM_*` variables of `vars` that are settings, as a table of values, and warnings
/// about the ones that are not. (Variables are read as the OS gives them: one that is not UTF-8
/// must not stop the service unless it is one of ours, and then it is named.)
fn environment(
    vars: impl IntoIterator<Item = (OsString, OsString)>,
) -> anyhow::Result<(toml::Table, Vec<String>)> {
    let kinds = setting_kinds();
    let mut table = toml::Table::new();
    let mut warnings = vec![];
    for (name, value) in vars {
        let Some(name) = name.to_str() else { continue };
        let Some(key) = name
            .get(..10)
            .filter(|prefix| prefix.eq_ignore_ascii_case("TRAJECTUM_"))
            .map(|_| name[10..].to_ascii_lowercase())
        else {
            continue;
        };
        if key.is_empty() || key == "config" || key == "new_password" {
            continue;
        }
        let Ok(value) = value.into_string() else {
            warnings.push(format!("{name} is not valid UTF-8; ignored"));
            continue;
        };
        let Some(&(_, kind)) = kinds.iter().find(|(setting, _)| *setting == key) else {
            warnings.push(format!("{name} is not a setting of Trajectum; ignored"));
            continue;
        };
        if key == "port" && value.contains("://") {
            warnings.push(format!(
                "{name} looks like a Kubernetes service link ({value}), not a port; ignored. \
                 Set enableServiceLinks: false on the pod, or set the port in the config file"
            ));
        } else if kind == Kind::Number {
            let number: i64 = value
                .trim()
                .parse()
                .with_context(|| format!("{name} must be a whole number, not {value:?}"))?;
            table.insert(key, toml::Value::Integer(number));
        } else if kind == Kind::YesNo {
            let yes = match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => bail!("{name} must be true or false, not {value:?}"),
            };
            table.insert(key, toml::Value::Boolean(yes));
        } else {
            table.insert(key, toml::Value::String(value));
        }
    }
    Ok((table, warnings))
}

/// What a configuration is made of: the TOML file's table, the environment's, and warnings
/// about what the environment held that is not a setting.
struct Layers {
    file: toml::Table,
    environment: toml::Table,
    warnings: Vec<String>,
}

impl Layers {
    /// The TOML file named by `config_file` or `TRAJECTUM_CONFIG`, and the environment.
    fn read(config_file: Option<&Path>) -> anyhow::Result<Layers> {
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("TRAJECTUM_CONFIG").map(PathBuf::from));
        let file = match file {
            Some(file) => {
                if !file.exists() {
                    bail!("config file {} does not exist", file.display());
                }
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("cannot read config file {}", file.display()))?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("invalid config file {}", file.display()))?
            }
            None => toml::Table::new(),
        };
        let (mut environment, warnings) = environment(std::env::vars_os())?;
        if let Some(url) = std::env::var_os("DATABASE_URL") {
            let url = url
                .into_string()
                .map_err(|_| anyhow::anyhow!("DATABASE_URL is not valid UTF-8"))?;
            environment.insert("database_url".into(), toml::Value::String(url));
        }
        Ok(Layers {
            file,
            environment,
            warnings,
        })
    }

    /// Defaults, then the file, then the environment, checked.
    fn settings(&self) -> anyhow::Result<Settings> {
        let mut table = self.file.clone();
        table.extend(self.environment.clone());
        let settings =
            Settings::deserialize(toml::Value::Table(table)).context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    fn origin(&self, key: &str) -> Origin {
        if self.environment.contains_key(key) {
            Origin::Environment
        } else if self.file.contains_key(key) {
            Origin::File
        } else {
            Origin::Default
        }
    }
}

/// The key of a setting in the TOML file and in [`Settings`], from its variable's name.
fn key_of(variable: &str) -> String {
    variable
        .strip_prefix("TRAJECTUM_")
        .unwrap_or(variable)
        .to_ascii_lowercase()
}

/// A database URL with its passwords hidden: in the user information, and in the query's
/// `password` and `sslpassword` parameters (libpq takes both).
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{user}:[hidden]@{host}")
        }
        _ => authority.to_string(),
    };
    let query = query.map(|query| {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if ["password", "sslpassword"].contains(&name) => {
                    format!("{name}=[hidden]")
                }
                _ => parameter.to_string(),
            })
            .collect();
        format!("?{}", parameters.join("&"))
    });
    format!("{scheme}://{authority}{path}{}", query.unwrap_or_default())
}

impl Settings {
    /// Defaults, then the TOML file named by `config_file` or `TRAJECTUM_CONFIG`, then the
    /// environment; with warnings about environment variables that were ignored.
    pub fn load(config_file: Option<&Path>) -> anyhow::Result<(Settings, Vec<String>)> {
        let layers = Layers::read(config_file)?;
        Ok((layers.settings()?, layers.warnings))
    }

    /// Every setting's value in effect and where it came from, as `trajectum settings` prints
    /// them: secrets only as set or not, a database password hidden.
    pub fn effective(config_file: Option<&Path>) -> anyhow::Result<Vec<Effective>> {
        let layers = Layers::read(config_file)?;
        let settings = layers.settings()?;
        let shown = serde_json::to_value(&settings)?;
        let config = config_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("TRAJECTUM_CONFIG").map(PathBuf::from));
        Ok(SETTINGS
            .iter()
            .filter(|doc| doc.variable != "TRAJECTUM_NEW_PASSWORD")
            .map(|doc| {
                if doc.variable == "TRAJECTUM_CONFIG" {
                    return Effective {
                        variable: doc.variable,
                        value: config
                            .as_ref()
                            .map_or("(none)".into(), |p| p.display().to_string()),
                        origin: if config.is_some() {
                            Origin::CommandLine
                        } else {
                            Origin::Default
                        },
                    };
                }
                let key = key_of(doc.variable);
                let value = match &shown[&key] {
                    serde_json::Value::Null => "(not set)".to_string(),
                    serde_json::Value::String(text) if text.is_empty() => "(empty)".to_string(),
                    serde_json::Value::String(text) if text == REDACTED => {
                        "(set, hidden)".to_string()
                    }
                    serde_json::Value::String(text) if key == "database_url" => {
                        without_password(text)
                    }
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                Effective {
                    variable: doc.variable,
                    value,
                    origin: layers.origin(&key),
                }
            })
            .collect())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        DatabaseUrl::parse(&self.database_url)?;
        if self.jwt_leeway_seconds > 30 {
            bail!("TRAJECTUM_JWT_LEEWAY_SECONDS must be at most 30");
        }
        if self.access_token_ttl_seconds < 60 || self.refresh_token_ttl_seconds < 60 {
            bail!("token lifetimes must be at least 60 seconds");
        }
        if self.body_limit_bytes < 1024 {
            bail!("TRAJECTUM_BODY_LIMIT_BYTES must be at least 1024");
        }
        if self.db_pool_size == 0 {
            bail!("TRAJECTUM_DB_POOL_SIZE must be at least 1");
        }
        if !(1..=90).contains(&self.alliance_rating_days) {
            bail!("TRAJECTUM_ALLIANCE_RATING_DAYS must be 1 to 90");
        }
        if !(1..=60).contains(&self.follow_up_horizon_days) {
            bail!("TRAJECTUM_FOLLOW_UP_HORIZON_DAYS must be 1 to 60");
        }
        if self.worker_batch == 0
            || self.worker_lease_seconds == 0
            || self.worker_poll_milliseconds == 0
        {
            bail!(
                "TRAJECTUM_WORKER_BATCH, _LEASE_SECONDS and _POLL_MILLISECONDS must be at least 1"
            );
        }
        if !(1..=300).contains(&self.webhook_timeout_seconds) {
            bail!("TRAJECTUM_WEBHOOK_TIMEOUT_SECONDS must be 1 to 300");
        }
        if self.webhook_concurrency == 0 || self.webhook_concurrency > 256 {
            bail!("TRAJECTUM_WEBHOOK_CONCURRENCY must be 1 to 256");
        }
        if self.erase_after_months > 1200 {
            bail!("TRAJECTUM_ERASE_AFTER_MONTHS must be 0 to 1200");
        }
        if !(2..=100).contains(&self.report_min_count) {
            bail!("TRAJECTUM_REPORT_MIN_COUNT must be 2 to 100");
        }
        if !(1..=crate::domain::rate_limit::LONGEST_WINDOW_SECONDS)
            .contains(&self.rate_limit_window_seconds)
        {
            bail!("TRAJECTUM_RATE_LIMIT_WINDOW_SECONDS must be 1 to 86400");
        }
        if self.rate_limit_share_milliseconds > 60_000 {
            bail!("TRAJECTUM_RATE_LIMIT_SHARE_MILLISECONDS must be 0 to 60000");
        }
        if !(1..=crate::domain::rate_limit::LONGEST_WINDOW_SECONDS)
            .contains(&self.sign_up_limit_window_seconds)
        {
            bail!("TRAJECTUM_SIGN_UP_LIMIT_WINDOW_SECONDS must be 1 to 86400");
        }
        crate::client_address::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("TRAJECTUM_TRUSTED_PROXIES: {e}"))?;
        crate::domain::webhook::AddressPolicy::parse(&self.webhook_allowed_networks)
            .map_err(|e| anyhow::anyhow!("TRAJECTUM_WEBHOOK_ALLOWED_NETWORKS: {e}"))?;
        Ok(())
    }

    pub fn database(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.database_url).expect("validated at load")
    }

    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(String::from)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_is_ten_connections_or_fewer_on_a_small_machine() {
        for (cores, size) in [
            (1, 3),
            (2, 5),
            (4, 9),
            (5, 10),
            (64, 10),
            (usize::MAX / 2, 10),
        ] {
            assert_eq!(pool_size_for(cores), size, "{cores} cores");
        }
        assert_eq!(Settings::default().db_pool_size, default_pool_size());
    }

    #[test]
    fn database_urls_pick_the_backend_from_the_scheme() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap(),
            DatabaseUrl::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/t.db").unwrap(),
            DatabaseUrl::Sqlite("data/t.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("t.db").unwrap(),
            DatabaseUrl::Sqlite("t.db".into())
        );
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert_eq!(
            DatabaseUrl::parse("sqlite://t.db").unwrap().sqlite_dir(),
            Some(PathBuf::from("."))
        );
    }

    #[test]
    fn secrets_are_redacted_when_settings_are_printed() {
        let settings = Settings {
            jwt_secret: Some(SecretString::from("super-secret-value-0123456789abcdef")),
            ..Settings::default()
        };
        let shown = serde_json::to_string(&settings).unwrap();
        assert!(!shown.contains("super-secret"));
        assert!(!format!("{settings:?}").contains("super-secret"));
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(n, v)| (n.into(), v.into())).collect()
    }

    #[test]
    fn the_environment_sets_typed_values_and_names_what_it_ignores() {
        let (table, warnings) = environment(vars(&[
            ("TRAJECTUM_PORT", "9090"),
            ("TRAJECTUM_JWT_SECRET", "12345678901234567890123456789012"),
            ("TRAJECTUM_LOG_FORMAT", "json"),
            ("TRAJECTUM_SERVICE_HOST", "10.0.0.1"),
            ("TRAJECTUM_NEW_PASSWORD", "not a setting, not a warning"),
            ("PATH", "/usr/bin"),
        ]))
        .unwrap();
        let settings = Settings::deserialize(toml::Value::Table(table)).unwrap();
        assert_eq!(settings.port, 9090);
        assert_eq!(settings.log_format, LogFormat::Json);
        assert!(
            settings.jwt_secret.is_some(),
            "a numeric-looking secret is text"
        );
        assert_eq!(settings.host, Settings::default().host);
        assert_eq!(
            warnings,
            ["TRAJECTUM_SERVICE_HOST is not a setting of Trajectum; ignored"]
        );
    }

    #[test]
    fn a_service_link_port_is_ignored_and_a_wrong_number_is_an_error() {
        let (table, warnings) =
            environment(vars(&[("TRAJECTUM_PORT", "tcp://10.0.0.1:8080")])).unwrap();
        assert!(table.is_empty());
        assert!(warnings[0].starts_with("TRAJECTUM_PORT looks like a Kubernetes service link"));
        let error = environment(vars(&[("TRAJECTUM_DB_POOL_SIZE", "ten")])).unwrap_err();
        assert!(
            error.to_string().contains("TRAJECTUM_DB_POOL_SIZE"),
            "{error}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_variable_that_is_not_utf8_is_skipped_or_named() {
        use std::os::unix::ffi::OsStringExt;
        let garbled = || OsString::from_vec(vec![0x66, 0xff, 0x6f]);
        let (table, warnings) = environment([
            (OsString::from("SOMEONE_ELSES"), garbled()),
            (garbled(), OsString::from("x")),
            (OsString::from("TRAJECTUM_HOST"), garbled()),
            (OsString::from("TRAJECTUM_PORT"), OsString::from("9090")),
        ])
        .unwrap();
        assert_eq!(table.len(), 1, "{table:?}");
        assert_eq!(warnings, ["TRAJECTUM_HOST is not valid UTF-8; ignored"]);
    }

    #[test]
    fn every_setting_is_documented_once_and_every_documented_one_exists() {
        let mut documented: Vec<String> = SETTINGS.iter().map(|d| key_of(d.variable)).collect();
        let count = documented.len();
        documented.sort();
        documented.dedup();
        assert_eq!(documented.len(), count, "a setting is documented twice");
        let mut fields: Vec<String> = setting_kinds().into_iter().map(|(k, _)| k).collect();
        fields.extend(["config".to_string(), "new_password".to_string()]);
        fields.sort();
        assert_eq!(documented, fields);
    }

    /// The README's configuration table is this module's [`SETTINGS`], row for row.
    #[test]
    fn the_readme_lists_the_settings_as_the_binary_does() {
        let readme = include_str!("../README.md");
        let rows: Vec<&str> = readme
            .lines()
            .skip_while(|line| !line.starts_with("| variable | default | meaning |"))
            .skip(2)
            .take_while(|line| line.starts_with('|'))
            .collect();
        let expected: Vec<String> = SETTINGS
            .iter()
            .map(|d| format!("| `{}` | {} | {} |", d.variable, d.default, d.meaning))
            .collect();
        assert_eq!(rows, expected, "the README's table, as the code has it");
    }

    #[test]
    fn printed_settings_hide_secrets_and_database_passwords() {
        assert_eq!(
            without_password("postgres://app:s3cret@db.internal:5432/trajectum"),
            "postgres://app:[hidden]@db.internal:5432/trajectum"
        );
        assert_eq!(
            without_password("postgres://postgres@127.0.0.1/trajectum"),
            "postgres://postgres@127.0.0.1/trajectum"
        );
        assert_eq!(
            without_password("sqlite://a@b.sqlite3"),
            "sqlite://a@b.sqlite3"
        );
        let help = settings_help();
        for doc in SETTINGS {
            assert!(help.contains(doc.variable), "{} in --help", doc.variable);
        }
    }

    #[test]
    fn leeway_above_thirty_seconds_is_refused() {
        let settings = Settings {
            jwt_leeway_seconds: 31,
            ..Settings::default()
        };
        assert!(settings.validate().is_err());
    }
}
