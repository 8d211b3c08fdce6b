//! The database: one connection type over PostgreSQL and SQLite, its pool, its migrations, and
//! the query functions (one module per table family). Nothing here knows about HTTP.

pub mod access;
pub mod audit;
pub mod calendars;
pub mod coaches;
pub mod coaching;
pub mod events;
pub mod follow_ups;
pub mod idempotency;
pub mod identity;
pub mod invitations;
pub mod jobs;
pub mod limit;
pub mod links;
pub mod migrations;
pub mod orders;
pub mod personal_data;
pub mod rate_limits;
pub mod reports;
pub mod schema;
pub mod sessions;
pub mod settings;
pub mod types;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::DatabaseUrl;

pub use limit::Limited;
pub use migrations::{migrate, revert_all};
pub use types::{Day, Json, MaybeStamp, Stamp};

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// A connection to whichever database `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same diesel expression on the backend's own connection, for what the
/// `MultiConnection` cannot express (upserts, row locks): `on_each_backend!(conn, |c| query(c))`.
#[macro_export]
macro_rules! on_each_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// The connection pool, and the permits that admit database work to it in arrival order.
///
/// r2d2 hands a free connection to whichever waiting thread wakes first, so under load some
/// requests waited far longer than others, each on a thread of its own. Work now waits for a
/// permit (one per connection, first come first served, never longer than the pool's timeout)
/// before it takes a blocking thread, and a permit holder finds a connection free.
#[derive(Clone)]
pub struct Pool {
    connections: r2d2::Pool<ConnectionManager>,
    permits: Arc<Semaphore>,
    wait: Duration,
    /// SQLite: reads run on the calling thread ([`read`]).
    in_process: bool,
}

impl Pool {
    /// How long a request waits for a connection or a lock before it answers 503: also how
    /// long a client is asked to wait before trying again (`Retry-After`).
    pub fn wait(&self) -> Duration {
        self.wait
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("state", &self.connections.state())
            .finish()
    }
}

impl std::ops::Deref for Pool {
    type Target = r2d2::Pool<ConnectionManager>;

    /// The connections themselves, for work outside a request (start-up, admin, tests).
    fn deref(&self) -> &Self::Target {
        &self.connections
    }
}

impl Pool {
    /// A permit to use a connection, waiting in line at most the pool's timeout.
    async fn admit(&self, wait: Duration) -> Result<OwnedSemaphorePermit, RunError> {
        tokio::time::timeout(wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| RunError::NoConnection)?
            .map_err(|_| RunError::NoConnection)
    }
}

/// An r2d2 manager that picks the backend from the URL scheme, so a failed PostgreSQL
/// connection reports its real cause (the derived `establish` would fall through to SQLite),
/// and that sets each connection's session settings.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// How long a statement may wait for a lock another transaction holds (SQLite's
    /// `busy_timeout`, PostgreSQL's `lock_timeout`): the same wait as for a pooled connection.
    lock_wait: Duration,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, lock_wait: Duration) -> Self {
        Self { url, lock_wait }
    }
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<DbConnection, ConnectionError> {
        let wait_ms = self.lock_wait.as_millis();
        let settings = |e: diesel::result::Error| ConnectionError::BadConnection(e.to_string());
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                let mut conn = PgConnection::establish(url)?;
                conn.batch_execute(&format!("SET lock_timeout = {wait_ms}"))
                    .map_err(settings)?;
                Ok(DbConnection::Postgres(conn))
            }
            DatabaseUrl::Sqlite(path) => {
                configure_sqlite();
                let mut conn = SqliteConnection::establish(path)?;
                // busy_timeout first: switching to WAL takes a lock other connections may hold.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {wait_ms}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
                ))
                .map_err(settings)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), ConnectionError> {
        conn.batch_execute("SELECT 1")
            .map_err(|e| ConnectionError::BadConnection(e.to_string()))
    }

    /// A connection given back while its thread unwinds, inside an open transaction, or with a
    /// transaction manager in error (a failed rollback) never goes back to the pool: on SQLite
    /// its open `BEGIN IMMEDIATE` would block every writer. (As diesel's own r2d2 manager does.)
    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Sets SQLite's process-wide configuration, once, before its first connection opens:
/// - multi-thread mode: a connection is used by one thread at a time (the pool hands it out and
///   takes it back), so SQLite need not lock a mutex around every call on it;
/// - no memory statistics: with them every allocation of every connection takes one global
///   mutex, and under concurrent reads that mutex was where the threads queued.
fn configure_sqlite() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        use libsqlite3_sys::{sqlite3_config, SQLITE_CONFIG_MEMSTATUS, SQLITE_CONFIG_MULTITHREAD};
        // SAFETY: sqlite3_config may only run before SQLite initialises and while no other
        // thread uses SQLite. It runs before the first connection of the process opens
        // (`connect` is the only place connections open), inside `Once`. If SQLite was already
        // initialised it returns SQLITE_MISUSE and changes nothing, which is safe too.
        let results = unsafe {
            [
                sqlite3_config(SQLITE_CONFIG_MULTITHREAD),
                sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int),
            ]
        };
        if results.iter().any(|&rc| rc != libsqlite3_sys::SQLITE_OK) {
            tracing::warn!(
                ?results,
                "SQLite was initialised before it could be configured"
            );
        }
    });
}

