"""One decision, one measure, one zone drawing: what the single check, the batch screen and the
region map share (``spatial.decision``, ``spatial.measure``, ``spatial.engine.drawn_zone``).

``tests/test_engine.py`` shows bulk = single site by site; here the shared pieces are held to
what the plans say on the built layers: a rule's decision follows the situation it is given,
a polygon site is measured as a batch of one, a region map draws the zone a check measured,
and the engine's caches stay bounded and give every thread one value.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely

from layers import catalog
from maps.region import region_zones
from spatial.cache import Cache
from spatial.checker import check
from spatial.crs import gk3_zone_for_longitude
from spatial.decision import AreaScope, Coverage, decide, rule_book
from spatial.engine import prepared
from spatial.industry import IndustryMatch
from spatial.layer import project
from spatial.notes import NoteCode
from spatial.rules import Stage, Verdict, ZoneKind
from spatial.semantics import Disposition

FIRM = AreaScope(inside=True, applies=True, edge_case=False)
EDGE = AreaScope(inside=False, applies=True, edge_case=True)
OUT = AreaScope(inside=False, applies=False, edge_case=False)


def _rule(rules, rule_id):
    return next(rule for rule in rules if rule.id == rule_id)


def _decide(rule, layers, scope=FIRM, coverage=Coverage.INSIDE, beyond=False, named=False):
    return decide(rule, IndustryMatch.WITHIN, layers, {code: scope for code in rule.jurisdictions}, coverage, beyond, named)


def test_a_rule_decision_follows_its_situation(layers, rules):
    levee = _rule(rules, "SX22-6.3-fen-levee-50m")  # its layer is missing; the Fen's line bounds it
    assert levee.zone.layer in layers.missing
    assert _decide(levee, layers, beyond=True).disposition is Disposition.BEYOND
    held = _decide(levee, layers)
    assert held.disposition is Disposition.MISSING
    assert (held.reason.code, held.reason.layer) == (NoteCode.MISSING_LAYER, layers.missing[levee.zone.layer].name)
    assert _decide(levee, layers, scope=OUT) is None

    redline = _rule(rules, "JX21-6.6.1-redline")  # a polygon layer that declares the area it covers
    assert _decide(redline, layers, coverage=Coverage.OUTSIDE).disposition is Disposition.UNCOVERED
    straddling = _decide(redline, layers, scope=EDGE, coverage=Coverage.PARTIAL)
    assert (straddling.disposition, straddling.partial, straddling.at_edge) == (Disposition.MEASURED, True, True)

    named = _rule(rules, "YC24-A1-mingfu-exit")  # a measure on a named enterprise
    assert _decide(named, layers, named=False).disposition is Disposition.INFORMATION
    assert _decide(named, layers, named=True).disposition is not Disposition.INFORMATION

    fixed = next(rule for rule in rules if rule.zone.kind is ZoneKind.JURISDICTION and not rule.general
                 and rule.action.verdict is Verdict.PROHIBITED and not rule.condition and not rule.enterprises)
    firm, edge = _decide(fixed, layers), _decide(fixed, layers, scope=EDGE)
    assert (firm.disposition, firm.verdict, firm.boundary) == (Disposition.FIXED, Verdict.PROHIBITED, False)
    assert (edge.verdict, edge.boundary) == (Verdict.REVIEW, True)  # it may lie on the other side of the edge


def test_a_polygon_site_is_measured_as_a_batch_of_one(layers, rules, mill_site):
    """A 200 m parcel round the mill site, 400 m from the 汾河: its distance is the parcel's nearest
    point's, its margin the 2 km zone's less that, and it lies inside."""
    epsg = gk3_zone_for_longitude(mill_site.x).epsg
    centre = project(mill_site, 4326, epsg)
    parcel = shapely.box(centre.x - 100, centre.y - 100, centre.x + 100, centre.y + 100)
    result = check(project(parcel, epsg, 4326), *_industry("造纸"), rules, layers)
    fen = next(f for f in result.findings if f.rule.id == "YC21-3.1-fen-2km")
    river = layers.projected("fen_river", epsg, section="140800")
    expected = float(shapely.distance(parcel, river))
    assert 250 < expected < 400
    assert fen.distance_m == pytest.approx(expected, abs=0.5)
    assert fen.margin_m == pytest.approx(2000 - expected, abs=0.5)
    assert fen.inside and fen.verdict is Verdict.PROHIBITED and not fen.boundary_case
    assert fen.overlap["share"] == pytest.approx(1.0)


def test_the_region_map_draws_the_zone_the_check_measured(layers, rules, mill_site):
    """Within the check map's window round the mill site, 运城's 2 km Fen zone on the region map is
    the zone the check drew for its finding."""
    result = check(mill_site, *_industry("造纸"), rules, layers)
    fen = next(f for f in result.findings if f.rule.id == "YC21-3.1-fen-2km")
    drawn = fen.drawing.zone_gk
    region = region_zones("运城市", layers, rules)
    zone = next(z for z in region.zones if z.id.startswith("buffer:fen_river:140800:2000"))
    epsg = fen.drawing.epsg
    mapped = project(shapely.union_all(zone.frame.geometry.values), 4326, epsg)
    near = shapely.buffer(project(mill_site, 4326, epsg), 10_000)
    ours = shapely.intersection(shapely.intersection(drawn, region.region.geometry_gk), near)
    theirs = shapely.intersection(mapped, near)
    assert ours.area > 10e6
    assert shapely.symmetric_difference(ours, theirs).area / ours.area < 1e-6


def test_caches_are_bounded_and_give_every_thread_one_value():
    cache: Cache[int, object] = Cache(8)
    made = []

    def make() -> object:
        made.append(object())
        return made[-1]

    found: list[object] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        found.append(cache.get(0, make))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(value) for value in found}) == 1 and found[0] in made
    for key in range(1, 20):
        cache.get(key, object)
    assert len(cache) == 8
    assert cache.get(0, make) is not found[0]  # evicted long ago: made afresh


def test_the_prepared_zones_keep_one_book_per_rule_list(layers, rules):
    book = rule_book(rules, layers)
    assert rule_book(list(rules), layers) is book
    assert rule_book(rules[:10], layers) is not book
    assert prepared(layers).books.get(tuple(map(id, rules)), lambda: None) is book
    assert {plan.id for plan in book.plans} == {rule.plan.id for rule in rules}
    assert np.all([code in book.codes for rule in rules for code in rule.jurisdictions])


def _industry(text):
    return catalog.taxonomy().resolve(text), Stage.NEW
