#!/usr/bin/env bash
# The cost of keeping the regional key in a token: the same RSA-2048 key signing JWTs
# and mutual-TLS handshakes from memory and from SoftHSM2 (PKCS#11), in one run.
#   ops/bench/hsm.sh [seconds] [threads]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
. ops/lib.sh
ensure_pkg softhsm2-util softhsm2
SECS=${1:-3} THREADS=${2:-2}
WORK=$(mktemp -d /tmp/fsemw-hsmbench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cargo build --release -q -p integration-tests --bin hsmbench
BENCH=target/release/hsmbench
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK" > "$WORK/softhsm2.conf"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
MODULE=$(ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so 2>/dev/null | head -n 1)
$BENCH prepare --dir "$WORK/keys"
softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 5678 >/dev/null
softhsm2-util --import "$WORK/keys/key.pem" --token bench --label signature --id 02 --pin 1234 >/dev/null
$BENCH run --dir "$WORK/keys" --module "$MODULE" --label bench --pin 1234 --seconds "$SECS" --threads "$THREADS"
