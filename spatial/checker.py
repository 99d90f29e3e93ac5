"""The siting check: one site, one industry, one stage → a verdict per plan rule.

Everything is measured in metres in the site's CGCS2000 3-degree Gauss–Krüger zone.
A site within a layer's positional accuracy of a zone edge is a boundary case and
raises the overall verdict to at least "review"; so does a rule that applies to the
project but whose zone has no layer yet or no defined extent.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from spatial.answer import MissingLayerGroup, folded, headline, missing_layer_groups
from spatial.crs import STORAGE_EPSG, GaussKrugerZone, gk3_zone_for_longitude
from spatial.engine import COVERAGE, PreparedZones, Target, TargetKey, ZoneIndex, prepared
from spatial.errors import InputError
from spatial.industry import Industry, IndustryMatch
from spatial.layer import Layer, LayerSet
from spatial.layer import project as reproject
from spatial.rules import Action, Plan, Rule, Stage, Verdict, ZoneKind
from spatial.semantics import (
    VERDICTS,
    Disposition,
    applicable,
    bound,
    bounds,
    disposition,
    fixed_outcome,
    has_coverage,
    likely_verdict,
    measured_outcome,
    overdue,
    plan_applies,
    rule_scope,
    rule_target,
    rule_verdict,
    scope_keys,
)
from spatial.units import ACCESS_DIMENSIONS, UnitClass

MAP_WINDOW_M = 15_000  # zones are drawn for maps within this distance of the site
# The window is drawn round the site simplified to this tolerance (and widened by it, so it still holds
# every point within MAP_WINDOW_M of the real site): a 200,000-vertex line across the province is
# buffered as a few hundred vertices, not 200,000 (the buffer that ran out of memory in issue 19).
_WINDOW_TOLERANCE_M = 500.0


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
    note: str
    overdue: bool = False  # the rule's deadline has passed
    overlap: dict | None = None  # for line and polygon sites: the part of the site inside the zone
    drawing: _Drawing | None = field(default=None, repr=False, compare=False)

    @property
    def likely(self) -> Verdict | None:
        """For a review: what it most likely resolves to (the rule's action inside, compliance outside)."""
        return likely_verdict(self.rule, self.inside) if self.verdict is Verdict.REVIEW else None

    @property
    def group(self) -> str:
        """``site``: a zone the site is in or near; ``area``: a condition anywhere in the plan's
        (or the named county's) area; ``undetermined``: a zone the plan gives no extent."""
        kind = self.rule.zone.kind
        if kind is ZoneKind.UNDEFINED:
            return "undetermined"
        return "area" if kind is ZoneKind.JURISDICTION else "site"

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
class _Drawing:
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
        if self.kind is ZoneKind.BUFFER:
            nearby = shapely.intersection(self.target, window)
            return shapely.intersection(shapely.buffer(nearby, self.distance_m), self.jurisdiction)
        return shapely.intersection(self.target, window)

    @cached_property
    def nearest_gk(self) -> BaseGeometry | None:
        if self.kind is ZoneKind.BUFFER:
            return shapely.shortest_line(self.site_gk, self.target) if not self.target.is_empty else None
        return shapely.shortest_line(self.site_gk, self.target.boundary)


class _Measure:
    """The site measured against the prepared targets of its GK zone.

    A point goes through the shared index (the same code path as the batch screen); a
    line or polygon is measured by GEOS on the same prepared target geometries.
    """

    def __init__(self, site_gk: BaseGeometry, zone: ZoneIndex, lonlat: tuple[float, float]) -> None:
        self.site_gk = site_gk
        self.lonlat = lonlat  # WGS84 centroid: where a river reach's own bank allowance applies
        self.zone = zone
        self.point = site_gk.geom_type == "Point"
        self._points = np.array([site_gk])
        self._inside: dict[TargetKey, bool] = {}
        self._edge: dict[TargetKey, float] = {}

    def prefetch(self, keys: set[TargetKey]) -> None:
        """Prepare the targets and, for a point, test them all in one query of the shared tree."""
        self.zone.ensure(keys)
        if self.point:
            containing = self.zone.containing(self.site_gk)
            self._inside.update((key, key in containing) for key in keys)

    def target(self, key: TargetKey) -> Target:
        self.zone.ensure([key])
        return self.zone.targets[key]

    def inside(self, key: TargetKey) -> bool:
        if key not in self._inside:
            self._inside[key] = bool(shapely.intersects(self.target(key).geometry, self.site_gk))
        return self._inside[key]

    def edge(self, key: TargetKey) -> float:
        """Metres from the point to the target's edges and lines."""
        if key not in self._edge:
            self._edge[key] = float(self.target(key).edge_distance(self._points)[0])
        return self._edge[key]


@dataclass(frozen=True)
class NotEvaluated:
    rule: Rule
    layer: str
    reason: str
    layer_name: str = ""

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
    warnings: list[str] = field(default_factory=list)
    units: list[dict] = field(default_factory=list)  # 三线一单 units the site falls in, with access lists
    demonstration: list[str] = field(default_factory=list)  # names of demonstration layers the check used
    information: list[Finding] = field(default_factory=list)  # measures on named enterprises the project is not
    applicable: bool = True  # some plan reaches the site

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


def check(site: BaseGeometry, industry: Industry, stage: Stage, rules: list[Rule], layers: LayerSet,
          given: dict | None = None, on: date | None = None, project: str = "") -> CheckResult:
    """Check a site (WGS84 point, line or polygon) against every rule whose plan covers it.

    ``given`` describes how the site was written (text, coordinate system, notes) and is
    echoed back so a reviewer can see the site landed where intended. ``on`` is the
    date deadlines are judged against (today by default). ``project`` is the project's
    name: a measure that names an enterprise binds only a project that names it.
    """
    on = on or date.today()
    zones = prepared(layers)
    centroid = site.centroid
    gk = _measuring_zone(centroid.x)
    site_gk = reproject(site, STORAGE_EPSG, gk.epsg)
    echo = SiteEcho(
        lon=centroid.x, lat=centroid.y, gk_epsg=gk.epsg, gk_central_meridian=gk.central_meridian,
        gk_x=site_gk.centroid.x, gk_y=site_gk.centroid.y, admin=zones.admin_names(centroid.x, centroid.y),
        geometry_type=site.geom_type, size=_size(site_gk), given=given,
    )
    result = CheckResult(site=echo, site_geometry=site, industry=industry, stage=stage, plans=[])
    if "province" not in echo.admin:
        result.warnings.append("场址不在山西省境内（按行政区划图层判断），请核对坐标。")

    admin_accuracy = layers.admin.provenance.accuracy_m
    plans = plans_of(rules, zones)
    measure = _Measure(site_gk, zones.zone(gk.epsg), (centroid.x, centroid.y))
    measure.prefetch(scope_keys(rules, layers))
    areas = {code: _area_scope(code, measure, admin_accuracy) for code in jurisdiction_codes(rules, zones)}
    situation = _situation(rules, industry, stage, on, areas, measure, layers, project)
    measure.prefetch({rule_target(rule, layers) for rule, _, _, _ in situation.measured})
    result.plans = [_plan_record(plan, areas[plan.jurisdiction]) for plan in plans]
    for plan in plans:
        scope = areas[plan.jurisdiction]
        if scope["edge_case"]:
            result.warnings.append(
                f"场址距{plan.jurisdiction_name}边界 {scope['distance_to_edge_m']:.0f} 米，"
                f"在行政边界精度（±{admin_accuracy:g} 米）以内，{plan.title}的条款按需复核处理。"
            )
    result.applicable = any(areas[plan.jurisdiction]["applies"] for plan in plans)

    used_layers = set(situation.layers)
    result.not_evaluated = list(situation.not_evaluated)
    result.conditions = list(situation.conditions)
    result.information = list(situation.information)
    result.findings = list(situation.findings)
    for rule, match, coverage, edge in situation.measured:
        finding = _with_deadline(_evaluate(rule, match, measure, layers), on)
        if coverage == "partial":
            finding = _partly_covered(finding, layers.layers[rule.zone.layer], layers)
        if edge:
            finding = _edge_of_jurisdiction(finding, rule)
        result.findings.append(finding)

    result.findings.sort(key=lambda f: (-f.verdict.severity, f.rule.id))
    if not result.applicable:
        result.warnings.append("场址不在任何已载入规划的管辖范围内，没有规划条款适用；请核对坐标。")
    result.units = units_at(site, site_gk, gk.epsg, layers, rules, areas)
    if not result.units and _coverage(UnitClass.GENERAL.layer, measure, layers) == "inside" \
            and UnitClass.GENERAL.layer in layers.layers:
        result.warnings.append("场址在三线一单单元图层覆盖范围内，却不落在任何单元中：单元图层可能不完整，请核对。")
    used_layers |= {unit["layer"] for unit in result.units}
    result.layers = [_layer_record(layers, i) for i in sorted(used_layers)]
    result.demonstration = [layers.layers[i].name for i in sorted(used_layers) if layers.layers[i].provenance.demonstration]
    if result.demonstration:
        result.warnings.append(
            f"本次检查使用了示意数据（{'、'.join(result.demonstration)}）：其范围与编码均非正式数据，结果仅供演示，不得作为审批依据；"
            "请用 siting layers import 导入主管部门提供的正式图层。"
        )
    return result


def _measuring_zone(lon: float) -> GaussKrugerZone:
    """The site's GK zone; a longitude outside China's zones is a typing error, said as such."""
    try:
        return gk3_zone_for_longitude(lon)
    except ValueError:
        raise InputError(
            "lon", lon, "经度不在中国 CGCS2000 3度带范围（约73.5°E–136.5°E）内：请核对经度（负号、经纬度颠倒或漏位）。",
            "the longitude lies outside China's CGCS2000 3-degree zones (about 73.5°E–136.5°E): check its sign, order and digits.",
        ) from None


def units_at(site: BaseGeometry, site_gk: BaseGeometry, epsg: int, layers: LayerSet, rules: list[Rule], areas: dict) -> list[dict]:
    """The 三线一单 units the site falls in, with their access lists and the plan rules on their class."""
    zones = prepared(layers)
    point = site.geom_type == "Point"
    found = []
    for unit_class in UnitClass:
        layer = layers.layers.get(unit_class.layer)
        if layer is None:
            continue
        hits = zones.features_at(layer.id, site)
        if not len(hits):
            continue
        class_rules = [rule.id for rule in _rules_on(rules, layer.id, zones) if rule_scope(rule, areas)[0]]
        records = _unit_records(layer, unit_class, zones)
        for i in hits:
            overlap = None if point else _overlap(site_gk, reproject(layer.frame.geometry.values[i], STORAGE_EPSG, epsg))
            found.append({**records[i], "access_list": dict(records[i]["access_list"]), "overlap": overlap,
                          "rules": class_rules, "demonstration": layer.provenance.demonstration})
    return found


def plans_of(rules: list[Rule], zones: PreparedZones) -> list[Plan]:
    """The plans of a rule list, in first-seen order (cached per list)."""
    key = ("plans", tuple(map(id, rules)))
    if key not in zones.memo:
        zones.memo[key] = (tuple(rules), list({rule.plan.id: rule.plan for rule in rules}.values()))
    return zones.memo[key][1]


def _rules_on(rules: list[Rule], layer_id: str, zones: PreparedZones) -> list[Rule]:
    """The rules whose zone is a layer, in catalog order (cached)."""
    key = ("rules_on", layer_id, tuple(map(id, rules)))
    if key not in zones.memo:
        zones.memo[key] = (tuple(rules), [r for r in rules if r.zone.layer == layer_id])
    return zones.memo[key][1]


def _unit_records(layer: Layer, unit_class: UnitClass, zones: PreparedZones) -> list[dict]:
    """Code, name, class and access list of every unit of a layer, read once."""
    key = ("units", layer.id)
    if key not in zones.memo:
        zones.memo[key] = [{
            "code": row.get("code"), "name": row.get("name"), "class": unit_class.value, "layer": layer.id,
            "access_list": {label: str(row[field]) for field, label in ACCESS_DIMENSIONS.items()
                            if field in row and isinstance(row[field], str) and row[field].strip()},
        } for _, row in layer.frame.iterrows()]
    return zones.memo[key]


def _layer_record(layers: LayerSet, layer_id: str) -> dict:
    """A layer's id, name and provenance for a result (built once, copied per result)."""
    memo = prepared(layers).memo
    key = ("layer_record", layer_id)
    if key not in memo:
        memo[key] = layers.layers[layer_id].to_dict()
    return dict(memo[key])


@dataclass(frozen=True)
class _Situation:
    """What every site in the same situation gets from the rules that need no measurement."""

    not_evaluated: tuple[NotEvaluated, ...]
    conditions: tuple[Finding, ...]
    findings: tuple[Finding, ...]  # undefined extents and whole jurisdictions
    information: tuple[Finding, ...]  # measures on named enterprises the project is not
    layers: frozenset[str]  # layers the evaluated rules use
    measured: tuple[tuple[Rule, IndustryMatch, str, bool], ...]  # (rule, match, coverage, jurisdiction edge) to measure


_SITUATIONS_KEPT = 4096


def _situation(rules: list[Rule], industry: Industry, stage: Stage, on: date, areas: dict, measure: _Measure,
               layers: LayerSet, project: str) -> _Situation:
    """The rule decisions that depend only on industry, stage, date, project name, the areas
    that reach the site and the layer coverages it falls in; for a point they are kept and reused."""
    key = None
    if measure.point:
        coverages = tuple(measure.inside(TargetKey(COVERAGE, layer_id)) for layer_id in coverage_layers(layers))
        coverages += tuple(_beyond(target, measure) for target in bounds(rules, layers))
        named = tuple(rule.id for rule in rules if rule.enterprises and rule.names_enterprise(project))
        key = ("situation", tuple(map(id, rules)), industry.codes, industry.term, stage, on, named,
               tuple((s["applies"], s["inside"], s["edge_case"]) for s in areas.values()), coverages)
        memo = prepared(layers).memo
        if key in memo:
            return memo[key][1]
    not_evaluated, conditions, findings, information, measured = [], [], [], [], []
    used = {LayerSet.ADMIN}
    for rule, match in applicable(rules, industry, stage):
        applies, _, edge = rule_scope(rule, areas)
        if not applies:
            continue
        if rule.enterprises and not rule.names_enterprise(project):
            note = join_notes([f"本条针对点名企业（{'、'.join(rule.enterprises)}），项目名称未涉及，仅供参考", rule.note])
            information.append(Finding(rule, Verdict.COMPLIANT, None, rule.scope_name, rule.zone.describe(""), None, None, None,
                                       False, note))
            continue
        layer = rule.zone.layer
        coverage = _coverage(layer, measure, layers)
        reach = bound(rule, layers)
        handling = disposition(rule, layers, covered=coverage != "outside", beyond=reach is not None and _beyond(reach, measure))
        if handling is Disposition.BEYOND:
            findings.append(beyond_finding(rule, layers))
            continue
        if handling is Disposition.MISSING:
            not_evaluated.append(NotEvaluated(rule, layer, missing_reason(layers, layer), layer_name(layers, layer)))
            continue
        if handling is Disposition.UNCOVERED:
            not_evaluated.append(NotEvaluated(rule, layer, uncovered_reason(layers, layer), layer_name(layers, layer)))
            continue
        if layer is not None:
            used.add(layer)
        if handling is Disposition.MEASURED:
            measured.append((rule, match, coverage, edge))
            continue
        finding = _with_deadline(_evaluate(rule, match, measure, layers), on)
        if coverage == "partial":
            finding = _partly_covered(finding, layers.layers[layer], layers)
        if handling is Disposition.CONDITION:
            conditions.append(dataclasses.replace(finding, verdict=Verdict.COMPLIANT))
        else:
            findings.append(_edge_of_jurisdiction(finding, rule) if edge else finding)
    situation = _Situation(tuple(not_evaluated), tuple(conditions), tuple(findings), tuple(information),
                           frozenset(used), tuple(measured))
    if key is not None:
        if sum(1 for k in memo if k[0] == "situation") >= _SITUATIONS_KEPT:
            for old in [k for k in memo if k[0] == "situation"]:
                del memo[old]
        memo[key] = (tuple(rules), situation)
    return situation


def _beyond(target: tuple[TargetKey, float], measure: _Measure) -> bool:
    """Whether the site lies farther from a bounding layer than a rule on the layer it bounds reaches."""
    key, reach = target
    if measure.point:
        return not measure.inside(key) and measure.edge(key) > reach
    return float(shapely.distance(measure.target(key).geometry, measure.site_gk)) > reach


def beyond_finding(rule: Rule, layers: LayerSet) -> Finding:
    """A rule on a missing layer that cannot reach the site: decided outside, with the bound stated."""
    missing = layers.missing[rule.zone.layer]
    bounding = layers.layers[missing.bounded_by]
    reach = missing.within_m + (rule.zone.distance_m or 0.0)
    note = (f"图层“{missing.name}”缺失，但其要素均在“{bounding.name}”{missing.within_m:,.0f} 米以内（{missing.bound_note}）；"
            f"场址距“{bounding.name}”超过 {reach:,.0f} 米，不在本条范围内")
    return Finding(rule, Verdict.COMPLIANT, None, missing.name, rule.zone.describe(missing.name), False, None, None, False, note)


def coverage_layers(layers: LayerSet) -> list[str]:
    """Ids of the layers that declare a limited coverage (cached)."""
    memo = prepared(layers).memo
    if "coverage_layers" not in memo:
        memo["coverage_layers"] = [layer_id for layer_id in layers.layers if has_coverage(layer_id, layers)]
    return memo["coverage_layers"]


def layer_name(layers: LayerSet, layer_id: str) -> str:
    """The Chinese name of a loaded or a missing layer."""
    known = layers.layers.get(layer_id) or layers.missing.get(layer_id)
    return known.name if known is not None else layer_id


def missing_reason(layers: LayerSet, layer_id: str) -> str:
    missing = layers.missing[layer_id]
    return f"缺少图层“{missing.name}”：{missing.reason}"


def uncovered_reason(layers: LayerSet, layer_id: str) -> str:
    layer = layers.layers[layer_id]
    if layer.provenance.gaps:
        gaps = "、".join(f"{name}（两侧 {width:,.0f} 米内）" for name, _, width in layer.provenance.gaps)
        return f"图层“{layer.name}”缺{gaps}，场址在该段附近或图层覆盖范围外，须人工核查"
    return f"图层“{layer.name}”只覆盖{_coverage_names(layer, layers)}，场址在覆盖范围外"


def _coverage(layer_id: str | None, measure: _Measure, layers: LayerSet) -> str:
    """Whether a layer speaks for the site: "inside" its declared coverage, "partial" or "outside"."""
    if not has_coverage(layer_id, layers):
        return "inside"
    key = TargetKey(COVERAGE, layer_id)
    if measure.point:  # a point the area covers is a point it intersects
        return "inside" if measure.inside(key) else "outside"
    area = measure.target(key).geometry
    if shapely.covers(area, measure.site_gk):
        return "inside"
    return "partial" if measure.inside(key) else "outside"


def _coverage_names(layer: Layer, layers: LayerSet) -> str:
    memo = prepared(layers).memo
    key = ("coverage_names", layer.id)
    if key not in memo:
        frame = layers.admin.frame
        names = frame.loc[frame["code"].isin(layer.provenance.coverage), "name"]
        memo[key] = "、".join(names) if len(names) <= 5 else f"{'、'.join(names[:5])}等{len(names)}个行政区"
    return memo[key]


def _partly_covered(finding: Finding, layer: Layer, layers: LayerSet) -> Finding:
    """A site straddling the edge of what a layer covers: the uncovered part is unknown."""
    note = join_notes([finding.note, f"场址部分在图层“{layer.name}”覆盖范围（{_coverage_names(layer, layers)}）以外，该部分未能判定"])
    verdict = max(finding.verdict, Verdict.REVIEW, key=lambda v: v.severity) if finding.rule.action is not Action.ENCOURAGE else finding.verdict
    return dataclasses.replace(finding, note=note, verdict=verdict, boundary_case=True)


def _area_scope(code: str, measure: _Measure, accuracy: float) -> dict:
    """Whether a site lies in an admin area (a plan's jurisdiction or a county a rule names),
    and whether it is within the admin layer's accuracy of its edge, on either side."""
    key = TargetKey.jurisdiction(code)
    inside = measure.inside(key)
    if measure.point:
        to_edge = measure.edge(key)
    else:
        area = measure.target(key).geometry
        to_edge = float(shapely.distance(area.boundary, measure.site_gk) if inside else shapely.distance(area, measure.site_gk))
    applies, edge_case = plan_applies(inside, to_edge, accuracy)
    return {"inside": bool(inside), "applies": bool(applies), "distance_to_edge_m": round(to_edge, 1),
            "edge_case": bool(edge_case)}


def _plan_record(plan: Plan, scope: dict) -> dict:
    return {"id": plan.id, "title": plan.title, "jurisdiction": plan.jurisdiction,
            "jurisdiction_name": plan.jurisdiction_name, **scope}


def jurisdiction_codes(rules: list[Rule], zones: PreparedZones) -> list[str]:
    """Every admin area a rule of the list reaches: plan jurisdictions and named counties (cached)."""
    key = ("jurisdiction_codes", tuple(map(id, rules)))
    if key not in zones.memo:
        codes = [code for rule in rules for code in (rule.plan.jurisdiction, *rule.jurisdictions)]
        zones.memo[key] = (tuple(rules), list(dict.fromkeys(codes)))
    return zones.memo[key][1]


def _with_deadline(finding: Finding, on: date) -> Finding:
    """State a rule's deadline on a finding that reaches the site, and say when it has passed."""
    deadline = finding.rule.deadline
    if not deadline or finding.inside is False:
        return finding
    late = overdue(finding.rule, on)
    text = f"期限 {deadline}" + ("，已逾期" if late else "")
    return dataclasses.replace(finding, note=join_notes([finding.note, text]), overdue=late)


def _edge_of_jurisdiction(finding: Finding, rule: Rule) -> Finding:
    """A site within boundary accuracy of the edge of the area a rule reaches, on either side:
    it may lie on the other side, so a rule hit becomes a review."""
    area = rule.scope_name or rule.plan.jurisdiction_name
    note = join_notes([finding.note, f"场址距{area}边界在行政边界精度以内，可能不在该条款适用范围内"])
    verdict = min(finding.verdict, Verdict.REVIEW, key=lambda v: v.severity)
    return dataclasses.replace(finding, boundary_case=True, note=note, verdict=verdict)


def _evaluate(rule: Rule, match: IndustryMatch, measure: _Measure, layers: LayerSet) -> Finding:
    zone = rule.zone
    notes = [rule.note] if rule.note else []
    if match is IndustryMatch.COARSER:
        notes.append("所报行业类别比本条管控行业更宽，可能属于管控范围，请细化到小类。")

    if zone.kind in (ZoneKind.UNDEFINED, ZoneKind.JURISDICTION):
        verdict, inside = fixed_outcome(rule, match)
        if zone.kind is ZoneKind.UNDEFINED:
            notes.insert(0, zone.undefined or "规划未界定该区域范围。")
            return Finding(rule, verdict, None, zone.name or "", zone.describe(""), None, None, None, False, join_notes(notes))
        return Finding(rule, verdict, None, rule.plan.jurisdiction_name, zone.describe(""), inside, None, None, False,
                       join_notes(notes))

    layer = layers.layers[zone.layer]
    accuracy = layer.provenance.accuracy_m
    key = rule_target(rule, layers)
    target = measure.target(key).geometry
    site_gk = measure.site_gk
    if zone.kind is ZoneKind.BUFFER:
        if measure.point:
            distance = 0.0 if measure.inside(key) else measure.edge(key)
        else:
            distance = float(shapely.distance(site_gk, target))
        margin = zone.distance_m - distance
        outward_band = accuracy + float(layer.provenance.bank_m(*measure.lonlat))
    else:
        if measure.point:
            within, edge = measure.inside(key), measure.edge(key)
            distance, margin = (0.0, edge) if within else (edge, -edge)
        else:
            inside_part = shapely.intersection(site_gk, target)
            distance = float(shapely.distance(site_gk, target))
            # How deep the site reaches into the zone: the farthest inside vertex from the edge.
            depth = shapely.distance(shapely.points(shapely.get_coordinates(inside_part)), target.boundary)
            margin = float(depth.max()) if not inside_part.is_empty else -distance
        outward_band = accuracy

    inside = margin >= 0
    severity, boundary_flags = measured_outcome(rule.action, rule_verdict(rule, match).severity, np.array([inside]),
                                                np.array([margin]), accuracy, outward_band)
    verdict, boundary = VERDICTS[severity[0]], bool(boundary_flags[0])
    if not inside and boundary and rule.action is not Action.ENCOURAGE:
        notes.append(f"场址在管控范围外 {-margin:.0f} 米，但在图层位置精度（含河道中线至河岸距离）以内。")
    if inside and boundary:
        notes.append(f"场址在管控范围内 {margin:.0f} 米，接近边界（图层精度 ±{accuracy:g} 米）。")
    drawing = _Drawing(site_gk, zone.kind, target, measure.target(TargetKey.jurisdiction(rule.plan.jurisdiction)).geometry,
                       zone.distance_m, measure.zone.epsg)
    return Finding(
        rule=rule, verdict=verdict, layer=layer.id, layer_name=layer.name,
        zone=zone.describe(layer.name), inside=inside, distance_m=distance, margin_m=margin,
        boundary_case=boundary, note=join_notes(notes),
        overlap=None if measure.point else _overlap(site_gk, drawing.zone_gk), drawing=drawing,
    )


def _size(site_gk: BaseGeometry) -> dict | None:
    dimension = shapely.get_dimensions(site_gk)
    if dimension == 2:
        return {"area_m2": round(site_gk.area, 1)}
    return {"length_m": round(site_gk.length, 1)} if dimension == 1 else None


def _overlap(site_gk: BaseGeometry, zone_gk: BaseGeometry) -> dict | None:
    """Area (polygons) or length (lines) of the site inside the zone, and its share of the site."""
    dimension = shapely.get_dimensions(site_gk)
    if dimension == 0:
        return None
    inside = shapely.intersection(site_gk, zone_gk)
    if dimension == 2:
        return {"area_m2": round(inside.area, 1), "share": round(inside.area / site_gk.area, 4)}
    return {"length_m": round(inside.length, 1), "share": round(inside.length / site_gk.length, 4)}


def join_notes(notes: list[str]) -> str:
    """Notes as one Chinese sentence list: "a；b。", whatever punctuation each note ends with."""
    parts = [note.strip().rstrip("。；") for note in notes if note and note.strip()]
    return "；".join(parts) + "。" if parts else ""


def _round(value: float | None) -> float | None:
    """Metres to 0.1 m; no distance at all (a zone layer with no features) is null, never NaN."""
    return None if value is None or not math.isfinite(value) else round(value, 1)