/// Builds the pool; fails when the database cannot be reached within `timeout`, which is also
/// how long a request waits for a connection or a lock. A checkout is not tested with a query:
/// a connection that breaks mid-request is refused by [`ConnectionManager::has_broken`], and the
/// request that met it answers 503. On SQLite every connection opens at once (a file handle
/// each), so a read on a worker thread ([`read`]) never waits for one to open.
pub fn pool(url: DatabaseUrl, size: u32, timeout: Duration) -> anyhow::Result<Pool> {
    let in_process = matches!(url, DatabaseUrl::Sqlite(_));
    // One connection first, which says at once why the database cannot be reached (r2d2 would
    // retry for the whole timeout, logging each failure). On SQLite it also switches a new
    // database file to WAL (a lasting setting of the file), so that the pool's connections,
    // opening together, do not race for the lock the switch takes.
    r2d2::ManageConnection::connect(&ConnectionManager::new(url.clone(), timeout)).context(
        if in_process {
            "cannot open the SQLite database"
        } else {
            "cannot connect to the database"
        },
    )?;
    let connections = r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(if in_process { size } else { 1 }))
        .connection_timeout(timeout)
        .test_on_check_out(false)
        .build(ConnectionManager::new(url, timeout))
        .context("cannot connect to the database")?;
    Ok(Pool {
        connections,
        permits: Arc::new(Semaphore::new(size as usize)),
        wait: timeout,
        in_process,
    })
}

/// Copies a SQLite database to `to` while the service runs (`VACUUM INTO`: one consistent
/// snapshot, compacted; writers go on meanwhile in WAL mode). `to` must not exist. PostgreSQL
/// is backed up with its own tools (`pg_dump`).
pub fn backup(conn: &mut DbConnection, to: &std::path::Path) -> anyhow::Result<()> {
    let DbConnection::Sqlite(conn) = conn else {
        anyhow::bail!("back up PostgreSQL with pg_dump (see the README's Operating section)");
    };
    if to.exists() {
        anyhow::bail!("{} exists already; name a new file", to.display());
    }
    let path = to
        .to_str()
        .context("the backup's path must be valid UTF-8")?
        .replace('\'', "''");
    // Created first, readable by its owner only, for it holds personal data (VACUUM INTO
    // writes into an empty file).
    crate::private_file::write_private(to, "")?;
    let copied = diesel::sql_query(format!("VACUUM INTO '{path}'")).execute(conn);
    if let Err(error) = copied {
        let _ = std::fs::remove_file(to);
        return Err(error).with_context(|| format!("cannot write {}", to.display()));
    }
    Ok(())
}

/// Runs `f` in a transaction that writes. On SQLite it begins `IMMEDIATE`, taking the write
/// lock up front so that a read-then-write cannot fail half-way with SQLITE_BUSY; on
/// PostgreSQL it is an ordinary transaction. Either way all of `f` commits or none of it.
pub fn write<T, E>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    type Manager = <DbConnection as Connection>::TransactionManager;
    let frame = events::LogFrame::open();
    match conn {
        DbConnection::Sqlite(inner) => {
            let depth = AnsiTransactionManager::transaction_manager_status_mut(inner)
                .transaction_depth()?;
            match depth {
                None => AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?,
                // Nested: a savepoint inside the outer transaction.
                Some(_) => AnsiTransactionManager::begin_transaction(inner)?,
            }
        }
        DbConnection::Postgres(_) => Manager::begin_transaction(conn)?,
    }
    match f(conn).and_then(|value| {
        // The audit entry of the change this transaction commits (when a use case is armed).
        audit::write_if_armed(conn)?;
        Ok(value)
    }) {
        Ok(value) => {
            // The event log's head rows last, just before the outermost commit.
            let entries = frame.close();
            let numbered = match &entries {
                Some(entries) => events::flush(conn, entries),
                None => Ok(()),
            };
            if let Err(error) = numbered {
                if let Err(rollback) = Manager::rollback_transaction(conn) {
                    tracing::error!(error = %rollback, "rollback failed");
                }
                return Err(error.into());
            }
            Manager::commit_transaction(conn)?;
            if entries.is_some_and(|e| !e.is_empty()) {
                events::COMMITTED.notify_waiters();
                webhooks::tell_deliverer();
            }
            Ok(value)
        }
        Err(error) => {
            drop(frame);
            if let Err(rollback) = Manager::rollback_transaction(conn) {
                tracing::error!(error = %rollback, "rollback failed");
            }
            Err(error)
        }
    }
}

