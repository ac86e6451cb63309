#!/usr/bin/env bash
# The validation pipeline (extraction, XSD, schematron, vocabulary) over the example
# documents: time per stage, documents per second on one thread and on all cores,
# peak memory; then pyschematron's time on the same documents, for scale (PEER=0 skips it).
#   ops/bench/validate.sh [seconds]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
ensure_libxml2
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
cargo build --release -q -p integration-tests --bin validatebench
OUT=$(mktemp)
trap 'rm -rf "$OUT" "${PEER_DIR:-}"' EXIT
target/release/validatebench "$SHARED" "${1:-5}" | tee "$OUT"
[ "${PEER:-1}" = 1 ] || exit 0
# The same set as validatebench: every example CDA and three signed PDFs.
DOCS=$(cd "$SHARED/testdata" && ls cda/examples/*.xml) 
DOCS="$DOCS pdf/accreditamento/SIGNED_RAD1.pdf pdf/accreditamento/SIGNED_RSA1.pdf pdf/attachment/SIGNED_LDO1.pdf"
PEER_DIR=$(mktemp -d)
echo "pyschematron on the same documents (schematron stage only)..."
GOLDEN_DIR=$PEER_DIR ops/peer/differential.sh $DOCS 2>/dev/null | sed 's/^/  /'
ONE=$(sed -n 's/^whole pipeline: \([0-9.]*\) docs\/s on 1 thread.*/\1/p' "$OUT")
SCH=$(sed -n 's/^schematron *\([0-9.]*\)$/\1/p' "$OUT")
cat "$PEER_DIR"/*.json | python3 -c '
import json, sys
one, sch = float(sys.argv[1]), float(sys.argv[2])
records = json.loads("[" + sys.stdin.read().replace("}\n{", "},{") + "]")
total = sum(r["seconds"] for r in records)
per_doc = total / len(records)
print(f"pyschematron: {total:.1f} s for {len(records)} documents, {per_doc*1000:.0f} ms/doc")
print(f"  ratio to the schematron stage: x{per_doc*1000/sch:.0f}; to the whole pipeline: x{per_doc*one:.0f}")
' "$ONE" "$SCH"
