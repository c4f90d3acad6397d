#!/usr/bin/env bash
# STAC search as an independent review measured it: ITEMS SWOT-like items with swath
# polygons over the nine continents and two assets each (swath_items.py), posted
# through hysope's transaction API and loaded into `rustac serve` (memory backend)
# from the same ndjson; one client on a keep-alive connection (http-load), p50 and
# p99 over SECONDS for: POST /search with the collection and limit 100, the pages
# after it (the next link of page 1, then of page 50), a bbox and datetime search,
# GET limit 10.
#
#   bash tests/bench/stac-search-bench.sh [SECONDS] [ITEMS] [HREF_BASE]
#
# HREF_BASE: see swath_items.py (`/archive` for hrefs relative to the server).
# ACCEPT_ENCODING=gzip makes the client ask for compressed replies, as Python's
# requests and browsers do.
#
# Needs target/release/hysope and target/release/http-load
# (cargo build --release -p hysope-cli -p hysope-tests) and rustac (RUSTAC_PYTHON
# names a Python with the rustac package, default python3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
seconds="${1:-10}"
items="${2:-100000}"
href_base="${3:-https://archive.swot.example}"
py="${RUSTAC_PYTHON:-python3}"
rustac="$(rustac_of "$py")"
bench_scratch
hysope="$root/target/release/hysope"
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

python3 "$root/tests/bench/swath_items.py" "$items" "$work" "$href_base"
"$hysope" serve --addr 127.0.0.1:0 --data-dir "$work/hysope" --processes "$work/none" 2>"$work/hysope.log" &
pids+=("$!")
hs="$(server_url "$work/hysope" "$!")/stac"
operator="$(HYSOPE_BIN="$hysope" token "$work/hysope" bench operator)"
curl -sf -X POST "$hs/collections" -H "Authorization: Bearer $operator" -H 'Content-Type: application/json' \
    -d @"$work/collection.json" >/dev/null
python3 "$root/tests/bench/stac_load.py" "$work/items.ndjson" "$hs" "$operator" swot
"$rustac" serve --addr 127.0.0.1:7898 "$work/collection.json" "$work/items.ndjson" >"$work/rustac.log" 2>&1 &
pids+=("$!")
for _ in $(seq 900); do curl -sf "http://127.0.0.1:7898/search?limit=1" >/dev/null 2>&1 && break; sleep 0.2; done
rs="http://127.0.0.1:7898"

# The next links of pages 1 and 50, as each server writes them.
next_of() { # URL BODY PAGES
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys, urllib.request
url, body, pages = sys.argv[1], sys.argv[2], int(sys.argv[3])
req = urllib.request.Request(url, data=body.encode(), method="POST", headers={"Content-Type": "application/json"})
for _ in range(pages):
    page = json.load(urllib.request.urlopen(req))
    link = next(l for l in page["links"] if l["rel"] == "next")
    if link.get("method", "GET") == "POST":
        req = urllib.request.Request(link["href"], data=json.dumps(link.get("body", {})).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    else:
        req = urllib.request.Request(link["href"])
print(json.dumps({"url": req.full_url, "method": req.get_method(), "body": (req.data or b"").decode()}))
PY
}
body='{"collections": ["swot"], "limit": 100}'
enc=()
[ -n "${ACCEPT_ENCODING:-}" ] && enc=(--header "Accept-Encoding: $ACCEPT_ENCODING")
lat() { "$root/target/release/http-load" "$@" "${enc[@]}" --connections 1 --duration "$seconds" --warmup 1; }
printf '| %s items | server | p50 (ms) | p99 (ms) | req/s | statuses |\n|---|---|---|---|---|---|\n' "$items"
for server in hysope rustac; do
    base="$hs"; [ "$server" = rustac ] && base="$rs"
    row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$server" "$(field "$2" p50_ms)" "$(field "$2" p99_ms)" "$(field "$2" rps)" "$(field "$2" statuses)"; }
    row "POST /search collections, limit 100" "$(lat "$base/search" --method POST --header 'Content-Type: application/json' --body "$body")"
    for pages in 1 50; do
        n="$(next_of "$base/search" "$body" "$pages")"
        url="$(field "$n" url)"; method="$(field "$n" method)"; nbody="$(field "$n" body)"
        if [ "$method" = POST ]; then
            r="$(lat "$url" --method POST --header 'Content-Type: application/json' --body "$nbody")"
        else
            r="$(lat "$url")"
        fi
        row "page $((pages + 1)) (next link, $method)" "$r"
    done
    row "GET /search bbox + datetime, limit 100" "$(lat "$base/search?bbox=-10,36,40,71&datetime=2024-01-01T00:00:00Z/2024-06-30T00:00:00Z&limit=100")"
    row "GET /search limit 10" "$(lat "$base/search?limit=10")"
done
