//! The rules of the domain, free of I/O: no diesel, no actix. Each rule that comes from
//! `shared/DOMAIN.md` names its source text.

pub mod access;
pub mod alliance;
pub mod availability;
pub mod closing;
pub mod coach;
pub mod coachee_link;
pub mod commission;
pub mod consent;
pub mod contact;
pub mod event;
pub mod extension;
pub mod follow_up;
pub mod input;
pub mod intake;
pub mod invitation;
pub mod job;
pub mod matching;
pub mod order;
pub mod permission;
pub mod plan;
pub mod principal;
pub mod provider_settings;
pub mod rate_limit;
pub mod report;
pub mod session;
pub mod session_change;
pub mod visibility;
pub mod webhook;

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid input: where it is (a JSON pointer into the body, or the name of a query
/// parameter or header) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON pointer (RFC 6901) into the request body, e.g. `/time_zone`; for a query parameter or
    /// header, its name.
    #[schema(example = "/time_zone")]
    pub pointer: String,
    /// What is wrong, in a sentence.
    #[schema(example = "is not a known IANA time zone")]
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            detail: detail.into(),
        }
    }
}
