#!/usr/bin/env bash
# All set-up and every test: install, lint, then pytest (which builds the layers it needs).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
"$VENV/bin/ruff" check .
"$VENV/bin/python" -m pytest "$@"
