#!/usr/bin/env bash
# Hypervision (issue 24, HYDRA) checked with the real tools and a live server:
#   1. deploy/prometheus: `promtool check config` and `check rules`, and
#      `promtool test rules` (a firing and a quiet case for every alert);
#      deploy/alertmanager: `amtool check-config`; every expression of the
#      Grafana dashboard (deploy/grafana) through `promtool check rules`.
#   2. `hysope serve` on a 64 MiB tmpfs (its data folder, so its store) with
#      some activity (an ingestion, the jobs of a production rule and the skips
#      of another, a job that succeeds, one the sandbox stops),
#      scraped every second by a real Prometheus that loads rules.yml:
#      `promtool check metrics` on /metrics, then every dashboard expression and
#      every recorded series queried there, each answering data.
#   3. The disk filled: a write fails, /readyz answers 503 naming the store,
#      Prometheus sees hysope_ready{check="store"} at 0 and HysopeNotReady
#      pending; the disk freed: /readyz is 200 again without a restart, what was
#      written before is there, new writes succeed.
#
# Needs root (mount -t tmpfs), target/debug/hysope, the wasm plugins and the test
# guests (target/wasm32-wasip2/release), prometheus, promtool and amtool
# (tests/install-tools.sh).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
hysope="$root/target/debug/hysope"
work="$(mktemp -d)"
disk="$work/disk"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    mountpoint -q "$disk" && umount "$disk"
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "hypervision: $*" >&2
    exit 1
}

# 1. The files as they are.
cd "$root/deploy"
promtool check rules prometheus/rules.yml
promtool test rules prometheus/tests.yml
amtool check-config alertmanager/alertmanager.yml
echo "token" >"$work/token"
sed "s#/etc/prometheus/hysope-token#$work/token#; s#- rules.yml#- $root/deploy/prometheus/rules.yml#" \
    prometheus/prometheus.yml >"$work/prometheus-check.yml"
promtool check config "$work/prometheus-check.yml"
# The dashboard's expressions, Grafana's variables given values, as recording
# rules: promtool parses each.
python3 - "$root/deploy/grafana/dashboards/hysope.json" "$work/dashboard-rules.yml" "$work/dashboard-exprs.json" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
exprs = []
for panel in dash["panels"]:
    for target in panel.get("targets", []):
        expr = target["expr"].replace("$__rate_interval", "1m").replace("$instance", ".*")
        exprs.append({"panel": panel["title"], "expr": expr})
assert len(exprs) >= 25, len(exprs)
rules = {"groups": [{"name": "dashboard", "rules": [
    {"record": f"dashboard:expr_{n}", "expr": e["expr"]} for n, e in enumerate(exprs)]}]}
json.dump(rules, open(sys.argv[2], "w"), indent=1)
json.dump(exprs, open(sys.argv[3], "w"))
print(f"dashboard: {len(exprs)} expressions in {sum(p['type'] != 'row' for p in dash['panels'])} panels")
PY
promtool check rules "$work/dashboard-rules.yml"
cd "$root"

# 2. A server on a small disk, with some activity.
mkdir -p "$disk"
mount -t tmpfs -o size=64m tmpfs "$disk" || fail "cannot mount a tmpfs (this test needs root)"
"$hysope" serve --addr 127.0.0.1:0 --data-dir "$disk/data" --processes "$root/plugins" \
    --processes "$root/tests/hypervision/processes" --input-root "$root/../shared/data" \
    2>"$work/hysope.log" &
pids+=("$!")
url="$(server_url "$disk/data" "$!")" || { cat "$work/hysope.log" >&2; exit 1; }
operator="$(token "$disk/data" prometheus operator)"
[ -n "$operator" ] || fail "no operator token"
printf '%s' "$operator" >"$work/token"
auth=(-H "Authorization: Bearer $operator")
[ "$(curl -s "$url/livez")" = ok ] || fail "/livez is not ok"
[ "$(curl -s "$url/readyz")" = ok ] || fail "/readyz is not ok"
# Two production rules on the gauge files: one makes a job of each, one cannot
# take its input from them (its skips are counted).
for rule in \
    '{"id": "gauges", "process": "echo", "trigger": {"type": "item", "collections": ["USGS_NWIS_peaks", "USGS_NWIS_values", "USGS_NWIS_ratings"]}, "inputs": {"stringInput": {"value": "a gauge file"}}}' \
    '{"id": "no-such-asset", "process": "echo", "trigger": {"type": "item", "collections": ["USGS_NWIS_peaks"]}, "inputs": {"fileInput": {"asset": "nope"}}}'; do
    curl -sf "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/rules" -d "$rule" >/dev/null
done
curl -sf "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/stac/ingest" \
    -d "{\"paths\": [\"$(cd "$root/../shared/data/usgs" && pwd)\"]}" >/dev/null
curl -sf "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/processes/echo/execution" \
    -d '{"inputs": {"stringInput": "scraped"}}' >/dev/null
status="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
    -X POST "$url/processes/trap/execution" -d '{"inputs": {}}')"
[ "$status" = 500 ] || fail "the trapping process answered $status"
for _ in $(seq 100); do
    curl -sf "${auth[@]}" "$url/metrics" | grep -q '^hysope_rule_triggers_total{outcome="job",rule="gauges"} 3$' && break
    sleep 0.2
