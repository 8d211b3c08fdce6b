//! Trajectum: commission and run job-coaching trajectories.
//!
//! `startup` builds the app; `api` is the HTTP surface; `auth` the tokens and the caller;
//! `domain` the rules; `db` the storage; `admin` the command-line operations.

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod idempotency;
pub mod metrics;
pub mod middleware;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
