#!/usr/bin/env bash
# Create (once) the project's virtual environment and install the project into it.
# Sourced by demo.sh and test.sh; SITING_VENV overrides the location (default .venv).
set -euo pipefail
VENV="${SITING_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
