#!/usr/bin/env bash
# Garage (https://garagehq.deuxfleurs.fr), the S3-compatible object store
# that issue 16's pools keep chunk data in, for tests: a real server, run
# as its own process on loopback, never linked in.
#
#   scripts/garage.sh install      build it once into the cache (about 10
#                                  minutes on 2 cores; later runs skip it)
#   scripts/garage.sh start DIR    a single node with its data in DIR: a
#                                  layout, bucket "combstore" (and
#                                  "combstore-small", 24 MiB quota) and a key;
#                                  DIR/s3.env holds endpoint and key (0600)
#   scripts/garage.sh stop DIR     stops it
#   scripts/garage.sh resume DIR   starts it again with its data
#   scripts/garage.sh smoke DIR    start, an S3 round trip with curl
#                                  (PUT, GET, ranged GET, DELETE), stop
#   scripts/garage.sh run DIR CMD...  start, run CMD with DIR/s3.env's
#                                  COMBSTORE_S3_* and COMBSTORE_GARAGE_DIR
#                                  exported, stop (CMD's exit status)
#
# GARAGE_VERSION pins the release; COMBSTORE_CACHE (default
# ~/.cache/combstore) is where it is installed, outside any clone;
# GARAGE_PORT (default 39000) is the S3 port, the RPC and admin ports
# follow it. GARAGE_COMPRESSION (default: Garage's own, zstd level 1 on
# every block) sets compression_level, e.g. "none" as README advises for
# a store that holds only pools (their chunks arrive compressed).
# docs/scale-out-research.md has the reasons for each setting.
set -euo pipefail

GARAGE_VERSION=${GARAGE_VERSION:-2.5.0}
CACHE=${COMBSTORE_CACHE:-$HOME/.cache/combstore}
ROOT=$CACHE/garage-$GARAGE_VERSION
BIN=$ROOT/bin/garage
PORT=${GARAGE_PORT:-39000}
COMPRESSION=${GARAGE_COMPRESSION:-}

die() { echo "garage.sh: $*" >&2; exit 1; }

install() {
    if [ -x "$BIN" ]; then
        return
    fi
    command -v cargo >/dev/null || die "cargo is needed to build Garage"
    echo "garage.sh: building Garage $GARAGE_VERSION into $ROOT (once; about 10 minutes on 2 cores)"
    cargo install garage --locked --version "$GARAGE_VERSION" --root "$ROOT" --quiet
}

garage() { "$BIN" -c "$DIR/garage.toml" "$@"; }

start() {
    install
    [ -f "$DIR/garage.pid" ] && kill -0 "$(cat "$DIR/garage.pid")" 2>/dev/null && die "already running in $DIR"
    rm -rf "$DIR"
    mkdir -p "$DIR/meta" "$DIR/data"
    chmod 700 "$DIR"
    (
        umask 077
        cat >"$DIR/garage.toml" <<EOF
metadata_dir = "$DIR/meta"
data_dir = "$DIR/data"
db_engine = "lmdb"
replication_factor = 1
${COMPRESSION:+compression_level = $( [ "$COMPRESSION" = none ] && echo '"none"' || echo "$COMPRESSION" )}
rpc_bind_addr = "127.0.0.1:$((PORT + 1))"
rpc_public_addr = "127.0.0.1:$((PORT + 1))"
rpc_secret = "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$PORT"

[admin]
api_bind_addr = "127.0.0.1:$((PORT + 3))"
EOF
    )
    serve
    local id
    id=$(garage node id -q 2>/dev/null | cut -d@ -f1)
    [ -n "$id" ] || die "no node id"
    garage layout assign -z dc1 -c 1G "$id" >/dev/null
    garage layout apply --version 1 >/dev/null
    garage bucket create combstore >/dev/null
    local key
    key=$(garage key create combstore-key)
    local key_id secret
    key_id=$(printf '%s\n' "$key" | sed -n 's/^Key ID: *//p' | head -1)
    secret=$(printf '%s\n' "$key" | sed -n 's/^Secret key: *//p' | head -1)
    [ -n "$key_id" ] && [ -n "$secret" ] || die "could not read the key Garage created"
    garage bucket allow --read --write --owner combstore --key combstore-key >/dev/null
    # a small bucket for the tests of a full store (a 24 MiB quota)
    garage bucket create combstore-small >/dev/null
    garage bucket set-quotas --max-size 24MiB combstore-small >/dev/null
    garage bucket allow --read --write --owner combstore-small --key combstore-key >/dev/null
    (
        umask 077
        cat >"$DIR/s3.env" <<EOF
COMBSTORE_S3_ENDPOINT=http://127.0.0.1:$PORT
COMBSTORE_S3_REGION=garage
COMBSTORE_S3_BUCKET=combstore
COMBSTORE_S3_KEY_ID=$key_id
COMBSTORE_S3_SECRET=$secret
EOF
    )
    echo "garage.sh: Garage $GARAGE_VERSION serving S3 on 127.0.0.1:$PORT (bucket combstore; $DIR/s3.env)"
}

