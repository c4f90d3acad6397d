#!/bin/sh
# A RabbitMQ broker on loopback, for the tests and the "distributed on one
# machine" demo. Idempotent: installs the Debian package when missing (as root),
# starts the broker when it does not answer, waits until it is ready, and prints
# its AMQP URL.
#
#   HYSOPE_RABBITMQ_DIR   its data and logs (default /var/tmp/hysope-rabbitmq)
#   HYSOPE_RABBITMQ_PORT  AMQP port on 127.0.0.1 (default 5672); Prometheus
#                         metrics on 15692
#
# The guest user, which RabbitMQ lets in from loopback only: a test and demo
# broker, not a production one (point --queue at your own broker there).
#
# `sh deploy/services/rabbitmq.sh stop` stops it; `restart` stops and starts it
# (the fault tests restart the broker under queued jobs).
set -eu

dir=${HYSOPE_RABBITMQ_DIR:-/var/tmp/hysope-rabbitmq}
port=${HYSOPE_RABBITMQ_PORT:-5672}
node=rabbit@localhost

if ! command -v rabbitmq-server >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "rabbitmq.sh: need root to apt-get install rabbitmq-server" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
fi

export RABBITMQ_NODENAME=$node
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_MNESIA_BASE=$dir/mnesia
export RABBITMQ_LOG_BASE=$dir/log
export RABBITMQ_PID_FILE=$dir/rabbitmq.pid
export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins

ctl() {
    rabbitmqctl -q -n "$node" "$@"
}

stop() {
    if ctl status >/dev/null 2>&1; then
        ctl stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
    fi
}

case "${1:-start}" in
stop)
    stop
    exit 0
    ;;
restart)
    stop
    ;;
start) ;;
*)
    echo "usage: rabbitmq.sh [start|stop|restart]" >&2
    exit 2
    ;;
esac

if ! ctl status >/dev/null 2>&1; then
    mkdir -p "$dir/mnesia" "$dir/log"
    [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[rabbitmq_prometheus].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    if [ "$(id -u)" -eq 0 ]; then
        chown -R rabbitmq:rabbitmq "$dir"
    fi
    nohup rabbitmq-server >"$dir/log/server.out" 2>&1 &
    ctl wait --timeout 60 "$RABBITMQ_PID_FILE" >/dev/null
fi
echo "amqp://guest:guest@127.0.0.1:$port/%2f"
