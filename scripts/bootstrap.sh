#!/usr/bin/env bash
# Installs tongban into ./.venv from the lock file (reproducible), on any machine with Python 3.11+.
# Sourced by scripts/serve and scripts/test; safe to run again (a no-op when nothing changed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
  echo "error: tongban needs Python 3.11 or newer (found: $("$PY" --version 2>&1))" >&2
  exit 1
fi
stamp=.venv/.installed-$(sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  echo "== installing tongban and its locked dependencies into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check uv
  .venv/bin/uv pip install -q --python .venv/bin/python --require-hashes -r requirements.lock
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  # Prefect's database migrated once per install, so a fresh `tongban serve` need not (flows/prefect_api.py)
  .venv/bin/python -m flows.prefect_api --template >/dev/null || echo "(no Prefect template: serve will migrate)"
  rm -f .venv/.installed-* && touch "$stamp"
fi
