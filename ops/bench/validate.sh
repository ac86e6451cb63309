#!/usr/bin/env bash
# The validation pipeline (extraction, XSD, schematron, vocabulary) over the example
# documents: time per stage, documents per second on one thread and on all cores,
# peak memory.   ops/bench/validate.sh [seconds]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
ensure_libxml2
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
cargo build --release -q -p integration-tests --bin validatebench
target/release/validatebench "$SHARED" "${1:-5}"
