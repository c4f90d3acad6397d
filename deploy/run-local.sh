#!/usr/bin/env bash
# Runs the Hysope portal on one machine with embedded defaults: builds the bundled
# plugins and the hysope command, ingests the product files of the folders given
# (default ../shared/data) into the catalogue (re-ingesting unchanged files is a
# no-op), then serves OGC API - Processes with the bundled processes (plugins/) and
# the STAC API of the catalogue under /stac, jobs and catalogue in embedded redb
# stores and results on local disk. The folders are also the input roots: a job may
# read any file under them by href (file://...). The bundled production rules
# (plugins/rules) are made at the first start, placed after the files ingested
# here: they fire on the files ingested later (a new RiverSP reach product is
# filtered, a new LakeSP Prior pass compared with the one before).
#
#   bash deploy/run-local.sh [DATA_DIR...]
#
# At its first start it makes a personal token of a local operator, kept in
# DATA_DIR/local-operator.token (mode 0600), and prints it beside the portal's
# address: executing, following jobs and the operators' routes need a token
# (`Authorization: Bearer TOKEN`); reading the catalogue and the processes does not.
#
# Environment: HYSOPE_ADDR (default 127.0.0.1:5000), HYSOPE_DATA_DIR (default
# ./hysope-data). Stop with Ctrl-C; accepted jobs survive a stop or a crash and run
# when the portal starts again.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$#" -eq 0 ]; then set -- "$root/../shared/data"; fi

# The bundled plugins and the release hysope ($hysope, HYSOPE_PLUGIN_PATH).
# shellcheck source=deploy/build-release.sh
. "$root/deploy/build-release.sh"

roots=()
for dir in "$@"; do
    dir="$(cd "$dir" && pwd)"
    roots+=(--input-root "$dir")
    count="$(find "$dir" -name 'SWOT_L2_HR_*' -type f | wc -l)"
    echo "input root $dir: $count SWOT files"
    "$root/target/release/hysope" ingest "$dir"
done
data_dir="${HYSOPE_DATA_DIR:-hysope-data}"
token_file="$data_dir/local-operator.token"
if [ ! -s "$token_file" ]; then
    token="$("$root/target/release/hysope" admin token create --user local --role operator \
        --note "made by deploy/run-local.sh" --data-dir "$data_dir" | tail -n 1)"
    (umask 077 && printf '%s\n' "$token" >"$token_file")
fi
echo "portal: http://${HYSOPE_ADDR:-127.0.0.1:5000}/  local operator token (in $token_file):"
echo "    $(cat "$token_file")"
exec "$root/target/release/hysope" serve --processes "$root/plugins" --rules "$root/plugins/rules" \
    "${roots[@]}"
