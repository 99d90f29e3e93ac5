"""Cost of a log that proves itself: appending a signed, checkpointed record against the bare hash chain.

Baseline: the schema-1 append (one BEGIN IMMEDIATE transaction inserting a hash-chained row, no signature,
no checkpoint), run on a copy of the same record in the same kind of database. Prints per-record times,
the ratio, and how long `verify_log` takes for the whole log.

    python scripts/bench_audit.py [--records 500]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from siting.audit import _COLUMNS, _FIELDS, _SCHEMA, AuditLog, CheckRecord, new_check_id, now_utc
from siting.audit_verify import verify_log


def _record() -> CheckRecord:
    """A record the size of a real one (a result of about 20 kB)."""
    result = {"overall": "restricted", "findings": [{"rule": f"R{i}", "quote": "条文" * 60} for i in range(60)]}
    return CheckRecord(id="", created_at=now_utc().isoformat(timespec="seconds"), checked_on="2026-12-06", channel="api",
                       project="基准", inputs={"industry": "造纸"}, site_wkb=b"\x01" * 21, overall="restricted", result=result,
                       catalog_version="0" * 64, layer_versions={"layers": {}, "missing": []})


def _bare_append(path: Path, record: CheckRecord) -> None:
    """The schema-1 append: hash chain only."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("BEGIN IMMEDIATE")
        last = connection.execute("SELECT digest FROM checks ORDER BY seq DESC LIMIT 1").fetchone()
        prev = last[0] if last else ""
        stored = replace(record, prev_digest=prev, digest=record.compute_digest(prev))
        connection.execute(f"INSERT INTO checks ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                           stored._columns())
        connection.execute("COMMIT")
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=500)
    args = parser.parse_args()
    template = _record()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as work:
        bare_path = Path(work) / "bare" / "audit.sqlite3"
        bare_path.parent.mkdir()
        with sqlite3.connect(bare_path) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(_SCHEMA)
        start = time.perf_counter()
        for _ in range(args.records):
            _bare_append(bare_path, replace(template, id=new_check_id(now_utc()) + "b"))
        bare = (time.perf_counter() - start) / args.records

        log = AuditLog(Path(work) / "signed" / "audit.sqlite3")
        start = time.perf_counter()
        for _ in range(args.records):
            log.append(replace(template, id=new_check_id(now_utc()) + "s"))
        signed = (time.perf_counter() - start) / args.records

        start = time.perf_counter()
        found = verify_log(log.path, log.checkpoints_path, log.key.public)
        verify_s = time.perf_counter() - start
        assert found.intact, found.to_dict()
        size = log.checkpoints_path.stat().st_size
    print(f"records: {args.records}, {len(_FIELDS)} fields, result ≈ {len(str(template.result)) / 1000:.0f} kB")
    print(f"baseline (schema 1, hash chain only): {bare * 1000:.2f} ms per record")
    print(f"signed + checkpointed:                {signed * 1000:.2f} ms per record")
    print(f"ratio signed / baseline:              {signed / bare:.2f}")
    print(f"checkpoint file: {size / args.records:.0f} bytes per record; verify_log of the whole log: {verify_s:.2f} s "
          f"({verify_s / args.records * 1000:.2f} ms per record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
