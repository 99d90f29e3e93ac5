"""The check as every adapter (CLI, API, page) runs it: resolve the inputs, check, record.

Replay runs a stored record again on the current rules and layers with the stored
date, so a reviewer can show that the same data and rule versions give the same
answer, or see which version changed when they do not. An issued check is drawn
again (its report and map) on the layers it was issued on, kept by the user catalog
after an import replaces them: :func:`as_issued`. A reviewer's decision is appended
to the log, never edited in: :func:`record_decision`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import shapely
from shapely.geometry.base import BaseGeometry

from layers import catalog, user_catalog
from siting.audit.log import (
    DECISIONS,
    LOCAL_ACTOR,
    NOTE_MAX_CHARS,
    Actor,
    AuditLog,
    CheckRecord,
    DecisionRecord,
    catalog_version,
    layer_versions,
    new_check_id,
    now_utc,
    review_date,
)
from siting.text_fields import clean_text
from spatial.checker import CheckResult, check
from spatial.errors import InputError
from spatial.layer import LayerSet
from spatial.rules import Stage


def result_json(result: CheckResult) -> dict:
    """The result as its JSON contract reads back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(result.to_dict(), ensure_ascii=False))


def run_check(site: BaseGeometry, given: dict, industry: str, stage: str, layers: LayerSet, audit: AuditLog,
              channel: str, project: str = "", on: date | None = None,
              actor: Actor = LOCAL_ACTOR) -> tuple[CheckResult, CheckRecord]:
    """Check a WGS84 site and store the audit record; raises InputError for a bad industry or stage."""
    result, record = prepare_check(site, given, industry, stage, layers, channel, project, on, actor)
    return result, audit.append(record)


def prepare_check(site: BaseGeometry, given: dict, industry: str, stage: str, layers: LayerSet, channel: str,
                  project: str = "", on: date | None = None,
                  actor: Actor = LOCAL_ACTOR) -> tuple[CheckResult, CheckRecord]:
    """The check and its audit record, not yet stored: a web check worker computes it, the server's
    audit writer stores it (with the records of concurrent checks, one commit) before answering."""
    resolved = catalog.taxonomy().resolve(industry)
    parsed_stage = Stage.parse(stage)
    now = now_utc()
    on = on or review_date(now)
    result = check(site, resolved, parsed_stage, list(catalog.rules()), layers, given=given, on=on, project=project)
    record = CheckRecord(
        id=new_check_id(now), created_at=now.isoformat(timespec="seconds"), checked_on=on.isoformat(),
        channel=channel, project=project.strip(),
        inputs={"industry": industry, "stage": stage, "site": given},
        site_wkb=shapely.to_wkb(site), overall=result.overall.value, result=result_json(result),
        catalog_version=catalog_version(), layer_versions=layer_versions(layers),
        user=actor.user, role=actor.role, unit=actor.unit,
    )
    return result, record


@dataclass(frozen=True)
class Replay:
    record: CheckRecord
    result: CheckResult
    result_dict: dict
    catalog_version: str
    layer_versions: dict

    @property
    def identical(self) -> bool:
        return self.result_dict == self.record.result

    @property
    def versions_match(self) -> bool:
        return self.catalog_version == self.record.catalog_version and self.layer_versions == self.record.layer_versions

    def differences(self) -> list[str]:
        """Top-level result keys that differ, and which versions changed."""
        keys = sorted(k for k in self.result_dict.keys() | self.record.result.keys()
                      if self.result_dict.get(k) != self.record.result.get(k))
        changed = []
        if self.catalog_version != self.record.catalog_version:
            changed.append("catalog_version")
        before, after = self.record.layer_versions, self.layer_versions
        changed += [f"layer:{i}" for i in sorted(before.get("layers", {}).keys() | after.get("layers", {}).keys())
                    if before.get("layers", {}).get(i) != after.get("layers", {}).get(i)]
        if before.get("missing") != after.get("missing"):
            changed.append("missing_layers")
        return [f"result.{k}" for k in keys] + changed

    def to_dict(self) -> dict:
        return {
            "check_id": self.record.id, "identical": self.identical, "versions_match": self.versions_match,
            "differences": self.differences(), "checked_on": self.record.checked_on, "result": self.result_dict,
            "decisions": [d.to_dict() for d in self.record.decisions],
        }


def replay(record: CheckRecord, layers: LayerSet) -> Replay:
    """Run a stored check again, on the stored date, with the current catalog and layers."""
    result = check(
        shapely.from_wkb(record.site_wkb), catalog.taxonomy().resolve(record.inputs["industry"]),
        Stage(record.result["stage"]), list(catalog.rules()), layers, given=record.inputs.get("site"), on=record.on,
        project=record.project,
    )
    return Replay(record, result, result_json(result), catalog_version(), layer_versions(layers))


def as_issued(record: CheckRecord, layers: LayerSet, root: Path) -> tuple[CheckResult, LayerSet] | None:
    """The check's result objects (for its map and figure) exactly as issued, and the layers they were drawn on.

    Today's layers when they still give the recorded result; else the layers named by the record's
    versions, with imports replaced since then taken from the catalog's superseded files. None when
    those are gone too (the default layers were rebuilt from new sources, or the rules changed).
    """
    again = replay(record, layers)
    if again.identical:
        return again.result, layers
    historical = user_catalog.layers_as_of(root, record.layer_versions, layers)
    if historical is None:
        return None
    again = replay(record, historical)
    return (again.result, historical) if again.identical else None


def rule_ids(record: CheckRecord) -> set[str]:
    """Every rule the check's answer names: findings, rules not evaluated, conditions, information."""
    result = record.result
    rows = [*result.get("findings", []), *result.get("not_evaluated", []), *result.get("conditions", []),
            *(result.get("groups") or {}).get("information", [])]
    return {row["rule"] for row in rows if isinstance(row, dict) and "rule" in row}


def clean_note(note: str) -> str:
    """The note line by line through the one text normaliser (control characters, lone surrogates and
    non-characters refused, NFC), keeping the reviewer's line breaks."""
    lines = note.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = "\n".join(clean_text(line, "note", max_len=NOTE_MAX_CHARS) for line in lines).strip()
    if len(text) > NOTE_MAX_CHARS:
        raise InputError("note", f"{text[:40]}…（{len(text)} 字）", f"备注过长：至多 {NOTE_MAX_CHARS} 个字符。",
                         f"the note is too long: at most {NOTE_MAX_CHARS} characters.")
    return text


def record_decision(audit: AuditLog, record: CheckRecord, decision: str, note: str, rule_id: str | None,
                    actor: Actor = LOCAL_ACTOR) -> DecisionRecord:
    """Validate ``actor``'s decision on ``record`` and append it to the log."""
    if decision not in DECISIONS:
        raise InputError("decision", decision, f"审查决定应为 {'、'.join(DECISIONS)} 之一。",
                         "the decision must be one of 采纳 (accept), 不采纳 (reject), 需补充材料 (needs more material).")
    rule_id = (rule_id or "").strip() or None
    if rule_id is not None and rule_id not in rule_ids(record):
        raise InputError("rule_id", rule_id, "该检查的结论中没有这条规则；请填写结论所列的规则编号，或留空表示针对总体结论。",
                         "this check's answer names no such rule; give a rule id it lists, or none for the overall verdict.")
    return audit.decide(record, decision, clean_note(note), rule_id, actor)
