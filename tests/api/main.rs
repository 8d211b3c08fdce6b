//! The API suite: one binary, each test on its own fresh database, once on SQLite and (with
//! `TEST_DATABASE_URL`) once on PostgreSQL.

mod conformance;
mod helpers;

mod access;
mod audit;
mod auth;
mod binary;
mod coaches;
mod conditional;
mod conventions;
mod erasure;
mod events;
mod follow_ups;
mod groups;
mod instances;
mod invitations;
mod lifecycle;
mod limits;
mod migrations;
mod operating;
mod operations;
mod orders;
mod privacy;
mod reports;
mod roles;
mod scene;
mod scheduling;
mod tokens;
mod webhooks;
