"""Crash safety: a layer import killed after it wrote layer files but before it renamed the index leaves
files nobody names; the next catalog load or import removes them, and never a file the index names
or one a running import is still writing."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers import user_catalog
from tests.hostile import TIME_LIMIT_S, siting_bounded

SIDE = 150  # 22,500 squares: the import spends about 0.1 s writing its four layer files


@pytest.fixture
def water_sources(tmp_path, layers) -> Path:
    """Protection zones of three levels over 绛县: one import writes four layer files in turn."""
    x0, y0, x1, y1 = layers.admin_area("140826").bounds
    xs, ys = np.meshgrid(np.linspace(x0 + 0.01, x1 - 0.01, SIDE), np.linspace(y0 + 0.01, y1 - 0.01, SIDE))
    squares = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 0.001, ys.ravel() + 0.001)
    levels = np.array(["一级", "二级", "准保护"])[np.arange(len(squares)) % 3]
    path = tmp_path / "water.gpkg"
    gpd.GeoDataFrame({"水源地名称": [f"水源{i}" for i in range(len(squares))], "级别": levels},
                     geometry=squares, crs=4490).to_file(path)
    return path


def _files(root: Path) -> set[str]:
    directory = root / "catalog" / "layers"
    return set(os.listdir(directory)) if directory.is_dir() else set()


def _named(root: Path) -> set[str]:
    return {entry["file"] for entry in user_catalog.read_index(root)["layers"].values()}


def _kill_after_first_layer_file(path: Path, root: Path) -> set[str]:
    """Import ``path``, SIGKILL it the moment a layer file the index does not name appears; the strays left.

    The import writes its files one after another and renames the index last, so the kill lands
    between the two unless the machine stalls; then the import completed and we try again.
    """
    for _ in range(5):
        named = _named(root)
        child = subprocess.Popen([sys.executable, "-m", "siting", "layers", "import", str(path), "--kind", "water_source"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + TIME_LIMIT_S
        while child.poll() is None and time.monotonic() < deadline:
            if any(name.endswith(".parquet") for name in _files(root) - named):
                break
            time.sleep(0.001)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(TIME_LIMIT_S)
        strays = _files(root) - _named(root)
        if strays:
            return strays
    pytest.fail("the import never left an unnamed layer file at the kill in five attempts")


def _assert_clean(root: Path) -> None:
    assert _files(root) == _named(root), "layer files on disk are exactly the ones the index names"
    assert not list((root / "catalog").glob(".catalog-*.json"))
    assert user_catalog.verify(root) == []


def test_a_killed_import_leaves_strays_that_the_next_load_removes(water_sources, user_dir):
    first = siting_bounded("layers", "import", str(water_sources), "--kind", "water_source")
    assert first.code == 0, first.err
    kept = _named(user_dir)
    strays = _kill_after_first_layer_file(water_sources, user_dir)
    assert strays and not strays & kept
    listing = siting_bounded("layers", "list", "--format", "json")  # loads the catalog as every check does
    assert listing.code == 0, listing.err
    _assert_clean(user_dir)
    assert _named(user_dir) == kept
    rows = {row["id"]: row for row in json.loads(listing.out)["layers"]}
    assert rows["drinking_water_zones"]["features"] == SIDE * SIDE


def test_a_rerun_of_the_killed_import_removes_its_strays_and_completes(water_sources, user_dir):
    strays = _kill_after_first_layer_file(water_sources, user_dir)
    assert strays
    rerun = siting_bounded("layers", "import", str(water_sources), "--kind", "water_source")
    assert rerun.code == 0, rerun.err
    _assert_clean(user_dir)
    assert not strays & _files(user_dir)
    loaded, broken = user_catalog.load(user_dir)
    assert not broken
    assert len(loaded["drinking_water_zones"].frame) == SIDE * SIDE
    assert sum(len(loaded[i].frame) for i in ("dw_source_level1", "dw_source_level2", "dw_source_quasi")) == SIDE * SIDE


def test_files_of_an_import_holding_the_lock_are_not_swept(water_sources, user_dir):
    done = siting_bounded("layers", "import", str(water_sources), "--kind", "water_source")
    assert done.code == 0, done.err
    layers_dir = user_dir / "catalog" / "layers"
    in_progress = layers_dir / "eco_redline.20990101T000000-abcdef.parquet"
    in_progress.write_bytes((layers_dir / sorted(_named(user_dir))[0]).read_bytes())
    with (user_dir / "catalog" / ".lock").open("w") as lock:  # what a running import holds
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert user_catalog.sweep(user_dir) == []
        user_catalog.load(user_dir)
        assert in_progress.exists()
    assert user_catalog.sweep(user_dir) == [in_progress.name]
    _assert_clean(user_dir)
