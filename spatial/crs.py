"""Coordinate reference systems used for measurement.

Every distance is measured in metres in the CGCS2000 3-degree Gauss–Krüger zone
whose central meridian is nearest the site (EPSG:4534–4554, no zone prefix in the
easting). Layers are stored in WGS84 longitude/latitude; CGCS2000 and WGS84 agree
to a few centimetres, far below any layer's positional accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from pyproj import CRS, Transformer
from pyproj.crs import GeographicCRS

STORAGE_EPSG = 4326  # WGS84 longitude/latitude: how layers are stored
WGS84 = CRS.from_epsg(STORAGE_EPSG)
STORAGE_CRS = WGS84
CGCS2000 = CRS.from_epsg(4490)
# The two obfuscated web-map systems have no EPSG code: named CRS objects on the WGS84 ellipsoid,
# recognised by spatial.coordinates.geographic_to_wgs84, which applies spatial.gcj02 / spatial.bd09.
GCJ02 = GeographicCRS(name="GCJ-02")
BD09 = GeographicCRS(name="BD-09")
SHANXI_BOUNDS = (110.2, 34.5, 114.6, 40.8)  # the province's lon/lat extent: west, south, east, north
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)  # lon/lat: where a site of this product can lie

_FIRST_CM = 75  # EPSG:4534 is CGCS2000 / 3-degree GK CM 75E
_LAST_CM = 135  # EPSG:4554 is CM 135E
_FIRST_CM_EPSG = 4534
# Longitudes a CGCS2000 3-degree zone covers: a site outside cannot be measured (and is not in China).
GK_LON_RANGE = (_FIRST_CM - 1.5, _LAST_CM + 1.5)


@dataclass(frozen=True)
class GaussKrugerZone:
    """A CGCS2000 3-degree Gauss–Krüger zone (no zone prefix in the easting)."""

    zone: int
    central_meridian: int
    epsg: int


def gk3_zone_for_longitude(lon: float) -> GaussKrugerZone:
    """The 3-degree zone whose central meridian is nearest ``lon``."""
    zone = math.floor(lon / 3.0 + 0.5)
    cm = 3 * zone
    if not _FIRST_CM <= cm <= _LAST_CM:
        raise ValueError(f"longitude {lon} lies outside the CGCS2000 3-degree zones of China")
    return GaussKrugerZone(zone=zone, central_meridian=cm, epsg=_FIRST_CM_EPSG + (cm - _FIRST_CM) // 3)


@lru_cache(maxsize=32)
def transformer(source: int | str, target: int | str) -> Transformer:
    """Cached always-xy transformer between two CRS given as EPSG codes or strings.

    Between WGS84 and a CGCS2000-based CRS, PROJ's only operation is a "ballpark" (identity)
    datum shift that takes it 140 ms to find, once per GK zone; the WGS84 side is therefore
    read as CGCS2000 directly, which gives the same coordinates.
    """
    source_crs, target_crs = CRS.from_user_input(source), CRS.from_user_input(target)
    if source_crs == STORAGE_CRS and _on_cgcs2000(target_crs):
        source_crs = CGCS2000
    elif target_crs == STORAGE_CRS and _on_cgcs2000(source_crs):
        target_crs = CGCS2000
    return Transformer.from_crs(source_crs, target_crs, always_xy=True)


def _on_cgcs2000(crs: CRS) -> bool:
    return crs.datum is not None and crs.datum.name == CGCS2000.datum.name
