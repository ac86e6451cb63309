#!/usr/bin/env bash
# The HSM failing and coming back under steady producer traffic, with the real processes of
# the demo stack (middleware in case 2: every REST request is signed with the regional key
# in the SoftHSM2 token through PKCS#11). The token disappears from its slot — its folder is
# moved away, as a network HSM drops off or a token is pulled — for OUTAGE seconds, then is
# back; the middleware is not restarted.
# Traffic: tests/src/bin/mixedload.rs, open loop at RATE req/s, every answer recorded. Verdict:
#   - every request answered;
#   - while the token is away: validations and publications refused cleanly (503
#     mw/unavailable with Retry-After, nothing forwarded), SOAP consultations (no signature) served;
#     /readyz says not ready with the keys down;
#   - from 3 s after it is back (the module is re-initialised at most once a second): all
#     served again, /readyz ready, fsemw_hsm_up 1;
#   - every transaction id returned is audited exactly once; every publication answered 2xx
#     reached the gateway exactly once.
#   ops/chaos/hsm.sh [outage_secs] [phase_secs] [rate]     (defaults: 30 30 20)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
OUTAGE=${1:-30} PHASE=${2:-30} RATE=${3:-20}
ensure_pkg xmlsec1 xmlsec1
ensure_pkg python3 python3
ops/demo.sh up >/dev/null
AWAY=$ROOT/.demo/hsm/away
trap 'mv "$AWAY"/* "$ROOT/.demo/hsm/tokens/" 2>/dev/null || true; ops/demo.sh down >/dev/null' EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin mixedload
OUT=$ROOT/target/chaos
mkdir -p "$OUT" "$AWAY"
ready() { curl -s -o "$OUT/hsm.readyz.$1.json" -w '%{http_code}' "$MW_ADMIN_URL/readyz"; }
token=$(ls -d "$ROOT"/.demo/hsm/tokens/*)
mixedload --rate "$RATE" --duration-secs $(( 2 * PHASE + OUTAGE )) --report-secs "$PHASE" --timeout-secs 30 \
  --record "$OUT/hsm.requests.jsonl" > "$OUT/hsm.reports.jsonl" &
LOAD=$!
sleep "$PHASE"; mv "$token" "$AWAY/"; echo "token away for ${OUTAGE} s"
sleep $(( OUTAGE / 2 )); during=$(ready during)
sleep $(( OUTAGE - OUTAGE / 2 )); mv "$AWAY"/* "$ROOT/.demo/hsm/tokens/"; echo "token back"
wait "$LOAD"
after=$(ready after)
up=$(metric 'fsemw_hsm_up{key="signature"}')
reopens=$(metric 'fsemw_hsm_session_reopens{key="signature"}')
audit_counts "$OUT/hsm.requests.jsonl" > "$OUT/hsm.audit"
curl -fsS "$GTW_SIM_ADMIN_URL/observed" > "$OUT/hsm.observed.json"
PYTHONPATH=$ROOT/ops/chaos python3 - "$OUT" "$PHASE" "$OUTAGE" "$during" "$after" "${up:-0}" "${reopens:-0}" <<'PY'
import sys, json, collections
from judge import SERVED as served, jsonl, audit, at_gateway, table, verdict
out, phase, outage = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
during, after, up, reopens = sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
reqs = jsonl(f"{out}/hsm.requests.jsonl")
once, not_once = audit(f"{out}/hsm.audit")
keys_during = json.load(open(f"{out}/hsm.readyz.during.json"))["checks"]["keys"]["status"]
def phase_of(at):
    s = at / 1000
    if s < phase - 1:
        return "before"
    if phase + 1 <= s < phase + outage - 1:
        return "away"
    if s >= phase + outage + 3:
        return "back"
    return None  # the switches themselves are not judged

rows = collections.Counter()
wrong = []
for r in reqs:
    p = phase_of(r["at_ms"])
    got = (r["status"], r["type"])
    rows[(r["kind"], p or "switch", got)] += 1
    if p is None:
        ok = r["status"] != 0
    elif p == "away" and r["kind"] != "consultation":
        ok = got == (503, "mw/unavailable")
    else:
        ok = r["status"] in served[r["kind"]] and not r["type"]
    if not ok:
        wrong.append((r["kind"], p, got))
table(rows, ["before", "switch", "away", "back"])
accepted = [r for r in reqs if r["kind"] == "publication" and r["status"] in (201, 202)]
missing, twice = at_gateway(accepted, f"{out}/hsm.observed.json")
unanswered = sum(1 for r in reqs if r["status"] == 0)
ids = sum(1 for r in reqs if r.get("tx"))
print(f"requests {len(reqs)}, unanswered {unanswered}, unexpected {len(wrong)}; /readyz while away {during} "
      f"(keys {keys_during}), after {after}; fsemw_hsm_up {up}, session re-openings {reopens}; transaction ids "
      f"{ids}: audited once {once}, not once {not_once}; publications accepted {len(accepted)}: at the gateway "
      f"once {len(accepted) - len(missing) - len(twice)}, missing {len(missing)}, twice {len(twice)}")
verdict({
    "every request answered": unanswered == 0,
    "refused cleanly while the token was away, all served otherwise": not wrong,
    "not ready while away, ready again after, without a restart": during == "503" and keys_during == "down" and after == "200" and up == 1,
    "every transaction audited exactly once": once == ids and not_once == 0,
    "every accepted publication at the gateway exactly once": not missing and not twice,
}, wrong)
PY
