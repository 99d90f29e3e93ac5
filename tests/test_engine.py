"""The bulk screen and the single-site check give the same answer, site by site.

Sites: random over Shanxi and 运城, and sites placed on the built layers where answers
turn: either side of the river buffers and their accuracy bands, and either side of
plan-area and demonstration-zone edges within their accuracy.
"""

import math

import numpy as np
import pytest
import shapely

from layers import catalog
from layers.io.grid_cache import GridCache
from spatial import screening
from spatial.checker import check
from spatial.crs import gk3_zone_for_longitude
from spatial.engine import DEEP, FAR, PreparedZones, TargetKey, gk_coordinates, prepared
from spatial.layer import LayerSet, project
from spatial.rules import Stage
from spatial.screening import screen, site_headlines
from tests.sites import site_near

INDUSTRIES = ("造纸", "焦化", "25", "软件开发", "钢铁", "农副食品加工")


def _edge_sites(layers, area_wgs84, offsets_m, count, rng):
    """Points at given signed offsets (m, + inward) from the edge of a WGS84 polygon."""
    epsg = gk3_zone_for_longitude(area_wgs84.centroid.x).epsg
    area = project(area_wgs84, 4326, epsg)
    ring = shapely.get_exterior_ring(max(shapely.get_parts(area), key=lambda p: p.area))
    sites = []
    for fraction in rng.uniform(0, 1, count):
        at = ring.interpolate(fraction, normalized=True)
        ahead = ring.interpolate(min(fraction + 1e-4, 1.0), normalized=True)
        tangent = np.array([ahead.x - at.x, ahead.y - at.y])
        if not np.linalg.norm(tangent):
            continue
        normal = np.array([-tangent[1], tangent[0]]) / np.linalg.norm(tangent)
        if not area.contains(shapely.Point(at.x + 5 * normal[0], at.y + 5 * normal[1])):
            normal = -normal
        for offset in offsets_m:
            sites.append(project(shapely.Point(at.x + offset * normal[0], at.y + offset * normal[1]), epsg, 4326))
    return sites


@pytest.fixture(scope="module")
def sites(layers):
    rng = np.random.default_rng(20261123)
    points = [shapely.Point(x, y) for x, y in zip(rng.uniform(110.2, 114.6, 250), rng.uniform(34.6, 40.7, 250), strict=True)]
    points += [shapely.Point(x, y) for x, y in zip(rng.uniform(110.3, 111.9, 120), rng.uniform(34.6, 35.8, 120), strict=True)]
    for layer_id, county in (("fen_river", "140825"), ("yellow_river", "140881"), ("fen_river", "140109")):
        accuracy = layers.layers[layer_id].provenance
        for distance in (300, 1000 - 1, 1000 + 1, 2000 - 1, 2000 + 1, 2000 + accuracy.accuracy_m - 1,
                         2000 + accuracy.accuracy_m + accuracy.midline_to_bank_m + 1, 4500):
            try:
                points.append(site_near(layers, layer_id, county, distance))
            except LookupError:
                continue
    points += _edge_sites(layers, layers.admin_area("140800"), (-250, -150, -1, 1, 150, 250), 6, rng)
    for layer_id in ("eco_redline", "units_key", "planning_areas"):
        if layer_id in layers.layers:
            accuracy = layers.layers[layer_id].provenance.accuracy_m
            zone = shapely.union_all(layers.layers[layer_id].frame.geometry.values)
            points += _edge_sites(layers, zone, (-accuracy - 5, -accuracy + 5, -3, 3, accuracy - 5, accuracy + 5), 4, rng)
    return points


