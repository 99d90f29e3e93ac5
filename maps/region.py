"""What a region zone map shows: every zone of the plans covering a region, clipped to it.

A planner asks for 运城市, 绛县 or 晋城市城区 and gets the zones the plans draw there:
polygon layers (red line, 三线一单 units, planning areas, water-source zones …) and the
buffer zones the rules derive from river or area baselines (黄河 1 km, 汾河运城段 2 km …),
each clipped to the region, with its area measured in the region's Gauss–Krüger zone.
Zones whose layer is not loaded yet are listed, not silently left out. Layers that draw the
same area (a demonstration disk standing in for three differently worded areas) are one
zone, named by all of them and cited with every plan that names any. Geometry here is
full resolution; maps/simplify.py thins it for display only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from maps.style import zone_style
from spatial.crs import STORAGE_CRS, STORAGE_EPSG, gk3_zone_for_longitude
from spatial.engine import TargetKey, drawn_zone, prepared
from spatial.errors import InputError
from spatial.layer import LayerSet, Provenance, project
from spatial.rules import Plan, Rule, ZoneKind
from spatial.semantics import MEASURED_KINDS, rule_target

_SLIVER_WIDTH_DEG = 0.002  # about 200 m, the admin layer's accuracy
_SLIVER_SHARE = 0.05
_SAME_AREA_SHARE = 0.001  # two layers differing by less than this share of their area draw the same zone
_WINDOW_PAD_M = 100.0  # a buffer zone's baseline is taken this far beyond its distance round the region


@dataclass(frozen=True)
class Region:
    code: str
    name: str  # as a planner writes it: 运城市, 绛县, 晋城市城区
    level: str
    geometry: BaseGeometry  # WGS84
    gk_epsg: int

    @property
    def geometry_gk(self) -> BaseGeometry:
        return project(self.geometry, STORAGE_EPSG, self.gk_epsg)


@dataclass
class Zone:
    """One zone kind on the map: a polygon layer, or a buffer zone derived from a baseline."""

    id: str  # layer id, or "buffer:<layer>:<section>:<distance>:<clip>"
    name: str
    style_id: str  # key for maps.style.zone_style
    frame: gpd.GeoDataFrame  # WGS84, clipped to the region, full resolution; attribute columns kept
    area_km2: float  # of the union, in the region's GK zone
    rules: list[str]
    plans: list[str]
    provenance: Provenance
    source_name: str  # the layer the zone is drawn from
    coverage_note: str = ""  # where a layer covers only part of the region
    also: list[tuple[str, str]] = field(default_factory=list)  # (layer id, name) of layers drawing the same area

    @property
    def label(self) -> str:
        """The zone's name, with the names of the layers drawing the same area."""
        return "／".join([self.name, *(name for _, name in self.also)])

    @property
    def demonstration(self) -> bool:
        return self.provenance.demonstration


@dataclass
class RegionZones:
    region: Region
    plans: list[Plan]
    zones: list[Zone]
    subdivisions: gpd.GeoDataFrame  # counties inside a city (or the region itself), WGS84
    rivers: dict[str, gpd.GeoDataFrame]  # baselines drawn for context, clipped to the region
    missing: list[dict] = field(default_factory=list)  # zones the plans name whose layer is not loaded
    region_area_km2: float = 0.0

    @property
    def demonstration(self) -> bool:
        return any(zone.demonstration for zone in self.zones)

    def sources(self, layers: LayerSet) -> list[Provenance]:
        """Provenance of every layer shown, admin first, without repeats."""
        seen = {LayerSet.ADMIN: layers.admin.provenance}
        for layer_id in self.rivers:
            seen.setdefault(layer_id, layers.layers[layer_id].provenance)
        for zone in self.zones:
            seen.setdefault(zone.source_name, zone.provenance)
            for layer_id, _ in zone.also:
                seen.setdefault(layer_id, layers.layers[layer_id].provenance)
        return list(seen.values())


