"""The check as every adapter (CLI, API, page) runs it: resolve the inputs, check, record.

Replay runs a stored record again on the current rules and layers with the stored
date, so a reviewer can show that the same data and rule versions give the same
answer, or see which version changed when they do not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import shapely
from shapely.geometry.base import BaseGeometry

from layers import catalog
from siting.audit import AuditLog, CheckRecord, catalog_version, layer_versions, new_check_id, now_utc
from spatial.checker import CheckResult, check
from spatial.layer import LayerSet
from spatial.rules import Stage


def result_json(result: CheckResult) -> dict:
    """The result as its JSON contract reads back (tuples become lists, keys strings)."""
    return json.loads(json.dumps(result.to_dict(), ensure_ascii=False))


def run_check(site: BaseGeometry, given: dict, industry: str, stage: str, layers: LayerSet, audit: AuditLog,
              channel: str, project: str = "", on: date | None = None) -> tuple[CheckResult, CheckRecord]:
    """Check a WGS84 site and store the audit record; raises InputError for a bad industry or stage."""
    resolved = catalog.taxonomy().resolve(industry)
    parsed_stage = Stage.parse(stage)
    on = on or date.today()
    result = check(site, resolved, parsed_stage, list(catalog.rules()), layers, given=given, on=on, project=project)
    now = now_utc()
    record = CheckRecord(
        id=new_check_id(now), created_at=now.isoformat(timespec="seconds"), checked_on=on.isoformat(),
        channel=channel, project=project.strip(),
        inputs={"industry": industry, "stage": stage, "site": given},
        site_wkb=shapely.to_wkb(site), overall=result.overall.value, result=result_json(result),
        catalog_version=catalog_version(), layer_versions=layer_versions(layers),
    )
    return result, audit.append(record)


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
        }


def replay(record: CheckRecord, layers: LayerSet) -> Replay:
    """Run a stored check again, on the stored date, with the current catalog and layers."""
    result = check(
        shapely.from_wkb(record.site_wkb), catalog.taxonomy().resolve(record.inputs["industry"]),
        Stage(record.result["stage"]), list(catalog.rules()), layers, given=record.inputs.get("site"), on=record.on,
        project=record.project,
    )
    return Replay(record, result, result_json(result), catalog_version(), layer_versions(layers))