def _compare(layers, rules, sites, report_m):
    taxonomy = catalog.taxonomy()
    combos = [(taxonomy.resolve(text), stage) for text in INDUSTRIES for stage in (Stage.NEW, Stage.EXISTING)]
    group = np.arange(len(sites)) % len(combos)
    bulk = screen([p.x for p in sites], [p.y for p in sites], group, combos, rules, layers, report_m)
    headlines = site_headlines(bulk).expanded()
    compared = 0
    for i, site in enumerate(sites):
        single = check(site, *combos[group[i]], rules, layers)
        assert bulk.overall[i] == single.overall.severity, i
        found = {f["rule"]: f for f in bulk.findings_of(i)}
        assert set(found) == {f.rule.id for f in single.findings}, i
        for finding in single.findings:
            mine = found[finding.rule.id]
            assert (mine["verdict"], mine["inside"], mine["boundary_case"]) == (finding.verdict, finding.inside, finding.boundary_case)
            if finding.distance_m is None:
                assert mine["distance_m"] is None and mine["margin_m"] is None
                continue
            horizon = bulk.measured.loc[(bulk.measured["site"] == i) & (bulk.measured["rule"] == finding.rule.id), "horizon_m"].iloc[0]
            for name, value in (("distance_m", finding.distance_m), ("margin_m", finding.margin_m)):
                if mine[name] is None:  # beyond the report horizon: stated as such, never a wrong number
                    assert abs(value) > horizon or abs(finding.distance_m) > horizon
                else:
                    assert mine[name] == pytest.approx(value, abs=0.01)
                    compared += 1
        pattern = bulk.patterns[bulk.pattern[i]]
        assert sorted(held.rule.id for held in pattern.not_evaluated) == sorted(n.rule.id for n in single.not_evaluated)
        assert sorted(r.id for r in pattern.information) == sorted(f.rule.id for f in single.information)
        assert headlines[i] == single.headline()[0], i
        assert sorted(r.id for r in pattern.conditions) == sorted(c.rule.id for c in single.conditions)
        assert pattern.demonstration == single.demonstration
    return compared


def test_bulk_screen_equals_single_checks(layers, rules, sites):
    assert len(sites) > 500
    assert _compare(layers, rules, sites, report_m=1000.0) > 200


def test_with_an_unbounded_horizon_every_distance_is_stated_and_equal(layers, rules, sites):
    subset = sites[::4]
    compared = _compare(layers, rules, subset, report_m=math.inf)
    assert compared > 0


def test_grid_codes_never_contradict_the_exact_answer(layers):
    zones = prepared(layers)
    rng = np.random.default_rng(5)
    lon, lat = rng.uniform(110.0, 114.8, 20000), rng.uniform(34.4, 40.9, 20000)
    epsg, xy = gk_coordinates(lon, lat)
    cells = zones.cells(lon, lat)
    for key, horizon in ((TargetKey.jurisdiction("140800"), 200.0), (TargetKey("area", "yellow_river"), 3200.0),
                         (TargetKey("area", "fen_river", "140800"), 3150.0)):
        column = zones.grid_column(key, horizon)  # classified first, then gathered, as screening does
        codes = zones.grid_rows(cells)[:, column]
        assert (codes == FAR).sum() > 1000
        for code in np.unique(epsg):
            rows = np.flatnonzero(epsg == code)
            zone = zones.zone(int(code))
            zone.ensure([key])
            target = zone.targets[key]
            points = shapely.points(xy[rows])
            inside = shapely.intersects(target.geometry, points)
            edge = target.edge_distance(points)
            assert not (inside & (codes[rows] == FAR)).any() and not (~inside & (codes[rows] == DEEP)).any()
            assert (edge[codes[rows] != 0] > horizon).all()


def test_nearest_edge_index_keeps_every_segment(layers):
    zone = prepared(layers).zone(4546)
    for key in (TargetKey.jurisdiction("140800"), TargetKey("area", "yellow_river"), TargetKey("area", "fen_river", "140800")):
        zone.ensure([key])
        target = zone.targets[key]
        lines = target.geometry.boundary if shapely.get_dimensions(target.geometry) == 2 else target.geometry
        assert shapely.union_all(target.chunks).length == pytest.approx(lines.length, rel=1e-12)
        assert shapely.get_num_coordinates(target.chunks).max() <= 32


