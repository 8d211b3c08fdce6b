//! The read model: what callers get back, built from stored records and what the caller may see
//! (`domain::visibility`, `domain::coach`). Use cases return these; handlers serialise them. No
//! queries here: the use cases load what a view needs.

pub mod audit;
pub mod calendar;
pub mod coach;
pub mod coachee;
pub mod coaching;
pub mod event;
pub mod follow_up;
pub mod identity;
pub mod invitation;
pub mod job;
pub mod order;
pub mod privacy;
pub mod report;
pub mod session;
pub mod time;
pub mod webhook;
