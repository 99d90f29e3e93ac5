"""The planner's tab: a region classified for one industry and stage, as the page's map, table and downloads.

One classification (``spatial.siting_classes``, the same one ``siting map --industry`` runs) gives
every output at once, in a check worker (``siting.web.workers``: its deadline and memory cap), so
the map, the table and the three downloads of one request are the same answer. The server keeps
the last few answers by (region, industry, stage, layers fingerprint): after the first of the five
requests the others cost nothing, and a layer import or rebuild makes them stale.
"""

from __future__ import annotations

import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Query

from layers import catalog
from siting.web.schemas import StageName
from spatial.errors import InputError
from spatial.layer import LayerSet
from spatial.rules import Stage

#: download format → (file suffix, media type)
DOWNLOADS = {
    "gpkg": (".gpkg", "application/geopackage+sqlite3"),
    "tif": (".tif", "image/tiff"),
    "csv": (".csv", "text/csv; charset=utf-8"),
}
RegionParam = Annotated[str, Query(min_length=1, max_length=50, description="市、县（区）名称或6位代码，如 运城市、绛县、晋城市城区、140826")]
IndustryParam = Annotated[str, Query(min_length=1, max_length=200, description="行业名称或国民经济行业代码，如 焦化、2521")]
StageParam = Annotated[StageName, Query(description="项目阶段：new|rebuild|expand|existing 或 新建|改建|扩建|现有")]
RASTER_RES_M = 50.0  # the page's GeoTIFF cell: the planning resolution
_KEPT = 4  # classified regions kept (a city's map, table and files are a few MB)


@dataclass(frozen=True)
class SitingMap:
    """Everything the planner's tab shows or offers for one region, industry and stage."""

    html: str
    table: dict[str, Any]
    files: dict[str, bytes]  # by DOWNLOADS key
    name: str  # file name stem: 运城市-焦化-新建


def _region(text: str, layers: LayerSet):
    from maps.region import resolve_region

    try:
        return resolve_region(text, layers)
    except InputError as error:
        raise InputError("region", text, error.fix_zh, error.fix_en) from None


def _industry(text: str):
    try:
        return catalog.taxonomy().resolve(text)
    except InputError as error:
        raise InputError("industry", text, error.fix_zh, error.fix_en) from None


def _table(result, region, county_rows: list[dict], largest: list[dict]) -> dict[str, Any]:
    """The numbers a report needs, as JSON: classes, per-county areas, largest open areas, not-evaluated layers."""
    total = result.region_km2
    return {
        "region": {"code": region.code, "name": region.name, "area_km2": total},
        "industry": result.industry.label, "stage": result.stage.value, "epsg": result.epsg,
        "classes": [{"class": c.name, "verdict": c.verdict.value, "code": c.code, "area_km2": c.area_km2,
                     "share": c.area_km2 / total if total else 0.0, "rules": c.rules, "plans": c.plans,
                     "demonstration": c.demonstration} for c in result.classes if not c.geometry.is_empty],
        "counties": county_rows,
        "largest_open_areas": largest,
        "not_evaluated": [{"layer": n.layer, "layer_name": n.layer_name, "reason": n.reason, "rules": n.rules,
                           "area_km2": float(n.geometry.area) / 1e6} for n in result.not_evaluated],
        "rules": {rule_id: {"plan": rule.plan.title, "section": rule.section, "quote": rule.quote}
                  for rule_id, rule in result.rules.items()},
    }


def classify(layers: LayerSet, region_text: str, industry_text: str, stage_text: str) -> SitingMap:
    """The region classified, with its offline map page, its table and its GeoPackage, GeoTIFF and CSV."""
    from maps.industry_map import industry_map
    from maps.offline import render_offline
    from siting.report import class_exports
    from spatial.siting_classes import RegionClassifier

    region = _region(region_text, layers)
    industry = _industry(industry_text)
    stage = Stage.parse(stage_text)
    result = RegionClassifier(region.code, region.geometry, list(catalog.rules()), layers).classify(industry, stage)
    admin = layers.admin.frame
    inside = admin.loc[admin["parent"] == region.code]
    subdivisions = (inside if len(inside) else admin.loc[admin["code"] == region.code]).reset_index(drop=True)
    county_rows = result.county_table(list(subdivisions["name"]), subdivisions.geometry.values)
    largest = result.largest()
    html = render_offline(industry_map(result, region, subdivisions, layers, county_rows, largest))
    files = {}
    with tempfile.TemporaryDirectory(prefix="siting-classes-") as work:
        for kind, (suffix, _) in DOWNLOADS.items():
            path = Path(work) / f"classes{suffix}"
            if kind == "gpkg":
                class_exports.write_gpkg(result, layers, path)
            elif kind == "tif":
                class_exports.write_tif(result, layers, path, RASTER_RES_M)
            else:
                class_exports.write_table(county_rows, path)
            files[kind] = path.read_bytes()
    return SitingMap(html, _table(result, region, county_rows, largest), files,
                     f"{region.name}-{industry.label}-{stage.value}")


def siting_map_job(service: Any, region: str, industry: str, stage: str) -> SitingMap:
    """GET /api/siting-map (and its table and downloads), in a check worker."""
    return classify(service.layers, region, industry, stage)


class SitingMapCache:
    """The last few classified regions, by request and layers fingerprint; the server process only."""

    def __init__(self, kept: int = _KEPT) -> None:
        self._kept = kept
        self._maps: OrderedDict[tuple, SitingMap] = OrderedDict()

    def get(self, key: tuple) -> SitingMap | None:
        found = self._maps.get(key)
        if found is not None:
            self._maps.move_to_end(key)
        return found

    def put(self, key: tuple, value: SitingMap) -> None:
        self._maps[key] = value
        self._maps.move_to_end(key)
        while len(self._maps) > self._kept:
            self._maps.popitem(last=False)
