import numpy as np
from pyproj import Geod

from spatial.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02

GEOD = Geod(ellps="GRS80")
# A 0.05° grid over Shanxi's bounding box.
LON, LAT = (a.ravel() for a in np.meshgrid(np.arange(110.2, 114.6, 0.05), np.arange(34.6, 40.8, 0.05)))


def test_inverse_round_trip_is_below_one_centimetre():
    gcj_lon, gcj_lat = wgs84_to_gcj02(LON, LAT)
    back_lon, back_lat = gcj02_to_wgs84(gcj_lon, gcj_lat)
    _, _, error_m = GEOD.inv(LON, LAT, back_lon, back_lat)
    assert error_m.max() < 0.01


def test_inverse_reproduces_the_gcj02_input():
    wgs_lon, wgs_lat = gcj02_to_wgs84(LON, LAT)
    fwd_lon, fwd_lat = wgs84_to_gcj02(wgs_lon, wgs_lat)
    _, _, residual_m = GEOD.inv(LON, LAT, fwd_lon, fwd_lat)
    assert residual_m.max() < 0.01


def test_shift_in_shanxi_is_hundreds_of_metres():
    gcj_lon, gcj_lat = wgs84_to_gcj02(LON, LAT)
    _, _, shift_m = GEOD.inv(LON, LAT, gcj_lon, gcj_lat)
    # Reviewers see AMap/Baidu picks off by 300–700 m in Shanxi.
    assert 300 < shift_m.min() and shift_m.max() < 700
