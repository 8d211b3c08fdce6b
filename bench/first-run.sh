#!/usr/bin/env bash
# The newcomer's first run: from a fresh clone with an empty target directory (crates already
# downloaded), how long until `cargo run -- demo` answers /health/ready.
# Usage: bench/first-run.sh [git-url-or-path] (default: this repository). Uses port 8080.
set -euo pipefail
source="${1:-$(git rev-parse --show-toplevel)}"
dir="$(mktemp -d)"
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
git clone --quiet "$source" "$dir/clone"
cd "$dir/clone"
start=$(date +%s%N)
cargo run --quiet -- demo >"$dir/demo.log" 2>&1 &
pid=$!
until curl -sf http://127.0.0.1:8080/health/ready >/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/demo.log"; exit 1; }
  sleep 0.2
done
end=$(date +%s%N)
echo "first run: /health/ready answered $(( (end - start) / 1000000 )) ms after \`cargo run -- demo\`"
echo "crates compiled: $(ls target/debug/.fingerprint | wc -l)"
