#!/usr/bin/env python3
"""Webhook deliveries, the events feed and the write path with the outbox, on PostgreSQL.

Usage: bench/webhooks.py [path/to/trajectum]   (default target/release/trajectum)
Needs: wrk, pgbench, psql, createdb/dropdb, the local PostgreSQL (postgres@127.0.0.1:5432).
Settings (environment): SUBSCRIPTIONS (per organisation, default 8), ORDERS (orders whose
`order.created` is delivered, default 2000), WORKERS (worker processes, default 1),
CONCURRENCY (subscriptions a worker delivers to at once, default 16), DURATION (seconds of each
wrk measurement, default 10), WRITERS (concurrent writers, default 8).

In one run, each rate beside a ceiling measured the same way in the same run:

1. Deliveries. A receiver on this machine (asyncio, HTTP/1.1 keep-alive, answers 204) takes
   every delivery. The employer and the provider each subscribe SUBSCRIPTIONS URLs of it to
   `order.created`; ORDERS orders are created with the worker off, which fills the outbox; then
   WORKERS `trajectum worker` processes deliver it, timed from their start until no delivery is
   pending. The receiver's ceiling is `wrk` POSTing the same body at it. The check: every
   delivery arrived, none twice (distinct `webhook-id`s), and each subscription's arrived in
   `sequence` order.
2. The events feed: `wrk` on `GET /api/v1/events?after=0&limit=50` (a full page) beside
   `GET /api/v1/orders/{id}`, as the HR system.
3. The write path of one organisation: WRITERS connections `POST /api/v1/orders` (each order's
   events go to the employer's and the provider's logs, whose head rows serialise their
   writes) with no subscription, then with the subscriptions (an outbox row per subscription
   per event, written under the head rows); beside `pgbench` (its default TPC-B-like writes,
   WRITERS clients) as the machine's write ceiling.
"""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import read  # noqa: E402  (the helpers: call, token, wrk, pgbench, CPU accounting)

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--")
                      else "target/release/trajectum")
SUBSCRIPTIONS = int(os.environ.get("SUBSCRIPTIONS", "8"))
ORDERS = int(os.environ.get("ORDERS", "2000"))
WORKERS = int(os.environ.get("WORKERS", "1"))
CONCURRENCY = int(os.environ.get("CONCURRENCY", "16"))
WRITERS = int(os.environ.get("WRITERS", "8"))
PORT = int(os.environ.get("PORT", "18083"))
RECEIVER_PORT = int(os.environ.get("RECEIVER_PORT", "18093"))
read.BASE = f"http://127.0.0.1:{PORT}"
read.PORT = PORT
DB = "bench_webhooks"
URL = f"{read.PG}/{DB}"
HR_AUTH = "acme-hr-system:demo-client-secret-acme-hr-system"


# --- the receiver ---------------------------------------------------------------------------

async def receive(reader, writer, seen):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            hook = headers.get("webhook-id")
            if hook:
                path = head.split(b" ", 2)[1].decode()
                seen.append((path, hook, json.loads(body)["sequence"]))
            writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError):
        pass
    finally:
        writer.close()


def receiver_main(port, out):
    """Serves until SIGTERM, then writes what it received to `out` as JSON."""
    seen = []

    async def main():
        server = await asyncio.start_server(lambda r, w: receive(r, w, seen), "127.0.0.1", port)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            await stop.wait()
        with open(out, "w") as f:
            json.dump(seen, f)

    asyncio.run(main())


def start_receiver():
    out = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--receiver",
                                str(RECEIVER_PORT), out])
    for _ in range(100):
        try:
            import socket
            socket.create_connection(("127.0.0.1", RECEIVER_PORT), timeout=0.2).close()
            return process, out
        except OSError:
            time.sleep(0.05)
    sys.exit("the receiver did not start")


def stop_receiver(process, out):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    with open(out) as f:
        return json.load(f)


# --- the service ----------------------------------------------------------------------------

