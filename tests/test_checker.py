"""The issue's acceptance sites, placed on the built layers and checked through the engine."""

import dataclasses
import json
from datetime import date

import pytest
import shapely

from layers import catalog
from spatial.checker import check
from spatial.layer import LayerSet
from spatial.rules import Stage, Verdict
from tests.sites import geodesic_distance_to_line, site_near

XINJIANG, XIANGFEN, YONGJI = "140825", "141023", "140881"


def run(layers, rules, site, industry, stage=Stage.NEW):
    return check(site, catalog.taxonomy().resolve(industry), stage, rules, layers)


def finding(result, rule_id):
    return next(f for f in result.findings if f.rule.id == rule_id)


def baseline(layers, layer_id):
    return shapely.union_all(layers.layers[layer_id].frame.geometry.values)


def test_new_paper_mill_400m_from_the_fen_in_xinjiang_is_prohibited(layers, rules):
    site = site_near(layers, "fen_river", XINJIANG, 400)
    result = run(layers, rules, site, "造纸")
    assert result.overall is Verdict.PROHIBITED
    hit = finding(result, "YC21-3.1-fen-2km")
    assert hit.inside and not hit.boundary_case
    assert "汾河（运城段）河岸两侧2公里" in hit.rule.quote
    assert hit.distance_m == pytest.approx(geodesic_distance_to_line(site, baseline(layers, "fen_river")), abs=1.0)
    assert hit.margin_m == pytest.approx(2000 - hit.distance_m)
    assert result.site.admin["county"].startswith("新绛县")


def test_the_same_mill_beside_the_fen_in_linfen_gets_nothing_from_the_yuncheng_plan(layers, rules):
    site = site_near(layers, "fen_river", XIANGFEN, 400)
    result = run(layers, rules, site, "造纸")
    assert result.site.admin["city"].startswith("临汾市")
    scopes = {plan["id"]: plan["applies"] for plan in result.plans}
    assert scopes["yuncheng-14th-eco"] is False and scopes["shanxi-14th-eco"] is True
    plans_heard = {f.rule.plan.id for f in result.findings} | {n.rule.plan.id for n in result.not_evaluated}
    assert plans_heard == {"shanxi-14th-eco", "national-three-control-lines-2019"}
    assert result.overall is not Verdict.PROHIBITED


def test_new_coking_plant_300m_from_the_yellow_river_at_yongji_is_prohibited(layers, rules):
    site = site_near(layers, "yellow_river", YONGJI, 300)
    result = run(layers, rules, site, "焦化")
    assert result.overall is Verdict.PROHIBITED
    hit = finding(result, "YC21-3.1-yellow-1km-new")
    assert hit.inside and hit.verdict is Verdict.PROHIBITED
    assert hit.distance_m == pytest.approx(geodesic_distance_to_line(site, baseline(layers, "yellow_river")), abs=1.0)
    # The valley and settlement rules name zones the plan never delimits: review, not silence.
    undefined = {f.rule.id for f in result.findings if f.inside is None}
    assert {"YC21-3.1-valley", "YC21-3.1-settlement"} <= undefined
    # The lakes (issue 22) are a lower bound with a declared undefined band round them; 永济's bank is beyond it.
    lakes = finding(result, "YC21-3.1-lakes")
    assert not lakes.inside and lakes.verdict is Verdict.COMPLIANT
    # The planning area is only demonstration data: measured, but the check says so.
    assert finding(result, "YC21-3.1-planning-area-new").layer == "planning_areas"
    assert "城市规划区、县城规划区" in result.demonstration


@pytest.mark.parametrize("layer_id, county, distance", [("fen_river", XINJIANG, 400), ("yellow_river", YONGJI, 300)])
def test_a_software_company_at_either_site_is_not_restricted(layers, rules, layer_id, county, distance):
    result = run(layers, rules, site_near(layers, layer_id, county, distance), "软件开发")
    # What keeps it from "compliant" is only what the default layers cannot show (red line,
    # water-source zones, levee strips …) or the plans never delimit: each is listed, none passed silently.
    assert all((f.inside is None and f.verdict is Verdict.REVIEW) or (f.inside is False and f.verdict is Verdict.COMPLIANT)
               for f in result.findings)
    assert result.overall is Verdict.REVIEW
    # Not evaluated: a layer is missing, or (the demonstration red line covers 绛县 only) the site is beyond its coverage.
    assert result.not_evaluated
    assert all(n.layer in layers.missing or "覆盖范围外" in n.reason for n in result.not_evaluated)
    assert {"YC21-9.2-redline", "SX22-6.3-river-channel-encroach"} <= {n.rule.id for n in result.not_evaluated}