def resolve_region(text: str, layers: LayerSet) -> Region:
    """An admin area from a name (运城市, 绛县), city + district (晋城市城区) or a 6-digit code."""
    frame = layers.admin.frame
    names = dict(zip(frame["code"], frame["name"], strict=True))
    key = text.strip()
    full = frame["parent"].map(names).fillna("") + frame["name"]
    hits = frame.loc[(frame["code"] == key) | (frame["name"] == key) | (full == key)]
    if len(hits) != 1:
        candidates = hits if len(hits) > 1 else frame.loc[
            frame["name"].str.contains(key, regex=False) | full.str.contains(key, regex=False)] if key else frame.iloc[0:0]
        listed = "、".join(f"{full[i]}（{frame.at[i, 'code']}）" for i in candidates.index[:8])
        if len(hits) > 1:
            reason_zh = f"有多个同名行政区：{listed}，请写明所属市（如 晋城市城区）或代码。"
        elif listed:
            reason_zh = f"山西省行政区划中没有该名称或代码。相近的有：{listed}。"
        else:
            reason_zh = "山西省行政区划中没有该名称或代码；请写市、县（区）名称或6位代码，如 运城市、绛县、140826。"
        raise InputError("--region", text, reason_zh,
                         "name a Shanxi city or county (运城市, 绛县, 晋城市城区) or its 6-digit admin code.")
    row = hits.iloc[0]
    display = full[hits.index[0]] if row["level"] == "county" and (frame["name"] == row["name"]).sum() > 1 else row["name"]
    return Region(code=row["code"], name=display, level=row["level"], geometry=row.geometry,
                  gk_epsg=gk3_zone_for_longitude(row.geometry.centroid.x).epsg)


def _lineage(code: str, layers: LayerSet) -> list[str]:
    """The code and its ancestors, nearest first."""
    parents = dict(zip(layers.admin.frame["code"], layers.admin.frame["parent"], strict=True))
    chain = [code]
    while isinstance(parents.get(chain[-1]), str):
        chain.append(parents[chain[-1]])
    return chain


def covering_plans(region: Region, rules: list[Rule], layers: LayerSet) -> list[Plan]:
    """Plans whose jurisdiction contains the region or lies inside it."""
    plans = {rule.plan.id: rule.plan for rule in rules}.values()
    return [p for p in plans if p.jurisdiction in _lineage(region.code, layers)
            or region.code in _lineage(p.jurisdiction, layers)]


def _area_km2(geometries: np.ndarray, epsg: int) -> float:
    union = shapely.union_all(np.asarray(geometries, dtype=object))
    return float(project(union, STORAGE_EPSG, epsg).area) / 1e6 if not union.is_empty else 0.0


