#!/usr/bin/env bash
# Forwarding cost: validation requests (200 KB PDF, mTLS on every hop) sent to the gateway
# simulator directly and through the middleware (certificate case 2, audit on), in one run.
#   ops/bench/forward.sh [duration_secs] [concurrency]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
DURATION=${1:-15} CONC=${2:-64}
ops/demo.sh up >/dev/null
trap 'ops/demo.sh down >/dev/null' EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin loadgen
LOAD=target/release/loadgen
PKI=.demo/pki PDF=$SHARED/testdata/pdf/attachment/LAB_OK.pdf
common=(--ca "$DEMO_CA" --pdf "$PDF" --aud "$GTW_SIM_URL" --concurrency "$CONC" --duration-secs "$DURATION")
direct=$($LOAD "${common[@]}" --label direct --url "$GTW_SIM_URL" \
  --cert $PKI/region-auth.pem --key $PKI/region-auth.key --jwt-cert $PKI/region-sig.pem --jwt-key $PKI/region-sig.key)
via=$($LOAD "${common[@]}" --label middleware --url "$MW_URL" \
  --cert $PKI/producer.pem --key $PKI/producer.key --jwt-cert $PKI/producer.pem --jwt-key $PKI/producer.key)
python3 - "$direct" "$via" <<'PY'
import json, sys
d, m = (json.loads(a) for a in sys.argv[1:3])
print(f"{'path':<12}{'req':>8}{'err':>6}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
for r in (d, m):
    print(f"{r['label']:<12}{r['requests']:>8}{r['errors']:>6}{r['rps']:>10.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}")
print(f"middleware/direct: throughput x{m['rps']/d['rps']:.2f}, p50 x{m['p50_ms']/d['p50_ms']:.2f}, p99 x{m['p99_ms']/d['p99_ms']:.2f}"
      f" (PDF {d['pdf_bytes']} bytes, {d['concurrency']} connections)")
PY
