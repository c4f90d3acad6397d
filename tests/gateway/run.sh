#!/usr/bin/env bash
# Real clients and linters against a running `hysope serve` (started here on a free
# loopback port with a fresh data folder): OWSLib and the EOEPCA processes client
# (clients.py) with a user's personal token, schemathesis on /api as each role
# (anonymous, user, developer, operator: no 5xx, responses as documented), and
# promtool on /metrics (an operator's).
#
# Needs target/debug/hysope, the wasm plugins, and the Python tools of .ci/run.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
work="$(mktemp -d)"
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
reach="$(ls "$root"/../shared/data/swot/SWOT_L2_HR_RiverSP_Reach_*.zip | head -n 1)"
reach="$(cd "$(dirname "$reach")" && pwd)/$(basename "$reach")"

# start NAME [serve flags]: starts a server; its URL is in $url.
start() {
    local name="$1"
    shift
    "$root/target/debug/hysope" serve --addr 127.0.0.1:0 --data-dir "$work/$name" \
        --input-root "$(dirname "$reach")" "$@" 2>"$work/$name.log" &
    servers+=("$!")
    url="$(server_url "$work/$name" "$!")" || { cat "$work/$name.log" >&2; exit 1; }
    echo "$name server at $url"
}

# A test CA and a certificate for 127.0.0.1 it signs, for an https subscriber; the
# clients' server trusts that CA only (SSL_CERT_FILE).
tls="$work/tls"
mkdir -p "$tls"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/ca.key" -out "$tls/ca.pem" \
    -days 2 -subj /CN=hysope-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout "$tls/leaf.key" -out "$tls/leaf.csr" \
    -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/leaf.ext"
openssl x509 -req -in "$tls/leaf.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
    -out "$tls/leaf.pem" -days 2 -extfile "$tls/leaf.ext" 2>/dev/null
# The same name signed by a CA the server does not trust: never to be called.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tls/rogue-ca.key" -out "$tls/rogue-ca.pem" \
    -days 2 -subj /CN=rogue-ca 2>/dev/null
openssl x509 -req -in "$tls/leaf.csr" -CA "$tls/rogue-ca.pem" -CAkey "$tls/rogue-ca.key" \
    -CAcreateserial -out "$tls/rogue.pem" -days 2 -extfile "$tls/leaf.ext" 2>/dev/null

# The clients also use the test tools (a waiting one, for dismissal).
export SSL_CERT_FILE="$tls/ca.pem"
# The https subscribers of clients.py listen on loopback: allowed for this server.
start clients --processes "$root/plugins" --processes "$root/gateway/server/tests/processes" \
    --allow-egress 127.0.0.1
unset SSL_CERT_FILE
HYSOPE_TOKEN="$(token "$work/clients" owslib user)" \
    python3 "$root/tests/gateway/clients.py" "$url" "$reach" "$tls"

# Property-based requests from the API definition: no response may be a 5xx, and
# responses must match their documented schemas (the stateful phase is left out: it
# infers links between unrelated paths and runs no scenario here). This server has the bundled plugins
# only (the test tool that always fails would answer its executions with 500).
start fuzz --processes "$root/plugins"
for role in anonymous user developer operator; do
    auth=()
    if [ "$role" != anonymous ]; then
        auth=(--header "Authorization: Bearer $(token "$work/fuzz" "fuzz-$role" "$role")")
    fi
    echo "schemathesis as $role"
    schemathesis run "$url/api" --phases examples,coverage,fuzzing \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples "${SCHEMATHESIS_EXAMPLES:-30}" --seed 1 --request-timeout 30 \
        --exclude-path-regex '/files/' --warnings off "${auth[@]}"
done

operator="$(token "$work/fuzz" prometheus operator)"
curl -sf -H "Authorization: Bearer $operator" "$url/metrics" | promtool check metrics
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/metrics")" = 401 ]
echo "promtool: /metrics clean (an operator's; 401 without a token)"

# The HTML pages in a real headless Chromium (it asks for text/html first): the DOM
# after load must hold what the JSON says.
page() { # URL TEXT...
    local dom
    dom="$(chromium --headless --no-sandbox --disable-gpu --dump-dom "$1" 2>/dev/null)"
    shift
    for text in "$@"; do
        if ! grep -qF -- "$text" <<<"$dom"; then
            echo "chromium: $text not in the page" >&2
            exit 1
        fi
    done
}
page "$url/?f=html" "<h1>Hysope</h1>" "/processes?f=html"
page "$url/" 'class="brand" href="/portal/"' '/processes?f=html' # a browser at / is sent to the portal
page "$url/processes" "<h1>Processes</h1>" "swot-river-filter" "/processes/echo?f=html"
page "$url/processes/swot-river-filter" "<h1>Process swot-river-filter</h1>" "unknown_flags"
page "$url/conformance" "conf/core"
echo "chromium: HTML pages ok"
