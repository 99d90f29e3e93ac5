"""Issue-level verdicts, each from the sentence that gives it (plan, section, quoted words).

Sites are placed on the built layers (tests/sites.py) or inside admin areas; no expected
answer is read from the engine.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from layers import catalog
from siting.report.text_report import render
from spatial.checker import check
from spatial.errors import InputError
from spatial.layer import Layer, LayerSet, Provenance
from spatial.rules import Stage, Verdict
from tests.sites import site_near

RULES = list(catalog.rules())


def run(layers, site, industry, stage="new", project=""):
    return check(site, catalog.taxonomy().resolve(industry), Stage.parse(stage), RULES, layers, project=project)


def verdicts(result):
    return {f.rule.id: f for f in result.findings}


def test_a_site_in_henan_is_not_applicable_never_compliant(layers):
    result = run(layers, shapely.Point(113.62, 34.75), "造纸")  # 郑州
    assert result.overall is Verdict.NOT_APPLICABLE
    assert result.headline()[0].startswith("不适用") and "核对坐标" in result.headline()[0]
    assert result.to_dict()["overall"] == "not_applicable"


def test_chemicals_in_yuncheng_outside_every_zone_are_not_prohibited(layers):
    # 000 L851–853 bans 乙烯、对二甲苯、煤制油气 not in the national plan; 化工 merely shares 2522/2523.
    result = run(layers, shapely.point_on_surface(layers.admin_area("140827")), "化工")
    assert "YC21-3.2-ethylene-px-ctl" not in verdicts(result)
    assert result.overall is not Verdict.PROHIBITED or verdicts(result)[_decisive(result)].rule.zone.kind.value != "jurisdiction"


def _decisive(result):
    return next(f.rule.id for f in result.findings if f.verdict is result.overall)


@pytest.mark.parametrize("code", ["0610", "1019"])
def test_a_mine_given_by_code_beside_the_fen_is_review_not_prohibited(layers, code):
    # 000 L784–788: 禁止…新建炼焦、冶炼、洗煤、选矿…: washing and beneficiation plants, which
    # GB/T 4754 files with mining (0610, 101x); a bare code cannot say which it is.
    site = site_near(layers, "fen_river", "140800", 600)
    finding = verdicts(run(layers, site, code))["YC21-3.1-fen-2km"]
    assert finding.verdict is Verdict.REVIEW and finding.likely is Verdict.PROHIBITED
    washing = verdicts(run(layers, site, "洗煤"))["YC21-3.1-fen-2km"]
    assert washing.verdict is Verdict.PROHIBITED


def test_boundary_cases_are_review_on_both_sides_of_the_edge(layers):
    # 000 L776–782: 黄河干流…沿岸 1公里内严禁…布局建设“两高一剩”行业项目; the traced line is ±200 m.
    accuracy = layers.layers["yellow_river"].provenance.accuracy_m
    inside = verdicts(run(layers, site_near(layers, "yellow_river", "140800", 1000 - accuracy / 2), "钢铁"))
    outside = verdicts(run(layers, site_near(layers, "yellow_river", "140800", 1000 + accuracy / 2), "钢铁"))
    deep = verdicts(run(layers, site_near(layers, "yellow_river", "140800", 300), "钢铁"))
    rule = "YC21-3.1-yellow-1km-new"
    assert inside[rule].inside and inside[rule].verdict is Verdict.REVIEW and inside[rule].likely is Verdict.PROHIBITED
    assert not outside[rule].inside and outside[rule].verdict is Verdict.REVIEW and outside[rule].likely is Verdict.COMPLIANT
    assert deep[rule].verdict is Verdict.PROHIBITED


def test_codes_not_in_gbt_4754_are_refused_with_the_nearest_real_ones():
    taxonomy = catalog.taxonomy()
    for code in ("2526", "269", "1911", "C2526"):
        with pytest.raises(InputError) as error:
            taxonomy.resolve(code)
        assert "相近的代码" in error.value.fix_zh
    assert taxonomy.resolve("5920").label == "5920 通用仓储"
    for everyday in ("养猪场", "热电厂", "垃圾焚烧厂", "塑料厂", "物流仓库", "砂石料场", "搅拌站", "汽修", "风电", "光伏电站",
                     "食品制造", "食品加工"):
        taxonomy.resolve(everyday)
    with pytest.raises(InputError) as error:
        taxonomy.resolve("食品厂")
    assert "食品制造" in error.value.fix_zh and "食品加工" in error.value.fix_zh


def test_a_software_company_far_from_the_fen_is_not_held_back_by_its_levee_strip(layers):
    # 002 L374: 汾河…沿岸堤外 50 米…; the levees lie within the declared bound of the Fen's line.
    result = run(layers, shapely.Point(113.30, 40.09), "软件开发")  # 大同, ~150 km from the Fen
    held = {n.rule.id for n in result.not_evaluated}
    assert "SX22-6.3-fen-levee-50m" not in held and "fen_levees" not in {g.layer for g in result.missing_layers()}
    beside = run(layers, site_near(layers, "fen_river", "140800", 800), "软件开发")
    assert "SX22-6.3-fen-levee-50m" in {n.rule.id for n in beside.not_evaluated}


def test_the_text_answer_of_a_common_case_fits_a_screen(layers):
    result = run(layers, shapely.point_on_surface(layers.admin_area("140826")), "软件开发")
    text = render(result)
    assert text.splitlines()[1].startswith("理由：")
    assert len(text.splitlines()) <= 60


def test_with_every_declared_layer_of_a_county_a_software_company_far_from_every_zone_is_compliant(layers):
    county = "140826"  # 绛县: province, 运城 and 绛县 plans all reach it
    area = layers.admin_area(county)
    site = shapely.point_on_surface(area)
    far = shapely.box(*shapely.buffer(area, 0.2).bounds).difference(shapely.buffer(area, 0.05))  # a ring round the county
    corner = shapely.Point(far.bounds[0] + 0.01, far.bounds[1] + 0.01)
    supplied = {layer_id: layer for layer_id, layer in layers.layers.items() if not layer.provenance.demonstration}
    stand_ins = {**layers.missing, **{i: layer for i, layer in layers.layers.items() if layer.provenance.demonstration}}
    for layer_id, missing in stand_ins.items():
        geometry = shapely.buffer(corner, 0.005) if "line" not in layer_id else shapely.LineString([corner, (corner.x + 0.01, corner.y)])
        frame = gpd.GeoDataFrame({"code": ["X"], "name": [missing.name]}, geometry=[geometry], crs="EPSG:4326")
        provenance = Provenance("synthetic test layer", "1", "0" * 64, "EPSG:4326", 10.0, True, False, coverage=(county,))
        supplied[layer_id] = Layer(layer_id, missing.name, frame, provenance)
    full = LayerSet(supplied, {})
    result = check(site, catalog.taxonomy().resolve("软件开发"), Stage.NEW, RULES, full)
    not_compliant = [(f.rule.id, f.verdict.value) for f in result.findings if f.verdict is not Verdict.COMPLIANT]
    assert result.overall is Verdict.COMPLIANT, (not_compliant, [n.rule.id for n in result.not_evaluated])


def test_the_fens_last_reach_missing_from_the_layer_is_not_silently_outside_the_2km_rule(layers):
    # 000 L784–788: 汾河（运城段）河岸两侧 2 公里; the 1:4M line stops ~13 km short of the Yellow River,
    # and the WDBII reach (issue 22) carries the Fen on to it: the site is measured, not left out.
    result = run(layers, shapely.Point(110.61, 35.495), "造纸")  # beside the once unmapped stretch near 万荣
    assert "YC21-3.1-fen-2km" not in {n.rule.id for n in result.not_evaluated}
    hit = verdicts(result)["YC21-3.1-fen-2km"]
    assert hit.distance_m is not None and hit.distance_m < 5000
    assert result.overall is not Verdict.COMPLIANT


def test_the_wide_xiaobeiganliu_reach_widens_the_outer_band(layers):
    # 002 L222: 有序退出沿岸1公里范围内已有“两高一资”项目; in 小北干流 the bank may lie kilometres
    # from the traced mid-line, in the gorge north of 河曲 well under one.
    rule = "SX22-3.1-yellow-1km-exit"
    wide = verdicts(run(layers, site_near(layers, "yellow_river", "140881", 3500), "钢铁", "existing"))[rule]  # 永济
    assert not wide.inside and wide.boundary_case and wide.verdict is Verdict.REVIEW and wide.likely is Verdict.COMPLIANT
    gorge = verdicts(run(layers, site_near(layers, "yellow_river", "140930", 3500), "钢铁", "existing"))[rule]  # 河曲县
    assert not gorge.inside and not gorge.boundary_case and gorge.verdict is Verdict.COMPLIANT


@pytest.mark.parametrize(("lon", "lat", "rule"), [
    (111.003, 35.025, "YC24-W17-central-city-sewer-permit"),  # 003 L906–908: 入网排污许可 binds 排水户, not offices
    (112.8398, 35.4434, "CQ23-3.1-general-units"),  # 004 L913–917: a pointer to other rules, no restriction of its own
])
def test_a_software_company_in_the_central_city_or_a_general_unit_is_not_restricted(layers, lon, lat, rule):
    result = run(layers, shapely.Point(lon, lat), "软件开发")
    assert result.overall.severity < Verdict.RESTRICTED.severity
    assert rule not in {f.rule.id for f in result.findings if f.verdict is not Verdict.COMPLIANT}


def test_a_paper_mill_in_yunchengs_planning_area_is_prohibited(layers):
    # 000 L792–796 严禁新建…污染较重及高风险项目; 造纸 is among the same paragraph's 严重污染水环境项目 (L784–788).
    planning = shapely.union_all(layers.layers["planning_areas"].frame.geometry.values)
    site = shapely.point_on_surface(shapely.intersection(planning, layers.admin_area("140802")))
    assert verdicts(run(layers, site, "造纸"))["YC21-3.1-planning-area-new"].verdict is Verdict.PROHIBITED


def test_jiangxian_two_high_capacity_with_replacement_is_restricted_not_prohibited(layers):
    # 001 L565: 严禁新增两高项目产能；确有必要新建的，要严格执行产能置换实施办法.
    result = run(layers, shapely.point_on_surface(layers.admin_area("140826")), "焦化")
    assert verdicts(result)["JX21-6.2.2-lianggao-replacement"].verdict is Verdict.RESTRICTED
    assert not any(f.rule.plan.id == "jiangxian-14th-eco" and f.verdict is Verdict.PROHIBITED and f.group == "area"
                   for f in result.findings)


@pytest.mark.parametrize("lon", [-111.2, 0.0, 180.0])
def test_a_longitude_outside_chinas_zones_is_an_input_error_naming_the_field(layers, lon):
    with pytest.raises(InputError) as error:
        run(layers, shapely.Point(lon, 35.0), "造纸")
    assert error.value.field == "lon" and "经度" in error.value.fix_zh


@pytest.mark.parametrize("industry", ["光伏电站", "风电"])
def test_a_solar_or_wind_plant_is_not_an_energy_industry_of_the_clean_production_rule(layers, industry):
    # 002 L228: 在能源、钢铁…等行业，全面落实强制性清洁生产审核要求: the plan's 能源 is fossil energy and heat.
    result = run(layers, shapely.Point(113.30, 40.09), industry)
    assert "SX22-3.2-clean-production-grade1" not in verdicts(result)


def test_named_equipment_closures_are_review_for_the_named_firm_and_information_for_others(layers):
    # 003 L638–646: 淘汰临猗县…华晋纺织2台…35蒸吨/小时燃煤锅炉: the boilers go, not the mill.
    linyi = shapely.point_on_surface(layers.admin_area("140821"))
    named = verdicts(run(layers, linyi, "棉纺织及印染精加工", "existing", project="临猗县华晋纺织有限公司"))
    assert named["YC24-AX7-named-boilers-2024"].verdict is Verdict.REVIEW
    other = run(layers, linyi, "棉纺织及印染精加工", "existing", project="临猗县某棉纺厂")
    assert "YC24-AX7-named-boilers-2024" not in verdicts(other)
    assert "YC24-AX7-named-boilers-2024" in {f.rule.id for f in other.information}
    assert other.overall is not Verdict.EXIT


def test_a_plan_list_word_is_each_plans_own_never_a_union():
    # 001 L540 lists its 重点行业 (煤化、铁合金、冶炼、铸造); 002 L228 its own; 000 its 高能耗、高排放和资源型 industries.
    rules = {rule.id: rule for rule in RULES}
    jiangxian = rules["JX21-6.1.4-cleaner-production"].industry_codes | rules["JX21-6.1.4-cleaner-production"].finer_codes
    province = rules["SX22-3.2-clean-production-grade1"].industry_codes
    assert "2110" not in jiangxian and not any(code.startswith("21") for code in jiangxian)  # furniture
    assert "3391" in jiangxian and "3391" not in province  # 铸造 is 绛县's, not the province's list
    with pytest.raises(InputError):
        catalog.taxonomy().resolve("重点行业")  # a plan's list, not an industry a project can be
