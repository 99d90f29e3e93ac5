"""Importing agency layers as they arrive: they replace the defaults at once, are cited by
the next check with their file hash, and bad files leave the catalog untouched."""

from __future__ import annotations

import json

import geopandas as gpd
import osmium
import pandas as pd
import pytest
import shapely

from layers import user_catalog
from layers.build import load_layers
from siting.cli.main import main
from spatial.layer import project
from tests.sites import site_in_zone

JIANGXIAN = "140826"
GK_ZONE_37 = 4525  # CGCS2000 3-degree GK zone 37: the zone number prefixes the easting


@pytest.fixture(scope="module")
def agency_units(layers):
    """Two units splitting 绛县 at its seat's meridian: a priority west, a key east."""
    county = layers.admin_area(JIANGXIAN)
    x0, y0, x1, y1 = county.bounds
    cut = 111.567
    west = shapely.intersection(county, shapely.box(x0 - 1, y0 - 1, cut, y1 + 1))
    east = shapely.intersection(county, shapely.box(cut, y0 - 1, x1 + 1, y1 + 1))
    return gpd.GeoDataFrame(
        {"HJGKDYBM": ["ZH14082610007", "ZH14082620009"], "DYMC": ["绛县西部山区优先保护单元", "绛县东部重点管控单元"],
         "GKLB": ["优先保护单元", "重点管控单元"]},
        geometry=[west, east], crs=4326,
    )


def write_gbk_shapefile(frame, directory, name="环境管控单元", epsg=GK_ZONE_37, keep_prj=True):
    path = directory / f"{name}.shp"
    frame.to_crs(epsg).to_file(path, encoding="gbk")
    path.with_suffix(".cpg").unlink(missing_ok=True)  # agencies' files often have none: GBK told from the bytes
    if not keep_prj:
        path.with_suffix(".prj").unlink()
    return path


def write_access_list(directory):
    rows = [
        ("ZH14082610007", "空间布局约束", "禁止新建、扩建工业项目（测试清单）。"),
        ("ZH14082610007", "污染物排放管控", "现有源排放只减不增（测试清单）。"),
        ("ZH14082620009", "空间布局约束", "新建项目须入园（测试清单）。"),
    ]
    path = directory / "准入清单.xlsx"
    pd.DataFrame(rows, columns=["环境管控单元编码", "管控维度", "管控要求"]).to_excel(path, index=False)
    return path


