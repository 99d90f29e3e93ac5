import pytest
from pyproj import CRS

from spatial.crs import gk3_zone_for_longitude


@pytest.mark.parametrize("lon, cm", [(110.3, 111), (111.0, 111), (112.49, 111), (112.51, 114), (114.5, 114)])
def test_zone_is_the_nearest_central_meridian(lon, cm):
    zone = gk3_zone_for_longitude(lon)
    crs = CRS.from_epsg(zone.epsg)
    assert zone.central_meridian == cm
    assert crs.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"


def test_longitude_outside_china_zones_is_refused():
    with pytest.raises(ValueError):
        gk3_zone_for_longitude(10.0)
