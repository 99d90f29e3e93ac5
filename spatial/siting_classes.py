"""Where may a project of this kind go? Every place of a region in the class a check gives it.

A site's verdict is the strictest thing any applicable rule says there (spatial.checker).
Each rule says it over an area: its zone's core; a review band of the layer's accuracy either
side of the zone's edge (outwards also the river's mid-line-to-bank allowance); the edge band
of the jurisdiction it reaches; where its layer is missing or does not speak. So the classes
are exact polygons: the area where a severity is reached, minus where a stronger one is.

The decisions are the checker's own (``spatial.decision.decide`` over the part of a rule's
reach away from its areas' edges and over their edge bands; ``rule_verdict`` and the
boundary bands of ``spatial.measure`` drawn as areas); the geometry is the zone
targets the engine materialises, each part of the region measured in its own Gauss–Krüger
zone as a check of a point there is. Buffers use arcs within ``ARC_TOLERANCE_M`` of a circle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from spatial.crs import STORAGE_EPSG, gk3_zone_for_longitude
from spatial.decision import AreaScope, Coverage, RuleDecision, decide, layer_name, rule_book
from spatial.engine import AREA, COVERAGE, TargetKey, prepared
from spatial.industry import Industry, IndustryMatch
from spatial.layer import LayerSet, project
from spatial.notes import Note, render
from spatial.rules import Action, Rule, Stage, Verdict, ZoneKind
from spatial.semantics import (
    COMPLIANT,
    REVIEW,
    Disposition,
    applicable,
    bound,
    has_coverage,
    rule_target,
    rule_verdict,
)
from spatial.units import UnitClass

ARC_TOLERANCE_M = 0.5  # a buffer's arcs lie at most this far inside the true circle
_CLIP_MARGIN_M = 50.0  # targets are clipped this far beyond what can reach the region
_SEAM_STEP_DEG = 0.001  # the cut between two GK zones is densified so the parts meet exactly
_EMPTY = shapely.Polygon()

#: The classes, strongest first, with their map names and raster codes (0: outside the region).
CLASSES = (Verdict.PROHIBITED, Verdict.EXIT, Verdict.RESTRICTED, Verdict.REVIEW, Verdict.COMPLIANT, Verdict.NOT_APPLICABLE)
CLASS_NAMES = {Verdict.PROHIBITED: "禁止", Verdict.EXIT: "退出", Verdict.RESTRICTED: "限制", Verdict.REVIEW: "需复核",
               Verdict.COMPLIANT: "未发现限制", Verdict.NOT_APPLICABLE: "无规划覆盖"}
CLASS_CODES = {Verdict.COMPLIANT: 1, Verdict.REVIEW: 2, Verdict.RESTRICTED: 3, Verdict.EXIT: 4, Verdict.PROHIBITED: 5,
               Verdict.NOT_APPLICABLE: 6}


@dataclass(frozen=True)
class Contribution:
    """What one rule (or a demonstration layer) says over an area: a severity there."""

    source: str  # rule id, or "demo:<layer id>"
    severity: int
    geometry: BaseGeometry  # GK of the part


@dataclass
class ClassArea:
    """One class over the region: where it is, and the rules (and demonstration layers) that make it."""

    verdict: Verdict
    geometry: BaseGeometry  # GK of the region
    rules: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    demonstration: list[str] = field(default_factory=list)  # names of demonstration layers that raise it to review

    @property
    def name(self) -> str:
        return CLASS_NAMES[self.verdict]

    @property
    def code(self) -> int:
        return CLASS_CODES[self.verdict]

    @property
    def area_km2(self) -> float:
        return float(shapely.area(self.geometry)) / 1e6


@dataclass
class NotEvaluatedArea:
    """Where rules that could apply were not evaluated, for one missing or partial layer."""

    layer: str
    layer_name: str
    why: Note
    rules: list[str]
    geometry: BaseGeometry  # GK of the region

    @property
    def reason(self) -> str:
        return render(self.why)


@dataclass
class SitingClasses:
    """A region classified for one industry and stage."""

    region_code: str
    epsg: int  # the region's GK zone: every geometry here is in it
    industry: Industry
    stage: Stage
    region: BaseGeometry
    classes: list[ClassArea]  # in CLASSES order; a class absent from the region has an empty geometry
    not_evaluated: list[NotEvaluatedArea]
    rules: dict[str, Rule]  # every rule named by a class or a not-evaluated area

    @property
    def region_km2(self) -> float:
        return float(shapely.area(self.region)) / 1e6

    def of(self, verdict: Verdict) -> ClassArea:
        return next(c for c in self.classes if c.verdict is verdict)

    def shares(self) -> dict[Verdict, float]:
        """Share of the region in each class."""
        total = float(shapely.area(self.region)) or 1.0
        return {c.verdict: float(shapely.area(c.geometry)) / total for c in self.classes}

    def county_table(self, names: list[str], counties_wgs84: NDArray) -> list[dict]:
        """km² and share of each class per county (counties given in WGS84), then the whole region."""
        counties = np.asarray(project(np.asarray(counties_wgs84, dtype=object), STORAGE_EPSG, self.epsg), dtype=object)
        counties = shapely.intersection(counties, self.region)
        # Per class part: its whole area where a county holds it clear of its edge (prepared
        # test), an overlay only for the parts a county edge crosses.
        parts, owner = shapely.get_parts(np.array([c.geometry for c in self.classes], dtype=object), return_index=True)
        shapely.prepare(counties)
        county, part = shapely.STRtree(parts).query(counties, predicate="intersects")
        inside = shapely.contains_properly(counties[county], parts[part])
        shared = np.where(inside, shapely.area(parts[part]), 0.0)
        shared[~inside] = shapely.area(shapely.intersection(parts[part[~inside]], counties[county[~inside]]))
        areas = np.zeros((len(self.classes), len(counties)))
        np.add.at(areas, (owner[part], county), shared / 1e6)
        county_km2 = shapely.area(counties) / 1e6
        rows = []
        for j, name in enumerate([*names, "全域"]):
            total = county_km2[j] if j < len(names) else self.region_km2
            column = areas[:, j] if j < len(names) else np.array([c.area_km2 for c in self.classes])
            for cls, km2 in zip(self.classes, column, strict=True):
                if km2 > 0:
                    rows.append({"county": name, "class": cls.name, "verdict": cls.verdict.value,
                                 "area_km2": float(km2), "share": float(km2 / total) if total else 0.0})
        return rows

    def largest(self, verdict: Verdict = Verdict.COMPLIANT, count: int = 10) -> list[dict]:
        """The ``count`` largest contiguous areas of a class, with area and an inner centre point."""
        parts = shapely.get_parts(self.of(verdict).geometry)
        parts = parts[shapely.area(parts) > 0]
        if not len(parts):
            return []
        areas = shapely.area(parts)
        order = np.argsort(-areas, kind="stable")[:count]
        centres = shapely.point_on_surface(parts[order])
        x, y = shapely.get_x(centres), shapely.get_y(centres)
        lonlat = shapely.get_coordinates(project(shapely.multipoints(centres), self.epsg, STORAGE_EPSG))
        return [{"rank": i + 1, "area_km2": float(areas[k] / 1e6), "x": float(x[i]), "y": float(y[i]),
                 "lon": float(lonlat[i, 0]), "lat": float(lonlat[i, 1])} for i, k in enumerate(order)]

    def class_at(self, x: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
        """Verdict severity of the class at GK points (−1 outside the region) and metres to the nearest class edge."""
        points = shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        parts, owner = shapely.get_parts(np.array([c.geometry for c in self.classes], dtype=object), return_index=True)
        severity = np.full(len(points), -1, dtype=np.int8)
        tree = shapely.STRtree(parts)
        hit_point, hit_part = tree.query(points, predicate="intersects")
        severity[hit_point] = [self.classes[i].verdict.severity for i in owner[hit_part]]
        edges = shapely.STRtree(shapely.boundary(parts))
        _, distance = edges.query_nearest(points, return_distance=True, all_matches=False)
        return severity, distance


def _quad_segs(radius: float) -> int:
    """Segments per quarter circle so that a buffer's arcs stay within ARC_TOLERANCE_M of the circle."""
    if radius <= ARC_TOLERANCE_M:
        return 8
    step = 2 * math.acos(1 - ARC_TOLERANCE_M / radius)
    return int(min(2048, max(8, math.ceil(math.pi / 2 / step))))


