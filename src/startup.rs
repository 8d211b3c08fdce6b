//! Builds the application from settings: database, migrations, keys, routes, middleware, and a
//! bound listener. `main` and the tests both use it, so tests drive the app the binary serves.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use anyhow::{bail, Context};
use utoipa_actix_web::AppExt;

use crate::api::conditional::conditional_reads;
use crate::api::idempotency::fingerprint;
use crate::api::{self, spec, RouteTable};
use crate::auth::issuer::TokenIssuer;
use crate::auth::jwt::{self, JwtKeys};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{DatabaseUrl, JwtAlgorithm, Settings};
use crate::db::{self, Pool};
use crate::domain::access::LoginThrottle;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::middleware::request_context;
use crate::private_file::write_private;
use crate::state::AppState;
use crate::vault::{NotesKey, NotesKeys};
use secrecy::ExposeSecret;

/// Checks what the settings name (values, signing keys, the notes key) before any database is
/// touched: a start that would refuse refuses first (e.g. `demo --force` on PostgreSQL without a
/// notes key neither migrates nor seeds).
pub fn check_settings(settings: &Settings) -> anyhow::Result<()> {
    settings.validate()?;
    load_keys(settings)?;
    load_notes_keys(settings)?;
    Ok(())
}

pub struct Application {
    port: u16,
    server: Server,
    started: crate::server::Started,
    pool: Pool,
    /// The job worker, when `serve` runs it (`TRAJECTUM_WORKER`).
    worker: Option<crate::worker::Running>,
}

