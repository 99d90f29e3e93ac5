"""Cost of a durable, signed, checkpointed audit record: one caller, and fifty callers at once (group commit).

The same measurement runs on today's code and, with ``--baseline DIR`` (a checkout of earlier code, e.g.
``git worktree add /tmp/baseline HEAD``), on that code in the same run, each in its own process and its own
fresh SQLite log; printed side by side with ratios. Also: records per transaction (batch) today, and how
long ``verify_log`` takes for the whole log. ``--database postgresql://…`` measures today's code on
PostgreSQL instead (its tables must not exist yet).

    python scripts/bench_audit.py [--records 2000] [--callers 50] [--baseline /tmp/baseline]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_MEASURE = """
import json, sys, threading, time
from dataclasses import replace
from pathlib import Path
from siting.audit.log import AuditLog, CheckRecord, new_check_id, now_utc
from siting.audit.verify import verify_log

records, callers, where = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
try:
    from siting.audit.log import open_audit_log
    log = open_audit_log(where)
except ImportError:
    log = AuditLog(Path(where))
result = {"overall": "restricted", "findings": [{"rule": f"R{i}", "quote": "条文" * 60} for i in range(60)]}
template = CheckRecord(id="", created_at=now_utc().isoformat(timespec="seconds"), checked_on="2026-12-06", channel="api",
                       project="基准", inputs={"industry": "造纸"}, site_wkb=b"\\x01" * 21, overall="restricted", result=result,
                       catalog_version="0" * 64, layer_versions={"layers": {}, "missing": []})
start = time.perf_counter()
for _ in range(records // 4):
    log.append(replace(template, id=new_check_id(now_utc()) + "s"))
one = (time.perf_counter() - start) / (records // 4)
writer = getattr(log, "writer", None)
batches = writer.batches if writer else 0
def caller(n):
    for _ in range(records // callers):
        log.append(replace(template, id=new_check_id(now_utc()) + f"c{n}"))
threads = [threading.Thread(target=caller, args=(n,)) for n in range(callers)]
start = time.perf_counter()
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
concurrent = (time.perf_counter() - start)
done = records // callers * callers
batches = (writer.batches - batches) if writer else done
start = time.perf_counter()
found = verify_log(getattr(log, "database", log.path), log.checkpoints_path, log.key.public)
verify_s = time.perf_counter() - start
assert found.intact, found.to_dict()
print(json.dumps({"one_caller_ms": one * 1000, "concurrent_per_s": done / concurrent, "records": done,
                  "batches": batches, "verify_s": verify_s, "verified": found.records,
                  "checkpoint_bytes": log.checkpoints_path.stat().st_size}))
"""


def measure(code: Path, records: int, callers: int, database: str) -> dict:
    run = subprocess.run([sys.executable, "-c", _MEASURE, str(records), str(callers), database], cwd=code,
                         capture_output=True, text=True, timeout=3600)
    if run.returncode != 0:
        raise RuntimeError(f"measuring {code} failed:\n{run.stderr[-2000:]}")
    return json.loads(run.stdout.splitlines()[-1])


def describe(name: str, found: dict, callers: int) -> str:
    return (f"{name}: one caller {found['one_caller_ms']:.2f} ms per record; {callers} callers at once "
            f"{found['concurrent_per_s']:.0f} records/s in {found['batches']} transactions "
            f"({found['records'] / max(1, found['batches']):.1f} records each); verify_log {found['verify_s']:.2f} s for "
            f"{found['verified']} records; checkpoints {found['checkpoint_bytes'] / found['verified']:.0f} bytes per record")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000, help="records written by the concurrent callers")
    parser.add_argument("--callers", type=int, default=50)
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout of earlier code to measure too")
    parser.add_argument("--database", default=None, help="postgresql://… to measure today's code on PostgreSQL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as work:
        now = measure(REPO, args.records, args.callers, args.database or str(Path(work) / "now" / "audit.sqlite3"))
        print(describe("now", now, args.callers))
        if args.baseline is not None:
            (Path(work) / "baseline").mkdir()
            before = measure(args.baseline, args.records, args.callers, str(Path(work) / "baseline" / "audit.sqlite3"))
            print(describe("baseline", before, args.callers))
            print(f"now / baseline: one caller {now['one_caller_ms'] / before['one_caller_ms']:.2f} (time per record), "
                  f"{args.callers} callers {now['concurrent_per_s'] / before['concurrent_per_s']:.2f} (records/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
