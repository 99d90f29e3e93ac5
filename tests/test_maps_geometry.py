"""What the maps draw: region zones and areas, simplification that keeps neighbours
together, untouched engine data, vendored assets and the map command line."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import shapely

from maps.offline import asset_bytes
from maps.region import region_zones, resolve_region
from maps.region_map import simplified_levels
from maps.simplify import levels_for
from maps.vendor import MANIFEST
from spatial.errors import InputError
from spatial.layer import project
from spatial.rules import ZoneKind


@pytest.fixture(scope="module")
def yuncheng(layers, rules):
    return region_zones("运城市", layers, rules)


def _gk_area_km2(geometries, epsg: int) -> float:
    """Area by an independent path: geopandas/pyproj reprojection of the union."""
    import geopandas as gpd

    union = shapely.union_all(np.asarray(list(geometries), dtype=object))
    return float(gpd.GeoSeries([union], crs=4326).to_crs(epsg).area.iloc[0]) / 1e6


@pytest.mark.parametrize("text, code", [("运城市", "140800"), ("绛县", "140826"), ("晋城市城区", "140502"), ("140826", "140826")])
def test_regions_are_named_as_planners_write_them(layers, text, code):
    assert resolve_region(text, layers).code == code


@pytest.mark.parametrize("text", ["城区", "不存在县", ""])
def test_ambiguous_or_unknown_region_is_refused_with_choices(layers, text):
    with pytest.raises(InputError) as error:
        resolve_region(text, layers)
    assert "--region" in error.value.message


def test_zone_areas_are_clipped_and_measured_in_metres(yuncheng, layers):
    epsg = yuncheng.region.gk_epsg
    assert epsg == 4546
    region_km2 = _gk_area_km2([yuncheng.region.geometry], epsg)
    assert yuncheng.region_area_km2 == pytest.approx(region_km2, rel=1e-6)
    for zone in yuncheng.zones:
        assert zone.area_km2 == pytest.approx(_gk_area_km2(zone.frame.geometry.values, epsg), rel=1e-6)
        assert 0 < zone.area_km2 <= region_km2 * 1.000001
        outside = shapely.difference(shapely.union_all(zone.frame.geometry.values), yuncheng.region.geometry)
        assert outside.area <= 1e-9


def test_buffer_zones_match_the_rules(yuncheng, layers, rules):
    """The 运城 2 km Fen zone is the 汾河 within 2 km, on 运城's stretch, inside 运城."""
    fen = next(z for z in yuncheng.zones if z.id.startswith("buffer:fen_river:140800:2000"))
    assert "YC21-3.1-fen-2km" in fen.rules
    epsg = yuncheng.region.gk_epsg
    region = layers.projected("admin", epsg, section="140800")
    baseline = layers.projected("fen_river", epsg, section="140800")
    expected = shapely.intersection(shapely.buffer(baseline, 2000), region)
    drawn = project(shapely.union_all(fen.frame.geometry.values), 4326, epsg)
    assert shapely.symmetric_difference(drawn, expected).area / expected.area < 1e-6
    declared = {(r.zone.layer, r.zone.distance_m) for r in rules
                if r.zone.kind is ZoneKind.BUFFER and r.zone.layer in layers.layers and r.plan.jurisdiction in ("140000", "140800")}
    drawn_kinds = {(z.id.split(":")[1], float(z.id.split(":")[3])) for z in yuncheng.zones if z.id.startswith("buffer:")}
    assert drawn_kinds == {k for k in declared if k[0] in ("fen_river", "yellow_river")}


def test_missing_layers_are_listed_not_dropped(yuncheng, layers):
    assert yuncheng.missing
    assert all(m["id"] in layers.missing and m["rules"] for m in yuncheng.missing)