impl Application {
    /// The application on the system's clock.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// The application on `clock` (tests pass one they can move).
    pub async fn build_with_clock(
        settings: Settings,
        clock: SharedClock,
    ) -> anyhow::Result<Application> {
        settings.validate()?;
        // Keys next: a missing key on PostgreSQL stops the start before the database is touched.
        let keys = Arc::new(load_keys(&settings)?);
        let notes_key = Arc::new(load_notes_keys(&settings)?);
        let pool = connect_and_migrate(&settings).await?;
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))
            .with_context(|| format!("cannot bind {}:{}", settings.host, settings.port))?;
        let port = listener.local_addr()?.port();
        let worker = settings
            .worker
            .then(|| {
                crate::worker::Running::start(
                    crate::worker::Worker::new(
                        clock.clone(),
                        crate::worker::WorkerSettings::from_settings(&settings),
                    ),
                    pool.clone(),
                    notes_key.clone(),
                )
            })
            .transpose()?;
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            clock,
            issuer: Arc::new(TokenIssuer {
                keys,
                throttle: LoginThrottle::new(
                    settings.login_max_failures,
                    Duration::from_secs(settings.login_lockout_seconds),
                ),
                confirmed: crate::auth::confirmed::ConfirmedTokens::new(Duration::from_secs(
                    settings.access_recheck_seconds,
                )),
                access_ttl: chrono::Duration::seconds(settings.access_token_ttl_seconds),
                refresh_ttl: chrono::Duration::seconds(settings.refresh_token_ttl_seconds),
            }),
            metrics: Metrics::new(),
            body_limit: settings.body_limit_bytes,
            notes_key,
            follow_up_horizon_days: settings.follow_up_horizon_days,
            report_min_count: settings.report_min_count,
            webhooks: Arc::new(crate::delivery::WebhookSettings::from_settings(&settings)),
            rate_limiter: crate::domain::rate_limit::Policy::new(
                settings.rate_limit,
                settings.rate_limit_window_seconds,
            )
            .map(|policy| {
                Arc::new(crate::rate_limit::RateLimiter::new(
                    policy,
                    Duration::from_millis(settings.rate_limit_share_milliseconds),
                ))
            }),
            sign_up_limits: crate::state::SignUpLimits {
                per_address: sign_up_limiter(&settings, settings.sign_up_limit_per_address),
                per_campaign: sign_up_limiter(&settings, settings.sign_up_limit_per_campaign),
            },
            trusted_proxies: crate::client_address::TrustedProxies::parse(
                &settings.trusted_proxies,
            )
            .map_err(|e| anyhow::anyhow!("TRAJECTUM_TRUSTED_PROXIES: {e}"))?,
        });
        let spec = api::openapi();
        let routes = web::Data::new(RouteTable::from_spec(&spec));
        let served_spec = web::Data::new(spec::Served::from(&spec));
        let origins = settings.cors_origins();
        let (server, started) =
            crate::server::serve(listener, settings.shutdown_timeout_seconds, move || {
                let mut cors = Cors::default()
                    .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
                    .allowed_headers([
                        actix_web::http::header::AUTHORIZATION,
                        actix_web::http::header::CONTENT_TYPE,
                        actix_web::http::header::IF_MATCH,
                        actix_web::http::header::IF_NONE_MATCH,
                    ])
                    .allowed_header("idempotency-key")
                    .expose_headers(["idempotent-replayed"])
                    .allowed_header("x-request-id")
                    .expose_headers([
                        "etag",
                        "location",
                        "x-request-id",
                        "retry-after",
                        "ratelimit",
                        "ratelimit-policy",
                    ])
                    .max_age(3600);
                for origin in &origins {
                    cors = cors.allowed_origin(origin);
                }
                // The API first, then Swagger UI: actix tries routes in order, and the API's
                // are the ones under load.
                let (app, _) = App::new()
                    .into_utoipa_app()
                    .app_data(state.clone())
                    .app_data(routes.clone())
                    .app_data(served_spec.clone())
                    .app_data(web::PathConfig::default().error_handler(|_, _| {
                        ApiError::not_found("no such resource: the id is not a UUID").into()
                    }))
                    .configure(api::configure)
                    .split_for_parts();
                app.configure(api::docs::configure)
                    .default_service(web::to(api::unrouted))
                    .wrap(from_fn(conditional_reads))
                    .wrap(from_fn(fingerprint))
                    .wrap(from_fn(crate::middleware::rate_limited))
                    // CORS answers refused preflights itself; inside the request context those
                    // answers get a request id and become problem documents too.
                    .wrap(cors)
                    .wrap(from_fn(request_context))
            })?;
        Ok(Application {
            port,
            server,
            started,
            pool,
            worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Serves until SIGTERM or SIGINT, then finishes in-flight requests, stops the worker (its
    /// job in hand finishes, the rest go back to the queue) and stops. `ready` is called once
    /// every HTTP worker serves (not when the server stopped before that: a worker that could
    /// not build its app, or a signal during the start).
    pub async fn run_until_stopped(self, ready: impl FnOnce()) -> std::io::Result<()> {
        let mut server = self.server;
        let stopped_early = tokio::select! {
            served = &mut server => Some(served),
            () = self.started.wait() => None,
        };
        let served = match stopped_early {
            Some(served) => served,
            None => {
                ready();
                server.await
            }
        };
        if let Some(worker) = self.worker {
            worker.stop().await;
        }
        served
    }

    /// The server alone (tests run it in the background, and drain the job queue themselves):
    /// a worker it had is told to stop.
    pub fn into_server(self) -> Server {
        drop(self.worker);
        self.server
    }
}

/// Opens the pool and applies pending migrations.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Pool> {
    let url = settings.database();
    let size = settings.db_pool_size;
    let timeout = Duration::from_secs(settings.db_timeout_seconds);
    actix_web::rt::task::spawn_blocking(move || -> anyhow::Result<Pool> {
        if let DatabaseUrl::Sqlite(path) = &url {
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                if !path.starts_with("file:") {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
            }
            // A new database holds personal data: readable by its owner only (SQLite gives its
            // -wal and -shm files the database's mode). An empty file is an empty database.
            if !path.starts_with("file:") && !Path::new(path).exists() {
                write_private(Path::new(path), "")?;
            }
        }
        let postgres = matches!(url, DatabaseUrl::Postgres(_));
        let pool = db::pool(url, size, timeout).map_err(|error| {
            let said = format!("{error:#}");
            if postgres && said.contains("database \"") && said.contains("\" does not exist") {
                error.context(
                    "the database does not exist: create it with `trajectum migrate \
                     --create-database` (or PostgreSQL's createdb)",
                )
            } else {
                error
            }
        })?;
        let applied = db::migrate(&mut *pool.get()?)?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
        Ok(pool)
    })
    .await
    .context("start-up task failed")?
}

/// The signing keys. With no key configured: on SQLite, generate an HS256 secret once and keep
/// it beside the database (mode 0600); on PostgreSQL, refuse to start.
fn load_keys(settings: &Settings) -> anyhow::Result<JwtKeys> {
    let configured = settings.jwt_secret.is_some() || settings.jwt_algorithm != JwtAlgorithm::HS256;
    if configured {
        return JwtKeys::from_settings(settings, None);
    }
    let Some(dir) = settings.database().sqlite_dir() else {
        bail!(
            "no JWT signing key is configured: set TRAJECTUM_JWT_SECRET (at least 32 bytes) or \
             TRAJECTUM_JWT_ALGORITHM with key files. A key is generated only for a SQLite file database."
        );
    };
    let path = dir.join("trajectum.jwt-secret");
    let secret = if path.exists() {
        std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .trim()
            .to_string()
    } else {
        let secret = jwt::generate_secret();
        write_private(&path, &secret)?;
        secret
    };
    tracing::warn!(
        path = %path.display(),
        "no JWT key configured: using a generated HS256 secret kept beside the SQLite database; \
         configure TRAJECTUM_JWT_SECRET or key files in production"
    );
    JwtKeys::from_settings(settings, Some(&secret))
}

/// The keys that seal and open session notes: `TRAJECTUM_NOTES_KEY` and the retired
/// `TRAJECTUM_NOTES_PREVIOUS_KEYS`. With no key configured: on SQLite, generate one once and keep
/// it beside the database (mode 0600); on PostgreSQL, refuse to start.
pub fn load_notes_keys(settings: &Settings) -> anyhow::Result<NotesKeys> {
    let previous = settings
        .notes_previous_keys
        .as_ref()
        .map(|keys| keys.expose_secret().to_string());
    if let Some(key) = &settings.notes_key {
        return NotesKeys::from_base64(key.expose_secret(), previous.as_deref());
    }
    let Some(dir) = settings.database().sqlite_dir() else {
        bail!(
            "no key for session notes is configured: set TRAJECTUM_NOTES_KEY to 32 random bytes \
             in base64 (`trajectum keygen` makes one). A key is generated only for a SQLite file database."
        );
    };
    let path = dir.join("trajectum.notes-key");
    let key = if path.exists() {
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?
    } else {
        let key = NotesKey::generate();
        write_private(&path, &key)?;
        key
    };
    tracing::warn!(
        path = %path.display(),
        "no notes key configured: using a generated key kept beside the SQLite database; \
         configure TRAJECTUM_NOTES_KEY in production and keep it apart from the backups"
    );
    NotesKeys::from_base64(&key, previous.as_deref())
}

/// One of the public sign-up's limits: `quota` per `TRAJECTUM_SIGN_UP_LIMIT_WINDOW_SECONDS`,
/// shared by the instances as the per-caller limit is.
fn sign_up_limiter(settings: &Settings, quota: u32) -> Option<Arc<crate::rate_limit::RateLimiter>> {
    crate::domain::rate_limit::Policy::new(quota, settings.sign_up_limit_window_seconds).map(
        |policy| {
            Arc::new(crate::rate_limit::RateLimiter::new(
                policy,
                Duration::from_millis(settings.rate_limit_share_milliseconds),
            ))
        },
    )
}