def psql(sql):
    out = subprocess.run(["psql", "-qAt", "-F", "\t", "-v", "ON_ERROR_STOP=1", URL],
                         input=sql, text=True, check=True, capture_output=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def env(worker):
    return {**os.environ, "DATABASE_URL": URL, "TRAJECTUM_PORT": str(PORT),
            "TRAJECTUM_JWT_SECRET": read.SECRET, "TRAJECTUM_NOTES_KEY": read.NOTES_KEY,
            "TRAJECTUM_LOG_FORMAT": "json", "TRAJECTUM_LOG_FILTER": "warn",
            "TRAJECTUM_ACCESS_TOKEN_TTL_SECONDS": "3600", "TRAJECTUM_WORKER": worker,
            "TRAJECTUM_WORKER_POLL_MILLISECONDS": "100",
            "TRAJECTUM_WEBHOOK_ALLOW_HTTP": "true",
            "TRAJECTUM_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
            "TRAJECTUM_WEBHOOK_CONCURRENCY": str(CONCURRENCY)}


def serve():
    server = subprocess.Popen([BIN, "demo", "--force"], env=env("false"),
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


def post_wrk(path, token, body, connections, pid=None):
    """`wrk` POSTing `body` (JSON) at BASE/path (or a full URL): rate, p99 (ms), CPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write('wrk.method = "POST"\n')
        script.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
        script.write('wrk.headers["Content-Type"] = "application/json"\n')
        if token:
            script.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    url = path if path.startswith("http") else read.BASE + path
    command = ["wrk", "-t2", f"-c{connections}", f"-d{read.SECONDS}s", "--latency", "-s",
               script.name, url]
    out, _, cpu = read.measured(command, r"(\d+) requests in", pid)
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"wrk POST {path}: {errors.group(1)} responses were errors\n{out}")
    return rps, float(p99.group(1)) * scale, cpu


def pgbench_writes():
    """pgbench's default (TPC-B-like, writing) transactions per second with WRITERS clients."""
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "bench_pgbench"], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "bench_pgbench"], check=True)
    subprocess.run(["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-i", "-s", "10", "-q", "bench_pgbench"],
                   check=True, capture_output=True)
    out, _, _ = read.measured(
        ["pgbench", "-h", "127.0.0.1", "-U", "postgres", "-M", "simple", "-c", str(WRITERS),
         "-j", "2", "-T", str(read.SECONDS), "bench_pgbench"],
        r"number of transactions actually processed: (\d+)")
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def subscribe(token, count, offset):
    for i in range(count):
        read.call("POST", "/api/v1/webhooks", token, {
            "url": f"http://127.0.0.1:{RECEIVER_PORT}/hooks/{offset + i}",
            "event_types": ["order.created"], "description": f"bench {offset + i}"})


def create_orders(hr, count):
    import concurrent.futures
    body = {"coachee": {"name": "Bench Coachee", "email": "bench@acme.example"}}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: read.call("POST", "/api/v1/orders", hr, body), range(count)))


def pending():
    return int(psql("SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'")[0][0])


