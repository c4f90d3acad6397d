#!/bin/sh
# A RabbitMQ broker on loopback, for the tests and the "distributed on one
# machine" demo. Idempotent: installs the Debian package when missing (as root),
# starts the broker when it does not answer, waits until it is ready, and prints
# its AMQP URL.
#
#   HYSOPE_RABBITMQ_DIR   its data and logs (default /var/tmp/hysope-rabbitmq)
#   HYSOPE_RABBITMQ_PORT  AMQP port on 127.0.0.1 (default 5672); Prometheus
#                         metrics on 15692
#   HYSOPE_RABBITMQ_TLS_PORT  amqps port (default 5671), with a certificate of
#                         a test CA (deploy/services/tls.sh, in DIR/tls):
#                         `rabbitmq.sh tls-url` prints the amqps URL that
#                         verifies the broker against that CA
#
# The guest user, which RabbitMQ lets in from loopback only: a test and demo
# broker, not a production one (point --queue at your own broker there).
#
# `sh deploy/services/rabbitmq.sh stop` stops it; `restart` stops and starts it
# (the fault tests restart the broker under queued jobs).
set -eu

dir=${HYSOPE_RABBITMQ_DIR:-/var/tmp/hysope-rabbitmq}
port=${HYSOPE_RABBITMQ_PORT:-5672}
tls_port=${HYSOPE_RABBITMQ_TLS_PORT:-5671}
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
export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf

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
start | tls-url) ;;
*)
    echo "usage: rabbitmq.sh [start|stop|restart|tls-url]" >&2
    exit 2
    ;;
esac

if ! ctl status >/dev/null 2>&1; then
    mkdir -p "$dir/mnesia" "$dir/log"
    [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[rabbitmq_prometheus].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
    sh "$(dirname "$0")/tls.sh" "$dir/tls" rabbitmq:rabbitmq
    cat >"$RABBITMQ_CONFIG_FILE" <<CONF
listeners.ssl.1 = 127.0.0.1:$tls_port
ssl_options.cacertfile = $dir/tls/ca.pem
ssl_options.certfile = $dir/tls/server.pem
ssl_options.keyfile = $dir/tls/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
    if [ "$(id -u)" -eq 0 ]; then
        chown -R rabbitmq:rabbitmq "$dir"
    fi
    nohup rabbitmq-server >"$dir/log/server.out" 2>&1 &
    ctl wait --timeout 60 "$RABBITMQ_PID_FILE" >/dev/null
fi
if [ "${1:-start}" = tls-url ]; then
    echo "amqps://guest:guest@localhost:$tls_port/%2f?cacert=$dir/tls/ca.pem"
else
    echo "amqp://guest:guest@127.0.0.1:$port/%2f"
fi
