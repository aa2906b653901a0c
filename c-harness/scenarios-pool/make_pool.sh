#!/bin/sh
# make_pool.sh FILE: a pool file naming the S3 store and the PostgreSQL
# database `make test-scaleout` started (their COMBSTORE_* variables), under
# an S3 prefix and a schema of this run's own. Mode 0600: it holds secrets.
set -eu
: "${COMBSTORE_S3_ENDPOINT:?run under make test-scaleout}" "${COMBSTORE_PG_URL:?run under make test-scaleout}"
tag=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
umask 077
cat >"$1" <<POOL
COMBSTORE_S3_ENDPOINT=$COMBSTORE_S3_ENDPOINT
COMBSTORE_S3_REGION=${COMBSTORE_S3_REGION:-garage}
COMBSTORE_S3_BUCKET=$COMBSTORE_S3_BUCKET
COMBSTORE_S3_PREFIX=harness/$tag
COMBSTORE_S3_KEY_ID=$COMBSTORE_S3_KEY_ID
COMBSTORE_S3_SECRET=$COMBSTORE_S3_SECRET
COMBSTORE_S3_RETRY_SECONDS=5
COMBSTORE_PG_URL=$COMBSTORE_PG_URL
COMBSTORE_PG_SCHEMA=harness_$tag
POOL
