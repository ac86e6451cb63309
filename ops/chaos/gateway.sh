#!/usr/bin/env bash
# The national gateway misbehaving under steady producer traffic, with the real processes of
# the demo stack (PostgreSQL, SoftHSM2 token, gateway simulator, middleware in case 2):
#   normal → slow (answers later than gateway.request_timeout_ms) → 5xx → connections reset
#   after the handshake → down (connections refused) for OUTAGE seconds → back.
# Traffic: tests/src/bin/mixedload.rs, open loop at RATE req/s (validations, publications with
# unique bodies, SOAP consultations), every answer recorded. Verdict:
#   - every request answered (no connection left without an answer);
#   - validations while the gateway is slow, resetting or down: 504 mw/io_error; while it
#     answers 5xx: its 503, passed through; otherwise 201;
#   - publications while it is down: 202 and queued ([MW-QUEUED]); while it is slow or
#     resetting: 504 mw/io_error (the gateway may have seen them: the producer decides) or,
#     resetting, queued; with 5xx: 503; otherwise the gateway's 201/202;
#   - SOAP consultations (local registry) answered 200 throughout;
#   - after recovery the outbox drains, and every publication answered 2xx reached the
#     gateway exactly once (by the SHA-256 of its body, unique per request): none lost, none
#     twice.
#   ops/chaos/gateway.sh [outage_secs] [phase_secs] [rate]     (defaults: 600 60 10)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
OUTAGE=${1:-600} PHASE=${2:-60} RATE=${3:-10}
ensure_pkg xmlsec1 xmlsec1
ensure_pkg python3 python3
ops/demo.sh up >/dev/null
trap 'curl -fsS -o /dev/null -X POST -H "content-type: application/json" -d "{\"mode\":\"none\"}" "$GTW_SIM_ADMIN_URL/faults" || true; ops/demo.sh down >/dev/null' EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin mixedload
OUT=$ROOT/target/chaos
mkdir -p "$OUT"
timeout_ms=$(awk -F' *= *' '/^request_timeout_ms/ {print $2; exit}' .demo/fsemw.toml)
TAIL=$(( 2 * PHASE ))
DURATION=$(( 4 * PHASE + OUTAGE + TAIL ))
fault() { curl -fsS -o /dev/null -X POST -H 'content-type: application/json' -d "$1" "$GTW_SIM_ADMIN_URL/faults"; }
mixedload --rate "$RATE" --duration-secs "$DURATION" --report-secs "$PHASE" \
  --timeout-secs $(( timeout_ms / 1000 * 3 )) --record "$OUT/gateway.requests.jsonl" > "$OUT/gateway.reports.jsonl" &
LOAD=$!
# The schedule, relative to the load's start (the consent call before it takes well under a second).
sleep "$PHASE"; fault "{\"mode\":\"delay\",\"delay_ms\":$(( timeout_ms + 5000 ))}"; echo "slow"
sleep "$PHASE"; fault '{"mode":"error","status":503}'; echo "5xx"
sleep "$PHASE"; fault '{"mode":"reset"}'; echo "reset"
sleep "$PHASE"; fault '{"mode":"down"}'; echo "down for ${OUTAGE} s"
sleep "$OUTAGE"; fault '{"mode":"none"}'; echo "back"
wait "$LOAD"
outbox_drained 600 || true
"$(pg_bindir)/psql" "$DATABASE_URL" -qAtc "SELECT state, count(*) FROM outbox GROUP BY state" > "$OUT/gateway.outbox"
curl -fsS "$GTW_SIM_ADMIN_URL/observed" > "$OUT/gateway.observed.json"
PYTHONPATH=$ROOT/ops/chaos python3 - "$OUT" "$PHASE" "$OUTAGE" <<'PY'
import json, sys, collections
from judge import jsonl, at_gateway, table, verdict
out, phase, outage = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reqs = jsonl(f"{out}/gateway.requests.jsonl")
outbox = dict(l.split("|") for l in open(f"{out}/gateway.outbox").read().split())
bounds = [("normal", 0), ("slow", phase), ("5xx", 2 * phase), ("reset", 3 * phase),
          ("down", 4 * phase), ("back", 4 * phase + outage)]
def phase_of(at):
    s = at / 1000
    name = None
    for n, b in bounds:
        if s >= b:
            name, start = n, b
    nxt = [b for _, b in bounds if b > s]
    # Requests within 5 s of a change are not judged (the switch is not instantaneous).
    if s - start < 5 or (nxt and nxt[0] - s < 5):
        return None
    return name
expect = {
    ("validation", "normal"): {(201, None)}, ("validation", "back"): {(201, None)},
    ("validation", "slow"): {(504, "mw/io_error")}, ("validation", "reset"): {(504, "mw/io_error")},
    ("validation", "down"): {(504, "mw/io_error")}, ("validation", "5xx"): {(503, "any")},
    # validate-and-create is answered 201 or 202 by the gateway, whichever it decides.
    ("publication", "normal"): {(201, None), (202, None)}, ("publication", "back"): {(201, None), (202, None)},
    ("publication", "slow"): {(504, "mw/io_error")}, ("publication", "5xx"): {(503, "any")},
    ("publication", "reset"): {(504, "mw/io_error"), (202, "queued")},
    ("publication", "down"): {(202, "queued")},
}
rows = collections.Counter()
wrong = []
for r in reqs:
    p = phase_of(r["at_ms"])
    if p is None:
        continue
    got = (r["status"], "queued" if r["queued"] else r["type"])
    rows[(r["kind"], p, got)] += 1
    if r["kind"] == "consultation":
        ok = r["status"] == 200
    else:
        allowed = expect[(r["kind"], p)]
        ok = got in allowed or any(s == got[0] and t == "any" for s, t in allowed)
    if not ok:
        wrong.append((r["kind"], p, got))
table(rows, [b[0] for b in bounds])
accepted = [r for r in reqs if r["kind"] == "publication" and r["status"] in (201, 202)]
missing, twice = at_gateway(accepted, f"{out}/gateway.observed.json")
queued = sum(1 for r in accepted if r["queued"])
unanswered = sum(1 for r in reqs if r["status"] == 0)
print(f"requests {len(reqs)}, unanswered {unanswered}; publications accepted {len(accepted)} "
      f"({queued} queued during the faults); at the gateway once: {len(accepted) - len(missing) - len(twice)}, "
      f"missing {len(missing)}, twice {len(twice)}; outbox {outbox}; unexpected answers {len(wrong)}")
verdict({
    "every request answered": unanswered == 0,
    "answers as the contract says in every phase": not wrong,
    "publications queued while the gateway was down": queued > 0,
    "outbox drained": outbox.get("pending", "0") == "0" and outbox.get("sending", "0") == "0" and outbox.get("failed", "0") == "0",
    "every accepted publication at the gateway exactly once": not missing and not twice,
}, wrong)
PY
