#!/usr/bin/env bash
# A real OCI client against the plugin registry of a running `hysope serve`
# (started here on a free loopback port with a fresh data folder): `oras` (the ORAS
# Python client, PyPI) pushes a signed component, pulls it back, attaches a second
# signature as a referrer, and sees its refused pushes answered with the OCI error
# codes (oras_client.py). Signatures are made by `ssh-keygen -Y sign`.
#
# Needs target/debug/hysope, the echo plugin built, and the Python tools of .ci/run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
work="$(mktemp -d)"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$root/target/debug/hysope" serve --addr 127.0.0.1:0 --data-dir "$work/data" 2>"$work/serve.log" &
pid="$!"
url="$(server_url "$work/data" "$pid")" || { cat "$work/serve.log" >&2; exit 1; }
echo "registry at $url"
dora="$(token "$work/data" dora developer)"
bob="$(token "$work/data" bob developer)"
operator="$(token "$work/data" curator operator)"
for user in dora bob; do
    ssh-keygen -q -t ed25519 -N "" -C "$user" -f "$work/$user"
done
# dora registers her key; bob's stays his.
curl -sf -X POST "$url/registry/keys" -H "Authorization: Bearer $dora" \
    -H 'content-type: application/json' \
    --data "$(python3 -c 'import json,sys; print(json.dumps({"key": open(sys.argv[1]).read()}))' "$work/dora.pub")" >/dev/null
wasm="$root/target/wasm32-wasip2/release/echo.wasm"
[ -f "$wasm" ] || { echo "no $wasm: build the tests first (cargo test builds the plugins)" >&2; exit 1; }
(cd "$work" && python3 "$root/tests/registry/oras_client.py" "$url" "$wasm" "$root/plugins/echo/echo.cwl" \
    "$dora" "$bob" "$operator" "$work")
echo "registry: oras checks passed"
