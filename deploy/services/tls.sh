#!/bin/sh
# A test certificate authority and a server certificate for localhost and
# 127.0.0.1, for the TLS listeners of the test servers (postgres.sh,
# rabbitmq.sh). Made once in DIR; the keys are 0600 and, when run as root,
# OWNER's (the server's user).
#
#   sh deploy/services/tls.sh DIR [OWNER]
#
# DIR/ca.pem is what clients trust (`sslrootcert=` for PostgreSQL, `cacert=` for
# amqps); DIR/server.pem and DIR/server.key are the server's. A test CA, not a
# production one: a site's servers have certificates of their own.
set -eu
dir=$1
owner=${2:-}
if [ ! -s "$dir/server.pem" ] || [ ! -s "$dir/ca.pem" ]; then
    mkdir -p "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=Hysope test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=localhost" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" >"$dir/server.ext"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
        -CAcreateserial -days 3650 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
    rm -f "$dir/server.csr" "$dir/server.ext" "$dir/ca.srl"
fi
chmod 0600 "$dir/ca.key" "$dir/server.key"
chmod 0644 "$dir/ca.pem" "$dir/server.pem"
chmod 0755 "$dir"
if [ -n "$owner" ] && [ "$(id -u)" -eq 0 ]; then
    chown "$owner" "$dir/server.key" "$dir/server.pem"
fi