/// Why database work could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no database connection is available right now")]
    NoConnection,
    #[error("the database work panicked")]
    Panicked,
}

/// Runs blocking database work on actix's blocking thread pool, inside the caller's tracing
/// span, with a pooled connection, once a permit admits it (in arrival order). Waiting longer
/// than the pool's timeout is an error, never a hang.
pub async fn run<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    let permit = pool.admit(pool.wait).await?;
    let connections = pool.connections.clone();
    crate::telemetry::spawn_blocking_in_span(move || {
        let _permit = permit;
        let mut conn = connections.get().map_err(|_| RunError::NoConnection)?;
        f(&mut conn)
    })
    .await
    .map_err(|_| RunError::Panicked)?
}

/// Runs database work that only reads. On PostgreSQL it runs as [`run`] does. On SQLite it runs
/// on the calling thread, once a permit admits it (so a connection is free): SQLite is a library
/// in this process, and a read by key takes a few microseconds, less than the two thread
/// wake-ups of a hop to the blocking pool and back, which `perf` showed to cost more than the
/// query itself. In WAL mode a reader does not wait for writers, and the pool keeps all its
/// SQLite connections open ([`pool`]), so a permit holder finds one idle. A panic is caught here,
/// and the connection it held is not reused ([`ConnectionManager::has_broken`]); until the pool
/// has opened its replacement (on r2d2's own thread), a read may wait for it, at most the pool's
/// timeout.
pub async fn read<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<RunError> + Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
{
    if !pool.in_process {
        return run(pool, f).await;
    }
    let permit = pool.admit(pool.wait).await?;
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _permit = permit;
        let mut conn = pool.connections.get().map_err(|_| RunError::NoConnection)?;
        f(&mut conn)
    }));
    read.map_err(|_| RunError::Panicked)?
}

/// Whether the database answers within `timeout`: a connection and one trivial query.
pub async fn answers(pool: &Pool, timeout: Duration) -> bool {
    let Ok(permit) = pool.admit(timeout).await else {
        return false;
    };
    let connections = pool.connections.clone();
    crate::telemetry::spawn_blocking_in_span(move || {
        let _permit = permit;
        connections
            .get_timeout(timeout)
            .is_ok_and(|mut conn| conn.batch_execute("SELECT 1").is_ok())
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use diesel::connection::InstrumentationEvent;

    use super::*;

    #[test]
    fn a_checkout_costs_no_query() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.sqlite3").display().to_string();
        let pool = pool(DatabaseUrl::Sqlite(path), 1, Duration::from_secs(1)).unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let counted = queries.clone();
        pool.get()
            .unwrap()
            .set_instrumentation(move |event: InstrumentationEvent<'_>| {
                if matches!(event, InstrumentationEvent::StartQuery { .. }) {
                    counted.fetch_add(1, Ordering::SeqCst);
                }
            });
        for _ in 0..5 {
            drop(pool.get().unwrap());
        }
        assert_eq!(
            queries.load(Ordering::SeqCst),
            0,
            "no test query per checkout"
        );
    }

    #[test]
    fn a_sqlite_pool_opens_all_its_connections_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.sqlite3").display().to_string();
        let pool = pool(DatabaseUrl::Sqlite(path), 3, Duration::from_secs(1)).unwrap();
        assert_eq!(pool.state().idle_connections, 3);
    }

    #[actix_web::test]
    async fn a_read_that_panics_is_an_error_and_its_connection_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.sqlite3").display().to_string();
        let pool = pool(DatabaseUrl::Sqlite(path), 1, Duration::from_secs(1)).unwrap();
        let panicked: Result<(), RunError> = read(&pool, |conn| {
            let _: Result<(), diesel::result::Error> = write(conn, |_| panic!("a bug"));
            Ok(())
        })
        .await;
        assert!(matches!(panicked, Err(RunError::Panicked)));
        let healthy: Result<bool, RunError> =
            read(&pool, |conn| Ok(!R2D2Connection::is_broken(conn))).await;
        assert!(
            healthy.unwrap(),
            "the next read gets a connection outside any transaction"
        );
    }

    #[test]
    fn a_connection_given_back_inside_a_transaction_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.sqlite3").display().to_string();
        let pool = pool(DatabaseUrl::Sqlite(path), 1, Duration::from_secs(1)).unwrap();
        let left_open = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut conn = pool.get().unwrap();
            let _: Result<(), diesel::result::Error> = write(&mut conn, |_| panic!("a bug"));
        }));
        assert!(left_open.is_err());
        let mut conn = pool.get().unwrap();
        assert!(
            !R2D2Connection::is_broken(&mut *conn),
            "the pool hands out a connection outside any transaction"
        );
    }
}
