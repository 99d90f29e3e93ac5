"""Truncated .shp, .shx and .dbf (a copy or upload cut short): GDAL would read as far as the bytes go
and silently drop the rest; the header lengths are checked against the real sizes and the file refused."""

from __future__ import annotations

import shutil
import zipfile

import geopandas as gpd
import pytest
import shapely

from tests.hostile import assert_refused, catalog_state, check_site, siting_bounded


@pytest.fixture
def shapefile(tmp_path):
    """Forty parcels in 绛县, a GBK shapefile with its sidecars."""
    parcels = [shapely.box(111.50 + i * 0.002, 35.50, 111.501 + i * 0.002, 35.501) for i in range(40)]
    path = tmp_path / "whole" / "用地.shp"
    path.parent.mkdir()
    gpd.GeoDataFrame({"名称": [f"地块{i}" for i in range(40)]}, geometry=parcels, crs=4490).to_file(path, encoding="gbk")
    return path


def _cut(shapefile, directory, suffix, keep):
    directory.mkdir()
    for sidecar in shapefile.parent.iterdir():
        shutil.copy(sidecar, directory / sidecar.name)
    damaged = directory / shapefile.with_suffix(suffix).name
    data = damaged.read_bytes()
    damaged.write_bytes(data[: int(len(data) * keep)])
    return directory / shapefile.name


@pytest.mark.parametrize("suffix", [".shp", ".shx", ".dbf"])
def test_a_truncated_loose_shapefile_is_refused(tmp_path, shapefile, suffix):
    path = _cut(shapefile, tmp_path / "cut", suffix, 0.6)
    assert_refused(check_site(path), "用地.shp", f"Shapefile 的 {suffix} 文件不完整", "truncated")


def test_a_truncated_dbf_inside_a_zip_is_refused(tmp_path, shapefile):
    path = _cut(shapefile, tmp_path / "cut", ".dbf", 0.05)
    archive_path = tmp_path / "用地.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        for sidecar in path.parent.iterdir():
            archive.write(sidecar, sidecar.name)
    assert_refused(check_site(archive_path), "用地.zip", ".dbf 文件不完整", "40 条记录")


def test_a_truncated_layer_is_refused_and_the_catalog_kept(tmp_path, shapefile, user_dir):
    path = _cut(shapefile, tmp_path / "cut", ".shp", 0.5)
    before = catalog_state(user_dir)
    assert_refused(siting_bounded("layers", "import", str(path), "--kind", "redline"), "FILE", ".shp 文件不完整")
    assert catalog_state(user_dir) == before


def test_the_whole_shapefile_reads(shapefile):
    result = check_site(shapefile)
    assert result.code == 0, result.err
