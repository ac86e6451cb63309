#!/usr/bin/env bash
# The demo stack: PostgreSQL, dev PKI, gateway simulator, middleware, a demo producer.
#   ops/demo.sh        start everything and stay in the foreground until Ctrl-C
#   ops/demo.sh up     start everything, write .demo/env, return
#   ops/demo.sh down   stop everything ops/demo.sh started
# DEMO_FULL_VALIDATION=1 makes the simulator run XSD, schematron and vocabulary with the
# rules in shared/testdata (then LAB_OK.pdf gets the current rules' 422, see docs/validation.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$ROOT/.demo
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
. "$ROOT/ops/lib.sh"
MW_PORT=${MW_PORT:-8443} MW_ADMIN_PORT=${MW_ADMIN_PORT:-9090}
SIM_PORT=${SIM_PORT:-9443} SIM_ADMIN_PORT=${SIM_ADMIN_PORT:-9444}
TOUCHPOINT_PORT=${TOUCHPOINT_PORT:-9445}

down() {
  for p in mw sim; do
    if [ -f "$DEMO/$p.pid" ]; then kill "$(cat "$DEMO/$p.pid")" 2>/dev/null || true; rm -f "$DEMO/$p.pid"; fi
  done
  pg_stop_cluster "$DEMO/pg"
  echo "demo stopped"
}

