#!/usr/bin/env bash
# Start-up time to ready, and idle memory, of a release binary on an existing SQLite database.
# Usage: bench/startup.sh [path/to/trajectum] (default target/release/trajectum). Uses port 8080.
set -euo pipefail
bin="$(realpath "${1:-target/release/trajectum}")"
dir="$(mktemp -d)"
cd "$dir"
"$bin" migrate >/dev/null 2>&1          # the "existing database"
for run in 1 2 3 4 5; do
  start=$(date +%s%N)
  "$bin" serve >/dev/null 2>&1 &
  pid=$!
  until curl -sf http://127.0.0.1:8080/health/ready >/dev/null; do sleep 0.005; done
  end=$(date +%s%N)
  echo "run $run: ready after $(( (end - start) / 1000000 )) ms"
  if [ "$run" = 5 ]; then
    sleep 2
    echo "idle RSS after 2 s: $(grep VmRSS /proc/$pid/status | awk '{print $2}') kB"
  fi
  kill -TERM "$pid"
  wait "$pid" || true
done
rm -rf "$dir"
