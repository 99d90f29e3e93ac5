"""The audit log: every check stored, replayable on its date, tamper-evident, and crash-safe; the same tests
for the embedded SQLite file and for PostgreSQL (``tests.audit_backends``)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import date, datetime

import pytest

from siting.audit.audited_check import replay, run_check
from siting.audit.log import AuditLog, CheckRecord, open_audit_log, review_date
from siting.audit.verify import verify_log
from tests.audit_backends import audit_database  # noqa: F401  (the fixture)

_APPENDER = """
import json, sys
from dataclasses import replace
from pathlib import Path
from siting.audit.log import CheckRecord, new_check_id, now_utc, open_audit_log
template = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
template["site_wkb"] = bytes.fromhex(template["site_wkb"])
record = CheckRecord(**template)
log = open_audit_log(sys.argv[1])
while True:
    stored = log.append(replace(record, id=new_check_id(now_utc()), prev_digest="", digest=""))
    print(stored.id, flush=True)
"""


@pytest.fixture()
def audit(audit_database) -> AuditLog:  # noqa: F811
    return open_audit_log(audit_database)


def broken(audit: AuditLog) -> list[str]:
    return verify_log(audit.database, audit.checkpoints_path, audit.key.public).broken


def test_a_check_is_stored_with_its_inputs_versions_and_result(layers, audit, mill_site):
    given = {"text": "by test", "crs": "WGS84", "inferred": False, "notes": []}
    result, record = run_check(mill_site, given, "造纸", "新建", layers, audit, "cli", project="  某纸业  ")
    stored = audit.get(record.id)
    assert stored == record and audit.count() == 1
    assert stored.project == "某纸业" and stored.inputs == {"industry": "造纸", "stage": "新建", "site": given}
    assert stored.overall == result.overall.value == stored.result["overall"] == "prohibited"
    assert set(stored.layer_versions["layers"]) == set(layers.layers) and stored.layer_versions["missing"] == sorted(layers.missing)
    assert len(stored.catalog_version) == 64 and stored.checked_on == review_date(datetime.fromisoformat(stored.created_at)).isoformat()
    assert stored.id[1:16] == datetime.fromisoformat(stored.created_at).strftime("%Y%m%dT%H%M%S"), "id and record: one instant (UTC)"


def test_replay_uses_the_stored_date_so_deadlines_read_the_same(layers, audit, mill_site):
    _, before_deadline = run_check(mill_site, {}, "焦化", "existing", layers, audit, "api", on=date(2023, 1, 1))
    _, today = run_check(mill_site, {}, "焦化", "existing", layers, audit, "api")
    exit_rule = "YC21-3.2-coke-43m-exit"

    def overdue(result: dict) -> bool:
        return next(f for f in result["findings"] if f["rule"] == exit_rule)["overdue"]

    assert overdue(before_deadline.result) is False and overdue(today.result) is True
    again = replay(audit.get(before_deadline.id), layers)
    assert again.identical and again.versions_match and again.differences() == []
    assert overdue(again.result_dict) is False


def test_replay_names_what_changed_when_the_record_differs(layers, audit, mill_site):
    _, record = run_check(mill_site, {}, "造纸", "new", layers, audit, "cli")
    edited = CheckRecord(**{**record.__dict__, "result": record.result | {"overall": "compliant"},
                            "layer_versions": {"layers": {}, "missing": []}})
    again = replay(edited, layers)
    assert not again.identical and not again.versions_match
    assert "result.overall" in again.differences() and "layer:fen_river" in again.differences()


def test_an_edited_row_breaks_the_hash_chain(layers, audit, mill_site):
    records = [run_check(mill_site, {}, "造纸", "new", layers, audit, "cli")[1] for _ in range(3)]
    assert broken(audit) == []
    with audit.store.connect() as connection:
        connection.execute("UPDATE checks SET overall = 'compliant' WHERE id = ?", (records[1].id,))
    assert broken(audit) == [records[1].id]


def test_concurrent_writers_lose_nothing(layers, audit, mill_site):
    _, template = run_check(mill_site, {}, "造纸", "new", layers, audit, "cli")
    written: list[str] = []

    def writer(n: int) -> None:
        for i in range(20):
            written.append(audit.append(CheckRecord(**{**template.__dict__, "id": f"{template.id}-{n}-{i}"})).id)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(written) == 160 and audit.count() == 161
    assert {r.id for r in audit.recent(500)} == {*written, template.id} and broken(audit) == []


def test_a_process_killed_mid_write_leaves_an_intact_log(layers, audit, mill_site, tmp_path):
    _, first = run_check(mill_site, {}, "造纸", "new", layers, audit, "cli")
    template = tmp_path / "template.json"
    template.write_text(json.dumps(first.to_dict(), ensure_ascii=False), encoding="utf-8")
    committed = [first.id]
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", _APPENDER, str(audit.database), str(template)],
                                 stdout=subprocess.PIPE, text=True)
        for _ in range(25):
            committed.append(child.stdout.readline().strip())
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
    if audit.path is not None:
        with sqlite3.connect(audit.path) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    stored = {record.id for record in audit.recent(10_000)}
    assert set(committed) <= stored, "a record reported as written was lost"
    assert broken(audit) == []
    _, after = run_check(mill_site, {}, "造纸", "new", layers, audit, "cli")
    assert audit.get(after.id) == after and broken(audit) == []
