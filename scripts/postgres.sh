#!/usr/bin/env bash
# PostgreSQL, the catalog of issue 16's multi-host pools, for tests: a
# throwaway cluster of Debian's own PostgreSQL, run as its own process on
# loopback, with password authentication (so that a wrong password can be
# tested), TLS with a certificate of a throwaway CA (so that combstore's
# verification is tested), and nothing shared with the machine's clusters.
#
#   scripts/postgres.sh install     apt-get install postgresql openssl if missing
#   scripts/postgres.sh start DIR   a new cluster in DIR: role and database
#                                   "combstore" with a random password, TLS
#                                   on (DIR/ca.crt signed the server's
#                                   certificate, for 127.0.0.1 only);
#                                   DIR/pg.env holds COMBSTORE_PG_URL and
#                                   COMBSTORE_PG_CA (0600)
#   scripts/postgres.sh stop DIR    stops it (fast shutdown)
#   scripts/postgres.sh resume DIR  starts it again with its data
#   scripts/postgres.sh smoke DIR   start, connect, a table round trip, a
#                                   wrong password refused, stop
#   scripts/postgres.sh run DIR CMD...  start, run CMD with COMBSTORE_PG_URL
#                                   and COMBSTORE_PG_DIR exported, stop
#
# PG_PORT (default 55432) is its TCP port on 127.0.0.1. initdb and the
# server refuse to run as root: as root they run as the `postgres` user
# the package creates, and DIR is handed to it.
set -euo pipefail

PORT=${PG_PORT:-55432}

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$d" ] && [ -x "$d/initdb" ] || return 1
    echo "$d"
}

install() {
    if bindir >/dev/null && command -v psql >/dev/null && command -v openssl >/dev/null; then
        return
    fi
    echo "postgres.sh: installing PostgreSQL (Debian's package) and openssl (the test certificates)"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql openssl >/dev/null
    bindir >/dev/null || die "no initdb after installing postgresql"
}

# Runs a server binary as the cluster's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_ctl() { as_owner "$(bindir)/pg_ctl" -D "$DIR/data" "$@"; }

serve() {
    # -k: its socket in DIR; fsync stays on (a test may restart it and
    # expects what it acknowledged to be there)
    pg_ctl -l "$DIR/server.log" -w -t 30 \
        -o "-k $DIR -p $PORT -c listen_addresses=127.0.0.1 -c ssl=on \
            -c ssl_cert_file=$DIR/tls/server.crt -c ssl_key_file=$DIR/tls/server.key" start >/dev/null \
        || die "PostgreSQL did not start: $(tail -5 "$DIR/server.log")"
}

# A throwaway CA (DIR/ca.crt) and the server's certificate it signs, for
# the address 127.0.0.1 alone (DIR/tls, the server's key 0600).
certificates() {
    command -v openssl >/dev/null || die "openssl is needed for the test certificates"
    mkdir -p "$DIR/tls"
    (
        cd "$DIR/tls"
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj "/CN=combstore test CA" -keyout ca.key -out ../ca.crt \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
        printf '%s\n' "subjectAltName=IP:127.0.0.1" "basicConstraints=CA:FALSE" \
            "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >server.ext
        openssl x509 -req -in server.csr -CA ../ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
            -extfile server.ext -out server.crt 2>/dev/null
        rm -f ca.key server.csr server.ext ../ca.srl ca.srl
    ) || die "could not make the test certificates"
    chmod 644 "$DIR/ca.crt"
}

start() {
    install
    [ -f "$DIR/data/postmaster.pid" ] && die "already running in $DIR"
    rm -rf "$DIR"
    mkdir -p "$DIR"
    chmod 700 "$DIR"
    certificates
    local pass
    pass=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    (umask 077; printf '%s\n' "$pass" >"$DIR/pwfile")
    [ "$(id -u)" = 0 ] && chown -R postgres: "$DIR"
    as_owner "$(bindir)/initdb" -D "$DIR/data" -U combstore --pwfile="$DIR/pwfile" \
        --auth=scram-sha-256 --locale=C -E UTF8 >"$DIR/initdb.log" 2>&1 \
        || die "initdb failed: $(tail -5 "$DIR/initdb.log")"
    rm -f "$DIR/pwfile"
    serve
    PGPASSWORD=$pass psql -q -h 127.0.0.1 -p "$PORT" -U combstore -d postgres \
        -c "CREATE DATABASE combstore" >/dev/null
    (
        umask 077
        echo "COMBSTORE_PG_URL=postgresql://combstore:$pass@127.0.0.1:$PORT/combstore" >"$DIR/pg.env"
        echo "COMBSTORE_PG_CA=$DIR/ca.crt" >>"$DIR/pg.env"
    )
    [ "$(id -u)" = 0 ] && chown root: "$DIR/pg.env"
    echo "postgres.sh: PostgreSQL $(basename "$(dirname "$(bindir)")") on 127.0.0.1:$PORT (database combstore; $DIR/pg.env)"
}

stop() {
    [ -f "$DIR/data/postmaster.pid" ] || return 0
    pg_ctl -m fast -w -t 30 stop >/dev/null || true
}

resume() {
    [ -d "$DIR/data" ] || die "no cluster in $DIR"
    serve
}

smoke() {
    start
    trap stop EXIT
    # shellcheck disable=SC1091
    . "$DIR/pg.env"
    psql -q -v ON_ERROR_STOP=1 "$COMBSTORE_PG_URL" \
        -c "CREATE TABLE smoke (k bigint PRIMARY KEY, v bytea)" \
        -c "INSERT INTO smoke VALUES (1, '\\x00ff')" >/dev/null
    [ "$(psql -qtA "$COMBSTORE_PG_URL" -c "SELECT encode(v, 'hex') FROM smoke WHERE k = 1")" = 00ff ] \
        || die "the row read back differs"
    [ "$(psql -qtA "$COMBSTORE_PG_URL?sslmode=verify-full&sslrootcert=$COMBSTORE_PG_CA" \
        -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")" = t ] \
        || die "no verified TLS session"
    local wrong=${COMBSTORE_PG_URL/combstore:*@/combstore:wrong@}
    if psql -qtA "$wrong" -c "SELECT 1" >/dev/null 2>&1; then
        die "a wrong password was accepted"
    fi
    echo "postgres.sh: smoke test passed (connect, a table round trip, verified TLS, wrong password refused)"
}

cmd=${1:-}
case "$cmd" in
install) install ;;
start | stop | resume | smoke)
    [ $# -eq 2 ] || die "usage: $0 $cmd DIR"
    mkdir -p "$(dirname "$2")"
    DIR=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    "$cmd"
    ;;
run)
    [ $# -ge 3 ] || die "usage: $0 run DIR CMD..."
    mkdir -p "$(dirname "$2")"
    DIR=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    shift 2
    start
    trap stop EXIT
    set -a
    # shellcheck disable=SC1091
    . "$DIR/pg.env"
    set +a
    export COMBSTORE_PG_DIR=$DIR
    "$@"
    ;;
*) die "usage: $0 install | start DIR | stop DIR | resume DIR | smoke DIR | run DIR CMD..." ;;
esac
