#!/usr/bin/env python3
"""Free slots and booking on a busy calendar, on both backends.

Usage: bench/slots.py [path/to/trajectum]   (default target/release/trajectum)
Needs: psql, createdb/dropdb and the local PostgreSQL (postgres@127.0.0.1:5432, trust auth).
Settings (environment): REQUESTS (timed requests per measurement, default 1000), PORT (18081).

For each backend it starts the binary on a fresh database with the demo data, makes one running
order of the demo coach Anna (budget opened up, so bookings are never refused for it), and fills
Anna's calendar with sessions written straight into the database: 40 inside a 4-week window
(weekdays 09:00 and 14:00 on her clock) and the rest, two hours apart, before and after it. Then,
with 1,000, then 10,000, then 100,000 sessions stored, it times one request at a time on one
kept-alive connection (after 30 warm-up requests):
  - `GET /health/live`, the ceiling of the same binary in the same run;
  - `GET /coaches/{id}/free-slots` for the 4-week window, 60 minutes, as Anna;
and with 10,000 stored, 40 bookings (`POST /orders/{id}/sessions`) into free slots of the window
(removed again afterwards, so every stage measures the same window).
Then the dense calendar against the idle one, on the same coach and window with no daily maximum
(24 sessions a day could not otherwise be on it), 15-minute slots: the window empty (idle), then
with a 15-minute session at every hour of its 4 weeks, day and night (672 sessions, as a coach's
calendar shared with other work can be).
It prints medians, the server's CPU time per request (clock ticks of 10 ms over the
measurement, so roughly), the ratio to `/health/live`, and the
targets: free slots under 2 ms median; 100,000 stored / 1,000 stored under 1.5; the dense
calendar under 1.5 times the idle one.
"""

import http.client
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(__file__))
from read import call, cpu_ticks, start_demo, token  # noqa: E402  (the same helpers)

import read  # noqa: E402

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/trajectum")
REQUESTS = int(os.environ.get("REQUESTS", "1000"))
PORT = int(os.environ.get("PORT", "18081"))
read.BASE = f"http://127.0.0.1:{PORT}"
PG = "postgres://postgres@127.0.0.1:5432"
AMSTERDAM_WINTER = timedelta(hours=1)


def window_start():
    """A Monday 00:00 (UTC+1) at least 30 days ahead, in winter time whatever today is."""
    day = datetime.now(timezone.utc).date() + timedelta(days=30)
    while day.weekday() != 0 or day.month in (3, 4, 5, 6, 7, 8, 9, 10):
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) - AMSTERDAM_WINTER


def session_row(order, coach, provider, i, at, minutes=60):
    end = at + timedelta(minutes=minutes)
    past = at < datetime.now(timezone.utc)
    stamp = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
    key = f"00000000-0000-7000-8000-{i:012d}"
    return (key, key, order, coach, provider, "regular", "phone",
            stamp(at), stamp(end), stamp(end + timedelta(minutes=15)), False,
            "held" if past else "planned", True, 1, "bench", "coach", stamp(at), stamp(at))


def dense(order, coach, provider, start):
    """A 15-minute session at every hour of the 4-week window, day and night: 672."""
    return [session_row(order, coach, provider, 1_000_000 + h, start + timedelta(hours=h), 15)
            for h in range(28 * 24)]


