//! The job worker: an actor of the service's own (`Role::System`) that runs the same use cases a
//! person's request runs, on a schedule. It runs inside `trajectum serve` by default and alone as
//! `trajectum worker`; any number of workers share one PostgreSQL (SQLite is the one-process
//! default).
//!
//! A round claims a batch of due jobs with a lease (`db::jobs::claim`) and runs them in
//! transactions that also mark them done, so a job's effects and its completion commit together
//! or not at all. Jobs that run once and lock nothing of their own may share a transaction for
//! up to 20 ms (one commit for many quick jobs, [`Tasks::shares`]); when one of them fails, that
//! transaction rolls back whole and its jobs run again, the failing one alone, so that the
//! failure is its own. The service's own jobs lock coaches and orders, and run one to a
//! transaction. A job that fails is queued again after a growing wait with jitter, and
//! parked after its last attempt (`domain::job`). A worker that dies mid-job leaves the job's
//! transaction uncommitted and its lease to run out: another round takes it again. Effects are
//! idempotent by their own keys (a follow-up books once), so at-least-once runs have
//! exactly-once effects. Periodic jobs have one row per kind, so they run once per period
//! across all workers. Time comes from the clock, so tests move months ahead.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::clock::SharedClock;
use crate::db::jobs::{self as store, Job};
use crate::db::{self, audit, DbConnection, Pool};
use crate::domain::job::{after_failure, AfterFailure, JobKind};
use crate::domain::principal::Principal;
use crate::domain::rate_limit;
use crate::service::error::{ServiceError, ServiceResult};
use crate::service::{alliance, follow_ups, jobs, privacy};

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// How long an idle worker waits before it looks for due jobs again.
    pub poll: Duration,
    /// How many jobs a round claims.
    pub batch: u32,
    /// How long a claimed job is the worker's.
    pub lease: chrono::Duration,
    /// Days before its due date a follow-up is booked (002).
    pub follow_up_horizon_days: u32,
    /// Days the coachee has to rate the first session (004).
    pub alliance_rating_days: u32,
    /// Months after its order closed that a coachee's personal data is erased (0: never).
    pub erase_after_months: u32,
    /// How long a failed sign-in counts (the throttle's window): older ones are forgotten.
    pub login_window: chrono::Duration,
    /// How webhooks are delivered (`crate::delivery`).
    pub webhooks: crate::delivery::WebhookSettings,
}

impl WorkerSettings {
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        WorkerSettings {
            poll: Duration::from_millis(settings.worker_poll_milliseconds),
            batch: settings.worker_batch,
            lease: chrono::Duration::seconds(
                i64::try_from(settings.worker_lease_seconds).unwrap_or(i64::MAX / 1000),
            ),
            follow_up_horizon_days: settings.follow_up_horizon_days,
            alliance_rating_days: settings.alliance_rating_days,
            erase_after_months: settings.erase_after_months,
            login_window: chrono::Duration::seconds(
                i64::try_from(settings.login_lockout_seconds).unwrap_or(i64::MAX / 1000),
            ),
            webhooks: crate::delivery::WebhookSettings::from_settings(settings),
        }
    }
}

/// The worker: who it is, where it works, what its jobs do, and whether it has been asked to
/// stop.
#[derive(Debug, Clone)]
pub struct Worker {
    id: String,
    clock: SharedClock,
    settings: WorkerSettings,
    tasks: Arc<dyn Tasks>,
    stopping: Arc<AtomicBool>,
}

/// What the jobs a worker claims do. The service's are its use cases ([`UseCases`]); the queue's
/// benchmark (`benches/queue.rs`) runs jobs that do nothing, or one insert, through the same
/// claims, leases and transactions.
pub trait Tasks: Send + Sync + std::fmt::Debug {
    /// The kinds of job the worker claims (no other kind ever comes to [`Tasks::run`]).
    fn kinds(&self) -> Vec<&'static str>;
    /// How often a job of `kind` runs; `None` for a job that runs once.
    fn period(&self, kind: &str) -> Option<chrono::Duration>;
    /// Whether jobs of `kind` (that run once) may share a transaction with others
    /// ([`Worker::together`]). Only jobs that lock nothing of their own may: two jobs that each
    /// lock a coach in one transaction would take the coaches in no set order, against the lock
    /// order every booking keeps (`service::sessions::locks`).
    fn shares(&self, kind: &str) -> bool {
        let _ = kind;
        false
    }
    /// Does `job`. A job that runs once does it inside the transaction that marks it done.
    fn run(&self, conn: &mut DbConnection, now: DateTime<Utc>, job: &Job) -> ServiceResult<()>;
}

