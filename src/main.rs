//! The `trajectum` command: serve the API (default), migrate, print the spec, administer, demo.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use trajectum::admin::{self, demo, NewOrganisation, NewUser};
use trajectum::clock::{Clock, SystemClock};
use trajectum::config::{self, DatabaseUrl, Settings};
use trajectum::domain::principal::{OrganisationKind, Role};
use trajectum::startup::{connect_and_migrate, Application};
use trajectum::{api, db, telemetry};

#[derive(Parser)]
#[command(
    name = "trajectum",
    version,
    about = "Commission and run job-coaching trajectories: a REST/JSON service for HR platforms and coaches",
    long_about = "Commission and run job-coaching trajectories.\n\nWith no command, `serve` runs. Settings come from TRAJECTUM_* environment variables, DATABASE_URL and an optional TOML file.",
    after_help = "Settings: `trajectum --help` lists them; `trajectum settings` prints the values in effect.",
    after_long_help = config::settings_help()
)]
struct Cli {
    /// A TOML file with settings (overridden by the environment).
    #[arg(long, global = true, env = "TRAJECTUM_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default): applies pending migrations, then listens.
    Serve,
    /// Seed a demo employer and provider (idempotent), print their credentials, then serve.
    /// The demo's passwords are public: it refuses a PostgreSQL database unless --force.
    Demo {
        /// Seed the demo even on PostgreSQL.
        #[arg(long)]
        force: bool,
    },
    /// Run the job worker alone, without the API (follow-ups, the first-session check): beside
    /// `serve` with TRAJECTUM_WORKER=false, or as many as you like against one PostgreSQL. On
    /// SIGTERM or SIGINT it finishes the job in hand, gives back what it claimed, and exits.
    Worker,
    /// Apply pending database migrations and exit.
    Migrate {
        /// PostgreSQL: first create the database DATABASE_URL names if it does not exist (as the
        /// URL's user, who must be allowed to create databases).
        #[arg(long)]
        create_database: bool,
        /// Instead of applying: revert every migration newer than VERSION (e.g.
        /// 2026-12-06-000005), with this binary's down scripts, before running an older
        /// Trajectum. Back up first: reverting drops what the newer migrations added.
        #[arg(long, value_name = "VERSION", conflicts_with = "create_database")]
        revert_to: Option<String>,
    },
    /// SQLite: copy the database, while the service runs, to a new file (a consistent
    /// snapshot). PostgreSQL is backed up with pg_dump.
    Backup {
        /// The file to write; it must not exist.
        to: PathBuf,
    },
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Make new keys: a JWT secret and a notes key, as NAME=value lines. With --env-file, add
    /// each one the file lacks (a new file is readable by its owner only); keys already in the
    /// file are kept, for notes are sealed under them.
    Keygen {
        /// The env file to complete, e.g. `.env` (docker compose reads it too).
        #[arg(long)]
        env_file: Option<PathBuf>,
    },
    /// Print every setting's value in effect and where it came from (default, config file or
    /// environment); secrets show only whether they are set.
    Settings,
    /// Create organisations, users and API clients; disable and enable logins and clients.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
#[allow(clippy::enum_variant_names)] // the subcommands are named create-org, create-user, create-client
enum AdminCommand {
    /// Create an employer or provider organisation; prints its id.
    CreateOrg(CreateOrg),
    /// Create a user (HR user, planner or coach). A coach's login goes to the provider's coach
    /// with that email if one exists without a login; otherwise a coach profile is created.
    CreateUser(CreateUser),
    /// Create an API client for an HR system; prints its client id and secret (shown once).
    CreateClient(CreateClient),
    /// Reset a person's login, for one who lost the password or found their setup token used:
    /// the password stops working, their login sessions end, and a new one-time setup token
    /// (printed; 7 days) lets them choose a new one with POST /api/v1/auth/set-password.
    ResetLogin {
        /// The login's email.
        #[arg(long)]
        email: String,
    },
    /// Disable a login or an API client: it can no longer sign in or get a token, and the tokens
    /// it holds are refused on their next request (within TRAJECTUM_ACCESS_RECHECK_SECONDS of
    /// a running service). A login's sessions end. For a coach who leaves, deactivate their coach
    /// profile through the API instead, once a planner has reassigned their orders.
    Disable(Named),
    /// Enable a disabled login or API client again.
    Enable(Named),
    /// After a notes key rotation: seal every note that is sealed under a key of
    /// TRAJECTUM_NOTES_PREVIOUS_KEYS again under TRAJECTUM_NOTES_KEY; prints how many.
    ResealNotes,
    /// Run the first-session check now (004): mark running orders whose first regular session
    /// was not rated within TRAJECTUM_ALLIANCE_RATING_DAYS at risk; prints how many.
    CheckAlliance,
}

/// One login (by email) or one API client (by client id).
#[derive(Args)]
#[group(required = true, multiple = false)]
struct Named {
    /// The login's email.
    #[arg(long)]
    email: Option<String>,
    /// The API client's client id.
    #[arg(long)]
    client_id: Option<String>,
}

impl Named {
    fn target(self) -> trajectum::service::accounts::Named {
        use trajectum::service::accounts::Named as Target;
        match (self.email, self.client_id) {
            (Some(email), _) => Target::Login(email),
            (None, Some(client_id)) => Target::Client(client_id),
            (None, None) => unreachable!("clap requires one of --email and --client-id"),
        }
    }
}

#[derive(Args)]
struct CreateOrg {
    /// `employer` or `provider`.
    #[arg(long, value_parser = parse_kind)]
    kind: OrganisationKind,
    #[arg(long)]
    name: String,
    /// IANA time zone of the organisation.
    #[arg(long, default_value = "Europe/Amsterdam")]
    time_zone: String,
    /// For an employer: the id of the provider it contracts.
    #[arg(long)]
    provider: Option<String>,
}

#[derive(Args)]
struct CreateUser {
    /// The organisation's id.
    #[arg(long)]
    org: String,
    #[arg(long)]
    email: String,
    #[arg(long)]
    name: String,
    /// `employer`, `provider_admin` or `coach`.
    #[arg(long, value_parser = parse_role)]
    role: Role,
    /// The password; read from TRAJECTUM_NEW_PASSWORD so it stays out of shell history.
    #[arg(long, env = "TRAJECTUM_NEW_PASSWORD", hide_env_values = true)]
    password: String,
    /// A coach's specialism (repeatable), e.g. technical_background.
    #[arg(long = "specialism")]
    specialisms: Vec<String>,
    /// A coach's language as ISO 639-1 code (repeatable).
    #[arg(long = "language")]
    languages: Vec<String>,
    /// A coach's IANA time zone (default: the organisation's).
    #[arg(long)]
    time_zone: Option<String>,
}

#[derive(Args)]
struct CreateClient {
    /// The organisation's id.
    #[arg(long)]
    org: String,
    #[arg(long)]
    name: String,
    /// `employer` (an HR system) or `provider_admin` (a planning system).
    #[arg(long, value_parser = parse_role, default_value = "employer")]
    role: Role,
}

fn parse_kind(s: &str) -> Result<OrganisationKind, String> {
    s.parse()
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

/// The allocator: mimalloc rather than glibc's malloc. In `bench/profile_read.py`
/// (`WHAT=list`) glibc's malloc and free took an eighth of an order list's CPU, part of it in
/// merging freed chunks whenever a page's buffer was taken. With `bench/memory.py` the list
/// cost the server 12-13% less and a single read 4% less; with `bench/read.py` the resident
/// memory under load was 7-10 MB more (bench/README.md). Its two settings are for that memory
/// (`bench/memory.py`, SQLite, after seeding):
/// - No transparent huge pages (the `no_thp` feature): 82 MB with mimalloc's defaults, 56 MB
///   without them.
/// - Freed memory given back at once ([`tune_the_allocator`]), not after a second: 41-42 MB
///   with both (glibc: 37 MB). Argon2 takes 19 MiB per password check.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` of mimalloc.h (mimalloc 3), which the bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn tune_the_allocator() {
    // SAFETY: mi_option_set only sets one of the allocator's options, to a value its header
    // documents (0: purge freed memory immediately); it runs first thing in main.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

fn main() -> anyhow::Result<()> {
    tune_the_allocator();
    let cli = Cli::parse();
    let (settings, warnings) = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log_format, &settings.log_filter);
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let command = cli.command.unwrap_or(Command::Serve);
    match command {
        Command::Settings => return print_settings(cli.config.as_deref()),
        Command::Keygen { env_file } => return keygen(env_file),
        _ => {}
    }
    actix_web::rt::System::new().block_on(run(command, settings))
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Demo { force } => {
            if !force && matches!(settings.database(), DatabaseUrl::Postgres(_)) {
                anyhow::bail!(
                    "the demo's credentials are public; seed them into PostgreSQL only with --force"
                );
            }
            let settings = with_local_webhooks(settings);
            trajectum::startup::check_settings(&settings)?;
            let pool = connect_and_migrate(&settings).await?;
            let horizon = settings.follow_up_horizon_days;
            let seeded = blocking(move || {
                let mut conn = pool.get()?;
                let seeded = admin::seed_demo(&mut conn, SystemClock.now())?;
                admin::seed_demo_history(&mut conn, SystemClock.now(), horizon)?;
                Ok(seeded)
            })
            .await?;
            print_demo(&settings, seeded);
            serve(settings).await
        }
        Command::Migrate {
            create_database,
            revert_to: None,
        } => {
            if create_database {
                create_database_if_missing(&settings).await?;
            }
            let pool = connect_and_migrate(&settings).await?;
            let newest = blocking(move || db::migrations::known(&*pool.get()?)).await?;
            println!(
                "migrations are up to date (newest: {})",
                newest.last().map(String::as_str).unwrap_or("none")
            );
            Ok(())
        }
        Command::Migrate {
            revert_to: Some(version),
            ..
        } => {
            let pool = db::pool(
                settings.database(),
                1,
                std::time::Duration::from_secs(settings.db_timeout_seconds),
            )?;
            let reverted =
                blocking(move || db::migrations::revert_to(&mut *pool.get()?, &version)).await?;
            for name in &reverted {
                println!("reverted={name}");
            }
            println!("migrations_reverted={}", reverted.len());
            Ok(())
        }
        Command::Backup { to } => {
            if let DatabaseUrl::Sqlite(path) = settings.database() {
                if !std::path::Path::new(&path).exists() {
                    anyhow::bail!("{path} does not exist: there is nothing to back up");
                }
            }
            let pool = db::pool(
                settings.database(),
                1,
                std::time::Duration::from_secs(settings.db_timeout_seconds),
            )?;
            let shown = to.display().to_string();
            blocking(move || db::backup(&mut *pool.get()?, &to)).await?;
            println!("backup={shown}");
            Ok(())
        }
        Command::Worker => {
            let pool = connect_and_migrate(&settings).await?;
            let worker = trajectum::worker::Worker::new(
                std::sync::Arc::new(SystemClock),
                trajectum::worker::WorkerSettings::from_settings(&settings),
            );
            let keys = std::sync::Arc::new(trajectum::startup::load_notes_keys(&settings)?);
            let running = trajectum::worker::Running::start(worker, pool, keys)?;
            stopped().await;
            tracing::info!("stopping the worker");
            running.stop().await;
            Ok(())
        }
        Command::Settings | Command::Keygen { .. } => {
            unreachable!("answered before the runtime starts")
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&api::openapi())?);
            Ok(())
        }
        Command::Admin(admin) => {
            let pool = connect_and_migrate(&settings).await?;
            blocking(move || administer(&mut *pool.get()?, admin, &settings)).await
        }
    }
}