def sessions(order, coach, provider, start, total):
    """Rows for `total` sessions: 40 in the window, the rest two hours apart around it."""
    def row(i, at):
        return session_row(order, coach, provider, i, at)

    rows = []
    for week in range(4):
        for day in range(5):
            for hour in (9, 14):
                at = start + timedelta(weeks=week, days=day, hours=hour)
                rows.append(row(len(rows), at))
    outside = total - len(rows)
    for k in range(outside):
        # Alternately before and after the window, moving away from it.
        step = timedelta(hours=2 * (k // 2 + 1))
        at = start - step - timedelta(days=1) if k % 2 == 0 else start + timedelta(days=29) + step
        rows.append(row(len(rows), at))
    return rows


COLUMNS = ("id, calendar_key, order_id, coach_id, provider_id, kind, format, starts_at, ends_at, blocked_until, "
           "outside_hours, status, counts_against_budget, version, booked_by, booked_by_role, "
           "created_at, updated_at")


class Store:
    """Writes sessions straight into the backend's database."""

    def __init__(self, url):
        self.url = url

    def run(self, statements, rows=()):
        if self.url.startswith("sqlite://"):
            with sqlite3.connect(self.url[len("sqlite://"):], timeout=30) as db:
                for statement in statements:
                    db.execute(statement)
                if rows:
                    marks = ", ".join("?" * len(rows[0]))
                    db.executemany(f"INSERT INTO sessions ({COLUMNS}) VALUES ({marks})", rows)
            return
        text = "".join(s + ";\n" for s in statements)
        if rows:
            def literal(v):
                if isinstance(v, bool):
                    return "TRUE" if v else "FALSE"
                return str(v) if isinstance(v, int) else "'" + str(v) + "'"
            values = ",\n".join("(" + ", ".join(literal(v) for v in r) + ")" for r in rows)
            text += f"INSERT INTO sessions ({COLUMNS}) VALUES\n{values};\n"
        done = subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.url], input=text,
                              text=True, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"psql: {done.stderr[:500]}")


def timed(connection, path, headers, method="GET", bodies=None):
    """Median and all latencies (ms) of requests on one kept-alive connection."""
    latencies = []
    count = len(bodies) if bodies else REQUESTS + 30
    for i in range(count):
        body = json.dumps(bodies[i]).encode() if bodies else None
        began = time.perf_counter()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        took = (time.perf_counter() - began) * 1000
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
        if bodies or i >= 30:
            latencies.append(took)
    return statistics.median(latencies), latencies


def free_slots(server, path, auth):
    """`/health/live` and the free slots at `path`, timed on a fresh kept-alive connection (an
    idle one is closed by the server's keep-alive timeout): the connection, the figures, and
    the free slots."""
    connection = http.client.HTTPConnection("127.0.0.1", PORT)
    live, _ = timed(connection, "/health/live", {})
    before = cpu_ticks(server.pid)
    slots, _ = timed(connection, path, auth)
    cpu = (cpu_ticks(server.pid) - before) * 10_000 / (REQUESTS + 30)
    free = json.loads(call_raw(connection, path, auth))["slots"]
    return connection, {"live": live, "slots": slots, "slots_cpu": cpu, "free": len(free)}, free


