//! Prometheus metrics: requests by route template and status, request latency, pool usage.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::db::Pool;

#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_max: IntGauge,
    jobs_queued: IntGaugeVec,
    jobs_retrying: IntGaugeVec,
    jobs_oldest_due: IntGaugeVec,
    jobs_parked: IntGauge,
}

/// The job queue as the database holds it when `/metrics` is read (whichever process runs the
/// worker).
#[derive(Debug, Clone, Default)]
pub struct Queue {
    pub depth: Vec<crate::db::jobs::Depth>,
    pub parked: i64,
    pub now: chrono::NaiveDateTime,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("trajectum".into()), None).expect("registry");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template and status",
            ),
            &["method", "route", "status"],
        )
        .expect("metric");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            &["method", "route"],
        )
        .expect("metric");
        let pool_connections =
            IntGauge::new("db_pool_connections", "open database connections").expect("metric");
        let pool_idle =
            IntGauge::new("db_pool_idle_connections", "idle database connections").expect("metric");
        let pool_max =
            IntGauge::new("db_pool_max_connections", "size of the database pool").expect("metric");
        let by_kind = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help), &["kind"]).expect("metric")
        };
        let jobs_queued = by_kind("jobs_queued", "jobs waiting to run, by kind");
        let jobs_retrying = by_kind(
            "jobs_retrying",
            "jobs queued again after a failed attempt, by kind",
        );
        let jobs_oldest_due = by_kind(
            "jobs_oldest_due_age_seconds",
            "how long the oldest due job of a kind has waited",
        );
        let jobs_parked =
            IntGauge::new("jobs_parked", "jobs that failed for good").expect("metric");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(pool_connections.clone()),
            Box::new(pool_idle.clone()),
            Box::new(pool_max.clone()),
            Box::new(jobs_queued.clone()),
            Box::new(jobs_retrying.clone()),
            Box::new(jobs_oldest_due.clone()),
            Box::new(jobs_parked.clone()),
        ] {
            registry.register(collector).expect("unique metric");
        }
        Metrics {
            registry,
            requests,
            latency,
            pool_connections,
            pool_idle,
            pool_max,
            jobs_queued,
            jobs_retrying,
            jobs_oldest_due,
            jobs_parked,
        }
    }

    /// Sets the job queue's gauges from `queue`.
    pub fn queue(&self, queue: &Queue) {
        self.jobs_queued.reset();
        self.jobs_retrying.reset();
        self.jobs_oldest_due.reset();
        for depth in &queue.depth {
            self.jobs_queued
                .with_label_values(&[depth.kind.as_str()])
                .set(depth.queued);
            self.jobs_retrying
                .with_label_values(&[depth.kind.as_str()])
                .set(depth.retrying);
            let age = depth
                .oldest_due
                .map_or(0, |due| (queue.now - due).num_seconds().max(0));
            self.jobs_oldest_due
                .with_label_values(&[depth.kind.as_str()])
                .set(age);
        }
        self.jobs_parked.set(queue.parked);
    }

    /// `route` is the matched route template (`/api/v1/coaches/{id}`), never the raw path, so
    /// ids do not explode the label space.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// The text exposition, with the pool's current state.
    pub fn render(&self, pool: &Pool) -> String {
        let state = pool.state();
        self.pool_connections.set(i64::from(state.connections));
        self.pool_idle.set(i64::from(state.idle_connections));
        self.pool_max.set(i64::from(pool.max_size()));
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding");
        String::from_utf8(buffer).expect("utf-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
