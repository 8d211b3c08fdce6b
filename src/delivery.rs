//! Webhook deliveries over the network: where a URL leads (resolved, and every address checked
//! against the address policy, `domain::webhook`), the signed request (Standard Webhooks, by its
//! own crate), and the deliverer, an actor of the worker that runs each subscription's delivery
//! job with the same use cases a person's redelivery does (`service::webhooks`).
//!
//! The deliverer runs up to `concurrency` subscriptions at once, each one delivery at a time in
//! the order of its organisation's log, so one slow receiver holds up only its own deliveries.
//! A delivery is decided and recorded in transactions of their own; the request in between holds
//! no transaction, only the job's lease. A worker that dies mid-request leaves the delivery
//! pending: whoever takes the job after its lease sends it again with the same `webhook-id`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use url::Url;

use crate::clock::SharedClock;
use crate::db::jobs::Job;
use crate::db::{self, Pool};
use crate::domain::webhook::AddressPolicy;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::webhooks::{self, Outgoing, Sent, Step};
use crate::vault::NotesKeys;

/// The most of a receiver's response body read; the rest is not read.
const RESPONSE_READ_LIMIT: usize = 64 * 1024;
/// The most of a receiver's response body kept with the attempt.
const RESPONSE_KEPT: usize = 1024;
/// How often the deliverer queues again a job found done with deliveries pending.
const SWEEP: Duration = Duration::from_secs(60);
/// The most deliveries one run of a subscription's job sends before it lets others go first.
const DELIVERIES_PER_RUN: usize = 50;

/// How webhooks are sent.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// How long one attempt may take, connecting included.
    pub timeout: Duration,
    /// Plain `http` URLs are taken (development only).
    pub allow_http: bool,
    pub policy: AddressPolicy,
    /// How many subscriptions' deliveries a worker sends at once.
    pub concurrency: usize,
}

impl WebhookSettings {
    pub fn from_settings(settings: &crate::config::Settings) -> WebhookSettings {
        WebhookSettings {
            timeout: Duration::from_secs(settings.webhook_timeout_seconds),
            allow_http: settings.webhook_allow_http,
            policy: AddressPolicy::parse(&settings.webhook_allowed_networks)
                .expect("validated at load"),
            concurrency: settings.webhook_concurrency as usize,
        }
    }
}

/// A URL the service may send to: its scheme and host checked, its name resolved and every
/// address it resolves to allowed. Made only by [`Destination::check`].
#[derive(Debug, Clone)]
pub struct Destination(Url);

impl Destination {
    /// Checks `text` as a webhook URL now: the reason in a sentence when it is not one. A name
    /// that does not resolve now is taken (each delivery checks it again).
    pub async fn check(text: &str, settings: &WebhookSettings) -> Result<Destination, String> {
        let url = crate::domain::webhook::check_url(text, settings.allow_http)?;
        resolve_checked(&url, &settings.policy).await?;
        Ok(Destination(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The addresses `url`'s host resolves to, when the policy allows every one of them.
async fn resolve_checked(url: &Url, policy: &AddressPolicy) -> Result<Vec<SocketAddr>, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
            Ok(addresses) => addresses.collect(),
            // Not resolvable now (a name not yet published, a resolver down): nothing to check
            // yet. Every delivery resolves and checks it again, and refuses what it finds then.
            Err(_) => return Ok(vec![]),
        },
        None => return Err("has no host".into()),
    };
    for address in &addresses {
        if let Some(reason) = policy.refuses(address.ip()) {
            return Err(format!(
                "leads to {reason}, where the service does not send (an operator may allow a network with TRAJECTUM_WEBHOOK_ALLOWED_NETWORKS)"
            ));
        }
    }
    Ok(addresses)
}

/// reqwest's resolver for deliveries: a name is resolved, and refused unless the policy allows
/// every address; the connection then goes to an address that was checked, so a name that
/// resolves elsewhere between the check and the connection (DNS rebinding) gains nothing.
struct CheckedResolver {
    policy: AddressPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
            if let Some(reason) = addresses.iter().find_map(|a| policy.refuses(a.ip())) {
                return Err(format!("refused: the host leads to {reason}").into());
            }
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Sends signed webhook requests. Its HTTP client (TLS roots, connection pool) is made at the
/// first delivery: a process that never delivers keeps that memory.
pub struct Sender {
    client: std::sync::OnceLock<reqwest::Client>,
    settings: WebhookSettings,
}

impl Sender {
    pub fn new(settings: WebhookSettings) -> anyhow::Result<Sender> {
        Ok(Sender {
            client: std::sync::OnceLock::new(),
            settings,
        })
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = Self::build(&self.settings).map_err(|e| format!("no HTTP client: {e}"))?;
        Ok(self.client.get_or_init(|| client))
    }