/// SIGTERM or SIGINT.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

fn keygen(env_file: Option<PathBuf>) -> anyhow::Result<()> {
    let keys = admin::new_keys();
    let Some(path) = env_file else {
        for (name, value) in keys {
            println!("{name}={value}");
        }
        return Ok(());
    };
    let added = admin::add_to_env_file(&path, keys)?;
    if added.is_empty() {
        eprintln!("{} has its keys already; kept them", path.display());
    } else {
        eprintln!("{}: added {}", path.display(), added.join(", "));
    }
    Ok(())
}

fn print_settings(config_file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let settings = Settings::effective(config_file)?;
    let width = settings.iter().map(|s| s.variable.len()).max().unwrap_or(0);
    for setting in settings {
        println!(
            "{:width$}  {}  ({})",
            setting.variable,
            setting.value,
            setting.origin.as_str()
        );
    }
    Ok(())
}

async fn create_database_if_missing(settings: &Settings) -> anyhow::Result<()> {
    let DatabaseUrl::Postgres(url) = settings.database() else {
        anyhow::bail!(
            "--create-database is for PostgreSQL; a SQLite file is created when it is first opened"
        );
    };
    if blocking(move || db::migrations::create_database_if_missing(&url)).await? {
        println!("database created");
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    actix_web::rt::task::spawn_blocking(f)
        .await
        .context("task failed")?
}

fn administer(
    conn: &mut db::DbConnection,
    command: AdminCommand,
    settings: &Settings,
) -> anyhow::Result<()> {
    let now = SystemClock.now();
    match command {
        AdminCommand::CreateOrg(a) => {
            let org = admin::create_organisation(
                conn,
                now,
                NewOrganisation {
                    id: None,
                    kind: a.kind,
                    name: &a.name,
                    time_zone: &a.time_zone,
                    provider_id: a.provider.as_deref(),
                },
            )?;
            println!("{}", org.id);
        }
        AdminCommand::CreateUser(a) => {
            let created = admin::create_user(
                conn,
                now,
                NewUser {
                    id: None,
                    organisation_id: &a.org,
                    email: &a.email,
                    name: &a.name,
                    role: a.role,
                    password: &a.password,
                    specialisms: a.specialisms,
                    languages: a.languages,
                    time_zone: a.time_zone.as_deref(),
                },
            )?;
            println!("user_id={}", created.user.id);
            if let Some(coach) = created.coach {
                println!("coach_id={}", coach.id);
                if created.existing_coach {
                    eprintln!("The login went to the existing coach with this email.");
                }
            }
        }
        AdminCommand::CreateClient(a) => {
            let (client, secret) = admin::create_client(conn, now, &a.org, &a.name, a.role, None)?;
            println!("client_id={}", client.client_id);
            println!("client_secret={secret}");
            eprintln!("Store the secret now: it is not shown again.");
        }
        AdminCommand::ResetLogin { email } => {
            let (user_id, token, expires_at) =
                trajectum::service::identity::reset_login(conn, now, &email)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("user_id={user_id}");
            println!("setup_token={token}");
            println!("expires_at={}", expires_at.to_rfc3339());
            eprintln!("Hand the token to the person only: it sets their password once.");
        }
        AdminCommand::Disable(named) => {
            let id = trajectum::service::accounts::operator_set_active(
                conn,
                now,
                &named.target(),
                false,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("disabled={id}");
        }
        AdminCommand::Enable(named) => {
            let id =
                trajectum::service::accounts::operator_set_active(conn, now, &named.target(), true)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("enabled={id}");
        }
        AdminCommand::ResealNotes => {
            let keys = trajectum::startup::load_notes_keys(settings)?;
            let outcome = trajectum::service::notes::reseal_all(conn, &keys)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("notes_resealed={}", outcome.resealed);
            let secrets = trajectum::service::webhooks::reseal_secrets(conn, &keys)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("webhook_secrets_resealed={}", secrets.resealed);
            let mut problems = vec![];
            if !secrets.unknown_key.is_empty() || !secrets.corrupt.is_empty() {
                problems.push(format!(
                    "the signing secrets of webhooks {} do not open under the configured keys: \
                     add the key they were sealed with to TRAJECTUM_NOTES_PREVIOUS_KEYS, or \
                     rotate their secrets",
                    [secrets.unknown_key, secrets.corrupt].concat().join(", ")
                ));
            }
            if !outcome.unknown_key.is_empty() {
                problems.push(format!(
                    "{} notes are sealed under a key that is not configured (sessions {}): add \
                     it to TRAJECTUM_NOTES_PREVIOUS_KEYS and run this again",
                    outcome.unknown_key.len(),
                    outcome.unknown_key.join(", ")
                ));
            }
            if !outcome.corrupt.is_empty() {
                problems.push(format!(
                    "{} notes do not open under the key they name: they were altered in the \
                     database (sessions {}); restore them from a backup",
                    outcome.corrupt.len(),
                    outcome.corrupt.join(", ")
                ));
            }
            if !problems.is_empty() {
                anyhow::bail!("{}", problems.join("; "));
            }
        }
        AdminCommand::CheckAlliance => {
            let flagged = trajectum::service::alliance::flag_unrated(
                conn,
                now,
                settings.alliance_rating_days,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("orders_marked_at_risk={flagged}");
        }
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let app = Application::build(settings.clone()).await?;
    let address = format!("http://{}:{}", settings.host, app.port());
    app.run_until_stopped(|| {
        tracing::info!(
            address = %address,
            startup_ms = started.elapsed().as_millis() as u64,
            "trajectum is ready"
        );
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// The demo sends webhooks to receivers on this machine over plain http, unless configured
/// otherwise: to try them with a receiver of one's own. `serve` never does by default.
fn with_local_webhooks(mut settings: Settings) -> Settings {
    if !settings.webhook_allow_http && settings.webhook_allowed_networks.is_empty() {
        settings.webhook_allow_http = true;
        settings.webhook_allowed_networks = "127.0.0.0/8,::1/128".into();
    }
    settings
}

fn print_demo(settings: &Settings, seeded: bool) {
    let base = format!("http://{}:{}", settings.host, settings.port);
    println!(
        "\n{} demo data. Sign in with:\n\
         \n  HR system (client_credentials)  client_id={}  client_secret={}\
         \n  HR user   (password)            {} / {}\
         \n  planner   (password)            {} / {}\
         \n  coaches   (password)            {} , {} / {}\
         \n\nAPI docs:  {base}/docs/\
         \nWebhooks:  {}\
         \nTry:\n  curl -s -u {}:{} -d grant_type=client_credentials {base}/api/v1/auth/token\n",
        if seeded { "Seeded" } else { "Using existing" },
        demo::CLIENT_ID,
        demo::CLIENT_SECRET,
        demo::HR_EMAIL,
        demo::HR_PASSWORD,
        demo::ADMIN_EMAIL,
        demo::ADMIN_PASSWORD,
        demo::COACH_EMAILS[0],
        demo::COACH_EMAILS[1],
        demo::COACH_PASSWORD,
        if settings.webhook_allow_http {
            "the demo also sends to http receivers on this machine (127.0.0.1); serve only to https on public addresses"
        } else {
            "https on public addresses only"
        },
        demo::CLIENT_ID,
        demo::CLIENT_SECRET,
    );
}
