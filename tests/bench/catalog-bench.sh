#!/usr/bin/env bash
# Catalogue benchmarks, in one run:
# - ingest throughput: `hysope ingest ../shared/data` into a fresh data folder,
#   ROUNDS times (median MB/s), beside the time Python's pyshp + h5py take only to
#   read the same files (a reference, not an ingester);
# - search latency and throughput on ITEMS items (100,000 by default), hysope vs
#   `rustac serve` (PyPI rustac, memory backend) loaded with the same items:
#   median and p99 over SECONDS of one connection, and req/s with 16 connections.
#
#   bash tests/bench/catalog-bench.sh [SECONDS] [ITEMS] [ROUNDS]
#
# Needs target/release/hysope and target/release/http-load
# (cargo build --release -p hysope-cli -p hysope-tests) and a Python with
# rustac, pyshp and h5py (RUSTAC_PYTHON, default python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
seconds="${1:-10}"
items="${2:-100000}"
rounds="${3:-5}"
py="${RUSTAC_PYTHON:-python3}"
rustac="$(rustac_of "$py")"
data="$(cd "$root/../shared/data" && pwd)"
bench_scratch
hysope="$root/target/release/hysope"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# Ingest throughput.
bytes="$(find "$data" -type f ! -iname 'readme*' -printf '%s\n' | awk '{s+=$1} END {print s}')"
ingest_times=()
for r in $(seq "$rounds"); do
    start=$(date +%s.%N)
    "$hysope" ingest "$data" --data-dir "$work/ingest-$r" 2>/dev/null
    end=$(date +%s.%N)
    ingest_times+=("$(echo "$end - $start" | bc -l)")
done
read_times=()
for r in $(seq "$rounds"); do
    start=$(date +%s.%N)
    "$py" - "$data" <<'PY'
import glob, io, sys, zipfile, h5py, shapefile
data = sys.argv[1]
for path in glob.glob(f"{data}/swot/**/*.zip", recursive=True):
    z = zipfile.ZipFile(path)
    m = lambda ext: io.BytesIO(z.read(next(n for n in z.namelist() if n.lower().endswith(ext))))
    r = shapefile.Reader(shp=m(".shp"), dbf=m(".dbf"), shx=m(".shx"))
    r.shapes(); r.records()
for path in glob.glob(f"{data}/swot/*.nc"):
    with h5py.File(path, "r") as f:
        g = f["pixel_cloud"] if "pixel_cloud" in f else f
        for k in ("latitude", "longitude", "latitude_vectorproc", "longitude_vectorproc"):
            if k in g:
                g[k][:]
for path in glob.glob(f"{data}/usgs/*"):
    open(path).read()
PY
    end=$(date +%s.%N)
    read_times+=("$(echo "$end - $start" | bc -l)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ti="$(median "${ingest_times[@]}")"
tr="$(median "${read_times[@]}")"
printf '| ingest of ../shared/data (%s bytes, %s rounds) | median s | MB/s |\n|---|---|---|\n' "$bytes" "$rounds"
printf '| hysope ingest (items, observations, durable commits) | %.3f | %.1f |\n' "$ti" "$(echo "$bytes / $ti / 1000000" | bc -l)"
printf '| pyshp + h5py read only (reference) | %.3f | %.1f |\n\n' "$tr" "$(echo "$bytes / $tr / 1000000" | bc -l)"

# The same ITEMS items for both servers, made from the ingested SWOT items: ids,
# times over 2023-2026 and boxes moved so that they differ.
"$hysope" serve --addr 127.0.0.1:0 --data-dir "$work/ingest-1" --processes "$work/none" 2>"$work/seed.log" &
pids+=("$!")
seed="$(server_url "$work/ingest-1" "$!")"
curl -sf "$seed/stac/search?limit=100&collections=SWOT_L2_HR_RiverSP_Reach,SWOT_L2_HR_RiverSP_Node,SWOT_L2_HR_LakeSP_Prior,SWOT_L2_HR_PIXC,SWOT_L2_HR_PIXCVec" >"$work/seed.json"
python3 "$root/tests/bench/stac_items.py" "$work/seed.json" "$items" "$work"

# hysope, loaded through its transaction API (ItemCollections of 2,000).
"$hysope" serve --addr 127.0.0.1:0 --data-dir "$work/hysope" --processes "$work/none" 2>"$work/hysope.log" &
pids+=("$!")
hs="$(server_url "$work/hysope" "$!")/stac"
# Transactions are an operator's.
operator="$(HYSOPE_BIN="$hysope" token "$work/hysope" bench operator)"
curl -sf -X POST "$hs/collections" -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
    -d @"$work/collection.json" >/dev/null
load_start=$(date +%s.%N)
python3 "$root/tests/bench/stac_load.py" "$work/items.ndjson" "$hs" "$operator"
load_end=$(date +%s.%N)

# rustac serve, memory backend, loaded at start from the same files.
"$rustac" serve --addr 127.0.0.1:7899 "$work/collection.json" "$work/items.ndjson" >"$work/rustac.log" 2>&1 &
pids+=("$!")
for _ in $(seq 600); do curl -sf "http://127.0.0.1:7899/search?limit=1" >/dev/null 2>&1 && break; sleep 0.2; done
rs="http://127.0.0.1:7899"
n_h="$(curl -sf "$hs/search?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["numberMatched"])')"
echo "loaded: hysope $n_h items in $(echo "$load_end - $load_start" | bc -l | cut -c1-5) s; rustac from $(wc -l <"$work/items.ndjson") ndjson lines"
echo

lat() { "$root/target/release/http-load" "$1" --connections 1 --duration "$seconds" --warmup 1; }
thr() { "$root/target/release/http-load" "$1" --connections 16 --duration "$seconds" --warmup 1; }
printf '| search (%s items) | server | p50 (ms) | p99 (ms) | req/s, 1 conn | req/s, 16 conn | statuses |\n|---|---|---|---|---|---|---|\n' "$items"
results=()
for q in "search?limit=10" "search?limit=100" "search?collections=bench&limit=100" "search?bbox=0,0,20,20&limit=100" "collections/bench/items?limit=100"; do
    for server in hysope rustac; do
        base="$hs"; [ "$server" = rustac ] && base="$rs"
        a="$(lat "$base/$q")"
        b="$(thr "$base/$q")"
        printf '| GET /%s | %s | %s | %s | %s | %s | %s |\n' "$q" "$server" "$(field "$a" p50_ms)" "$(field "$a" p99_ms)" \
            "$(field "$a" rps)" "$(field "$b" rps)" "$(field "$a" statuses)"
        results+=("$a" "$b")
    done
done
