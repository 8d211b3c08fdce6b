#!/usr/bin/env python3
"""Where the server's CPU goes on the token-checked `GET /api/v1/orders/{id}`: `perf record`
with DWARF call graphs on the binary while wrk reads one order, then the frames that take the
most of it, by themselves and with what they call.

Usage: bench/profile_read.py [path/to/trajectum] [sqlite|postgres]
Needs: perf, wrk, the local PostgreSQL for `postgres`; a binary with line tables and symbols:
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_PROFILE_RELEASE_STRIP=none \
    CARGO_TARGET_DIR=/tmp/prof-target cargo build --release
Settings (environment): DURATION (seconds recorded, default 10), CONNECTIONS (default 32),
PORT (default 18080), OUT (the perf data file, default /tmp/trajectum-read.perf), WHAT (`read`,
the default, or `list`: the first page of `GET /api/v1/orders?limit=50` instead).

The database is seeded as bench/read.py seeds it, with ORDERS (default 1000) more orders. perf
samples the server's threads only (`-p`), at 999 Hz, so the load generator and PostgreSQL are
not in the profile; the per-process CPU split is bench/read.py's.
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ORDERS", "1000")
import read  # noqa: E402  (bench/read.py: its seeding, its demo start and its wrk)

BACKEND = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
OUT = os.environ.get("OUT", "/tmp/trajectum-read.perf")
WHAT = os.environ.get("WHAT", "read")


def report(sort_children):
    command = ["perf", "report", "-i", OUT, "--stdio", "--percent-limit", "1.5",
               "-g", "none", "--sort", "symbol"]
    command.insert(2, "--children" if sort_children else "--no-children")
    out = subprocess.run(command, capture_output=True, text=True).stdout
    rows = [" ".join(line.split()) for line in out.splitlines()
            if line.strip() and not line.startswith("#")]
    return "\n".join(rows[:40])


def main():
    with tempfile.TemporaryDirectory() as directory:
        if BACKEND == "postgres":
            database = f"{read.PG}/bench_profile"
            subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists",
                            "bench_profile"], check=True)
            subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", "bench_profile"],
                           check=True)
            extra = ["--force"]
        else:
            database = f"sqlite://{directory}/bench.sqlite3"
            extra = []
        server = read.start_demo(read.BIN, database, extra, read.PORT)
        try:
            hr = read.token({"grant_type": "client_credentials"},
                            auth="acme-hr-system:demo-client-secret-acme-hr-system")
            order, _ = read.seed(hr)
            perf = subprocess.Popen(["perf", "record", "-F", "999", "--call-graph", "dwarf,16384",
                                     "-o", OUT, "-p", str(server.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            path = f"/api/v1/orders/{order}" if WHAT == "read" else "/api/v1/orders?limit=50"
            rps, p99, cpu = read.wrk(path, hr, server.pid)
            perf.send_signal(2)
            perf.wait()
        finally:
            server.terminate()
            server.wait()
    shown = "/api/v1/orders/{id}" if WHAT == "read" else "/api/v1/orders?limit=50"
    print(f"{BACKEND}: GET {shown} {rps:.0f} rps under perf, p99 {p99:.2f} ms, "
          f"server {cpu['server']:.1f} us/request (perf's own sampling included)")
    print("\n== self (the frame itself)\n" + report(False))
    print("\n== children (the frame and what it calls)\n" + report(True))


if __name__ == "__main__":
    main()
