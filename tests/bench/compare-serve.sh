#!/usr/bin/env bash
# Synchronous `echo` executions per second of several `hysope` binaries (or serve
# flags), in alternating rounds so that a drift of the machine hits them alike: each
# run starts the server on a fresh data folder, loads it with `http-load` and stops it.
#
#   DATA=/dev/shm/x bash tests/bench/compare-serve.sh ROUNDS "LABEL|SERVE FLAGS|BINARY[|PLUGINS]" ...
#
# e.g. two commits' release binaries copied aside, on ext4 then on tmpfs:
#   bash tests/bench/compare-serve.sh 2 "old||/tmp/hysope-old" "new|--workers 8|target/release/hysope"
# PLUGINS: the folder of the wasm components (default: this tree's release build),
# to compare builds of a plugin. Prints: label, req/s, p99 (ms), errors, and the
# server's CPU time per request (ms, user + system, from /proc). CONNECTIONS (16) and
# SECONDS_PER_RUN (5) as variables.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="$1"
shift
# A fresh data folder per run, all removed at the end: ext4 without a journal (as on
# this machine) skips inodes freed in the last minutes when it allocates new ones
# (`recently_deleted`), so removing a run's thousands of job folders before the next
# run would slow the next one's folder creation, a cost of the benchmark, not of
# the server (an earlier invocation's removal is waited out: settle.sh). Each run
# starts with the earlier runs' files written back (`sync`), not with the kernel
# writing them back under the load.
data="${DATA:-$(mktemp -d)/data}"
work="$(mktemp -d)"
run=0
cp "$root/plugins/echo/echo.cwl" "$work/"
port=7811
stop() { pkill -f "serve --addr 127.0.0.1:$port" 2>/dev/null || true; sleep 0.5; }
# shellcheck source=tests/bench/settle.sh
. "$root/tests/bench/settle.sh"
settle
trap 'stop; remove_tree "$work" "$data"' EXIT
# The CPU time (clock ticks, user + system) of the server started last.
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
for _ in $(seq "$rounds"); do
    for config in "$@"; do
        IFS='|' read -r label flags binary plugins <<<"$config"
        stop
        sync
        run=$((run + 1))
        # shellcheck disable=SC2086
        HYSOPE_PLUGIN_PATH="${plugins:-$root/target/wasm32-wasip2/release}" HYSOPE_CACHE_DIR="$work/cache" \
            "$binary" serve --addr "127.0.0.1:$port" --data-dir "$data/$run" --processes "$work" $flags \
            2>"$work/log" &
        server=$!
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$port/processes" >/dev/null && break
            sleep 0.2
        done
        # The server's CPU time over the measured seconds (after the 1 s warm-up).
        "$root/target/release/http-load" "http://127.0.0.1:$port/processes/echo/execution" \
            --method POST --header 'Content-Type: application/json' \
            --body '{"inputs":{"stringInput":"x"}}' --connections "${CONNECTIONS:-16}" \
            --duration "${SECONDS_PER_RUN:-5}" --warmup 1 >"$work/out" &
        load=$!
        sleep 1
        before="$(cpu)"
        wait "$load"
        out="$(cat "$work/out")"
        ticks=$(($(cpu) - before))
        echo "$label $(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(d["rps"], d["p99_ms"], d["errors"], "%.3f" % (int(sys.argv[2]) * 1000 / int(sys.argv[3]) / max(d["requests"], 1)))' "$out" "$ticks" "$(getconf CLK_TCK)")"
    done
done
