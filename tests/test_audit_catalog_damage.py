"""A damaged user layer index (`catalog/catalog.json`) never stops a check: the CLI and a running server
fall back to the previous good index kept beside it (or to the default layers) and name the damage."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import shapely

from tests.webapp import running_server


def _truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(3000))


def _wrong_types(path: Path) -> None:
    path.write_text(json.dumps({"layers": [], "imports": {"a": 1}}), encoding="utf-8")


def _missing_keys(path: Path) -> None:
    index = json.loads(path.read_text(encoding="utf-8"))
    for entry in index["layers"].values():
        del entry["file_sha256"]
    path.write_text(json.dumps(index), encoding="utf-8")


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "x").write_text("not an index", encoding="utf-8")


def _unreadable(path: Path) -> None:  # a symlink loop: unreadable even for root (tests may run as root)
    path.unlink()
    path.symlink_to(path.name)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _huge(path: Path) -> None:
    with path.open("r+b") as handle:
        handle.truncate(64 * 1024 * 1024)  # sparse: large on paper, nothing to read into memory


CORRUPTIONS: dict[str, Callable[[Path], None]] = {
    "truncated": _truncated, "garbage": _garbage, "wrong types": _wrong_types, "missing keys": _missing_keys,
    "directory": _directory, "unreadable": _unreadable, "empty": _empty, "huge": _huge,
}


def _restore(path: Path, good: bytes) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    path.write_bytes(good)


def _red_line(site: shapely.Point, tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": name},
        "geometry": shapely.geometry.mapping(shapely.box(site.x - 0.02, site.y - 0.02, site.x + 0.02, site.y + 0.02))}]}),
        encoding="utf-8")
    return path


def _siting(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"SITING_DATA_DIR": str(root)})


@pytest.fixture(scope="module")
def site(layers) -> shapely.Point:
    return layers.admin_area("140100").representative_point()


@pytest.fixture(scope="module")
def imported(data_dir, site, tmp_path_factory) -> Path:
    """A data directory with two red-line imports: 红线乙 in catalog.json, 红线甲 in the previous good copy."""
    root = tmp_path_factory.mktemp("catalog-damage")
    for shared in ("layers", "sources"):
        (root / shared).symlink_to(data_dir / shared)
    for name, version in (("红线甲", "1"), ("红线乙", "2")):
        run = _siting(root, "layers", "import", str(_red_line(site, root, name)), "--kind", "redline",
                      "--source", name, "--version", version)
        assert run.returncode == 0, run.stderr
    assert (root / "catalog" / "catalog.previous.json").is_file()
    return root


def _red_line_source(answer: dict) -> str | None:
    return next((layer["source"] for layer in answer["layers"] if layer["id"] == "eco_redline"), None)


@pytest.mark.parametrize("mode", list(CORRUPTIONS))
def test_the_cli_falls_back_to_the_previous_index_and_names_the_damage(imported, site, tmp_path, mode):
    root = tmp_path / "data"
    shutil.copytree(imported, root, symlinks=True)
    CORRUPTIONS[mode](root / "catalog" / "catalog.json")
    run = _siting(root, "check", "--lon", str(site.x), "--lat", str(site.y), "--industry", "造纸", "--format", "json")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert "导入图层目录索引" in run.stderr and "catalog.previous.json" in run.stderr
    answer = json.loads(run.stdout)
    assert _red_line_source(answer) == "红线甲" and answer["overall"] == "prohibited"
    layers = _siting(root, "layers", "validate")
    assert "导入图层目录索引" in layers.stdout + layers.stderr and "Traceback" not in layers.stderr


def test_with_no_good_index_left_the_defaults_are_used(imported, site, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(imported, root, symlinks=True)
    _garbage(root / "catalog" / "catalog.json")
    _truncated(root / "catalog" / "catalog.previous.json")
    run = _siting(root, "check", "--lon", str(site.x), "--lat", str(site.y), "--industry", "造纸", "--format", "json")
    assert run.returncode == 0 and "已改用默认图层" in run.stderr, run.stderr
    assert _red_line_source(json.loads(run.stdout)) not in ("红线甲", "红线乙")
    assert {p.name for p in (root / "catalog" / "layers").iterdir()}, "a damaged index never sweeps the layer files"


def test_a_running_server_keeps_answering_through_every_corruption(imported, site, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(imported, root, symlinks=True)
    index = root / "catalog" / "catalog.json"
    good = index.read_bytes()
    body = {"lon": site.x, "lat": site.y, "industry": "造纸"}
    with running_server(root) as base, httpx.Client(base_url=base, timeout=120) as client:
        assert client.get("/api/health").json()["catalog_damage"] is None
        assert _red_line_source(client.post("/api/check", json=body).json()) == "红线乙"
        for mode, corrupt in CORRUPTIONS.items():
            corrupt(index)
            health = client.get("/api/health")
            assert health.status_code == 200, (mode, health.text)
            damage = health.json()["catalog_damage"]
            assert damage is not None and damage["fallback"] == "previous", (mode, damage)
            layers = client.get("/api/layers")
            assert layers.status_code == 200 and layers.json()["catalog_damage"]["message_zh"] == damage["message_zh"]
            answer = client.post("/api/check", json=body)
            assert answer.status_code == 200, (mode, answer.text)
            assert _red_line_source(answer.json()) == "红线甲", mode
            _restore(index, good)
        assert client.get("/api/health").json()["catalog_damage"] is None


@pytest.mark.parametrize("mode", ["directory", "garbage"])
def test_the_next_import_over_a_damaged_index_writes_a_sound_one(imported, site, tmp_path, mode):
    root = tmp_path / "data"
    shutil.copytree(imported, root, symlinks=True)
    CORRUPTIONS[mode](root / "catalog" / "catalog.json")
    run = _siting(root, "layers", "import", str(_red_line(site, tmp_path, "红线丙")), "--kind", "redline",
                  "--source", "红线丙", "--version", "3")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    check = _siting(root, "check", "--lon", str(site.x), "--lat", str(site.y), "--industry", "造纸", "--format", "json")
    assert check.returncode == 0 and "导入图层目录索引" not in check.stderr, check.stderr
    assert _red_line_source(json.loads(check.stdout)) == "红线丙"