def _buffer(geometry: BaseGeometry, radius: float) -> BaseGeometry:
    if radius <= 0 or geometry.is_empty:
        return geometry if radius == 0 and shapely.get_dimensions(geometry) == 2 else _EMPTY
    return shapely.buffer(geometry, radius, quad_segs=_quad_segs(radius))


def _linework(geometry: BaseGeometry) -> NDArray:
    """Polygon rings, lines and points, one piece each: what the engine measures edge distances to."""
    parts = shapely.get_parts(geometry)
    dims = shapely.get_dimensions(parts)
    return shapely.get_parts(np.concatenate([shapely.get_parts(shapely.boundary(parts[dims == 2])), parts[dims < 2]]))


def _band(pieces: NDArray, width: float) -> BaseGeometry:
    """Every place within ``width`` of any piece: each piece buffered on its own, then merged.

    One buffer of a whole red line's linework makes GEOS node every ring's offset curve
    against every other; the rings of a zone layer lie apart, so buffering them one by one
    (vectorised) and merging only the clusters that overlap takes half the time.
    """
    if width <= 0 or not len(pieces):
        return _EMPTY
    return shapely.disjoint_subset_union_all(shapely.buffer(pieces, width, quad_segs=_quad_segs(width)))


def _union(geometries: list[BaseGeometry]) -> BaseGeometry:
    """The union of areas. Polygons lying inside another's interior add nothing and are
    dropped first (prepared tests through a tree), and only clusters of polygons that
    still overlap are merged: a zone's hundreds of cores inside one plan-wide area cost
    a tree query, not an overlay of every vertex."""
    unique = list({id(g): g for g in geometries if g is not None and not g.is_empty}.values())
    if len(unique) <= 1:
        return unique[0] if unique else _EMPTY
    parts = shapely.get_parts(np.array(unique, dtype=object))
    if not (shapely.get_type_id(parts) == 3).all():
        return shapely.union_all(unique)
    _, inner = shapely.STRtree(parts).query(parts, predicate="contains_properly")
    kept = np.ones(len(parts), dtype=bool)
    kept[inner] = False
    return _polygonal(shapely.disjoint_subset_union_all(parts[kept]))


