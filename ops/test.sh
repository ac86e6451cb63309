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
ensure_pkg xmlsec1 xmlsec1
ensure_pkg openssl openssl
ensure_pkg promtool prometheus
ensure_pkg systemd-analyze systemd
# The console's browser test: Debian's Chromium, driven by playwright-core (npm).
ensure_pkg chromium chromium
ensure_pkg node nodejs
ensure_pkg npm npm
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
# zeep (tests/api/soap_zeep.rs) and schemathesis (tests/api/schemathesis.rs).
ensure_py_tools "$WORK/py-tools"
export FSEMW_PY_TOOLS=$WORK/py-tools
npm install --silent --no-audit --no-fund --prefix "$WORK/node-tools" playwright-core@1.57.0 >/dev/null
export FSEMW_NODE_TOOLS=$WORK/node-tools

echo "== format"
cargo fmt --all -- --check

echo "== layering: dependencies point one way (dev-tools -> gateway-sim -> middleware -> {xds, soap-wsdl, hsm, cda-validation, gateway-contract}, soap-wsdl -> xds, cda-validation -> gateway-contract)"
forbid() { # crate, regex of forbidden direct dependencies
  if cargo tree -p "$1" -e normal --depth 1 --prefix none | tail -n +2 | grep -E "^($2) " ; then
    echo "$1 depends on something it must not" >&2; exit 1
  fi
}
forbid_in_tree() { # crate, regex of crates that must not be anywhere in its dependency tree
  if cargo tree -p "$1" -e normal --prefix none | tail -n +2 | grep -E "^($2) " ; then
    echo "$1's dependency tree holds something it must not" >&2; exit 1
  fi
}
# The production binary links neither the simulator nor the dev tools nor their certificate minter.
forbid_in_tree middleware 'gateway-sim|dev-tools|rcgen'
forbid gateway-sim 'dev-tools|rcgen'
# The XDS crate owns the registry store (PostgreSQL) but no HTTP server.
forbid xds 'axum|hyper|middleware|soap-wsdl|hsm'
forbid soap-wsdl 'axum|hyper|tokio-postgres|deadpool-postgres|middleware|hsm'
forbid hsm 'axum|hyper|tokio-postgres|deadpool-postgres|middleware|xds|soap-wsdl'
# The shared contract is a leaf: no server, no database, no runtime, none of the product's crates.
forbid gateway-contract 'axum|hyper|tokio|tokio-postgres|deadpool-postgres|reqwest|middleware|xds|soap-wsdl|hsm|cda-validation|gateway-sim'
# So is CDA validation: the contract and XML libraries, nothing of the server or the simulator.
forbid cda-validation 'axum|hyper|tokio|tokio-postgres|deadpool-postgres|reqwest|middleware|xds|soap-wsdl|hsm|gateway-sim'

# The middleware's SQL lives in its db/ modules, one function per statement.
if grep -rlE "SELECT |INSERT INTO|DELETE FROM|UPDATE [a-z_]+ SET" middleware/src --include=*.rs | grep -v '^middleware/src/db/'; then
  echo "SQL outside middleware/src/db/" >&2; exit 1
fi

echo "== clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== dependency audit (cargo deny: advisories, licences, bans, sources; deny.toml)"
ensure_cargo_deny
dependency_audit

echo "== tests"
cargo test --workspace --locked