def siting(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_gbk_gk_units_replace_the_demonstration_units_and_are_cited(tmp_path, user_dir, agency_units, capsys):
    shp = write_gbk_shapefile(agency_units, tmp_path)
    access = write_access_list(tmp_path)
    code, out, err = siting(capsys, "layers", "import", str(shp), "--kind", "units", "--field", "code=HJGKDYBM",
                            "--field", "name=DYMC", "--field", "class=GKLB", "--access-list", str(access),
                            "--source", "绛县三线一单成果（测试）")
    assert code == 0, err
    assert "units_priority：1 个要素" in out and "EPSG:4525" in out

    layers = load_layers()
    priority = layers.layers["units_priority"]
    assert list(priority.frame["code"]) == ["ZH14082610007"] and not priority.provenance.demonstration
    shp_hash = next(f["sha256"] for f in priority.provenance.imported["files"] if f["name"] == shp.name)
    assert shp_hash in out

    west = shapely.point_on_surface(agency_units.geometry.iloc[0])
    code, out, err = siting(capsys, "check", "--lon", str(west.x), "--lat", str(west.y), "--industry", "化工", "--format", "json")
    result = json.loads(out)
    (unit,) = result["units"]
    assert unit["code"] == "ZH14082610007" and unit["name"] == "绛县西部山区优先保护单元"
    assert unit["access_list"]["空间布局约束"] == "禁止新建、扩建工业项目（测试清单）。" and not unit["demonstration"]
    cited = next(layer for layer in result["layers"] if layer["id"] == "units_priority")
    assert cited["imported"]["files"][0]["name"] == shp.name and cited["source"] == "绛县三线一单成果（测试）"

    code, out, err = siting(capsys, "check", "--lon", str(west.x), "--lat", str(west.y), "--industry", "化工")
    assert shp.name in out and shp_hash[:16] in out and "ZH14082610007" in out


def test_units_without_a_class_column_take_the_class_from_the_code(tmp_path, user_dir, agency_units, capsys):
    shp = write_gbk_shapefile(agency_units.drop(columns="GKLB"), tmp_path)
    code, _, err = siting(capsys, "layers", "import", str(shp), "--kind", "units", "--field", "code=HJGKDYBM", "--field", "name=DYMC")
    assert code == 0, err
    layers = load_layers()
    assert list(layers.layers["units_key"].frame["code"]) == ["ZH14082620009"]
    assert layers.layers["units_general"].frame.empty  # the agency's file has none: the demonstration units are gone too


def test_an_invalid_polygon_is_repaired_and_counted(tmp_path, user_dir, layers, capsys):
    centre = shapely.point_on_surface(layers.admin_area(JIANGXIAN))
    epsg = 4546
    c = project(centre, 4326, epsg)
    bowtie = shapely.Polygon([(c.x, c.y), (c.x + 2000, c.y + 2000), (c.x + 2000, c.y), (c.x, c.y + 2000)])
    frame = gpd.GeoDataFrame({"名称": ["自相交红线"]}, geometry=[bowtie], crs=epsg).to_crs(4326)
    shp = write_gbk_shapefile(frame, tmp_path, name="生态保护红线")
    code, out, err = siting(capsys, "layers", "import", str(shp), "--kind", "redline")
    assert code == 0, err
    assert "1 个要素几何无效" in out
    red_line = load_layers().layers["eco_redline"].frame.geometry.iloc[0]
    assert red_line.is_valid and project(red_line, 4326, epsg).area == pytest.approx(2 * 1000 * 1000, rel=1e-3)


@pytest.mark.parametrize("case", ["no_prj", "unmapped_field", "wrong_crs", "lines_for_polygons"])
def test_a_bad_file_gives_a_named_error_and_leaves_the_catalog_whole(tmp_path, user_dir, agency_units, capsys, case):
    (tmp_path / "good").mkdir()
    good = write_gbk_shapefile(agency_units, tmp_path / "good")
    assert siting(capsys, "layers", "import", str(good), "--kind", "units", "--field", "code=HJGKDYBM", "--field", "name=DYMC")[0] == 0
    before = (user_dir / "catalog" / "catalog.json").read_bytes()
    files_before = sorted(p.name for p in (user_dir / "catalog" / "layers").iterdir())
    args = {"no_prj": ["--kind", "units", "--field", "code=HJGKDYBM", "--field", "name=DYMC"],
            "unmapped_field": ["--kind", "units", "--field", "name=DYMC"],
            "wrong_crs": ["--kind", "units", "--field", "code=HJGKDYBM", "--field", "name=DYMC", "--crs", "EPSG:4490"],
            "lines_for_polygons": ["--kind", "units", "--field", "code=HJGKDYBM", "--field", "name=DYMC"]}[case]
    frame = agency_units.set_geometry(agency_units.boundary) if case == "lines_for_polygons" else agency_units
    if case == "unmapped_field":
        frame = frame.rename(columns={"HJGKDYBM": "BM"})  # a column name no alias knows
    shp = write_gbk_shapefile(frame, tmp_path, keep_prj=case != "no_prj")
    code, _, err = siting(capsys, "layers", "import", str(shp), *args)
    assert code == 2 and "Traceback" not in err
    expected = {"no_prj": (".prj", "--crs"), "unmapped_field": ("code（单元编码）", "BM", "--field code="),
                "wrong_crs": ("不在山西省附近", "--crs"), "lines_for_polygons": ("应为面", "2 个线要素")}[case]
    assert all(text in err for text in expected), err
    assert (user_dir / "catalog" / "catalog.json").read_bytes() == before
    assert sorted(p.name for p in (user_dir / "catalog" / "layers").iterdir()) == files_before


def test_remove_reverts_to_the_default_and_validate_reports_missing_layers(tmp_path, user_dir, agency_units, capsys):
    shp = write_gbk_shapefile(agency_units, tmp_path)
    siting(capsys, "layers", "import", str(shp), "--kind", "units", "--field", "code=HJGKDYBM", "--field", "name=DYMC")
    code, out, _ = siting(capsys, "layers", "validate", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["problems"] == [] and "units_key" not in report["demonstration"]
    missing = {entry["id"]: entry for entry in report["missing"]}
    assert "dw_source_level1" in missing and missing["dw_source_level1"]["rules"]

    index = user_catalog.read_index(user_dir)
    stored = user_dir / "catalog" / "layers" / index["layers"]["units_key"]["file"]
    stored.write_bytes(stored.read_bytes() + b"tampered")
    code, out, _ = siting(capsys, "layers", "validate")
    assert code == 3 and "哈希与导入时不符" in out

    code, out, _ = siting(capsys, "layers", "remove", "units_key")
    assert code == 0 and all(layer_id in out for layer_id in ("units_priority", "units_key", "units_general"))
    assert load_layers().layers["units_key"].provenance.demonstration


def test_layers_list_json_shows_kind_and_provenance(tmp_path, user_dir, agency_units, capsys):
    shp = write_gbk_shapefile(agency_units, tmp_path)
    siting(capsys, "layers", "import", str(shp), "--kind", "units", "--field", "code=HJGKDYBM", "--field", "name=DYMC",
           "--authoritative", "--accuracy", "2.5")
    code, out, _ = siting(capsys, "layers", "list", "--format", "json")
    assert code == 0
    rows = {row["id"]: row for row in json.loads(out)["layers"]}
    assert rows["units_key"]["kind"] == "units" and rows["units_key"]["status"] == "imported"
    assert rows["units_key"]["provenance"]["authoritative"] and rows["units_key"]["provenance"]["accuracy_m"] == 2.5
    assert rows["eco_redline"]["status"] == "demonstration" and rows["dw_source_level1"]["status"] == "missing"


def test_an_imported_red_line_makes_a_site_near_its_edge_a_boundary_case(tmp_path, user_dir, layers, capsys):
    centre = project(site_in_zone(layers, "eco_redline", JIANGXIAN), 4326, 4546)
    square = shapely.box(centre.x - 1000, centre.y - 1000, centre.x + 1000, centre.y + 1000)
    frame = gpd.GeoDataFrame({"名称": ["测试红线"]}, geometry=[square], crs=4546).to_crs(4326)
    shp = write_gbk_shapefile(frame, tmp_path, name="红线")
    siting(capsys, "layers", "import", str(shp), "--kind", "redline", "--accuracy", "20")
    near = project(shapely.Point(centre.x + 1010, centre.y), 4546, 4326)  # 10 m outside, accuracy ±20 m
    code, out, _ = siting(capsys, "check", "--lon", f"{near.x:.8f}", "--lat", f"{near.y:.8f}", "--industry", "化工", "--format", "json")
    assert code == 0
    hit = next(f for f in json.loads(out)["findings"] if f["rule"] == "NAT19-redline-no-development")
    assert not hit["inside"] and hit["boundary_case"] and hit["verdict"] == "review"
    assert hit["distance_m"] == pytest.approx(10, abs=0.5)


def write_osm_extract(path, rivers: dict[str, shapely.LineString]):
    """An .osm.pbf with a waterway=river way per river part (nodes first, as OSM files are ordered)."""
    node_id = 1
    ways = []
    with osmium.SimpleWriter(str(path)) as writer:
        for name, line in rivers.items():
            for part in shapely.get_parts(line):
                refs = []
                for x, y in shapely.get_coordinates(part):
                    writer.add_node(osmium.osm.mutable.Node(id=node_id, location=(x, y), version=1))
                    refs.append(node_id)
                    node_id += 1
                ways.append((name, refs))
        for way_id, (name, refs) in enumerate(ways, 1):
            tags = {"waterway": "river", "name": f"{name} {name}", "name:zh": name}
            writer.add_way(osmium.osm.mutable.Way(id=way_id, nodes=refs, tags=tags, version=1))


def test_osm_rivers_replace_the_1_to_4m_fen_and_tighten_its_boundary_band(tmp_path, user_dir, layers, capsys):
    from tests.sites import site_near

    fen = shapely.line_merge(shapely.union_all(layers.layers["fen_river"].frame.geometry.values))
    decoy = shapely.LineString([(112.0, 37.0), (112.1, 37.1)])
    extract = tmp_path / "shanxi.osm.pbf"
    write_osm_extract(extract, {"汾河": fen, "文峪河": decoy})
    code, out, err = siting(capsys, "layers", "import-osm", str(extract), "--river", "汾河")
    assert code == 0, err
    imported = load_layers().layers["fen_river"]
    assert "OpenStreetMap" in imported.provenance.source and imported.provenance.accuracy_m == 30
    assert imported.provenance.midline_to_bank_m == 150
    assert project(imported.frame.geometry.iloc[0], 4326, 4546).length == pytest.approx(project(fen, 4326, 4546).length, rel=0.01)

    verdicts = {}
    for distance in (2100, 2300):  # outside the 2 km strip by 100 m and by 300 m
        site = site_near(layers, "fen_river", "140825", distance)
        _, out, _ = siting(capsys, "check", "--lon", f"{site.x:.8f}", "--lat", f"{site.y:.8f}", "--industry", "造纸", "--format", "json")
        hit = next(f for f in json.loads(out)["findings"] if f["rule"] == "YC21-3.1-fen-2km")
        verdicts[distance] = (hit["boundary_case"], hit["verdict"])
    # ±30 m line plus 150 m to the bank: 100 m out is still a boundary case, 300 m out is clear
    # (on the 1:4M default, accurate to ±1 km, both would be boundary cases).
    assert verdicts == {2100: (True, "review"), 2300: (False, "compliant")}

    code, _, err = siting(capsys, "layers", "import-osm", str(extract), "--river", "涑水河")
    assert code == 2 and "文峪河" in err and "汾河" in err


@pytest.mark.parametrize("suffix, driver, epsg", [(".gpkg", "GPKG", 4490), (".geojson", "GeoJSON", 4326),
                                                  (".gdb", "OpenFileGDB", 4546), (".kml", "LIBKML", 4326)])
def test_red_line_reads_alike_from_every_agency_format(tmp_path, user_dir, layers, capsys, suffix, driver, epsg):
    centre = project(site_in_zone(layers, "eco_redline", JIANGXIAN), 4326, 4546)
    ring = shapely.Point(centre.x, centre.y).buffer(1500).difference(shapely.Point(centre.x, centre.y).buffer(500))
    frame = gpd.GeoDataFrame({"name": ["环形红线（含洞）"]}, geometry=[ring], crs=4546)
    path = tmp_path / f"红线{suffix}"
    frame.to_crs(epsg).to_file(path, driver=driver)
    code, _, err = siting(capsys, "layers", "import", str(path), "--kind", "redline")
    assert code == 0, err
    stored = load_layers().layers["eco_redline"].frame
    assert stored["name"].iloc[0] == "环形红线（含洞）"  # Chinese attributes intact
    area = project(stored.geometry.iloc[0], 4326, 4546).area
    holes = shapely.get_num_interior_rings(shapely.get_parts(stored.geometry.iloc[0])).sum()
    assert area == pytest.approx(ring.area, rel=1e-4) and holes == 1


def test_water_source_zones_split_by_level_and_reach_their_rules(tmp_path, user_dir, layers, capsys):
    centre = project(shapely.point_on_surface(layers.admin_area(JIANGXIAN)), 4326, 4546)
    disks = [shapely.Point(centre.x, centre.y).buffer(r) for r in (300, 1500, 4000)]
    rings = [disks[0], disks[1].difference(disks[0]), disks[2].difference(disks[1])]
    frame = gpd.GeoDataFrame({"SYDMC": ["测试水源地"] * 3, "BHQJB": ["一级保护区", "二级保护区", "准保护区"]},
                             geometry=rings, crs=4546)
    path = tmp_path / "水源保护区.gpkg"
    frame.to_file(path)
    code, out, err = siting(capsys, "layers", "import", str(path), "--kind", "water_source")
    assert code == 0, err
    loaded = load_layers().layers
    assert [len(loaded[i].frame) for i in ("dw_source_level1", "dw_source_level2", "dw_source_quasi", "drinking_water_zones")] == [1, 1, 1, 3]
    site = project(shapely.Point(centre.x + 100, centre.y), 4546, 4326)
    code, out, _ = siting(capsys, "check", "--lon", f"{site.x:.8f}", "--lat", f"{site.y:.8f}", "--industry", "化工", "--format", "json")
    assert code == 0
    inside = {f["layer"] for f in json.loads(out)["findings"] if f["inside"]}
    assert {"dw_source_level1", "drinking_water_zones"} <= inside and "dw_source_level2" not in inside

    nameless = gpd.GeoDataFrame({"名称": ["保护地"]}, geometry=[rings[2]], crs=4546)
    nameless.to_file(tmp_path / "保护地.geojson")
    code, out, err = siting(capsys, "layers", "import", str(tmp_path / "保护地.geojson"), "--kind", "nature_reserves")
    assert code == 0 and "分区图层未导入" in out, err
    assert "nature_reserve_core" in load_layers().missing  # no 功能分区: the core zone is not guessed

    code, _, err = siting(capsys, "layers", "import", str(tmp_path / "保护地.geojson"), "--kind", "water_source")
    assert code == 2 and "level（保护区级别）" in err
