#!/usr/bin/env bash
# Sustained mixed load on the demo stack (PostgreSQL, SoftHSM2 token, gateway simulator,
# middleware in certificate case 2): REST validations (50 %), validate-and-create
# publications (30 %) and SOAP consultations (20 %, IDocumentService findDocuments with a
# signed SAML assertion and smart-card signature) at a fixed rate, open loop, from a load
# generator presenting client certificates (tests/src/bin/mixedload.rs).
# Every minute: requests, errors, p50/p99 latency, the middleware's RSS. Verdict:
#   - every request answered, none with an error;
#   - every transaction id the middleware returned is in its audit trail exactly once;
#   - RSS flat: the least-squares slope over the run after its first 5 minutes below
#     0.1 MiB/minute (3 MiB over 30 minutes).
#   ops/load/mixed.sh [duration_secs] [rate]          (defaults: 1800 50)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
DURATION=${1:-1800} RATE=${2:-50}
REPORT=$(( DURATION >= 600 ? 60 : 10 ))
ensure_pkg xmlsec1 xmlsec1
ensure_pkg python3 python3
ops/demo.sh up >/dev/null
trap 'ops/demo.sh down >/dev/null' EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin mixedload
OUT=$ROOT/target/load
mkdir -p "$OUT"
mixedload --rate "$RATE" --duration-secs "$DURATION" --report-secs "$REPORT" \
  | tee "$OUT/mixed.jsonl" | grep -v '"summary"'
tail -1 "$OUT/mixed.jsonl" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["transaction_ids"]))' > "$OUT/tx_ids"
audited=$("$(pg_bindir)/psql" "$DATABASE_URL" -qAt <<SQL
CREATE TEMP TABLE sent (tx_id uuid);
\copy sent FROM '$OUT/tx_ids'
SELECT count(*) FILTER (WHERE n = 1) || ' ' || count(*) FILTER (WHERE n <> 1)
  FROM (SELECT s.tx_id, count(t.tx_id) AS n FROM sent s LEFT JOIN transactions t USING (tx_id) GROUP BY s.tx_id) x;
SQL
)
python3 - "$OUT/mixed.jsonl" "$audited" "$(wc -l < "$OUT/tx_ids")" "$REPORT" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
summary, minutes = lines[-1], lines[:-1]
once, not_once = (int(x) for x in sys.argv[2].split())
ids, report = int(sys.argv[3]), int(sys.argv[4])
print(f"report every {report} s")
print(f"{'#':>4}{'answered':>9}{'valid.':>7}{'publ.':>6}{'cons.':>6}{'errors':>7}{'p50 ms':>8}{'p99 ms':>8}{'RSS MiB':>9}")
for m in minutes:
    print(f"{m['report']:>4}{m['answered']:>9}{m['validation']:>7}{m['publication']:>6}{m['consultation']:>6}{m['errors']:>7}"
          f"{m['p50_ms']:>8.1f}{m['p99_ms']:>8.1f}{m['rss_kib']/1024:>9.1f}")
late = [m for m in minutes if m['report'] > max(1, len(minutes) // 6)]
xs = [m['report'] for m in late]; ys = [m['rss_kib'] / 1024 for m in late]
n = len(xs)
slope = 0.0
if n >= 2:
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / max(sum((x - mx) ** 2 for x in xs), 1e-9)
slope *= 60 / report  # MiB per minute
checks = {
    "every request answered": summary["sent"] == summary["answered"],
    "no errors": summary["errors"] == 0,
    "every transaction audited once": ids == summary["answered"] and once == ids and not_once == 0,
    "RSS flat (< 0.1 MiB/min)": slope < 0.1,
}
print(f"sent {summary['sent']}, answered {summary['answered']}, errors {summary['errors']}, publications accepted "
      f"{summary['publications_accepted']}, p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms; "
      f"audit: {once} of {ids} ids once, {not_once} not; RSS slope {slope:+.3f} MiB/min")
for e in summary["first_errors"]:
    print("  error:", e)
for k, v in checks.items():
    print(f"  {'PASS' if v else 'FAIL'}  {k}")
sys.exit(0 if all(checks.values()) else 1)
PY
