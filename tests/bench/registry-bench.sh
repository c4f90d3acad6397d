#!/usr/bin/env bash
# The plugin registry against the reference registry (issue 19): push and pull of a
# 2 MiB and a 64 MiB component (the echo plugin padded with a custom section) to
# Hysope's `/v2/` and to Debian's `docker-registry` (distribution 2.8, filesystem
# storage, no auth) on the same machine, in alternating rounds, with the same
# client (`oci-bench`: one keep-alive HTTP/1.1 connection, raw requests).
#
# Hysope's push does its whole publish (signature against the pusher's keys,
# descriptor, compile, world, one durable commit); the peer only stores. Pulls are
# anonymous on both (the Hysope version is approved first): the manifest by tag,
# then the layer read to the end.
#
#   apt-get install docker-registry      # the peer
#   cargo build --release -p hysope-cli -p hysope-tests
#   bash tests/bench/registry-bench.sh [ROUNDS]
#
# Prints per round and registry: push ms, pull median and p99 ms; then the medians
# over the rounds and Hysope's ratio to the peer. PULLS_SMALL (50) and PULLS_LARGE
# (10) pulls a round.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
rounds="${1:-3}"
hysope="${HYSOPE:-$root/target/release/hysope}"
bench="${OCI_BENCH:-$root/target/release/oci-bench}"
peer_bin="$(command -v docker-registry || true)"
[ -n "$peer_bin" ] || { echo "install the peer: apt-get install docker-registry" >&2; exit 1; }
work="$(mktemp -d)"
hport=7831
pport=7832
# shellcheck source=tests/bench/settle.sh
. "$root/tests/bench/settle.sh"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; remove_tree "$work"' EXIT
settle

# The components: echo.wasm with a custom section, 2 MiB and 64 MiB in all.
python3 - "$root/target/wasm32-wasip2/release/echo.wasm" "$work" <<'PY'
import sys
src, out = sys.argv[1], sys.argv[2]
base = open(src, "rb").read()
def leb(n):
    b = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            b.append(byte | 0x80)
        else:
            b.append(byte)
            return bytes(b)
for name, total in (("2m", 2 << 20), ("64m", 64 << 20)):
    label = b"hysope-bench-padding"
    # section id 0, size (LEB128), name length, name, payload
    payload_len = total - len(base) - 1 - 5 - 1 - len(label)
    body = leb(len(label)) + label + bytes(payload_len)
    data = base + b"\x00" + leb(len(body)) + body
    # Adjust the payload so that the file is exactly `total` bytes.
    extra = len(data) - total
    body = leb(len(label)) + label + bytes(payload_len - extra)
    data = base + b"\x00" + leb(len(body)) + body
    assert len(data) == total, (len(data), total)
    open(f"{out}/echo-{name}.wasm", "wb").write(data)
PY

# The peer.
cat >"$work/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/peer
http:
  addr: 127.0.0.1:$pport
YML
"$peer_bin" serve "$work/registry.yml" 2>"$work/peer.log" &
pids+=("$!")

# Hysope: an operator publishes (not bound by quotas), another approves.
data="$work/hysope"
publisher="$("$hysope" admin token create --user bench --role operator --data-dir "$data" 2>/dev/null | tail -n 1)"
reviewer="$("$hysope" admin token create --user reviewer --role operator --data-dir "$data" 2>/dev/null | tail -n 1)"
HYSOPE_CACHE_DIR="$work/cache" "$hysope" serve --addr "127.0.0.1:$hport" --data-dir "$data" \
    --no-publish-bundled 2>"$work/hysope.log" &
pids+=("$!")
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$hport/v2/" >/dev/null && curl -sf "http://127.0.0.1:$pport/v2/" >/dev/null && break
    sleep 0.1
done
ssh-keygen -q -t ed25519 -N "" -C bench -f "$work/key"
curl -sf -X POST "http://127.0.0.1:$hport/registry/keys" -H "Authorization: Bearer $publisher" \
    -H 'content-type: application/json' \
    --data "$(python3 -c 'import json,sys; print(json.dumps({"key": open(sys.argv[1]).read()}))' "$work/key.pub")" >/dev/null
for size in 2m 64m; do
    sig="$(ssh-keygen -Y sign -n hysope-component -f "$work/key" <"$work/echo-$size.wasm")"
    python3 -c 'import json,sys; json.dump({"dev.hysope.cwl": open(sys.argv[1]).read(), "dev.hysope.signature": sys.argv[2]}, open(sys.argv[3], "w"))' \
        "$root/plugins/echo/echo.cwl" "$sig" "$work/annotations-$size.json"
done

results="$work/results.tsv"
for round in $(seq "$rounds"); do
    for size in 2m 64m; do
        pulls="${PULLS_SMALL:-50}"
        [ "$size" = 64m ] && pulls="${PULLS_LARGE:-10}"
        tag="1.$round.0"
        order=(hysope peer)
        [ $((round % 2)) -eq 0 ] && order=(peer hysope)
        for who in "${order[@]}"; do
            sync
            if [ "$who" = hysope ]; then
                push="$("$bench" push "http://127.0.0.1:$hport" "bench/echo-$size" "$tag" "$work/echo-$size.wasm" \
                    --token "$publisher" --annotations "$work/annotations-$size.json")"
                curl -sf -X POST "http://127.0.0.1:$hport/registry/packages/bench/echo-$size/versions/$tag/review" \
                    -H "Authorization: Bearer $reviewer" -H 'content-type: application/json' \
                    --data '{"action": "approve", "reason": "benchmark"}' >/dev/null
                pull="$("$bench" pull "http://127.0.0.1:$hport" "bench/echo-$size" "$tag" --rounds "$pulls")"
            else
                push="$("$bench" push "http://127.0.0.1:$pport" "bench/echo-$size" "$tag" "$work/echo-$size.wasm")"
                pull="$("$bench" pull "http://127.0.0.1:$pport" "bench/echo-$size" "$tag" --rounds "$pulls")"
            fi
            median="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["median_ms"])' "$pull")"
            p99="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["p99_ms"])' "$pull")"
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$size" "$who" "$push" "$median" "$p99" | tee -a "$results"
        done
    done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
print("\nsize  registry  push ms (median)  pull median ms (median)  pull p99 ms (median)")
summary = {}
for size in ("2m", "64m"):
    for who in ("peer", "hysope"):
        mine = [r for r in rows if r[1] == size and r[2] == who]
        m = [statistics.median(float(r[i]) for r in mine) for i in (3, 4, 5)]
        summary[(size, who)] = m
        print(f"{size:4}  {who:8}  {m[0]:16.2f}  {m[1]:23.3f}  {m[2]:20.3f}")
    h, p = summary[(size, "hysope")], summary[(size, "peer")]
    print(f"{size:4}  ratio hysope/peer: push {h[0] / p[0]:.3f}, pull median {h[1] / p[1]:.3f}, pull p99 {h[2] / p[2]:.3f}")
PY
