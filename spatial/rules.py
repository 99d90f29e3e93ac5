"""Plan rules as data: who (industry, stage), where (zone) and what (action)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spatial.enums import IdentityEnum
from spatial.errors import InputError


class Stage(IdentityEnum):
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


class Verdict(IdentityEnum):
    """Ordered from least to most severe; the overall verdict is the maximum.

    ``not_applicable`` is the answer for a site no plan reaches (never "compliant"):
    it sits below every finding so that one plan reaching the site lifts it.
    """

    NOT_APPLICABLE = "not_applicable"
    COMPLIANT = "compliant"
    REVIEW = "review"
    RESTRICTED = "restricted"
    EXIT = "exit"
    PROHIBITED = "prohibited"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def label(self) -> str:
        return _LABELS[self][0]

    @property
    def label_en(self) -> str:
        return _LABELS[self][1]


class Action(IdentityEnum):
    PROHIBIT = "禁止"
    RESTRICT = "限制"
    EXIT = "退出"
    ENCOURAGE = "鼓励"

    @property
    def verdict(self) -> Verdict:
        return {
            Action.PROHIBIT: Verdict.PROHIBITED,
            Action.RESTRICT: Verdict.RESTRICTED,
            Action.EXIT: Verdict.EXIT,
            Action.ENCOURAGE: Verdict.COMPLIANT,
        }[self]


_SEVERITY = {verdict: i for i, verdict in enumerate(Verdict)}
_LABELS = {
    Verdict.NOT_APPLICABLE: ("不适用", "not applicable"),
    Verdict.COMPLIANT: ("符合", "compliant"),
    Verdict.REVIEW: ("需复核", "review"),
    Verdict.RESTRICTED: ("限制", "restricted"),
    Verdict.EXIT: ("退出", "exit"),
    Verdict.PROHIBITED: ("禁止", "prohibited"),
}


class ZoneKind(IdentityEnum):
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
    reference: str = ""  # for rules from documents outside the seeds: a text under layers/catalog/data/references


@dataclass(frozen=True)
class Rule:
    id: str
    plan: Plan
    section: str
    quote: str
    zone: Zone
    action: Action
    industries: tuple[str, ...]  # plan terms, as written
    industry_codes: frozenset[str]  # the codes those terms mean exactly
    stages: frozenset[Stage]
    excepted: tuple[str, ...] = ()  # plan terms the rule exempts (activities a red line allows)
    excepted_codes: frozenset[str] = frozenset()
    note: str = ""
    deadline: str | None = None
    general: bool = False  # a condition every project meets wherever it is sited; never a siting verdict
    finer_codes: frozenset[str] = frozenset()  # codes of terms narrower than their classes (洗煤 in 0610)
    industry_terms: frozenset[str] = frozenset()  # the rule's terms and every term they include
    scope: tuple[str, ...] = ()  # admin codes the sentence names (a county); empty: the plan's jurisdiction
    scope_name: str = ""
    enterprises: tuple[str, ...] = ()  # named enterprises: the rule binds only a project that names one
    condition: str = ""  # what the industry code cannot tell (only 土小 plants, only boilers < 35 t/h)

    @property
    def jurisdictions(self) -> tuple[str, ...]:
        """The admin areas the rule reaches: the places its sentence names, else its plan's area."""
        return self.scope or (self.plan.jurisdiction,)

    def names_enterprise(self, project: str) -> bool:
        """Whether a project name names one of the rule's enterprises."""
        return bool(project) and any(name in project for name in self.enterprises)

    def to_dict(self) -> dict:
        """The rule as the catalog states it, for listing and JSON."""
        zone = {k: v for k, v in asdict(self.zone).items() if v is not None}
        zone["kind"] = self.zone.kind.value
        return {
            "id": self.id, "plan": self.plan.title, "plan_id": self.plan.id, "jurisdiction": self.plan.jurisdiction,
            "section": self.section, "quote": self.quote, "zone": zone, "action": self.action.value,
            "industries": list(self.industries), "industry_codes": sorted(self.industry_codes),
            "except": list(self.excepted), "except_codes": sorted(self.excepted_codes),
            "stages": [s.value for s in Stage if s in self.stages], "deadline": self.deadline, "note": self.note,
            "general": self.general,
        }
