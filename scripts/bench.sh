#!/usr/bin/env bash
# All benchmarks of issue 8, one command: latency (a, d), then throughput and memory (b, c).
# Each prints its ratios against baselines measured in the same run on the same data.
# PostgreSQL + PostGIS come from Debian packages (installed if missing, started on
# 127.0.0.1 in a temporary data directory, removed afterwards). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup_env.sh
"$VENV/bin/python" scripts/bench_latency.py
"$VENV/bin/python" scripts/bench_batch.py --profile
