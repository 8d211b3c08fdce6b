//! The HTTP server: the actix-web `App` behind actix-http's HTTP/1.1 service, as
//! `actix_web::HttpServer` would run it, on connections that turn the HTTP parser's own refusals
//! into problem documents.
//!
//! actix-http answers a request it cannot parse (an oversized head, a byte no URI may hold, a
//! head that never finishes) before any middleware runs: a bare 400, 408 or 431 with an empty
//! body, then it closes the connection and logs the refusal as an error. [`ProblemStream`]
//! recognises that answer as it is written (a 4xx without a body or a content type, which no
//! handler or middleware of this service sends) and writes an `application/problem+json`
//! document in its place, with a request id, logging the refusal as a warning instead.
//!
//! The listener is bound before the workers build their apps; until they have, a connection
//! waits in the listen queue, and a SIGTERM then resets it. [`Started`] tells when every worker
//! serves, which is when the service says it is ready.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use actix_http::{HttpService, KeepAlive, Request};
use actix_rt::net::TcpStream;
use actix_server::Server;
use actix_service::{
    fn_factory, fn_service, map_config, IntoServiceFactory, ServiceFactory, ServiceFactoryExt,
};
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::web::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Semaphore;

use crate::error::{Problem, PROBLEM_JSON};
use crate::middleware::X_REQUEST_ID;

/// How long a client may take to send a request's head.
const CLIENT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// actix-server's own default: a worker per thread the machine offers (at most 512).
fn worker_count() -> usize {
    std::thread::available_parallelism()
        .map_or(2, NonZeroUsize::get)
        .min(512)
}

/// Whether every worker has built its app and takes connections.
pub struct Started {
    workers: u32,
    /// A permit for each worker whose app is built.
    built: Arc<Semaphore>,
}

impl Started {
    /// Waits until every worker serves. The server's future must be polled meanwhile: it starts
    /// them.
    pub async fn wait(&self) {
        // The semaphore is never closed, so this only returns once the permits are there.
        let _ = self.built.acquire_many(self.workers).await;
    }
}

/// Serves the apps `factory` makes (one per worker) on `listener`, until SIGTERM or SIGINT; then
/// in-flight requests get `shutdown_timeout` to finish.
pub fn serve<F, I, S, B>(
    listener: TcpListener,
    shutdown_timeout: u64,
    factory: F,
) -> io::Result<(Server, Started)>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig, Response = ServiceResponse<B>> + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let workers = worker_count();
    let built = Arc::new(Semaphore::new(0));
    let started = Started {
        workers: u32::try_from(workers).expect("at most 512 workers"),
        built: built.clone(),
    };
    let builder = Server::build()
        .workers(workers)
        .shutdown_timeout(shutdown_timeout);
    let shutdown = builder.graceful_shutdown_signal();
    let builder = builder.listen("trajectum", listener, move || {
        let shutdown = shutdown.clone();
        let built = built.clone();
        let app = factory()
            .into_factory()
            .map_err(|error| error.into().error_response());
        let http = HttpService::build()
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .keep_alive(KeepAlive::default())
            .client_request_timeout(CLIENT_REQUEST_TIMEOUT)
            .local_addr(addr)
            .h1(map_config(app, |_| AppConfig::default()))
            .map(|_| ());
        let connections = fn_service(|stream: TcpStream| async move {
            let peer: Option<SocketAddr> = stream.peer_addr().ok();
            Ok((ProblemStream::new(stream), peer))
        })
        .map_err(actix_http::error::DispatchError::Io)
        .and_then(http);
        // This worker's app, counted once it is built.
        fn_factory(move || {
            let building = connections.new_service(());
            let built = built.clone();
            async move {
                let service = building.await;
                if service.is_ok() {
                    built.add_permits(1);
                }
                service
            }
        })
    })?;
    Ok((builder.run(), started))
}