def deliver():
    """Starts the workers and times them until no delivery is pending."""
    total = int(psql("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'")[0][0])
    started = time.monotonic()
    workers = [subprocess.Popen([BIN, "worker"], env=env("true"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(WORKERS)]
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = 0
    try:
        while pending() > 0:
            cpu = sum(read.cpu_ticks(w.pid) for w in workers)
            time.sleep(0.05)
            if time.monotonic() - started > 600:
                sys.exit("the deliveries did not finish in 10 minutes")
        seconds = time.monotonic() - started
        cpu = sum(read.cpu_ticks(w.pid) for w in workers)
    finally:
        for w in workers:
            stop(w)
    return total, seconds, cpu / ticks * 1e6 / max(total, 1)


def main():
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    receiver, received_file = start_receiver()
    server = serve()
    hr = read.token({"grant_type": "client_credentials"}, auth=HR_AUTH)
    planner = read.token({"grant_type": "password", "username": "planner@coachwise.example",
                          "password": "demo-planner-password"})
    order = read.call("GET", "/api/v1/orders?limit=1", hr)["data"][0]["id"]

    # 3, before the outbox: no subscription yet.
    tps = pgbench_writes()
    print(f"writing: {WRITERS} writers of one organisation, POST /api/v1/orders ...", flush=True)
    writes_before = post_wrk("/api/v1/orders", hr,
                             {"coachee": {"name": "Bench Coachee", "email": "bench@acme.example"}},
                             WRITERS, server.pid)
    subscribe(hr, SUBSCRIPTIONS, 0)
    subscribe(planner, SUBSCRIPTIONS, SUBSCRIPTIONS)
    writes_after = post_wrk("/api/v1/orders", hr,
                            {"coachee": {"name": "Bench Coachee", "email": "bench@acme.example"}},
                            WRITERS, server.pid)
    # What the write measurement queued is not this run's to deliver: only ORDERS orders are.
    psql("UPDATE webhook_deliveries SET status = 'delivered';"
         "UPDATE jobs SET status = 'done' WHERE kind = 'webhook.deliver'")

    # 2. The feed beside the order read.
    feed = read.wrk("/api/v1/events?after=0&limit=50", hr, server.pid)
    order_read = read.wrk(f"/api/v1/orders/{order}", hr, server.pid)

    # 1. Deliveries.
    print(f"filling the outbox: {ORDERS} orders x {2 * SUBSCRIPTIONS} subscriptions ...", flush=True)
    create_orders(hr, ORDERS)
    stop(server)
    ceiling = post_wrk(f"http://127.0.0.1:{RECEIVER_PORT}/ceiling", None,
                       {"type": "order.created", "sequence": 1}, 32)
    total, seconds, cpu_per_delivery = deliver()
    received = [r for r in stop_receiver(receiver, received_file) if not r[0] == "/ceiling"]
    ids = [hook for _, hook, _ in received]
    by_path = {}
    for path, _, sequence in received:
        by_path.setdefault(path, []).append(sequence)
    in_order = all(s == sorted(s) for s in by_path.values())
    rate = total / seconds

    print(f"\nPostgreSQL, {WORKERS} worker process(es), {CONCURRENCY} subscriptions at once:")
    print(f"  deliveries: {total} in {seconds:.1f} s: {rate:.0f} /s "
          f"(worker CPU {cpu_per_delivery:.0f} us per delivery)")
    print(f"  the receiver's ceiling (wrk -c32 POST): {ceiling[0]:.0f} /s; deliveries per "
          f"ceiling: {rate / ceiling[0]:.3f}")
    print(f"  check: received {len(received)}, distinct webhook-ids {len(set(ids))}, "
          f"subscriptions {len(by_path)}, each in sequence order: {'yes' if in_order else 'NO'}")
    print(f"events feed, a page of 50: {feed[0]:.0f} pages/s (p99 {feed[1]:.1f} ms); "
          f"GET /orders/{{id}}: {order_read[0]:.0f} /s (p99 {order_read[1]:.1f} ms); "
          f"feed per order read: {feed[0] / order_read[0]:.2f}")
    print(f"writes, {WRITERS} writers of one organisation: {writes_before[0]:.0f} orders/s "
          f"(p99 {writes_before[1]:.1f} ms) without subscriptions, {writes_after[0]:.0f} orders/s "
          f"(p99 {writes_after[1]:.1f} ms) with {2 * SUBSCRIPTIONS} (an outbox row each per event); "
          f"after/before {writes_after[0] / writes_before[0]:.2f}")
    print(f"  pgbench (TPC-B-like writes, {WRITERS} clients): {tps:.0f} tps; orders/s per pgbench "
          f"tps: {writes_before[0] / tps:.3f} before, {writes_after[0] / tps:.3f} after")
    ok = len(received) == total and len(set(ids)) == total and in_order
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--receiver":
        receiver_main(int(sys.argv[2]), sys.argv[3])
    else:
        main()
