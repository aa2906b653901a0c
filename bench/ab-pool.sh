#!/bin/bash
# One pool ingest through the bench's own roles, as a whole command for
# an A/B of two plugin builds (farm-bench times whole commands):
#
#   bench/ab-pool.sh PLUGIN STREAM_FILE STREAMS [MIB]
#
# Two processes of STREAMS/2 writers each (STREAMS 1: one process, one
# writer) ingest their part of the first MIB MiB (default 512) of
# STREAM_FILE, in 1 MiB writes, into a new pool on the environment's S3
# store (COMBSTORE_S3_*, as `scripts/garage.sh env` prints them), its
# catalog in PostgreSQL if COMBSTORE_PG_URL is set: the shapes of `make
# bench`'s pool figures. The pool's local folder and its schema are
# removed after; its objects stay in the bucket (under ab/): use a store
# of its own (`GARAGE_PORT=39200 scripts/garage.sh start target/garage-ab`).
# STREAM_FILE is a bench stream (`cargo bench --bench suite -- --quick
# --only pool --keep` leaves target/bench-work/run-*/stream-gen1.bin).
# The bench binary is the newest target/release/deps/suite-*; PLUGIN is
# loaded by it through COMBSTORE_PLUGIN. Prints the seconds it took.
#
#   farm-bench -n 8 --vs 'bench/ab-pool.sh /tmp/b.so S 4' -- bench/ab-pool.sh /tmp/a.so S 4
set -euo pipefail
plugin=$1 file=$2 streams=$3 mib=${4:-512}
suite=$(ls -t target/release/deps/suite-* | grep -v '\.d$' | head -1)
dir=$(mktemp -d /tmp/ab-pool.XXXXXX)
tag=p$$_$(date +%s%N)
trap 'rm -rf "$dir"' EXIT
{
    env | grep '^COMBSTORE_S3_' | grep -v '^COMBSTORE_S3_PREFIX=' || true
    echo "COMBSTORE_S3_PREFIX=ab/$tag"
    if [ -n "${COMBSTORE_PG_URL:-}" ]; then
        echo "COMBSTORE_PG_URL=$COMBSTORE_PG_URL"
        echo "COMBSTORE_PG_SCHEMA=ab_$tag"
    fi
} > "$dir/pool.conf"
chmod 600 "$dir/pool.conf"
export COMBSTORE_PLUGIN=$plugin
"$suite" --role list "$dir" > /dev/null
procs=$(( streams > 1 ? 2 : 1 ))
per=$(( streams / procs ))
part=$(( mib / procs << 20 ))
start=$(date +%s.%N)
pids=()
for i in $(seq 0 $(( procs - 1 ))); do
    echo go | "$suite" --role ingest "$dir" "ab$i" "$file" $(( i * part )) $part $per > /dev/null &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s.%N)
awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
if [ -n "${COMBSTORE_PG_URL:-}" ]; then
    psql -q "$COMBSTORE_PG_URL" -c "DROP SCHEMA ab_$tag CASCADE" > /dev/null 2>&1 || true
fi
