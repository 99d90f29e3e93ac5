"""Huge coordinate counts: a ring of over a million vertices, a 界址点 table past the row cap and
a coordinate text of megabytes are refused with the cap named, in bounded time and memory."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from spatial.coordinates import parse_point
from spatial.errors import InputError
from spatial.limits import MAX_COORDINATE_TEXT, SITE_FILE_LIMITS
from tests.hostile import TIME_LIMIT_S, assert_refused, check_site


def test_a_ring_past_the_vertex_cap_is_refused(tmp_path):
    count = SITE_FILE_LIMITS.max_vertices + 10
    angles = np.linspace(0, 2 * np.pi, count)
    ring = shapely.Polygon(np.column_stack([111.5 + 0.01 * np.cos(angles), 35.5 + 0.01 * np.sin(angles)]))
    path = tmp_path / "细碎红线.shp"
    gpd.GeoDataFrame({"名称": ["地块"]}, geometry=[ring], crs=4326).to_file(path)
    result = check_site(path)
    assert_refused(result, "细碎红线.shp", f"上限 {SITE_FILE_LIMITS.max_vertices}", "too many vertices")
    assert result.seconds < TIME_LIMIT_S


def test_too_many_features_are_refused_before_reading(tmp_path):
    count = SITE_FILE_LIMITS.max_features + 1
    points = shapely.points(np.column_stack([np.full(count, 111.5), np.linspace(35.5, 35.6, count)]))
    path = tmp_path / "点群.gpkg"
    gpd.GeoDataFrame(geometry=points, crs=4326).to_file(path)
    assert_refused(check_site(path), "点群.gpkg", f"文件要素过多（{count} 个", "too many features")


def test_a_boundary_table_past_the_row_cap_is_refused(tmp_path):
    rows = SITE_FILE_LIMITS.max_table_rows + 1
    path = tmp_path / "界址点.csv"
    x = 3_930_000 + np.arange(rows) % 100
    y = 37_514_000 + np.arange(rows) // 100
    path.write_text("点号,X,Y\n" + "\n".join(f"J{i},{a},{b}" for i, (a, b) in enumerate(zip(x, y, strict=True))), encoding="utf-8")
    assert_refused(check_site(path), "界址点.csv", f"界址点表行数过多（{rows} 行")


@pytest.mark.parametrize("text", ["1" * 5_000_000, "111.2, 35.6 " * 100_000, "1." * 1_000_000])
def test_a_huge_coordinate_text_is_refused_at_once(text):
    with pytest.raises(InputError) as caught:
        parse_point(text)
    assert caught.value.field == "at" and f"上限 {MAX_COORDINATE_TEXT}" in caught.value.message
    assert len(caught.value.message) < 1000  # the message quotes the start, not megabytes