/// A connection on which a refusal of the HTTP parser goes out as a problem document.
pub struct ProblemStream<T> {
    inner: T,
    /// Bytes accepted from the writer but not yet written to the connection.
    pending: BytesMut,
}

impl<T> ProblemStream<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: BytesMut::new(),
        }
    }
}

impl<T: AsyncWrite + Unpin> ProblemStream<T> {
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let _ = self.pending.split_to(written);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ProblemStream<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ProblemStream<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_pending(cx))?;
        if let Some(problem) = as_problem(buf) {
            self.pending = problem;
            // What is not written now goes out on the flush that follows every response.
            if let Poll::Ready(Err(error)) = self.poll_pending(cx) {
                return Poll::Ready(Err(error));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_pending(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The longest bare refusal actix-http writes (status line, length, connection, date).
const BARE_REFUSAL_MAX: usize = 256;

/// The parser's bare refusal in `written`, as a problem document; `None` for anything else.
/// Every response passes through here, so anything that is not a short 4xx head is let through
/// before it is read.
fn as_problem(written: &[u8]) -> Option<BytesMut> {
    if written.len() > BARE_REFUSAL_MAX || !written.starts_with(b"HTTP/1.1 4") {
        return None;
    }
    let end = written.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if end != written.len() {
        return None; // a head followed by a body: a response of the service itself
    }
    let head = std::str::from_utf8(written).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let status = StatusCode::from_u16(status.parse().ok()?).ok()?;
    let headers: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    let bare = headers
        .iter()
        .any(|h| h.eq_ignore_ascii_case("content-length: 0"))
        && !headers
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("content-type:"));
    if !status.is_client_error() || !bare {
        return None;
    }
    let (slug, detail) = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "header-too-large",
            "the request's head (request line and headers) is too large",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "request-timeout",
            "the request's head did not arrive in time",
        ),
        _ => (
            "malformed-request",
            "the request is not valid HTTP/1.1 (e.g. a byte a URI or header may not hold)",
        ),
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    tracing::warn!(
        status = status.as_u16(),
        request_id = %request_id,
        "refused a request the HTTP parser could not read"
    );
    let problem = Problem {
        problem_type: format!("urn:trajectum:problem:{slug}"),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        detail: detail.to_string(),
        errors: vec![],
        request_id: Some(request_id.clone()),
        extensions: Default::default(),
    };
    let body = serde_json::to_string(&problem).ok()? + "\n";
    let mut response = BytesMut::new();
    response.extend_from_slice(head.split("\r\n").next()?.as_bytes());
    response.extend_from_slice(b"\r\n");
    for header in headers
        .iter()
        .filter(|h| !h.to_ascii_lowercase().starts_with("content-length:"))
    {
        response.extend_from_slice(header.as_bytes());
        response.extend_from_slice(b"\r\n");
    }
    let added = format!(
        "content-type: {PROBLEM_JSON}\r\ncontent-length: {}\r\n{X_REQUEST_ID}: {request_id}\r\n\r\n",
        body.len()
    );
    response.extend_from_slice(added.as_bytes());
    response.extend_from_slice(body.as_bytes());
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BARE_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: Mon, 23 Nov 2026 20:14:48 GMT\r\n\r\n";

    #[test]
    fn a_bare_refusal_becomes_a_problem_document() {
        let rewritten = as_problem(BARE_431).unwrap();
        let text = std::str::from_utf8(&rewritten).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("content-type: application/problem+json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("connection: close") && head.contains("x-request-id: "));
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 431);
        assert!(body.ends_with('\n'));
    }

    #[test]
    fn the_services_own_responses_pass_unchanged() {
        for response in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}"[..],
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\ncontent-type: application/problem+json\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{\"trailing\": true}",
            b"{\"a body chunk\": 1}",
        ] {
            assert!(as_problem(response).is_none(), "{:?}", String::from_utf8_lossy(response));
        }
    }
}
