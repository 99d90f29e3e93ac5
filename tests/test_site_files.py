"""Land polygons and lines as applicants hand them in, read and checked end to end."""

import json
import subprocess
import sys
import zipfile

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers import catalog
from layers.io.site_files import read_site
from spatial.checker import check
from spatial.errors import FieldKey, InputError
from spatial.layer import project
from spatial.rules import Stage, Verdict
from tests.sites import site_near

GK37_PREFIXED, GK111 = 4525, 4546


@pytest.fixture(scope="module")
def parcel(layers):
    """A 300 m square parcel centred 400 m from the Fen in 新绛 (WGS84)."""
    centre = project(site_near(layers, "fen_river", "140825", 400), 4326, GK111)
    square = shapely.box(centre.x - 150, centre.y - 150, centre.x + 150, centre.y + 150)
    return project(square, GK111, 4326)


def write_ovi_kmz(path, polygon):
    """A KMZ the way 奥维地图 exports one: doc.kml with a folder, styles and Chinese names."""
    coordinates = " ".join(f"{x:.9f},{y:.9f},0" for x, y in polygon.exterior.coords)
    kml = f"""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">
<Document><name>奥维互动地图</name>
<Style id="red"><LineStyle><color>ff0000ff</color><width>2</width></LineStyle><PolyStyle><color>400000ff</color></PolyStyle></Style>
<Folder><name>项目用地红线</name>
<Placemark><name>一号地块（造纸项目）</name><description>用地面积约9公顷</description><styleUrl>#red</styleUrl>
<Polygon><outerBoundaryIs><LinearRing><coordinates>{coordinates}</coordinates></LinearRing></outerBoundaryIs></Polygon>
</Placemark></Folder></Document></kml>"""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("doc.kml", kml.encode("utf-8"))


def gbk_shapefile(directory, polygon, epsg, keep_prj=True, keep_cpg=False):
    frame = gpd.GeoDataFrame({"名称": ["一号地块"], "用途": ["工业用地"]}, geometry=[polygon], crs=4326).to_crs(epsg)
    path = directory / "用地红线.shp"
    frame.to_file(path, encoding="gbk")
    if not keep_prj:
        path.with_suffix(".prj").unlink()
    if not keep_cpg and path.with_suffix(".cpg").exists():
        path.with_suffix(".cpg").unlink()
    return path


def checked(layers, rules, site, industry="造纸"):
    return check(site, catalog.taxonomy().resolve(industry), Stage.NEW, rules, layers)


def fen_finding(result):
    return next(f for f in result.findings if f.rule.id == "YC21-3.1-fen-2km")


def test_ovi_kmz_parcel_is_prohibited_with_its_overlap(tmp_path, layers, rules, parcel):
    path = tmp_path / "用地红线.kmz"
    write_ovi_kmz(path, parcel)
    site = read_site(path)
    assert site.geometry.symmetric_difference(parcel).area / parcel.area < 1e-6
    hit = fen_finding(checked(layers, rules, site.geometry))
    assert hit.inside and hit.verdict is Verdict.PROHIBITED
    assert hit.overlap["share"] == pytest.approx(1.0) and hit.overlap["area_m2"] == pytest.approx(90_000, rel=0.001)
    assert hit.distance_m < 400


def test_gbk_shapefile_with_gk_prj_reads_attributes_and_coordinates(tmp_path, layers, rules, parcel):
    path = gbk_shapefile(tmp_path, parcel, GK37_PREFIXED)
    site = read_site(path)
    assert "zone 37" in site.crs
    assert shapely.equals_exact(shapely.normalize(site.geometry), shapely.normalize(parcel), tolerance=1e-8)
    assert gpd.read_file(path, encoding="gbk")["名称"].item() == "一号地块"
    assert checked(layers, rules, site.geometry).overall is Verdict.PROHIBITED


def test_zipped_shapefile_without_prj_needs_or_infers_its_crs(tmp_path, parcel):
    shp = gbk_shapefile(tmp_path, parcel, GK111, keep_prj=False)
    archive = tmp_path / "红线.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for member in tmp_path.glob("用地红线.*"):
            bundle.write(member, member.name)
    with pytest.raises(InputError) as error:
        read_site(archive)  # easting without zone number: zone 37 or 38?
    assert "带号" in error.value.fix_zh and error.value.field == FieldKey.SITE_FILE
    site = read_site(archive, "EPSG:4546")
    assert shapely.equals_exact(shapely.normalize(site.geometry), shapely.normalize(parcel), tolerance=1e-8)
    assert shp.exists()