/// The service's jobs ([`JobKind`]): the same use cases as a person's request, by the service.
#[derive(Debug, Clone)]
pub struct UseCases {
    follow_up_horizon_days: u32,
    alliance_rating_days: u32,
    erase_after_months: u32,
    login_window: chrono::Duration,
}

impl UseCases {
    pub fn new(settings: &WorkerSettings) -> UseCases {
        UseCases {
            follow_up_horizon_days: settings.follow_up_horizon_days,
            alliance_rating_days: settings.alliance_rating_days,
            erase_after_months: settings.erase_after_months,
            login_window: settings.login_window,
        }
    }
}

impl Tasks for UseCases {
    fn kinds(&self) -> Vec<&'static str> {
        // Webhook deliveries are the deliverer's (`crate::delivery`).
        JobKind::ALL.map(JobKind::as_str).to_vec()
    }

    fn period(&self, kind: &str) -> Option<chrono::Duration> {
        JobKind::parse(kind).and_then(JobKind::period)
    }

    fn run(&self, conn: &mut DbConnection, now: DateTime<Utc>, job: &Job) -> ServiceResult<()> {
        let kind = JobKind::parse(&job.kind).ok_or_else(|| {
            ServiceError::Internal(anyhow::anyhow!("a job of a kind this worker does not run"))
        })?;
        match kind {
            JobKind::BookFollowUp => {
                let id = job.payload.0["follow_up_id"].as_str().ok_or_else(|| {
                    ServiceError::Internal(anyhow::anyhow!("a follow-up job without its follow-up"))
                })?;
                let booking = follow_ups::book_due(conn, now, id, self.follow_up_horizon_days)?;
                tracing::info!(job_id = %job.id, ?booking, "follow-up booking");
            }
            JobKind::CheckAlliance => {
                alliance::flag_unrated(conn, now, self.alliance_rating_days)?;
            }
            JobKind::EraseClosed => {
                privacy::erase_closed(conn, now, self.erase_after_months)?;
                // What is no longer needed goes too: lapsed sign-in failures (digests of
                // accounts), revocations of tokens that have expired, and the rate limit's
                // counts of windows that ended (whatever their length).
                let since = now.checked_sub_signed(self.login_window).unwrap_or(now);
                let ended = now.timestamp() - i64::from(rate_limit::LONGEST_WINDOW_SECONDS);
                db::write(conn, |conn| {
                    db::access::sweep_lapsed(conn, since.naive_utc(), now.naive_utc())?;
                    db::rate_limits::sweep_before(conn, ended)
                })?;
            }
        }
        Ok(())
    }
}

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// Jobs claimed and run (successfully or not).
    pub ran: usize,
    /// Of those, the ones that failed this attempt.
    pub failed: usize,
}

/// How long a transaction that runs several jobs together goes on taking more: long enough that
/// quick jobs share a commit, short enough that what their transaction locks (a coach, the event
/// log's heads) is held about as long as by one booking.
const TOGETHER: Duration = Duration::from_millis(20);

/// How a transaction of jobs run together ended.
enum Together {
    /// This many jobs, from the first, ran and are done.
    Done(usize),
    /// The job at this position failed; nothing of the transaction happened.
    FailedAt(usize),
    /// A job was no longer this worker's; nothing of the transaction happened.
    Lost,
}

/// How one job's attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    Done,
    Failed,
    /// The job was no longer this worker's when it came to it (its lease ran out and another
    /// took it, or it was queued anew): left alone, whatever it did rolled back.
    Lost,
}

/// Why an attempt did not complete.
enum Stopped {
    Failed(ServiceError),
    Lost,
}

impl From<ServiceError> for Stopped {
    fn from(error: ServiceError) -> Self {
        Stopped::Failed(error)
    }
}

impl From<diesel::result::Error> for Stopped {
    fn from(error: diesel::result::Error) -> Self {
        Stopped::Failed(error.into())
    }
}

impl Worker {
    /// A worker that runs the service's jobs.
    pub fn new(clock: SharedClock, settings: WorkerSettings) -> Worker {
        let tasks = Arc::new(UseCases::new(&settings));
        Worker::with_tasks(clock, settings, tasks)
    }

