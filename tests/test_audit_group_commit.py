"""Group commit: records that arrive together share one transaction and one signed checkpoint, each caller is
answered only once its record is durable, and however many processes (or app servers) append at once the
log stays one unbroken chain with nothing lost. The same tests for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from siting.audit.audited_check import run_check
from siting.audit.log import Actor, AuditLog, CheckRecord, open_audit_log
from siting.audit.verify import verify_log
from tests.audit_backends import audit_database  # noqa: F401  (the fixture)

_APPENDER = """
import json, sys, threading
from dataclasses import replace
from siting.audit.log import CheckRecord, new_check_id, now_utc, open_audit_log
template = json.loads(sys.argv[2])
template["site_wkb"] = bytes.fromhex(template["site_wkb"])
record = CheckRecord(**template)
log = open_audit_log(sys.argv[1])
out = threading.Lock()
def run(n):
    for i in range(int(sys.argv[3])):
        stored = log.append(replace(record, id=new_check_id(now_utc()) + f"-{sys.argv[4]}{n}-{i}", prev_digest="", digest=""))
        with out:
            print(stored.id, flush=True)
threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"batches": log.writer.batches, "records": log.writer.records}), flush=True)
"""


@pytest.fixture()
def audit(audit_database) -> AuditLog:  # noqa: F811
    return open_audit_log(audit_database)


def _checkpoints(audit: AuditLog) -> list[dict]:
    return [json.loads(line) for line in audit.checkpoints_path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_concurrent_records_share_transactions_and_checkpoints(layers, audit, mill_site):
    _, template = run_check(mill_site, {}, "造纸", "new", layers, audit, "api", actor=Actor("张三", "reviewer"))
    batches_before, stored = audit.writer.batches, []
    start = threading.Barrier(16)

    def caller(n: int) -> None:
        start.wait()
        for i in range(25):
            record = audit.append(CheckRecord(**{**template.__dict__, "id": f"{template.id}-{n}-{i}"}))
            assert audit.get(record.id) is not None, "answered before it was stored"
            stored.append(record)

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batches = audit.writer.batches - batches_before
    assert len(stored) == 400 and audit.count() == 401
    assert batches < 400 / 2, f"{batches} transactions for 400 concurrent records: no group commit"
    assert len(_checkpoints(audit)) <= batches + 1, "a checkpoint per batch, not per record"
    assert _checkpoints(audit)[-1]["checks"]["size"] == 401, "the last answer is covered by a checkpoint"
    found = verify_log(audit.database, audit.checkpoints_path, audit.key.public)
    assert found.intact and found.records == 401
    assert sorted(r.digest for r in stored) == sorted(r.digest for r in audit.recent(400))


def test_two_processes_appending_at_once_keep_one_chain_and_lose_nothing(layers, audit, mill_site):
    """Two app servers (here two processes of eight threads each) append to one log at the same time."""
    _, template = run_check(mill_site, {}, "造纸", "new", layers, audit, "api")
    body = json.dumps({k: v for k, v in template.to_dict().items() if k not in ("decisions", "public_key")}, ensure_ascii=False)
    children = [subprocess.Popen([sys.executable, "-c", _APPENDER, str(audit.database), body, "30", name],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in "ab"]
    answered, stats = [], []
    for child in children:
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        lines = out.splitlines()
        answered += lines[:-1]
        stats.append(json.loads(lines[-1]))
    assert len(answered) == 2 * 8 * 30 and all(s["records"] == 240 for s in stats)
    assert set(answered) <= {r.id for r in audit.recent(1000)} and audit.count() == 481
    found = verify_log(audit.database, audit.checkpoints_path, audit.key.public)
    assert found.intact and found.records == 481, found.problems
    with audit.store.connect() as connection:
        seqs = [row["seq"] for row in connection.execute("SELECT seq FROM checks ORDER BY seq").fetchall()]
    assert seqs == list(range(1, 482)), "one chain: no gap, no fork"
    assert sum(s["batches"] for s in stats) < 480, "each process batched its concurrent callers"


def test_a_checkpoint_that_cannot_be_written_refuses_records_until_it_can(layers, audit, mill_site):
    """No answer is given for a record its checkpoint does not cover: the first such record is stored but refused,
    later ones are refused before they are stored; once the file is back, every stored record is covered."""
    from siting.audit.log import AuditError

    _, first = run_check(mill_site, {}, "造纸", "new", layers, audit, "api")
    saved = audit.checkpoints_path.with_name("saved-checkpoints.jsonl")
    audit.checkpoints_path.rename(saved)
    audit.checkpoints_path.mkdir()  # where the file was: nothing can be appended to it
    for n in range(2):
        with pytest.raises(AuditError, match="checkpoints"):
            audit.append(CheckRecord(**{**first.__dict__, "id": f"{first.id}-{n}"}))
    audit.checkpoints_path.rmdir()
    saved.rename(audit.checkpoints_path)
    after = audit.append(CheckRecord(**{**first.__dict__, "id": f"{first.id}-after"}))
    assert audit.get(f"{first.id}-0") is not None and audit.get(f"{first.id}-1") is None
    found = verify_log(audit.database, audit.checkpoints_path, audit.key.public)
    assert found.intact and found.records == 3 and not found.notes, found.to_dict()
    assert _checkpoints(audit)[-1]["checks"] == {"size": 3, "head": after.digest}