def _minus(area: BaseGeometry, taken: BaseGeometry) -> BaseGeometry:
    """``area − taken``. The parts of ``taken`` with holes go through the overlay; each part
    without holes that then lies inside one polygon of the result, clear of its edges, becomes
    a hole of that polygon as it is (the parts of a valid geometry do not overlap), and only
    the few left over take a second overlay. A zone's cores inside a plan-wide area are most
    of a class's vertices."""
    if taken.is_empty:
        return area
    pieces = shapely.get_parts(taken)
    if len(pieces) < 16:
        return _polygonal(shapely.difference(area, taken))
    _, meeting = shapely.STRtree(pieces).query(shapely.get_parts(area), predicate="intersects")
    pieces = pieces[np.unique(meeting)]  # parts clear of the area take nothing from it
    simple = shapely.get_num_interior_rings(pieces) == 0
    result = _polygonal(shapely.difference(area, shapely.multipolygons(pieces[~simple]))) if not simple.all() else area
    holes = pieces[simple]
    shells = shapely.get_parts(result)
    holder, hole = shapely.STRtree(holes).query(shells, predicate="contains_properly")
    left = np.ones(len(holes), dtype=bool)
    left[hole] = False
    rings, owner = shapely.get_rings(shells, return_index=True)  # each shell's exterior first, then its holes
    rings = np.concatenate([rings, shapely.get_exterior_ring(holes[hole])])
    owner = np.concatenate([owner, holder])
    order = np.argsort(owner, kind="stable")
    polygons = shapely.polygons(rings[order], indices=owner[order])
    result = shapely.multipolygons(polygons)
    if left.any():  # touching or crossing an edge of the area: the overlay decides
        result = _polygonal(shapely.difference(result, shapely.multipolygons(holes[left])))
    return result


def _polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """The 2-D part of an overlay result (set operations may leave stray lines and points)."""
    parts = shapely.get_parts(geometry)
    while len(parts) and (shapely.get_type_id(parts) >= 4).any():  # multi-part geometries and collections
        parts = shapely.get_parts(parts)
    polygons = parts[(shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)]
    return shapely.multipolygons(polygons) if len(polygons) else _EMPTY