@pytest.mark.parametrize("mixed", [True, False], ids=["row-mix", "row-mix-collides"])
def test_sites_share_a_situation_exactly_when_their_group_and_flags_are_equal(mixed, monkeypatch):
    """The batch decides once per situation: grouping sites by a 64-bit mix of their flags must never merge two
    different situations, even when every mix collides (then the rows are grouped by sorting them)."""
    rng = np.random.default_rng(3)
    flags = rng.random((5_000, 90)) < 0.03  # 90 flag columns: too wide for the exact packed integer key
    group = rng.integers(0, 4, 5_000)
    if not mixed:
        monkeypatch.setattr(screening, "_ROW_MIX", np.zeros_like(screening._ROW_MIX))
    pattern, first = screening._situations(group, flags)
    assert np.array_equal(flags[first][pattern], flags) and np.array_equal(group[first][pattern], group)
    assert len(first) == len(np.unique(np.column_stack([group, flags]), axis=0))


def test_sites_no_rule_measures_are_screened_as_single_checks(layers, rules):
    """Sites outside every plan (no measured rule speaks for any of them) come back as the single check answers."""
    sites = [shapely.Point(108.9, 34.3), shapely.Point(108.95, 34.25), shapely.Point(109.1, 34.4)]
    _compare(layers, rules, sites, report_m=1000.0)
    bulk = screen([p.x for p in sites], [p.y for p in sites], np.zeros(len(sites), dtype=int),
                  [(catalog.taxonomy().resolve("焦化"), Stage.NEW)], rules, layers)
    assert len(bulk.measured) == 0 and (bulk.overall == screening.NOT_APPLICABLE).all()


def test_situations_are_decided_once_and_shared_by_every_chunk(layers, rules):
    """A situation met again (another chunk, its combination numbered otherwise) gets the very pattern decided
    the first time, and the same answer."""
    taxonomy = catalog.taxonomy()
    combos = [(taxonomy.resolve(text), stage) for text in ("焦化", "造纸", "软件开发") for stage in (Stage.NEW, Stage.EXISTING)]
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(110.2, 114.6, 4000), rng.uniform(34.6, 40.7, 4000)
    group = rng.integers(0, len(combos), 4000)
    first = screen(lon, lat, group, combos, rules, layers)
    reverse = len(combos) - 1 - group
    again = screen(lon[::-1], lat[::-1], reverse[::-1], combos[::-1], rules, layers)
    mine = [first.patterns[k] for k in first.pattern]
    theirs = [again.patterns[k] for k in again.pattern[::-1]]
    assert all(a is b for a, b in zip(mine, theirs, strict=True))
    assert np.array_equal(first.overall, again.overall[::-1])
    assert np.array_equal(site_headlines(first).expanded(), site_headlines(again).expanded()[::-1])
    assert len({id(p) for p in mine}) > 50


def test_situations_that_decide_alike_share_one_pattern(layers, rules):
    """Flags a rule reads without effect (an area's edge where the area does not apply, a coverage the rule
    does not need) do not make a new pattern: no two patterns of a screen say the same, and each headline,
    count and 规划情形 row is made once for what they say."""
    taxonomy = catalog.taxonomy()
    combos = [(taxonomy.resolve(text), stage) for text in ("焦化", "造纸", "25") for stage in (Stage.NEW, Stage.EXISTING)]
    rng = np.random.default_rng(12)
    lon, lat = rng.uniform(110.2, 114.6, 20_000), rng.uniform(34.6, 40.7, 20_000)
    bulk = screen(lon, lat, rng.integers(0, len(combos), 20_000), combos, rules, layers)
    distinct = {id(p): p for p in bulk.patterns}.values()

    def says(p):
        return (p.industry, p.stage, tuple(p.plans), tuple(p.demonstration), tuple((f.rule.id, f.verdict, f.inside, f.boundary) for f in p.findings),
                tuple((held.rule.id, held.why) for held in p.not_evaluated), tuple(r.id for r in p.conditions),
                tuple((m.rule.id, m.match, m.at_edge) for m in p.measured), tuple(r.id for r in p.information))

    assert len(distinct) > 50
    assert len({says(p) for p in distinct}) == len(distinct)


