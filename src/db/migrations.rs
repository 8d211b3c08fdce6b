//! The schema's migrations, embedded in the binary: applying them, refusing a database that a
//! newer Trajectum migrated, reverting to an older version (for a rollback), and creating a
//! missing PostgreSQL database.

use anyhow::{bail, Context};
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use diesel_migrations::MigrationHarness;

use super::{DbConnection, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// A migration version as people write it and as diesel keeps it, compared by its digits:
/// `2026-12-06-000005`, `2026-12-06-000005_scheduling` and `20261206000005` are one version.
fn digits(version: &str) -> String {
    let version = version.split('_').next().unwrap_or_default();
    version.chars().filter(char::is_ascii_digit).collect()
}

/// The names of this binary's migrations for the connection's backend, oldest first.
pub fn known(conn: &DbConnection) -> anyhow::Result<Vec<String>> {
    fn names<DB: diesel::backend::Backend>(
        source: impl MigrationSource<DB>,
    ) -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = source
            .migrations()
            .map_err(|e| anyhow::anyhow!("cannot read the embedded migrations: {e}"))?
            .iter()
            .map(|m| m.name().to_string())
            .collect();
        names.sort();
        Ok(names)
    }
    match conn {
        DbConnection::Postgres(_) => names::<Pg>(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(_) => names::<Sqlite>(SQLITE_MIGRATIONS),
    }
}

/// The versions applied to the database, newest first.
fn applied(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let versions = match conn {
        DbConnection::Postgres(c) => c.applied_migrations(),
        DbConnection::Sqlite(c) => c.applied_migrations(),
    }
    .map_err(|e| anyhow::anyhow!("cannot read the applied migrations: {e}"))?;
    Ok(versions.iter().map(ToString::to_string).collect())
}

/// Applies the pending migrations of the connection's backend; returns how many ran. A database
/// with a migration this binary does not know was migrated by a newer Trajectum: it is refused,
/// for this binary would misread its tables.
pub fn migrate(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let known = known(conn)?;
    let known_digits: Vec<String> = known.iter().map(|name| digits(name)).collect();
    let unknown: Vec<String> = applied(conn)?
        .into_iter()
        .filter(|version| !known_digits.contains(&digits(version)))
        .collect();
    if let Some(newest) = unknown.first() {
        bail!(
            "the database has migration {newest}, which this Trajectum does not know: a newer \
             version migrated it. Run that version, or roll back with its `trajectum migrate \
             --revert-to {}` first",
            known.last().map(String::as_str).unwrap_or("(none)")
        );
    }
    let applied_digits: Vec<String> = applied(conn)?.iter().map(|v| digits(v)).collect();
    let pending = |name: &str| !applied_digits.contains(&digits(name));
    if pending(COACH_LOGINS) && !pending(COACHES) {
        refuse_duplicate_coaches(conn)?;
    }
    let ran = match conn {
        DbConnection::Postgres(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    Ok(ran.len())
}

/// The migration that made the coaches table, and the one that makes a coach's email unique in
/// their organisation.
const COACHES: &str = "2026-11-22-000002";
const COACH_LOGINS: &str = "2026-12-07-000006";

/// Before a coach's email becomes unique: an organisation with two coaches of one email (which
/// an older version let `admin create-user` make) stops the upgrade, naming them, instead of
/// failing half-way in the unique index.
fn refuse_duplicate_coaches(conn: &mut DbConnection) -> anyhow::Result<()> {
    use super::schema::coaches;
    let rows: Vec<(String, String, String, Option<String>)> = coaches::table
        .select((
            coaches::organisation_id,
            coaches::email,
            coaches::id,
            coaches::user_id,
        ))
        .order((coaches::organisation_id, coaches::email, coaches::id))
        .load(conn)?;
    let mut twice = vec![];
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.0 == b.0 && a.1.eq_ignore_ascii_case(&b.1) {
            for coach in [a, b] {
                let entry = format!(
                    "coach {} ({}{})",
                    coach.2,
                    coach.1,
                    if coach.3.is_some() {
                        ", with a login"
                    } else {
                        ""
                    }
                );
                if !twice.contains(&entry) {
                    twice.push(entry);
                }
            }
        }
    }
    if !twice.is_empty() {
        bail!(
            "this version makes a coach's email unique in their organisation, and these coaches \
             share one: {}. With the version running now, give all but one of each another email \
             (PATCH /api/v1/coaches/{{id}}), keeping the one with a login; then upgrade",
            twice.join("; ")
        );
    }
    Ok(())
}

/// Reverts, newest first, every applied migration newer than `version` (one of this binary's),
/// with its `down.sql`: before running an older Trajectum on this database. Returns the names
/// of the migrations reverted.
pub fn revert_to(conn: &mut DbConnection, version: &str) -> anyhow::Result<Vec<String>> {
    let known = known(conn)?;
    let target = digits(version);
    if target.is_empty() || !known.iter().any(|name| digits(name) == target) {
        bail!(
            "{version} is not a migration of this Trajectum; its migrations are: {}",
            known.join(", ")
        );
    }
    let mut reverted = vec![];
    while let Some(newest) = applied(conn)?.first().cloned() {
        if digits(&newest) <= target {
            break;
        }
        match conn {
            DbConnection::Postgres(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("reverting {newest} failed: {e}"))?;
        reverted.push(
            known
                .iter()
                .find(|name| digits(name) == digits(&newest))
                .cloned()
                .unwrap_or(newest),
        );
    }
    Ok(reverted)
}

/// Reverts every migration (used by tests that prove `down.sql` reverts `up.sql`).
pub fn revert_all(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let reverted = match conn {
        DbConnection::Postgres(c) => c.revert_all_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| anyhow::anyhow!("revert failed: {e}"))?;
    Ok(reverted.len())
}

/// The database a PostgreSQL URL names, and the URL of the same server's `postgres` database.
fn database_and_server(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let (scheme, rest) = base
        .split_once("://")
        .context("a PostgreSQL URL is postgres://USER@HOST/DATABASE")?;
    let Some((server, name)) = rest.split_once('/').filter(|(_, name)| !name.is_empty()) else {
        bail!("the PostgreSQL URL names no database (postgres://USER@HOST/DATABASE)");
    };
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        bail!(
            "create the database {name:?} yourself: only letters, digits, _ and - are created here"
        );
    }
    let maintenance = format!(
        "{scheme}://{server}/postgres{}",
        query.map(|q| format!("?{q}")).unwrap_or_default()
    );
    Ok((name.to_string(), maintenance))
}

/// Creates the PostgreSQL database `url` names if it does not exist, connecting to the same
/// server's `postgres` database as the URL's user (who must be allowed to create databases).
/// Returns whether it created it.
pub fn create_database_if_missing(url: &str) -> anyhow::Result<bool> {
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let (name, maintenance) = database_and_server(url)?;
    // The database itself first: where it exists, the server's own `postgres` database need not
    // be reachable.
    if PgConnection::establish(url).is_ok() {
        return Ok(false);
    }
    let mut conn = PgConnection::establish(&maintenance).with_context(|| {
        format!("cannot connect to the server's postgres database to create {name:?}")
    })?;
    let found = diesel::sql_query("SELECT COUNT(*) AS n FROM pg_database WHERE datname = $1")
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result::<Found>(&mut conn)?;
    if found.n > 0 {
        return Ok(false);
    }
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .with_context(|| format!("cannot create the database {name:?}"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_is_its_digits() {
        assert_eq!(digits("2026-12-06-000005_scheduling"), "20261206000005");
        assert_eq!(digits("2026-12-06-000005"), "20261206000005");
        assert_eq!(digits("20261206000005"), "20261206000005");
    }

    #[test]
    fn the_server_of_a_database_url() {
        assert_eq!(
            database_and_server("postgres://app:pw@db:5432/trajectum?sslmode=require").unwrap(),
            (
                "trajectum".to_string(),
                "postgres://app:pw@db:5432/postgres?sslmode=require".to_string()
            )
        );
        assert!(database_and_server("postgres://app@db/").is_err());
        assert!(database_and_server("postgres://app@db/a;drop").is_err());
    }
}
