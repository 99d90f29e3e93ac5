"""GCJ-02 (the Chinese "Mars" datum used by AMap/Tencent) to and from WGS84.

AMap boundary data is published in GCJ-02, shifted 300–700 m from WGS84 in Shanxi.
The forward transform is the public obfuscation formula; the inverse has no closed
form, so it is solved by fixed-point iteration until the residual is below 1e-9°
(about 0.1 mm), far inside the 1 cm the product promises.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the formula
_EE = 0.00669342162296594323  # Krasovsky 1940 first eccentricity squared
_INVERSE_TOLERANCE_DEG = 1e-9
_INVERSE_MAX_ITERATIONS = 30


def _offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    x = lon - 105.0
    y = lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x
        + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Shift WGS84 longitude/latitude (degrees) into GCJ-02."""
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    d_lon, d_lat = _offset(lon, lat)
    return lon + d_lon, lat + d_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Exact inverse of :func:`wgs84_to_gcj02`, iterated to below 1e-9° residual."""
    target_lon = np.asarray(lon, dtype=np.float64)
    target_lat = np.asarray(lat, dtype=np.float64)
    d_lon, d_lat = _offset(target_lon, target_lat)
    wgs_lon, wgs_lat = target_lon - d_lon, target_lat - d_lat
    for _ in range(_INVERSE_MAX_ITERATIONS):
        fwd_lon, fwd_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
        res_lon, res_lat = target_lon - fwd_lon, target_lat - fwd_lat
        wgs_lon = wgs_lon + res_lon
        wgs_lat = wgs_lat + res_lat
        if np.all(np.abs(res_lon) < _INVERSE_TOLERANCE_DEG) and np.all(
            np.abs(res_lat) < _INVERSE_TOLERANCE_DEG
        ):
            return wgs_lon, wgs_lat
    raise ArithmeticError("GCJ-02 inverse did not converge")


def shift_coords_gcj02_to_wgs84(coords: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shift an (N, 2) coordinate array; the signature shapely.transform expects."""
    lon, lat = gcj02_to_wgs84(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])
