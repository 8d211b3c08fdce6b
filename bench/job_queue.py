#!/usr/bin/env python3
"""The job queue beside its peer, graphile-worker, on the same PostgreSQL in the same run.

Usage: bench/job_queue.py            (run from the repository's root)
Needs: cargo, node and npm (graphile-worker is installed from the npm registry into
bench/queue_peer/node_modules on the first run), the local PostgreSQL (postgres@127.0.0.1:5432).
Settings (environment): JOBS (default 100000), ROUNDS (default 1: runs of each case), BATCH
(default 500: the jobs our worker claims at a time, `TRAJECTUM_WORKER_BATCH`, as many as
graphile-worker's local queue holds with its batching on).

For each case, 100,000 jobs are queued before the clock starts, then 1 or 2 worker processes
run them until none is left:
  - graphile-worker (bench/queue_peer/graphile.mjs), 10 jobs at once per process, with its
    batching off (the defaults) and on (a local queue of 500, completions and failures batched);
  - ours (benches/queue.rs: `trajectum::worker::Worker`, as `trajectum worker` runs it).
Jobs do nothing (noop) or one INSERT with a unique key (insert). Each prints the rate, the CPU
per job of the workers and of PostgreSQL (from /proc), and its checks that every job ran once.
"""

import json
import os
import subprocess
import sys

JOBS = int(os.environ.get("JOBS", "100000"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))
BATCH = os.environ.get("BATCH", "500")
DB = "postgres://postgres@127.0.0.1:5432/bench_queue"
PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "queue_peer")


def run(command):
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "bench_queue"],
                   capture_output=True)
    if not os.path.isdir(os.path.join(PEER, "node_modules")):
        subprocess.run(["npm", "ci", "--silent"], cwd=PEER, check=True)
    ours = subprocess.run(["cargo", "build", "--release", "--bench", "queue",
                           "--message-format=json"], check=True, capture_output=True, text=True).stdout
    binary = [json.loads(line)["executable"] for line in ours.splitlines()
              if '"executable":"' in line and "queue" in line][-1]
    cases = []
    for task in ("noop", "insert"):
        for processes in (1, 2):
            for _ in range(ROUNDS):
                for batching in ("off", "on"):
                    cases.append(run(["node", os.path.join(PEER, "graphile.mjs"), "--db", DB,
                                      "--jobs", str(JOBS), "--task", task,
                                      "--processes", str(processes), "--batching", batching]))
                cases.append(run([binary, "--db", DB, "--jobs", str(JOBS), "--task", task,
                                  "--processes", str(processes), "--batch", BATCH]))
    print("| task | processes | queue | jobs/s | worker CPU µs/job | PostgreSQL CPU µs/job | checks |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ok = True
    for c in cases:
        name = (f"graphile-worker {c['version']}, batching {c['batching']}" if c["peer"] != "trajectum"
                else f"trajectum, batch {c['batch']}")
        checked = c["checked"].get("ok", c["checked"].get("exactly_once"))
        ok = ok and bool(checked)
        print(f"| {c['task']} | {c['processes']} | {name} | {c['jobs_per_second']:,.0f} | "
              f"{c['worker_cpu_us_per_job']:.1f} | {c['postgres_cpu_us_per_job']:.1f} | "
              f"{'each job once' if checked else 'FAILED'} |")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
