"""What a check answers: its findings, the rules it could not evaluate, the site as understood, the result.

These types cross the house (reports, maps, the web page, the audit log), so they live apart
from the checker that fills them: a module that shows or stores a result imports this one.
Notes, reasons and warnings are held as typed ``spatial.notes.Note`` codes and worded on reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import shapely
from shapely.geometry.base import BaseGeometry

from spatial.answer import MissingLayerGroup, folded, headline, missing_layer_groups
from spatial.crs import STORAGE_EPSG
from spatial.engine import drawn_zone
from spatial.industry import Industry
from spatial.layer import project as reproject
from spatial.notes import Note, render, render_notes
from spatial.rules import Action, Rule, Stage, Verdict, ZoneKind
from spatial.semantics import likely_verdict

MAP_WINDOW_M = 15_000  # zones are drawn for maps within this distance of the site
# The window is drawn round the site simplified to this tolerance (and widened by it, so it still holds
# every point within MAP_WINDOW_M of the real site): a 200,000-vertex line across the province is
# buffered as a few hundred vertices, not 200,000 (the buffer that ran out of memory in issue 19).
_WINDOW_TOLERANCE_M = 500.0


def group_of(rule: Rule) -> str:
    """The group a finding of ``rule`` falls in: ``site``, a zone the site is in or near; ``area``, a condition
    anywhere in the plan's (or the named county's) area; ``undetermined``, a zone the plan gives no extent."""
    kind = rule.zone.kind
    if kind is ZoneKind.UNDEFINED:
        return "undetermined"
    return "area" if kind is ZoneKind.JURISDICTION else "site"


@dataclass(frozen=True)
class Finding:
    rule: Rule
    verdict: Verdict
    layer: str | None
    layer_name: str
    zone: str
    inside: bool | None
    distance_m: float | None
    margin_m: float | None
    boundary_case: bool
    notes: tuple[Note, ...]  # typed; worded by ``note`` (zh, every record's text) and ``note_en``
    overdue: bool = False  # the rule's deadline has passed
    overlap: dict | None = None  # for line and polygon sites: the part of the site inside the zone
    drawing: ZoneDrawing | None = field(default=None, repr=False, compare=False)

    @property
    def note(self) -> str:
        """The notes in Chinese: the text every report, API answer and audit record carries."""
        return render_notes(self.notes)

    @property
    def note_en(self) -> str:
        return render_notes(self.notes, "en")

    @property
    def likely(self) -> Verdict | None:
        """For a review: what it most likely resolves to (the rule's action inside, compliance outside)."""
        return likely_verdict(self.rule, self.inside) if self.verdict is Verdict.REVIEW else None

    @property
    def group(self) -> str:
        return group_of(self.rule)

    @cached_property
    def zone_geometry(self) -> BaseGeometry | None:
        """WGS84, the zone near the site, for maps (drawn on first use)."""
        return None if self.drawing is None else reproject(self.drawing.zone_gk, self.drawing.epsg, STORAGE_EPSG)

    @cached_property
    def nearest_line(self) -> BaseGeometry | None:
        """WGS84, site → nearest point of the baseline or zone edge (drawn on first use)."""
        line = None if self.drawing is None else self.drawing.nearest_gk
        return None if line is None else reproject(line, self.drawing.epsg, STORAGE_EPSG)

    def to_dict(self) -> dict:
        rule = self.rule
        return {
            "rule": rule.id,
            "plan": rule.plan.title,
            "plan_id": rule.plan.id,
            "section": rule.section,
            "quote": rule.quote,
            "action": rule.action.value,
            "verdict": self.verdict.value,
            "verdict_label": self.verdict.label,
            "likely": None if self.likely is None else self.likely.value,
            "group": self.group,
            "scope": rule.scope_name or rule.plan.jurisdiction_name,
            "condition": rule.condition or None,
            "layer": self.layer,
            "layer_name": self.layer_name,
            "zone": self.zone,
            "inside": self.inside,
            "distance_m": _round(self.distance_m),
            "margin_m": _round(self.margin_m),
            "boundary_case": self.boundary_case,
            "overlap": self.overlap,
            "deadline": rule.deadline,
            "overdue": self.overdue,
            "industries": list(rule.industries),
            "except": list(rule.excepted),
            "stages": sorted(s.value for s in rule.stages),
            "note": self.note,
        }


@dataclass(frozen=True)
class ZoneDrawing:
    """What a map needs of a measured zone near the site; computed only when asked for."""

    site_gk: BaseGeometry
    kind: ZoneKind
    target: BaseGeometry  # the baseline (buffer zones) or the polygon layer, GK
    jurisdiction: BaseGeometry
    distance_m: float | None
    epsg: int

    @cached_property
    def zone_gk(self) -> BaseGeometry:
        outline = shapely.simplify(self.site_gk, _WINDOW_TOLERANCE_M, preserve_topology=False)
        # 1 % wider again: the chords of an 8-segment quarter circle lie up to 0.5 % inside the true buffer.
        window = shapely.buffer(outline if not outline.is_empty else self.site_gk.envelope,
                                (MAP_WINDOW_M + _WINDOW_TOLERANCE_M) * 1.01, quad_segs=8)
        return drawn_zone(self.target, window, self.distance_m if self.kind is ZoneKind.BUFFER else None, self.jurisdiction)

    @cached_property
    def nearest_gk(self) -> BaseGeometry | None:
        if self.kind is ZoneKind.BUFFER:
            return shapely.shortest_line(self.site_gk, self.target) if not self.target.is_empty else None
        return shapely.shortest_line(self.site_gk, self.target.boundary)


@dataclass(frozen=True)
class NotEvaluated:
    rule: Rule
    layer: str
    why: Note
    layer_name: str = ""

    @property
    def reason(self) -> str:
        """Why the rule was not evaluated, in Chinese (the text answers and records carry)."""
        return render(self.why)

    @property
    def reason_en(self) -> str:
        return render(self.why, "en")

    def to_dict(self) -> dict:
        return {
            "rule": self.rule.id,
            "plan": self.rule.plan.title,
            "section": self.rule.section,
            "quote": self.rule.quote,
            "action": self.rule.action.value,
            "layer": self.layer,
            "layer_name": self.layer_name,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class SiteEcho:
    """The site as the checker understood it, so a reviewer can see where it landed."""

    lon: float
    lat: float
    gk_epsg: int
    gk_central_meridian: int
    gk_x: float
    gk_y: float
    admin: dict[str, str]
    geometry_type: str = "Point"
    size: dict | None = None  # area or length in the GK zone, for polygons and lines
    given: dict | None = None  # how the site was written and read (text, system, notes)

    def to_dict(self) -> dict:
        return {
            "wgs84": {"lon": round(self.lon, 7), "lat": round(self.lat, 7)},
            "cgcs2000": {"lon": round(self.lon, 7), "lat": round(self.lat, 7)},
            "gk_zone": {
                "epsg": self.gk_epsg,
                "central_meridian": self.gk_central_meridian,
                "x_easting": round(self.gk_x, 2),
                "y_northing": round(self.gk_y, 2),
            },
            "admin": self.admin,
            "geometry_type": self.geometry_type,
            "size": self.size,
            "input": self.given,
        }


@dataclass
class CheckResult:
    site: SiteEcho
    site_geometry: BaseGeometry
    industry: Industry
    stage: Stage
    plans: list[dict]
    findings: list[Finding] = field(default_factory=list)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)
    conditions: list[Finding] = field(default_factory=list)  # general conditions: no effect on the verdict
    layers: list[dict] = field(default_factory=list)
    notices: list[Note] = field(default_factory=list)  # worded by ``warnings`` (zh) and ``warnings_en``
    units: list[dict] = field(default_factory=list)  # 三线一单 units the site falls in, with access lists
    demonstration: list[str] = field(default_factory=list)  # names of demonstration layers the check used
    information: list[Finding] = field(default_factory=list)  # measures on named enterprises the project is not
    applicable: bool = True  # some plan reaches the site

    @property
    def warnings(self) -> list[str]:
        """The notices in Chinese (the text answers and records carry)."""
        return [render(n) for n in self.notices]

    @property
    def warnings_en(self) -> list[str]:
        return [render(n, "en") for n in self.notices]

    @property
    def overall(self) -> Verdict:
        """The most severe finding; at least "review" while a rule could not be evaluated
        or the answer rests on demonstration data; "not applicable" where no plan reaches."""
        if not self.applicable:
            return Verdict.NOT_APPLICABLE
        verdicts = [f.verdict for f in self.findings]
        if any(n.rule.action is not Action.ENCOURAGE for n in self.not_evaluated) or self.demonstration:
            verdicts.append(Verdict.REVIEW)
        return max(verdicts, key=lambda v: v.severity, default=Verdict.COMPLIANT)

    def missing_layers(self) -> list[MissingLayerGroup]:
        return missing_layer_groups(self.not_evaluated)

    def headline(self) -> tuple[str, str]:
        return headline(self, self.missing_layers())

    def to_dict(self, show_all: bool = False) -> dict:
        """The answer: verdict and headline first, then findings by group (``site`` ones far and
        compliant folded unless ``show_all``), then every list in full for the record."""
        missing = self.missing_layers()  # grouped once: the headline and the answer both list them
        zh, en = headline(self, missing)
        overall = self.overall
        # Each finding written once: the groups list the same dicts as "findings".
        written = {id(f): f.to_dict() for f in self.findings}
        groups = [(f.group, written[id(f)]) for f in self.findings]
        site_findings = [f for f in self.findings if f.group == "site"]
        listed, folded_count = folded(site_findings, show_all)
        return {
            "overall": overall.value,
            "overall_label": overall.label,
            "headline": zh,
            "headline_en": en,
            "groups": {
                "site": [written[id(f)] for f in listed],
                "site_folded": folded_count,
                "area": [d for group, d in groups if group == "area"],
                "undetermined": {
                    "undefined": [d for group, d in groups if group == "undetermined"],
                    "missing_layers": [g.to_dict() for g in missing],
                },
                "information": [f.to_dict() for f in self.information],
            },
            "site": self.site.to_dict(),
            "industry": {"query": self.industry.query, "label": self.industry.label, "codes": list(self.industry.codes),
                         "term": self.industry.term},
            "stage": self.stage.value,
            "plans": self.plans,
            "findings": [d for _, d in groups],
            "not_evaluated": [n.to_dict() for n in self.not_evaluated],
            "conditions": [c.to_dict() for c in self.conditions],
            "units": self.units,
            "layers": self.layers,
            "demonstration": self.demonstration,
            "warnings": self.warnings,
        }


def _round(value: float | None) -> float | None:
    """Metres to 0.1 m; no distance at all (a zone layer with no features) is null, never NaN."""
    return None if value is None or not math.isfinite(value) else round(value, 1)