def measure(backend, url, extra_args):
    server = start_demo(BIN, url, extra_args, PORT, log_filter="warn")
    results = {}
    try:
        hr = token({"grant_type": "client_credentials"},
                   auth="acme-hr-system:demo-client-secret-acme-hr-system")
        planner = token({"grant_type": "password", "username": "planner@coachwise.example",
                         "password": "demo-planner-password"})
        anna = token({"grant_type": "password", "username": "anna@coachwise.example",
                      "password": "demo-coach-password"})
        coach = call("GET", "/api/v1/me", anna)["coach_id"]
        order = call("POST", "/api/v1/orders", hr, {"coachee": {"name": "Sam", "email": "s@a.example"}})
        call("POST", f"/api/v1/orders/{order['id']}/assign", planner, {"coach_id": coach})
        store = Store(url if url.startswith("sqlite") else url)
        store.run([f"UPDATE orders SET status = 'active', session_budget = 1000000, "
                   f"end_date = '2099-12-31' WHERE id = '{order['id']}'"])
        # The demo's own sessions of Anna are out of the way of the ones written in below.
        store.run([f"UPDATE sessions SET status = 'cancelled' WHERE coach_id = '{coach}'"])
        start = window_start()
        slots_path = (f"/api/v1/coaches/{coach}/free-slots?from="
                      + urllib.parse.quote(start.isoformat().replace("+00:00", "Z"))
                      + "&to=" + urllib.parse.quote((start + timedelta(days=28)).isoformat().replace("+00:00", "Z"))
                      + "&duration=60")
        auth = {"Authorization": f"Bearer {anna}"}
        provider = "0192f000-0000-7000-8000-000000000002"
        stored = 0
        for total in (1_000, 10_000, 100_000):
            rows = sessions(order["id"], coach, provider, start, total)
            store.run([], rows[stored:])
            stored = total
            connection, results[total], free = free_slots(server, slots_path, auth)
            if total == 10_000:
                # 40 bookings into free slots spread over the window (each takes its slot).
                picks = free[:: max(1, len(free) // 40)][:40]
                bodies = [{"starts_at": p["starts_at"], "duration_minutes": 60, "kind": "regular",
                           "format": "phone"} for p in picks]
                headers = {**auth, "Content-Type": "application/json"}
                before = cpu_ticks(server.pid)
                booking, _ = timed(connection, f"/api/v1/orders/{order['id']}/sessions", headers,
                                   "POST", bodies)
                results["booking"] = booking
                results["booking_cpu"] = (cpu_ticks(server.pid) - before) * 10_000 / len(bodies)
                # Taken out again, so that every stage measures the same window.
                store.run([f"DELETE FROM sessions WHERE order_id = '{order['id']}' AND booked_by <> 'bench'"])
        # Dense against idle: no daily maximum, the window emptied, then an hourly calendar.
        rules = call("GET", f"/api/v1/coaches/{coach}/availability", anna)
        rules = {k: v for k, v in rules.items() if k in
                 ("weekly_hours", "buffer_minutes", "minimum_notice_minutes", "exceptions")}
        call("PUT", f"/api/v1/coaches/{coach}/availability", anna, rules)
        store.run([f"DELETE FROM sessions WHERE order_id = '{order['id']}'"])
        short = slots_path.replace("duration=60", "duration=15")
        for stage, rows in (("idle", []), ("dense", dense(order["id"], coach, provider, start))):
            if rows:
                store.run([], rows)
            _, results[stage], _ = free_slots(server, short, auth)
            results[stage]["sessions"] = len(rows)
        return results
    finally:
        server.terminate()
        server.wait()


def call_raw(connection, path, headers):
    connection.request("GET", path, headers=headers)
    return connection.getresponse().read()


def report(backend, r):
    print(f"\n== {backend}")
    for total in (1_000, 10_000, 100_000):
        m = r[total]
        print(f"{total:>7} stored: /health/live {m['live']:.3f} ms, "
              f"free slots {m['slots']:.3f} ms ({m['slots_cpu']:.0f} us CPU), "
              f"{m['slots'] / m['live']:.1f} x live, {m['free']} free slots")
    print(f"booking with 10,000 stored: {r['booking']:.3f} ms median "
          f"({r['booking_cpu']:.0f} us CPU), {r['booking'] / r[10_000]['live']:.1f} x live")
    for stage in ("idle", "dense"):
        m = r[stage]
        print(f"{stage:>5}, {m['sessions']} sessions in the window: /health/live {m['live']:.3f} ms, "
              f"15-minute free slots {m['slots']:.3f} ms ({m['slots_cpu']:.0f} us CPU), "
              f"{m['slots'] / m['live']:.1f} x live, {m['free']} free slots")
    density = r["dense"]["slots"] / r["idle"]["slots"]
    growth = r[100_000]["slots"] / r[1_000]["slots"]
    checks = [(f"free slots, 10,000 stored: {r[10_000]['slots']:.2f} ms median", r[10_000]["slots"] < 2, "< 2 ms"),
              (f"free slots, 100,000 / 1,000 stored = {growth:.2f}", growth < 1.5, "< 1.5"),
              (f"free slots, dense / idle calendar = {density:.2f}", density < 1.5, "< 1.5")]
    for text, ok, target in checks:
        print(f"  {'ok  ' if ok else 'MISS'} {text:<48} (target {target})")
    return all(ok for _, ok, _ in checks)


def main():
    print(f"{BIN}; {REQUESTS} timed requests per measurement, one at a time")
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "bench_slots"], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "bench_slots"], check=True)
    pg = measure("PostgreSQL", f"{PG}/bench_slots", ["--force"])
    with tempfile.TemporaryDirectory() as directory:
        lite = measure("SQLite", f"sqlite://{directory}/bench.sqlite3", [])
    ok = report("PostgreSQL", pg)
    ok = report("SQLite", lite) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
