#!/usr/bin/env bash
# Fuzzes the middleware's parsers of untrusted input with cargo-fuzz (libFuzzer):
#   form_scanner   multipart/form-data of forwarded REST bodies
#   soap_envelope  SOAP 1.1/1.2 envelope + MTOM package + WS-Addressing action
#   ebrim          XDS.b / ebRIM 3.0 messages (ITI-41, -42, -18, -43, -62)
#   jwt            producer JWTs (parse, x5c leaf, claims)
#   cn_pattern     the regional CN conventions, against a plain reading of each
#   pdf_cda        CDA extraction from PDFs (ATTACHMENT, RESOURCE) and the signature check
# Corpora are seeded at each run from ../shared/testdata and the test suite's message
# builders (tests/src/bin/fuzzseeds.rs). Each target runs until RUNS executions or SECS
# seconds, whichever comes first; a crash stops that target, its input is kept under
# ops/fuzz/artifacts/<target>/ and the script fails. Prints one line per target.
#   ops/fuzz/run.sh [target|all] [runs] [secs]      (defaults: all 10000000 3600)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
WHICH=${1:-all} RUNS=${2:-10000000} SECS=${3:-3600}
TARGETS=(form_scanner soap_envelope ebrim jwt cn_pattern pdf_cda)
[ "$WHICH" = all ] || TARGETS=("$WHICH")
ensure_libxml2
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
# cargo-fuzz's instrumentation flags are accepted by the stable compiler in bootstrap mode.
export RUSTC_BOOTSTRAP=1
FUZZ=ops/fuzz WORK=$ROOT/target/fuzz
mkdir -p "$WORK"
cargo build -q -p integration-tests --bin fuzzseeds
rm -rf "$WORK/seeds" && target/debug/fuzzseeds "$SHARED/testdata" "$WORK/seeds" >/dev/null
max_len() { case $1 in cn_pattern) echo 256 ;; jwt) echo 16384 ;; pdf_cda) echo 262144 ;; *) echo 131072 ;; esac; }
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$WORK/corpus/$t" "$FUZZ/artifacts/$t"
  log=$WORK/$t.log
  # Rust code, so no sanitizer: panics, overflow checks (debug assertions are on), timeouts
  # and memory above the limit are what is caught, at full speed.
  if cargo fuzz run --fuzz-dir "$FUZZ" -s none "$t" "$WORK/corpus/$t" "$WORK/seeds/$t" -- \
      -runs="$RUNS" -max_total_time="$SECS" -max_len="$(max_len "$t")" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$FUZZ/artifacts/$t/" > "$log" 2>&1; then
    verdict=ok
  elif grep -q 'failed to build fuzz script' "$log"; then
    verdict=BUILD status=1
  else
    verdict=CRASH status=1
  fi
  runs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log" | tail -1 || true)
  secs=$( (grep -o 'Done [0-9]* runs in [0-9]* second' "$log" || true) | awk '{print $5}' | tail -1)
  rss=$(awk '/stat::peak_rss_mb/ {print $NF}' "$log" | tail -1 || true)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | awk '{print $2}')
  corpus=$(find "$WORK/corpus/$t" -type f | wc -l)
  printf '%-14s %-6s executions %-10s seconds %-6s coverage %-6s corpus %-6s peak RSS %s MB\n' \
    "$t" "$verdict" "${runs:-?}" "${secs:-?}" "${cov:-?}" "$corpus" "${rss:-?}"
  [ "$verdict" = ok ] || grep -m1 -A3 -E 'panicked|ERROR: libFuzzer|==ERROR|^error' "$log" || true
done
exit $status
