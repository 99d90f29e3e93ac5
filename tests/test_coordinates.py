"""Every way a reviewer writes a point lands on the same spot."""

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from layers import catalog
from spatial.bd09 import bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09, wgs84_to_bd09
from spatial.checker import check
from spatial.coordinates import parse_point
from spatial.errors import InputError
from spatial.gcj02 import gcj02_to_wgs84, wgs84_to_gcj02
from spatial.rules import Stage
from tests.sites import GEOD, site_near

# Published test vectors of wandergis/coordtransform (116.404, 39.915).
REFERENCE = (116.404, 39.915)


def test_forward_transforms_match_the_reference_implementation():
    assert wgs84_to_gcj02(*REFERENCE) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-12)
    assert gcj02_to_bd09(*REFERENCE) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)


def test_exact_inverses_improve_on_the_reference_one_step_inverses():
    # The reference inverts in one step (error of a few centimetres); ours iterates to < 1 cm.
    for ours, theirs in ((gcj02_to_wgs84(*REFERENCE), (116.39775550083061, 39.91359571849836)),
                         (bd09_to_gcj02(*REFERENCE), (116.39762729119315, 39.90865673957631))):
        assert GEOD.inv(*ours, *theirs)[2] < 0.2
    assert GEOD.inv(*REFERENCE, *wgs84_to_gcj02(*gcj02_to_wgs84(*REFERENCE)))[2] < 0.01
    assert GEOD.inv(*REFERENCE, *gcj02_to_bd09(*bd09_to_gcj02(*REFERENCE)))[2] < 0.01


def test_bd09_round_trip_over_shanxi_is_below_one_centimetre():
    lon, lat = (a.ravel() for a in np.meshgrid(np.arange(110.2, 114.6, 0.1), np.arange(34.6, 40.8, 0.1)))
    back = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert GEOD.inv(lon, lat, *back)[2].max() < 0.01


def _dms(value: float) -> tuple[int, int, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return degrees, minutes, round((value - degrees - minutes / 60) * 3600, 4)


def _forms(lon: float, lat: float) -> list[tuple[str, str | None]]:
    (lo_d, lo_m, lo_s), (la_d, la_m, la_s) = _dms(lon), _dms(lat)
    e3p, n3p = Transformer.from_crs(4326, 4525, always_xy=True).transform(lon, lat)  # 3° zone 37, prefixed
    e3, n3 = Transformer.from_crs(4326, 4546, always_xy=True).transform(lon, lat)  # 3° CM 111E
    e6p, n6p = Transformer.from_crs(4326, 4497, always_xy=True).transform(lon, lat)  # 6° zone 19, prefixed
    gcj, bd = wgs84_to_gcj02(lon, lat), wgs84_to_bd09(lon, lat)
    return [
        (f"{lon:.9f}, {lat:.9f}", None),
        (f"{lat:.9f} {lon:.9f}", None),
        (f"E{lon:.9f} N{lat:.9f}", None),
        (f"北纬{lat:.9f}，东经{lon:.9f}", None),
        (f"东经{lo_d}°{lo_m}′{lo_s}″ 北纬{la_d}°{la_m}′{la_s}″", None),
        (f"{lo_d}度{lo_m}分{lo_s}秒, {la_d}度{la_m}分{la_s}秒", None),
        (f"{lo_d}-{lo_m}-{lo_s} {la_d}-{la_m}-{la_s}", None),
        (f"{lon:.9f}, {lat:.9f}", "cgcs2000"),
        (f"{lon:.9f}, {lat:.9f}", "EPSG:4490"),
        (f"X={n3p:.3f} Y={e3p:.3f}", None),
        (f"{n3:.3f}, {e3:.3f}", "EPSG:4546"),
        (f"{e3:.3f} {n3:.3f}", "EPSG:4546"),
        (f"{n6p:.3f}, {e6p:.3f}", None),
        (f"{float(gcj[0]):.9f}, {float(gcj[1]):.9f}", "gcj02"),
        (f"{float(bd[0]):.9f}, {float(bd[1]):.9f}", "bd09"),
    ]


def test_every_form_of_one_site_gives_the_same_verdict_and_distance(layers, rules):
    site = site_near(layers, "fen_river", "140825", 400)
    industry = catalog.taxonomy().resolve("造纸")
    base = check(site, industry, Stage.NEW, rules, layers)
    base_distance = next(f.distance_m for f in base.findings if f.rule.id == "YC21-3.1-fen-2km")
    for text, crs in _forms(site.x, site.y):
        point = parse_point(text, crs)
        assert GEOD.inv(site.x, site.y, point.lon, point.lat)[2] < 0.01, (text, crs)
        result = check(shapely.Point(point.lon, point.lat), industry, Stage.NEW, rules, layers, given=point.to_dict())
        assert result.overall is base.overall, (text, crs)
        distance = next(f.distance_m for f in result.findings if f.rule.id == "YC21-3.1-fen-2km")
        assert distance == pytest.approx(base_distance, abs=1.0), (text, crs)


@pytest.mark.parametrize("epsg", [4546, 4547, 4525, 4526, 4497, 4508])
def test_gauss_kruger_readings_agree_with_pyproj_to_a_millimetre(epsg):
    lon, lat = 112.31, 37.02
    easting, northing = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
    point = parse_point(f"{northing:.4f} {easting:.4f}", f"EPSG:{epsg}")
    back_e, back_n = Transformer.from_crs(4326, epsg, always_xy=True).transform(point.lon, point.lat)
    assert abs(back_e - easting) < 0.001 and abs(back_n - northing) < 0.001


def test_a_zone_prefix_is_inferred_and_said():
    point = parse_point("X=3938552.8 Y=37514297.0")
    assert point.inferred and point.crs.startswith("EPSG:4525")
    assert "第37带" in point.notes[0]


def test_latitude_first_is_inferred_and_said():
    point = parse_point("35.58 111.16")
    assert (point.lon, point.lat) == (111.16, 35.58)
    assert any("纬度在前" in note for note in point.notes)


@pytest.mark.parametrize(
    "text, crs, says",
    [
        ("111.2, abc", None, "无法识别"),
        ("111.2, 91", None, "纬度不可能超过"),
        ("111.2", None, "两个坐标值"),
        ("35.5, 40.1", None, "经度"),
        ("3938552.8 514297.0", None, "带号"),  # fits zone 37 and zone 38
        ("110°75′10″, 35°10′", None, "小于60"),
        ("111.2, 35.5", "EPSG:99999", "EPSG"),
        ("111.2, 35.5", "EPSG:4546", "平面坐标系"),
        ("N35.5 N36.1", None, "同一个方向"),
    ],
)
def test_bad_points_are_refused_with_the_reason(text, crs, says):
    with pytest.raises(InputError) as error:
        parse_point(text, crs)
    assert says in error.value.fix_zh
