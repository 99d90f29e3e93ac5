"""Crash safety: `siting layers import` killed with SIGKILL at moments spread over its run leaves
the catalog whole (the index parses, every file it names exists with its hash), and a rerun completes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import geopandas as gpd
import numpy as np
import shapely

from layers import user_catalog
from tests.hostile import TIME_LIMIT_S, siting_bounded


def _red_line(tmp_path, layers):
    """Many small red-line squares over 绛县: an import long enough to be killed while it writes."""
    x0, y0, x1, y1 = layers.admin_area("140826").bounds
    xs, ys = np.meshgrid(np.linspace(x0 + 0.01, x1 - 0.01, 150), np.linspace(y0 + 0.01, y1 - 0.01, 150))
    squares = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 0.001, ys.ravel() + 0.001)
    path = tmp_path / "redline.gpkg"
    gpd.GeoDataFrame({"名称": [f"红线{i}" for i in range(len(squares))]}, geometry=squares, crs=4490).to_file(path)
    return path


def _import(path):
    return subprocess.Popen([sys.executable, "-m", "siting", "layers", "import", str(path), "--kind", "redline"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _assert_whole(root):
    index_path = root / "catalog" / "catalog.json"
    if index_path.exists():
        index = json.loads(index_path.read_text(encoding="utf-8"))
        assert set(index) == {"layers", "imports"}
    assert user_catalog.verify(root) == []


def test_an_import_killed_at_any_moment_leaves_the_catalog_whole(tmp_path, user_dir, layers):
    path = _red_line(tmp_path, layers)
    start = time.monotonic()
    first = siting_bounded("layers", "import", str(path), "--kind", "redline")
    duration = time.monotonic() - start
    assert first.code == 0, first.err
    before = user_catalog.read_index(user_dir)
    for fraction in np.linspace(0.3, 0.98, 8):
        child = _import(path)
        time.sleep(duration * fraction)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(TIME_LIMIT_S)
        _assert_whole(user_dir)
        index = user_catalog.read_index(user_dir)
        assert len(index["imports"]) >= len(before["imports"])  # an import is either recorded whole or not at all
    rerun = siting_bounded("layers", "import", str(path), "--kind", "redline")
    assert rerun.code == 0, rerun.err
    _assert_whole(user_dir)
    loaded, broken = user_catalog.load(user_dir)
    assert not broken and len(loaded["eco_redline"].frame) == 150 * 150
