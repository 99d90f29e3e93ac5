"""Issue 22: the 桑干河, 滹沱河, 漳河 and 沁河, the Fen's last reach and 运城's two lakes.

Each line's identity is fixed by its course (the county seats and counties it passes, where
it leaves the province); each layer's accuracy by the separation of two sources that draw
the same river (scripts/measure_river_accuracy.py); the verdicts by the plan sentences:
002 第三章第一节「分行业、分时段有序退出沿岸1公里范围内已有"两高一资"项目」 and 000 三、（一）
「盐湖、伍姓湖等生态保护与修复区域……严禁新改扩建焦化……」.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import shapely

from layers import catalog
from spatial.checker import check
from spatial.rules import Stage, Verdict
from tests.sites import geodesic_distance_to_line, site_near

RULES = list(catalog.rules())
SEVEN_RIVERS = ["SX22-3.1-yellow-1km-exit", "SX22-3.1-fen-1km-exit", "SX22-3.1-sanggan-1km-exit",
                "SX22-3.1-hutuo-1km-exit", "SX22-3.1-zhang-1km-exit", "SX22-3.1-qin-1km-exit",
                "SX22-3.1-sushui-1km-exit", "SX22-3.1-daqing-1km-exit"]
RIVER_LAYERS = ["yellow_river", "fen_river", "sanggan_river", "hutuo_river", "zhang_river", "qin_river"]
SEATS = {"沁源": (112.34, 36.50), "安泽": (112.25, 36.15), "繁峙": (113.26, 39.19), "代县": (112.96, 39.07)}


def run(layers, site, industry, stage):
    return check(site, catalog.taxonomy().resolve(industry), Stage.parse(stage), RULES, layers)


def line(layers, layer_id):
    return shapely.union_all(layers.layers[layer_id].frame.geometry.values)


def province(layers):
    admin = layers.admin.frame
    return admin.loc[admin["level"] == "province"].geometry.iloc[0]


@pytest.mark.parametrize(("layer_id", "seats", "counties"), [
    ("qin_river", ["沁源", "安泽"], ["140431", "141026", "140521", "140522"]),  # 沁源、安泽、沁水、阳城
    ("hutuo_river", ["繁峙", "代县"], ["140924", "140923", "140981", "140921", "140322"]),  # 繁峙、代县、原平、定襄、盂县
    ("sanggan_river", [], ["140602", "140621", "140622", "140681", "140221"]),  # 朔城、山阴、应县、怀仁、阳高
    ("zhang_river", [], ["140428", "140423", "140406", "140425"]),  # 长子、襄垣、潞城、平顺
])
def test_each_river_follows_its_course_and_leaves_the_province(layers, layer_id, seats, counties):
    river = line(layers, layer_id)
    for seat in seats:
        assert geodesic_distance_to_line(shapely.Point(SEATS[seat]), river, window_deg=0.2) < 3000, seat
    for code in counties:
        assert river.intersects(layers.admin_area(code)), code
    assert not shapely.difference(river, province(layers)).is_empty  # it flows on out of Shanxi


def test_the_fen_reaches_the_yellow_river_near_wanrong(layers):
    fen = line(layers, "fen_river")
    assert geodesic_distance_to_line(shapely.Point(110.55, 35.46), fen) < 2000  # 万荣 庙前, the confluence
    mouth = shapely.Point(110.553, 35.456)
    assert geodesic_distance_to_line(mouth, line(layers, "yellow_river")) < 5000
    assert not layers.layers["fen_river"].provenance.gaps


def test_the_lakes_are_the_two_gshhg_polygons_of_yuncheng(layers):
    frame = layers.layers["lake_restoration"].frame
    assert sorted(frame["name"]) == ["伍姓湖", "盐湖"]
    for name, counties in (("盐湖", ["140802"]), ("伍姓湖", ["140802", "140881"])):  # 盐湖区; on its line with 永济市
        lake = frame.loc[frame["name"] == name].geometry.iloc[0]
        assert shapely.union_all([layers.admin_area(c) for c in counties]).contains(lake.representative_point())


def _measure_script():
    path = Path(__file__).resolve().parents[1] / "scripts" / "measure_river_accuracy.py"
    spec = importlib.util.spec_from_file_location("measure_river_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_declared_accuracy_is_the_measured_separation_of_two_sources(layers):
    measured = _measure_script().measurements()
    p68 = {name: float(np.percentile(metres, 68)) for name, metres in measured.items()}
    accuracy = {k: layers.layers[k].provenance.accuracy_m for k in ("fen_river", "sanggan_river", "hutuo_river")}
    assert accuracy["fen_river"] >= p68["汾河 1:400万 ↔ WDBII"]
    assert accuracy["sanggan_river"] >= p68["桑干河 1:400万 ↔ WDBII"]
    assert accuracy["hutuo_river"] >= p68["滹沱河 1:400万 ↔ WDBII"]
    wdb = p68["黄河 省界追踪 ↔ WDBII（除宽河段）"]  # WDBII against a ±200 m line: WDBII's own error
    for layer_id in ("qin_river", "zhang_river", "lake_restoration", "wuxing_lake"):
        assert wdb <= layers.layers[layer_id].provenance.accuracy_m < wdb + 200, layer_id
    for name, metres in measured.items():
        assert len(metres) * _measure_script().STEP_M / 2 > 250_000, name  # each on a long common stretch


def test_no_river_is_missing_but_the_sushui_and_the_daqing(layers):
    missing = set(layers.missing)
    assert {"sushui_river", "daqing_river"} <= missing
    assert not {"sanggan_river", "hutuo_river", "zhang_river", "qin_river", "lake_restoration", "wuxing_lake"} & missing


def test_a_coking_plant_far_from_every_river_in_changzhi_is_decided_on_all_seven_rivers(layers):
    area = layers.admin_area("140400")
    site = None
    for lon in np.arange(112.5, 113.9, 0.05):
        for lat in np.arange(35.8, 37.1, 0.05):
            point = shapely.Point(lon, lat)
            if area.contains(point) and all(geodesic_distance_to_line(point, line(layers, r), window_deg=2.0) > 20_000
                                            for r in RIVER_LAYERS if line(layers, r).distance(point) < 1.0):
                site = point
                break
        if site is not None:
            break
    assert site is not None
    result = run(layers, site, "焦化", "existing")
    assert not [n for n in result.not_evaluated if n.rule.id in SEVEN_RIVERS]
    found = {f.rule.id: f for f in result.findings}
    for rule in SEVEN_RIVERS:
        if rule in found:
            assert found[rule].verdict is Verdict.COMPLIANT, rule


def test_a_coking_plant_500_m_from_the_qin_in_yangcheng_must_exit_or_be_reviewed(layers):
    site = site_near(layers, "qin_river", "140522", 500)
    hit = {f.rule.id: f for f in run(layers, site, "焦化", "existing").findings}["SX22-3.1-qin-1km-exit"]
    assert hit.verdict in (Verdict.EXIT, Verdict.REVIEW)
    assert hit.distance_m == pytest.approx(geodesic_distance_to_line(site, line(layers, "qin_river")), abs=5.0)


def _deepest_point(layers, name):
    lake = layers.layers["lake_restoration"].frame
    polygon = lake.loc[lake["name"] == name].geometry.iloc[0]
    return shapely.get_point(shapely.maximum_inscribed_circle(polygon, 0.0001), 0)


def test_a_new_coking_plant_deep_inside_the_salt_lake_is_prohibited(layers):
    site = _deepest_point(layers, "盐湖")
    hit = {f.rule.id: f for f in run(layers, site, "焦化", "new").findings}["YC21-3.1-lakes"]
    assert hit.inside and hit.margin_m > layers.layers["lake_restoration"].provenance.accuracy_m
    assert hit.verdict is Verdict.PROHIBITED and not hit.boundary_case


def test_beside_a_lake_the_restoration_area_is_undefined_and_said_so(layers):
    lake = layers.layers["lake_restoration"].frame
    salt = lake.loc[lake["name"] == "盐湖"].geometry.iloc[0]
    beside = shapely.Point(salt.bounds[2] + 0.02, (salt.bounds[1] + salt.bounds[3]) / 2)  # ~2 km east of its east end
    held = {n.rule.id: n for n in run(layers, beside, "焦化", "new").not_evaluated}
    assert "YC21-3.1-lakes" in held and "一湖四滩" in held["YC21-3.1-lakes"].reason
    far = shapely.Point(111.55, 35.49)  # 绛县, tens of km from both lakes
    found = {f.rule.id: f for f in run(layers, far, "焦化", "new").findings}
    assert found["YC21-3.1-lakes"].verdict is Verdict.COMPLIANT and not found["YC21-3.1-lakes"].inside
