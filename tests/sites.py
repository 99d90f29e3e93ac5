"""Derive test sites from the built layers, so tests never restate an answer.

A site is placed at a chosen distance from a baseline, inside a chosen admin area,
by offsetting a point of the baseline along its normal in the local GK zone; the
distance is then re-measured geodesically (pyproj.Geod), independently of the engine.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Geod

from spatial.crs import gk3_zone_for_longitude
from spatial.layer import LayerSet, project

GEOD = Geod(ellps="GRS80")


def geodesic_distance_to_line(point: shapely.Point, line: shapely.Geometry, window_deg: float = 0.1) -> float:
    """Geodesic metres from a WGS84 point to a WGS84 line, by brute force over a densified line.

    The line near the point is densified to about 5 m vertex spacing and the minimum
    of the ellipsoidal distances to every vertex is taken: no projection involved.
    """
    near = shapely.intersection(line, shapely.box(point.x - window_deg, point.y - window_deg,
                                                  point.x + window_deg, point.y + window_deg))
    vertices = shapely.get_coordinates(shapely.segmentize(near, 0.00005))
    if len(vertices) == 0:
        raise LookupError("the line does not pass within the search window of the point")
    count = len(vertices)
    _, _, distances = GEOD.inv(np.full(count, point.x), np.full(count, point.y), vertices[:, 0], vertices[:, 1])
    return float(np.min(distances))


def site_near(layers: LayerSet, baseline_id: str, admin_code: str, distance_m: float) -> shapely.Point:
    """A WGS84 point inside ``admin_code`` at ``distance_m`` from the baseline layer (outside it, if a polygon)."""
    baseline = shapely.union_all(layers.layers[baseline_id].frame.geometry.values)
    area = layers.admin_area(admin_code)
    epsg = gk3_zone_for_longitude(area.centroid.x).epsg
    line_m = project(baseline, 4326, epsg)  # a polygon baseline: distances are measured from its outside
    area_m = project(area, 4326, epsg)
    edge_m = line_m.boundary if shapely.get_dimensions(line_m) == 2 else line_m
    local = shapely.intersection(edge_m, shapely.buffer(area_m, 1.0))
    parts = sorted(shapely.get_parts(shapely.line_merge(local)), key=lambda g: -g.length)
    for part in parts:
        for fraction in np.linspace(0.1, 0.9, 17):
            at = part.interpolate(fraction, normalized=True)
            ahead = part.interpolate(min(fraction + 0.01, 1.0), normalized=True)
            tangent = np.array([ahead.x - at.x, ahead.y - at.y])
            normal = np.array([-tangent[1], tangent[0]]) / np.linalg.norm(tangent)
            for side in (1, -1):
                candidate = shapely.Point(at.x + side * distance_m * normal[0], at.y + side * distance_m * normal[1])
                if area_m.contains(candidate) and abs(line_m.distance(candidate) - distance_m) < 1.0:
                    return project(candidate, epsg, 4326)
    raise LookupError(f"no point {distance_m} m from {baseline_id} inside {admin_code}")


def site_in_zone(layers: LayerSet, layer_id: str, admin_code: str) -> shapely.Point:
    """A WGS84 point inside a polygon layer, inside ``admin_code`` and the layer's coverage."""
    return shapely.point_on_surface(_covered(layers, layer_id, admin_code, layers.layers[layer_id].frame.geometry.values))


def site_clear_of_zone(layers: LayerSet, layer_id: str, admin_code: str, clearance_deg: float = 0.02) -> shapely.Point:
    """A WGS84 point inside ``admin_code`` and the layer's coverage, but well outside the layer's zones."""
    zones = shapely.buffer(shapely.union_all(layers.layers[layer_id].frame.geometry.values), clearance_deg)
    area = _covered(layers, layer_id, admin_code, [layers.admin_area(admin_code)])
    return shapely.point_on_surface(shapely.difference(area, zones))


def _covered(layers: LayerSet, layer_id: str, admin_code: str, geometries) -> shapely.Geometry:
    area = layers.admin_area(admin_code)
    coverage = layers.layers[layer_id].provenance.coverage
    if coverage:
        area = shapely.intersection(area, shapely.union_all([layers.admin_area(c) for c in coverage]))
    part = shapely.intersection(shapely.union_all(geometries), area)
    if part.is_empty:
        raise LookupError(f"{layer_id} has no zone inside {admin_code} and its coverage")
    return part


def site_near_or_in(layers: LayerSet, baseline_id: str, admin_code: str, distance_m: float) -> shapely.Point:
    """As site_near; for a polygon baseline too wide to leave room outside it, a point inside it."""
    try:
        return site_near(layers, baseline_id, admin_code, distance_m)
    except LookupError:
        if shapely.get_dimensions(layers.layers[baseline_id].frame.geometry.iloc[0]) != 2:
            raise
        return site_in_zone(layers, baseline_id, admin_code)


def farthest_from(layers: LayerSet, baseline_id: str, admin_code: str) -> float:
    """Metres from the baseline layer to the farthest boundary vertex of an admin area."""
    area = layers.admin_area(admin_code)
    epsg = gk3_zone_for_longitude(area.centroid.x).epsg
    baseline = project(shapely.union_all(layers.layers[baseline_id].frame.geometry.values), 4326, epsg)
    vertices = shapely.points(shapely.get_coordinates(project(area, 4326, epsg)))
    return float(shapely.distance(vertices, baseline).max())
