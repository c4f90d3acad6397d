#!/usr/bin/env bash
# The catalogue against real clients: `hysope ingest` of ../shared/data (before the
# server starts, and again while it runs, through the server), stac-api-validator on
# every conformance class the server declares (offline, through
# ../shared/tools/stac_api_validate_offline.py), and pystac-client searches (bbox,
# datetime, CQL2 text, sort, fields, paging past 10,000 items), the time series
# (one reach; many reaches as CSV, GeoJSON and NetCDF read by pandas, json and xarray),
# the features,
# a process result as an item with its provenance,
# and an independent read of the files (pyshp, netCDF4 via h5netcdf) checked against
# the items.
#
# `run.sh pgstac`: the same against the catalogue on PostgreSQL with pgstac (a
# database copied from the template deploy/services/postgres.sh makes, dropped
# after), ingested directly rather than through the server.
#
# Needs target/debug/hysope and the Python tools of tests/install-tools.sh.
set -euo pipefail
mode="${1:-embedded}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=../lib.sh
source "$root/tests/lib.sh"
data="$(cd "$root/../shared/data" && pwd)"
work="$(mktemp -d)"
server=""
pg=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${HYSOPE_PG_PORT:-54329}" -U postgres -d postgres)
database=""
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    if [ -n "$database" ]; then
        wait "$server" 2>/dev/null || true
        "${pg[@]}" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
hysope="$root/target/debug/hysope"
catalog=()
case "$mode" in
    embedded) ;;
    pgstac)
        database="hysope_catalog_tests_$$"
        "${pg[@]}" -c "CREATE DATABASE $database TEMPLATE hysope_pgstac"
        catalog=(--catalog "pgstac://postgres@127.0.0.1:${HYSOPE_PG_PORT:-54329}/$database")
        ;;
    *) echo "usage: run.sh [embedded|pgstac]" >&2; exit 2 ;;
esac
echo "catalogue: $mode"

"$hysope" ingest "$data" --data-dir "$work/data" "${catalog[@]}" 2>"$work/ingest.log"
tail -n 1 "$work/ingest.log"
# An operator's personal token (transactions in stac-api-validator), made before the
# server holds the store; the clients carry it.
HYSOPE_TOKEN="$("$hysope" admin token create --user catalog-tests --role operator \
    --data-dir "$work/data" 2>/dev/null | tail -n 1)"
export HYSOPE_TOKEN

"$hysope" serve --addr 127.0.0.1:0 --data-dir "$work/data" --processes "$root/plugins" \
    --input-root "$data" --input-root "$root/plugins" "${catalog[@]}" 2>"$work/serve.log" &
server="$!"
url="$(server_url "$work/data" "$server")" || { cat "$work/serve.log" >&2; exit 1; }
echo "catalogue server at $url/stac"

# Ingesting while the server holds the catalogue goes through the server; a
# shared catalogue is written directly.
"$hysope" ingest "$data/usgs" --data-dir "$work/data" "${catalog[@]}" --json >"$work/again.json" 2>"$work/again.log"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); assert r['unchanged']==3 and r['stored']==0, r" "$work/again.json"
if [ "$mode" = embedded ]; then
    grep -q "holds the catalogue" "$work/again.log"
    echo "ingest while serving: forwarded to the server, 3 files unchanged"
else
    echo "ingest while serving: written to pgstac directly, 3 files unchanged"
fi

python3 "$root/../shared/tools/stac_api_validate_offline.py" --root-url "$url/stac" \
    --auth-bearer-token "$HYSOPE_TOKEN" \
    --collection SWOT_L2_HR_RiverSP_Reach \
    --geometry '{"type":"Polygon","coordinates":[[[-81,40],[-79,40],[-79,41],[-81,41],[-81,40]]]}' \
    --conformance core --conformance collections --conformance features --conformance item-search \
    --conformance filter --conformance item-search#sort --conformance item-search#fields \
    --conformance item-search#query --conformance features#sort --conformance features#fields \
    --conformance features#query --conformance transaction \
    --transaction-collection SWOT_L2_HR_RiverSP_Reach \
    --fields-nested-property properties.swot:cycle_number \
    --query-comparison-field swot:cycle_number --query-eq-value 1 --query-neq-value 2 \
    --query-lt-value 2 --query-lte-value 1 --query-gt-value 1 --query-gte-value 2 \
    --query-substring-field swot:crid --query-starts-with-value PG --query-ends-with-value A2 \
    --query-contains-value GA --query-in-field instruments --query-in-values karin,poseidon \
    >"$work/validator.log" 2>&1 || { grep -v '^INFO' "$work/validator.log" | tail -40; exit 1; }
grep -q "^Errors: none" "$work/validator.log" || { grep -v '^INFO' "$work/validator.log" | tail -40; exit 1; }
echo "stac-api-validator: every declared class passes"

python3 "$root/tests/catalog/clients.py" "$url" "$data"
# Features and the series of many reaches, read by pandas, json and xarray.
python3 "$root/tests/catalog/dissemination.py" "$url" "$data"
