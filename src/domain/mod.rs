//! The rules of the domain, free of I/O: no diesel, no actix. Each rule that comes from
//! `shared/DOMAIN.md` names its source text.

pub mod coach;
pub mod contact;
pub mod intake;
pub mod matching;
pub mod order;
pub mod plan;
pub mod principal;
pub mod visibility;