def test_a_site_just_outside_the_buffer_within_layer_accuracy_is_a_boundary_case(layers, rules):
    result = run(layers, rules, site_near(layers, "fen_river", XINJIANG, 2600), "造纸")
    hit = finding(result, "YC21-3.1-fen-2km")
    assert not hit.inside and hit.boundary_case
    assert hit.verdict is Verdict.REVIEW and result.overall.severity >= Verdict.REVIEW.severity


def test_a_site_well_outside_the_buffer_is_compliant_with_its_distance(layers, rules):
    result = run(layers, rules, site_near(layers, "fen_river", XINJIANG, 4000), "造纸")
    hit = finding(result, "YC21-3.1-fen-2km")
    assert not hit.inside and not hit.boundary_case
    assert hit.verdict is Verdict.COMPLIANT and hit.margin_m == pytest.approx(-2000, abs=2)
    assert result.overall is not Verdict.PROHIBITED


def test_yellow_river_midline_widens_the_outer_boundary_band(layers, rules):
    # 1.6 km from the mid-line: outside 1 km, but the bank may be up to 1 km nearer.
    result = run(layers, rules, site_near(layers, "yellow_river", YONGJI, 1600), "钢铁")
    hit = finding(result, "YC21-3.1-yellow-1km-new")
    assert not hit.inside and hit.boundary_case and hit.verdict is Verdict.REVIEW


def test_an_existing_high_energy_plant_within_1km_must_exit(layers, rules):
    result = run(layers, rules, site_near(layers, "yellow_river", YONGJI, 500), "焦化", Stage.EXISTING)
    hit = finding(result, "YC21-3.1-yellow-1km-exit")
    # 000 L782–784: 分行业、分时段有序退出临岸 1 公里范围内已有“两高一资”项目: 退出 is its own verdict.
    assert hit.inside and hit.verdict is Verdict.EXIT
    assert "YC21-3.1-yellow-1km-new" not in {f.rule.id for f in result.findings}


def test_a_coarse_industry_code_is_a_review_not_a_pass(layers, rules):
    # Division 25 contains coking (2521) but also refined petroleum, not all of it in the rule.
    result = run(layers, rules, site_near(layers, "fen_river", XINJIANG, 400), "25")
    hit = finding(result, "YC21-3.1-fen-2km")
    assert hit.inside and hit.verdict is Verdict.REVIEW
    assert "细化" in hit.note


def test_echo_reports_the_gauss_kruger_zone_used(layers, rules):
    result = run(layers, rules, site_near(layers, "yellow_river", YONGJI, 300), "焦化")
    assert result.site.gk_epsg == 4546 and result.site.gk_central_meridian == 111
    json_site = result.to_dict()["site"]
    assert json_site["gk_zone"]["epsg"] == 4546
    # The layers listed are those a finding measured or a unit came from, each with its provenance.
    measured = {f.layer for f in result.findings if f.layer} | {u["layer"] for u in result.units} | {"admin"}
    assert {layer["id"] for layer in result.to_dict()["layers"]} == measured >= {"admin", "yellow_river", "fen_river"}
    demonstration = {layer["name"] for layer in result.to_dict()["layers"] if layer["demonstration"]}
    assert demonstration and demonstration == set(result.demonstration)
    assert not finding(result, "YC21-3.1-fen-2km").inside


def test_a_passed_deadline_is_stated_as_overdue(layers, rules):
    exit_rule = next(r for r in rules if r.id == "YC21-3.1-yellow-1km-exit")
    dated = dataclasses.replace(exit_rule, deadline="2025-12-31")
    site = site_near(layers, "yellow_river", YONGJI, 500)
    industry = catalog.taxonomy().resolve("焦化")
    late = check(site, industry, Stage.EXISTING, [dated], layers, on=date(2026, 11, 23)).findings[0]
    early = check(site, industry, Stage.EXISTING, [dated], layers, on=date(2025, 6, 1)).findings[0]
    assert late.overdue and "已逾期" in late.note and late.to_dict()["deadline"] == "2025-12-31"
    assert not early.overdue and "2025-12-31" in early.note and "已逾期" not in early.note


def test_a_zone_layer_with_no_features_reports_no_distance_not_nan(layers):
    key = layers.layers["units_key"]
    emptied = dict(layers.layers, units_key=dataclasses.replace(key, frame=key.frame.iloc[0:0]))
    rule = next(r for r in catalog.rules() if r.id == "CQ23-3.1-key-units-capacity")
    site = shapely.point_on_surface(layers.admin_area("140502"))
    result = check(site, catalog.taxonomy().resolve("钢铁"), Stage.NEW, [rule], LayerSet(emptied, layers.missing))
    (finding,) = result.findings
    assert finding.inside is False and finding.to_dict()["distance_m"] is None
    json.loads(json.dumps(result.to_dict(), allow_nan=False))
