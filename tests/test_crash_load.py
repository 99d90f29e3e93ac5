"""The load script (scripts/load_test.py) on a short run: real server, real clients, real audit log.

The full run (50 clients, 60 s) is quoted in the README; here 5 clients for 3 s must already
give no errors, every answered check recorded, and an intact hash chain."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "load_test.py"


def test_a_short_load_run_has_no_errors_and_loses_no_audit_record(layers, data_dir):
    done = subprocess.run([sys.executable, str(SCRIPT), "--clients", "5", "--seconds", "3", "--json", "--data-from", str(data_dir)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (done.stdout, done.stderr[-3000:])
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["checks_answered"] > 0 and summary["expected_rejections"] > 0
    assert summary["requests"] == summary["checks_answered"] + summary["expected_rejections"]
    assert summary["lost"] == 0 and summary["unanswered_records"] == 0
    assert summary["audit_records"] == summary["chain_records"] == summary["checks_answered"]
    assert summary["chain_broken"] == [] and summary["verify_exit"] == 0
    assert 0 < summary["latency_ms"]["p50"] <= summary["latency_ms"]["p95"] <= summary["latency_ms"]["p99"]
