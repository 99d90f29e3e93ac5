"""`siting batch` as an agency runs it: real files in, real files out, a real CLI process."""

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import xlsxwriter

from layers import catalog
from siting.batch.files import read_result
from spatial.checker import check
from spatial.gcj02 import wgs84_to_gcj02
from spatial.rules import Stage, Verdict

ROWS = 100_000
INDUSTRIES = ["造纸", "焦化", "2521", "软件开发", "钢铁", "水泥", "电镀"]
STAGES = ["新建", "现有", "扩建", "改建"]
# Malformed rows: (column index, bad value, what the reason must name)
DEFECTS = [(1, "abc", "经度/纬度"), (2, None, "缺少经度或纬度"), (3, "造只厂", "行业"), (4, "later", "阶段"), (1, 10.5, "不在中国境内")]


def siting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    """100,000 enterprises over Shanxi, 1 % of rows malformed in one of five ways (fixed seed)."""
    rng = np.random.default_rng(20261123)
    lon = np.round(rng.uniform(110.3, 114.4, ROWS), 6).astype(object)
    lat = np.round(rng.uniform(34.7, 40.6, ROWS), 6).astype(object)
    industry = np.array([INDUSTRIES[i % len(INDUSTRIES)] for i in range(ROWS)], dtype=object)
    stage = np.array([STAGES[i % len(STAGES)] for i in range(ROWS)], dtype=object)
    columns = [np.array([f"企业{i + 1}" for i in range(ROWS)], dtype=object), lon, lat, industry, stage]
    bad = np.sort(rng.choice(ROWS, ROWS // 100, replace=False))
    for k, row in enumerate(bad):
        column, value, _ = DEFECTS[k % len(DEFECTS)]
        columns[column][row] = value
    path = tmp_path_factory.mktemp("batch") / "企业名录.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("名录")
    sheet.write_row(0, 0, ["名称", "经度", "纬度", "行业", "阶段"])
    for row in range(ROWS):
        sheet.write_row(row + 1, 0, [c[row] for c in columns])
    book.close()
    return path, bad, columns


@pytest.fixture(scope="module")
def local_result(register, data_dir):
    path, _, _ = register
    out = path.with_name("结果.xlsx")
    done = siting("batch", str(path), "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out, done.stderr


def test_a_100k_row_excel_comes_back_whole_with_the_malformed_rows_explained(register, local_result, layers, rules):
    _, bad, columns = register
    out, stderr = local_result
    summary = read_result(out)
    assert len(summary) == ROWS
    assert summary["行号"].astype(int).tolist() == list(range(1, ROWS + 1))
    assert summary["名称"].tolist() == columns[0].tolist()
    unchecked = np.flatnonzero(summary["审查状态"].to_numpy() == "未检查")
    assert unchecked.tolist() == bad.tolist()
    for k, row in enumerate(bad):
        reason = summary.at[row, "原因"]
        _, value, named = DEFECTS[k % len(DEFECTS)]
        assert f"第{row + 1}行" in reason and named in reason and "Input error" in reason
        if isinstance(value, str):
            assert value in reason
        assert summary.at[row, "verdict"] in ("", None)
    checked = summary.drop(index=bad)
    assert set(checked["verdict"]) <= {v.value for v in Verdict}
    assert "未检查 1000 行" in stderr
    # Spot checks against the single-site check on the same layers.
    taxonomy = catalog.taxonomy()
    for row in np.random.default_rng(1).choice(checked.index.to_numpy(), 25, replace=False):
        site = shapely.Point(float(columns[1][row]), float(columns[2][row]))
        single = check(site, taxonomy.resolve(columns[3][row]), Stage.parse(columns[4][row]), rules, layers)
        assert summary.at[row, "verdict"] == single.overall.value
        prohibited = sorted(f.rule.id for f in single.findings if f.verdict.value == "prohibited")
        assert sorted(filter(None, summary.at[row, "禁止条款"].split("; "))) == prohibited
    details = read_result(out, "量测明细")
    assert len(details) and set(details["行号"].astype(int)) <= set(range(1, ROWS + 1))
    assert len(read_result(out, "规划情形"))


def test_the_dask_engine_agrees_with_the_local_engine_row_for_row(register, local_result):
    path, _, _ = register
    local, _ = local_result
    out = path.with_name("结果_dask.xlsx")
    _assert_same_result(local, "batch", str(path), "--out", str(out), "--engine", "dask", "--workers", "2")


def test_chunks_screened_on_threads_come_back_in_input_order(register, local_result):
    """More threads than cores and small chunks, finishing out of order: the same file as the default run."""
    path, _, _ = register
    local, _ = local_result
    out = path.with_name("结果_线程.xlsx")
    _assert_same_result(local, "batch", str(path), "--out", str(out), "--threads", "3", "--chunk-rows", "9000")


def _assert_same_result(expected, *command: str) -> None:
    """Run a batch command; every level of its OUT equals the same level of ``expected``."""
    done = siting(*command)
    assert done.returncode == 0, done.stderr
    out = Path(command[command.index("--out") + 1])
    for level in ("汇总", "量测明细", "规划情形"):
        pd.testing.assert_frame_equal(read_result(out, level), read_result(expected, level))


def test_geopackage_points_in_gcj02_are_shifted_and_written_back_as_layers(tmp_path, layers, rules):
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(110.5, 112.0, 300), rng.uniform(34.8, 35.8, 300)
    glon, glat = wgs84_to_gcj02(lon, lat)
    sites = gpd.GeoDataFrame({"name": [f"site{i}" for i in range(300)], "industry": "焦化", "stage": "existing"},
                             geometry=shapely.points(glon, glat), crs=4326)
    sites.loc[7, "geometry"] = None
    source = tmp_path / "sites.gpkg"
    sites.to_file(source, layer="sites")
    out = tmp_path / "checked.gpkg"
    done = siting("batch", str(source), "--out", str(out), "--crs", "gcj02")
    assert done.returncode == 0, done.stderr
    summary = gpd.read_file(out, layer="汇总")
    assert len(summary) == 300 and summary.crs.to_epsg() == 4326
    assert summary.at[7, "审查状态"] == "未检查" and "geometry" in summary.at[7, "原因"]
    assert np.allclose(summary["经度_WGS84"].drop(index=7), np.round(lon, 7)[np.arange(300) != 7], atol=1e-6)
    taxonomy = catalog.taxonomy()
    for row in (0, 50, 299):
        single = check(shapely.Point(lon[row], lat[row]), taxonomy.resolve("焦化"), Stage.EXISTING, rules, layers)
        assert summary.at[row, "verdict"] == single.overall.value
    assert {"汇总", "量测明细", "规划情形"} <= set(gpd.list_layers(out)["name"])


def test_column_options_encodings_and_a_file_without_coordinates(tmp_path):
    frame = pd.DataFrame({"企业": ["甲", "乙"], "E": ["111.2", "35.6"], "N": ["35.6", "111.2"], "行业": ["造纸", "造纸"]})
    source = tmp_path / "gbk.csv"
    source.write_bytes(frame.to_csv(index=False).encode("gbk"))
    out = tmp_path / "out.csv"
    done = siting("batch", str(source), "--out", str(out), "--lon-col", "E", "--lat-col", "N", "--name-col", "企业")
    assert done.returncode == 0, done.stderr
    summary = read_result(out)
    assert summary["审查状态"].tolist() == ["已检查", "未检查"]
    assert "第2行" in summary.at[1, "原因"] and "E/N" in summary.at[1, "原因"]
    assert out.with_name("out_量测明细.csv").exists() and out.with_name("out_规划情形.csv").exists()
    missing = siting("batch", str(source), "--out", str(out))
    assert missing.returncode == 2 and "--lon-col" in missing.stderr and "Traceback" not in missing.stderr
    wrong = siting("batch", str(source), "--out", str(out), "--lon-col", "X", "--lat-col", "N")
    assert wrong.returncode == 2 and "X" in wrong.stderr and "Input error" in wrong.stderr