def _difference_by_part(area: BaseGeometry, taken: BaseGeometry) -> BaseGeometry:
    """``area − taken`` part by part: each polygon of the area less only the polygons of
    ``taken`` that meet it, as one vectorised call. A zone's polygons less their own edge
    bands are hundreds of small overlays, cheaper than one of every vertex at once."""
    parts, pieces = shapely.get_parts(area), shapely.get_parts(taken)
    if not len(parts) or not len(pieces):
        return _polygonal(area)
    owner, piece = shapely.STRtree(pieces).query(parts, predicate="intersects")
    count = np.bincount(owner, minlength=len(parts))
    alone = count[owner] == 1
    grouped = np.flatnonzero(count > 1)
    order = np.argsort(owner[~alone], kind="stable")
    together = shapely.multipolygons(pieces[piece[~alone][order]], indices=np.searchsorted(grouped, owner[~alone][order]))
    return _polygonal(shapely.geometrycollections(np.concatenate([
        parts[count == 0],
        shapely.difference(parts[owner[alone]], pieces[piece[alone]]),
        shapely.difference(parts[grouped], together) if len(grouped) else np.empty(0, dtype=object)])))


def _clip(geometry: BaseGeometry, area: BaseGeometry) -> BaseGeometry:
    """``geometry ∩ area`` for a zone of many parts: parts well inside the area are kept as they
    are and parts clear of it dropped (prepared predicates, vectorised); only parts crossing its
    edge go through the overlay, each clipped to its own envelope by GEOS."""
    parts = shapely.get_parts(geometry)
    if len(parts) < 16:
        return _polygonal(shapely.intersection(geometry, area))
    area = shapely.from_wkb(shapely.to_wkb(area))  # a private copy to prepare
    shapely.prepare(area)
    inside = shapely.contains_properly(area, parts)
    crossing = ~inside & shapely.intersects(area, parts)
    cut = shapely.intersection(parts[crossing], area)
    return _polygonal(shapely.geometrycollections(np.concatenate([parts[inside], cut])))


def _reaches(geometry: BaseGeometry, area: BaseGeometry) -> bool:
    """Whether a contribution reaches a class: a prepared intersection test. Classes are cut
    along the zones that make them, so one zone merely touching a class is rare; an exact
    shared-area test of city-sized polygons with thousands of holes costs a minute."""
    if geometry.is_empty or area.is_empty:
        return False
    return bool(shapely.intersects(area, geometry))


class _Part:
    """The region's part in one GK zone, with the engine's targets near it (clipped, memoised)."""

    def __init__(self, layers: LayerSet, epsg: int, window: BaseGeometry) -> None:
        self.layers, self.epsg, self.window = layers, epsg, window
        self.index = prepared(layers).zone(epsg)
        self.memo: dict = {}

    def target(self, key: TargetKey, reach: float) -> BaseGeometry:
        """The target as the engine materialised it, clipped to what lies within ``reach`` of the part."""
        memo_key = ("target", key, reach)
        if memo_key not in self.memo:
            minx, miny, maxx, maxy = self.window.bounds
            pad = reach + _CLIP_MARGIN_M
            box = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
            geometry = self._parts_within(key, box, pad)
            if not shapely.is_valid(geometry):
                geometry = shapely.make_valid(geometry)
            self.memo[memo_key] = shapely.intersection(geometry, box) if shapely.intersects(geometry, box) else _EMPTY
        return self.memo[memo_key]

    def _parts_within(self, key: TargetKey, box: BaseGeometry, pad: float) -> BaseGeometry:
        """The target's parts within ``pad`` of the part's window, as one geometry of the target's kind.

        A province-wide layer (the red line: 800,000 vertices) has a few hundred parts near a
        city, and a third of those in its bounding box lie farther from the city than any rule
        reaches; validating, clipping, banding and cutting only the rest gives the same classes
        at a fraction of the cost. Parts of one kind only: a mixed collection is returned whole.
        """
        if ("parts", key) not in self.memo:
            self.index.ensure([key])
            geometry = self.index.targets[key].geometry
            parts = shapely.get_parts(geometry)
            kinds = set(shapely.get_type_id(parts).tolist())
            build = {0: shapely.multipoints, 1: shapely.multilinestrings, 3: shapely.multipolygons}.get(kinds.pop()) \
                if len(kinds) == 1 else None
            self.memo[("parts", key)] = (geometry, parts, shapely.bounds(parts), build)
        geometry, parts, bounds, build = self.memo[("parts", key)]
        if build is None:
            return geometry
        west, south, east, north = shapely.bounds(box)
        near = np.flatnonzero((bounds[:, 0] <= east) & (bounds[:, 2] >= west) & (bounds[:, 1] <= north) & (bounds[:, 3] >= south))
        if len(near) > 1:
            if "window" not in self.memo:
                self.memo["window"] = shapely.from_wkb(shapely.to_wkb(self.window))  # a private copy to prepare
                shapely.prepare(self.memo["window"])
            near = near[shapely.dwithin(self.memo["window"], parts[near], pad)]
        return build(parts[near]) if len(near) else _EMPTY

    def near(self, key: TargetKey, radius: float) -> BaseGeometry:
        """Every place within ``radius`` of the target (its inside included)."""
        memo_key = ("near", key, radius)
        if memo_key not in self.memo:
            self.memo[memo_key] = _polygonal(_buffer(self.target(key, radius), radius))
        return self.memo[memo_key]

    def edge_band(self, key: TargetKey, width: float) -> BaseGeometry:
        """Every place within ``width`` of the target's edges and lines, on either side."""
        memo_key = ("edge", key, width)
        if memo_key not in self.memo:
            self.memo[memo_key] = _polygonal(_band(_linework(self.target(key, width)), width))
        return self.memo[memo_key]

    def inside(self, key: TargetKey) -> BaseGeometry:
        """The target's polygons near the part (a point is inside where it intersects them)."""
        return _polygonal(self.target(key, 0.0))


