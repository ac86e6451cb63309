#!/usr/bin/env bash
# Every test of the project, on a fresh machine: installs what is missing, starts a
# throw-away PostgreSQL cluster, checks formatting, lints and layering, runs all tests.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. ops/lib.sh

ensure_postgres
ensure_libxml2
ensure_pkg softhsm2-util softhsm2
command -v cargo >/dev/null || { echo "cargo is required" >&2; exit 1; }

WORK=$(mktemp -d /tmp/fsemw-test.XXXXXX)
chmod 755 "$WORK"
cleanup() { pg_stop_cluster "$WORK/pg"; rm -rf "$WORK"; }
trap cleanup EXIT
pg_start_cluster "$WORK/pg"
export MW_TEST_PGHOST=$WORK/pg
# A private SoftHSM2 configuration; the harness creates its tokens there.
mkdir -p "$WORK/softhsm"
export SOFTHSM2_CONF=$WORK/softhsm/softhsm2.conf
export FSEMW_SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}

echo "== format"
cargo fmt --all -- --check

echo "== layering: library crates stay free of HTTP and database stacks"
for crate in xds soap-wsdl hsm; do
  if cargo tree -p "$crate" -e normal --prefix none | grep -E '^(axum|hyper|tokio-postgres|deadpool)' ; then
    echo "$crate depends on a server/database crate" >&2; exit 1
  fi
done

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== tests"
cargo test --workspace --locked
