#!/usr/bin/env bash
# STAC search on the catalogue in PostgreSQL with pgstac against the embedded
# store, in one run: ITEMS items (100,000 by default, made by stac_items.py from
# the ingested SWOT items) loaded through the transaction API of two `hysope
# serve` processes, one embedded (redb) and one with --catalog on a fresh pgstac
# database; then the same searches on both: median and p99 over SECONDS of one
# connection, and req/s with 16 connections (http-load).
#
#   bash tests/bench/pgstac-bench.sh [SECONDS] [ITEMS]
#
# Needs target/release/hysope and target/release/http-load
# (cargo build --release -p hysope-cli -p hysope-tests) and the PostgreSQL of
# deploy/services/postgres.sh (its pgstac template database).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
seconds="${1:-10}"
items="${2:-100000}"
data="$(cd "$root/../shared/data" && pwd)"
port="${HYSOPE_PG_PORT:-54329}"
work="$(mktemp -d)"
mkdir -p "$work/none"
database="hysope_bench_$$"
pg=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    "${pg[@]}" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
hysope="$root/target/release/hysope"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
"${pg[@]}" -c "CREATE DATABASE $database TEMPLATE hysope_pgstac"

# The items, from a page of ingested SWOT items.
"$hysope" ingest "$data" --data-dir "$work/seed" 2>/dev/null
"$hysope" serve --addr 127.0.0.1:0 --data-dir "$work/seed" --processes "$work/none" 2>"$work/seed.log" &
pids+=("$!")
seed="$(server_url "$work/seed" "$!")"
curl -sf "$seed/stac/search?limit=100&collections=SWOT_L2_HR_RiverSP_Reach,SWOT_L2_HR_RiverSP_Node,SWOT_L2_HR_LakeSP_Prior,SWOT_L2_HR_PIXC,SWOT_L2_HR_PIXCVec" >"$work/seed.json"
python3 "$root/tests/bench/stac_items.py" "$work/seed.json" "$items" "$work"

# Each server loaded through its transaction API.
declare -A url loaded
for store in embedded pgstac; do
    args=()
    [ "$store" = pgstac ] && args=(--catalog "pgstac://postgres@127.0.0.1:$port/$database")
    "$hysope" serve --addr 127.0.0.1:0 --data-dir "$work/$store" --processes "$work/none" "${args[@]}" \
        2>"$work/$store.log" &
    pids+=("$!")
    base="$(server_url "$work/$store" "$!")/stac"
    url[$store]="$base"
    operator="$(HYSOPE_BIN="$hysope" token "$work/$store" bench operator)"
    curl -sf -X POST "$base/collections" -H "Authorization: Bearer $operator" \
        -H 'Content-Type: application/json' -d @"$work/collection.json" >/dev/null
    start=$(date +%s.%N)
    python3 "$root/tests/bench/stac_load.py" "$work/items.ndjson" "$base" "$operator"
    end=$(date +%s.%N)
    loaded[$store]="$(echo "$end - $start" | bc -l | cut -c1-6)"
    n="$(curl -sf "$base/search?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')"
    echo "$store: $n items loaded in ${loaded[$store]} s"
done
echo

lat() { "$root/target/release/http-load" "$1" --connections 1 --duration "$seconds" --warmup 1; }
thr() { "$root/target/release/http-load" "$1" --connections 16 --duration "$seconds" --warmup 1; }
printf '| search (%s items) | store | p50 (ms) | p99 (ms) | req/s, 1 conn | req/s, 16 conn | statuses |\n|---|---|---|---|---|---|---|\n' "$items"
ratios=()
for q in "search?limit=10" "search?collections=bench&limit=100" "search?bbox=0,0,20,20&limit=100" \
    "search?datetime=2024-01-01T00:00:00Z/2024-02-01T00:00:00Z&limit=100" \
    "search?filter=swot:cycle_number%3D49&limit=100" "collections/bench/items?limit=100"; do
    declare -A p50
    for store in embedded pgstac; do
        a="$(lat "${url[$store]}/$q")"
        b="$(thr "${url[$store]}/$q")"
        p50[$store]="$(field "$a" p50_ms)"
        printf '| GET /%s | %s | %s | %s | %s | %s | %s |\n' "$q" "$store" "${p50[$store]}" "$(field "$a" p99_ms)" \
            "$(field "$a" rps)" "$(field "$b" rps)" "$(field "$a" statuses)"
    done
    ratios+=("$(printf '| GET /%s | %.2fx |' "$q" "$(echo "${p50[pgstac]} / ${p50[embedded]}" | bc -l)")")
done
echo
printf '| search | pgstac p50 / embedded p50 |\n|---|---|\n'
printf '%s\n' "${ratios[@]}"
echo
printf 'loading %s items (ItemCollections of 2,000): embedded %s s, pgstac %s s\n' "$items" "${loaded[embedded]}" "${loaded[pgstac]}"
