//! Migrations apply on both backends and `down.sql` reverts `up.sql`.

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use crate::api_test;
use crate::helpers::{Backend, TestDb};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn user_tables(conn: &mut trajectum::db::DbConnection) -> i64 {
    let sql = match conn {
        trajectum::db::DbConnection::Postgres(_) => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'"
        }
        trajectum::db::DbConnection::Sqlite(_) => {
            "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'"
        }
    };
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

async fn down_migrations_revert_up_migrations(backend: Backend) {
    let db = TestDb::new(backend);
    let url = trajectum::config::DatabaseUrl::parse(db.url()).unwrap();
    actix_web::rt::task::spawn_blocking(move || {
        let pool = trajectum::db::pool(url, 1, std::time::Duration::from_secs(5)).unwrap();
        let mut conn = pool.get().unwrap();
        let applied = trajectum::db::migrate(&mut conn).unwrap();
        assert!(applied >= 2);
        assert!(user_tables(&mut conn) >= 5);
        let reverted = trajectum::db::revert_all(&mut conn).unwrap();
        assert_eq!(reverted, applied);
        assert_eq!(
            user_tables(&mut conn),
            0,
            "down.sql removes everything up.sql made"
        );
        assert_eq!(
            trajectum::db::migrate(&mut conn).unwrap(),
            applied,
            "and up.sql applies again"
        );
    })
    .await
    .unwrap();
}

api_test!(down_migrations_revert_up_migrations);

/// The migrations of a backend: each a folder with `up.sql` and `down.sql`.
fn migrations(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .map(|path| {
            for file in ["up.sql", "down.sql"] {
                assert!(path.join(file).is_file(), "{} has {file}", path.display());
            }
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn both_backends_hold_the_same_migrations() {
    let postgres = migrations("postgres");
    assert!(!postgres.is_empty());
    assert_eq!(postgres, migrations("sqlite"));
}
