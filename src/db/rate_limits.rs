//! The requests each caller was served per window of the rate limit, added up by every instance
//! (`crate::rate_limit`).

use diesel::prelude::*;

use super::schema::request_counts;
use super::DbConnection;

/// Adds `requests` to `caller`'s count for the window starting at `window_start` and returns
/// the count now, every instance's included. One statement: concurrent additions all count.
pub fn add(
    conn: &mut DbConnection,
    caller: &str,
    window_start: i64,
    requests: i64,
) -> QueryResult<i64> {
    use request_counts::dsl;
    crate::on_each_backend!(conn, |c| diesel::insert_into(dsl::request_counts)
        .values((
            dsl::caller.eq(caller),
            dsl::window_start.eq(window_start),
            dsl::requests.eq(requests),
        ))
        .on_conflict((dsl::caller, dsl::window_start))
        .do_update()
        .set(dsl::requests.eq(dsl::requests + requests))
        .returning(dsl::requests)
        .get_result(c))
}

/// Forgets `caller`'s counts of windows before `window_start` (when its next window begins).
pub fn forget_before(
    conn: &mut DbConnection,
    caller: &str,
    window_start: i64,
) -> QueryResult<usize> {
    use request_counts::dsl;
    diesel::delete(
        dsl::request_counts
            .filter(dsl::caller.eq(caller))
            .filter(dsl::window_start.lt(window_start)),
    )
    .execute(conn)
}

/// Forgets every caller's counts of windows that began before `window_start` (the worker, now
/// and then, for callers that stopped calling).
pub fn sweep_before(conn: &mut DbConnection, window_start: i64) -> QueryResult<usize> {
    use request_counts::dsl;
    diesel::delete(dsl::request_counts.filter(dsl::window_start.lt(window_start))).execute(conn)
}
