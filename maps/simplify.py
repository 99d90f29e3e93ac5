"""Display geometry per zoom level, simplified without opening gaps between neighbours.

A county's zone layers (red line, 三线一单 units, buffers, admin edges) share edges;
simplifying each polygon on its own would make neighbours drift apart, leaving slivers
and overlaps on the map. Instead every polygon of the map is cut into the faces of one
planar arrangement (all boundaries noded together), the faces — a valid polygonal
coverage — are simplified together with GEOS's coverage simplifier, and each polygon is
reassembled from its faces. A shared edge is thus one simplified edge for both sides.

This is for drawing only: checks always use the full-resolution layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

_EARTH_CIRCUMFERENCE_M = 40_075_016.686
_TILE_PX = 256


def metres_per_pixel(zoom: float, latitude: float) -> float:
    """Web Mercator ground resolution at a zoom level and latitude."""
    return _EARTH_CIRCUMFERENCE_M * math.cos(math.radians(latitude)) / (_TILE_PX * 2**zoom)


@dataclass(frozen=True)
class Level:
    """One level of detail: drawn up to ``max_zoom`` with ``tolerance_m`` of simplification."""

    max_zoom: int
    tolerance_m: float


def levels_for(latitude: float, bands: tuple[int, ...] = (8, 10, 12, 18), pixels: float = 0.75) -> list[Level]:
    """Levels whose simplification stays under ``pixels`` screen pixels at their deepest zoom.

    The last band has no deeper level, so its tolerance is that of the band before plus
    two zoom levels (about 10 m in Shanxi): fine enough for planning at street scale
    while keeping a city map small.
    """
    deepest = [min(zoom, bands[-2] + 2) for zoom in bands]
    return [Level(zoom, pixels * metres_per_pixel(depth, latitude)) for zoom, depth in zip(bands, deepest, strict=True)]


@dataclass
class Arrangement:
    """Polygons cut into the faces of their common planar arrangement."""

    faces: np.ndarray  # Polygon faces, a valid coverage
    face_index: np.ndarray  # for each (face, polygon) membership: the face
    polygon_index: np.ndarray  # … and the polygon it belongs to
    count: int  # number of input polygons


def arrange(polygons: np.ndarray) -> Arrangement:
    """Node every boundary together and find which faces make up each polygon."""
    polygons = np.asarray(polygons, dtype=object)
    valid = shapely.make_valid(polygons)
    edges = shapely.union_all(shapely.boundary(shapely.get_parts(valid)))
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(edges)))
    inside = shapely.point_on_surface(faces)
    polygon_index, face_index = shapely.STRtree(inside).query(valid, predicate="contains")
    return Arrangement(faces=faces, face_index=face_index, polygon_index=polygon_index, count=len(polygons))


def simplify_arrangement(arrangement: Arrangement, tolerance_m: float) -> np.ndarray:
    """Every input polygon simplified at ``tolerance_m``; neighbours keep identical shared edges."""
    if len(arrangement.faces) == 0:
        return np.array([shapely.Polygon()] * arrangement.count, dtype=object)
    if tolerance_m > 0:
        simplified = shapely.coverage_simplify(arrangement.faces, tolerance_m)  # one coverage, same order
    else:
        simplified = arrangement.faces
    pieces = gpd.GeoDataFrame({"polygon": arrangement.polygon_index},
                              geometry=simplified[arrangement.face_index])
    pieces = pieces.loc[~pieces.geometry.is_empty]
    merged = pieces.dissolve(by="polygon", method="coverage").geometry
    result = np.array([shapely.Polygon()] * arrangement.count, dtype=object)
    result[merged.index.to_numpy()] = merged.to_numpy()
    return result


def simplify_lines(lines: np.ndarray, tolerance_m: float) -> np.ndarray:
    return shapely.simplify(np.asarray(lines, dtype=object), tolerance_m, preserve_topology=True)
