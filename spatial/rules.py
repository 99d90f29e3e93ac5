"""Plan rules as data: who (industry, stage), where (zone) and what (action)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from spatial.errors import InputError


class Stage(Enum):
    NEW = "新建"
    REBUILD = "改建"
    EXPAND = "扩建"
    EXISTING = "现有"

    @classmethod
    def parse(cls, text: str) -> Stage:
        aliases = {"new": cls.NEW, "rebuild": cls.REBUILD, "expand": cls.EXPAND, "existing": cls.EXISTING}
        key = text.strip()
        if key.lower() in aliases:
            return aliases[key.lower()]
        for stage in cls:
            if stage.value == key:
                return stage
        raise InputError(
            "stage", text,
            "项目阶段应为 新建/改建/扩建/现有 之一（或 new/rebuild/expand/existing）。",
            "stage must be one of new, rebuild, expand, existing (or 新建/改建/扩建/现有).",
        )


class Verdict(Enum):
    """Ordered from least to most severe; the overall verdict is the maximum."""

    COMPLIANT = "compliant"
    REVIEW = "review"
    RESTRICTED = "restricted"
    PROHIBITED = "prohibited"

    @property
    def severity(self) -> int:
        return list(Verdict).index(self)

    @property
    def label(self) -> str:
        return {"compliant": "符合", "review": "需复核", "restricted": "限制", "prohibited": "禁止"}[self.value]


class Action(Enum):
    PROHIBIT = "禁止"
    RESTRICT = "限制"
    EXIT = "退出"
    ENCOURAGE = "鼓励"

    @property
    def verdict(self) -> Verdict:
        return {
            Action.PROHIBIT: Verdict.PROHIBITED,
            Action.RESTRICT: Verdict.RESTRICTED,
            Action.EXIT: Verdict.RESTRICTED,
            Action.ENCOURAGE: Verdict.COMPLIANT,
        }[self]


class ZoneKind(Enum):
    BUFFER = "buffer"  # within distance_m of a baseline layer
    WITHIN = "within"  # inside a polygon layer
    JURISDICTION = "jurisdiction"  # the whole plan area
    UNDEFINED = "undefined"  # named by the plan without any extent


@dataclass(frozen=True)
class Zone:
    kind: ZoneKind
    layer: str | None = None
    distance_m: float | None = None
    section: str | None = None  # admin code the baseline is clipped to, e.g. 汾河（运城段）
    section_name: str | None = None
    sides: str | None = None
    name: str | None = None
    undefined: str | None = None  # what the plan leaves undefined

    def describe(self, layer_name: str) -> str:
        if self.kind is ZoneKind.BUFFER:
            base = self.section_name or layer_name
            return f"{base}沿岸{self.distance_m:g}米"
        if self.kind is ZoneKind.WITHIN:
            return layer_name
        if self.kind is ZoneKind.JURISDICTION:
            return "规划范围全域"
        return self.name or "未界定范围"


@dataclass(frozen=True)
class Plan:
    id: str
    title: str
    level: str
    jurisdiction: str  # admin code
    jurisdiction_name: str
    issuer: str
    seed: str
    reference: str = ""  # for rules from documents outside the seeds: a text under layers/data/references


@dataclass(frozen=True)
class Rule:
    id: str
    plan: Plan
    section: str
    quote: str
    zone: Zone
    action: Action
    industries: tuple[str, ...]  # plan terms, as written
    industry_codes: frozenset[str]  # the codes those terms mean
    stages: frozenset[Stage]
    excepted: tuple[str, ...] = ()  # plan terms the rule exempts (activities a red line allows)
    excepted_codes: frozenset[str] = frozenset()
    note: str = ""
    deadline: str | None = None
    general: bool = False  # a condition every project meets wherever it is sited; never a siting verdict
