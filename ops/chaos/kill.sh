#!/usr/bin/env bash
# The middleware killed (SIGKILL) at random moments while producers publish, with the real
# processes of the demo stack (durable PostgreSQL, SoftHSM2 token, gateway simulator, the
# release `fsemw serve`). The gateway is unreachable while they publish, so every
# publication goes through the outbox and the regional index — the state a crash can tear.
#   PRODUCERS producers (each its own client certificate from the regional CA, registered
#   with `fsemw producer add`) send PUBLICATIONS validate-and-create requests in all
#   (tests/src/bin/publishers.rs); one without an answer is sent again, same bytes.
#   KILLS times, at a random count of answered publications, `kill -9` and a restart.
#   Then the gateway is back and the outbox drains.
# Verdict:
#   - every publication answered 2xx in the end;
#   - each queued once (the retries of one whose answer a kill cut are the same row);
#   - each reached the gateway exactly once (by the SHA-256 of its body), none failed;
#   - each indexed in the regional registry exactly once;
#   - every transaction id a producer received is in the audit trail exactly once.
#   ops/chaos/kill.sh [publications] [producers] [kills]     (defaults: 1000 8 3)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
N=${1:-1000} PRODUCERS=${2:-8} KILLS=${3:-3}
ensure_pkg python3 python3
ensure_pkg openssl openssl
# Killed for real, so durable as in production: a commit is on disk before it returns.
export PG_EXTRA_OPTS="-c fsync=on -c full_page_writes=on -c synchronous_commit=on"
ops/demo.sh up >/dev/null
trap 'curl -fsS -o /dev/null -X POST -H "content-type: application/json" -d "{\"mode\":\"none\"}" "$GTW_SIM_ADMIN_URL/faults" || true; ops/demo.sh down >/dev/null' EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin publishers
OUT=$ROOT/target/chaos/kill
rm -rf "$OUT" && mkdir -p "$OUT/producers"
PKI=$ROOT/.demo/pki
RUN=$(date +%s)
psql_() { "$(pg_bindir)/psql" "$DATABASE_URL" -qAt "$@"; }

# The producers: RSA keys, certificates from the regional CA (Puglia CN convention).
for i in $(seq 0 $((PRODUCERS - 1))); do
  cn=$(printf '9%010d.kill%d.it' "$i" "$i")
  openssl req -new -newkey rsa:2048 -nodes -keyout "$OUT/producers/p$i.key" -subj "/CN=$cn/O=FSE chaos" \
    -out "$OUT/producers/p$i.csr" 2>/dev/null
  openssl x509 -req -in "$OUT/producers/p$i.csr" -CA "$PKI/regional-ca.pem" -CAkey "$PKI/regional-ca.key" \
    -CAcreateserial -CAserial "$OUT/producers/serial" -days 2 -out "$OUT/producers/p$i.pem" \
    -extfile <(printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n') 2>/dev/null
  "$FSEMW" producer add --cn "$cn" --app-id LABDEMO --app-vendor "FSEMW DEMO" --app-version 1.0 \
    --role producer --organization aslba >/dev/null
done

fault() { curl -fsS -o /dev/null -X POST -H 'content-type: application/json' -d "$1" "$GTW_SIM_ADMIN_URL/faults"; }
restart_mw() {
  nohup "$FSEMW" serve >> "$ROOT/.demo/mw.log" 2>&1 &
  echo $! > "$ROOT/.demo/mw.pid"
  disown
  for _ in $(seq 1 100); do curl -fsS -o /dev/null "$MW_ADMIN_URL/healthz" 2>/dev/null && return 0; sleep 0.1; done
  echo "the middleware did not come back" >&2; return 1
}

fault '{"mode":"down"}'
echo 0 > "$OUT/progress"
"$ROOT/target/release/publishers" --url "${MW_URL%/v1}" --ca "$DEMO_CA" --aud "$GTW_SIM_URL" \
  --producers-dir "$OUT/producers" --producers "$PRODUCERS" --publications "$N" \
  --pdf "$(signed_lab_pdf)" --run "$RUN" \
  --progress "$OUT/progress" --record "$OUT/publications.jsonl" > "$OUT/publishers.out" &
LOAD=$!
# Kill points: KILLS distinct random counts of answered publications, in order.
mapfile -t points < <(shuf -i "$((N / 20))-$((N * 19 / 20))" -n "$KILLS" | sort -n)
for p in "${points[@]}"; do
  while [ "$(cat "$OUT/progress" 2>/dev/null)" -lt "$p" ]; do
    kill -0 "$LOAD" 2>/dev/null || break
    sleep 0.01
  done
  kill -9 "$(cat "$ROOT/.demo/mw.pid")"
  at=$(cat "$OUT/progress")
  sleep "0.$((RANDOM % 9 + 1))"
  restart_mw
  echo "killed at $at answered publications (aimed at $p), restarted"
done
wait "$LOAD"
cat "$OUT/publishers.out"
fault '{"mode":"none"}'
outbox_drained 600 || true
like="%^KILL-$RUN-%"
psql_ -c "SELECT state, count(*), count(DISTINCT document_id) FROM outbox WHERE document_id LIKE '$like' GROUP BY state" > "$OUT/outbox"
psql_ -c "SELECT unique_id, count(*) FROM xds_document_entry WHERE unique_id LIKE '$like' AND status LIKE '%Approved' GROUP BY unique_id" > "$OUT/indexed"
audit_counts "$OUT/publications.jsonl" > "$OUT/audit"
curl -fsS "$GTW_SIM_ADMIN_URL/observed" > "$OUT/observed.json"
PYTHONPATH=$ROOT/ops/chaos python3 - "$OUT" "$N" <<'PY'
import sys, collections
from judge import jsonl, audit, at_gateway, verdict
out, n = sys.argv[1], int(sys.argv[2])
pubs = jsonl(f"{out}/publications.jsonl")
outbox = {l.split("|")[0]: (int(l.split("|")[1]), int(l.split("|")[2])) for l in open(f"{out}/outbox").read().split()}
indexed = collections.Counter({l.split("|")[0]: int(l.split("|")[1]) for l in open(f"{out}/indexed").read().split()})
once, not_once = audit(f"{out}/audit")
accepted = [p for p in pubs if 200 <= p["status"] < 300]
missing, twice = at_gateway(accepted, f"{out}/observed.json")
rows = sum(c for c, _ in outbox.values())
docs = sum(d for _, d in outbox.values())
not_indexed = [p for p in accepted if indexed[p["document_id"]] != 1]
retried = sum(1 for p in pubs if p["tries"] > 1)
ids = sum(1 for p in pubs if p.get("tx"))
print(f"publications {len(pubs)} by {len(set(p['producer'] for p in pubs))} producers, answered 2xx {len(accepted)}, "
      f"sent again after a kill {retried}; outbox rows {rows} for {docs} documents {outbox}; at the gateway once "
      f"{len(accepted) - len(missing) - len(twice)}, missing {len(missing)}, twice {len(twice)}; indexed once "
      f"{len(accepted) - len(not_indexed)}; transaction ids {ids}: audited once {once}, not once {not_once}")
verdict({
    f"all {n} publications answered 2xx": len(pubs) == n and len(accepted) == n,
    "each queued once (retries joined their row)": rows == n and docs == n,
    "outbox drained, none failed": set(outbox) == {"delivered"},
    "each at the gateway exactly once": not missing and not twice,
    "each indexed in the regional registry once": not not_indexed,
    "every transaction id audited exactly once": once == ids and not_once == 0,
})
PY
