#!/usr/bin/env bash
# STYX, the science testbed, against a running server: the Python client
# (clients/python, installed with pip as a user would) tested with pytest, then every
# notebook of notebooks/ executed with pytest --nbmake (each ends in assertions on
# known numbers), then the JupyterHub values checked (deploy/jupyterhub/check.py).
#
# The server holds ../shared/data, ingested before it starts, and the bundled plugins;
# the clients carry a user's token (HYSOPE_TOKEN) and the tests also an operator's
# (HYSOPE_OPERATOR_TOKEN, for the token routes).
#
# Needs target/debug/hysope, the bundled plugins built, and the Python tools of
# tests/install-tools.sh.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
data="$(cd "$root/../shared/data" && pwd)"
hysope="${HYSOPE_BIN:-$root/target/debug/hysope}"
work="$(mktemp -d)"
server=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 -m pip install --quiet --disable-pip-version-check "$root/clients/python[test]"

"$hysope" ingest "$data" --data-dir "$work/data" 2>"$work/ingest.log"
tail -n 1 "$work/ingest.log"
HYSOPE_TOKEN="$("$hysope" admin token create --user styx --role user --data-dir "$work/data" 2>/dev/null | tail -n 1)"
HYSOPE_OPERATOR_TOKEN="$("$hysope" admin token create --user styx-operator --role operator \
    --data-dir "$work/data" 2>/dev/null | tail -n 1)"
export HYSOPE_TOKEN HYSOPE_OPERATOR_TOKEN

"$hysope" serve --addr 127.0.0.1:0 --data-dir "$work/data" --processes "$root/plugins" \
    --input-root "$data" --input-root "$root/plugins" 2>"$work/serve.log" &
server="$!"
HYSOPE_URL="$(server_url "$work/data" "$server")" || { cat "$work/serve.log" >&2; exit 1; }
export HYSOPE_URL HYSOPE_DATA="$data"
echo "styx: server at $HYSOPE_URL"

# The client's tests run from a copy of nothing but the tests: the package under test
# is the one pip installed, not the source folder.
(cd "$work" && python3 -m pytest -q -p no:cacheprovider "$root/clients/python/tests" --rootdir "$work") \
    || { tail -n 30 "$work/serve.log" >&2; exit 1; }
# The notebooks as a user runs them: their outputs stripped in the repository,
# executed top to bottom here with the server's URL from HYSOPE_URL.
(cd "$root/notebooks" && python3 -m pytest -q -p no:cacheprovider --nbmake --nbmake-timeout=600 ./*.ipynb) \
    || { tail -n 30 "$work/serve.log" >&2; exit 1; }
python3 "$root/notebooks/check_stripped.py" "$root/notebooks"/*.ipynb
python3 "$root/deploy/jupyterhub/check.py"