done
curl -sf "${auth[@]}" "$url/metrics" | promtool check metrics
curl -sf "${auth[@]}" "$url/metrics" | grep -q '^hysope_job_failures_total{cause="trap"} 1$' || {
    curl -sf "${auth[@]}" "$url/metrics" | grep '^hysope_job_failures_total\|^hysope_rule' >&2
    fail "the trap is not counted"
}

prom_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
prom="http://127.0.0.1:$prom_port"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/deploy/prometheus/rules.yml
scrape_configs:
  - job_name: hysope
    authorization:
      type: Bearer
      credentials_file: $work/token
    static_configs:
      - targets: ["${url#http://}"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do curl -sf "$prom/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf "$prom/-/ready" >/dev/null || { cat "$work/prometheus.log" >&2; fail "Prometheus did not start"; }
# Enough scrapes for the rates (1 m windows, a scrape a second).
sleep 8

# query EXPR: the result vector of an instant query (exits on an error).
query() {
    curl -sf --get "$prom/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
reply = json.load(sys.stdin)
assert reply["status"] == "success", reply
print(json.dumps(reply["data"]["result"]))'
}
python3 - "$prom" "$work/dashboard-exprs.json" "$root/deploy/prometheus/rules.yml" <<'PY'
import json, sys, urllib.parse, urllib.request, yaml
prom, exprs, rules = sys.argv[1], json.load(open(sys.argv[2])), yaml.safe_load(open(sys.argv[3]))
def query(expr):
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    reply = json.load(urllib.request.urlopen(url))
    assert reply["status"] == "success", (expr, reply)
    return reply["data"]["result"]
empty = [e for e in exprs if not query(e["expr"])]
assert not empty, "dashboard expressions without data: " + json.dumps(empty, indent=1)
recorded = [r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r]
missing = [r for r in recorded if not query(r)]
assert not missing, f"recorded series without data: {missing}"
print(f"Prometheus: {len(exprs)} dashboard expressions and {len(recorded)} recorded series answer data")
PY

# 3. The disk filled, then freed. A collection and an item written before.
curl -sf "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/stac/collections" \
    -d '{"type": "Collection", "id": "fill", "stac_version": "1.0.0", "description": "filler", "license": "CC0-1.0", "links": [], "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[null, null]]}}}' \
    >/dev/null
python3 - "$work/item.json" <<'PY'
import json, sys
json.dump({"type": "Feature", "stac_version": "1.0.0", "id": "ID", "collection": "fill",
           "geometry": {"type": "Point", "coordinates": [1, 43]}, "bbox": [1, 43, 1, 43],
           "properties": {"datetime": "2024-01-01T00:00:00Z", "padding": "x" * 400_000},
           "links": [], "assets": {}}, open(sys.argv[1], "w"))
PY
sed "s/\"ID\"/\"before\"/" "$work/item.json" >"$work/item-n.json"
curl -sf "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/stac/collections/fill/items" \
    --data-binary @"$work/item-n.json" >/dev/null
dd if=/dev/zero of="$disk/filler" bs=1M 2>/dev/null || true
refused=""
for n in $(seq 200); do
    sed "s/\"ID\"/\"item-$n\"/" "$work/item.json" >"$work/item-n.json"
    status="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/json' \
        -X POST "$url/stac/collections/fill/items" --data-binary @"$work/item-n.json")"
    if [ "$status" != 201 ] && [ "$status" != 200 ]; then refused="$n ($status)"; break; fi
done
[ -n "$refused" ] || fail "200 items written to a full disk"
echo "the full disk refused item $refused"
ready="$(curl -s -w '\n%{http_code}' "$url/readyz")"
echo "$ready"
[ "$(tail -n 1 <<<"$ready")" = 503 ] || fail "/readyz is not 503 with a full disk"
grep -q '^\[-\]store failed: ' <<<"$ready" || fail "/readyz does not name the store"
sleep 3
[ "$(query 'hysope_ready{check="store"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["value"][1])')" = 0 ] || {
    curl -s "$prom/api/v1/targets" >&2
    curl -s -o /dev/null -w '%{http_code}\n' "${auth[@]}" "$url/metrics" >&2
    tail -5 "$work/hysope.log" >&2
    fail "Prometheus does not see the store's check fail"
}
curl -sf "$prom/api/v1/alerts" | python3 -c '
import json, sys
alerts = json.load(sys.stdin)["data"]["alerts"]
mine = [a for a in alerts if a["labels"]["alertname"] == "HysopeNotReady" and a["labels"].get("check") == "store"]
assert mine and mine[0]["state"] in ("pending", "firing"), alerts
print("Prometheus: HysopeNotReady", mine[0]["state"])'

rm -f "$disk/filler"
back=""
for n in $(seq 120); do
    if [ "$(curl -s "$url/readyz")" = ok ]; then back="$n"; break; fi
    sleep 0.5
done
[ -n "$back" ] || { curl -s "$url/readyz?verbose" >&2; fail "/readyz did not come back within 60 s of the disk's freeing"; }
echo "/readyz ok again after $(( back / 2 )) s, no restart"
curl -sf "$url/stac/collections/fill/items/before" >/dev/null || fail "an item written before the fault is gone"
sed "s/\"ID\"/\"after\"/" "$work/item.json" >"$work/item-n.json"
curl -sf "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/stac/collections/fill/items" \
    --data-binary @"$work/item-n.json" >/dev/null || fail "no write after the disk was freed"
kill -0 "${pids[0]}" || fail "the server is gone"
echo "hypervision: passed"
