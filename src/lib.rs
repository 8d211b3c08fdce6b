//! Trajectum: commission and run job-coaching trajectories.
//!
//! `startup` builds the app; `api` is the HTTP surface; `auth` the tokens and the caller;
//! `service` the use cases; `domain` the rules; `views` what callers read; `db` the storage;
//! `clock` the time; `vault` seals session notes; `admin` the command-line operations.

pub mod admin;
pub mod api;
pub mod auth;
pub mod client_address;
pub mod clock;
pub mod config;
pub mod db;
pub mod delivery;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod private_file;
pub mod rate_limit;
pub mod server;
pub mod service;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod vault;
pub mod views;
pub mod worker;
