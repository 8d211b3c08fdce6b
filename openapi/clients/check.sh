#!/usr/bin/env bash
# Proves that clients generated from the OpenAPI document work as generated: a TypeScript type
# module (openapi-typescript, checked by tsc) and a Python client (openapi-python-client) must
# both accept every problem body the server was recorded returning.
#
#   openapi/clients/check.sh [SPEC]            # SPEC defaults to openapi/openapi.json
#   PROBLEMS_DIR=dir/of/bodies openapi/clients/check.sh
#
# PROBLEMS_DIR holds *.json files, each one application/problem+json body as the server sent it.
# KEEP_WORK=1 keeps the generated code (its path is printed). Exits non-zero if any tool fails.
set -euo pipefail

# Pinned so that a new generator release cannot change the verdict on an unchanged document.
TS_PINS="openapi-typescript@7.13.0 typescript@5.9.3"
PY_PIN="openapi-python-client==0.29.1"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SPEC=$(realpath "${1:-$ROOT/openapi/openapi.json}")
PROBLEMS_DIR=${PROBLEMS_DIR:-}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/trajectum-clients
WORK=$(mktemp -d)
if [[ -n ${KEEP_WORK:-} ]]; then echo "work dir: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi

bodies=()
if [[ -n $PROBLEMS_DIR ]]; then
  shopt -s nullglob
  bodies=("$PROBLEMS_DIR"/*.json)
  shopt -u nullglob
fi

# The tools live outside the repo and are installed once per pin set (the stamp records it).
mkdir -p "$CACHE"
if [[ $(cat "$CACHE/.stamp" 2>/dev/null) != "$TS_PINS $PY_PIN" ]]; then
  [[ -f $CACHE/package.json ]] || echo '{"private": true}' >"$CACHE/package.json"
  # shellcheck disable=SC2086
  (cd "$CACHE" && npm install --no-audit --no-fund --silent $TS_PINS)
  [[ -x $CACHE/venv/bin/python ]] || python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install --quiet --disable-pip-version-check "$PY_PIN"
  echo "$TS_PINS $PY_PIN" >"$CACHE/.stamp"
fi

failed=0

# --- TypeScript ---------------------------------------------------------------------------------
# One .ts file per body, so tsc's messages name the body; a typed object literal gets excess-
# property checks, so a member the schema does not declare fails as it would in client code.
ts_summary=""
ts_files=(schema.d.ts)
mkdir -p "$WORK/ts/bodies"
if "$CACHE/node_modules/.bin/openapi-typescript" "$SPEC" -o "$WORK/ts/schema.d.ts" \
  >"$WORK/ts/gen.log" 2>&1; then
  n=0
  for body in "${bodies[@]}"; do
    n=$((n + 1))
    printf 'import type { components } from "../schema";\nexport const p%d: components["schemas"]["Problem"] = %s;\n' \
      "$n" "$(cat "$body")" >"$WORK/ts/bodies/$(basename "$body" .json).ts"
    ts_files+=("bodies/$(basename "$body" .json).ts")
  done
  if (cd "$WORK/ts" && "$CACHE/node_modules/.bin/tsc" --strict --noEmit --pretty false \
    --target es2022 --module esnext --moduleResolution bundler "${ts_files[@]}") >"$WORK/ts/tsc.log" 2>&1; then
    ts_summary="OK (types compile; ${#bodies[@]} bodies accepted)"
  else
    sed 's/^/  tsc: /' "$WORK/ts/tsc.log"
    rejected=$(grep -o '^bodies/[^(]*' "$WORK/ts/tsc.log" | sort -u | wc -l)
    ts_summary="FAIL ($rejected of ${#bodies[@]} bodies rejected, $(grep -c 'error TS' "$WORK/ts/tsc.log") errors)"
    failed=1
  fi
else
  sed 's/^/  openapi-typescript: /' "$WORK/ts/gen.log"
  ts_summary="FAIL (generation)"
  failed=1
fi

# --- Python -------------------------------------------------------------------------------------
# No post hooks (they only run ruff, which is not installed), so that --fail-on-warning fails on
# what the generator could not turn into code and on nothing else.
py_summary=""
echo 'post_hooks: []' >"$WORK/py-config.yaml"
if "$CACHE/venv/bin/openapi-python-client" generate --path "$SPEC" --config "$WORK/py-config.yaml" \
  --output-path "$WORK/py/trajectum_client" --meta none --overwrite --fail-on-warning \
  >"$WORK/py-gen.log" 2>&1; then
  # With --meta none the output directory is the package, so its name is ours to choose.
  if py_summary=$(cd "$WORK/py" && "$CACHE/venv/bin/python" - "${bodies[@]}" <<'EOF'
import datetime, json, re, sys
import trajectum_client.models as models
from trajectum_client.models import Problem

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

def same(value):
    # A date-time member comes back as the same instant, written as Python writes it
    # (`+00:00` for `Z`): compare instants, not spellings.
    if isinstance(value, dict):
        return {k: same(v) for k, v in value.items()}
    if isinstance(value, list):
        return [same(v) for v in value]
    if isinstance(value, str) and RFC3339.match(value):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value

failures = 0
for path in sys.argv[1:]:
    with open(path) as f:
        body = json.load(f)
    try:
        # The round trip shows that extension members are kept, not dropped.
        if same(Problem.from_dict(body).to_dict()) != same(body):
            raise ValueError("to_dict() does not give the body back")
    except Exception as e:
        failures += 1
        print(f"  python: {path}: {type(e).__name__}: {e}", file=sys.stderr)
classes = sorted(n for n in models.__all__ if re.search("problem|error", n, re.I))
problems = [n for n in classes if re.search("problem", n, re.I)]
verdict = "OK" if not failures and problems == ["Problem"] else "FAIL"
print(f"{verdict} ({len(sys.argv) - 1 - failures} of {len(sys.argv) - 1} bodies parsed; "
      f"{len(classes)} problem/error model classes: {', '.join(classes)})")
sys.exit(verdict != "OK")
EOF
  ); then :; else failed=1; py_summary=${py_summary:-FAIL (see the traceback above)}; fi
else
  sed 's/^/  openapi-python-client: /' "$WORK/py-gen.log"
  py_summary="FAIL (generation)"
  failed=1
fi

echo "openapi-typescript + tsc: $ts_summary"
echo "openapi-python-client: $py_summary"
exit "$failed"
