"""The check as every adapter (CLI, API, page) runs it: parse the inputs once, check, record.

A channel turns what it received into one :class:`CheckInput` (the site in WGS84 and its echo,
the resolved industry and stage, the project, the date), refusing bad input before any layer is
read; :func:`prepare` and :func:`record_check` take it from there.

Replay runs a stored record again on the current rules and layers with the stored
date, so a reviewer can show that the same data and rule versions give the same
answer, or see which version changed when they do not. An issued check is drawn
again (its report and map) on the layers it was issued on, kept by the user catalog
after an import replaces them: :func:`as_issued`. A reviewer's decision is appended
to the log, never edited in: :func:`record_decision`.
"""

from __future__ import annotations

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
    JsonText,
    catalog_version,
    layer_versions,
    new_check_id,
    now_utc,
    review_date,
)
from siting.text_fields import clean_text
from spatial.checker import check
from spatial.errors import InputError
from spatial.findings import CheckResult
from spatial.industry import Industry
from spatial.layer import LayerSet
from spatial.rules import Stage


def result_json(result: CheckResult) -> JsonText:
    """The result as its JSON contract reads back (tuples become lists), with the text it is stored as:
    encoded once, for the record, its digest and the web answer."""
    return JsonText.of(result.to_dict())


@dataclass(frozen=True)
class CheckInput:
    """One check's inputs, parsed once by the channel that received them.

    ``industry_text`` and ``stage_text`` are kept as given: the audit record stores what the reviewer wrote.
    ``on`` is the review date (None: today in the review time zone).
    """

    site: BaseGeometry  # WGS84
    given: dict  # the site as given: text or file, the system it was read in, notes
    industry: Industry
    stage: Stage
    industry_text: str
    stage_text: str
    project: str = ""
    on: date | None = None

    @classmethod
    def parse(cls, site: BaseGeometry, given: dict, industry: str, stage: str, project: str = "",
              on: date | None = None) -> CheckInput:
        """Resolve the industry and the stage; raises InputError naming ``industry`` or ``stage``."""
        return cls(site, given, catalog.taxonomy().resolve(industry), Stage.parse(stage), industry, stage, project, on)


def _decide(inputs: CheckInput, layers: LayerSet, on: date) -> CheckResult:
    return check(inputs.site, inputs.industry, inputs.stage, list(catalog.rules()), layers, given=inputs.given, on=on,
                 project=inputs.project)


def prepare(inputs: CheckInput, layers: LayerSet, channel: str, actor: Actor = LOCAL_ACTOR,
            sealed_at_once: bool = False) -> tuple[CheckResult, CheckRecord]:
    """The check and its audit record, not yet stored: a web check worker computes it, the server's
    audit writer stores it (with the records of concurrent checks, one commit) before answering.

    ``sealed_at_once``: the caller seals the record at once and never reads its result object
    (:meth:`JsonText.written`), so the result's text is not decoded again."""
    now = now_utc()
    on = inputs.on or review_date(now)
    result = _decide(inputs, layers, on)
    record = CheckRecord(
        id=new_check_id(now), created_at=now.isoformat(timespec="seconds"), checked_on=on.isoformat(),
        channel=channel, project=inputs.project.strip(),
        inputs={"industry": inputs.industry_text, "stage": inputs.stage_text, "site": inputs.given},
        site_wkb=shapely.to_wkb(inputs.site), overall=result.overall.value,
        result=JsonText.written(result.to_dict()) if sealed_at_once else result_json(result),
        catalog_version=catalog_version(), layer_versions=layer_versions(layers),
        user=actor.user, role=actor.role, unit=actor.unit,
    )
    return result, record


def record_check(inputs: CheckInput, layers: LayerSet, audit: AuditLog, channel: str,
                 actor: Actor = LOCAL_ACTOR) -> tuple[CheckResult, CheckRecord]:
    """Check the parsed inputs and store the audit record."""
    result, record = prepare(inputs, layers, channel, actor)
    return result, audit.append(record)


def run_check(site: BaseGeometry, given: dict, industry: str, stage: str, layers: LayerSet, audit: AuditLog,
              channel: str, project: str = "", on: date | None = None,
              actor: Actor = LOCAL_ACTOR) -> tuple[CheckResult, CheckRecord]:
    """:func:`record_check` from unparsed text (scripts and tests); raises InputError for a bad industry or stage."""
    return record_check(CheckInput.parse(site, given, industry, stage, project, on), layers, audit, channel, actor)


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
    inputs = CheckInput(shapely.from_wkb(record.site_wkb), record.inputs.get("site"),
                        catalog.taxonomy().resolve(record.inputs["industry"]), Stage(record.result["stage"]),
                        record.inputs["industry"], record.inputs.get("stage", record.result["stage"]), record.project, record.on)
    result = _decide(inputs, layers, record.on)
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