# Starts the server of DIR's existing configuration and data; returns
# once it answers.
serve() {
    (
        # a daemon keeps no descriptor of its starter's but the log (a
        # lock a caller holds would otherwise outlive it)
        for fd in $(ls /proc/$BASHPID/fd); do
            [ "$fd" -gt 2 ] && eval "exec $fd>&-"
        done 2>/dev/null
        exec "$BIN" -c "$DIR/garage.toml" server >>"$DIR/garage.log" 2>&1 </dev/null
    ) &
    echo $! >"$DIR/garage.pid"
    disown
    local i
    for i in $(seq 100); do
        garage status >/dev/null 2>&1 && break
        kill -0 "$(cat "$DIR/garage.pid")" 2>/dev/null || die "Garage exited: $(tail -5 "$DIR/garage.log")"
        sleep 0.2
    done
    garage status >/dev/null 2>&1 || die "Garage did not answer in 20 s: $(tail -5 "$DIR/garage.log")"
}

# Starts DIR's Garage again after `stop`, with its data (fault tests).
resume() {
    [ -f "$DIR/garage.toml" ] || die "no Garage in $DIR"
    serve
}

stop() {
    [ -f "$DIR/garage.pid" ] || return 0
    local pid
    pid=$(cat "$DIR/garage.pid")
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/garage.pid"
}

smoke() {
    start
    trap stop EXIT
    # shellcheck disable=SC1091
    . "$DIR/s3.env"
    local url=$COMBSTORE_S3_ENDPOINT/$COMBSTORE_S3_BUCKET/smoke
    # Garage requires x-amz-content-sha256; curl signs the header it is given.
    local s3=(curl -sS --fail --aws-sigv4 "aws:amz:$COMBSTORE_S3_REGION:s3"
        --user "$COMBSTORE_S3_KEY_ID:$COMBSTORE_S3_SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
    head -c 3000000 /dev/urandom >"$DIR/object"
    "${s3[@]}" -T "$DIR/object" "$url" >/dev/null
    # pools' COMBSTORE_S3_PAYLOAD=crc64 relies on the store checking it
    if "${s3[@]}" -H "x-amz-checksum-crc64nvme: AAAAAAAAAAA=" -T "$DIR/object" "$url" >/dev/null 2>&1; then
        die "a body whose CRC64-NVME does not match was accepted"
    fi
    "${s3[@]}" -o "$DIR/back" "$url"
    cmp "$DIR/object" "$DIR/back" || die "the object read back differs"
    "${s3[@]}" -r 1000000-1000999 -o "$DIR/range" "$url"
    cmp "$DIR/range" <(tail -c +1000001 "$DIR/object" | head -c 1000) || die "the ranged GET differs"
    "${s3[@]}" -X DELETE "$url" >/dev/null
    if "${s3[@]}" -o /dev/null "$url" 2>/dev/null; then
        die "the deleted object is still there"
    fi
    "${s3[@]}" -T "$DIR/object" "$url" >/dev/null
    if curl -sS --fail --aws-sigv4 "aws:amz:$COMBSTORE_S3_REGION:s3" --user "$COMBSTORE_S3_KEY_ID:wrong" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -o /dev/null "$url" 2>/dev/null; then
        die "a wrong secret was accepted"
    fi
    echo "garage.sh: smoke test passed (PUT, GET, ranged GET, DELETE, wrong checksum and wrong secret refused)"
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
    . "$DIR/s3.env"
    set +a
    # fault tests stop and resume it (scripts/garage.sh stop|resume DIR)
    export COMBSTORE_GARAGE_DIR=$DIR
    "$@"
    ;;
*) die "usage: $0 install | start DIR | stop DIR | resume DIR | smoke DIR | run DIR CMD..." ;;
esac
