#!/usr/bin/env bash
# Main job on the embedded default data: set up, build the default layers, check the
# example sites, write their maps and the zone maps of 运城市 and 绛县 to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
"$VENV/bin/siting" layers build
"$VENV/bin/python" scripts/run_examples.py out
"$VENV/bin/siting" map --region 运城市 --out out/运城市.html --png out/运城市.png
"$VENV/bin/siting" map --region 绛县 --out out/绛县.html --pdf out/绛县.pdf