    fn build(settings: &WebhookSettings) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .pool_max_idle_per_host(2)
            .user_agent(concat!("Trajectum-Webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(CheckedResolver {
                policy: settings.policy.clone(),
            }))
            .build()
    }

    /// Sends `outgoing`, signed with each of `secrets` at `timestamp` (seconds).
    pub async fn send(&self, outgoing: &Outgoing, secrets: &[String], timestamp: i64) -> Sent {
        let started = Instant::now();
        let elapsed =
            |started: Instant| i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let failed = |error: String, started: Instant| Sent {
            status: None,
            error: Some(error),
            response_body: None,
            retry_after: None,
            duration_ms: elapsed(started),
        };
        let url = match crate::domain::webhook::check_url(&outgoing.url, self.settings.allow_http) {
            Ok(url) => url,
            Err(reason) => return failed(format!("the URL {reason}"), started),
        };
        // An address in the URL itself is not resolved, so it is checked here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(reason) = literal.and_then(|ip| self.settings.policy.refuses(ip)) {
            return failed(format!("refused: the URL leads to {reason}"), started);
        }
        let signature = match sign(&outgoing.delivery_id, timestamp, &outgoing.body, secrets) {
            Ok(signature) => signature,
            Err(error) => return failed(format!("cannot sign: {error}"), started),
        };
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => return failed(error, started),
        };
        let request = client
            .post(url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, &outgoing.delivery_id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(outgoing.body.clone());
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failed(describe(&error), started),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let mut body = Vec::new();
        let mut read_error = None;
        while body.len() < RESPONSE_READ_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(error) => {
                    read_error = Some(describe(&error));
                    break;
                }
            }
        }
        body.truncate(RESPONSE_KEPT);
        Sent {
            status: Some(status),
            error: read_error,
            response_body: (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
            retry_after,
            duration_ms: elapsed(started),
        }
    }
}

/// The `webhook-signature` header: a `v1,` signature by each secret, space-separated.
pub fn sign(
    id: &str,
    timestamp: i64,
    body: &str,
    secrets: &[String],
) -> Result<String, standardwebhooks::WebhookError> {
    secrets
        .iter()
        .map(|secret| standardwebhooks::Webhook::new(secret)?.sign(id, timestamp, body.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map(|signatures| signatures.join(" "))
}

/// Why a request got no answer, without its URL (which may carry the receiver's tokens).
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error;
    let mut cause = String::new();
    let mut source = error.source();
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    let what = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_redirect() {
        "redirected"
    } else {
        "failed"
    };
    if cause.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {cause}")
    }
}

/// The deliverer: claims subscriptions' delivery jobs and runs them, several at once.
#[derive(Clone)]
pub struct Deliverer {
    id: String,
    clock: SharedClock,
    pool: Pool,
    sender: Arc<Sender>,
    keys: Arc<NotesKeys>,
    lease: chrono::Duration,
    concurrency: usize,
}

impl Deliverer {
    pub fn new(
        worker_id: &str,
        clock: SharedClock,
        pool: Pool,
        settings: WebhookSettings,
        keys: Arc<NotesKeys>,
        lease: chrono::Duration,
    ) -> anyhow::Result<Deliverer> {
        let concurrency = settings.concurrency.max(1);
        // A delivery's lease outlasts its request, however long the worker's lease is.
        let lease = lease + chrono::Duration::from_std(settings.timeout)?;
        Ok(Deliverer {
            id: worker_id.to_string(),
            clock,
            pool,
            sender: Arc::new(Sender::new(settings)?),
            keys,
            lease,
            concurrency,
        })
    }

    /// Claims up to `limit` due delivery jobs.
    async fn claim(&self, limit: usize) -> ServiceResult<Vec<Job>> {
        let now = self.clock.now();
        let lease_until = now + self.lease;
        let worker = self.id.clone();
        db::run(&self.pool, move |conn| {
            db::write(conn, |conn| {
                crate::db::webhooks::claim_jobs(
                    conn,
                    &worker,
                    now.naive_utc(),
                    lease_until.naive_utc(),
                    i64::try_from(limit).unwrap_or(i64::MAX),
                )
                .map_err(ServiceError::from)
            })
        })
        .await
    }

