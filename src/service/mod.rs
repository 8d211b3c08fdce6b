//! Use cases: one function each. A use case takes the connection, the time, the caller and a
//! typed command; opens its transaction; asks `domain` for the decision; writes through `db`;
//! appends the event in the same transaction; and returns a view (`crate::views`) or a
//! [`ServiceError`]. The HTTP handlers, the command line and the worker all call these; nothing
//! here knows about HTTP.

pub mod access;
pub mod accounts;
pub mod alliance;
pub mod audit;
pub mod availability;
pub mod calendars;
pub mod closing;
pub mod coachee;
pub mod coaches;
pub mod coaching;
pub mod error;
pub mod feed;
pub mod follow_ups;
pub mod groups;
pub mod idempotency;
pub mod identity;
pub mod intake;
pub mod invitations;
pub mod jobs;
pub mod lifecycle;
pub mod notes;
pub mod order_reads;
pub mod orders;
pub mod pagination;
pub mod plan;
pub mod privacy;
pub mod provider_settings;
pub mod reports;
pub mod self_service;
pub mod sessions;
pub mod sign_in;
pub mod webhooks;

pub use error::{ServiceError, ServiceResult};
