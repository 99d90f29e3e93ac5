"""Wrong-CRS files: degrees in a file that declares Gauss–Krüger, and GK metres declared as degrees,
are refused with the place they would land and the fix, for a site and for an agency layer."""

from __future__ import annotations

import geopandas as gpd
import shapely

from spatial.layer import project
from tests.hostile import assert_refused, catalog_state, check_site, siting_bounded

GK37_PREFIXED = 4525
PARCEL = shapely.box(111.55, 35.50, 111.56, 35.51)  # 绛县, degrees


def _shapefile(path, geometry, declared_epsg):
    gpd.GeoDataFrame({"名称": ["地块"]}, geometry=[geometry], crs=declared_epsg).to_file(path, encoding="gbk")
    return path


def test_degrees_in_a_gk_site_file_are_refused(tmp_path):
    path = _shapefile(tmp_path / "度数写进高斯.shp", PARCEL, GK37_PREFIXED)
    assert_refused(check_site(path), "度数写进高斯.shp", "不在中国境内", "degrees in a Gauss–Krüger file", "--crs")


def test_gk_metres_declared_as_degrees_are_refused(tmp_path):
    metres = project(PARCEL, 4326, GK37_PREFIXED)
    path = _shapefile(tmp_path / "高斯标成经纬度.shp", metres, 4490)
    assert_refused(check_site(path), "高斯标成经纬度.shp", "不在中国境内", "metres declared as degrees")


def test_the_same_parcel_with_the_right_prj_reads(tmp_path):
    path = _shapefile(tmp_path / "正确.shp", project(PARCEL, 4326, GK37_PREFIXED), GK37_PREFIXED)
    result = check_site(path)
    assert result.code == 0, result.err


def test_degrees_in_a_gk_layer_are_refused_on_import(tmp_path, user_dir):
    path = _shapefile(tmp_path / "redline.shp", PARCEL, GK37_PREFIXED)
    before = catalog_state(user_dir)
    result = siting_bounded("layers", "import", str(path), "--kind", "redline")
    assert_refused(result, "FILE", "redline.shp", "不在山西省附近", "--crs")
    assert catalog_state(user_dir) == before
