//! Authentication: signing keys and JWTs, passwords and client secrets, the login throttle, the
//! token endpoint's grants, and the extractor that turns a bearer token into a [`Principal`].
//!
//! [`Principal`]: crate::domain::principal::Principal

pub mod confirmed;
pub mod extract;
pub mod grants;
pub mod jwt;
pub mod secrets;