@pytest.mark.filterwarnings("ignore:.crs. was not provided")  # the CAD file deliberately has no CRS
def test_geojson_gpkg_and_dxf_line_read_the_same_geometry(tmp_path, layers, rules, parcel):
    for suffix in (".geojson", ".gpkg"):
        path = tmp_path / f"site{suffix}"
        gpd.GeoDataFrame({"name": ["地块"]}, geometry=[parcel], crs=4326).to_file(path)
        assert read_site(path).geometry.symmetric_difference(parcel).area / parcel.area < 1e-6
    # A pipeline crossing the Fen, drawn in CAD (DXF, GK coordinates, no CRS in the file).
    fen = shapely.union_all(layers.layers["fen_river"].frame.geometry.values)
    centre = parcel.centroid
    nearest = shapely.shortest_line(centre, fen).coords[1]
    line = shapely.LineString([(centre.x, centre.y), (2 * nearest[0] - centre.x, 2 * nearest[1] - centre.y)])
    dxf = tmp_path / "管线.dxf"
    gpd.GeoDataFrame(geometry=[project(line, 4326, GK111)], crs=None).to_file(dxf, driver="DXF")
    site = read_site(dxf, "EPSG:4546")
    hit = fen_finding(checked(layers, rules, site.geometry))
    assert hit.inside and hit.distance_m == pytest.approx(0, abs=1e-6)
    # Every point of the 800 m line lies within 2 km of the Fen: its share in the zone is its share in 运城 (汾河运城段).
    in_yuncheng = project(shapely.intersection(line, layers.admin_area("140800")), 4326, GK111).length / project(line, 4326, GK111).length
    assert hit.overlap["share"] == pytest.approx(in_yuncheng, abs=2e-3) and hit.overlap["length_m"] > 0


def test_parcel_straddling_the_2km_line_reports_its_share(layers, rules):
    centre = project(site_near(layers, "fen_river", "140825", 2000), 4326, GK111)
    square = project(shapely.box(centre.x - 100, centre.y - 100, centre.x + 100, centre.y + 100), GK111, 4326)
    hit = fen_finding(checked(layers, rules, square))
    assert hit.inside and 0.2 < hit.overlap["share"] < 0.8
    assert hit.overlap["area_m2"] == pytest.approx(hit.overlap["share"] * 40_000, rel=0.01)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_boundary_point_table_in_gauss_kruger(tmp_path, parcel, suffix):
    xs, ys = np.array(project(parcel, 4326, GK37_PREFIXED).exterior.coords[:-1]).T
    table = gpd.pd.DataFrame({"点号": [f"J{i + 1}" for i in range(len(xs))], "X": ys.round(3), "Y": xs.round(3)})
    path = tmp_path / f"界址点{suffix}"
    if suffix == ".csv":
        path.write_bytes(table.to_csv(index=False).encode("gbk"))
    else:
        gpd.GeoDataFrame(table).to_file(path, driver="XLSX")
    site = read_site(path)
    assert site.features == 4 and any("闭合" in note for note in site.notes)
    # Coordinates rounded to the millimetre: the outline moves by well under a square metre.
    assert site.geometry.symmetric_difference(parcel).area / parcel.area < 2e-5


def test_self_intersecting_parcel_is_repaired_with_a_note(tmp_path, parcel):
    (x0, y0, x1, y1) = parcel.bounds
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1), (x0, y0)])
    path = tmp_path / "bowtie.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(bowtie)}]}))
    site = read_site(path)
    assert site.geometry.is_valid and any("已自动修复" in note for note in site.notes)


def _siting(*args):
    return subprocess.run([sys.executable, "-m", "siting", "check", "--industry", "造纸", *args],
                          capture_output=True, text=True, timeout=300)


def test_bad_site_inputs_exit_2_with_a_named_error(tmp_path, layers):
    empty = tmp_path / "空.kml"
    empty.write_text('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>')
    no_shp = tmp_path / "no_shp.zip"
    with zipfile.ZipFile(no_shp, "w") as archive:
        archive.writestr("readme.txt", "nothing here")
    unclosed = tmp_path / "unclosed.geojson"
    unclosed.write_text(json.dumps({"type": "Polygon", "coordinates": [[[111.15, 35.57], [111.16, 35.57], [111.16, 35.58]]]}))
    cases = [
        (["--site", str(empty)], "没有任何几何要素"),
        (["--site", str(no_shp)], "没有 .shp"),
        (["--site", str(unclosed)], "未闭合"),
        (["--at", "111.2, 3x5.5"], "无法识别"),
        (["--at", "111.2, 91"], "纬度"),
        (["--at", "111.2, 35.5", "--lon", "111.2", "--lat", "35.5"], "只给出一种场址"),
    ]
    for args, says in cases:
        done = _siting(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert says in done.stderr and "Input error" in done.stderr and "Traceback" not in done.stderr, args


def test_cli_echoes_the_site_as_understood(layers):
    done = _siting("--at", "X=3938552.8 Y=37514297.0", "--format", "json")
    assert done.returncode == 0, done.stderr
    site = json.loads(done.stdout)["site"]
    assert site["input"]["crs"].startswith("EPSG:4525") and site["input"]["inferred"] is True
    assert site["gk_zone"]["epsg"] == 4546 and site["gk_zone"]["x_easting"] == pytest.approx(514297.0, abs=0.01)
