#!/usr/bin/env python3
"""Follow-ups booked by the job worker, and bookings under concurrent clients, on PostgreSQL.

Usage: bench/follow_ups.py [path/to/trajectum]   (default target/release/trajectum)
Needs: wrk, pgbench, psql, createdb/dropdb, the local PostgreSQL (postgres@127.0.0.1:5432).
Settings (environment): FOLLOW_UPS (default 100000), COACHES (default 2000), WORKERS (worker
processes, default 2), BATCH (jobs a worker claims at a time, default 50), DURATION (seconds of
each ceiling measurement, default 10), CLIENTS (concurrent booking clients, default 32),
BOOKINGS (bookings per client, default 10).

1. The worker. A fresh database with the demo data; the demo's own completed trajectory is the
   template for FOLLOW_UPS more, cloned in SQL across COACHES coaches (each with the demo's
   working hours), every follow-up due in 15 days with its booking job due now (as completing
   would leave them). WORKERS `trajectum worker` processes are started at once and timed until
   every job is done; then the database is checked: each follow-up booked once (one session
   each, no order with two), every job done, how many attempts. Where the server's autovacuum
   is off (this machine's CI setting), the run analyzes the growing tables every 20 s, as
   autovacuum would. Beside it, in the same run: the
   machine's ceilings, `pgbench -S -M simple` and the service's own `GET /health/live` and
   `GET /api/v1/orders/{id}`, so the rate reads as a ratio on this shared machine. The CPU each
   job cost the workers and PostgreSQL comes from /proc.
2. Bookings under CLIENTS concurrent clients, with the worker off: each client books BOOKINGS
   single sessions (on orders and coaches of its own, at different times), then all clients
   join group sessions at once (each group has fewer places than joiners). Latency p50/p99 and
   the count of each status; any 503 is reported.
"""

import concurrent.futures
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import read  # noqa: E402  (the helpers: call, token, wrk, pgbench, CPU accounting)

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/trajectum")
FOLLOW_UPS = int(os.environ.get("FOLLOW_UPS", "100000"))
COACHES = int(os.environ.get("COACHES", "2000"))
WORKERS = int(os.environ.get("WORKERS", "2"))
BATCH = int(os.environ.get("BATCH", "50"))
CLIENTS = int(os.environ.get("CLIENTS", "32"))
BOOKINGS = int(os.environ.get("BOOKINGS", "10"))
PORT = int(os.environ.get("PORT", "18082"))
read.BASE = f"http://127.0.0.1:{PORT}"
read.PORT = PORT
DB = "bench_follow_ups"
URL = f"{read.PG}/{DB}"