wait_http() { # URL TRIES
  for _ in $(seq 1 "$2"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.5; done
  echo "not ready: $1 (see $DEMO/*.log)" >&2; return 1
}

up() {
  ensure_pkg curl curl
  ensure_pkg softhsm2-util softhsm2
  ensure_pkg pkcs11-tool opensc
  ensure_postgres
  ensure_libxml2
  command -v cargo >/dev/null || { echo "cargo is required" >&2; exit 1; }
  # The product (fsemw) and, beside it, the development tools (fsemw-dev: simulator, dev PKI,
  # dev JWTs, SoftHSM2 dev token), which the product never links.
  (cd "$ROOT" && cargo build --release --bin fsemw --bin fsemw-dev)
  FSEMW=$ROOT/target/release/fsemw
  FSEMW_DEV=$ROOT/target/release/fsemw-dev
  down >/dev/null 2>&1 || true
  mkdir -p "$DEMO" && chmod 755 "$DEMO"
  pg_start_cluster "$DEMO/pg"
  "$(pg_bindir)/psql" -h "$DEMO/pg" -U app -d postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='fsemw'" | grep -q 1 \
    || "$(pg_bindir)/psql" -h "$DEMO/pg" -U app -d postgres -qc "CREATE DATABASE fsemw"
  # A PKI from an older version (without the gateway notifier's certificate) is made
  # again, and with it the token whose certificates its national CA issued.
  if [ ! -f "$DEMO/pki/gtw-notifier.pem" ]; then
    rm -rf "$DEMO/pki" "$DEMO/hsm"
    "$FSEMW_DEV" dev-pki --out "$DEMO/pki" >/dev/null
  fi
  local pki=$DEMO/pki gtw_url="https://localhost:$SIM_PORT/v1"
  # Secrets made once per demo folder: the CF HMAC key and the admin API's operator token.
  [ -s "$DEMO/cf-hmac.key" ] || (umask 077; openssl rand -hex 32 > "$DEMO/cf-hmac.key")
  [ -s "$DEMO/admin.token" ] || (umask 077; openssl rand -hex 32 > "$DEMO/admin.token")
  # The regional pair lives in a SoftHSM2 token; certificates come from the dev national CA.
  "$FSEMW_DEV" hsm init-dev --dir "$DEMO/hsm" --ca-cert "$pki/national-ca.pem" --ca-key "$pki/national-ca.key" \
    > "$DEMO/hsm.env"
  . "$DEMO/hsm.env"
  sed -e "s#^listen = .*#listen = \"127.0.0.1:$MW_PORT\"#" \
      -e "s#^admin_listen = .*#admin_listen = \"127.0.0.1:$MW_ADMIN_PORT\"#" \
      -e "s#^tls_cert = .*#tls_cert = \"$pki/mw-server.pem\"#" -e "s#^tls_key = .*#tls_key = \"$pki/mw-server.key\"#" \
      -e "s#^client_ca = .*#client_ca = \"$pki/regional-ca.pem\"#" \
      -e "s#^client_crls = .*#client_crls = [\"$pki/regional-ca.crl.pem\"]#" \
      -e "s#^base_url = .*#base_url = \"$gtw_url\"#" -e "s#^ca = .*#ca = \"$pki/national-ca.pem\"#" \
      -e "s#^auth_cert = .*#auth_cert = \"$DEMO/hsm/region-auth-hsm.pem\"#" \
      -e "s#^signature_cert = .*#signature_cert = \"$DEMO/hsm/region-sig-hsm.pem\"#" \
      -e "s#^module = .*#module = \"$PKCS11_MODULE\"#" -e "s#^token_label = .*#token_label = \"$HSM_TOKEN_LABEL\"#" \
      -e "s#^pin_file = .*#pin_file = \"$HSM_PIN_FILE\"#" \
      -e "s#^url = .*#url = \"host=$DEMO/pg user=app dbname=fsemw\"#" \
      -e "s#^cf_hmac_key_id = .*#cf_hmac_key_id = \"1\"\ncf_hmac_key = \"$(cat "$DEMO/cf-hmac.key")\"#" \
      -e "s#^saml_signers = .*#saml_signers = [\"$pki/saml-idp.pem\", \"$pki/saml-ca.pem\"]#" \
      -e "s#^smartcard_cas = .*#smartcard_cas = [\"$pki/cns-ca.pem\"]#" \
      -e "s#^crls = .*#crls = [\"$pki/saml-ca.crl.pem\", \"$pki/cns-ca.crl.pem\"]#" \
      "$ROOT/ops/config/puglia.toml" > "$DEMO/fsemw.toml"
  # The operations console: user "demo", password "demo" (operator), and the public page.
  cat >> "$DEMO/fsemw.toml" <<TOML

[[admin.tokens]]
name = "demo-operator"
file = "$DEMO/admin.token"
role = "operator"

[console]
public_page = true

[[console.users]]
name = "demo"
password_hash = "$(echo demo | "$FSEMW" console-password --iterations 100000)"
role = "operator"

# The gateway's status pushes (its certificates: the dev national CA).
[touchpoint]
listen = "127.0.0.1:$TOUCHPOINT_PORT"
tls_cert = "$pki/mw-server.pem"
tls_key = "$pki/mw-server.key"
client_ca = "$pki/national-ca.pem"
TOML
  nohup "$FSEMW_DEV" gateway-sim --listen "127.0.0.1:$SIM_PORT" --admin-listen "127.0.0.1:$SIM_ADMIN_PORT" \
    --cert "$pki/gtw-sim.pem" --key "$pki/gtw-sim.key" --client-ca "$pki/national-ca.pem" \
    --jwt-ca "$pki/national-ca.pem" --audience "$gtw_url" ${DEMO_FULL_VALIDATION:+--rules "$SHARED/testdata"} \
    --openapi "$SHARED/reference/upstream/gtw-openapi/swagger_gtw.yaml" \
    --push-cert "$pki/gtw-notifier.pem" --push-key "$pki/gtw-notifier.key" --push-ca "$pki/regional-ca.pem" \
    > "$DEMO/sim.log" 2>&1 &
  echo $! > "$DEMO/sim.pid"
  wait_http "http://127.0.0.1:$SIM_ADMIN_PORT/healthz" 40
  export FSEMW_CONFIG=$DEMO/fsemw.toml
  export SOFTHSM2_CONF
  "$FSEMW" migrate >/dev/null
  # It signs its tokens with its TLS key (case 2) or its national signature certificate (case 1).
  "$FSEMW" producer add --cn 01234567890.labdemo.it --app-id LABDEMO --app-vendor "FSEMW DEMO" \
    --app-version 1.0 --role producer --organization aslba \
    --signing-cert "$pki/producer.pem" --signing-cert "$pki/producer-national-sig.pem" >/dev/null
  nohup "$FSEMW" serve > "$DEMO/mw.log" 2>&1 &
  echo $! > "$DEMO/mw.pid"
  wait_http "http://127.0.0.1:$MW_ADMIN_PORT/healthz" 60
  # The regional registry and one repository per configured [[xds.repositories]].
  local repos
  repos=$(awk '/^\[\[xds\.repositories\]\]/ {r=1; next} /^\[/ {r=0} r && /^name = / {gsub(/"/, "", $3); print $3}' "$DEMO/fsemw.toml" \
    | while read -r r; do printf '%s=https://localhost:%s/xds/repository/%s ' "$r" "$MW_PORT" "$r"; done)
  cat > "$DEMO/env" <<ENV
export FSEMW=$FSEMW
export FSEMW_DEV=$FSEMW_DEV
export FSEMW_CONFIG=$DEMO/fsemw.toml
export MW_URL=https://localhost:$MW_PORT/v1
export MW_ADMIN_URL=http://127.0.0.1:$MW_ADMIN_PORT
export MW_TOUCHPOINT_URL=https://localhost:$TOUCHPOINT_PORT
export MW_ADMIN_TOKEN_FILE=$DEMO/admin.token
export GTW_SIM_URL=$gtw_url
export GTW_SIM_ADMIN_URL=http://127.0.0.1:$SIM_ADMIN_PORT
export DEMO_CA=$pki/ca-bundle.pem
export DEMO_PRODUCER_CERT=$pki/producer.pem
export DEMO_PRODUCER_KEY=$pki/producer.key
export FSEMW_DEV_JWT_CERT=$pki/producer.pem
export FSEMW_DEV_JWT_KEY=$pki/producer.key
export DATABASE_URL="host=$DEMO/pg user=app dbname=fsemw"
export SOFTHSM2_CONF=$SOFTHSM2_CONF
export PKCS11_MODULE=$PKCS11_MODULE
export HSM_TOKEN_LABEL=$HSM_TOKEN_LABEL
export HSM_PIN_FILE=$HSM_PIN_FILE
export XDS_REGISTRY_URL=https://localhost:$MW_PORT/xds/registry
export XDS_REPOSITORY_URLS="${repos% }"
ENV
  cat <<MSG
The demo stack is up (logs in .demo/*.log). Try it:

  source .demo/env
  PDF=$SHARED/testdata/pdf/attachment/LAB_OK.pdf
  curl -sS -i --cacert "\$DEMO_CA" --cert "\$DEMO_PRODUCER_CERT" --key "\$DEMO_PRODUCER_KEY" \\
    -H "Authorization: \$(\$FSEMW_DEV dev-jwt --pdf "\$PDF" --operation validation --field authorization)" \\
    -H "FSE-JWT-Signature: \$(\$FSEMW_DEV dev-jwt --pdf "\$PDF" --operation validation --field fse_jwt_signature)" \\
    -F 'requestBody={"healthDataFormat":"CDA","mode":"ATTACHMENT","activity":"VALIDATION"}' \\
    -F "file=@\$PDF;type=application/pdf" "\$MW_URL/documents/validation"

  \$FSEMW tx show <X-Transaction-Id of the answer>
  \$FSEMW hsm status          # the regional keys in the SoftHSM2 token
  curl -sS --cacert "\$DEMO_CA" --cert "\$DEMO_PRODUCER_CERT" --key "\$DEMO_PRODUCER_KEY" "\$XDS_REGISTRY_URL?wsdl"

  Operations console: http://127.0.0.1:$MW_ADMIN_PORT/console (user demo, password demo);
  public page http://127.0.0.1:$MW_ADMIN_PORT/public; metrics /metrics (open). The admin API needs
  the operator token: curl -H "Authorization: Bearer \$(cat \$MW_ADMIN_TOKEN_FILE)" \$MW_ADMIN_URL/openapi.yaml
MSG
}

case "${1:-foreground}" in
  up) up ;;
  down) down ;;
  foreground)
    up
    trap 'down; exit 0' INT TERM
    echo "Ctrl-C stops the demo."
    while sleep 3600; do :; done ;;
  *) echo "usage: ops/demo.sh [up|down]" >&2; exit 64 ;;
esac
