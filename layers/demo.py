"""Demonstration layers (示意数据): 三线一单 units, a red line and planning areas.

They are generated from the admin boundaries and the schematic seat positions in
``layers/catalog/data/demo.yaml`` so the product runs before an agency hands over its layers.
Each county is cut by distance from its seat: a town disk and a park disk (key units,
the town disk also being the planning area), the far part of the county (priority
unit, sized by bisection on the cut radius) and the rest (general unit). A unit's access
list quotes only its own city's plans, or says that they give no text.
"""

from __future__ import annotations

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from spatial.crs import STORAGE_CRS, STORAGE_EPSG, gk3_zone_for_longitude
from spatial.layer import project
from spatial.units import UnitClass, unit_code

_DISK_SEGMENTS = 64
_AREA_TOLERANCE_M2 = 100.0


def far_part(county: BaseGeometry, seat: shapely.Point, area_m2: float) -> BaseGeometry:
    """The part of ``county`` beyond a disk round ``seat``, sized to ``area_m2`` by bisection."""
    if not 0 < area_m2 < county.area:
        raise ValueError(f"a far part of {area_m2:.0f} m² does not fit a county of {county.area:.0f} m²")
    inner, outer = 0.0, float(shapely.hausdorff_distance(seat, county)) + 1.0
    while True:
        radius = (inner + outer) / 2
        part = shapely.difference(county, shapely.buffer(seat, radius, quad_segs=_DISK_SEGMENTS))
        if abs(part.area - area_m2) <= _AREA_TOLERANCE_M2 or outer - inner < 1e-3:
            return part
        if part.area > area_m2:
            inner = radius
        else:
            outer = radius


def _county_units(code: str, name: str, county: BaseGeometry, seat: dict, params: dict,
                  priority_area_m2: float | None) -> tuple[list[dict], BaseGeometry, BaseGeometry]:
    """Units of one county (GK metres) plus its town disk (planning area) and priority part."""
    centre = shapely.Point(seat["x"], seat["y"])
    town_radius = params["city_radius_m"] if seat.get("city") else params["town_radius_m"]
    town = shapely.intersection(county, shapely.buffer(centre, town_radius, quad_segs=_DISK_SEGMENTS))
    dx, dy = params["park_offset_m"]
    park_disk = shapely.buffer(shapely.Point(seat["x"] + dx, seat["y"] + dy), params["park_radius_m"], quad_segs=_DISK_SEGMENTS)
    park = shapely.difference(shapely.intersection(county, park_disk), town)
    priority = far_part(county, centre, priority_area_m2 or params["priority_share"] * county.area)
    priority = shapely.difference(priority, shapely.union(town, park))
    general = shapely.difference(county, shapely.union_all([priority, town, park]))
    units = [
        (UnitClass.PRIORITY, 1, f"{name}优先保护单元", priority),
        (UnitClass.KEY, 1, f"{name}城镇重点管控单元", town),
        (UnitClass.KEY, 2, f"{name}产业园区重点管控单元", park),
        (UnitClass.GENERAL, 1, f"{name}一般管控单元", general),
    ]
    rows = [{"code": unit_code(code, unit_class, serial), "name": unit_name, "class": unit_class.value,
             "county": code, "county_name": name, "geometry": geometry}
            for unit_class, serial, unit_name, geometry in units if not geometry.is_empty]
    return rows, town, priority


def build_demo(admin: gpd.GeoDataFrame, params: dict) -> dict[str, gpd.GeoDataFrame]:
    """Every demonstration layer, keyed by the layer id it stands in for."""
    red_line = params["red_line"]
    unit_rows: list[dict] = []
    planning: list[dict] = []
    red_lines: list[dict] = []
    names = dict(zip(admin["code"], admin["name"], strict=True))
    for code, seat in params["seats"].items():
        record = admin.loc[admin["code"] == code].iloc[0]
        city = names.get(record["parent"], "")
        epsg = gk3_zone_for_longitude(seat["lon"]).epsg
        county = project(record.geometry, STORAGE_EPSG, epsg)
        centre = project(shapely.Point(seat["lon"], seat["lat"]), STORAGE_EPSG, epsg)
        if not county.contains(centre):
            raise ValueError(f"demo.yaml: the seat of {record['name']} ({code}) lies outside its boundary")
        target = red_line["area_km2"] * 1e6 if code == red_line["county"] else None
        rows, town, priority = _county_units(code, record["name"], county, {**seat, "x": centre.x, "y": centre.y},
                                             params, target)
        for row in rows:
            row["geometry"] = _to_wgs84(row["geometry"], epsg)
            row.update(_access_list(params, city, row["class"]))
        unit_rows += rows
        seat_name = seat.get("city") or record["name"]
        planning.append({"name": f"{seat_name}规划区（示意）", "county": code, "city": bool(seat.get("city")),
                         "geometry": _to_wgs84(town, epsg)})
        if target is not None:
            red_lines.append({"name": f"{record['name']}生态保护红线（示意）", "county": code,
                              "area_km2": round(priority.area / 1e6, 2),
                              "county_share": round(priority.area / county.area, 4),
                              "geometry": _to_wgs84(priority, epsg)})
    units = gpd.GeoDataFrame(unit_rows, geometry="geometry", crs=STORAGE_CRS)
    areas = gpd.GeoDataFrame(planning, geometry="geometry", crs=STORAGE_CRS)
    cities = areas.loc[areas["city"]].reset_index(drop=True)
    by_city = {seat.get("city"): code for code, seat in params["seats"].items() if seat.get("city")}
    return {
        "units_priority": _unit_class(units, UnitClass.PRIORITY),
        "units_key": _unit_class(units, UnitClass.KEY),
        "units_general": _unit_class(units, UnitClass.GENERAL),
        "eco_redline": gpd.GeoDataFrame(red_lines, geometry="geometry", crs=STORAGE_CRS),
        "planning_areas": areas.drop(columns="city"),
        "city_planning_areas": cities.drop(columns="city"),
        "yuncheng_city_planning_area": _seat_area(areas, by_city["运城市"]),
        "central_urban_area": _seat_area(areas, by_city["运城市"]),
        "jincheng_shiqu": _seat_area(areas, by_city["晋城市"]),
    }


def _to_wgs84(geometry: BaseGeometry, epsg: int) -> BaseGeometry:
    """Back to WGS84; reprojection can fold a sliver left by the cuts, so repair it."""
    return shapely.make_valid(project(geometry, epsg, STORAGE_EPSG), method="structure", keep_collapsed=False)


def _unit_class(units: gpd.GeoDataFrame, unit_class: UnitClass) -> gpd.GeoDataFrame:
    return units.loc[units["class"] == unit_class.value].reset_index(drop=True)


def _seat_area(areas: gpd.GeoDataFrame, code: str) -> gpd.GeoDataFrame:
    return areas.loc[areas["county"] == code].drop(columns="city").reset_index(drop=True)


def _access_list(params: dict, city: str, unit_class: str) -> dict[str, str]:
    """The city's own sample text per dimension, or the statement that its plans give none."""
    texts = params["access_lists"].get(city, {}).get(unit_class, {})
    absent = params["no_access_text"].format(city=city or "所在市")
    return {dimension: " ".join(str(texts.get(dimension, absent)).split()) for dimension in
            ("spatial_layout", "pollutant_discharge", "risk_control", "resource_efficiency")}

