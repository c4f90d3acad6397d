#!/bin/sh
# A PostgreSQL 15 server with PostGIS on loopback, for the tests and the
# "distributed on one machine" demo (deploy/run-cluster.sh). Idempotent: installs
# what is missing (Debian packages, as root), creates the cluster once, starts it
# when it is not running, and prints its URL.
#
#   HYSOPE_PG_DIR   the cluster's folder (default /var/tmp/hysope-postgres)
#   HYSOPE_PG_PORT  its port on 127.0.0.1 (default 54329)
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

if ! as_postgres "$bin/pg_ctl -D '$dir' status" >/dev/null 2>&1; then
    # Many connections (each test has its own schema and pool); fsync stays on:
    # the fault tests kill processes and expect committed rows to stay.
    as_postgres "$bin/pg_ctl -D '$dir' -l '$dir/server.log' -w -t 60 \
        -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c max_connections=300\" start" >/dev/null
fi

"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30
echo "postgres://postgres@127.0.0.1:$port/postgres"
