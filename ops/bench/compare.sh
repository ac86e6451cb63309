#!/usr/bin/env bash
# The middleware beside the reverse proxy a region could deploy instead, in one run, with
# one load generator (client certificates on every connection): validation requests with a
# 200 KB PDF, mTLS on both hops, through
#   (a) the gateway simulator directly,
#   (b) nginx as an mTLS reverse proxy, configured as a region would for certificate case 1,
#   (c) the middleware in case 1 (tokens passed through, audit row written),
#   (d) the middleware in case 2 with the regional keys in SoftHSM2 (tokens re-signed).
# Prints throughput and p50/p99/p99.9 of each, the ratios (c)/(b) and (d)/(b), the token's
# single-core RSA-2048 signing rate (the ceiling for (d): two signatures per request), and
# the middleware's footprint (idle RSS, start-to-ready with migrations applied).
# (b) and (c) are measured in several interleaved rounds (the machine's speed drifts by a
# few per cent from minute to minute): their medians and the median of the per-round
# ratios are reported. Then (b) and (c) again at a fixed rate below saturation, open loop:
# the latency each adds when the machine is not the bottleneck.
#   ops/bench/compare.sh [duration_secs] [concurrency] [rounds]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
DURATION=${1:-15} CONC=${2:-64} ROUNDS=${3:-3}
NGINX_PORT=${NGINX_PORT:-8643} CASE1_PORT=${CASE1_PORT:-8543} CASE1_ADMIN=${CASE1_ADMIN:-9190}
ensure_pkg nginx nginx
ensure_pkg python3 python3

