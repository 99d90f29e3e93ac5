"""Industry siting maps: every place of a region in the class `siting check` gives a site there.

The decisive property: random points (and points just either side of class edges) of a
region, checked one by one by ``spatial.checker.check``, get the verdict of the class
polygon they fall in. Points within a few metres of a class edge are left out: the two
sides compute the same edge by different geometry (exact distances vs. buffered arcs).
"""

from __future__ import annotations

import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from layers import catalog
from layers.build import load_layers
from maps.region import resolve_region
from spatial.checker import check
from spatial.layer import project
from spatial.rules import Stage, Verdict
from spatial.siting_classes import CLASS_CODES, CLASS_NAMES, CLASSES, RegionClassifier, SitingClasses

EDGE_SKIP_M = 5.0  # points nearer a class edge than this are not compared


def siting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def classifiers(layers, rules) -> dict[str, RegionClassifier]:
    found = {}
    for name in ("运城市", "绛县", "晋城市城区"):
        region = resolve_region(name, layers)
        found[name] = RegionClassifier(region.code, region.geometry, rules, layers)
    return found


def _random_points(result: SitingClasses, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points in the region (GK), plus points 12 m either side of random class edges."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = result.region.bounds
    x = rng.uniform(minx, maxx, count * 3)
    y = rng.uniform(miny, maxy, count * 3)
    keep = shapely.contains_xy(result.region, x, y)
    x, y = x[keep][:count], y[keep][:count]
    edges = shapely.get_parts(shapely.boundary(np.array([c.geometry for c in result.classes if not c.geometry.is_empty])))
    lines = shapely.line_merge(shapely.multilinestrings(edges))
    along = shapely.line_interpolate_point(lines, rng.uniform(0, 1, count // 2), normalized=True)
    ex, ey = shapely.get_x(along), shapely.get_y(along)
    angle = rng.uniform(0, 2 * np.pi, len(ex))
    ex = np.concatenate([ex + 12 * np.cos(angle), ex - 12 * np.cos(angle)])
    ey = np.concatenate([ey + 12 * np.sin(angle), ey - 12 * np.sin(angle)])
    return np.concatenate([x, ex]), np.concatenate([y, ey])


def _compare(result: SitingClasses, layers, rules, x: np.ndarray, y: np.ndarray) -> int:
    """Check every point away from class edges; assert its verdict is its class. Returns how many were compared."""
    severity, to_edge = result.class_at(x, y)
    lonlat = shapely.get_coordinates(project(shapely.multipoints(np.column_stack([x, y])), result.epsg, 4326))
    compared = 0
    mismatches = []
    for i in np.flatnonzero((severity >= 0) & (to_edge > EDGE_SKIP_M)):
        lon, lat = lonlat[i]
        if not shapely.contains_xy(layers.admin_area(result.region_code), lon, lat):
            continue  # just outside the region (an edge point's offset)
        verdict = check(shapely.Point(lon, lat), result.industry, result.stage, rules, layers).overall
        compared += 1
        if verdict.severity != severity[i]:
            mismatches.append((round(lon, 6), round(lat, 6), verdict.value, list(Verdict)[severity[i]].value,
                               round(float(to_edge[i]), 1)))
    assert mismatches == []
    return compared


def _zone_edge_points(layers, result: SitingClasses, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points 12 m either side of the edges of every loaded zone reaching the region (class edges are not all of them:
    a zone edge inside its own review band, or under a stronger class, is not one)."""
    rng = np.random.default_rng(seed)
    area = layers.admin_area(result.region_code)
    edges = []
    for layer in layers.layers.values():
        geometries = layer.frame.geometry.values
        geometries = geometries[shapely.intersects(geometries, area)]
        polygonal = shapely.get_type_id(geometries) >= 3
        edges += [*shapely.boundary(geometries[polygonal]), *geometries[~polygonal]]
    lines = shapely.intersection(np.asarray(project(np.asarray(edges, dtype=object), 4326, result.epsg), dtype=object), result.region)
    lines = lines[shapely.length(lines) > 0]
    lengths = shapely.length(lines)
    pick = rng.choice(len(lines), size=count, p=lengths / lengths.sum())
    along = shapely.line_interpolate_point(lines[pick], rng.uniform(0, 1, count), normalized=True)
    angle = rng.uniform(0, 2 * np.pi, count)
    x, y = shapely.get_x(along), shapely.get_y(along)
    return np.concatenate([x + 12 * np.cos(angle), x - 12 * np.cos(angle)]), np.concatenate([y + 12 * np.sin(angle), y - 12 * np.sin(angle)])


def test_two_thousand_points_and_both_sides_of_every_edge_get_the_class_a_check_gives_them(classifiers, layers, rules):
    """The issue's sample: 2,000 random points of 运城市, plus 2 × 600 beside class (band) edges and 2 × 600 beside zone edges."""
    result = classifiers["运城市"].classify(catalog.taxonomy().resolve("焦化"), Stage.NEW)
    x, y = _random_points(result, 2000, seed=17)
    zx, zy = _zone_edge_points(layers, result, 600, seed=18)
    assert _compare(result, layers, rules, x[:2000], y[:2000]) >= 1990  # the random points
    assert _compare(result, layers, rules, x[2000:], y[2000:]) >= 900  # beside class edges, most beyond EDGE_SKIP_M
    assert _compare(result, layers, rules, zx, zy) >= 900


@pytest.mark.parametrize(("region", "industry", "stage", "count"), [
    ("运城市", "焦化", Stage.EXISTING, 120),
    ("运城市", "造纸", Stage.NEW, 120),
    ("绛县", "焦化", Stage.NEW, 120),
    ("晋城市城区", "电镀", Stage.NEW, 120),
])
def test_each_point_gets_the_class_a_check_gives_it(classifiers, layers, rules, region, industry, stage, count):
    result = classifiers[region].classify(catalog.taxonomy().resolve(industry), stage)
    x, y = _random_points(result, count, seed=hash((region, industry, stage.value)) % 2**32)
    compared = _compare(result, layers, rules, x, y)
    assert compared >= count  # the random points and the points beside edges were really compared


def test_classes_partition_the_region(classifiers):
    result = classifiers["运城市"].classify(catalog.taxonomy().resolve("焦化"), Stage.NEW)
    assert sum(c.area_km2 for c in result.classes) == pytest.approx(result.region_km2, rel=1e-6)
    geometries = [c.geometry for c in result.classes if not c.geometry.is_empty]
    overlap = sum(shapely.area(shapely.intersection(a, b)) for i, a in enumerate(geometries) for b in geometries[i + 1:])
    assert overlap < 1.0  # square metres: the classes do not overlap
    prohibited = result.of(Verdict.PROHIBITED)
    assert prohibited.area_km2 > 100 and "YC21-3.1-fen-2km" in prohibited.rules
    assert all(rule in result.rules for c in result.classes for rule in c.rules)
    shares = result.shares()
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-6)


def test_cli_writes_gis_files_that_agree_with_the_vectors(layers, rules, classifiers, tmp_path):
    out = {name: tmp_path / name for name in ("jx.html", "jx.png", "jx.tif", "jx.gpkg", "jx.csv")}
    done = siting("map", "--region", "绛县", "--industry", "焦化", "--stage", "新建", "--res", "50",
                  "--out", str(out["jx.html"]), "--png", str(out["jx.png"]), "--tif", str(out["jx.tif"]),
                  "--gpkg", str(out["jx.gpkg"]), "--table", str(out["jx.csv"]))
    assert done.returncode == 0, done.stderr
    assert "禁止" in done.stdout and "各类别依据条款" in done.stdout and "YC21-3.1-planning-area-new" in done.stdout
    result = classifiers["绛县"].classify(catalog.taxonomy().resolve("焦化"), Stage.NEW)

    classes = gpd.read_file(out["jx.gpkg"], layer="classes")
    assert classes.crs.to_epsg() == result.epsg
    present = [c for c in result.classes if not c.geometry.is_empty]
    assert list(classes["class"]) == [c.name for c in present]  # one multipolygon per class
    assert set(classes.geom_type) == {"MultiPolygon"}
    for row, cls in zip(classes.itertuples(), present, strict=True):
        assert row.area_km2 == pytest.approx(cls.area_km2, abs=1e-3)
        assert row.rules.split(",") == cls.rules if cls.rules else row.rules == ""
        assert shapely.area(row.geometry) / 1e6 == pytest.approx(cls.area_km2, rel=1e-6)
    assert "YC21-3.1-planning-area-new" in classes.loc[classes["class"] == "禁止", "rules"].iloc[0]
    assert "绛县" in classes.loc[classes["class"] == "限制", "plans"].iloc[0]
    missing = gpd.read_file(out["jx.gpkg"], layer="not_evaluated")
    assert len(missing) and missing["reason"].str.contains("缺少图层").any()

    with rasterio.open(out["jx.tif"]) as tif:
        assert tif.crs.to_epsg() == result.epsg
        assert tif.res == (50.0, 50.0) and tif.dtypes[0] == "uint8"
        assert tif.profile["compress"] == "deflate" and tif.profile["tiled"]
        colours = tif.colormap(1)
        tags = tif.tags()
        codes = tif.read(1)
        transform = tif.transform
    for verdict in CLASSES:
        assert tags[f"CLASS_{CLASS_CODES[verdict]}"].startswith(CLASS_NAMES[verdict])
    assert colours[CLASS_CODES[Verdict.PROHIBITED]][:3] == (0xC0, 0x39, 0x2B)
    assert "焦化" in tags["INDUSTRY"] and "siting map --region 140826" in tags["PROVENANCE"]
    # The raster's class at sampled points is the vector class, except within one cell of an edge.
    x, y = _random_points(result, 2000, seed=7)
    severity, to_edge = result.class_at(x, y)
    rows, cols = rasterio.transform.rowcol(transform, x, y)
    rows, cols = np.asarray(rows), np.asarray(cols)
    inside = (severity >= 0) & (to_edge > 50 * np.sqrt(2)) & (rows >= 0) & (rows < codes.shape[0]) & (cols >= 0) & (cols < codes.shape[1])
    by_severity = {v.severity: CLASS_CODES[v] for v in CLASSES}
    expected = np.array([by_severity[s] for s in severity[inside]])
    assert inside.sum() > 1000
    assert (codes[rows[inside], cols[inside]] == expected).all()

    html = out["jx.html"].read_text(encoding="utf-8")
    assert "各类别依据条款" in html and "最大的未发现限制连片区域" in html and "分类面积（按县）" in html
    assert out["jx.png"].stat().st_size > 100_000
    assert "area_km2" in out["jx.csv"].read_text(encoding="utf-8-sig").splitlines()[0]


def test_matrix_gives_every_industry_and_stage_a_share_per_class(tmp_path):
    table, figure = tmp_path / "m.xlsx", tmp_path / "m.png"
    done = siting("map", "--region", "绛县", "--matrix", str(table), "--industries", "焦化,造纸", "--png", str(figure))
    assert done.returncode == 0, done.stderr
    frame = pd.read_excel(table, engine="calamine")
    assert list(zip(frame["industry"], frame["stage"], strict=True)) == [
        ("焦化", "新建"), ("焦化", "现有"), ("造纸", "新建"), ("造纸", "现有")]
    shares = frame[[CLASS_NAMES[v] for v in CLASSES]].sum(axis=1)
    assert np.allclose(shares, 1.0, atol=1e-6)
    assert frame.loc[frame["stage"] == "新建", "禁止"].gt(0).all()  # the county plan's planning-area ban
    assert frame.loc[frame["stage"] == "现有", "禁止"].eq(0).all() or frame.loc[frame["stage"] == "现有", "退出"].gt(0).any()
    assert figure.stat().st_size > 50_000


@pytest.mark.parametrize(("args", "field", "hint"), [
    (["--region", "绛县", "--tif", "x.tif"], "--tif", "--industry"),
    (["--region", "绛县", "--industry", "焦化", "--tif", "x.png"], "--tif", ".tif"),
    (["--region", "绛县", "--industry", "焦化", "--tif", "x.tif", "--res", "0"], "--res", "正数"),
    (["--region", "绛县", "--matrix", "m.csv", "--industries", "焦化,不存在的行业"], "industry", "未识别"),
    (["--region", "绛县", "--industry", "焦化", "--matrix", "m.csv"], "--matrix", "--industries"),
    (["--region", "绛县", "--matrix", "m.csv", "--tif", "x.tif"], "--tif", "--industry"),
])
def test_bad_options_name_the_field_and_the_fix(args, field, hint, layers, tmp_path):
    done = siting("map", *[str(tmp_path / a) if a.endswith((".tif", ".png", ".csv")) else a for a in args])
    assert done.returncode != 0
    assert field in done.stderr and hint in done.stderr and "Traceback" not in done.stderr


def test_tif_cell_size_too_fine_for_the_region_says_what_to_use(classifiers):
    from siting.report.class_exports import raster_grid
    from spatial.errors import InputError

    result = classifiers["运城市"].classify(catalog.taxonomy().resolve("焦化"), Stage.NEW)
    with pytest.raises(InputError) as raised:
        raster_grid(result, 1.0)
    assert "--res" in raised.value.message


def test_industry_map_opens_offline_with_the_classes(browser, layers, tmp_path):
    from tests.test_maps import Page

    path = tmp_path / "jc.html"
    done = siting("map", "--region", "晋城市城区", "--industry", "电镀", "--out", str(path))
    assert done.returncode == 0, done.stderr
    page = Page(browser, path)
    try:
        page.assert_clean()
        overlays = page.overlays()
        assert "晋城市城区边界" in overlays and any(name in overlays for name in ("限制", "需复核", "禁止"))
        assert page.page.locator("path.leaflet-interactive").count() > 0
    finally:
        page.session.close()



def _raster_disagreements(result: SitingClasses, codes: np.ndarray, transform, x: np.ndarray, y: np.ndarray) -> tuple[int, int]:
    """(points compared, points whose cell code is not their vector class), leaving out points within one cell of an edge."""
    severity, to_edge = result.class_at(x, y)
    rows, cols = (np.asarray(v) for v in rasterio.transform.rowcol(transform, x, y))
    cell = abs(transform.a)
    inside = (severity >= 0) & (to_edge > cell * np.sqrt(2)) & (rows >= 0) & (rows < codes.shape[0]) \
        & (cols >= 0) & (cols < codes.shape[1])
    by_severity = {v.severity: CLASS_CODES[v] for v in CLASSES}
    expected = np.array([by_severity[s] for s in severity[inside]])
    return int(inside.sum()), int((codes[rows[inside], cols[inside]] != expected).sum())


def test_imported_agency_red_line_and_units_classify_as_checks_do(user_dir, layers, rules, tmp_path, capsys):
    """Agency layers imported through `siting layers import` (GBK shapefiles in GK zone 37) replace the defaults
    in the classification as in a check: 2,000 random points of 绛县 and both sides of every edge agree."""
    from siting.cli.main import main
    from siting.report.class_exports import rasterise
    from tests.test_layer_import import write_gbk_shapefile

    county = layers.admin_area("140826")
    x0, y0, x1, y1 = county.bounds
    cut = 111.567
    units = gpd.GeoDataFrame(
        {"HJGKDYBM": ["ZH14082610007", "ZH14082620009"], "DYMC": ["绛县西部山区优先保护单元", "绛县东部重点管控单元"],
         "GKLB": ["优先保护单元", "重点管控单元"]},
        geometry=[shapely.intersection(county, shapely.box(x0 - 1, y0 - 1, cut, y1 + 1)),
                  shapely.intersection(county, shapely.box(cut, y0 - 1, x1 + 1, y1 + 1))], crs=4326)
    centre = project(shapely.point_on_surface(county), 4326, 4546)
    patches = [shapely.box(centre.x + dx, centre.y + dy, centre.x + dx + 1500, centre.y + dy + 900)
               for dx, dy in ((-6000, -3000), (-4500, -3000), (2000, 1500), (5000, -5000))]  # the first two share an edge
    patches.append(shapely.Polygon([(centre.x, centre.y), (centre.x + 2500, centre.y + 400), (centre.x + 1800, centre.y + 2600),
                                    (centre.x + 300, centre.y + 1700)]))
    red_line = gpd.GeoDataFrame({"名称": [f"生态保护红线{i + 1}" for i in range(len(patches))]}, geometry=patches,
                                crs=4546).to_crs(4326)
    for args in ((str(write_gbk_shapefile(red_line, tmp_path, name="生态保护红线")), "--kind", "redline", "--accuracy", "20"),
                 (str(write_gbk_shapefile(units, tmp_path)), "--kind", "units", "--field", "code=HJGKDYBM",
                  "--field", "name=DYMC", "--field", "class=GKLB")):
        assert main(["layers", "import", *args]) == 0, capsys.readouterr().err
    imported = load_layers()
    assert imported.layers["eco_redline"].provenance.imported and len(imported.layers["eco_redline"].frame) == len(patches)
    assert list(imported.layers["units_priority"].frame["code"]) == ["ZH14082610007"]

    region = resolve_region("绛县", imported)
    result = RegionClassifier(region.code, region.geometry, rules, imported).classify(catalog.taxonomy().resolve("焦化"), Stage.NEW)
    prohibited = result.of(Verdict.PROHIBITED)
    assert "NAT19-redline-no-development" in prohibited.rules
    # Every imported patch is 禁止 (at least its part beyond the ±20 m band) and its edge band 需复核.
    for patch in patches:
        assert shapely.area(shapely.intersection(prohibited.geometry, patch)) > 0.9 * shapely.area(shapely.buffer(patch, -20))
    x, y = _random_points(result, 2000, seed=23)
    zx, zy = _zone_edge_points(imported, result, 600, seed=24)
    assert _compare(result, imported, rules, x[:2000], y[:2000]) >= 1990
    assert _compare(result, imported, rules, x[2000:], y[2000:]) >= 900
    assert _compare(result, imported, rules, zx, zy) >= 450  # many zone edges here are the county's own outline
    # Both sides of each imported patch's edge and of its ±20 m band get the class a check gives them; beyond the band, 禁止.
    for offset in (-30.0, -12.0, 12.0, 30.0):
        rings = shapely.boundary(shapely.buffer(np.array(patches, dtype=object), offset, join_style="mitre"))
        points = shapely.line_interpolate_point(rings[:, None], np.linspace(0, 1, 40, endpoint=False)[None, :], normalized=True).ravel()
        px, py = shapely.get_x(points), shapely.get_y(points)
        if offset < -20:
            assert (result.class_at(px, py)[0] == Verdict.PROHIBITED.severity).all()
        assert _compare(result, imported, rules, px, py) >= len(points) - 5  # a corner may sit by another class edge
    codes, transform = rasterise(result, 50.0)
    compared, wrong = _raster_disagreements(result, codes, transform, np.concatenate([x, zx]), np.concatenate([y, zy]))
    assert compared > 2000 and wrong == 0


@pytest.fixture(scope="module")
def standin(layers) -> np.ndarray:
    """3,000 stand-in red-line polygons (WGS84, scripts/bench_data.py), hundreds of them overlapping."""
    from scripts.bench_data import standin_redline

    return standin_redline(layers.admin_area("140000"), 3000)


def _within_a_millimetre(fast: shapely.Geometry, plain: shapely.Geometry) -> None:
    """Both valid, polygon for polygon of the same area, and every piece of their symmetric difference a sliver
    under 1 mm wide (GK metres). GEOS calls a polygon with a hole inside another of its holes valid, and the total
    area does not change when a hole moves to the wrong polygon: the areas are compared polygon by polygon."""
    assert shapely.is_valid(fast) and shapely.is_valid(plain)
    areas = [np.sort(shapely.area(shapely.get_parts(g))) for g in (fast, plain)]
    assert len(areas[0]) == len(areas[1]) and np.allclose(areas[0], areas[1], rtol=1e-9, atol=1e-3)
    gaps = shapely.get_parts(shapely.symmetric_difference(fast, plain))
    gaps = gaps[shapely.area(gaps) > 0]
    assert (2 * shapely.area(gaps) <= 1e-3 * shapely.length(gaps)).all()  # area ≤ width × half the perimeter


def test_engine_union_of_an_overlapping_red_line_is_the_full_union_within_a_millimetre(standin):
    """spatial.engine._union merges only the clusters of intersecting polygons (GEOS's disjoint-subset union):
    part by part, the polygons of one cascaded union of everything, within 1 mm."""
    from spatial.engine import _union

    fast, full = shapely.get_parts(_union(standin)), shapely.get_parts(shapely.union_all(standin))
    assert len(fast) == len(full) < len(standin) - 300  # hundreds of overlaps merged
    i, j = shapely.STRtree(full).query(shapely.point_on_surface(fast), predicate="within")
    assert sorted(i.tolist()) == list(range(len(fast))) and sorted(j.tolist()) == list(range(len(full)))
    metres_per_degree = 111_700.0  # at most, in any direction
    assert shapely.hausdorff_distance(fast[i], full[j]).max() * metres_per_degree < 1e-3
    assert shapely.area(shapely.symmetric_difference(fast[i], full[j])).sum() * metres_per_degree**2 < 1e-3


def test_classifier_shortcuts_equal_plain_overlays_within_a_millimetre(layers, standin):
    """The classifier's shortcuts against GEOS's plain overlays, on the stand-in red line round 运城市 (GK):
    bands buffered ring by ring, zones cut from their bands part by part, unions that drop polygons inside others,
    cores punched as holes without an overlay (with cores crossing the city edge, a holed zone and an island in its
    hole, which must take the overlay)."""
    from spatial.crs import gk3_zone_for_longitude
    from spatial.engine import _union as layer_union
    from spatial.siting_classes import _band, _difference_by_part, _linework, _minus, _quad_segs, _union

    epsg = gk3_zone_for_longitude(111.0).epsg
    city = project(layers.admin_area("140800"), 4326, epsg)
    zones = shapely.get_parts(project(layer_union(standin), 4326, epsg))
    zones = zones[shapely.intersects(zones, shapely.buffer(city, 2000))]
    assert len(zones) > 100 and (~shapely.contains_properly(city, zones)).sum() > 3

    linework = _linework(shapely.multipolygons(zones))
    band = _band(linework, 30.0)
    _within_a_millimetre(band, shapely.buffer(shapely.geometrycollections(linework), 30.0, quad_segs=_quad_segs(30.0)))
    _within_a_millimetre(_difference_by_part(shapely.multipolygons(zones), band), shapely.difference(shapely.multipolygons(zones), band))

    cores = shapely.get_parts(shapely.buffer(zones, -30.0, quad_segs=_quad_segs(30.0)))
    centre = shapely.point_on_surface(city)
    ring = shapely.difference(shapely.buffer(centre, 3000.0), shapely.buffer(centre, 1500.0))
    taken = _union([shapely.multipolygons(cores), ring, shapely.buffer(centre, 500.0), band])
    _within_a_millimetre(taken, shapely.union_all([shapely.multipolygons(cores), ring, shapely.buffer(centre, 500.0), band]))
    pieces = shapely.union_all([shapely.multipolygons(cores), ring, shapely.buffer(centre, 500.0)])
    assert shapely.get_num_interior_rings(shapely.get_parts(pieces)).max() > 0  # the ring, or a core it merged
    _within_a_millimetre(_minus(city, pieces), shapely.difference(city, pieces))
    inner = shapely.get_parts(pieces)
    inner = shapely.multipolygons(inner[shapely.contains_properly(city, inner)])  # no second overlay to mend a wrong hole
    _within_a_millimetre(_minus(city, inner), shapely.difference(city, inner))


def test_striped_raster_is_the_one_pass_raster_cell_for_cell(classifiers):
    """rasterise() fills the class polygons strip by strip (fast); every cell is what one pass of GDAL gives."""
    from rasterio import features

    from siting.report.class_exports import rasterise

    result = classifiers["运城市"].classify(catalog.taxonomy().resolve("焦化"), Stage.NEW)
    for res in (50.0, 137.0):
        codes, transform = rasterise(result, res)
        whole = features.rasterize([(c.geometry, c.code) for c in result.classes if not c.geometry.is_empty],
                                   out_shape=codes.shape, transform=transform, fill=0, dtype=np.uint8)
        assert codes.shape[0] > 256 and (codes == whole).all() and len(np.unique(codes)) >= 3
