//! The rules of the domain, free of I/O: no diesel, no actix. Each rule that comes from
//! `shared/DOMAIN.md` names its source text.

pub mod coach;
pub mod principal;
