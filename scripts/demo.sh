#!/usr/bin/env bash
# Main job on the embedded default data: set up, build the default layers, check the
# example sites and write their maps to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
"$VENV/bin/siting" layers build
"$VENV/bin/python" scripts/run_examples.py out
