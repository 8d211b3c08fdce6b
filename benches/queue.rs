//! The job queue against its peer (issue 21): `bench/job_queue.py` runs this beside graphile-worker.
//!
//! `cargo bench --bench queue -- --db postgres://…/bench_queue --jobs 100000 --task noop
//! --processes 2` queues the jobs in one statement, then starts that many worker processes (this
//! binary again, `--child`), each a `trajectum::worker::Worker` running the queue exactly as the
//! service's worker does (claims with a lease; jobs that lock nothing share a transaction for up
//! to 20 ms, which runs them and marks them done), with jobs that do nothing (`noop`) or one
//! insert with a unique key (`insert`), neither of which locks anything of its own.
//! It times from the start of the processes until the last has found no job left, and prints one
//! JSON line: the rate, the CPU per job of the workers and of PostgreSQL, and the checks that
//! every job ran exactly once.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::sql_types::Text;
use diesel::RunQueryDsl;
use trajectum::clock::SystemClock;
use trajectum::config::DatabaseUrl;
use trajectum::db::jobs::Job;
use trajectum::db::{self, DbConnection};
use trajectum::service::error::{ServiceError, ServiceResult};
use trajectum::worker::{Tasks, Worker, WorkerSettings};

/// The benchmark's jobs: nothing, or one insert with a unique key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Noop,
    Insert,
}

impl Task {
    fn kind(self) -> &'static str {
        match self {
            Task::Noop => "bench.noop",
            Task::Insert => "bench.insert",
        }
    }
}

impl Tasks for Task {
    fn kinds(&self) -> Vec<&'static str> {
        vec![self.kind()]
    }

    fn period(&self, _kind: &str) -> Option<chrono::Duration> {
        None
    }

    fn shares(&self, _kind: &str) -> bool {
        true
    }

    fn run(&self, conn: &mut DbConnection, _now: DateTime<Utc>, job: &Job) -> ServiceResult<()> {
        if *self == Task::Insert {
            let DbConnection::Postgres(c) = conn else {
                return Err(ServiceError::Internal(anyhow::anyhow!("PostgreSQL only")));
            };
            diesel::sql_query(
                "INSERT INTO bench_inserted (key) VALUES ($1) ON CONFLICT DO NOTHING",
            )
            .bind::<Text, _>(&job.dedupe_key)
            .execute(c)?;
        }
        Ok(())
    }
}

struct Args {
    db: String,
    jobs: u64,
    task: Task,
    processes: u32,
    batch: u32,
    child: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        db: "postgres://postgres@127.0.0.1:5432/bench_queue".into(),
        jobs: 100_000,
        task: Task::Noop,
        processes: 1,
        batch: 50,
        child: false,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        let mut value = || {
            given
                .next()
                .ok_or_else(|| anyhow::anyhow!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--db" => args.db = value()?,
            "--jobs" => args.jobs = value()?.parse()?,
            "--task" => {
                args.task = match value()?.as_str() {
                    "noop" => Task::Noop,
                    "insert" => Task::Insert,
                    other => anyhow::bail!("--task noop|insert, not {other}"),
                }
            }
            "--processes" => args.processes = value()?.parse()?,
            "--batch" => args.batch = value()?.parse()?,
            "--child" => args.child = true,
            // What `cargo bench` adds.
            "--bench" => {}
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn connect(url: &str, size: u32) -> anyhow::Result<db::Pool> {
    db::pool(DatabaseUrl::parse(url)?, size, Duration::from_secs(30))
}

/// The clock ticks (1/100 s) of user and system time of process `pid` (`self` for this one), and
/// of its children that have exited and been waited for.
fn ticks(pid: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0))
                .collect()
        })
        .unwrap_or_default();
    let at = |i: usize| fields.get(i).copied().unwrap_or(0);
    (at(11) + at(12), at(13) + at(14))
}

/// PostgreSQL's CPU so far: its processes', and that of the backends that exited.
fn postgres_ticks() -> u64 {
    let listed = Command::new("pgrep").args(["-x", "postgres"]).output();
    let pids = listed
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let oldest = Command::new("pgrep")
        .args(["-o", "-x", "postgres"])
        .output();
    let postmaster = oldest.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let exited = postmaster.map(|p| ticks(&p).1).unwrap_or(0);
    exited + pids.split_whitespace().map(|pid| ticks(pid).0).sum::<u64>()
}

