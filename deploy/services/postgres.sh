#!/bin/sh
# A PostgreSQL 15 server with PostGIS on loopback, for the tests and the
# "distributed on one machine" demo (deploy/run-cluster.sh). Idempotent: installs
# what is missing (Debian packages, as root), creates the cluster once, starts it
# when it is not running, and prints its URL.
#
#   HYSOPE_PG_DIR     the cluster's folder (default /var/tmp/hysope-postgres)
#   HYSOPE_PG_PORT    its port on 127.0.0.1 (default 54329)
#   HYSOPE_PG_PGSTAC  `no`: without the two pgstac databases (a server for the
#                     job store and queue only)
#
# `sh deploy/services/postgres.sh stop` stops it at once, as a crash would
# (`pg_ctl stop -m immediate`: the next start recovers from the write-ahead
# log); `restart` does that and starts it again, after HYSOPE_PG_DOWN seconds
# (default 0). The fault tests restart a server of their own under gateways.
#
# It also takes TLS connections, with a certificate of a test CA
# (deploy/services/tls.sh, in DIR/tls): `postgres.sh tls-url` prints the URL
# that asks for TLS and verifies the server against that CA.
#
# Trust authentication on loopback only: a test and demo server, not a
# production one (point --store at your own PostgreSQL there).
set -eu

dir=${HYSOPE_PG_DIR:-/var/tmp/hysope-postgres}
port=${HYSOPE_PG_PORT:-54329}
bin=/usr/lib/postgresql/15/bin

if [ ! -x "$bin/pg_ctl" ] || [ ! -d /usr/share/postgresql/15/extension ] \
    || ! ls /usr/share/postgresql/15/extension/postgis.control >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "postgres.sh: need root to apt-get install postgresql-15 and PostGIS" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql-15 postgresql-contrib postgresql-15-postgis-3 >/dev/null
fi

# Run the server's tools as its own user (initdb refuses root).
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "$*"
    else
        sh -c "$*"
    fi
}

if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    chmod 0700 "$dir"
    as_postgres "$bin/initdb -D '$dir' -A trust -U postgres -E UTF8 --locale=C.UTF-8" >/dev/null
fi
sh "$(dirname "$0")/tls.sh" "$dir/tls" postgres:postgres

stop() {
    if as_postgres "$bin/pg_ctl -D '$dir' status" >/dev/null 2>&1; then
        as_postgres "$bin/pg_ctl -D '$dir' -m immediate -w -t 60 stop" >/dev/null
    fi
}
case "${1:-start}" in
stop)
    stop
    exit 0
    ;;
restart)
    stop
    sleep "${HYSOPE_PG_DOWN:-0}"
    ;;
start | tls-url) ;;
*)
    echo "usage: postgres.sh [start|stop|restart|tls-url]" >&2
    exit 2
    ;;
esac

if ! as_postgres "$bin/pg_ctl -D '$dir' status" >/dev/null 2>&1; then
    # Many connections (each test has its own schema and pool); fsync stays on:
    # the fault tests kill processes and expect committed rows to stay.
    as_postgres "$bin/pg_ctl -D '$dir' -l '$dir/server.log' -w -t 60 \
        -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=300 \
        -c ssl=on -c ssl_cert_file='$dir/tls/server.pem' -c ssl_key_file='$dir/tls/server.key'\" start" >/dev/null
fi

"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30

# pgstac 0.10.0 (the SQL the pypgstac wheel ships, as pypgstac's own migrate
# runs it) in two databases made once: `hysope_pgstac`, the template each
# catalogue test copies (pgstac's schema has a fixed name, so a test gets a
# database of its own, not a schema), and `hysope`, the demo's catalogue.
pgstac_version=0.10.0
psql_q() {
    as_postgres "PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p $port -U postgres $*"
}
has_pgstac() {
    [ "$(psql_q "-d $1 -tA -c \"SELECT count(*) FROM pg_namespace WHERE nspname = 'pgstac'\"" 2>/dev/null)" = 1 ]
}
dbs="hysope_pgstac hysope"
[ "${HYSOPE_PG_PGSTAC:-yes}" = no ] && dbs=""
for db in $dbs; do
    if has_pgstac "$db"; then
        continue
    fi
    if [ -z "${pgstac_sql:-}" ]; then
        work=$(mktemp -d)
        python3 -m pip download -q --no-deps --dest "$work" "pypgstac==$pgstac_version" >/dev/null
        python3 -c 'import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
            "$work/pypgstac-$pgstac_version-py3-none-any.whl" \
            "pypgstac/migrations/pgstac.$pgstac_version.sql" "$work"
        pgstac_sql="$work/pypgstac/migrations/pgstac.$pgstac_version.sql"
        chmod -R a+rX "$work"
    fi
    psql_q "-d postgres -c 'DROP DATABASE IF EXISTS $db'" >/dev/null
    psql_q "-d postgres -c 'CREATE DATABASE $db'" >/dev/null
    psql_q "-d $db -f '$pgstac_sql'" >/dev/null
done
[ -n "${work:-}" ] && rm -rf "$work"
if [ "${1:-start}" = tls-url ]; then
    echo "postgres://postgres@localhost:$port/postgres?sslmode=verify-full&sslrootcert=$dir/tls/ca.pem"
else
    echo "postgres://postgres@127.0.0.1:$port/postgres"
fi
