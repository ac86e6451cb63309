#!/usr/bin/env bash
# The regional registry and repositories: ITI-41 ingest of 100 KB documents (MTOM) and
# ITI-18 FindDocuments latency with the registry bulk-loaded to 1 M entries, each with
# its baseline measured in the same run.
#   ops/bench/registry.sh [seconds] [concurrency] [entries]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
ensure_postgres
ensure_pkg softhsm2-util softhsm2
WORK=$(mktemp -d /tmp/fsemw-registrybench.XXXXXX)
chmod 755 "$WORK"
cleanup() { pg_stop_cluster "$WORK/pg"; rm -rf "$WORK"; }
trap cleanup EXIT
pg_start_cluster "$WORK/pg"
export MW_TEST_PGHOST=$WORK/pg
mkdir -p "$WORK/softhsm"
export SOFTHSM2_CONF=$WORK/softhsm/softhsm2.conf
cargo build --release -q -p integration-tests --bin registrybench
target/release/registrybench --seconds "${1:-10}" --concurrency "${2:-8}" --entries "${3:-1000000}"
