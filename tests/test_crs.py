import pytest
from pyproj import CRS, Transformer

from spatial.coordinates import LonLatProblem, lonlat_problems
from spatial.crs import GK_LON_RANGE, gk3_zone_for_longitude, transformer


@pytest.mark.parametrize("lon, cm", [(110.3, 111), (111.0, 111), (112.49, 111), (112.51, 114), (114.5, 114)])
def test_zone_is_the_nearest_central_meridian(lon, cm):
    zone = gk3_zone_for_longitude(lon)
    crs = CRS.from_epsg(zone.epsg)
    assert zone.central_meridian == cm
    assert crs.name == f"CGCS2000 / 3-degree Gauss-Kruger CM {cm}E"


def test_longitude_outside_china_zones_is_refused():
    with pytest.raises(ValueError):
        gk3_zone_for_longitude(10.0)


def test_the_validator_refuses_exactly_the_longitudes_no_zone_measures():
    west, east = GK_LON_RANGE
    inside = [west, west + 1e-9, 111.0, east - 1e-9]
    outside = [west - 1e-9, east, east + 1e-9]
    assert [gk3_zone_for_longitude(lon).central_meridian for lon in (inside[0], inside[-1])] == [75, 135]
    for lon in outside:
        with pytest.raises(ValueError):
            gk3_zone_for_longitude(lon)
    assert lonlat_problems(inside, 35.6).tolist() == [LonLatProblem.NONE] * len(inside)
    assert lonlat_problems(outside, 35.6).tolist() == [LonLatProblem.OUTSIDE_CHINA] * len(outside)


@pytest.mark.parametrize("source, target, xy", [
    (4326, 4545, (111.3, 35.6)),  # WGS84 → GK zone 36, CM 108E
    (4326, 4546, (112.9, 37.8)),  # WGS84 → GK CM 111E
    (4546, 4326, (520_000.0, 4_180_000.0)),  # GK → WGS84
    ("EPSG:4326", "EPSG:4490", (113.0, 36.0)),
])
def test_transformer_matches_proj_between_wgs84_and_cgcs2000(source, target, xy):
    """The shortcut past PROJ's ballpark WGS84↔CGCS2000 operation gives PROJ's own coordinates."""
    ours = transformer(source, target)
    proj = Transformer.from_crs(CRS.from_user_input(source), CRS.from_user_input(target), always_xy=True)
    assert "Ballpark" in proj.description and "Ballpark" not in ours.description
    assert ours.transform(*xy) == pytest.approx(proj.transform(*xy), abs=1e-9)


def test_transformer_leaves_other_datums_to_proj():
    ours = transformer(4326, 3857)
    assert ours.transform(111.0, 35.0) == Transformer.from_crs(4326, 3857, always_xy=True).transform(111.0, 35.0)
    ed50 = transformer(4230, 4326)  # ED50 is not CGCS2000: PROJ's own datum shift stays
    assert ed50.transform(2.0, 48.0) == Transformer.from_crs(4230, 4326, always_xy=True).transform(2.0, 48.0)
    assert ed50.transform(2.0, 48.0) != pytest.approx((2.0, 48.0), abs=1e-4)
