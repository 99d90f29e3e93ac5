"""Run schemathesis (an independent OpenAPI client) with all its checks against `siting serve`.

    python scripts/openapi_fuzz.py --max-examples 650 --max-time 1800 --seed 20261206   # starts its own server
    python scripts/openapi_fuzz.py --url http://127.0.0.1:8000 --max-examples 25  # an already running one

Every operation in /openapi.json is tested, so a route added later is covered without editing this
file. The JSON report (schemathesis's own) is written to --report; the summary line printed last is
what the README quotes. The test suite runs the same function in a bounded size
(tests/test_openapi.py).

The one tuning, declared per operation below: on the check routes a schema-valid request may still
be refused with 422 for its content (an industry not in the taxonomy, coordinate text that cannot be
read, a site outside China's Gauss-Krüger zones, a file that is not a readable site); the schema's
422 description says so. Every other check runs with schemathesis's defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Content the schema cannot express: the taxonomy, the coordinate grammar, China's GK zones, site files,
# the admin regions a siting map may be drawn for.
SEMANTIC_OPERATIONS = (("POST", "/api/check"), ("POST", "/api/check/file"), ("GET", "/api/siting-map"),
                       ("GET", "/api/siting-map/table"), ("GET", "/api/siting-map/download"))
CONFIG = "".join(f"""
[[operations]]
include-path = "{path}"
include-method = "{method}"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
""" for method, path in SEMANTIC_OPERATIONS)


def schemathesis_command() -> list[str]:
    st = Path(sys.executable).with_name("st")
    return [str(st)] if st.exists() else [shutil.which("st") or "st"]


def run(url: str, max_examples: int, seed: int, report: Path, workers: int = 1, max_time: float | None = None) -> dict:
    """One schemathesis run over every operation; returns its JSON report (a dict)."""
    import httpx

    # Uploads carry the page's same-origin token (README, "Same-origin only"), as the page sends it.
    token = httpx.get(f"{url}/api/csrf-token", timeout=30).json()["token"]
    with tempfile.TemporaryDirectory(prefix="siting-openapi-") as work:
        config = Path(work) / "schemathesis.toml"
        config.write_text(CONFIG, encoding="utf-8")
        command = [*schemathesis_command(), "--config-file", str(config), "run", f"{url}/openapi.json", "--checks", "all",
                   "--max-examples", str(max_examples), "--seed", str(seed), "--workers", str(workers), "--no-color",
                   "--header", f"X-CSRF-Token: {token}",
                   "--generation-database", "none", "--request-timeout", "120", "--report", "json",
                   "--report-json-path", str(report)]
        if max_time:
            command += ["--max-time", str(int(max_time))]
        log = report.with_suffix(".log")
        with log.open("wb") as output:
            subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, cwd=work, check=False)
    if not report.exists():
        raise RuntimeError(f"schemathesis wrote no report:\n{log.read_text(errors='replace')[-5000:]}")
    return json.loads(report.read_text(encoding="utf-8"))


def summary(result: dict) -> str:
    cases = result["test_cases"]
    failures = sum(f.get("count", 1) for f in result["failures"])
    operations = result["operations"]
    return (f"schemathesis {result['schemathesis_version']}: {cases['generated']} generated requests, "
            f"{operations['tested']}/{operations['total']} operations, checks all, seed {result['seed']}, "
            f"{failures} failures, {len(result['errors'])} errors, {result['running_time']:.0f} s "
            f"({result['started_at'][:10]})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="a running server (default: start `siting serve` on a free loopback port)")
    parser.add_argument("--data-dir", type=Path, help="SITING_DATA_DIR for the started server (default: the environment's)")
    parser.add_argument("--max-examples", type=int, default=700)
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-time", type=float, help="seconds: fuzzing and stateful phases repeat until spent")
    parser.add_argument("--report", type=Path, default=Path("openapi-fuzz.json"))
    args = parser.parse_args(argv)
    report = args.report.resolve()
    if args.url:
        result = run(args.url.rstrip("/"), args.max_examples, args.seed, report, args.workers, args.max_time)
    else:
        sys.path.insert(0, str(ROOT))
        from tests.webapp import running_server

        data_dir = args.data_dir or Path(os.environ.get("SITING_DATA_DIR", Path.home() / ".local" / "share" / "siting"))
        with running_server(data_dir) as base:
            result = run(base, args.max_examples, args.seed, report, args.workers, args.max_time)
    print(f"{report}\n{report.with_suffix('.log')}")
    print(summary(result))
    return 0 if not result["failures"] and not result["errors"] and result["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
