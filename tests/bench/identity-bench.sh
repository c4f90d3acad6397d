#!/usr/bin/env bash
# The cost of identity on synchronous `echo` executions (issue 18): the same
# release binary serving anonymous callers (`--anonymous-execute`: no token read),
# callers with a personal token (a SHA-256 and a store lookup per request), and
# callers with an OIDC access token (an RS256 signature checked per request, keys
# from a real provider: tests/oidc/provider.mjs), in alternating rounds so that a
# drift of the machine hits them alike. Each run starts the server on a fresh data
# folder, loads it with `http-load` and stops it.
#
#   bash tests/bench/identity-bench.sh [ROUNDS]
#
# Prints per run: mode, req/s, p99 (ms), errors, server CPU per request (ms); then
# each mode's median req/s and its ratio to anonymous. CONNECTIONS (16) and
# SECONDS_PER_RUN (5) as variables. Needs target/release/hysope and
# target/release/http-load, the wasm plugins (release) and tests/oidc installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-3}"
hysope="$root/target/release/hysope"
data="${DATA:-$(mktemp -d)/data}"
work="$(mktemp -d)"
cp "$root/plugins/echo/echo.cwl" "$work/"
port=7821
stop() { pkill -f "serve --addr 127.0.0.1:$port" 2>/dev/null || true; sleep 0.5; }
# shellcheck source=tests/bench/settle.sh
. "$root/tests/bench/settle.sh"
settle
node "$root/tests/oidc/provider.mjs" >"$work/provider.out" 2>/dev/null &
provider=$!
trap 'stop; kill $provider 2>/dev/null || true; remove_tree "$work" "$data"' EXIT
for _ in $(seq 50); do [ -s "$work/provider.out" ] && break; sleep 0.1; done
issuer="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["issuer"])' "$work/provider.out")"
# One access token for the whole bench (10 minutes of life).
jwt="$(curl -sf -X POST "$issuer/token" -d grant_type=client_credentials \
    -d client_id=hysope-user -d client_secret=secret-hysope-user |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
run=0
for _ in $(seq "$rounds"); do
    for mode in anonymous personal oidc; do
        stop
        sync
        run=$((run + 1))
        dir="$data/$run"
        flags=()
        header=()
        case "$mode" in
        anonymous) flags=(--anonymous-execute) ;;
        personal)
            token="$("$hysope" admin token create --user bench --role user --data-dir "$dir" 2>/dev/null | tail -n 1)"
            header=(--header "Authorization: Bearer $token")
            ;;
        oidc)
            flags=(--oidc-issuer "$issuer" --oidc-audience hysope)
            header=(--header "Authorization: Bearer $jwt")
            ;;
        esac
        HYSOPE_PLUGIN_PATH="$root/target/wasm32-wasip2/release" HYSOPE_CACHE_DIR="$work/cache" \
            "$hysope" serve --addr "127.0.0.1:$port" --data-dir "$dir" --processes "$work" "${flags[@]}" \
            2>"$work/log" &
        server=$!
        for _ in $(seq 100); do
            curl -sf "http://127.0.0.1:$port/processes" >/dev/null && break
            sleep 0.2
        done
        "$root/target/release/http-load" "http://127.0.0.1:$port/processes/echo/execution" \
            --method POST --header 'Content-Type: application/json' "${header[@]}" \
            --body '{"inputs":{"stringInput":"x"}}' --connections "${CONNECTIONS:-16}" \
            --duration "${SECONDS_PER_RUN:-5}" --warmup 1 >"$work/out" &
        load=$!
        sleep 1
        before="$(cpu)"
        wait "$load"
        ticks=$(($(cpu) - before))
        python3 -c 'import json, sys
d = json.loads(open(sys.argv[1]).read())
print(sys.argv[4], d["rps"], d["p99_ms"], d["errors"], json.dumps(d["statuses"], separators=(",", ":")), "%.3f" % (int(sys.argv[2]) * 1000 / int(sys.argv[3]) / max(d["requests"], 1)))' \
            "$work/out" "$ticks" "$(getconf CLK_TCK)" "$mode" | tee -a "$work/rows"
    done
done
python3 - "$work/rows" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
med = {m: statistics.median(float(r[1]) for r in rows if r[0] == m) for m in ("anonymous", "personal", "oidc")}
for m, v in med.items():
    print(f"median {m}: {v:.1f} req/s, {v / med['anonymous']:.3f}x anonymous")
PY
