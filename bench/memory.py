#!/usr/bin/env python3
"""Resident memory and server CPU of one binary on SQLite, quickly: the probe behind the
allocator's settings in bench/README.md ("the allocator").

Usage: bench/memory.py [path/to/trajectum]   (default target/release/trajectum)
Settings (environment): ORDERS (seeded, default 2000), DURATION (seconds per wrk run, default 3),
PORT (default 18080); mimalloc's own options (MIMALLOC_*) pass through to the binary.

It starts the demo on a fresh SQLite file, seeds as bench/read.py does, and prints the RSS after
the start and after seeding (with the peak so far), then resets the peak and prints, for the
token-checked order read and the first page of 50, the rate, the server's CPU per request and
the peak since the reset.
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ORDERS", "2000")
os.environ.setdefault("DURATION", "3")
import read  # noqa: E402  (bench/read.py: its demo start, seeding and wrk)


def mb(pid, field):
    return read.rss_kb(pid, field) / 1024


def main():
    with tempfile.TemporaryDirectory() as directory:
        server = read.start_demo(read.BIN, f"sqlite://{directory}/bench.sqlite3", [], read.PORT)
        try:
            pid = server.pid
            print(f"after the start: {mb(pid, 'VmRSS'):.1f} MB, peak {mb(pid, 'VmHWM'):.1f} MB")
            hr = read.token({"grant_type": "client_credentials"},
                            auth="acme-hr-system:demo-client-secret-acme-hr-system")
            order, _ = read.seed(hr)
            print(f"after seeding:   {mb(pid, 'VmRSS'):.1f} MB, peak {mb(pid, 'VmHWM'):.1f} MB")
            read.reset_peak(pid)
            for what, path in [("read", f"/api/v1/orders/{order}"),
                               ("list", "/api/v1/orders?limit=50")]:
                rps, _, cpu = read.wrk(path, hr, pid)
                print(f"{what}: {rps:.0f} rps, server {cpu['server']:.1f} us/request, "
                      f"peak since seeding {mb(pid, 'VmHWM'):.1f} MB")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