def _clip(frame: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
    """The part of a layer inside ``area`` (invalid rings repaired on this drawing copy only)."""
    frame = frame.set_geometry(shapely.make_valid(frame.geometry.values))
    clipped = frame.clip(area)
    clipped = clipped.loc[~clipped.geometry.is_empty & (shapely.get_dimensions(clipped.geometry.values) == 2)]
    # A neighbour's feature clipped to a boundary band (admin and zone edges disagree by up
    # to their accuracy) leaves slivers: thin and a sliver of the original feature.
    share = shapely.area(clipped.geometry.values) / shapely.area(frame.geometry.loc[clipped.index].values)  # a ratio
    thin = shapely.is_empty(shapely.buffer(clipped.geometry.values, -_SLIVER_WIDTH_DEG))
    return clipped.loc[~(thin & (share < _SLIVER_SHARE))].reset_index(drop=True)


def _coverage_note(provenance: Provenance, region: Region, layers: LayerSet) -> str:
    """Say so when a layer covers only part of the region (e.g. a red line for one county)."""
    if not provenance.coverage:
        return ""
    covered = shapely.union_all([layers.admin_area(code) for code in provenance.coverage])
    inside = project(shapely.intersection(covered, region.geometry), STORAGE_EPSG, region.gk_epsg)
    if inside.area >= 0.99 * region.geometry_gk.area:
        return ""
    frame = layers.admin.frame
    names = frame.loc[frame["code"].isin(provenance.coverage) & frame.intersects(region.geometry.buffer(-1e-4)), "name"]
    return f"仅覆盖{'、'.join(names)}" if len(names) else "覆盖范围外"


def _buffer_zone(rules: list[Rule], clip: str, region: Region, layers: LayerSet) -> Zone | None:
    """A buffer zone the rules draw round a baseline: the engine's target and jurisdiction in the region's
    GK zone, drawn as a check map draws it (``spatial.engine.drawn_zone``), clipped to the region."""
    rule = rules[0]
    zone, plan = rule.zone, rule.plan
    layer = layers.layers[zone.layer]
    index = prepared(layers).zone(region.gk_epsg)
    key = rule_target(rule, layers)
    index.ensure([key, TargetKey.jurisdiction(plan.jurisdiction)])
    baseline = index.targets[key].geometry
    if baseline.is_empty:
        return None
    region_gk = region.geometry_gk
    minx, miny, maxx, maxy = region_gk.bounds
    reach = zone.distance_m + _WINDOW_PAD_M  # every part of the baseline that can reach into the region
    window = shapely.box(minx - reach, miny - reach, maxx + reach, maxy + reach)
    jurisdiction = index.targets[TargetKey.jurisdiction(plan.jurisdiction)].geometry
    area = shapely.intersection(drawn_zone(baseline, window, zone.distance_m, jurisdiction), region_gk)
    if shapely.get_dimensions(area) != 2 or area.area == 0:
        return None
    geometry = project(area, region.gk_epsg, STORAGE_EPSG)
    name = f"{layer.name}周边{zone.distance_m:g}米" if zone.sides == "around area" else zone.describe(layer.name)
    return Zone(
        id=f"buffer:{layer.id}:{zone.section or ''}:{zone.distance_m:g}:{clip}", name=name,
        style_id=f"buffer:{layer.id}:{zone.distance_m:g}",
        frame=gpd.GeoDataFrame({"name": [name], "baseline": [layer.name], "distance_m": [zone.distance_m]},
                               geometry=[geometry], crs=STORAGE_CRS),
        area_km2=area.area / 1e6, rules=sorted({r.id for r in rules}), plans=sorted({r.plan.title for r in rules}),
        provenance=layer.provenance, source_name=layer.id,
    )


def region_zones(text: str, layers: LayerSet, rules: list[Rule], only: list[str] | None = None) -> RegionZones:
    """Every zone the plans covering a region draw in it (``only``: these layer ids)."""
    region = resolve_region(text, layers)
    plans = covering_plans(region, rules, layers)
    plan_ids = {p.id for p in plans}
    relevant = [r for r in rules if r.plan.id in plan_ids and r.zone.layer
                and r.zone.kind in MEASURED_KINDS]
    known = {r.zone.layer for r in relevant} | set(layers.layers) - {LayerSet.ADMIN}
    unknown = sorted(set(only or ()) - known)
    if unknown:
        raise InputError("--layers", ",".join(unknown), f"没有这些图层。可选：{'、'.join(sorted(known))}。",
                         f"unknown layer ids; choose from {', '.join(sorted(known))}.")
    if only:
        relevant = [r for r in relevant if r.zone.layer in only]

    ancestors = set(_lineage(region.code, layers))
    zones: list[Zone] = []
    missing: dict[str, dict] = {}
    buffers: dict[tuple, list[Rule]] = {}
    within: dict[str, list[Rule]] = {}
    for rule in relevant:
        layer_id = rule.zone.layer
        if layer_id in layers.missing:
            entry = missing.setdefault(layer_id, {"id": layer_id, "name": layers.missing[layer_id].name,
                                                  "reason": layers.missing[layer_id].reason, "rules": []})
            entry["rules"].append(rule.id)
        elif rule.zone.kind is ZoneKind.BUFFER:
            # A plan over the whole region clips its buffer to the region; a county plan inside it, to the county.
            clip = "" if rule.plan.jurisdiction in ancestors else rule.plan.jurisdiction
            buffers.setdefault((layer_id, rule.zone.section, rule.zone.distance_m, clip), []).append(rule)
        else:
            within.setdefault(layer_id, []).append(rule)

    polygon_layers = [i for i, layer in layers.layers.items() if i != LayerSet.ADMIN and _is_polygonal(layer.frame)]
    for layer_id in polygon_layers:
        if only is None or layer_id in only:
            within.setdefault(layer_id, [])
    for layer_id, layer_rules in within.items():
        layer = layers.layers[layer_id]
        frame = _clip(layer.frame, region.geometry)
        if frame.empty:
            continue
        zones.append(Zone(
            id=layer_id, name=layer.name, style_id=layer_id, frame=frame,
            area_km2=_area_km2(frame.geometry.values, region.gk_epsg),
            rules=sorted({r.id for r in layer_rules}), plans=sorted({r.plan.title for r in layer_rules}),
            provenance=layer.provenance, source_name=layer_id,
            coverage_note=_coverage_note(layer.provenance, region, layers),
        ))
    zones += [z for z in (_buffer_zone(group, clip, region, layers) for (*_, clip), group in buffers.items())
              if z is not None]
    zones = _merge_identical(zones, region.gk_epsg)

    admin = layers.admin.frame
    inside = admin.loc[admin["parent"] == region.code]
    subdivisions = inside if len(inside) else admin.loc[admin["code"] == region.code]
    rivers = {layer_id: _clip_lines(layers.layers[layer_id].frame, region.geometry)
              for layer_id in sorted({key[0] for key in buffers}) if not _is_polygonal(layers.layers[layer_id].frame)}
    return RegionZones(
        region=region, plans=plans, zones=sorted(zones, key=lambda z: (zone_style(z.style_id).order, z.id)), subdivisions=subdivisions.reset_index(drop=True),
        rivers={k: v for k, v in rivers.items() if not v.empty}, missing=sorted(missing.values(), key=lambda m: m["id"]),
        region_area_km2=float(region.geometry_gk.area) / 1e6,
    )


def _merge_identical(zones: list[Zone], epsg: int) -> list[Zone]:
    """One zone for layers that draw the same area: drawn and listed once, with every rule and plan."""
    kept: list[tuple[Zone, BaseGeometry]] = []
    for zone in zones:
        shape = project(shapely.union_all(zone.frame.geometry.values), STORAGE_EPSG, epsg)
        twin = next((k for k, other in kept if abs(k.area_km2 - zone.area_km2) <= _SAME_AREA_SHARE * max(k.area_km2, 1e-9)
                     and shapely.symmetric_difference(other, shape).area <= _SAME_AREA_SHARE * shape.area), None)
        if twin is None:
            kept.append((zone, shape))
            continue
        twin.also.append((zone.source_name, zone.name))
        twin.rules = sorted({*twin.rules, *zone.rules})
        twin.plans = sorted({*twin.plans, *zone.plans})
    return [zone for zone, _ in kept]


def _is_polygonal(frame: gpd.GeoDataFrame) -> bool:
    return bool(len(frame)) and bool((shapely.get_dimensions(frame.geometry.values) == 2).all())


def _clip_lines(frame: gpd.GeoDataFrame, area: BaseGeometry) -> gpd.GeoDataFrame:
    """Line parts inside ``area``; a river along the region's edge would also leave stray touch points."""
    clipped = frame.clip(area).explode(index_parts=False)
    return clipped.loc[shapely.get_dimensions(clipped.geometry.values) == 1].reset_index(drop=True)
