# Shared shell helpers for ops/ scripts (sourced, not run).

# Installs Debian packages whose command is missing: ensure_pkg COMMAND PACKAGE...
ensure_pkg() {
  local cmd=$1; shift
  if ! command -v "$cmd" >/dev/null 2>&1; then
    echo "installing $*" >&2
    if [ ! -f /var/lib/apt/periodic/fsemw-updated ]; then apt-get update -qq >&2; mkdir -p /var/lib/apt/periodic; touch /var/lib/apt/periodic/fsemw-updated; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
  fi
}

# Python tools of the tests, in a virtual environment at $1: zeep (the independent SOAP
# client), schemathesis (property-based tests of docs/openapi.yaml), kubernetes-validate
# (the manifests of ops/k8s).
ensure_py_tools() {
  local venv=$1
  ensure_pkg python3 python3
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" 2>/dev/null || { ensure_pkg __no_such_command__ python3-venv; python3 -m venv "$venv"; }
  fi
  "$venv/bin/python" -c 'import zeep, xmlsec, schemathesis, kubernetes_validate' 2>/dev/null \
    || "$venv/bin/python" -m pip install -q zeep==4.3.3 xmlsec==1.3.17 schemathesis==4.32.5 kubernetes-validate==1.37.0
}

# cargo-deny, the dependency audit, built once into target/cargo-tools (about 3 minutes).
ensure_cargo_deny() {
  local root=$ROOT/target/cargo-tools
  [ -x "$root/bin/cargo-deny" ] || cargo install --locked --quiet cargo-deny@0.20.2 --root "$root" >&2
  export PATH=$root/bin:$PATH
}

# `cargo deny check` with deny.toml: licences, bans and sources always; advisories against
# the RustSec database, fetched from GitHub, or cloned from FSEMW_ADVISORY_DB (a git URL or
# folder) where GitHub is out of reach. Without either, advisories are reported as NOT
# checked (a loud warning, the other checks still run and fail the build).
dependency_audit() {
  # cargo-deny's folder for deny.toml's db-urls under its db-path.
  local db=$ROOT/target/advisory-dbs/advisory-db-3157b0e258782691
  # cargo-deny reads the metadata of every platform's dependencies offline: on a fresh
  # machine those of other targets (Windows, wasm) are not downloaded yet.
  cargo fetch --locked --quiet
  if ! timeout 120 cargo deny fetch db >/dev/null 2>&1 && [ -n "${FSEMW_ADVISORY_DB:-}" ]; then
    rm -rf "$db"; mkdir -p "$(dirname "$db")"; git clone -q "$FSEMW_ADVISORY_DB" "$db"
  fi
  if [ -d "$db/crates" ]; then
    echo "RustSec advisory database of $(git -C "$db" log -1 --format=%cs)"
    cargo deny --offline check
  else
    echo "WARNING: advisories NOT checked: the RustSec database could not be fetched and FSEMW_ADVISORY_DB is not set" >&2
    cargo deny --offline check bans licenses sources
  fi
}

# Installs the libxml2 development library (XSD validation links it) when missing.
ensure_libxml2() {
  [ -e /usr/lib/x86_64-linux-gnu/libxml2.so ] || ensure_pkg __no_such_command__ libxml2-dev pkg-config
}

# Installs PostgreSQL when its server binaries are missing.
ensure_postgres() {
  pg_bindir >/dev/null 2>&1 || ensure_pkg __no_such_command__ postgresql
}

# The PostgreSQL server binaries folder (Debian keeps them off PATH).
pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

# Runs a command as the postgres user when we are root (initdb refuses root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Starts a socket-only throw-away cluster in $1 (user "app", trust auth). It trades
# durability for speed (no fsync, asynchronous commit); PG_EXTRA_OPTS (e.g. "-c fsync=on
# -c synchronous_commit=on") is appended, for the fault scripts that crash it.
pg_start_cluster() {
  local dir=$1 bin
  bin=$(pg_bindir) || { echo "PostgreSQL server binaries not found" >&2; return 1; }
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U app -N >/dev/null
  fi
  as_pg "$bin/pg_ctl" -w -D "$dir/data" -l "$dir/log" \
    -o "-c listen_addresses='' -c unix_socket_directories=$dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=200 ${PG_EXTRA_OPTS:-}" \
    start >/dev/null
}

pg_stop_cluster() {
  local dir=$1 bin
  bin=$(pg_bindir) || return 0
  [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
}

# The lab sample signed by a test signer, for publications (after `ops/demo.sh up`): the
# sample's own PAdES signature does not verify, so the simulator refuses it as the gateway
# does (docs/gateway-fidelity.md, row S21). Written once; prints its path.
signed_lab_pdf() {
  local out=$ROOT/.demo/signed-lab.pdf
  [ -s "$out" ] || "$ROOT/target/release/fsemw-dev" sign-pdf \
    "$SHARED/testdata/pdf/accreditamento/SIGNED_LAB1.pdf" "$out" >/dev/null
  echo "$out"
}

# The mixed-traffic generator (tests/src/bin/mixedload.rs) as the demo producer, against the
# demo stack (after `ops/demo.sh up` and `. .demo/env`; $ROOT and $SHARED set); more options
# follow in "$@". The SOAP identities are signed with the demo PKI (MW_TEST_PKI).
mixedload() {
  local pki=$ROOT/.demo/pki
  MW_TEST_PKI=$pki "$ROOT/target/release/mixedload" --url "${MW_URL%/v1}" --ca "$DEMO_CA" \
    --cert "$pki/producer.pem" --key "$pki/producer.key" \
    --jwt-cert "$pki/producer.pem" --jwt-key "$pki/producer.key" --aud "$GTW_SIM_URL" \
    --validation-pdf "$SHARED/testdata/pdf/attachment/LAB_OK.pdf" \
    --publication-pdf "$(signed_lab_pdf)" \
    --pid "$(cat "$ROOT/.demo/mw.pid")" "$@"
}

# One value of the demo middleware's /metrics (after `. .demo/env`): metric NAME{labels}.
metric() { curl -fsS "$MW_ADMIN_URL/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

# Prints "<audited once> <not once>" for the transaction ids ("tx") of a JSON-lines record
# (after `. .demo/env`).
audit_counts() {
  local ids
  ids=$(mktemp)
  python3 -c 'import json,sys; [print(r["tx"]) for r in map(json.loads, open(sys.argv[1])) if r.get("tx")]' "$1" > "$ids"
  "$(pg_bindir)/psql" "$DATABASE_URL" -qAt <<SQL
CREATE TEMP TABLE sent (tx_id uuid);
\copy sent FROM '$ids'
SELECT count(*) FILTER (WHERE n = 1) || ' ' || count(*) FILTER (WHERE n <> 1)
  FROM (SELECT s.tx_id, count(t.tx_id) AS n FROM sent s LEFT JOIN transactions t USING (tx_id) GROUP BY s.tx_id) x;
SQL
  rm -f "$ids"
}

# Waits (at most $1 seconds) until the outbox has nothing pending or being sent.
outbox_drained() {
  for _ in $(seq 1 "$1"); do
    [ "$("$(pg_bindir)/psql" "$DATABASE_URL" -qAtc "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')")" = 0 ] && return 0
    sleep 1
  done
  return 1
}

# Waits (at most $1 seconds) until the middleware's audit journal is empty.
journal_drained() {
  for _ in $(seq 1 "$1"); do
    [ "$(metric fsemw_audit_journal_rows)" = 0 ] && return 0
    sleep 1
  done
  return 1
}
