//! Use cases: each opens one transaction, asks `domain` for the decision, writes through `db`,
//! and appends the event in the same transaction. Handlers call these; they hold no SQL.

pub mod coaching;
pub mod orders;
