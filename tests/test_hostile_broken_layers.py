"""A zone layer that fails to load never turns into a pass: an imported red line whose stored file
is corrupt, emptied or swapped is reported missing through the real load path; its rules are listed
as not evaluated and the overall verdict is at least review."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely

from layers.build import load_layers
from spatial.layer import project
from tests.hostile import siting_bounded

JIANGXIAN = "140826"
GK111 = 4546


@pytest.fixture
def imported_red_line(tmp_path, user_dir, layers):
    """A 2 km square of agency red line in 绛县, imported through the CLI; returns (point inside, stored file)."""
    centre = project(shapely.point_on_surface(layers.admin_area(JIANGXIAN)), 4326, GK111)
    square = project(shapely.box(centre.x - 1000, centre.y - 1000, centre.x + 1000, centre.y + 1000), GK111, 4326)
    path = tmp_path / "redline.gpkg"
    gpd.GeoDataFrame({"名称": ["测试红线"]}, geometry=[square], crs=4490).to_file(path)
    done = siting_bounded("layers", "import", str(path), "--kind", "redline")
    assert done.code == 0, done.err
    index = json.loads((user_dir / "catalog" / "catalog.json").read_text(encoding="utf-8"))
    stored = user_dir / "catalog" / "layers" / index["layers"]["eco_redline"]["file"]
    return shapely.point_on_surface(square), stored


def _check(point):
    done = siting_bounded("check", "--lon", str(point.x), "--lat", str(point.y), "--industry", "造纸", "--format", "json")
    assert done.code == 0, done.err
    return json.loads(done.out)


def _damage(stored, how):
    if how == "garbage":
        stored.write_bytes(b"PAR1 not a parquet file")
    elif how == "truncated":
        stored.write_bytes(stored.read_bytes()[:200])
    else:  # a valid, empty GeoParquet under the same name: it would read as "no red line here"
        gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326).to_parquet(stored)


def test_the_intact_import_finds_the_site_in_the_red_line(imported_red_line):
    point, _ = imported_red_line
    result = _check(point)
    assert any(f["layer"] == "eco_redline" and f["inside"] for f in result["findings"])
    assert result["overall"] == "prohibited"


@pytest.mark.parametrize("how", ["garbage", "truncated", "emptied"])
def test_a_damaged_red_line_is_not_evaluated_never_a_pass(imported_red_line, how):
    point, stored = imported_red_line
    _damage(stored, how)
    layers = load_layers()
    assert "eco_redline" in layers.missing and "eco_redline" not in layers.layers
    assert "请重新导入" in layers.missing["eco_redline"].reason
    result = _check(point)
    skipped = [n for n in result["not_evaluated"] if n["layer"] == "eco_redline"]
    assert skipped and all("无法读取" in n["reason"] for n in skipped)
    assert not any(f["layer"] == "eco_redline" for f in result["findings"])
    assert result["overall"] in ("review", "restricted", "prohibited")
    validate = siting_bounded("layers", "validate", "--format", "json")
    assert validate.code == 3 and "eco_redline" in validate.out
