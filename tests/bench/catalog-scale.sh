#!/usr/bin/env bash
# The embedded catalogue at the scale of the SWOT river database, in one run:
# `catalog-scale` makes REACHES synthetic reaches seen PASSES times into DIR (when
# DIR holds no catalogue yet) and measures in process (open time, memory, search,
# series, a map page); then `hysope serve` on DIR and rustac (memory backend,
# loaded with the same items, exported through hysope's search) are measured over
# HTTP with one keep-alive client (http-load): POST /search in the reach collection
# at limit 100, GET limit 10, and on hysope alone a reach's full series, the series
# of 100 reaches, and a features page for a map view.
#
#   bash tests/bench/catalog-scale.sh DIR [REACHES] [PASSES] [SECONDS]
#
# Needs target/release/{hysope,http-load,catalog-scale}
# (cargo build --release -p hysope-cli -p hysope-tests) and rustac (RUSTAC_PYTHON
# names a Python with the rustac package, default python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
dir="$1"
reaches="${2:-249000}"
passes="${3:-40}"
seconds="${4:-10}"
py="${RUSTAC_PYTHON:-python3}"
rustac="$(rustac_of "$py")"
release="$root/target/release"
bench_scratch
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

[ -f "$dir/store.redb" ] || "$release/catalog-scale" "$dir" "$reaches" "$passes"
"$release/catalog-scale" "$dir" "$reaches" "$passes"

"$release/hysope" serve --addr 127.0.0.1:0 --data-dir "$dir" --processes "$work/none" 2>"$work/serve.log" &
pids+=("$!")
hs="$(server_url "$dir" "$!")"
rss="$(awk '/VmRSS/ {print $2}' "/proc/${pids[0]}/status")"
echo "hysope serve on the catalogue: $((rss / 1024)) MiB resident"

# The items, exported through the search API for rustac.
python3 - "$hs/stac" "$work/items.ndjson" "$work/collection.json" <<'PY'
import json, sys, urllib.request
base, out, coll = sys.argv[1], sys.argv[2], sys.argv[3]
url, n = f"{base}/search?collections=SWOT_L2_HR_RiverSP_Reach&limit=1000", 0
with open(out, "w") as f:
    while url:
        page = json.load(urllib.request.urlopen(url))
        for item in page["features"]:
            item["links"] = []
            f.write(json.dumps(item) + "\n")
            n += 1
        url = next((l["href"] for l in page["links"] if l["rel"] == "next"), None)
c = json.load(urllib.request.urlopen(f"{base}/collections/SWOT_L2_HR_RiverSP_Reach"))
c["links"] = []
json.dump(c, open(coll, "w"))
print(f"exported {n} items for rustac")
PY
"$rustac" serve --addr 127.0.0.1:7897 "$work/collection.json" "$work/items.ndjson" >"$work/rustac.log" 2>&1 &
pids+=("$!")
for _ in $(seq 900); do curl -sf "http://127.0.0.1:7897/search?limit=1" >/dev/null 2>&1 && break; sleep 0.2; done

lat() { "$release/http-load" "$@" --connections 1 --duration "$seconds" --warmup 1; }
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$(field "$3" p50_ms)" "$(field "$3" p99_ms)" "$(field "$3" rps)" "$(field "$3" statuses)"; }
body='{"collections": ["SWOT_L2_HR_RiverSP_Reach"], "limit": 100}'
printf '| over HTTP | server | p50 (ms) | p99 (ms) | req/s | statuses |\n|---|---|---|---|---|---|\n'
for server in hysope rustac; do
    base="$hs/stac"; [ "$server" = rustac ] && base="http://127.0.0.1:7897"
    row "POST /search, the reach collection, limit 100" "$server" "$(lat "$base/search" --method POST --header 'Content-Type: application/json' --body "$body")"
    row "GET /search limit 10" "$server" "$(lat "$base/search?limit=10")"
done
# A reach in the middle of the first 10,000 ids, the 100 reaches from it, the
# smallest box around it (grown by 10 %) that holds 100 reaches or more, and a
# 10-degree box around it for a map view.
read -r reach hundred box100 n100 box nbox <<<"$(python3 - "$hs" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def get(url):
    return json.load(urllib.request.urlopen(base + url))
page = get("/features/collections/reaches/items?limit=10000")
ids = [f["id"] for f in page["features"]]
mid = ids[len(ids) // 2]
b = page["features"][len(ids) // 2]["bbox"]
x, y = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
def around(h):
    return f"{x - h:.4f},{y - h:.4f},{x + h:.4f},{y + h:.4f}"
def count(box):
    return len(get(f"/features/collections/reaches/items?bbox={box}&limit=10000")["features"])
h = 0.05
while count(around(h)) < 100:
    h *= 1.1
print(mid, ",".join(ids[len(ids) // 2: len(ids) // 2 + 100]), around(h), count(around(h)),
      around(5), count(around(5)))
PY
)"
row "a reach's full series, CSV" hysope "$(lat "$hs/timeseries/reaches?ids=$reach&fields=wse,wse_u,width&output=csv")"
row "100 reaches' series by ids, CSV" hysope "$(lat "$hs/timeseries/reaches?ids=$hundred&fields=wse,wse_u,width&output=csv")"
row "the series of a box of $n100 reaches, CSV" hysope "$(lat "$hs/timeseries/reaches?bbox=$box100&fields=wse,wse_u,width&output=csv")"
row "features page, 10-degree box ($nbox reaches), limit 1000" hysope "$(lat "$hs/features/collections/reaches/items?bbox=$box&limit=1000")"
