"""Self-intersecting and empty geometries: a bow-tie site is repaired with a note, a degenerate one
refused; in an agency layer invalid features are repaired and counted, empty ones dropped and counted."""

from __future__ import annotations

import json

import geopandas as gpd
import shapely

from layers.imports import read_layer_file
from layers.io.site_files import read_site
from spatial.layer import project
from tests.hostile import assert_refused, check_site

GK111 = 4546
CENTRE = project(shapely.Point(111.55, 35.50), 4326, GK111)  # 绛县


def _square(size_m: float, dx: float = 0.0) -> shapely.Polygon:
    x, y = CENTRE.x + dx, CENTRE.y
    return project(shapely.box(x, y, x + size_m, y + size_m), GK111, 4326)


def _bowtie(size_m: float) -> shapely.Polygon:
    x, y = CENTRE.x, CENTRE.y
    return project(shapely.Polygon([(x, y), (x + size_m, y + size_m), (x + size_m, y), (x, y + size_m)]), GK111, 4326)


def test_a_bowtie_site_is_repaired_with_a_note_naming_the_fault(tmp_path):
    path = tmp_path / "自相交.geojson"
    gpd.GeoDataFrame(geometry=[_bowtie(300)], crs=4326).to_file(path)
    site = read_site(path)
    assert site.geometry.is_valid and site.geometry.area > 0
    assert any("Self-intersection" in note and "已自动修复" in note for note in site.notes)


def test_a_site_that_collapses_to_a_line_is_refused(tmp_path):
    flat = shapely.Polygon([(111.5, 35.5), (111.51, 35.51), (111.52, 35.52), (111.5, 35.5)])
    path = tmp_path / "退化.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(flat)}]}), encoding="utf-8")
    assert_refused(check_site(path), "退化.geojson", "几乎为零", "collinear")


def test_a_site_file_of_only_empty_geometries_is_refused(tmp_path):
    path = tmp_path / "空.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "a"}, "geometry": None},
        {"type": "Feature", "properties": {"name": "b"}, "geometry": {"type": "Polygon", "coordinates": []}}]}), encoding="utf-8")
    assert_refused(check_site(path), "空.geojson", "没有任何几何要素", "holds no geometry")


def test_a_layer_with_invalid_and_empty_features_is_repaired_and_counted(tmp_path):
    path = tmp_path / "redline.geojson"
    frame = gpd.GeoDataFrame({"名称": ["自相交", "正常", "空"]},
                             geometry=[_bowtie(2000), _square(1000, dx=5000), shapely.Polygon()], crs=4326)
    frame.to_file(path)
    imported = read_layer_file(path, "redline")
    assert (imported.features, imported.repaired, imported.dropped) == (3, 1, 1)
    assert any("1 个要素几何无效" in n for n in imported.notes) and any("1 个要素几何为空" in n for n in imported.notes)
    (redline,) = {id(f): f for f in imported.frames.values()}.values()
    assert len(redline) == 2 and redline.geometry.is_valid.all()