class _Scopes:
    """Where rules reach in one part: the admin areas' insides and edge bands (rule_scope, plan_applies)."""

    def __init__(self, part: _Part, accuracy: float) -> None:
        self.part, self.accuracy = part, accuracy
        self.memo: dict = {}

    def area(self, code: str) -> tuple[BaseGeometry, BaseGeometry]:
        """(inside, edge band) of an admin area."""
        if code not in self.memo:
            key = TargetKey.jurisdiction(code)
            self.memo[code] = (self.part.inside(key), self.part.edge_band(key, self.accuracy))
        return self.memo[code]

    def reach(self, codes: tuple[str, ...]) -> tuple[BaseGeometry, BaseGeometry, BaseGeometry]:
        """(firm, edge, both): where the areas apply away from any edge, where only an edge case reaches, and all of it."""
        if codes not in self.memo:
            areas = [self.area(code) for code in codes]
            applies = _polygonal(_union([g for pair in areas for g in pair]))
            firm = _polygonal(_union([shapely.difference(inside, band) for inside, band in areas]))
            self.memo[codes] = (firm, _polygonal(shapely.difference(applies, firm)), applies)
        return self.memo[codes]

    def covered(self, codes: tuple[str, ...], layer: str) -> tuple[BaseGeometry, BaseGeometry, BaseGeometry, BaseGeometry]:
        """(firm, edge, both, outside) of the areas, within and outside the area a layer covers."""
        if (codes, layer) not in self.memo:
            firm, edge, scope = self.reach(codes)
            coverage = self.part.inside(TargetKey(COVERAGE, layer))
            self.memo[(codes, layer)] = (_clip(firm, coverage), _clip(edge, coverage), _clip(scope, coverage),
                                         _polygonal(shapely.difference(scope, coverage)))
        return self.memo[(codes, layer)]


@dataclass
class _PartResult:
    classes: dict[Verdict, BaseGeometry]
    contributions: list[Contribution]
    not_evaluated: dict[str, tuple[Note, list[str], list[BaseGeometry]]]  # layer → (reason, rules, areas)


FIRM_SCOPE = AreaScope(inside=True, applies=True, edge_case=False)  # a rule's areas, away from their edges
EDGE_SCOPE = AreaScope(inside=False, applies=True, edge_case=True)  # within the admin layer's accuracy of their edges


def _decided(rule: Rule, match: IndustryMatch, layers: LayerSet, scope: AreaScope, coverage: Coverage) -> RuleDecision | None:
    """A rule's decision over part of its reach (no enterprise named: a map is for any project);
    None never, as both scopes passed here apply."""
    return decide(rule, match, layers, dict.fromkeys(rule.jurisdictions, scope), coverage, beyond=False, named=False)


