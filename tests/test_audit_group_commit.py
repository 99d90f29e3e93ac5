"""Group commit: records that arrive together share one transaction and one signed checkpoint, each caller is
answered only once its record is durable, and however many processes (or app servers) append at once the
log stays one unbroken chain with nothing lost. The same tests for SQLite and PostgreSQL."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import shapely

from siting.audit import audited_check
from siting.audit.audited_check import CheckInput, prepare, run_check
from siting.audit.log import Actor, AuditLog, CheckRecord, JsonText, open_audit_log
from siting.audit.verify import verify_log
from siting.web.workers import Unrecorded
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


def test_a_record_sealed_in_a_check_worker_is_stored_and_answered_exactly_as_made(layers, audit, mill_site):
    """A web check worker seals its record (row values and digest input, the result encoded once) and the server's
    writer only links and signs it: the row read back, its digest, the chain and the answer's bytes must be those
    of the record as made, for a point, a polygon and a line, with plain appends interleaved."""
    line = shapely.LineString([mill_site.coords[0], (mill_site.x + 0.02, mill_site.y + 0.01)])
    made = [prepare(CheckInput.parse(site, {}, industry, "new", project="封存"), layers, "api", actor=Actor("李四", "reviewer", "一科"))[1]
            for site, industry in ((mill_site, "造纸"), (mill_site.buffer(0.004), "焦化"), (line, "软件开发"))]
    start = threading.Barrier(len(made) + 1)
    stored: dict[str, object] = {}

    def seal_and_store(record: CheckRecord) -> None:
        pending = pickle.loads(pickle.dumps(Unrecorded.check(record, str(audit.database))))  # as it crosses the pipe
        start.wait()
        stored[record.id] = (pending, audit.submit_sealed(list(pending.records)).result()[0])

    threads = [threading.Thread(target=seal_and_store, args=(record,)) for record in made]
    for thread in threads:
        thread.start()
    start.wait()
    plain = audit.append(replace(made[0], id=f"{made[0].id}-plain"))
    for thread in threads:
        thread.join()
    with audit.store.connect() as connection:
        texts = {row["id"]: row["result"] for row in connection.execute("SELECT id, result FROM checks").fetchall()}
    for record in made:
        pending, linked = stored[record.id]
        back = audit.get(record.id)
        assert back.digest == linked.digest and back.signature == linked.signature
        assert (back.result, back.inputs, back.site_wkb, back.layer_versions) == (record.result, record.inputs, record.site_wkb,
                                                                                  record.layer_versions)
        assert (back.user, back.role, back.unit, back.project) == ("李四", "reviewer", "一科", "封存")
        assert texts[record.id] == record.result.text == json.dumps(json.loads(record.result.text), ensure_ascii=False,
                                                                    sort_keys=True), "the stored text is canonical"
        assert json.loads(pending.answer()) == {**record.result, "audit": record.echo()}
    assert audit.get(plain.id).digest == plain.digest
    found = verify_log(audit.database, audit.checkpoints_path, audit.key.public)
    assert found.intact and found.records == len(made) + 1, found.problems


def test_a_record_sealed_at_once_is_stored_and_answered_byte_for_byte_as_one_read_back(layers, mill_site, monkeypatch):
    """A check worker's record keeps its result as written, not decoded again from its text (``sealed_at_once``):
    the row, its digest input and the answer must be the very bytes of the record whose result was read back, for
    a point, a polygon and a line; and an answer the worker builds by encoding (a result with the word NaN) keeps the
    stored key order, not the order the result was written in."""
    clock = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    monkeypatch.setattr(audited_check, "now_utc", lambda: clock)
    monkeypatch.setattr(audited_check, "new_check_id", lambda now: "C20261206T090000-0123456789ab")
    line = shapely.LineString([mill_site.coords[0], (mill_site.x + 0.02, mill_site.y + 0.01)])
    for site, industry in ((mill_site, "造纸"), (mill_site.buffer(0.004), "焦化"), (line, "软件开发")):
        inputs = CheckInput.parse(site, {"notes": ("as", "given")}, industry, "new", project="逐字节")
        read_back = Unrecorded.check(prepare(inputs, layers, "api")[1], None)
        written = prepare(inputs, layers, "api", sealed_at_once=True)[1]
        at_once = Unrecorded.check(written, None)
        assert list(written.result) != sorted(written.result), "kept as written: its keys are not in the stored order"
        assert at_once.answer() == read_back.answer()
        assert [(r.tail, r.layout) for r in at_once.records] == [(r.tail, r.layout) for r in read_back.records]
        worded = {**written.result, "headline": "NaN"}
        assert (Unrecorded.check(replace(written, result=JsonText.written(worded)), None).body
                == Unrecorded.check(replace(written, result=JsonText.of(worded)), None).body)


def test_an_answer_built_from_the_stored_text_is_always_valid_json(layers, mill_site):
    """JSON has no NaN: a result holding one is refused (the worker reports an error) rather than answered as
    ``NaN``, as the encoder used for answers did; the word in a text value is answered as usual."""
    record = prepare(CheckInput.parse(mill_site, {}, "造纸", "new"), layers, "api")[1]
    worded = replace(record, result=JsonText.of({**record.result, "note": "NaN Infinity"}))
    assert json.loads(Unrecorded.check(worded, None).answer())["note"] == "NaN Infinity"
    with pytest.raises(ValueError, match="JSON compliant"):
        Unrecorded.check(replace(record, result=JsonText.of({**record.result, "distance_m": float("nan")})), None)
