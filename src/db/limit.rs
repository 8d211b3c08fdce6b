//! `LIMIT n` as each backend plans it best: written into the SQL on SQLite, bound on PostgreSQL.
//!
//! SQLite marks a prepared statement expired whenever a parameter that its plan depends on is
//! bound anew, and the value of `LIMIT ?` is one: every execution of the order list was parsed
//! and planned again (`sqlite3Reprepare`, about a tenth of the list's time by `perf`). A limit
//! is a small integer the API has already validated, so writing it into the SQL is safe; each
//! limit a client uses gets a cached statement of its own.
//!
//! PostgreSQL keeps the parameter: its generic plan for `… ORDER BY id LIMIT $n` walks the
//! `(employer_id, id)` index in order whatever the statistics say. With the number written in,
//! right after 10,000 orders were added and before autovacuum analysed them, the planner
//! trusted a stale estimate of 47 rows and sorted all 10,000 on every page (4 ms instead of
//! 0.05 ms, `EXPLAIN ANALYZE`; the benchmark's list fell from 2,500 to 210 requests a second).

use diesel::backend::Backend;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::BigInt;
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

/// `query LIMIT limit`, the limit written as the backend plans it best ([`WritesLimit`]).
#[derive(Debug, Clone, Copy)]
pub struct Limited<Q> {
    query: Q,
    limit: i64,
}

impl<Q> Limited<Q> {
    /// `query` limited to `limit` rows (a negative limit is 0).
    pub fn new(query: Q, limit: i64) -> Self {
        Limited {
            query,
            limit: limit.max(0),
        }
    }
}

/// How a backend gets the number of a `LIMIT`.
pub trait WritesLimit: Backend {
    fn write_limit<'b>(limit: &'b i64, out: &mut AstPass<'_, 'b, Self>) -> QueryResult<()>;
}

impl WritesLimit for Sqlite {
    fn write_limit<'b>(limit: &'b i64, out: &mut AstPass<'_, 'b, Self>) -> QueryResult<()> {
        out.push_sql(&limit.to_string());
        Ok(())
    }
}

impl WritesLimit for Pg {
    fn write_limit<'b>(limit: &'b i64, out: &mut AstPass<'_, 'b, Self>) -> QueryResult<()> {
        out.push_bind_param::<BigInt, i64>(limit)
    }
}

impl<Q: Query> Query for Limited<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for Limited<Q> {
    type QueryId = ();
    // On SQLite the SQL differs by limit: statements are cached by their text, not by type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DB>, DB: WritesLimit> QueryFragment<DB> for Limited<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        DB::write_limit(&self.limit, &mut out)
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for Limited<Q> {}

#[cfg(test)]
mod tests {
    use diesel::debug_query;
    use diesel::prelude::*;

    use super::*;
    use crate::db::schema::orders;

    #[test]
    fn on_sqlite_the_limit_is_in_the_sql_and_on_postgresql_a_parameter() {
        let query = Limited::new(orders::table.select(orders::id).order(orders::id), 50);
        let sql = debug_query::<Sqlite, _>(&query).to_string();
        assert!(sql.contains("ORDER BY `orders`.`id` LIMIT 50 --"), "{sql}");
        assert!(sql.ends_with("binds: []"), "{sql}");
        let sql = debug_query::<Pg, _>(&query).to_string();
        assert!(sql.contains("LIMIT $1 --"), "{sql}");
        assert!(sql.ends_with("binds: [50]"), "{sql}");
        let never_negative = Limited::new(orders::table.select(orders::id), -1);
        assert!(debug_query::<Sqlite, _>(&never_negative)
            .to_string()
            .contains("LIMIT 0"));
    }
}
