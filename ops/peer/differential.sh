#!/usr/bin/env bash
# Regenerates tests/golden/schematron/*.json: the verdicts of pyschematron (an independent
# engine with full XPath 3.1) on the shared CDA documents. Slow (about 100 s per LAB document):
# run it by hand when rules or documents change, then commit the golden files; the normal
# tests compare the product's engine with them.
#   ops/peer/differential.sh [document relative to shared/testdata ...]
# GOLDEN_DIR=<dir> writes the verdicts elsewhere (the benchmark uses it for timings).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SHARED=${FSEMW_SHARED:-$(cd "$ROOT/.." && pwd)/shared}
PY=$(command -v python3.12 || true)
[ -n "$PY" ] && "$PY" --version >/dev/null 2>&1 || PY="env PYENV_VERSION=3.12.1 python3.12"
if [ ! -x .peer/venv/bin/python ]; then
  $PY -m venv .peer/venv
  .peer/venv/bin/pip install -q pyschematron==1.2.5 pypdf==7.1.1
fi
if [ $# -eq 0 ]; then
  set -- $(cd "$SHARED/testdata" && ls cda/examples/*.xml cda/validator/*/*.xml cda/encoding/*.xml)
fi
.peer/venv/bin/python ops/peer/pyschematron_verdicts.py "$SHARED" "${GOLDEN_DIR:-tests/golden/schematron}" "$@"
