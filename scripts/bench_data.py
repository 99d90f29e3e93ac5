"""Shared benchmark data: the full layer stack with a stand-in red line of realistic size.

The stand-in (示意数据, never shipped) is 10,000 irregular polygons of 60–140 vertices
spread over Shanxi with a fixed seed, about a fifth of the province in area, like the
published 生态保护红线 share. It replaces the eco_redline layer for the benchmarks, with
no coverage limit, so every red-line rule of every plan applies to every site.
"""

from __future__ import annotations

import numpy as np
import shapely

from layers import catalog
from layers.build import load_layers
from spatial.crs import gk3_zone_for_longitude
from spatial.layer import Layer, LayerSet, Provenance, project

SEED = 20261123
POLYGONS = 10_000
SHANXI_LON = (110.2, 114.6)
SHANXI_LAT = (34.6, 40.7)
INDUSTRIES = ("造纸", "焦化", "2521", "软件开发", "钢铁", "水泥", "电镀", "农副食品加工")


def standin_redline(province: shapely.Geometry, count: int = POLYGONS, seed: int = SEED) -> np.ndarray:
    """``count`` irregular polygons (WGS84) with centres inside the province."""
    rng = np.random.default_rng(seed)
    centres = []
    while len(centres) < count:
        lon = rng.uniform(*SHANXI_LON, 4 * count)
        lat = rng.uniform(*SHANXI_LAT, 4 * count)
        inside = shapely.contains_xy(province, lon, lat)
        centres += list(zip(lon[inside], lat[inside], strict=True))
    centres = np.array(centres[:count])
    radius = np.clip(rng.lognormal(np.log(900.0), 0.45, count), 250.0, 4000.0)
    vertices = rng.integers(60, 141, count)
    polygons = np.empty(count, dtype=object)
    for zone_cm in (111, 114):
        mine = np.flatnonzero(np.floor(centres[:, 0] / 3.0 + 0.5) * 3 == zone_cm)
        epsg = gk3_zone_for_longitude(zone_cm).epsg
        gk = shapely.get_coordinates(project(shapely.points(centres[mine]), 4326, epsg))
        rings = []
        for k, (x, y) in zip(mine, gk, strict=True):
            angle = np.sort(rng.uniform(0, 2 * np.pi, vertices[k]))
            wobble = 1.0 + 0.25 * np.sin(3 * angle + rng.uniform(0, 6.3)) + rng.normal(0, 0.05, vertices[k])
            rings.append(shapely.Polygon(np.column_stack([x + radius[k] * wobble * np.cos(angle), y + radius[k] * wobble * np.sin(angle)])))
        polygons[mine] = project(shapely.make_valid(np.array(rings, dtype=object)), epsg, 4326)
    return polygons


def full_stack() -> tuple[LayerSet, list]:
    """The default layers with the stand-in red line in place of eco_redline, and every rule."""
    import geopandas as gpd

    base = load_layers()
    province = base.admin_area("140000")
    frame = gpd.GeoDataFrame({"name": [f"替身红线{i + 1}" for i in range(POLYGONS)]}, geometry=standin_redline(province), crs=4326)
    provenance = Provenance(source="基准测试替身数据（随机生成，示意数据）", version=f"seed {SEED}", sha256="", crs="EPSG:4326",
                            accuracy_m=30.0, authoritative=False, demonstration=True)
    layers = dict(base.layers)
    layers["eco_redline"] = Layer("eco_redline", "生态保护红线（基准测试替身）", frame, provenance)
    return LayerSet(layers, base.missing), list(catalog.rules())


def random_sites(count: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform random sites over Shanxi's bounding box and a group (industry × stage) each."""
    rng = np.random.default_rng(seed + 1)
    return rng.uniform(*SHANXI_LON, count), rng.uniform(*SHANXI_LAT, count), rng.integers(0, len(INDUSTRIES) * 2, count)


def combos() -> list:
    from spatial.rules import Stage

    taxonomy = catalog.taxonomy()
    return [(taxonomy.resolve(text), stage) for text in INDUSTRIES for stage in (Stage.NEW, Stage.EXISTING)]
