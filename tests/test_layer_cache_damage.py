"""A damaged default layer cache is rebuilt from the pinned sources, never a traceback or a gap."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from layers.build import load_layers
from layers.sources import sha256_file
from spatial.layer import LayerSet


def _truncate(cache: Path) -> str:
    path = cache / "eco_redline.parquet"
    path.write_bytes(path.read_bytes()[:4000])
    return "eco_redline.parquet"


def _flip_a_byte(cache: Path) -> str:
    path = cache / "admin.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return "admin.parquet"


def _delete(cache: Path) -> str:
    (cache / "units_key.parquet").unlink()
    return "units_key.parquet"


def _break_manifest(cache: Path) -> str:
    (cache / "manifest.json").write_text('{"build_key": ', encoding="utf-8")
    return ""


@pytest.fixture
def damaged_root(layers: LayerSet, data_dir: Path, tmp_path: Path) -> Path:
    """A copy of the session's built cache and source wheel, free to damage."""
    root = tmp_path / "data"
    shutil.copytree(data_dir / "layers", root / "layers")
    shutil.copytree(data_dir / "sources", root / "sources")
    return root


@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte, _delete, _break_manifest])
def test_damaged_cache_is_rebuilt_to_the_same_layers(damage, damaged_root: Path, layers: LayerSet):
    named = damage(damaged_root / "layers")
    log: list[str] = []
    rebuilt = load_layers(damaged_root, log=log.append)

    assert any("正在构建默认图层" in line for line in log)
    if named:  # a damaged file is named in the log before the rebuild
        assert any("已损坏" in line and named in line for line in log)
    manifest = json.loads((damaged_root / "layers" / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["layers"].values():
        assert sha256_file(damaged_root / "layers" / entry["file"]) == entry["file_sha256"]
    defaults = {k for k, v in layers.layers.items() if not v.provenance.imported}
    assert set(rebuilt.layers) == defaults
    for layer_id in defaults:
        assert rebuilt.layers[layer_id].frame.geometry.geom_equals_exact(layers.layers[layer_id].frame.geometry, 0).all()


def test_cli_check_on_a_damaged_cache_answers(damaged_root: Path):
    _truncate(damaged_root / "layers")
    run = subprocess.run([sys.executable, "-m", "siting", "check", "--lon", "111.157728", "--lat", "35.576393",
                          "--industry", "造纸", "--format", "json"],
                         capture_output=True, text=True, env={**os.environ, "SITING_DATA_DIR": str(damaged_root)})
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "eco_redline.parquet" in run.stderr
    assert json.loads(run.stdout)["overall"]
