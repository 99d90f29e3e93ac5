"""BD-09 (Baidu) to and from GCJ-02, and through it WGS84.

BD-09 is a second obfuscation applied on top of GCJ-02. The published back-transform
is only approximate (off by up to a metre), so the inverse here iterates the forward
formula until the residual is below 1e-9° like the GCJ-02 inverse.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from spatial.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

_X_PI = np.pi * 3000.0 / 180.0
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Exact inverse of :func:`gcj02_to_bd09`, iterated to below 1e-9° residual."""
    target_lon = np.asarray(lon, dtype=np.float64)
    target_lat = np.asarray(lat, dtype=np.float64)
    gcj_lon, gcj_lat = target_lon - 0.0065, target_lat - 0.006
    for _ in range(_MAX_ITERATIONS):
        fwd_lon, fwd_lat = gcj02_to_bd09(gcj_lon, gcj_lat)
        res_lon, res_lat = target_lon - fwd_lon, target_lat - fwd_lat
        gcj_lon, gcj_lat = gcj_lon + res_lon, gcj_lat + res_lat
        if np.all(np.abs(res_lon) < _TOLERANCE_DEG) and np.all(np.abs(res_lat) < _TOLERANCE_DEG):
            return gcj_lon, gcj_lat
    raise ArithmeticError("BD-09 inverse did not converge")


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