class RegionClassifier:
    """A region split by GK zone, classified for any industry and stage (geometry memoised across calls)."""

    def __init__(self, code: str, geometry_wgs84: BaseGeometry, rules: list[Rule], layers: LayerSet) -> None:
        self.code, self.rules, self.layers = code, list(rules), layers
        self.epsg = gk3_zone_for_longitude(geometry_wgs84.centroid.x).epsg
        self.region = project(geometry_wgs84, STORAGE_EPSG, self.epsg)
        self.parts: list[_Part] = []
        west, _, east, _ = geometry_wgs84.bounds
        for zone in range(math.floor(west / 3 + 0.5), math.floor(east / 3 + 0.5) + 1):
            band = shapely.segmentize(shapely.box(3 * zone - 1.5, -89.0, 3 * zone + 1.5, 89.0), _SEAM_STEP_DEG)
            piece = _polygonal(shapely.intersection(geometry_wgs84, band))
            if not piece.is_empty:
                epsg = gk3_zone_for_longitude(3.0 * zone).epsg
                self.parts.append(_Part(layers, epsg, project(piece, STORAGE_EPSG, epsg)))
        self._scopes = [_Scopes(part, layers.admin.provenance.accuracy_m) for part in self.parts]
        keys = {TargetKey.jurisdiction(code) for rule in self.rules for code in (rule.plan.jurisdiction, *rule.jurisdictions)}
        keys |= {TargetKey(COVERAGE, layer) for layer in layers.layers if has_coverage(layer, layers)}
        keys |= {key for rule in self.rules if (key := rule_target(rule, layers)) is not None}
        keys |= {reach[0] for rule in self.rules if (reach := bound(rule, layers)) is not None}
        keys |= {TargetKey(AREA, unit.layer) for unit in UnitClass if unit.layer in layers.layers}
        for part in self.parts:  # one rebuild of the engine's shared tree, not one per target
            part.index.ensure(keys)

    def classify(self, industry: Industry, stage: Stage) -> SitingClasses:
        results = [self._classify_part(part, scopes, industry, stage) for part, scopes in zip(self.parts, self._scopes, strict=True)]
        classes = {verdict: _union([self._to_region(r.classes[verdict], part) for r, part in zip(results, self.parts, strict=True)])
                   for verdict in CLASSES}
        areas = [ClassArea(verdict, classes[verdict]) for verdict in CLASSES]
        by_id = {rule.id: rule for rule in self.rules}
        for area in areas:
            sources = set()
            for result in results:
                found = result.classes[area.verdict]
                found = shapely.from_wkb(shapely.to_wkb(found))  # a private copy to prepare
                shapely.prepare(found)
                checked: dict[int, bool] = {}
                for c in result.contributions:
                    if c.severity != area.verdict.severity or c.source in sources:
                        continue
                    if id(c.geometry) not in checked:
                        checked[id(c.geometry)] = _reaches(c.geometry, found)
                    if checked[id(c.geometry)]:
                        sources.add(c.source)
            area.rules = sorted(s for s in sources if not s.startswith("demo:"))
            area.plans = sorted({by_id[s].plan.title for s in area.rules})
            area.demonstration = sorted(self.layers.layers[s[5:]].name for s in sources if s.startswith("demo:"))
        missing: dict[str, tuple[Note, set[str], list[BaseGeometry]]] = {}
        for result, part in zip(results, self.parts, strict=True):
            for layer, (reason, rule_ids, geometries) in result.not_evaluated.items():
                entry = missing.setdefault(layer, (reason, set(), []))
                entry[1].update(rule_ids)
                entry[2].append(self._to_region(_union(geometries), part))
        not_evaluated = [NotEvaluatedArea(layer, layer_name(self.layers, layer), reason, sorted(ids), _union(geometries))
                         for layer, (reason, ids, geometries) in sorted(missing.items())]
        not_evaluated = [n for n in not_evaluated if shapely.area(n.geometry) > 0]
        named = {i for a in areas for i in a.rules} | {i for n in not_evaluated for i in n.rules}
        return SitingClasses(self.code, self.epsg, industry, stage, self.region, areas, not_evaluated,
                             {i: by_id[i] for i in sorted(named)})

    def _to_region(self, geometry: BaseGeometry, part: _Part) -> BaseGeometry:
        return geometry if part.epsg == self.epsg or geometry.is_empty else project(geometry, part.epsg, self.epsg)

    def _classify_part(self, part: _Part, scopes: _Scopes, industry: Industry, stage: Stage) -> _PartResult:
        layers = self.layers
        window = part.window
        plans = rule_book(self.rules, layers).plans
        reached = _union([g for plan in plans for g in scopes.area(plan.jurisdiction)])
        applies = _polygonal(shapely.intersection(reached, window))
        contributions: list[Contribution] = []
        not_evaluated: dict[str, tuple[str, list[str], list[BaseGeometry]]] = {}
        used: dict[str, list[BaseGeometry]] = {LayerSet.ADMIN: [window]}
        for rule, match in applicable(self.rules, industry, stage):
            firm, edge, scope = scopes.reach(rule.jurisdictions)
            if scope.is_empty or not shapely.intersects(scope, window):
                continue
            # The rule's decision (``spatial.decision.decide``, as a check makes it) where the rule reaches
            # away from its areas' edges, inside its layer's coverage and within its bound's reach.
            decided = _decided(rule, match, layers, FIRM_SCOPE, Coverage.INSIDE)
            if decided is None or decided.disposition is Disposition.INFORMATION:  # binds only a project that names the enterprise
                continue
            layer = rule.zone.layer
            held = rule.action is not Action.ENCOURAGE
            if decided.disposition is Disposition.MISSING:
                reach = bound(rule, layers)
                # Farther from the bounding layer than the rule reaches, it is decided outside (Disposition.BEYOND).
                if reach is not None and ("bound", reach, rule.jurisdictions) not in part.memo:
                    part.memo[("bound", reach, rule.jurisdictions)] = _clip(part.near(*reach), scope)
                here = scope if reach is None else part.memo[("bound", reach, rule.jurisdictions)]
                if not here.is_empty:
                    self._not_evaluated(not_evaluated, layer, decided.reason, rule, here)
                    if held:
                        contributions.append(Contribution(rule.id, REVIEW, here))
                continue
            covered = scope
            if has_coverage(layer, layers):
                firm, edge, covered, outside = scopes.covered(rule.jurisdictions, layer)
                if not outside.is_empty and shapely.area(outside) > 0:
                    uncovered = _decided(rule, match, layers, FIRM_SCOPE, Coverage.OUTSIDE)
                    self._not_evaluated(not_evaluated, layer, uncovered.reason, rule, outside)
                    if held:
                        contributions.append(Contribution(rule.id, REVIEW, outside))
            if layer is not None:
                used.setdefault(layer, []).append(covered)
            if decided.disposition is Disposition.CONDITION:
                continue
            if decided.disposition is Disposition.FIXED:
                at_edge = _decided(rule, match, layers, EDGE_SCOPE, Coverage.INSIDE)
                contributions.append(Contribution(rule.id, decided.verdict.severity, firm))
                contributions.append(Contribution(rule.id, at_edge.verdict.severity, edge))
                continue
            hit = rule_verdict(rule, match).severity
            core, band = self._measured_zone(rule, part)
            near = REVIEW if held else COMPLIANT
            contributions += self._measured(part, rule, hit, near, firm, edge, core, band)
        for unit in UnitClass:  # the 三线一单 units a site falls in are layers its check uses
            if unit.layer in layers.layers:
                used.setdefault(unit.layer, []).append(part.inside(TargetKey(AREA, unit.layer)))
        for layer_id, areas in used.items():
            if layers.layers[layer_id].provenance.demonstration:
                key = ("used", layer_id, frozenset(map(id, areas)))  # the areas are memoised, so their ids are stable
                if key not in part.memo:
                    part.memo[key] = (_union(areas), areas)
                contributions.append(Contribution(f"demo:{layer_id}", REVIEW, part.memo[key][0]))
        classes = self._stack(contributions, applies, window)
        not_evaluated = {layer: (reason, ids, [_polygonal(shapely.intersection(_union(areas), applies))])
                         for layer, (reason, ids, areas) in not_evaluated.items()}
        return _PartResult(classes, [c for c in contributions if c.severity > COMPLIANT], not_evaluated)

    def _measured_zone(self, rule: Rule, part: _Part) -> tuple[BaseGeometry, BaseGeometry]:
        """(core, band) of a buffer or polygon rule, as ``measured_outcome`` draws them round the target."""
        memo_key = ("zone", rule.zone, rule.zone.kind)
        if memo_key in part.memo:
            return part.memo[memo_key]
        key = rule_target(rule, self.layers)
        provenance = self.layers.layers[key.layer].provenance
        accuracy = provenance.accuracy_m
        if rule.zone.kind is ZoneKind.BUFFER:
            distance = rule.zone.distance_m
            core = part.near(key, distance - accuracy) if distance > accuracy else _EMPTY
            outer = [part.near(key, distance + accuracy + provenance.midline_to_bank_m)]
            for min_lon, min_lat, max_lon, max_lat, metres, _ in provenance.bank_reaches:
                if metres > provenance.midline_to_bank_m:
                    box = shapely.segmentize(shapely.box(min_lon, min_lat, max_lon, max_lat), _SEAM_STEP_DEG)
                    outer.append(_polygonal(shapely.intersection(part.near(key, distance + accuracy + metres), project(box, STORAGE_EPSG, part.epsg))))
            band = _difference_by_part(_union(outer), core)
        else:
            band = part.edge_band(key, accuracy)
            core = _difference_by_part(part.inside(key), band)
        part.memo[memo_key] = (core, band)
        return core, band

    @staticmethod
    def _measured(part: _Part, rule: Rule, hit: int, near: int, firm: BaseGeometry, edge: BaseGeometry,
                  core: BaseGeometry, band: BaseGeometry) -> list[Contribution]:
        """A measured rule's zone core and band within the rule's reach (memoised: rules share zones and reaches)."""
        key = ("measured", id(firm), id(edge), id(core), id(band))
        if key not in part.memo:
            part.memo[key] = (_clip(core, firm), _clip(band, firm), _clip(core, edge), _clip(band, edge), (firm, edge, core, band))
        inner, banded, edge_core, edge_band, _ = part.memo[key]
        return [Contribution(rule.id, hit, inner), Contribution(rule.id, min(hit, near), banded),
                Contribution(rule.id, min(hit, REVIEW), edge_core), Contribution(rule.id, min(hit, near), edge_band)]

    @staticmethod
    def _not_evaluated(found: dict, layer: str, reason: Note, rule: Rule, area: BaseGeometry) -> None:
        entry = found.setdefault(layer, (reason, [], []))
        entry[1].append(rule.id)
        entry[2].append(area)

    @staticmethod
    def _stack(contributions: list[Contribution], applies: BaseGeometry, window: BaseGeometry) -> dict[Verdict, BaseGeometry]:
        """Each class, strongest first: where its severity is reached within what no stronger class took."""
        classes: dict[Verdict, BaseGeometry] = {}
        rest = applies
        taken = _EMPTY  # every stronger contribution, merged: rest is applies less it
        whole = shapely.from_wkb(shapely.to_wkb(applies))
        shapely.prepare(whole)
        for verdict in (Verdict.PROHIBITED, Verdict.EXIT, Verdict.RESTRICTED, Verdict.REVIEW):
            pieces = [c.geometry for c in contributions if c.severity == verdict.severity]
            if rest.is_empty or not pieces:
                here = _EMPTY
            elif any(len(shapely.get_parts(g)) <= 16 and shapely.covered_by(whole, g) for g in pieces):
                here = rest  # one contribution reaches everywhere the plans do: no overlay needed
            else:
                # Cut from applies less the stronger contributions, not from the rest of the
                # stronger classes: their cores are holes to punch, not edges to node again.
                reached = _union(pieces)
                here = _minus(_clip(reached, applies), taken)
                taken = _union([taken, reached])
            classes[verdict] = here
            rest = _EMPTY if here is rest else _minus(applies, taken) if not here.is_empty else rest
        classes[Verdict.COMPLIANT] = rest
        classes[Verdict.NOT_APPLICABLE] = _polygonal(shapely.difference(window, applies))
        return classes


def matrix(classifier: RegionClassifier, industries: list[Industry], stages: list[Stage]) -> list[dict]:
    """Share of the region in each class, per industry and stage: what the plans allow where, on one page."""
    rows = []
    for industry in industries:
        for stage in stages:
            shares = classifier.classify(industry, stage).shares()
            rows.append({"industry": industry.query, "label": industry.label, "stage": stage.value,
                         **{CLASS_NAMES[v]: shares[v] for v in CLASSES}})
    return rows

