"""A log that proves itself: `siting history --verify` (the real CLI) names each way the audit log can be
cut or rewritten, and since which record; a damaged file is reported as damaged (exit 2), never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from siting.audit.audited_check import run_check
from siting.audit.log import AuditLog, new_check_id, now_utc, record_from_row
from siting.audit.signing import SigningKey
from tests.sites import site_near

RECORDS = 120


@pytest.fixture(scope="module")
def signed_log(layers, tmp_path_factory) -> Path:
    """A data directory holding a signed log of RECORDS checks and two decisions, built once."""
    root = tmp_path_factory.mktemp("signed-log")
    audit = AuditLog(root / "audit.sqlite3")
    site = site_near(layers, "fen_river", "140825", 400)
    _, first = run_check(site, {}, "造纸", "new", layers, audit, "cli", project="某纸业")
    for _ in range(RECORDS - 1):
        audit.append(replace(first, id=new_check_id(now_utc())))
    audit.decide(audit.get(first.id), "需补充材料", "请补充河堤实测距离", None)
    audit.decide(audit.get(first.id), "采纳", "", None)
    with sqlite3.connect(root / "audit.sqlite3") as connection:  # at rest, as the idle writer leaves it: all in the main file
        assert connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    return root


@pytest.fixture()
def log_copy(signed_log, tmp_path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(signed_log, root)
    return root


def verify(root: Path, *extra: str) -> tuple[int, dict, str]:
    run = subprocess.run([sys.executable, "-m", "siting", "history", "--verify", "--format", "json", *extra],
                         capture_output=True, text=True, timeout=120, env=os.environ | {"SITING_DATA_DIR": str(root)})
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    return run.returncode, json.loads(run.stdout) if run.stdout.strip() else {}, run.stderr


def rows(root: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(root / "audit.sqlite3") as connection:
        connection.row_factory = sqlite3.Row
        return connection.execute("SELECT * FROM checks ORDER BY seq").fetchall()


def execute(root: Path, sql: str, *args: object) -> None:
    with sqlite3.connect(root / "audit.sqlite3") as connection:
        connection.execute(sql, args)


def kinds(report: dict) -> dict[str, dict]:
    return {f"{p['chain']}:{p['kind']}": p for p in report["problems"]}


def test_an_untouched_log_verifies(log_copy):
    code, report, _ = verify(log_copy)
    assert code == 0 and report["intact"] is True and report["problems"] == []
    assert report["records"] == RECORDS and report["decisions"] == 2 and report["checkpoints"] == RECORDS + 2
    assert report["key"].startswith("SHA256:")


@pytest.mark.parametrize(("cut", "first_missing", "count"), [
    ("last row", RECORDS, 1),
    ("last 100 rows", RECORDS - 99, 100),
    ("all rows", 1, RECORDS),
])
def test_truncation_is_named_with_the_first_missing_record(log_copy, cut, first_missing, count):
    execute(log_copy, "DELETE FROM checks WHERE seq >= ?", first_missing)
    code, report, _ = verify(log_copy)
    truncated = kinds(report)["checks:truncated"]
    assert code == 1 and report["intact"] is False
    assert truncated["count"] == count and truncated["since"].startswith(f"#{first_missing}（")
    assert "被截断" in truncated["message_zh"] and "北京时间" in truncated["message_zh"]


def test_an_emptied_file_is_truncation_of_everything(log_copy):
    for path in log_copy.glob("audit.sqlite3*"):
        path.write_bytes(b"") if path.name == "audit.sqlite3" else path.unlink()
    code, report, _ = verify(log_copy)
    assert code == 1 and report["records"] == 0
    assert kinds(report)["checks:truncated"]["count"] == RECORDS and "全部记录" in kinds(report)["checks:truncated"]["message_zh"]
    assert kinds(report)["decisions:truncated"]["count"] == 2


def test_a_row_deleted_in_the_middle_is_named(log_copy):
    after = rows(log_copy)[50]["id"]
    execute(log_copy, "DELETE FROM checks WHERE seq = 50")
    code, report, _ = verify(log_copy)
    deleted = kinds(report)["checks:deleted"]
    assert code == 1 and deleted["records"] == [after] and "第 50 条" in deleted["message_zh"]
    assert "checks:truncated" not in kinds(report)


def test_a_rewritten_record_is_named(log_copy):
    target = rows(log_copy)[29]["id"]
    execute(log_copy, "UPDATE checks SET overall = 'compliant' WHERE seq = 30")
    code, report, _ = verify(log_copy)
    assert code == 1 and kinds(report)["checks:rewritten"]["records"][0] == target
    assert target in report["broken"]


def _rehash(root: Path, strip_signatures: bool) -> str:
    """What someone without the key can do: change record 30 and recompute every digest after it."""
    prev, target = "", None
    with sqlite3.connect(root / "audit.sqlite3") as connection:
        connection.row_factory = sqlite3.Row
        for row in connection.execute("SELECT * FROM checks ORDER BY seq").fetchall():
            record = record_from_row(row)
            if row["seq"] == 30:
                record, target = replace(record, overall="compliant"), record.id
            digest = record.compute_digest(prev)
            connection.execute("UPDATE checks SET overall = ?, prev_digest = ?, digest = ?, signature = ? WHERE seq = ?",
                               (record.overall, prev, digest, "" if strip_signatures else record.signature, row["seq"]))
            prev = digest
    return target


def test_a_rehashed_chain_fails_its_signatures_from_the_changed_record(log_copy):
    target = _rehash(log_copy, strip_signatures=False)
    code, report, _ = verify(log_copy)
    rehashed = kinds(report)["checks:rehashed"]
    assert code == 1 and rehashed["records"][0] == target and rehashed["count"] == RECORDS - 29
    assert "checks:rewritten" in kinds(report)  # the checkpoints' heads no longer match either


def test_a_rehashed_chain_with_its_signatures_stripped_still_disagrees_with_the_checkpoints(log_copy):
    _rehash(log_copy, strip_signatures=True)
    code, report, _ = verify(log_copy)
    rewritten = kinds(report)["checks:rewritten"]
    assert code == 1 and rewritten["since"].startswith("#30（")


def test_verifying_with_the_exported_checkpoints_and_the_printed_public_key(log_copy, tmp_path):
    exported = tmp_path / "exported-checkpoints.jsonl"
    shutil.copy(log_copy / "audit-checkpoints.jsonl", exported)
    _, report, _ = verify(log_copy)
    public = SigningKey.load_or_create(log_copy / "audit-key.pem").public.base64
    execute(log_copy, "DELETE FROM checks WHERE seq = ?", RECORDS)
    (log_copy / "audit-checkpoints.jsonl").write_bytes(b"")  # the local checkpoints wiped too
    code, local, _ = verify(log_copy)
    assert code == 1 and "checkpoints:checkpoints" in kinds(local)
    code, against_export, _ = verify(log_copy, "--checkpoints", str(exported), "--public-key", public)
    assert code == 1 and kinds(against_export)["checks:truncated"]["count"] == 1
    assert against_export["key"] == report["key"]


@pytest.mark.parametrize("damage", ["bad page", "garbage"])
def test_a_damaged_file_is_reported_as_damaged(log_copy, damage):
    path = log_copy / "audit.sqlite3"
    if damage == "bad page":
        with path.open("r+b") as handle:
            handle.seek(4096 * 3)
            handle.write(os.urandom(4096))
    else:
        path.write_bytes(os.urandom(200_000))
    code, report, stderr = verify(log_copy)
    assert code == 2, (report, stderr)
    assert report["damaged"] and report["intact"] is False
    text = subprocess.run([sys.executable, "-m", "siting", "history", "--verify"], capture_output=True, text=True,
                          timeout=120, env=os.environ | {"SITING_DATA_DIR": str(log_copy)})
    assert text.returncode == 2 and "已损坏" in text.stdout and "Traceback" not in text.stderr


def test_a_schema_1_log_is_upgraded_and_its_unsigned_rows_stay_covered(signed_log, tmp_path):
    """A log written before signing: its rows keep their hash chain and are covered by the upgrade's checkpoint."""
    from siting.audit.log import _FIELDS

    root = tmp_path / "old"
    root.mkdir()
    old_rows, prev = [], ""
    for row in rows(signed_log)[:10]:  # as schema 1 wrote them: no actor, no signature, chained without either
        record = replace(record_from_row(row), user="", role="", unit="", signature="")
        record = replace(record, prev_digest=prev, digest=record.compute_digest(prev))
        old_rows.append(record._columns()[:len(_FIELDS)])
        prev = record.digest
    with sqlite3.connect(root / "audit.sqlite3") as old:
        old.execute("CREATE TABLE checks (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
                    + ", ".join(f"{name} {'BLOB' if name == 'site_wkb' else 'TEXT'} NOT NULL" for name in _FIELDS[1:]) + ")")
        old.executemany(f"INSERT INTO checks ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})", old_rows)
        old.execute("PRAGMA user_version=1")
    AuditLog(root / "audit.sqlite3")
    code, report, _ = verify(root)
    assert code == 0 and report["records"] == 10 and report["checkpoints"] == 1
    assert any("早于签名启用" in note for note in report["notes"])
    execute(root, "UPDATE checks SET project = '改过' WHERE seq = 3")
    code, report, _ = verify(root)
    assert code == 1 and "checks:rewritten" in kinds(report)
