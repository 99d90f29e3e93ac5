"""Every audit record names who made it: checks, decisions and layer changes carry the user and role, their
digests cover them, a reviewer's listing reads their own (or their unit's) checks, and layer changes are
a signed chain of their own. The same tests for SQLite and PostgreSQL (``tests.audit_backends``)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

import pytest

from siting.audit.audited_check import record_decision, run_check
from siting.audit.log import LOCAL_ACTOR, Actor, AuditLog, DecisionRecord, new_check_id, now_utc, open_audit_log
from siting.audit.signing import SigningKey, append_checkpoint, key_path
from siting.audit.verify import verify_log
from tests.audit_backends import audit_database  # noqa: F401  (the fixture)

ZHANG = Actor("张三", "reviewer", "环评一科")
LI = Actor("李四", "reviewer", "环评一科")
WANG = Actor("王五", "reviewer", "环评二科")
ADMIN = Actor("赵六", "data-admin", "信息科")


@pytest.fixture()
def audit(audit_database) -> AuditLog:  # noqa: F811
    return open_audit_log(audit_database)


def found(audit: AuditLog):
    return verify_log(audit.database, audit.checkpoints_path, audit.key.public)


def test_a_check_and_a_decision_name_their_user_and_role_and_their_digests_cover_them(layers, audit, mill_site):
    _, check = run_check(mill_site, {}, "造纸", "new", layers, audit, "api", actor=ZHANG)
    decision = record_decision(audit, check, "采纳", "同意", None, actor=LI)
    stored = audit.get(check.id)
    assert (stored.user, stored.role, stored.unit) == ("张三", "reviewer", "环评一科")
    assert [(d.user, d.role, d.decision) for d in stored.decisions] == [("李四", "reviewer", "采纳")]
    assert decision.to_dict()["user"] == "李四" and stored.summary()["user"] == "张三"
    assert found(audit).intact
    with audit.store.connect() as connection:
        connection.execute('UPDATE checks SET "user" = ? WHERE id = ?', ("王五", check.id))
        connection.execute("UPDATE decisions SET role = ? WHERE id = ?", ("auditor", decision.id))
    result = found(audit)
    assert {(p.kind, p.chain) for p in result.problems} == {("rewritten", "checks"), ("rewritten", "decisions")}
    assert result.broken == [check.id, decision.id]


def test_the_cli_and_the_desktop_mode_record_the_local_user(layers, audit, mill_site):
    _, check = run_check(mill_site, {}, "造纸", "new", layers, audit, "cli")
    assert (check.user, check.role) == (LOCAL_ACTOR.user, LOCAL_ACTOR.role) == ("本机", "local")
    assert audit.decide(check, "需补充材料", "", None).user == "本机"


def test_a_listing_reads_one_users_or_one_units_checks(layers, audit, mill_site):
    made = {actor.user: run_check(mill_site, {}, "造纸", "new", layers, audit, "api", actor=actor)[1].id
            for actor in (ZHANG, LI, WANG)}
    assert [r.id for r in audit.recent(user="张三")] == [made["张三"]]
    assert {r.id for r in audit.recent(unit="环评一科")} == {made["张三"], made["李四"]}
    assert {r.id for r in audit.recent(user="王五", unit="环评一科")} == set(made.values())
    assert [r.id for r in audit.recent()] == [made["王五"], made["李四"], made["张三"]]
    assert audit.recent(user="无此人") == [] and [r.id for r in audit.recent(1)] == [made["王五"]]


def test_layer_changes_are_a_signed_chain_covered_by_the_checkpoints(layers, audit, mill_site):
    changes = [audit.record_layer_change(ADMIN, action, "fen_river", {"source": f"汾河-{n}.shp", "features": n})
               for n, action in enumerate(("import", "replace", "remove"), 1)]
    run_check(mill_site, {}, "造纸", "new", layers, audit, "api", actor=ZHANG)
    assert [c.to_dict()["action"] for c in reversed(audit.layer_changes())] == ["import", "replace", "remove"]
    assert changes[1].user == "赵六" and changes[1].role == "data-admin" and changes[1].detail == {"source": "汾河-2.shp", "features": 2}
    result = found(audit)
    assert result.intact and result.layer_changes == 3 and result.records == 1
    with pytest.raises(ValueError):
        audit.record_layer_change(ADMIN, "rename", "fen_river", {})
    with audit.store.connect() as connection:
        connection.execute("UPDATE layer_changes SET detail = ? WHERE id = ?", ('{"source": "别的.shp"}', changes[0].id))
        connection.execute("DELETE FROM layer_changes WHERE id = ?", (changes[2].id,))
    kinds = {(p.kind, p.chain) for p in found(audit).problems}
    assert kinds == {("rewritten", "layer_changes"), ("truncated", "layer_changes")}


_V2_CHECKS = """CREATE TABLE checks (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL,
    checked_on TEXT NOT NULL, channel TEXT NOT NULL, project TEXT NOT NULL, inputs TEXT NOT NULL, site_wkb BLOB NOT NULL,
    overall TEXT NOT NULL, result TEXT NOT NULL, catalog_version TEXT NOT NULL, layer_versions TEXT NOT NULL,
    prev_digest TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL DEFAULT '')"""
_V2_DECISIONS = """CREATE TABLE decisions (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, check_id TEXT NOT NULL,
    check_digest TEXT NOT NULL, recorded_at TEXT NOT NULL, decision TEXT NOT NULL, note TEXT NOT NULL, rule_id TEXT,
    prev_digest TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL)"""


def test_a_schema_2_log_keeps_verifying_after_the_upgrade_and_names_users_from_then_on(layers, mill_site, tmp_path):
    """Rows written before accounts keep their digests (which never covered a user) and their checkpoints."""
    path = tmp_path / "audit.sqlite3"
    template = run_check(mill_site, {}, "造纸", "new", layers, open_audit_log(str(tmp_path / "template.sqlite3")), "cli")[1]
    key = SigningKey.load_or_create(key_path(tmp_path))
    check_rows, prev = [], ""
    for n in range(3):  # as version 2 wrote them: signed, chained, no actor
        old = replace(template, id=new_check_id(now_utc()) + str(n), user="", role="", unit="")
        digest = old.compute_digest(prev)
        old = replace(old, prev_digest=prev, digest=digest, signature=key.sign(digest.encode()))
        check_rows.append(old._columns()[:14])
        prev = digest
    decision = DecisionRecord("D1", template.id, prev, now_utc().isoformat(timespec="seconds"), "采纳", "", None)
    decision = replace(decision, digest=decision.compute_digest(""))
    decision = replace(decision, signature=key.sign(decision.digest.encode()))
    with sqlite3.connect(path) as connection:
        connection.execute(_V2_CHECKS)
        connection.execute(_V2_DECISIONS)
        connection.executemany(f"INSERT INTO checks (id, created_at, checked_on, channel, project, inputs, site_wkb, overall, "
                               f"result, catalog_version, layer_versions, prev_digest, digest, signature) VALUES ({', '.join('?' * 14)})",
                               check_rows)
        connection.execute(f"INSERT INTO decisions (id, check_id, check_digest, recorded_at, decision, note, rule_id, prev_digest, "
                           f"digest, signature) VALUES ({', '.join('?' * 10)})", decision._columns()[:10])
        connection.execute("PRAGMA user_version=2")
    append_checkpoint(path.with_name("audit-checkpoints.jsonl"), key,
                      lambda: {"checks": {"size": 3, "head": prev}, "decisions": {"size": 1, "head": decision.digest}})
    audit = open_audit_log(str(path))
    assert found(audit).intact and [r.user for r in audit.recent()] == ["", "", ""]
    _, new = run_check(mill_site, {}, "造纸", "new", layers, audit, "api", actor=WANG)
    result = found(audit)
    assert result.intact and result.records == 4 and result.checkpoints == 3
    assert audit.get(new.id).user == "王五"
    with audit.store.connect() as connection:
        connection.execute('UPDATE checks SET "user" = ? WHERE seq = 2', ("张三",))
    assert found(audit).broken == [check_rows[1][0]]