ops/demo.sh up >/dev/null
WORK=$(mktemp -d /tmp/fsemw-compare.XXXXXX)
stop() {
  [ -f "$WORK/case1.pid" ] && kill "$(cat "$WORK/case1.pid")" 2>/dev/null || true
  [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
  ops/demo.sh down >/dev/null
  rm -rf "$WORK"
}
trap stop EXIT
. .demo/env
cargo build --release -q -p integration-tests --bin loadgen --bin hsmbench
LOAD=target/release/loadgen
PKI=$ROOT/.demo/pki PDF=$SHARED/testdata/pdf/attachment/LAB_OK.pdf
SIM_HOSTPORT=${GTW_SIM_URL#https://}; SIM_HOSTPORT=${SIM_HOSTPORT%%/*}

# (b) nginx: the region's authentication certificate towards the gateway, producers'
# certificates checked against the regional CA, bodies streamed, keep-alive upstream.
mkdir -p "$WORK/nginx/logs"
cat > "$WORK/nginx/nginx.conf" <<NGINX
user $(id -un);
worker_processes auto;
pid $WORK/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log $WORK/nginx/logs/access.log combined buffer=64k flush=5s;
  client_max_body_size 5m;
  upstream gateway { server $SIM_HOSTPORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl http2;
    ssl_certificate $PKI/mw-server.pem;
    ssl_certificate_key $PKI/mw-server.key;
    ssl_client_certificate $PKI/regional-ca.pem;
    ssl_verify_client on;
    location / {
      proxy_pass https://gateway;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_ssl_certificate $PKI/region-auth.pem;
      proxy_ssl_certificate_key $PKI/region-auth.key;
      proxy_ssl_trusted_certificate $PKI/national-ca.pem;
      proxy_ssl_verify on;
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
    }
  }
}
NGINX
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf"

# (c) a second middleware on the same database and token, certificate case 1.
sed -e "s#^listen = .*#listen = \"127.0.0.1:$CASE1_PORT\"#" \
    -e "s#^admin_listen = .*#admin_listen = \"127.0.0.1:$CASE1_ADMIN\"#" \
    -e "s#^certificate_case = .*#certificate_case = 1#" "$FSEMW_CONFIG" > "$WORK/case1.toml"
grep -q '^certificate_case = 1' "$WORK/case1.toml"
FSEMW_CONFIG=$WORK/case1.toml nohup "$FSEMW" serve > "$WORK/case1.log" 2>&1 &
echo $! > "$WORK/case1.pid"
for _ in $(seq 1 100); do curl -fsS -o /dev/null "http://127.0.0.1:$CASE1_ADMIN/healthz" 2>/dev/null && break; sleep 0.1; done

# CPU time (ticks of 1/100 s) of a set of processes, to report CPU per request.
ticks() { local s=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$s"; }
NGINX_PIDS=$(pgrep -f "nginx: (master|worker)" | tr '\n' ' ')
PG_PIDS() { pgrep -f "postgres" | tr '\n' ' '; }
# measure LABEL PROXY_PIDS -- loadgen options: the run's JSON with the proxy's and the
# database's CPU per request added.
measure() {
  local label=$1 pids=$2 out p0 d0 p1 d1
  shift 2
  p0=$(ticks $pids) d0=$(ticks $(PG_PIDS))
  out=$($LOAD "$@" --label "$label")
  p1=$(ticks $pids) d1=$(ticks $(PG_PIDS))
  python3 - "$out" "$((p1 - p0))" "$((d1 - d0))" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
n = max(r["requests"] + r.get("warmup_requests", 0), 1)
r["proxy_cpu_ms"] = int(sys.argv[2]) * 10 / n
r["db_cpu_ms"] = int(sys.argv[3]) * 10 / n
print(json.dumps(r))
PY
}

common=(--ca "$DEMO_CA" --pdf "$PDF" --aud "$GTW_SIM_URL" --concurrency "$CONC" --duration-secs "$DURATION")
producer=(--cert "$PKI/producer.pem" --key "$PKI/producer.key")
# Case 1 producers sign with a nationally issued signature certificate of their own.
national=(--jwt-cert "$PKI/producer-national-sig.pem" --jwt-key "$PKI/producer-national-sig.key")
direct=$(measure "(a) direct" "" "${common[@]}" --url "$GTW_SIM_URL" \
  --cert "$PKI/region-auth.pem" --key "$PKI/region-auth.key" --jwt-cert "$PKI/region-sig.pem" --jwt-key "$PKI/region-sig.key")
proxy_runs=() case1_runs=()
for _ in $(seq 1 "$ROUNDS"); do
  proxy_runs+=("$(measure "(b) nginx" "$NGINX_PIDS" "${common[@]}" --url "https://localhost:$NGINX_PORT/v1" "${producer[@]}" "${national[@]}")")
  case1_runs+=("$(measure "(c) mw case 1" "$(cat "$WORK/case1.pid")" "${common[@]}" --url "https://localhost:$CASE1_PORT/v1" "${producer[@]}" "${national[@]}")")
done
# The round with the median throughput stands for each path; every round is printed.
median_run() { python3 -c '
import json, sys
runs = sorted((json.loads(a) for a in sys.argv[1:]), key=lambda r: r["rps"])
print(json.dumps(runs[len(runs) // 2]))' "$@"; }
proxy=$(median_run "${proxy_runs[@]}")
case1=$(median_run "${case1_runs[@]}")
case2=$(measure "(d) mw case 2" "$(cat .demo/mw.pid)" "${common[@]}" --url "$MW_URL" "${producer[@]}" \
  --jwt-cert "$PKI/producer.pem" --jwt-key "$PKI/producer.key")

# The same two paths at a fixed rate below saturation (open loop, 60 % of what nginx
# sustained above): the latency each adds when the machine is not the bottleneck.
RATE=$(python3 -c "import json,sys; print(round(json.loads(sys.argv[1])['rps'] * 0.6))" "$proxy")  # of the median round
fixed_runs=()
for _ in $(seq 1 "$ROUNDS"); do
  fixed_runs+=("$(measure "(b) nginx" "$NGINX_PIDS" "${common[@]}" --rate "$RATE" --url "https://localhost:$NGINX_PORT/v1" "${producer[@]}" "${national[@]}")")
  fixed_runs+=("$(measure "(c) mw case 1" "$(cat "$WORK/case1.pid")" "${common[@]}" --rate "$RATE" --url "https://localhost:$CASE1_PORT/v1" "${producer[@]}" "${national[@]}")")
done
fixed=$(printf '%s\n' "${fixed_runs[@]}" | python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin]))')

# The token's single-core signing rate: a fresh SoftHSM2 token, one thread.
ceiling=$(ops/bench/hsm.sh 3 1 | awk '$1 == "softhsm2" {print $2}')

# Footprint: a middleware started afresh on the migrated database — start-to-ready, then
# its RSS once idle (after one request, so that pools and TLS state exist).
kill "$(cat "$WORK/case1.pid")"; sleep 0.5
start=$(date +%s%N)
FSEMW_CONFIG=$WORK/case1.toml nohup "$FSEMW" serve >> "$WORK/case1.log" 2>&1 &
echo $! > "$WORK/case1.pid"
until curl -fsS -o /dev/null "http://127.0.0.1:$CASE1_ADMIN/healthz" 2>/dev/null; do sleep 0.005; done
ready_ms=$(( ($(date +%s%N) - start) / 1000000 ))
$LOAD --ca "$DEMO_CA" --pdf "$PDF" --aud "$GTW_SIM_URL" --label warm --url "https://localhost:$CASE1_PORT/v1" \
  "${producer[@]}" "${national[@]}" --concurrency 1 --duration-secs 1 --warmup-secs 0 >/dev/null
sleep 2
idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$(cat "$WORK/case1.pid")/status")

rounds=$(printf '%s\n' "${proxy_runs[@]}" "${case1_runs[@]}" | python3 -c 'import json,sys; print(json.dumps([json.loads(l) for l in sys.stdin]))')
python3 - "$direct" "$proxy" "$case1" "$case2" "${ceiling:-0}" "$idle_kb" "$ready_ms" "$fixed" "$rounds" <<'PY'
import json, sys, statistics
runs = [json.loads(a) for a in sys.argv[1:5]]
ceiling, idle_kb, ready_ms = float(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
fixed = json.loads(sys.argv[8])
rounds = json.loads(sys.argv[9])
half = len(rounds) // 2
pairs = list(zip(rounds[:half], rounds[half:]))
print("rounds, (b) then (c) each time:")
for i, (b, c) in enumerate(pairs, 1):
    print(f"  {i}: (b) {b['rps']:.1f} req/s p99 {b['p99_ms']:.2f} ms; (c) {c['rps']:.1f} req/s p99 {c['p99_ms']:.2f} ms; "
          f"x{c['rps']/b['rps']:.2f}, p99 {c['p99_ms']-b['p99_ms']:+.2f} ms")
print(f"median over the rounds: x{statistics.median(c['rps']/b['rps'] for b, c in pairs):.2f}, "
      f"p99 {statistics.median(c['p99_ms']-b['p99_ms'] for b, c in pairs):+.2f} ms")
print(f"{'path':<16}{'requests':>9}{'errors':>7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'p99.9 ms':>10}{'proxy CPU ms/req':>18}{'db CPU ms/req':>15}")
for r in runs:
    print(f"{r['label']:<16}{r['requests']:>9}{r['errors']:>7}{r['rps']:>9.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['p999_ms']:>10.2f}"
          f"{r['proxy_cpu_ms']:>18.3f}{r['db_cpu_ms']:>15.3f}")
_, b, c, d = runs
print(f"(c)/(b), the median runs in the table: throughput x{c['rps']/b['rps']:.2f}, p99 {c['p99_ms']-b['p99_ms']:+.2f} ms")
print(f"(d)/(b): throughput x{d['rps']/b['rps']:.2f}, p99 {d['p99_ms']-b['p99_ms']:+.2f} ms")
if ceiling:
    # Two RS256 signatures per request in case 2.
    print(f"token ceiling (1 core): {ceiling:.0f} signatures/s = {ceiling/2:.0f} req/s; (d) = {d['rps']/(ceiling/2)*100:.0f} % of it")
print(f"open loop at a fixed {fixed[0]['rate']:.0f} req/s, (b) then (c) each round:")
fpairs = list(zip(fixed[0::2], fixed[1::2]))
for i, (fb, fc) in enumerate(fpairs, 1):
    print(f"  {i}: (b) p50 {fb['p50_ms']:.2f} p99 {fb['p99_ms']:.2f} p99.9 {fb['p999_ms']:.2f} ms, {fb['proxy_cpu_ms']:.3f} ms CPU/req; "
          f"(c) p50 {fc['p50_ms']:.2f} p99 {fc['p99_ms']:.2f} p99.9 {fc['p999_ms']:.2f} ms, {fc['proxy_cpu_ms']:.3f} ms CPU/req + {fc['db_cpu_ms']:.3f} database; "
          f"p99 {fc['p99_ms']-fb['p99_ms']:+.2f} ms")
print(f"(c)-(b) open loop, median over the rounds: p50 {statistics.median(c['p50_ms']-b['p50_ms'] for b, c in fpairs):+.2f} ms, "
      f"p99 {statistics.median(c['p99_ms']-b['p99_ms'] for b, c in fpairs):+.2f} ms")
print(f"middleware idle RSS {idle_kb/1024:.1f} MiB, start-to-ready {ready_ms} ms (migrations applied)")
print(f"(PDF {runs[0]['pdf_bytes']} bytes, {runs[0]['concurrency']} connections, every process on this machine)")
PY
