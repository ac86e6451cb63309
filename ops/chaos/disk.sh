#!/usr/bin/env bash
# The database's volume filling up under steady producer traffic, with the real processes of
# the demo stack. The demo cluster runs on a volume of its own (a SIZE MiB tmpfs mounted on
# .demo/pg for the run; the usual demo data stays underneath, untouched); the middleware's
# spool folder is on another disk. After PHASE seconds the volume is filled to the last byte
# (PostgreSQL then fails to extend tables, write WAL, or stays down: `No space left on
# device`), for OUTAGE seconds; then the filler is removed, as an operator would free space,
# and PostgreSQL is started if it stopped.
# Traffic: tests/src/bin/mixedload.rs, open loop at RATE req/s, every answer recorded. Verdict:
#   - every request answered;
#   - while the volume is full (and 15 s after): validations and publications served (audit
#     rows wait in the middleware's journal) or 503 mw/unavailable; SOAP consultations
#     served or fault E000503; nothing else. Otherwise everything served;
#   - the journal drains, no audit row lost, every transaction id audited exactly once;
#   - every publication answered 2xx reached the gateway exactly once.
#   ops/chaos/disk.sh [outage_secs] [phase_secs] [rate] [size_mib]    (defaults: 30 30 20 512)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
OUTAGE=${1:-30} PHASE=${2:-30} RATE=${3:-20} SIZE=${4:-512}
ensure_pkg xmlsec1 xmlsec1
ensure_pkg python3 python3
[ "$(id -u)" = 0 ] || { echo "mounting the database's volume needs root" >&2; exit 1; }
PG=$ROOT/.demo/pg
OUT=$ROOT/target/chaos
mkdir -p "$OUT" "$PG"
ops/demo.sh down >/dev/null 2>&1 || true
mountpoint -q "$PG" && umount "$PG"
mount -t tmpfs -o "size=${SIZE}m" fsemw-chaos-pg "$PG"
cleanup() {
  rm -f "$PG/filler"
  ops/demo.sh down >/dev/null 2>&1 || true
  umount "$PG" 2>/dev/null || umount -l "$PG" 2>/dev/null || true
}
trap cleanup EXIT
export PG_EXTRA_OPTS="-c fsync=on -c full_page_writes=on -c synchronous_commit=on"
ops/demo.sh up >/dev/null
. .demo/env
cargo build --release -q -p integration-tests --bin mixedload
failures0=$(metric fsemw_audit_write_failures_total)
journaled0=$(metric fsemw_audit_rows_journaled_total)
mixedload --rate "$RATE" --duration-secs $(( 3 * PHASE + OUTAGE )) --report-secs "$PHASE" --timeout-secs 30 \
  --record "$OUT/disk.requests.jsonl" > "$OUT/disk.reports.jsonl" &
LOAD=$!
sleep "$PHASE"
dd if=/dev/zero of="$PG/filler" bs=1M 2>/dev/null || true
echo "volume full ($(df --output=avail -B1 "$PG" | tail -1) bytes left) for ${OUTAGE} s"
sleep "$OUTAGE"
rm -f "$PG/filler"
pg_state=running
if ! as_pg "$(pg_bindir)/pg_ctl" -D "$PG/data" status >/dev/null 2>&1; then
  pg_state="stopped by the full disk, started again"
  pg_start_cluster "$PG"
fi
echo "space freed; PostgreSQL $pg_state"
wait "$LOAD"
grep -c 'No space left on device' "$PG/log" > "$OUT/disk.enospc" || true
journal_drained 120 || true
left=$(metric fsemw_audit_journal_rows)
failed=$(( $(metric fsemw_audit_write_failures_total) - failures0 ))
journaled=$(( $(metric fsemw_audit_rows_journaled_total) - journaled0 ))
audit_counts "$OUT/disk.requests.jsonl" > "$OUT/disk.audit"
curl -fsS "$GTW_SIM_ADMIN_URL/observed" > "$OUT/disk.observed.json"
PYTHONPATH=$ROOT/ops/chaos python3 - "$OUT" "$PHASE" "$OUTAGE" "$left" "$failed" "$journaled" "$(cat "$OUT/disk.enospc")" <<'PY'
import sys
from judge import database_checks, database_fault, database_figures, verdict
out, phase, outage = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
left, failed, journaled, enospc = int(sys.argv[4] or -1), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7] or 0)
def phase_of(at):
    s = at / 1000
    # From 1 s before the filling: a request sent just before is still being served.
    return "before" if s < phase - 1 else "full" if s < phase + outage + 15 else "after"
r = database_fault(out, "disk", phase_of, ["before", "full", "after"], "full")
print(f"requests {r['requests']}, unanswered {r['unanswered']}, unexpected {len(r['wrong'])}; 'No space left on "
      f"device' in the database log {enospc} times; audit rows kept on disk {journaled}, left {left}, failed "
      f"{failed}; {database_figures(r)}")
verdict({
    "every request answered": r["unanswered"] == 0,
    "clean answers while the volume was full, all served after": not r["wrong"],
    "the database met the full disk": enospc > 0,
    **database_checks(r, left, failed),
}, r["wrong"])
PY
