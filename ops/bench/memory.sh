#!/usr/bin/env bash
# Memory under large uploads: 64 concurrent requests with a 5 MB PDF through the middleware
# (case 2) — validations, then validate-and-create publications (spooled to disk, as they
# must be kept to be queued) — the middleware's RSS sampled every 50 ms. Prints idle RSS,
# peak RSS and the difference for each (target: at most 64 MB above idle).
#   ops/bench/memory.sh [duration_secs] [concurrency] [pdf_bytes]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
. ops/lib.sh
DURATION=${1:-15} CONC=${2:-64} SIZE=${3:-5242880}
ops/demo.sh up >/dev/null
trap 'ops/demo.sh down >/dev/null' EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin loadgen
PKI=.demo/pki PID=$(cat .demo/mw.pid)
rss() { awk '/VmRSS/ {print $2}' "/proc/$PID/status"; }
# Idle: after one small request, so that pools and TLS state exist.
target/release/loadgen --ca "$DEMO_CA" --pdf "$SHARED/testdata/pdf/attachment/LAB_OK.pdf" --aud "$GTW_SIM_URL" \
  --label warm --url "$MW_URL" --cert $PKI/producer.pem --key $PKI/producer.key \
  --jwt-cert $PKI/producer.pem --jwt-key $PKI/producer.key --concurrency 1 --duration-secs 1 --warmup-secs 0 >/dev/null
sleep 2
idle=$(rss)
measure() { # LABEL [loadgen options...]
  local label=$1 peak_file sampler run peak
  shift
  peak_file=$(mktemp)
  rss > "$peak_file"
  ( while kill -0 "$PID" 2>/dev/null; do r=$(rss); [ "$r" -gt "$(cat "$peak_file")" ] && echo "$r" > "$peak_file"; sleep 0.05; done ) &
  sampler=$!
  run=$(target/release/loadgen --ca "$DEMO_CA" --pdf "$PDF" --aud "$GTW_SIM_URL" \
    --label "$label" --url "$MW_URL" --cert $PKI/producer.pem --key $PKI/producer.key \
    --jwt-cert $PKI/producer.pem --jwt-key $PKI/producer.key --pad-to "$SIZE" \
    --concurrency "$CONC" --duration-secs "$DURATION" --warmup-secs 0 "$@")
  kill "$sampler" 2>/dev/null || true
  peak=$(cat "$peak_file"); rm -f "$peak_file"
  python3 - "$run" "$idle" "$peak" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); idle, peak = int(sys.argv[2]), int(sys.argv[3])
print(f"{r['label']}: {r['requests']} answered 2xx, {r['errors']} other, {r['pdf_bytes']} bytes each, {r['concurrency']} at a time; "
      f"RSS idle {idle/1024:.1f} MiB, peak {peak/1024:.1f} MiB, peak - idle {(peak-idle)/1024:.1f} MiB")
PY
  sleep 2
}
PDF=$SHARED/testdata/pdf/attachment/LAB_OK.pdf measure "5 MB validations"
PDF=$(signed_lab_pdf) measure "5 MB publications" --publication