def test_near_cells_lie_within_the_distance_everywhere(layers):
    """The NEAR column (cells wholly within a bound's distance of a target's edge, so no site there is looked at)
    never holds a point farther than the distance."""
    zones = prepared(layers)
    rng = np.random.default_rng(8)
    lon, lat = rng.uniform(110.0, 114.8, 40000), rng.uniform(34.4, 40.9, 40000)
    epsg, xy = gk_coordinates(lon, lat)
    cells = zones.cells(lon, lat)
    for key, distance in ((TargetKey("area", "yellow_river"), 12050.0), (TargetKey("area", "fen_river"), 12050.0)):
        codes = zones.grid_rows(cells)[:, zones.near_column(key, distance)]
        near = codes == screening.NEAR
        assert near.sum() > 1000 and set(np.unique(codes).tolist()) <= {0, int(screening.NEAR)}
        for code in np.unique(epsg[near]):
            rows = np.flatnonzero(near & (epsg == code))
            zone = zones.zone(int(code))
            zone.ensure([key])
            assert (zone.targets[key].edge_distance(shapely.points(xy[rows])) <= distance).all()



def test_a_cached_grid_gives_the_codes_classified_and_only_to_the_same_layers(layers, tmp_path):
    """A run reads the columns an earlier run classified and kept (the same codes at the same places); a column
    it adds leaves them as they were and is kept too; a file made for other layers, or cut short, is not read."""
    rng = np.random.default_rng(12)
    lon, lat = rng.uniform(110.0, 114.8, 30000), rng.uniform(34.4, 40.9, 30000)
    first = PreparedZones(layers)
    first_cache = GridCache(first, tmp_path)
    first_cache.load()
    names = [first.grid_column(TargetKey.jurisdiction("140800"), 200.0), first.grid_column(TargetKey("area", "yellow_river"), 3200.0),
             first.near_column(TargetKey("area", "fen_river"), 12050.0)]
    first_cache.save()  # kept before the last column is classified
    added = first.grid_column(TargetKey("area", "fen_river", "140800"), 3150.0)
    classified = first.grid_rows(first.cells(lon, lat))
    assert len(np.unique(classified)) == 4 and names == [0, 1, 2] and added == 3

    second = PreparedZones(layers)
    second_cache = GridCache(second, tmp_path)
    second_cache.load()
    assert len(second.grid.columns) == 3 and not second.grid.table.flags.writeable
    assert np.array_equal(second.grid_rows(second.cells(lon, lat)), classified[:, :3])
    assert second.grid_column(TargetKey("area", "fen_river", "140800"), 3150.0) == 3
    assert np.array_equal(second.grid_rows(second.cells(lon, lat)), classified)
    second_cache.save()

    third = PreparedZones(layers)
    third_cache = GridCache(third, tmp_path)
    third_cache.load()
    assert np.array_equal(third.grid_rows(third.cells(lon, lat)), classified)
    other = PreparedZones(LayerSet({k: v for k, v in layers.layers.items() if k != "yellow_river"}, layers.missing))
    other_cache = GridCache(other, tmp_path)
    other_cache.load()
    assert not other.grid.columns
    (cached,) = tmp_path.glob("grid-*.bin")
    cached.write_bytes(cached.read_bytes()[:-1])
    fourth = PreparedZones(layers)
    fourth_cache = GridCache(fourth, tmp_path)
    fourth_cache.load()
    assert not fourth.grid.columns
