//! Logging: one tracing subscriber (pretty for people, JSON for machines), and a helper that
//! runs blocking work off the async executor inside the current span.
//!
//! What is never logged: tokens, secrets, passwords, request bodies, and personal data such as
//! a coachee's or coach's name or email. Spans carry ids, routes and statuses only.

use std::io::IsTerminal;

use tracing::Span;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// actix-http logs every request it cannot parse (and every client that hangs up mid-request) as
/// an error of its dispatcher; those are the client's mistakes, and `crate::server` logs each
/// refused request as a warning instead. A filter that names `actix_http` itself decides.
const QUIET_PARSER: &str = "actix_http::h1::dispatcher=off";

/// Installs the global subscriber, writing to stderr; a second call (tests) is ignored.
pub fn init(format: LogFormat, filter: &str) {
    // Colours only for a person at a terminal: in a file or a log collector they are noise.
    init_with_writer(
        format,
        filter,
        std::io::stderr().is_terminal(),
        std::io::stderr,
    );
}

/// Installs the global subscriber, writing to `writer` (the API suite keeps the lines to search
/// them for personal data); a second call is ignored.
pub fn init_with_writer<W>(format: LogFormat, filter: &str, ansi: bool, writer: W)
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = if filter.contains("actix_http") {
        filter.to_string()
    } else {
        format!("{filter},{QUIET_PARSER}")
    };
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The blocking work panicked.
#[derive(Debug)]
pub struct Panicked;

/// Runs `f` on actix's blocking pool, in the caller's span, so database work is logged under the
/// request that caused it. (Never `block_in_place`: it panics on actix's single-threaded workers.)
pub async fn spawn_blocking_in_span<R, F>(f: F) -> Result<R, Panicked>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    let span = Span::current();
    actix_web::web::block(move || {
        let _entered = span.enter();
        f()
    })
    .await
    .map_err(|_| Panicked)
}