    /// A worker whose jobs do what `tasks` says.
    pub fn with_tasks(
        clock: SharedClock,
        settings: WorkerSettings,
        tasks: Arc<dyn Tasks>,
    ) -> Worker {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        Worker {
            id: format!(
                "{host}:{}:{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            clock,
            settings,
            tasks,
            stopping: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Queues the periodic jobs (once across all workers), and queues again one found parked.
    pub fn prepare(&self, conn: &mut DbConnection) -> ServiceResult<()> {
        let now = self.clock.now();
        db::write(conn, |conn| jobs::schedule_periodic(conn, now))
    }

    /// One round: claims up to a batch of due jobs and runs them one by one; a worker asked to
    /// stop gives back the ones it has not started.
    pub fn round(&self, conn: &mut DbConnection) -> ServiceResult<Round> {
        let now = self.clock.now();
        let lease_until = now + self.settings.lease;
        let kinds = self.tasks.kinds();
        let claimed = db::write(conn, |conn| {
            store::claim(
                conn,
                &self.id,
                &kinds,
                now.naive_utc(),
                lease_until.naive_utc(),
                i64::from(self.settings.batch),
            )
            .map_err(ServiceError::from)
        })?;
        let (shared, alone): (Vec<Job>, Vec<Job>) = claimed.into_iter().partition(|job| {
            self.tasks.period(&job.kind).is_none() && self.tasks.shares(&job.kind)
        });
        let mut round = Round::default();
        let mut rest = shared.as_slice();
        // The jobs that may share a transaction, as many to one as TOGETHER allows.
        while let Some(first) = rest.first() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let outcome = if self.fresh(first) {
                self.together(conn, rest)?
            } else {
                Together::Lost
            };
            match outcome {
                Together::Done(n) => {
                    round.ran += n;
                    rest = &rest[n..];
                }
                // The transaction rolled back at the job at `n`: the ones before it run again
                // together, then it alone.
                Together::FailedAt(n) if n > 0 => match self.together(conn, &rest[..n])? {
                    Together::Done(done) => {
                        round.ran += done;
                        rest = &rest[done..];
                        // (When what failed was the completion or the commit after the last
                        // job, there is no job at `n` to run alone.)
                        if let Some(failed) = rest.first().filter(|_| done == n) {
                            self.alone(conn, failed, &mut round)?;
                            rest = &rest[1..];
                        }
                    }
                    _ => {
                        self.alone(conn, first, &mut round)?;
                        rest = &rest[1..];
                    }
                },
                Together::FailedAt(_) | Together::Lost => {
                    self.alone(conn, first, &mut round)?;
                    rest = &rest[1..];
                }
            }
        }
        let mut alone = alone.into_iter();
        while !self.stopping.load(Ordering::SeqCst) {
            let Some(job) = alone.next() else {
                break;
            };
            self.alone(conn, &job, &mut round)?;
        }
        let unstarted: Vec<String> = rest
            .iter()
            .map(|j| j.id.clone())
            .chain(alone.map(|j| j.id))
            .collect();
        if !unstarted.is_empty() {
            let now = self.clock.now().naive_utc();
            db::write(conn, |conn| store::release(conn, &unstarted, &self.id, now))?;
        }
        Ok(round)
    }

    /// Runs `job` alone, as any job that shares no transaction: its lease renewed as it starts.
    fn alone(&self, conn: &mut DbConnection, job: &Job, round: &mut Round) -> ServiceResult<()> {
        round.ran += 1;
        if self.execute(conn, job.clone())? == Ran::Failed {
            round.failed += 1;
        }
        Ok(())
    }

    /// Runs jobs that run once from the start of `jobs` in one transaction, each armed with its
    /// own actor for the audit trail, for as long as [`TOGETHER`] allows, and marks them done in
    /// it: their effects and their completion commit together or not at all, and a batch of
    /// quick jobs costs one commit instead of one each. When a job fails, or one is no longer
    /// this worker's, the whole transaction rolls back (nothing of it happened) and the caller
    /// runs the jobs again so that the failure is the failing job's alone.
    fn together(&self, conn: &mut DbConnection, jobs: &[Job]) -> ServiceResult<Together> {
        let now = self.clock.now();
        let began = Instant::now();
        let mut at = 0;
        let ran = db::write(conn, |conn| -> Result<usize, Stopped> {
            for job in jobs {
                let enough = began.elapsed() >= TOGETHER || self.stopping.load(Ordering::SeqCst);
                // A job whose lease is running out runs alone, taking its lease anew.
                if at > 0 && (enough || !self.fresh(job)) {
                    break;
                }
                audit::armed(self.actor(job, now), || -> ServiceResult<()> {
                    self.tasks.run(conn, now, job)?;
                    Ok(audit::write_if_armed(conn)?)
                })?;
                at += 1;
            }
            let ids: Vec<&str> = jobs[..at].iter().map(|j| j.id.as_str()).collect();
            if store::finish_all(conn, &ids, &self.id, now.naive_utc())? != at {
                return Err(Stopped::Lost);
            }
            Ok(at)
        });
        match ran {
            Ok(n) => Ok(Together::Done(n)),
            Err(Stopped::Failed(_)) => Ok(Together::FailedAt(at)),
            Err(Stopped::Lost) => Ok(Together::Lost),
        }
    }

    /// Runs rounds until no job is due; returns how many jobs ran. (Tests drain the queue with
    /// it after moving the clock.)
    pub fn run_due(&self, conn: &mut DbConnection) -> ServiceResult<usize> {
        let mut ran = 0;
        loop {
            let round = self.round(conn)?;
            ran += round.ran;
            if round.ran == 0 || self.stopping.load(Ordering::SeqCst) {
                return Ok(ran);
            }
        }
    }

    /// Runs one job. A job that runs once does so in a transaction that begins by taking the
    /// job (its lease renewed, only if it is still this worker's) and ends by marking it done,
    /// so its effects and its completion commit together or not at all. A periodic job sweeps
    /// in transactions of its own (one per order it looks at), between taking it and queueing
    /// its next run. A failure is recorded in a transaction of its own: tried again after a
    /// wait, or parked.
    fn execute(&self, conn: &mut DbConnection, job: Job) -> ServiceResult<Ran> {
        let now = self.clock.now();
        let actor = self.actor(&job, now);
        let period = self.tasks.period(&job.kind);
        let attempted = match period {
            None => audit::armed(actor, || {
                db::write(conn, |conn| -> Result<(), Stopped> {
                    self.take(conn, now, &job)?;
                    self.tasks.run(conn, now, &job)?;
                    if !store::finish(conn, &job.id, &self.id, now.naive_utc())? {
                        return Err(Stopped::Lost);
                    }
                    Ok(())
                })
            }),
            Some(period) => db::write(conn, |conn| self.take(conn, now, &job))
                .and_then(|()| Ok(audit::armed(actor, || self.tasks.run(conn, now, &job))?))
                .and_then(|()| {
                    let next_run = (now + period).naive_utc();
                    db::write(conn, |conn| {
                        store::reschedule(conn, &job.id, &self.id, next_run, now.naive_utc())
                    })?
                    .then_some(())
                    .ok_or(Stopped::Lost)
                }),
        };
        match attempted {
            Ok(()) => Ok(Ran::Done),
            Err(Stopped::Lost) => {
                tracing::info!(job_id = %job.id, kind = %job.kind, "job no longer this worker's: left alone");
                Ok(Ran::Lost)
            }
            Err(Stopped::Failed(error)) => {
                self.failed(conn, now, period, &job, error)?;
                Ok(Ran::Failed)
            }
        }
    }

    /// Whether more than half of the lease on `job` is left, so that it may run in a shared
    /// transaction without its lease renewed (a job that runs alone renews it as it starts).
    fn fresh(&self, job: &Job) -> bool {
        let now = self.clock.now().naive_utc();
        job.leased_until
            .is_some_and(|until| until - now > self.settings.lease / 2)
    }

    /// Who the audit trail records as doing `job`: the service itself, for the job's
    /// organisation, as it would record a person.
    fn actor(&self, job: &Job, now: DateTime<Utc>) -> Option<audit::Actor> {
        job.organisation_id
            .as_deref()
            .map(|organisation| audit::Actor {
                principal: Principal::system(organisation),
                action: format!("job {}", job.kind),
                resource_id: Some(job.id.clone()),
                request_id: None,
                at: now.naive_utc(),
            })
    }

    /// Takes `job` at the start of its attempt: still this worker's, its lease renewed.
    fn take(&self, conn: &mut DbConnection, now: DateTime<Utc>, job: &Job) -> Result<(), Stopped> {
        let lease_until = (now + self.settings.lease).naive_utc();
        if store::take(conn, &job.id, &self.id, now.naive_utc(), lease_until)? {
            Ok(())
        } else {
            Err(Stopped::Lost)
        }
    }

    /// Records a failed attempt: tried again after a wait, or parked (`domain::job`).
    fn failed(
        &self,
        conn: &mut DbConnection,
        now: DateTime<Utc>,
        period: Option<chrono::Duration>,
        job: &Job,
        error: ServiceError,
    ) -> ServiceResult<()> {
        let attempt = u32::try_from(job.attempts).unwrap_or(u32::MAX);
        let max = u32::try_from(job.max_attempts).unwrap_or(1);
        let mendable = error.another_attempt_may_mend();
        let retry_at = match after_failure(period, attempt, max, mendable, rand::random::<f64>()) {
            AfterFailure::RetryAfter(wait) => Some(now + wait),
            AfterFailure::Park => None,
        };
        let reason = error.to_string();
        tracing::warn!(
            job_id = %job.id,
            kind = %job.kind,
            attempt,
            parked = retry_at.is_none(),
            error = %reason,
            "job failed"
        );
        let recorded = reason.chars().take(500).collect::<String>();
        db::write(conn, |conn| {
            store::fail(
                conn,
                &job.id,
                &self.id,
                &recorded,
                retry_at.map(|t| t.naive_utc()),
                now.naive_utc(),
            )
        })?;
        Ok(())
    }

    /// The worker's deliverer of webhooks, under the worker's name and lease.
    pub fn deliverer(
        &self,
        pool: Pool,
        keys: Arc<crate::vault::NotesKeys>,
    ) -> anyhow::Result<crate::delivery::Deliverer> {
        crate::delivery::Deliverer::new(
            &self.id,
            self.clock.clone(),
            pool,
            self.settings.webhooks.clone(),
            keys,
            self.settings.lease,
        )
    }

    /// Asks the worker to stop: it claims nothing more, and gives back what it has not started.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Runs rounds on `pool` until stopped: a busy worker goes on at once, an idle one waits for
    /// the poll interval (or the stop).
    pub async fn run(self, pool: Pool, stopped: tokio::sync::watch::Receiver<bool>) {
        let mut stopped = stopped;
        // The periodic jobs queued before anything else (the database may still be starting).
        loop {
            let worker = self.clone();
            match db::run(&pool, move |conn| worker.prepare(conn)).await {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(error = %error, "the worker could not queue its periodic jobs; trying again");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.poll) => {}
                changed = stopped.changed() => {
                    if changed.is_err() || *stopped.borrow() {
                        tracing::info!(worker = %self.id, "worker stopped");
                        return;
                    }
                }
            }
        }
        tracing::info!(worker = %self.id, "worker started");
        loop {
            if *stopped.borrow() {
                self.stop();
            }
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let worker = self.clone();
            let round = db::run(&pool, move |conn| worker.round(conn));
            tokio::pin!(round);
            // Asked to stop mid-round: the round finishes its job and gives back the rest.
            let round = loop {
                tokio::select! {
                    round = &mut round => break round,
                    changed = stopped.changed() => {
                        if changed.is_err() || *stopped.borrow() {
                            self.stop();
                            break round.await;
                        }
                    }
                }
            };
            let busy = match round {
                Ok(round) => round.ran > 0,
                Err(error) => {
                    tracing::warn!(error = %error, "a worker round failed; trying again");
                    false
                }
            };
            if !busy && !self.stopping.load(Ordering::SeqCst) {
                tokio::select! {
                    _ = tokio::time::sleep(self.settings.poll) => {}
                    changed = stopped.changed() => {
                        if changed.is_err() {
                            self.stop();
                        }
                    }
                }
            }
        }
        tracing::info!(worker = %self.id, "worker stopped");
    }
}

/// A worker running in the background, with its deliverer, and how to stop them.
#[derive(Debug)]
pub struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Starts `worker` on `pool` in the background (on the current runtime), and its deliverer
    /// of webhooks, which opens their secrets with `keys`.
    pub fn start(
        worker: Worker,
        pool: Pool,
        keys: Arc<crate::vault::NotesKeys>,
    ) -> anyhow::Result<Running> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let deliverer = worker.deliverer(pool.clone(), keys)?;
        let poll = worker.settings.poll;
        let tasks = vec![
            actix_web::rt::spawn(worker.run(pool, stopped.clone())),
            actix_web::rt::spawn(deliverer.run(poll, stopped)),
        ];
        Ok(Running { stop, tasks })
    }

    /// Stops the worker: the job it runs finishes, the ones it claimed and did not start go back;
    /// deliveries under way finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
