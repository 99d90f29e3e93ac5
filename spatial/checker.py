"""The siting check: one site, one industry, one stage → a verdict per plan rule.

Everything is measured in metres in the site's CGCS2000 3-degree Gauss–Krüger zone.
A site within a layer's positional accuracy of a zone edge is a boundary case and
raises the overall verdict to at least "review"; so does a rule that applies to the
project but whose zone has no layer yet or no defined extent.

The check decides nothing of its own: which rules speak and how is ``spatial.decision``
(as for the batch screen), a measured rule's verdict is ``spatial.measure`` on a batch of
one site. Here the site is measured, and the decisions are worded as findings.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from spatial.cache import Cache
from spatial.crs import STORAGE_EPSG, GaussKrugerZone, gk3_zone_for_longitude
from spatial.decision import (
    AreaScope,
    Coverage,
    RuleBook,
    RuleDecision,
    Situation,
    coverage_names,
    demonstration_layers,
    rule_book,
    rule_scope,
)
from spatial.engine import COVERAGE, Target, TargetKey, ZoneIndex, prepared
from spatial.errors import InputError
from spatial.findings import CheckResult, Finding, NotEvaluated, SiteEcho, ZoneDrawing
from spatial.industry import Industry, IndustryMatch
from spatial.layer import Layer, LayerSet
from spatial.layer import project as reproject
from spatial.measure import measure
from spatial.notes import Note, NoteCode
from spatial.rules import Action, Plan, Rule, Stage, Verdict, ZoneKind
from spatial.semantics import MEASURED_KINDS, VERDICTS, Disposition, has_coverage, overdue, plan_applies, rule_target, rule_verdict
from spatial.units import ACCESS_DIMENSIONS, UnitClass

_SITUATIONS_KEPT = 4096  # worded situations kept per rule list, for point sites


class _Site:
    """The site measured against the prepared targets of its GK zone.

    A point goes through the shared index (the same code path as the batch screen); a
    line or polygon is measured by GEOS on the same prepared target geometries.
    """

    def __init__(self, site_gk: BaseGeometry, index: ZoneIndex, lonlat: tuple[float, float]) -> None:
        self.site_gk = site_gk
        self.lon, self.lat = np.array([lonlat[0]]), np.array([lonlat[1]])  # WGS84 centroid: where a river reach's bank allowance applies
        self.index = index
        self.point = site_gk.geom_type == "Point"
        self._points = np.array([site_gk])
        self._inside: dict[TargetKey, bool] = {}
        self._edge: dict[TargetKey, float] = {}

    def prefetch(self, keys: set[TargetKey] | list[TargetKey]) -> None:
        """Prepare the targets and, for a point, test them all in one query of the shared tree."""
        self.index.ensure(keys)
        if self.point:
            containing = self.index.containing(self.site_gk)
            self._inside.update((key, key in containing) for key in keys)

    def target(self, key: TargetKey) -> Target:
        self.index.ensure([key])
        return self.index.targets[key]

    def inside(self, key: TargetKey) -> bool:
        if key not in self._inside:
            self._inside[key] = bool(shapely.intersects(self.target(key).geometry, self.site_gk))
        return self._inside[key]

    def edge(self, key: TargetKey) -> float:
        """Metres from the point to the target's edges and lines."""
        if key not in self._edge:
            self._edge[key] = float(self.target(key).edge_distance(self._points)[0])
        return self._edge[key]

    def distance(self, key: TargetKey) -> float:
        """Metres from the site to the target (0 where they touch)."""
        if self.point:
            return 0.0 if self.inside(key) else self.edge(key)
        return float(shapely.distance(self.target(key).geometry, self.site_gk))

    def against(self, key: TargetKey, polygon_zone: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(within, distance, depth) of the site against a target, as ``spatial.measure`` takes them;
        the depth (how far the site reaches in) only for a polygon zone."""
        if self.point:
            within = self.inside(key)
            depth = self.edge(key) if polygon_zone else None
            distance = 0.0 if within else self.edge(key)
        elif polygon_zone:
            target = self.target(key).geometry
            inside_part = shapely.intersection(self.site_gk, target)
            within = not inside_part.is_empty
            distance = float(shapely.distance(self.site_gk, target))
            # How deep the site reaches into the zone: the farthest inside vertex from the edge.
            depth = float(shapely.distance(shapely.points(shapely.get_coordinates(inside_part)), target.boundary).max()) if within else None
        else:
            distance = self.distance(key)
            within, depth = distance == 0.0, None
        return np.array([within]), np.array([distance]), None if depth is None else np.array([depth])

    def beyond(self, reach: tuple[TargetKey, float]) -> bool:
        """Whether the site lies farther from a bounding layer than a rule on the layer it bounds reaches."""
        key, metres = reach
        if self.point:
            return not self.inside(key) and self.edge(key) > metres
        return float(shapely.distance(self.target(key).geometry, self.site_gk)) > metres

    def coverage(self, layer_id: str | None, layers: LayerSet) -> Coverage:
        """Whether a layer speaks for the site: inside its declared coverage, partly or not."""
        if not has_coverage(layer_id, layers):
            return Coverage.INSIDE
        key = TargetKey(COVERAGE, layer_id)
        if self.point:  # a point the area covers is a point it intersects
            return Coverage.INSIDE if self.inside(key) else Coverage.OUTSIDE
        if shapely.covers(self.target(key).geometry, self.site_gk):
            return Coverage.INSIDE
        return Coverage.PARTIAL if self.inside(key) else Coverage.OUTSIDE


@dataclass(frozen=True)
class _Worded:
    """A situation and its findings that need no measurement, worded once (for point sites, kept)."""

    situation: Situation
    findings: tuple[Finding, ...]
    not_evaluated: tuple[NotEvaluated, ...]
    conditions: tuple[Finding, ...]  # on zones not measured (a condition on a measured zone is worded per site)
    information: tuple[Finding, ...]


class _Situations:
    """The worded situations of one rule book, by what decides them."""

    def __init__(self, book: RuleBook) -> None:
        self.kept: Cache[tuple, _Worded] = Cache(_SITUATIONS_KEPT)


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
    book = rule_book(rules, layers)
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
        result.notices.append(Note(NoteCode.OUTSIDE_SHANXI))

    admin_accuracy = layers.admin.provenance.accuracy_m
    located = _Site(site_gk, zones.zone(gk.epsg), (centroid.x, centroid.y))
    located.prefetch(book.scope_keys)
    scopes = {code: _area_scope(code, located, admin_accuracy) for code in book.codes}
    worded = _worded(book, industry, stage, on, scopes, located, project)
    situation = worded.situation
    located.prefetch([rule_target(d.rule, layers) for d in situation.measured])
    result.plans = [_plan_record(plan, scopes[plan.jurisdiction]) for plan in book.plans]
    for plan in book.plans:
        scope = scopes[plan.jurisdiction]
        if scope.edge_case:
            result.notices.append(Note(NoteCode.NEAR_PLAN_EDGE, metres=scope.distance_to_edge_m, accuracy_m=admin_accuracy,
                                       area=plan.jurisdiction_name, plan=plan.title))
    result.applicable = any(scopes[plan.jurisdiction].applies for plan in book.plans)

    result.not_evaluated = list(worded.not_evaluated)
    result.conditions = list(worded.conditions) + [_condition(d, located, layers, on) for d in situation.conditions
                                                   if d.rule.zone.kind in MEASURED_KINDS]
    result.information = list(worded.information)
    result.findings = list(worded.findings) + [_measured_finding(d, located, layers, on) for d in situation.measured]
    result.findings.sort(key=lambda f: (-f.verdict.severity, f.rule.id))
    if not result.applicable:
        result.notices.append(Note(NoteCode.NO_PLAN))
    result.units = units_at(site, site_gk, gk.epsg, book, scopes)
    if not result.units and located.coverage(UnitClass.GENERAL.layer, layers) is Coverage.INSIDE \
            and UnitClass.GENERAL.layer in layers.layers:
        result.notices.append(Note(NoteCode.UNITS_INCOMPLETE))
    used_layers = situation.layers | {unit["layer"] for unit in result.units}
    result.layers = [_layer_record(layers, i) for i in sorted(used_layers)]
    result.demonstration = demonstration_layers(layers, used_layers)
    if result.demonstration:
        result.notices.append(Note(NoteCode.DEMONSTRATION, names=tuple(result.demonstration)))
    return result


def _worded(book: RuleBook, industry: Industry, stage: Stage, on: date, scopes: dict[str, AreaScope], site: _Site,
            project: str) -> _Worded:
    """The situation's decisions (``RuleBook.decide``) and the findings that need no measurement, worded;
    for a point they depend only on what the key holds, so they are kept and reused."""
    layers = book.layers

    def named(rule: Rule) -> bool:
        return bool(rule.enterprises) and rule.names_enterprise(project)

    def make() -> _Worded:
        situation = book.decide(industry, stage, scopes, lambda layer_id: site.coverage(layer_id, layers), site.beyond, named)
        return _Worded(
            situation,
            findings=tuple(_fixed_finding(d, layers, on) for d in situation.findings),
            not_evaluated=tuple(NotEvaluated(d.rule, d.rule.zone.layer, d.reason, d.layer_name) for d in situation.not_evaluated),
            conditions=tuple(_condition(d, site, layers, on) for d in situation.conditions if d.rule.zone.kind not in MEASURED_KINDS),
            information=tuple(_information(d) for d in situation.information),
        )

    if not site.point:
        return make()
    coverages = tuple(site.coverage(layer_id, layers) for layer_id in book.coverage_layers)
    beyond = tuple(site.beyond(reach) for reach in book.reaches)
    names = tuple(rule.id for rule in book.rules if named(rule))
    key = (industry.codes, industry.term, stage, on, names,
           tuple((s.applies, s.inside, s.edge_case) for s in scopes.values()), coverages, beyond)
    return book.attached(_Situations, _Situations).kept.get(key, make)


def _notes(rule: Rule, match: IndustryMatch) -> list[Note]:
    notes = _rule_note(rule)
    if match is IndustryMatch.COARSER:
        notes.append(Note(NoteCode.COARSER_INDUSTRY))
    return notes


def _rule_note(rule: Rule) -> list[Note]:
    """The plan's own note on the rule (catalog text), if it has one."""
    return [Note(NoteCode.RULE_NOTE, text=rule.note)] if rule.note else []


def _fixed_finding(decision: RuleDecision, layers: LayerSet, on: date) -> Finding:
    """A rule with the same answer anywhere in scope: an undefined extent, a whole jurisdiction,
    or a missing layer whose bound puts the site out of reach."""
    rule = decision.rule
    if decision.disposition is Disposition.BEYOND:
        return beyond_finding(rule, layers)
    finding = _unmeasured(rule, decision.match, decision.verdict, decision.inside, decision.boundary)
    return _worded_edges(_with_deadline(finding, on), decision, layers)


def _unmeasured(rule: Rule, match: IndustryMatch, verdict: Verdict, inside: bool | None, boundary: bool) -> Finding:
    zone = rule.zone
    notes = _notes(rule, match)
    if zone.kind is ZoneKind.UNDEFINED:
        notes.insert(0, Note(NoteCode.UNDEFINED_EXTENT, text=zone.undefined or ""))
        return Finding(rule, verdict, None, zone.name or "", zone.describe(""), None, None, None, boundary, tuple(notes))
    return Finding(rule, verdict, None, rule.plan.jurisdiction_name, zone.describe(""), inside, None, None, boundary, tuple(notes))


def _condition(decision: RuleDecision, site: _Site, layers: LayerSet, on: date) -> Finding:
    """A general condition: listed with what the site is measured at, never a verdict."""
    rule = decision.rule
    if rule.zone.kind in MEASURED_KINDS:
        finding = _measured_finding(dataclasses.replace(decision, at_edge=False), site, layers, on)
    else:
        finding = _worded_edges(_with_deadline(_unmeasured(rule, decision.match, decision.verdict, decision.inside, decision.boundary), on),
                                decision, layers)
    return dataclasses.replace(finding, verdict=Verdict.COMPLIANT)


def _information(decision: RuleDecision) -> Finding:
    rule = decision.rule
    notes = (Note(NoteCode.NAMED_ENTERPRISE, names=tuple(rule.enterprises)), *_rule_note(rule))
    return Finding(rule, Verdict.COMPLIANT, None, rule.scope_name, rule.zone.describe(""), None, None, None, False, notes)


def _measured_finding(decision: RuleDecision, site: _Site, layers: LayerSet, on: date) -> Finding:
    """A buffer or polygon rule measured at the site: ``spatial.measure`` on a batch of one."""
    rule, zone = decision.rule, decision.rule.zone
    layer = layers.layers[zone.layer]
    key = rule_target(rule, layers)
    within, distance, depth = site.against(key, zone.kind is ZoneKind.WITHIN)
    found = measure(rule, layers, rule_verdict(rule, decision.match).severity, within, distance, depth, site.lon, site.lat,
                    np.array([decision.at_edge]), decision.partial)
    inside, margin, near_edge = bool(found.inside[0]), float(found.margin_m[0]), bool(found.near_edge[0])
    accuracy = layer.provenance.accuracy_m
    notes = _notes(rule, decision.match)
    if not inside and near_edge and rule.action is not Action.ENCOURAGE:
        notes.append(Note(NoteCode.OUTSIDE_WITHIN_ACCURACY, metres=-margin))
    if inside and near_edge:
        notes.append(Note(NoteCode.INSIDE_NEAR_EDGE, metres=margin, accuracy_m=accuracy))
    target = site.target(key).geometry
    drawing = ZoneDrawing(site.site_gk, zone.kind, target, site.target(TargetKey.jurisdiction(rule.plan.jurisdiction)).geometry,
                          zone.distance_m, site.index.epsg)
    finding = Finding(
        rule=rule, verdict=VERDICTS[int(found.severity[0])], layer=layer.id, layer_name=layer.name,
        zone=zone.describe(layer.name), inside=inside, distance_m=float(found.distance_m[0]), margin_m=margin,
        boundary_case=bool(found.boundary[0]), notes=tuple(notes),
        overlap=None if site.point else _overlap(site.site_gk, drawing.zone_gk), drawing=drawing,
    )
    return _worded_edges(_with_deadline(finding, on), decision, layers)


def _worded_edges(finding: Finding, decision: RuleDecision, layers: LayerSet) -> Finding:
    """Say why a finding is a boundary case beyond its zone's edge: the site straddles the edge of
    what the rule's layer covers, or lies within boundary accuracy of the edge of the area the
    rule reaches (on either side, so it may lie outside the rule's reach)."""
    notes = list(finding.notes)
    if decision.partial:
        layer = layers.layers[decision.rule.zone.layer]
        notes.append(Note(NoteCode.PARTLY_UNCOVERED, layer=layer.name, names=coverage_names(layer, layers)))
    if decision.at_edge:
        rule = decision.rule
        notes.append(Note(NoteCode.AT_AREA_EDGE, area=rule.scope_name or rule.plan.jurisdiction_name))
    return finding if len(notes) == len(finding.notes) else dataclasses.replace(finding, notes=tuple(notes))


def _with_deadline(finding: Finding, on: date) -> Finding:
    """State a rule's deadline on a finding that reaches the site, and say when it has passed."""
    deadline = finding.rule.deadline
    if not deadline or finding.inside is False:
        return finding
    late = overdue(finding.rule, on)
    note = Note(NoteCode.DEADLINE_PASSED if late else NoteCode.DEADLINE, date=deadline)
    return dataclasses.replace(finding, notes=(*finding.notes, note), overdue=late)


def beyond_finding(rule: Rule, layers: LayerSet) -> Finding:
    """A rule on a missing layer that cannot reach the site: decided outside, with the bound stated."""
    missing = layers.missing[rule.zone.layer]
    bounding = layers.layers[missing.bounded_by]
    reach = missing.within_m + (rule.zone.distance_m or 0.0)
    note = Note(NoteCode.BEYOND_BOUND, text=missing.bound_note, metres=missing.within_m, reach_m=reach, layer=missing.name,
                bounding=bounding.name)
    return Finding(rule, Verdict.COMPLIANT, None, missing.name, rule.zone.describe(missing.name), False, None, None, False, (note,))


def _area_scope(code: str, site: _Site, accuracy: float) -> AreaScope:
    """Whether a site lies in an admin area (a plan's jurisdiction or a county a rule names),
    and whether it is within the admin layer's accuracy of its edge, on either side."""
    key = TargetKey.jurisdiction(code)
    inside = site.inside(key)
    if site.point:
        to_edge = site.edge(key)
    else:
        area = site.target(key).geometry
        to_edge = float(shapely.distance(area.boundary, site.site_gk) if inside else shapely.distance(area, site.site_gk))
    applies, edge_case = plan_applies(inside, to_edge, accuracy)
    return AreaScope(inside=bool(inside), applies=bool(applies), edge_case=bool(edge_case), distance_to_edge_m=round(to_edge, 1))


def _plan_record(plan: Plan, scope: AreaScope) -> dict:
    return {"id": plan.id, "title": plan.title, "jurisdiction": plan.jurisdiction,
            "jurisdiction_name": plan.jurisdiction_name, **scope.to_dict()}


def _measuring_zone(lon: float) -> GaussKrugerZone:
    """The site's GK zone; a longitude outside China's zones is a typing error, said as such."""
    try:
        return gk3_zone_for_longitude(lon)
    except ValueError:
        raise InputError(
            "lon", lon, "经度不在中国 CGCS2000 3度带范围（约73.5°E–136.5°E）内：请核对经度（负号、经纬度颠倒或漏位）。",
            "the longitude lies outside China's CGCS2000 3-degree zones (about 73.5°E–136.5°E): check its sign, order and digits.",
        ) from None


def units_at(site: BaseGeometry, site_gk: BaseGeometry, epsg: int, book: RuleBook, scopes: dict[str, AreaScope]) -> list[dict]:
    """The 三线一单 units the site falls in, with their access lists and the plan rules on their class."""
    layers = book.layers
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
        class_rules = [rule.id for rule in book.rules_on(layer.id) if rule_scope(rule, scopes).applies]
        records = zones.unit_records.get(layer.id, lambda layer=layer, unit_class=unit_class: _unit_records(layer, unit_class))
        for i in hits:
            overlap = None if point else _overlap(site_gk, reproject(layer.frame.geometry.values[i], STORAGE_EPSG, epsg))
            found.append({**records[i], "access_list": dict(records[i]["access_list"]), "overlap": overlap,
                          "rules": class_rules, "demonstration": layer.provenance.demonstration})
    return found


def _unit_records(layer: Layer, unit_class: UnitClass) -> list[dict]:
    """Code, name, class and access list of every unit of a layer."""
    return [{
        "code": row.get("code"), "name": row.get("name"), "class": unit_class.value, "layer": layer.id,
        "access_list": {label: str(row[field]) for field, label in ACCESS_DIMENSIONS.items()
                        if field in row and isinstance(row[field], str) and row[field].strip()},
    } for _, row in layer.frame.iterrows()]


def _layer_record(layers: LayerSet, layer_id: str) -> dict:
    """A layer's id, name and provenance for a result (built once, copied per result)."""
    return dict(prepared(layers).layer_records.get(layer_id, lambda: layers.layers[layer_id].to_dict()))


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