/// A worker process: runs rounds until no job is left to claim; prints how many it ran.
fn child(args: &Args) -> anyhow::Result<()> {
    let pool = connect(&args.db, 1)?;
    let settings = WorkerSettings {
        poll: Duration::from_millis(10),
        batch: args.batch,
        lease: chrono::Duration::seconds(300),
        follow_up_horizon_days: 0,
        alliance_rating_days: 0,
        erase_after_months: 0,
        login_window: chrono::Duration::seconds(0),
        webhooks: trajectum::delivery::WebhookSettings::from_settings(&Default::default()),
    };
    let worker = Worker::with_tasks(Arc::new(SystemClock), settings, Arc::new(args.task));
    let ran = worker.run_due(&mut *pool.get()?)?;
    println!("{ran}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    if args.child {
        return child(&args);
    }
    let pool = connect(&args.db, 1)?;
    let conn = &mut *pool.get()?;
    db::migrate(conn)?;
    let kind = args.task.kind();
    for statement in [
        "CREATE TABLE IF NOT EXISTS bench_inserted (key TEXT PRIMARY KEY)".to_string(),
        "TRUNCATE bench_inserted".into(),
        "DELETE FROM jobs WHERE kind LIKE 'bench.%'".into(),
        format!(
            "INSERT INTO jobs (id, kind, dedupe_key, payload, status, run_at, attempts, \
             max_attempts, created_at, updated_at) \
             SELECT 'bench-' || lpad(n::text, 9, '0'), '{kind}', 'k' || n, '{{}}', 'queued', \
             now() AT TIME ZONE 'UTC' - interval '1 minute', 0, 10, now(), now() \
             FROM generate_series(1, {}) AS n",
            args.jobs
        ),
        // As the peer's script does before its clock starts (this PostgreSQL runs without
        // autovacuum).
        "VACUUM ANALYZE jobs".into(),
        "VACUUM ANALYZE bench_inserted".into(),
        "CHECKPOINT".into(),
    ] {
        diesel::sql_query(statement).execute(conn)?;
    }
    let me = std::env::current_exe()?;
    let postgres_before = postgres_ticks();
    let started = Instant::now();
    let workers = (0..args.processes)
        .map(|_| {
            Command::new(&me)
                .args(["--child", "--db", &args.db, "--task"])
                .arg(if args.task == Task::Noop {
                    "noop"
                } else {
                    "insert"
                })
                .args(["--batch", &args.batch.to_string()])
                .stdout(Stdio::piped())
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut ran = vec![];
    for worker in workers {
        let out = worker.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "a worker failed");
        ran.push(String::from_utf8_lossy(&out.stdout).trim().parse::<u64>()?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let worker_ticks = ticks("self").1;
    std::thread::sleep(Duration::from_millis(500));
    let postgres = postgres_ticks() - postgres_before;
    #[derive(diesel::QueryableByName)]
    struct Checked {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        done: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        not_done: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        run_twice: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        inserted: i64,
    }
    let checked: Checked = diesel::sql_query(format!(
        "SELECT count(*) FILTER (WHERE status = 'done') AS done, \
         count(*) FILTER (WHERE status <> 'done') AS not_done, \
         count(*) FILTER (WHERE attempts <> 1) AS run_twice, \
         (SELECT count(*) FROM bench_inserted) AS inserted \
         FROM jobs WHERE kind = '{kind}'"
    ))
    .get_result(conn)?;
    let per_job = |ticks: u64| ticks as f64 * 10_000.0 / args.jobs as f64;
    let exactly_once = checked.done == args.jobs as i64
        && checked.not_done == 0
        && checked.run_twice == 0
        && ran.iter().sum::<u64>() == args.jobs
        && (args.task == Task::Noop || checked.inserted == args.jobs as i64);
    println!(
        "{}",
        serde_json::json!({
            "peer": "trajectum",
            "task": if args.task == Task::Noop { "noop" } else { "insert" },
            "processes": args.processes,
            "batch": args.batch,
            "jobs": args.jobs,
            "seconds": seconds,
            "jobs_per_second": args.jobs as f64 / seconds,
            "worker_cpu_us_per_job": per_job(worker_ticks),
            "postgres_cpu_us_per_job": per_job(postgres),
            "checked": {
                "done": checked.done, "not_done": checked.not_done,
                "attempted_more_than_once": checked.run_twice, "inserted": checked.inserted,
                "ran_per_process": ran, "exactly_once": exactly_once,
            },
        })
    );
    anyhow::ensure!(exactly_once, "not every job ran exactly once");
    Ok(())
}
