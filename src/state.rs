//! What every request handler shares: the database pool, the clock, the token issuer, metrics,
//! limits.

use crate::auth::issuer::TokenIssuer;
use crate::clock::SharedClock;
use crate::db::Pool;
use crate::metrics::Metrics;

#[derive(Debug)]
pub struct AppState {
    pub pool: Pool,
    pub clock: SharedClock,
    pub issuer: std::sync::Arc<TokenIssuer>,
    pub metrics: Metrics,
    pub body_limit: usize,
    /// Seals and opens coaches' session notes.
    pub notes_key: std::sync::Arc<crate::vault::NotesKeys>,
    /// Days before its due date a follow-up is booked (`TRAJECTUM_FOLLOW_UP_HORIZON_DAYS`).
    pub follow_up_horizon_days: u32,
    /// Outcome reports withhold counts below this (`TRAJECTUM_REPORT_MIN_COUNT`).
    pub report_min_count: u32,
    /// Where webhooks may go (`TRAJECTUM_WEBHOOK_*`).
    pub webhooks: std::sync::Arc<crate::delivery::WebhookSettings>,
    /// The per-caller request rate limit (`TRAJECTUM_RATE_LIMIT*`), if there is one.
    pub rate_limiter: Option<std::sync::Arc<crate::rate_limit::RateLimiter>>,
    /// The limits of the public sign-up to invitation campaigns (`TRAJECTUM_SIGN_UP_LIMIT_*`).
    pub sign_up_limits: SignUpLimits,
    /// Whose `X-Forwarded-For` names the client (`TRAJECTUM_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::client_address::TrustedProxies,
}

/// The public sign-up's limits: per client address, and per campaign (each `None` when off).
#[derive(Debug, Default)]
pub struct SignUpLimits {
    pub per_address: Option<std::sync::Arc<crate::rate_limit::RateLimiter>>,
    pub per_campaign: Option<std::sync::Arc<crate::rate_limit::RateLimiter>>,
}
