#!/usr/bin/env bash
# Scale-out benchmark (issue 21): jobs per second of an I/O-bound tool with 1, 2,
# 4 and 8 workers (a gateway and `hysope worker`s sharing PostgreSQL and RabbitMQ, against one embedded
# process with as many worker slots), and synchronous execute latency distributed
# against embedded. See tests/bench/scale-out-bench.py.
#
#   bash tests/bench/scale-out-bench.sh [ROUNDS]
#
# SLEEP (0.25 s per job), JOBS_PER_WORKER (20) and SYNC_REQUESTS (200) as
# variables. Builds the release hysope; starts the loopback PostgreSQL and RabbitMQ.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# The same packages as pgstac-bench.sh needs: one feature set, one build.
cargo build --release -p hysope-cli -p hysope-tests --manifest-path "$root/Cargo.toml" >/dev/null
pg="$(sh "$root/deploy/services/postgres.sh")"
amqp="$(sh "$root/deploy/services/rabbitmq.sh")"
export HYSOPE_PLUGIN_PATH="$root/target/wasm32-wasip2/release"
# The bundled echo and the waiting tool of the gateway tests.
processes="$(mktemp -d)"
trap 'rm -rf "$processes"' EXIT
cp "$root/plugins/echo/echo.cwl" "$root/gateway/server/tests/processes/sleep.cwl" "$processes/"
python3 "$root/tests/bench/scale-out-bench.py" "$root/target/release/hysope" "$processes" "$pg" "$amqp" "${1:-3}"
