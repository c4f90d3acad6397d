#!/usr/bin/env bash
# "Distributed on one machine": the scale-out parts, real servers, on loopback.
# Starts PostgreSQL (jobs, queue, personal tokens, deployed processes, the
# plugin registry's records; the catalogue in pgstac), RabbitMQ (the queue) and
# SeaweedFS (S3: the results and the registry's blobs) with the scripts of
# deploy/services, ingests the product files of the folders given (default
# ../shared/data) into the shared catalogue, then runs two gateways
# (`hysope serve`, ports 5001 and 5002) and two workers (`hysope worker`, /ready
# and /metrics on 5101 and 5102), each with a data folder of its own under
# CLUSTER_DIR. A job accepted by one gateway runs on any worker (or gateway) and
# is followed, read and dismissed through either gateway.
#
#   bash deploy/run-cluster.sh [DATA_DIR...]
#
# It prints an operator's personal token (in the shared store: every gateway
# takes it). Stop with Ctrl-C: the four processes stop; the servers keep running
# (each script in deploy/services stops its own).
#
# Environment: HYSOPE_CLUSTER_DIR (default ./hysope-cluster).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$#" -eq 0 ]; then set -- "$root/../shared/data"; fi
cluster="${HYSOPE_CLUSTER_DIR:-hysope-cluster}"
mkdir -p "$cluster"
cluster="$(cd "$cluster" && pwd)"

# The bundled plugins and the release hysope ($hysope, HYSOPE_PLUGIN_PATH).
# shellcheck source=deploy/build-release.sh
. "$root/deploy/build-release.sh"

pg_server="$(sh "$root/deploy/services/postgres.sh")"
store="$pg_server"
catalog="pgstac://${pg_server#postgres://}"
catalog="${catalog%/*}/hysope"
amqp="$(sh "$root/deploy/services/rabbitmq.sh")?queue=hysope.cluster"
s3="$(sh "$root/deploy/services/seaweedfs.sh")"
# SeaweedFS takes any key from loopback; the S3 client wants some.
export AWS_ENDPOINT="$s3" AWS_ALLOW_HTTP=true AWS_DEFAULT_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=hysope AWS_SECRET_ACCESS_KEY=hysope
echo "store $store, catalogue $catalog, queue $amqp, S3 $s3"

roots=()
for dir in "$@"; do
    dir="$(cd "$dir" && pwd)"
    roots+=(--input-root "$dir")
    "$hysope" ingest "$dir" --catalog "$catalog"
done

token_file="$cluster/operator.token"
if [ ! -s "$token_file" ]; then
    (umask 077 && "$hysope" admin token create --store "$store" --user cluster-operator \
        --role operator --note run-cluster | tail -n 1 >"$token_file")
fi

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
common=(--store "$store" --queue "$amqp" --catalog "$catalog" --results "s3://results/cluster"
    --registry-blobs "s3://results/cluster-registry"
    --processes "$root/plugins" "${roots[@]}" --workers 2)
for n in 1 2; do
    "$hysope" serve --addr "127.0.0.1:500$n" --data-dir "$cluster/gateway-$n" "${common[@]}" &
    pids+=("$!")
    "$hysope" worker --addr "127.0.0.1:510$n" --data-dir "$cluster/worker-$n" "${common[@]}" &
    pids+=("$!")
done
echo
echo "gateways: http://127.0.0.1:5001/ and http://127.0.0.1:5002/ (STAC under /stac)"
echo "workers:  http://127.0.0.1:5101/ready and http://127.0.0.1:5102/ready"
echo "operator token: $(cat "$token_file") (in $token_file)"
wait
