#!/usr/bin/env bash
# Gateway throughput and latency against pygeoapi's hello-world, in the same run:
# `GET /processes`, a synchronous execute of `echo` (hysope: a durable job record in
# redb, the wasm plugin run, results stored) vs `hello-world` (pygeoapi with its
# TinyDB job manager), and `GET /jobs` when the store holds JOBS jobs (100,000 by
# default), each driven by `http-load` with the same connections and duration.
#
#   bash tests/bench/gateway-bench.sh [SECONDS] [CONNECTIONS] [JOBS]
#
# Needs target/release/hysope and target/release/http-load
# (cargo build --release -p hysope-cli -p hysope-tests), the wasm
# plugins, and Python 3.12 (pyenv) for pygeoapi 0.24, installed here in a venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
seconds="${1:-10}"
connections="${2:-16}"
jobs="${3:-100000}"
# shellcheck source=tests/bench/settle.sh
. "$root/tests/bench/settle.sh"
settle
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    remove_tree "$work"
}
trap cleanup EXIT
python312="${PYTHON312:-$(ls -d /root/.pyenv/versions/3.12.*/bin/python 2>/dev/null | head -n 1)}"
venv="${PYGEOAPI_VENV:-$HOME/.cache/hysope/pygeoapi-venv}"
if [ ! -x "$venv/bin/pygeoapi" ]; then
    "$python312" -m venv "$venv"
    "$venv/bin/pip" install --quiet "pygeoapi==0.24.*"
fi

# pygeoapi: hello-world, TinyDB manager, its own server (`pygeoapi serve`).
mkdir -p "$work/pg/out"
sed "s|@DIR@|$work/pg|g" "$root/tests/bench/pygeoapi.yml" >"$work/pg/config.yml"
export PYGEOAPI_CONFIG="$work/pg/config.yml" PYGEOAPI_OPENAPI="$work/pg/openapi.yml"
"$venv/bin/pygeoapi" openapi generate "$PYGEOAPI_CONFIG" --output-file "$PYGEOAPI_OPENAPI" >/dev/null
# hysope lists one process, as pygeoapi lists hello-world: the same work per listing.
# (The bundled processes are listed by a second server at the end.)
mkdir -p "$work/processes"
cp "$root/plugins/echo/echo.cwl" "$work/processes/"
# start_servers LOG: both servers, until they answer; the hysope URL is in $hysope.
start_servers() {
    "$venv/bin/pygeoapi" serve >"$work/pg/log" 2>&1 &
    pids+=("$!")
    HYSOPE_PLUGIN_PATH="$root/target/wasm32-wasip2/release" HYSOPE_CACHE_DIR="$work/cache" \
        "$root/target/release/hysope" serve --addr 127.0.0.1:0 --data-dir "$work/hysope" \
        --processes "$work/processes" 2>"$work/$1" &
    pids+=("$!")
    hysope="$(server_url "$work/hysope" "$!")" || { cat "$work/$1" >&2; exit 1; }
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:5099/jobs?limit=1" >/dev/null && break
        sleep 0.2
    done
}
start_servers hysope.log
pygeoapi="http://127.0.0.1:5099"
# An operator's personal token (executing and listing need one; pygeoapi asks none:
# the cost of identity is measured on its own by identity-bench.sh).
bearer="Authorization: Bearer $(HYSOPE_BIN="$root/target/release/hysope" token "$work/hysope" bench operator)"

load() { "$root/target/release/http-load" "$@" --connections "$connections" --duration "$seconds" --warmup 1; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

printf '| request | server | req/s | p50 (ms) | p99 (ms) | statuses |\n|---|---|---|---|---|---|\n'
row() { # name server json
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(field "$3" rps)" "$(field "$3" p50_ms)" "$(field "$3" p99_ms)" "$(field "$3" statuses)"
}
a="$(load "$hysope/processes")"; row "GET /processes" hysope "$a"
b="$(load "$pygeoapi/processes")"; row "GET /processes" pygeoapi "$b"
json='Content-Type: application/json'
c="$(load "$hysope/processes/echo/execution" --method POST --header "$json" --header "$bearer" --body '{"inputs":{"stringInput":"x"}}')"
row "sync execute" "hysope (echo)" "$c"
d="$(load "$pygeoapi/processes/hello-world/execution" --method POST --header "$json" --body '{"inputs":{"name":"x"}}')"
row "sync execute" "pygeoapi (hello-world)" "$d"

# /jobs at scale: both servers restarted on stores of $jobs finished jobs.
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
rm -rf "$work/hysope"
"$root/target/release/jobs-fill" "$work/hysope" "$jobs" >/dev/null
python3 - "$work/pg/jobs.db" "$jobs" <<'PY'
import json, sys, uuid
path, n = sys.argv[1], int(sys.argv[2])
jobs = {}
for i in range(n):
    t = "2026-01-01T00:00:00.000000Z"
    status = "dismissed" if i % 100 == 0 else "failed" if i % 100 < 10 else "successful"
    jobs[str(i + 1)] = {"type": "process", "identifier": str(uuid.UUID(int=i)), "process_id": "hello-world",
        "created": t, "started": t, "updated": t, "finished": t, "status": status, "location": None,
        "mimetype": "application/json", "message": "Job complete", "progress": 100}
json.dump({"_default": jobs}, open(path, "w"))
PY
start_servers hysope2.log
e="$(load "$hysope/jobs?limit=10" --header "$bearer")"; row "GET /jobs?limit=10 ($jobs jobs)" hysope "$e"
f="$(load "$pygeoapi/jobs?limit=10")"; row "GET /jobs?limit=10 ($jobs jobs)" pygeoapi "$f"
g="$(load "$hysope/jobs?status=failed&limit=10&offset=5000" --header "$bearer")"; row "GET /jobs?status=failed&offset=5000 ($jobs jobs)" hysope "$g"
h="$(load "$hysope/jobs?processID=swot-river-filter&datetime=2026-01-01T00:00:00Z/..&limit=100" --header "$bearer")"; row "GET /jobs?processID=...&datetime=...&limit=100 ($jobs jobs)" hysope "$h"

# GET /processes listing every bundled plugin and workflow (no peer: pygeoapi lists one).
rm -rf "$work/processes"
ln -s "$root/plugins" "$work/processes"
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()
start_servers hysope3.log
count="$(curl -s "$hysope/processes" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["processes"]))')"
i="$(load "$hysope/processes")"; row "GET /processes, the $count bundled processes" hysope "$i"

python3 - "$a" "$b" "$c" "$d" "$e" "$f" <<'PY'
import json, sys
a, b, c, d, e, f = (json.loads(x) for x in sys.argv[1:])
print()
print("GET /processes: %.0fx the req/s, p99 %.1fx lower" % (a["rps"] / b["rps"], b["p99_ms"] / a["p99_ms"]))
print("sync execute:   %.0fx the req/s, p99 %.1fx lower" % (c["rps"] / d["rps"], d["p99_ms"] / c["p99_ms"]))
print("GET /jobs:      %.0fx the req/s, p99 %.1fx lower" % (e["rps"] / max(f["rps"], 1e-9), f["p99_ms"] / max(e["p99_ms"], 1e-9)))
PY
