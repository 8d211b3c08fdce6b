//! `LIMIT n` written into the SQL rather than bound as a parameter.
//!
//! SQLite marks a prepared statement expired whenever a parameter that its plan depends on is
//! bound anew, and the value of `LIMIT ?` is one: every execution of the order list was parsed
//! and planned again (`sqlite3Reprepare`, about a tenth of the list's time by `perf`). A limit
//! is a small integer the API has already validated, so writing it into the SQL is safe; each
//! limit a client uses gets a cached statement of its own.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query LIMIT limit`, with the number in the SQL text.
#[derive(Debug, Clone, Copy)]
pub struct LiteralLimit<Q> {
    query: Q,
    limit: u32,
}

impl<Q> LiteralLimit<Q> {
    /// `query` limited to `limit` rows (a negative limit is 0).
    pub fn new(query: Q, limit: i64) -> Self {
        let limit = u32::try_from(limit.max(0)).unwrap_or(u32::MAX);
        LiteralLimit { query, limit }
    }
}

impl<Q: Query> Query for LiteralLimit<Q> {
    type SqlType = Q::SqlType;
}

impl<Q> QueryId for LiteralLimit<Q> {
    type QueryId = ();
    // The SQL differs by limit: statements are cached by their text, not by type.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for LiteralLimit<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" LIMIT ");
        out.push_sql(&self.limit.to_string());
        Ok(())
    }
}

impl<Q, Conn> RunQueryDsl<Conn> for LiteralLimit<Q> {}

#[cfg(test)]
mod tests {
    use diesel::debug_query;
    use diesel::prelude::*;
    use diesel::sqlite::Sqlite;

    use super::*;
    use crate::db::schema::orders;

    #[test]
    fn the_limit_is_in_the_sql_and_not_a_parameter() {
        let query = LiteralLimit::new(orders::table.select(orders::id).order(orders::id), 50);
        let sql = debug_query::<Sqlite, _>(&query).to_string();
        assert!(sql.contains("ORDER BY `orders`.`id` LIMIT 50 --"), "{sql}");
        assert!(sql.ends_with("binds: []"), "{sql}");
        let never_negative = LiteralLimit::new(orders::table.select(orders::id), -1);
        assert!(debug_query::<Sqlite, _>(&never_negative)
            .to_string()
            .contains("LIMIT 0"));
    }
}
