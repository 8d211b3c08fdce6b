// Peer half of the job-queue benchmark: graphile-worker against PostgreSQL.
//
//   node bench/queue_peer/graphile.mjs --db postgres://postgres@127.0.0.1:5432/bench_queue \
//     --jobs 100000 --task noop|insert --processes 1|2 --batching on|off [--concurrency 10]
//
// The parent resets the schema, enqueues every job up front, then forks P copies
// of itself in worker mode (`--worker`), each running graphile-worker's `run()`.
// The clock runs from the fork until the jobs table is empty. One JSON line goes
// to stdout; anything else (warnings, errors) goes to stderr.
import { execFileSync, fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Logger, makeWorkerUtils, run, runMigrations } from "graphile-worker";

const { values: opt } = parseArgs({
  options: {
    db: { type: "string", default: "postgres://postgres@127.0.0.1:5432/bench_queue" },
    jobs: { type: "string", default: "100000" },
    task: { type: "string", default: "noop" },
    processes: { type: "string", default: "1" },
    batching: { type: "string", default: "off" },
    concurrency: { type: "string", default: "10" },
    timeout: { type: "string", default: "1800" }, // seconds
    worker: { type: "boolean", default: false }, // internal: child mode
  },
});
const N = Number(opt.jobs);
const P = Number(opt.processes);
const CONCURRENCY = Number(opt.concurrency);
const BATCHING = opt.batching === "on";
// One connection is held for LISTEN, so give the pool a little headroom over
// the concurrency (the default pool size is 10, i.e. just short at 10 workers).
const MAX_POOL_SIZE = CONCURRENCY + 2;
if (!["noop", "insert"].includes(opt.task)) throw new Error("--task must be noop or insert");
if (!["on", "off"].includes(opt.batching)) throw new Error("--batching must be on or off");

// Warnings and errors only, to stderr.
const logger = new Logger(() => (level, message) => {
  if (level === "error" || level === "warning") console.error(`[graphile ${level}] ${message}`);
});

if (opt.worker) await workerMain();
else await parentMain();

// ---------------------------------------------------------------- worker mode
async function workerMain() {
  const stats = { executed: 0, retried: 0, errors: 0, failed: 0 };
  const seen = (job) => {
    stats.executed++;
    if (job.attempts > 1) stats.retried++; // attempts is 1 on the first run
  };
  const taskList = {
    noop: async (_payload, helpers) => seen(helpers.job),
    insert: async (payload, helpers) => {
      seen(helpers.job);
      await helpers.withPgClient((client) =>
        client.query({
          name: "bench_insert", // prepared once per connection
          text: "INSERT INTO bench_inserted(key) VALUES ($1) ON CONFLICT DO NOTHING",
          values: [payload.key],
        }),
      );
    },
  };

  // Batching options for graphile-worker 0.17.3. They are only read from the
  // preset (`preset.worker.*`), not from the top-level RunnerOptions; see
  // node_modules/graphile-worker/dist/index.d.ts, `GraphileConfig.WorkerOptions`:
  //   localQueue?: { size: number; ttl?: number; refetchDelay?: {...} }  (default size -1 = off)
  //   completeJobBatchDelay?: number                                     (default -1 = off)
  //   failJobBatchDelay?: number                                         (default -1 = off)
  // and dist/main.js `_runTaskList`, which destructures exactly these names.
  const batching = BATCHING
    ? { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 }
    : {};

  const runner = await run({
    connectionString: opt.db,
    concurrency: CONCURRENCY,
    maxPoolSize: MAX_POOL_SIZE,
    pollInterval: 1000, // jobs are already queued and LISTEN/NOTIFY is on; rarely used
    noHandleSignals: true,
    logger,
    taskList,
    parsedCronItems: [], // no crontab file lookup, no cron
    preset: { worker: batching },
  });
  runner.events.on("job:error", () => stats.errors++);
  runner.events.on("job:failed", () => stats.failed++);

  process.on("message", async (msg) => {
    if (msg !== "stop") return;
    await runner.stop();
    process.send({ stats }, () => process.disconnect());
  });
  process.send({ ready: true });
}