    /// Runs due delivery jobs until none is due; how many job runs there were. (Tests drain
    /// the outbox with it after moving the clock.)
    pub async fn run_due(&self) -> ServiceResult<usize> {
        let mut ran = 0;
        loop {
            let jobs = self.claim(self.concurrency).await?;
            if jobs.is_empty() {
                return Ok(ran);
            }
            ran += jobs.len();
            let runs: Vec<_> = jobs
                .into_iter()
                .map(|job| {
                    let deliverer = self.clone();
                    actix_web::rt::spawn(async move { deliverer.work(job).await })
                })
                .collect();
            for run in runs {
                let _ = run.await;
            }
        }
    }

    /// Claims and runs delivery jobs until stopped, up to `concurrency` at a time.
    pub async fn run(self, poll: Duration, mut stopped: tokio::sync::watch::Receiver<bool>) {
        let mut running = tokio::task::JoinSet::new();
        let mut swept = tokio::time::Instant::now();
        loop {
            if *stopped.borrow() {
                break;
            }
            if swept.elapsed() >= SWEEP {
                swept = tokio::time::Instant::now();
                let now = self.clock.now();
                if let Err(error) = db::run(&self.pool, move |conn| {
                    webhooks::requeue_stranded(conn, now)
                })
                .await
                {
                    tracing::warn!(error = %error, "the deliverer could not sweep its jobs");
                }
            }
            // Registered before the claim: a delivery queued in this process after it wakes the
            // deliverer at once.
            let queued = crate::db::webhooks::DELIVERIES_QUEUED.notified();
            tokio::pin!(queued);
            queued.as_mut().enable();
            let free = self.concurrency.saturating_sub(running.len());
            let claimed = if free > 0 {
                match self.claim(free).await {
                    Ok(jobs) => jobs,
                    Err(error) => {
                        tracing::warn!(error = %error, "the deliverer could not claim jobs");
                        vec![]
                    }
                }
            } else {
                vec![]
            };
            let idle = claimed.is_empty();
            for job in claimed {
                let deliverer = self.clone();
                running.spawn_local(async move { deliverer.work(job).await });
            }
            if idle || running.len() >= self.concurrency {
                tokio::select! {
                    _ = running.join_next(), if !running.is_empty() => {}
                    _ = &mut queued => {}
                    _ = tokio::time::sleep(poll) => {}
                    changed = stopped.changed() => {
                        if changed.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        // Deliveries under way finish (each within its timeout); their jobs are recorded.
        while running.join_next().await.is_some() {}
    }

    /// One run of a subscription's job: its due deliveries in order, until one fails (the job
    /// then waits for its next attempt) or none is due.
    async fn work(&self, job: Job) {
        for _ in 0..DELIVERIES_PER_RUN {
            match self.step(&job).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    // The job stays leased: taken again when its lease runs out.
                    tracing::warn!(job_id = %job.id, error = %error, "a delivery step failed");
                    return;
                }
            }
        }
        let (pool, worker, now) = (self.pool.clone(), self.id.clone(), self.clock.now());
        let id = job.id.clone();
        let _ = db::run(&pool, move |conn| -> ServiceResult<()> {
            webhooks::yield_job(conn, now, &id, &worker)
        })
        .await;
    }

    /// Sends the subscription's next delivery if one is due; whether to go on.
    async fn step(&self, job: &Job) -> ServiceResult<bool> {
        let now = self.clock.now();
        let lease_until = now + self.lease;
        let (job_id, worker, keys) = (job.id.clone(), self.id.clone(), self.keys.clone());
        let webhook_id = job.dedupe_key.clone();
        let step = db::run(&self.pool, move |conn| {
            webhooks::next_delivery(conn, now, lease_until, &job_id, &worker, &webhook_id, &keys)
        })
        .await?;
        let (outgoing, secrets) = match step {
            Step::Finished => return Ok(false),
            Step::Send { outgoing, secrets } => (outgoing, secrets),
        };
        let sent_at: DateTime<Utc> = self.clock.now();
        let sent = self
            .sender
            .send(&outgoing, &secrets, sent_at.timestamp())
            .await;
        tracing::info!(
            delivery_id = %outgoing.delivery_id,
            webhook_id = %outgoing.webhook_id,
            status = ?sent.status,
            error = ?sent.error,
            duration_ms = sent.duration_ms,
            "webhook delivery attempted"
        );
        let (job_id, worker) = (job.id.clone(), self.id.clone());
        let jitter = rand::random::<f64>();
        db::run(&self.pool, move |conn| {
            webhooks::record(conn, sent_at, &job_id, &worker, &outgoing, &sent, jitter)
        })
        .await
    }
}