def test_every_loaded_zone_layer_with_data_in_the_region_is_drawn(yuncheng, layers):
    drawn = {z.id for z in yuncheng.zones} | {layer_id for z in yuncheng.zones for layer_id, _ in z.also}
    for layer_id, layer in layers.layers.items():
        if layer_id == "admin" or not (shapely.get_dimensions(layer.frame.geometry.values) == 2).all():
            continue
        inside = shapely.intersection(shapely.union_all(layer.frame.geometry.values), yuncheng.region.geometry.buffer(-0.01))
        assert (layer_id in drawn) == (inside.area > 0), layer_id


def test_simplified_neighbours_share_their_edges(yuncheng):
    """At every zoom level counties still tile the city, and zones neither gap nor overlap more than before."""
    levels = levels_for(yuncheng.region.geometry.centroid.y)
    per_level, _ = simplified_levels(yuncheng, levels)
    full_counties = yuncheng.subdivisions.geometry.values
    for level, parts in zip(levels, per_level, strict=True):
        outline, counties = parts[0][0], parts[1]
        assert shapely.coverage_is_valid(counties)
        gap = shapely.symmetric_difference(shapely.union_all(counties), outline)
        assert gap.area <= 1e-12, level
    assert shapely.get_num_coordinates(per_level[0][1]).sum() < 0.6 * shapely.get_num_coordinates(full_counties).sum()
    coarse = per_level[0]
    assert shapely.get_num_coordinates(np.concatenate(coarse)).sum() < 0.6 * shapely.get_num_coordinates(
        np.concatenate(simplified_levels(yuncheng, [levels[-1]])[0][0])).sum()
    units = [i for i, z in enumerate(yuncheng.zones, start=2) if z.id.startswith("units_")]
    if len(units) >= 2:
        for parts in per_level:
            pieces = np.concatenate([parts[i] for i in units])
            overlap = shapely.union_all(pieces).area - sum(shapely.area(pieces))
            assert abs(overlap) <= 1e-9


def test_engine_layers_keep_full_resolution(yuncheng, layers):
    before = {k: hashlib.sha256(b"".join(shapely.to_wkb(v.frame.geometry.values))).hexdigest() for k, v in layers.layers.items()}
    simplified_levels(yuncheng, levels_for(35.0))
    after = {k: hashlib.sha256(b"".join(shapely.to_wkb(v.frame.geometry.values))).hexdigest() for k, v in layers.layers.items()}
    assert before == after


def test_vendored_assets_match_their_manifest():
    import json

    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert {"leaflet", "leaflet-measure"} <= set(manifest)
    for package, entry in manifest.items():
        assert entry["license"] and entry["version"] and entry["tarball_integrity"].startswith("sha512-")
        assert "LICENSE" in entry["files"]
        for relative in entry["files"]:
            assert asset_bytes(package, relative)  # raises if the file no longer matches its sha256


def _siting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=600)


def test_map_command_writes_html_png_and_pdf(layers, tmp_path):
    done = _siting("map", "--region", "绛县", "--out", str(tmp_path / "绛县.html"), "--png", str(tmp_path / "绛县.png"),
                   "--pdf", str(tmp_path / "绛县.pdf"))
    assert done.returncode == 0, done.stderr
    assert "绛县（140826）" in done.stdout and "平方千米" in done.stdout
    for name in ("绛县.html", "绛县.png", "绛县.pdf"):
        assert (tmp_path / name).stat().st_size > 10_000


@pytest.mark.parametrize("args, field", [
    (["--region", "城区", "--out", "x.html"], "--region"),
    (["--region", "绛县", "--out", "x.png"], "--out"),
    (["--region", "绛县"], "--out"),
    (["--region", "绛县", "--layers", "no_such_layer", "--out", "x.html"], "--layers"),
    (["--region", "绛县", "--out", "x.html", "--basemap", "tianditu"], "--tianditu-key"),
    (["--region", "绛县", "--out", "x.html", "--basemap", "google"], "--basemap"),
])
def test_map_command_bad_input_names_the_field(layers, tmp_path, monkeypatch, args, field):
    monkeypatch.delenv("TIANDITU_KEY", raising=False)
    done = subprocess.run([sys.executable, "-m", "siting", "map", *args], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 2
    assert field in done.stderr and "Traceback" not in done.stderr