// ---------------------------------------------------------------- parent mode
async function parentMain() {
  const utils = await makeWorkerUtils({ connectionString: opt.db, logger });
  const q = (text, values) => utils.withPgClient((client) => client.query(text, values));

  // Fresh schema and target table.
  await q("DROP SCHEMA IF EXISTS graphile_worker CASCADE");
  await runMigrations({ connectionString: opt.db, logger });
  await q("CREATE TABLE IF NOT EXISTS bench_inserted (key text PRIMARY KEY)");
  await q("TRUNCATE bench_inserted");

  // Enqueue all jobs before timing, 10k per add_jobs() call.
  const CHUNK = 10000;
  for (let lo = 1; lo <= N; lo += CHUNK) {
    const hi = Math.min(N, lo + CHUNK - 1);
    await q(
      `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
         SELECT ROW($1::text, json_build_object('key', 'k' || i), NULL, NULL, NULL, NULL, NULL, NULL)
                  ::graphile_worker.job_spec
         FROM generate_series($2::int, $3::int) AS i))`,
      [opt.task, lo, hi],
    );
  }
  const queued = await countJobs(q);
  if (queued !== N) throw new Error(`queued ${queued} jobs, expected ${N}`);
  // autovacuum is off on this server: give the planner statistics on the fresh
  // 100k-row table, and checkpoint so no checkpoint is due during the run.
  await q("VACUUM ANALYZE graphile_worker._private_jobs");
  await q("VACUUM ANALYZE bench_inserted");
  await q("CHECKPOINT");

  // ---- timed section
  const pgBefore = postgresCpuTicks();
  const t0 = performance.now();
  const self = fileURLToPath(import.meta.url);
  const childArgs = [
    "--worker", "--db", opt.db, "--task", opt.task,
    "--batching", opt.batching, "--concurrency", String(CONCURRENCY),
  ];
  const children = [];
  let stopping = false;
  for (let i = 0; i < P; i++) {
    const child = fork(self, childArgs, { stdio: ["ignore", 2, 2, "ipc"] });
    child.statsP = new Promise((resolve) => child.on("message", (m) => m.stats && resolve(m.stats)));
    child.readyP = new Promise((resolve) => child.on("message", (m) => m.ready && resolve()));
    child.exitP = new Promise((resolve) => child.on("exit", resolve));
    child.on("exit", (code) => {
      if (!stopping) {
        console.error(`worker ${child.pid} exited early (code ${code})`);
        process.exit(1);
      }
    });
    children.push(child);
  }
  let startupSeconds = null; // until every child has called run() and is looking for jobs
  Promise.all(children.map((c) => c.readyP)).then(() => (startupSeconds = (performance.now() - t0) / 1000));

  const deadline = Date.now() + Number(opt.timeout) * 1000;
  while ((await countJobs(q)) > 0) {
    if (Date.now() > deadline) throw new Error("timed out waiting for the queue to drain");
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - t0) / 1000;
  const pgAfter = postgresCpuTicks();
  const workerTicks = children.map((c) => procStat(c.pid)).reduce((sum, s) => sum + s.utime + s.stime, 0);
  // ---- end of timed section

  stopping = true;
  for (const c of children) c.send("stop");
  const stats = await Promise.all(children.map((c) => c.statsP));
  await Promise.all(children.map((c) => c.exitP));

  // Checks.
  const sum = (k) => stats.reduce((s, x) => s + x[k], 0);
  const checked = {
    jobs_left: await countJobs(q),
    executions: sum("executed"),
    executions_with_attempts_gt_1: sum("retried"),
    job_errors: sum("errors"),
    jobs_permanently_failed: sum("failed"),
  };
  if (opt.task === "insert") {
    checked.inserted_rows = Number((await q("SELECT count(*) AS n FROM bench_inserted")).rows[0].n);
  }
  checked.ok =
    checked.jobs_left === 0 &&
    checked.executions === N &&
    checked.executions_with_attempts_gt_1 === 0 &&
    checked.job_errors === 0 &&
    checked.jobs_permanently_failed === 0 &&
    (opt.task !== "insert" || checked.inserted_rows === N);
  await utils.release();

  const TICK_US = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" })); // 100 Hz here
  const pkg = JSON.parse(readFileSync(new URL("./node_modules/graphile-worker/package.json", import.meta.url)));
  console.log(
    JSON.stringify({
      peer: "graphile-worker",
      version: pkg.version,
      task: opt.task,
      processes: P,
      batching: opt.batching,
      concurrency: CONCURRENCY,
      max_pool_size: MAX_POOL_SIZE,
      jobs: N,
      seconds: round(seconds, 3),
      startup_seconds: startupSeconds === null ? null : round(startupSeconds, 3),
      jobs_per_second: round(N / seconds, 1),
      worker_cpu_us_per_job: round((workerTicks * TICK_US) / N, 1),
      postgres_cpu_us_per_job: round(((pgAfter - pgBefore) * TICK_US) / N, 1),
      checked,
    }),
  );
  process.exit(checked.ok ? 0 : 2);
}

async function countJobs(q) {
  const { rows } = await q("SELECT count(*) AS n FROM graphile_worker._private_jobs");
  return Number(rows[0].n);
}

// utime, stime, cutime, cstime of a process, in clock ticks (fields 14-17 of
// /proc/<pid>/stat; parsed after the ")" closing the command name).
function procStat(pid) {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" "); // f[0] is field 3
  return { ppid: +f[1], utime: +f[11], stime: +f[12], cutime: +f[13], cstime: +f[14] };
}

// CPU of all live postgres processes, plus what the postmaster has reaped
// from backends that already exited.
function postgresCpuTicks() {
  const pids = execFileSync("pgrep", ["-x", "postgres"], { encoding: "utf8" }).trim().split("\n").map(Number);
  let total = 0;
  for (const pid of pids) {
    let s;
    try {
      s = procStat(pid);
    } catch {
      continue; // exited between pgrep and the read
    }
    total += s.utime + s.stime;
    if (!pids.includes(s.ppid)) total += s.cutime + s.cstime; // the postmaster
  }
  return total;
}

function round(x, digits) {
  return Number(x.toFixed(digits));
}
