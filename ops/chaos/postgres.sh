#!/usr/bin/env bash
# The middleware's PostgreSQL failing under steady producer traffic, with the real processes
# of the demo stack (PostgreSQL, SoftHSM2 token, gateway simulator, middleware in case 2):
#   normal → crash (pg_ctl stop -m immediate: every connection cut mid-statement) → down for
#   OUTAGE seconds → started again → normal → restart (pg_ctl restart -m fast) → normal.
# Traffic: tests/src/bin/mixedload.rs, open loop at RATE req/s (validations, publications with
# unique bodies, SOAP consultations), every answer recorded. Verdict:
#   - every request answered (no connection left without an answer);
#   - while the database is down or coming back (and 10 s after): validations and
#     publications served (the producer's registry entry is cached) or 503 mw/unavailable;
#     SOAP consultations (which read the regional registry) served or fault E000503;
#     nothing else (no mw/internal_error); otherwise everything served;
#   - every transaction id returned is in the audit trail exactly once once the audit
#     journal has drained (rows of the outage waited on the middleware's disk), and no audit
#     row failed;
#   - every publication answered 2xx reached the gateway exactly once.
#   ops/chaos/postgres.sh [outage_secs] [phase_secs] [rate]     (defaults: 30 40 20)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
OUTAGE=${1:-30} PHASE=${2:-40} RATE=${3:-20}
ensure_pkg xmlsec1 xmlsec1
ensure_pkg python3 python3
# Crashed for real, so durable as in production: a commit is on disk before it returns.
export PG_EXTRA_OPTS="-c fsync=on -c full_page_writes=on -c synchronous_commit=on"
ops/demo.sh up >/dev/null
PG=$ROOT/.demo/pg
trap '[ -f "$PG/data/postmaster.pid" ] || pg_start_cluster "$PG" || true; ops/demo.sh down >/dev/null' EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin mixedload
OUT=$ROOT/target/chaos
mkdir -p "$OUT"
DURATION=$(( 4 * PHASE + OUTAGE ))
failures0=$(metric fsemw_audit_write_failures_total)
journaled0=$(metric fsemw_audit_rows_journaled_total)
mixedload --rate "$RATE" --duration-secs "$DURATION" --report-secs "$PHASE" --timeout-secs 30 \
  --record "$OUT/postgres.requests.jsonl" > "$OUT/postgres.reports.jsonl" &
LOAD=$!
# The schedule, relative to the load's start.
sleep "$PHASE"; as_pg "$(pg_bindir)/pg_ctl" -D "$PG/data" -m immediate stop >/dev/null; echo "crashed, down for ${OUTAGE} s"
sleep "$OUTAGE"; pg_start_cluster "$PG"; echo "started"
sleep "$PHASE"; as_pg "$(pg_bindir)/pg_ctl" -w -D "$PG/data" -l "$PG/log" -m fast restart >/dev/null; echo "restarted"
wait "$LOAD"
journal_drained 120 || true
left=$(metric fsemw_audit_journal_rows)
failed=$(( $(metric fsemw_audit_write_failures_total) - failures0 ))
journaled=$(( $(metric fsemw_audit_rows_journaled_total) - journaled0 ))
audit_counts "$OUT/postgres.requests.jsonl" > "$OUT/postgres.audit"
curl -fsS "$GTW_SIM_ADMIN_URL/observed" > "$OUT/postgres.observed.json"
PYTHONPATH=$ROOT/ops/chaos python3 - "$OUT" "$PHASE" "$OUTAGE" "$left" "$failed" "$journaled" <<'PY'
import sys
from judge import database_checks, database_fault, database_figures, verdict
out, phase, outage = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
left, failed, journaled = int(sys.argv[4] or -1), int(sys.argv[5]), int(sys.argv[6])
# Database trouble: from the crash to 10 s after the start, and 10 s from the restart; each
# from 1 s before, as a request sent just before is still being served when the crash comes.
trouble = [(phase - 1, phase + outage + 10), (2 * phase + outage - 1, 2 * phase + outage + 10)]
def phase_of(at):
    s = at / 1000
    if s < phase - 1:
        return "before"
    return "trouble" if any(a <= s < b for a, b in trouble) else "after"
r = database_fault(out, "postgres", phase_of, ["before", "trouble", "after"], "trouble")
print(f"requests {r['requests']}, unanswered {r['unanswered']}, unexpected {len(r['wrong'])}; audit rows kept on "
      f"disk during the outage {journaled}, left {left}, failed {failed}; {database_figures(r)}")
verdict({
    "every request answered": r["unanswered"] == 0,
    "clean answers while the database was down, all served otherwise": not r["wrong"],
    "the outage was met (audit rows waited on disk)": journaled > 0,
    **database_checks(r, left, failed),
}, r["wrong"])
PY