def psql(sql, *params):
    """Runs `sql` on the bench database; the rows, as lists of strings."""
    out = subprocess.run(["psql", "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1", URL, *params],
                         input=sql, text=True, check=True, capture_output=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def env(worker):
    return {**os.environ, "DATABASE_URL": URL, "TRAJECTUM_PORT": str(PORT),
            "TRAJECTUM_JWT_SECRET": read.SECRET, "TRAJECTUM_NOTES_KEY": read.NOTES_KEY,
            "TRAJECTUM_LOG_FORMAT": "json", "TRAJECTUM_LOG_FILTER": "warn",
            "TRAJECTUM_ACCESS_TOKEN_TTL_SECONDS": "3600", "TRAJECTUM_WORKER": worker,
            "TRAJECTUM_WORKER_BATCH": str(BATCH), "TRAJECTUM_WORKER_POLL_MILLISECONDS": "200"}


def serve(worker="false"):
    server = subprocess.Popen([BIN, "demo", "--force"], env=env(worker),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(400):
        try:
            read.call("GET", "/health/ready")
            return server
        except OSError:
            time.sleep(0.05)
    sys.exit("the service did not start")


def stop(process):
    process.terminate()
    process.wait(timeout=60)


def clone(count, coaches):
    """FOLLOW_UPS follow-ups like the demo's first, on as many orders, across `coaches` coaches
    with the demo coach's hours and login; each booking job due now."""
    template = psql("SELECT o.id, f.id, o.coach_id FROM orders o JOIN follow_ups f ON f.order_id = o.id "
                    "WHERE o.external_ref = 'DEMO-2026-0007' AND f.number = 1")[0]
    order, follow_up, coach = template
    ident = lambda prefix: f"'{prefix}-0000-7000-8000-' || lpad(g::text, 12, '0')"
    psql(f"""
BEGIN;
INSERT INTO users
SELECT (jsonb_populate_record(NULL::users, to_jsonb(u) || jsonb_build_object(
    'id', {ident('b0000001')}, 'email', 'coach' || g || '@bench.example', 'password_hash', '!'))).*
FROM users u, generate_series(1, {coaches}) g
WHERE u.id = (SELECT user_id FROM coaches WHERE id = '{coach}');
INSERT INTO coaches
SELECT (jsonb_populate_record(NULL::coaches, to_jsonb(c) || jsonb_build_object(
    'id', {ident('b0000002')}, 'user_id', {ident('b0000001')},
    'email', 'coach' || g || '@bench.example'))).*
FROM coaches c, generate_series(1, {coaches}) g WHERE c.id = '{coach}';
INSERT INTO coach_availability
SELECT (jsonb_populate_record(NULL::coach_availability, to_jsonb(a) || jsonb_build_object(
    'coach_id', {ident('b0000002')}))).*
FROM coach_availability a, generate_series(1, {coaches}) g WHERE a.coach_id = '{coach}';
INSERT INTO orders
SELECT (jsonb_populate_record(NULL::orders, to_jsonb(o) || jsonb_build_object(
    'id', {ident('b0000003')}, 'external_ref', NULL,
    'coach_id', 'b0000002-0000-7000-8000-' || lpad((1 + g % {coaches})::text, 12, '0')))).*
FROM orders o, generate_series(1, {count}) g WHERE o.id = '{order}';
INSERT INTO follow_ups
SELECT (jsonb_populate_record(NULL::follow_ups, to_jsonb(f) || jsonb_build_object(
    'id', {ident('b0000004')}, 'order_id', {ident('b0000003')}))).*
FROM follow_ups f, generate_series(1, {count}) g WHERE f.id = '{follow_up}';
INSERT INTO jobs
SELECT (jsonb_populate_record(NULL::jobs, to_jsonb(j) || jsonb_build_object(
    'id', {ident('b0000005')}, 'dedupe_key', {ident('b0000004')},
    'payload', jsonb_build_object('follow_up_id', {ident('b0000004')})::text,
    'run_at', now() AT TIME ZONE 'UTC' - interval '1 minute'))).*
FROM jobs j, generate_series(1, {count}) g WHERE j.dedupe_key = '{follow_up}';
COMMIT;
ANALYZE;
""")


AUTOVACUUM_OFF = False


def worker_run():
    """WORKERS worker processes over the queued jobs: seconds until every follow-up job is done,
    and the CPU per job (microseconds) of the workers and of PostgreSQL."""
    tick = os.sysconf("SC_CLK_TCK")
    due = "kind = 'follow_up.book' AND run_at <= now() AT TIME ZONE 'UTC'"
    total = int(psql(f"SELECT count(*) FROM jobs WHERE {due} AND status = 'queued'")[0][0])
    postgres = read.postgres_ticks()
    started = time.monotonic()
    workers = [subprocess.Popen([BIN, "worker"], env=env("true"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(WORKERS)]
    ticks = {w.pid: 0 for w in workers}
    analyzed = started
    while True:
        for w in workers:
            ticks[w.pid] = read.cpu_ticks(w.pid)
        left = int(psql(f"SELECT count(*) FROM jobs WHERE {due} AND status <> 'done'")[0][0])
        if left == 0:
            break
        if time.monotonic() - started > 3600:
            sys.exit(f"{left} jobs left after an hour")
        if AUTOVACUUM_OFF and time.monotonic() - analyzed > 20:
            # What autovacuum's analyze does as the tables grow: without it, plans made while
            # the new tables were nearly empty (a foreign key check's scan of `events`) stay.
            psql("ANALYZE events, event_log, sessions, follow_ups, jobs")
            analyzed = time.monotonic()
        time.sleep(0.5)
    seconds = time.monotonic() - started
    for w in workers:
        ticks[w.pid] = read.cpu_ticks(w.pid)
        stop(w)
    time.sleep(0.5)
    per_job = lambda t: t / tick * 1e6 / total
    return total, seconds, per_job(sum(ticks.values())), per_job(read.postgres_ticks() - postgres)


def check():
    """Each follow-up booked once: the counts that say so."""
    rows = psql("""
SELECT (SELECT count(*) FROM follow_ups WHERE status = 'scheduled'),
       (SELECT count(*) FROM follow_ups WHERE status = 'flagged'),
       (SELECT count(*) FROM follow_ups WHERE status = 'pending'),
       (SELECT count(*) FROM sessions WHERE kind = 'follow_up' AND status = 'planned'),
       (SELECT count(*) FROM (SELECT order_id FROM sessions WHERE kind = 'follow_up'
                              GROUP BY order_id HAVING count(*) > 1) twice),
       (SELECT count(*) FROM jobs WHERE kind = 'follow_up.book' AND status = 'done'),
       (SELECT count(*) FROM jobs WHERE status = 'parked'),
       (SELECT max(attempts) FROM jobs WHERE kind = 'follow_up.book'),
       (SELECT count(*) FROM jobs WHERE kind = 'follow_up.book' AND attempts > 1)
""")[0]
    names = ("scheduled", "flagged", "pending", "sessions", "orders_with_two", "jobs_done",
             "parked", "max_attempts", "retried")
    return dict(zip(names, map(int, rows)))


def timed(method, path, token, body):
    started = time.monotonic()
    try:
        read.call(method, path, token, body)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    return status, (time.monotonic() - started) * 1000


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def bookings():
    """CLIENTS clients at once: single bookings, then group joins."""
    planner = read.token({"grant_type": "password", "username": "planner@coachwise.example",
                          "password": "demo-planner-password"})
    # Running orders, one per client per booking plus the joiners, cloned from one in SQL.
    hr = read.token({"grant_type": "client_credentials"},
                    auth="acme-hr-system:demo-client-secret-acme-hr-system")
    body = {"coachee": {"name": "Bench Coachee", "email": "bench@acme.example"}, "kind": "reintegration"}
    template = read.call("POST", "/api/v1/orders", hr, body)["id"]
    psql(f"UPDATE orders SET status = 'active', coach_id = 'b0000002-0000-7000-8000-000000000001', "
         f"session_budget = 100 WHERE id = '{template}'")
    count = CLIENTS * BOOKINGS + CLIENTS * 2
    psql(f"""
INSERT INTO orders
SELECT (jsonb_populate_record(NULL::orders, to_jsonb(o) || jsonb_build_object(
    'id', 'b0000006-0000-7000-8000-' || lpad(g::text, 12, '0'),
    'coach_id', 'b0000002-0000-7000-8000-' || lpad((1 + (g - 1) % {CLIENTS})::text, 12, '0')))).*
FROM orders o, generate_series(1, {count}) g WHERE o.id = '{template}';
""")
    ident = lambda g: f"b0000006-0000-7000-8000-{g:012d}"
    monday = datetime.now(timezone.utc).date() + timedelta(days=30)
    while monday.weekday() != 0:
        monday += timedelta(days=1)

    def client(c):
        results = []
        for b in range(BOOKINGS):
            # Coach c's own orders; a working day and hour of its own (UTC 08:00-15:00 is inside
            # 09:00-17:00 in Amsterdam in winter and summer).
            order = ident(1 + c + CLIENTS * b)
            day = monday + timedelta(days=7 * (b // 5) + b % 5)
            at = datetime(day.year, day.month, day.day, 8 + (b % 2) * 5, 0, tzinfo=timezone.utc)
            results.append(timed("POST", f"/api/v1/orders/{order}/sessions", planner, {
                "starts_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration_minutes": 60,
                "kind": "regular", "format": "phone"}))
        return results

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        single = [r for rs in pool.map(client, range(CLIENTS)) for r in rs]
    # Groups: the remaining orders go to coach 1; 4 groups of capacity 3 with one participant
    # each, and CLIENTS more orders join them at once (8 places for CLIENTS joiners).
    extras = [ident(g) for g in range(CLIENTS * BOOKINGS + 1, count + 1)]
    psql("UPDATE orders SET coach_id = 'b0000002-0000-7000-8000-000000000001' WHERE id IN ("
         + ", ".join(f"'{e}'" for e in extras) + ")")
    groups = []
    for k in range(4):
        day = monday + timedelta(weeks=6, days=k)
        at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=timezone.utc)
        groups.append(read.call("POST", "/api/v1/session-groups", planner, {
            "starts_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "duration_minutes": 60, "format": "phone",
            "capacity": 3, "order_ids": [extras[k]]})["id"])
    joiners = extras[4:4 + CLIENTS]
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        joins = list(pool.map(lambda i: timed("POST", f"/api/v1/session-groups/{groups[i % 4]}/participants",
                                              planner, {"order_id": joiners[i]}), range(len(joiners))))
    taken = [read.call("GET", f"/api/v1/session-groups/{g}", planner)["taken"] for g in groups]
    return single, joins, taken


def summary(results):
    statuses = {}
    for status, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    ms = [t for _, t in results]
    return statuses, percentile(ms, 0.5), percentile(ms, 0.99)


def main():
    global AUTOVACUUM_OFF
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    server = serve()
    hr = read.token({"grant_type": "client_credentials"},
                    auth="acme-hr-system:demo-client-secret-acme-hr-system")
    order = read.call("GET", "/api/v1/orders?status=following_up", hr)["data"][0]["id"]
    AUTOVACUUM_OFF = psql("SHOW autovacuum")[0][0] == "off"
    if AUTOVACUUM_OFF:
        print("autovacuum is off here: the run analyzes the growing tables every 20 s instead")
    print(f"cloning {FOLLOW_UPS} follow-ups across {COACHES} coaches ...", flush=True)
    started = time.monotonic()
    clone(FOLLOW_UPS, COACHES)
    print(f"  seeded in {time.monotonic() - started:.1f} s", flush=True)
    tps, pg_cpu = read.pgbench_tps()
    live = read.wrk("/health/live", pid=server.pid)
    reading = read.wrk(f"/api/v1/orders/{order}", hr, server.pid)
    stop(server)

    total, seconds, worker_cpu, postgres_cpu = worker_run()
    counts = check()
    rate = total / seconds
    print(f"\nPostgreSQL, {WORKERS} worker processes, batch {BATCH}: {total} follow-ups booked or "
          f"flagged in {seconds:.1f} s: {rate:.0f} jobs/s")
    print(f"  CPU per job: workers {worker_cpu:.0f} us, PostgreSQL {postgres_cpu:.0f} us")
    print(f"  the same run: pgbench -S {tps:.0f} tps; /health/live {live[0]:.0f} rps; "
          f"GET /orders/{{id}} {reading[0]:.0f} rps (p99 {reading[1]:.1f} ms)")
    print(f"  jobs/s per pgbench -S tps: {rate / tps:.4f}; per order read: {rate / reading[0]:.4f}")
    print(f"  check: {json.dumps(counts)}")
    once = (counts["scheduled"] == counts["sessions"] and counts["orders_with_two"] == 0
            and counts["scheduled"] + counts["flagged"] == total
            and counts["jobs_done"] >= total and counts["parked"] == 0)
    print(f"  each follow-up booked once: {'yes' if once else 'NO'}")

    server = serve()
    try:
        single, joins, taken = bookings()
    finally:
        stop(server)
    for name, results in (("single bookings", single), ("group joins", joins)):
        statuses, p50, p99 = summary(results)
        print(f"\n{CLIENTS} clients, {name}: {len(results)} requests, statuses {statuses}, "
              f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, 503s: {statuses.get(503, 0)}")
    print(f"  groups of 3 places after the joins: taken {taken}")
    if not once:
        sys.exit(1)


if __name__ == "__main__":
    main()
