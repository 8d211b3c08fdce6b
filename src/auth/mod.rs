//! Authentication: signing keys and JWTs, the token issuer, passwords and client secrets, and
//! the extractor that turns a bearer token into a [`Principal`].
//!
//! [`Principal`]: crate::domain::principal::Principal

pub mod confirmed;
pub mod extract;
pub mod issuer;
pub mod jwt;
pub mod secrets;
