"""Sites from the sentences of the 绛县 (001, JX21) and 晋城市城区 (004, CQ23) plans.

Each test reads one sentence: a site, an industry, a stage, and the verdict the sentence
gives. Zones the plans name but no source provides yet (river channels, 泉域, 涑水河流域,
自然保护区 …) are filled here with a small square round the site, so that the rule's
verdict inside its zone can be asserted; the square is test data, not a claim about
where the zone lies.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from layers import catalog
from spatial.checker import check
from spatial.layer import Layer, LayerSet, Provenance
from spatial.rules import Action, Stage, Verdict

RULES = list(catalog.rules())
BY_ID = {rule.id: rule for rule in RULES}
JIANGXIAN, CHENGQU = "140826", "140502"
CHENGQU_SITE = shapely.Point(112.8398, 35.4434)  # 城区 (a demonstration 一般管控单元 when demo layers are built)


def run(layers, site, industry, stage, project=""):
    return check(site, catalog.taxonomy().resolve(industry), Stage.parse(stage), RULES, layers, project=project)


def verdicts(result, prefix):
    return {f.rule.id: f.verdict for f in result.findings if f.rule.id.startswith(prefix)}


def conditions(result):
    return {c.rule.id for c in result.conditions}


def not_evaluated(result):
    return {n.rule.id: n.layer for n in result.not_evaluated}


def with_zone(layers: LayerSet, layer_id: str, around: shapely.Point, half_deg: float = 0.01) -> LayerSet:
    """The layers with a declared-missing zone filled by a square round a site (test data)."""
    square = shapely.box(around.x - half_deg, around.y - half_deg, around.x + half_deg, around.y + half_deg)
    provenance = Provenance(source="test", version="test", sha256="", crs="EPSG:4326", accuracy_m=5.0,
                            authoritative=False, demonstration=False, note="test square")
    layer = Layer(layer_id, layers.missing[layer_id].name, gpd.GeoDataFrame({"name": ["test"]}, geometry=[square], crs=4326),
                  provenance)
    return LayerSet({**layers.layers, layer_id: layer}, {k: v for k, v in layers.missing.items() if k != layer_id})


@pytest.fixture(scope="module")
def jiangxian(layers):
    return shapely.point_on_surface(layers.admin_area(JIANGXIAN))


# ------------------------------------------------------------------ 001 绛县


def test_new_two_high_capacity_with_replacement_is_restricted_not_prohibited(layers, jiangxian):
    # 6.2.2 “严禁新增两高项目产能；确有必要新建的，要严格执行产能置换实施办法”
    assert "JX21-6.2.2-lianggao-ban" not in BY_ID
    for industry in ("C2521", "焦化"):
        for stage in ("new", "expand"):
            found = {k: v for k, v in verdicts(run(layers, jiangxian, industry, stage), "JX21-6.2.2").items()
                     if "lianggao" in k}
            assert found == {"JX21-6.2.2-lianggao-replacement": Verdict.RESTRICTED}
            assert Verdict.PROHIBITED not in verdicts(run(layers, jiangxian, industry, stage), "JX21").values()
    # the same plant outside 绛县 (城区) is not reached by a 绛县 rule
    assert verdicts(run(layers, CHENGQU_SITE, "C2521", "new"), "JX21") == {}


def test_cleaner_production_reaches_this_plans_key_industries_only(layers, jiangxian):
    # 6.1.4 “新增的重点行业企业全部达到清洁生产一级标准”; 重点行业 = 6.1.2 “煤化、铁合金、冶炼、铸造等重点行业”
    rule = "JX21-6.1.4-cleaner-production"
    for industry in ("C2110", "3411", "4411", "2319"):  # furniture, machinery, power, printing
        assert rule not in verdicts(run(layers, jiangxian, industry, "new"), "JX21")
    for industry in ("3391", "2521", "314", "3211"):  # 铸造, 煤化(焦化), 铁合金, 冶炼
        assert verdicts(run(layers, jiangxian, industry, "new"), "JX21")[rule] is Verdict.RESTRICTED


def test_major_projects_outside_development_zones_are_reviewed_not_encouraged(layers, jiangxian):
    # 6.1.1 “重大项目原则上布局在优化开发区和重点开发区”: outside those zones → review
    rule = BY_ID["JX21-6.1.1-major-projects"]
    assert rule.action is Action.RESTRICT and rule.condition
    result = run(layers, jiangxian, "3411", "new")
    assert not_evaluated(result)["JX21-6.1.1-major-projects"] == "jx_outside_development_zones"
    filled = with_zone(layers, "jx_outside_development_zones", jiangxian)
    assert verdicts(run(filled, jiangxian, "3411", "new"), "JX21")["JX21-6.1.1-major-projects"] is Verdict.REVIEW
    elsewhere = shapely.Point(jiangxian.x + 0.05, jiangxian.y)
    assert layers.admin_area(JIANGXIAN).contains(elsewhere)
    finding = next(f for f in run(filled, elsewhere, "3411", "new").findings if f.rule.id == rule.id)
    assert finding.verdict is Verdict.COMPLIANT and finding.inside is False


def test_traditional_industry_into_parks_is_a_review_not_a_restriction_everywhere(layers, jiangxian):
    # 6.2.2 “推进传统产业集群入园升级改造” binds plants outside parks; parks have no map
    assert verdicts(run(layers, jiangxian, "3391", "existing"), "JX21")["JX21-6.2.2-traditional-into-parks"] is Verdict.REVIEW
    assert "JX21-6.2.2-traditional-into-parks" not in verdicts(run(layers, jiangxian, "C2110", "existing"), "JX21")


def test_nature_reserve_rule_uses_nature_reserves_proper_and_covers_expansion(layers, jiangxian):
    # 6.1.1 “严格禁止在自然保护区……布局化学原料和化学制品制造、医药制造……等项目”
    rule = BY_ID["JX21-6.1.1-nature-reserve"]
    assert rule.zone.layer == "nature_reserves_strict"
    reserve = with_zone(layers, "nature_reserves_strict", jiangxian)
    for stage in ("new", "expand"):
        assert verdicts(run(reserve, jiangxian, "2614", stage), "JX21")["JX21-6.1.1-nature-reserve"] is Verdict.PROHIBITED
    # a 森林公园/自然公园 (自然保护地 only) does not bring the rule into play
    park_only = with_zone(layers, "nature_reserves", jiangxian)
    result = run(park_only, jiangxian, "2614", "new")
    assert "JX21-6.1.1-nature-reserve" not in verdicts(result, "JX21")
    assert not_evaluated(result)["JX21-6.1.1-nature-reserve"] == "nature_reserves_strict"


def test_sushui_channel_clearance_reaches_only_illegal_structures(layers, jiangxian):
    # 6.3.7 “全面清理涑水河堤内建筑垃圾、生活垃圾、工业废弃物及违法建筑物”
    channel = with_zone(layers, "sushui_channel", jiangxian)
    assert verdicts(run(channel, jiangxian, "4812", "existing"), "JX21")["JX21-6.3.7-sushui-channel-clearance"] is Verdict.REVIEW


def test_grazing_in_river_channels_is_prohibited(layers, jiangxian):
    # 6.3.5 “规范养殖行为，严禁河道放牧。”
    channels = with_zone(layers, "river_channels", jiangxian)
    assert verdicts(run(channels, jiangxian, "放牧", "existing"), "JX21")["JX21-6.3.5-river-grazing"] is Verdict.PROHIBITED
    # cattle and sheep may be stall-fed: by code only a review; pigs are not grazed
    assert verdicts(run(channels, jiangxian, "0314", "new"), "JX21")["JX21-6.3.5-river-grazing"] is Verdict.REVIEW
    assert verdicts(run(channels, jiangxian, "031", "new"), "JX21")["JX21-6.3.5-river-grazing"] is Verdict.REVIEW
    assert "JX21-6.3.5-river-grazing" not in verdicts(run(channels, jiangxian, "0313", "new"), "JX21")
    assert not_evaluated(run(layers, jiangxian, "放牧", "existing"))["JX21-6.3.5-river-grazing"] == "river_channels"


def test_sushui_basin_intakes(layers, jiangxian):
    # 6.3.6 “全面排查涑水河流域取水口……坚决取缔非法取水口，严控随意无序取水。”
    basin = with_zone(layers, "sushui_watershed", jiangxian)
    assert verdicts(run(basin, jiangxian, "4610", "existing"), "JX21")["JX21-6.3.6-illegal-intakes-exit"] is Verdict.REVIEW
    assert verdicts(run(basin, jiangxian, "0513", "new"), "JX21")["JX21-6.3.6-intake-control"] is Verdict.REVIEW
    assert not_evaluated(run(layers, jiangxian, "4610", "existing"))["JX21-6.3.6-illegal-intakes-exit"] == "sushui_watershed"


def test_backward_capacity_and_sanluanwu(layers, jiangxian):
    # 6.1.2 “推动煤化、铁合金、冶炼、铸造、洗煤等传统产业转型升级，淘汰落后产能”: only backward capacity
    result = run(layers, jiangxian, "3391", "existing")
    assert verdicts(result, "JX21")["JX21-6.1.2-backward-capacity-exit"] is Verdict.REVIEW
    # 6.2.2 “持续开展‘散乱污’企业动态管理……分类实施关停取缔、搬迁和原地提升改造”: a condition
    assert "JX21-6.2.2-sanluanwu" in conditions(result)
    assert "JX21-6.1.2-backward-capacity-exit" not in verdicts(run(layers, jiangxian, "C2110", "existing"), "JX21")


def test_land_use_change_survey_is_a_county_condition(layers, jiangxian):
    # 6.4.3 “土地用途拟变更的……开展土壤环境调查评估……不得纳入用地程序。”
    result = run(layers, jiangxian, "4710", "new")
    assert "JX21-6.4.3-land-use-change" in conditions(result)
    assert "JX21-6.4.3-land-use-change" not in not_evaluated(result)


def test_reclaimed_wetland_return(layers, jiangxian):
    # 6.6.1 “加强围垦湿地退还”
    wetlands = with_zone(layers, "natural_wetlands", jiangxian)
    assert verdicts(run(wetlands, jiangxian, "01", "existing"), "JX21")["JX21-6.6.1-wetland-reclamation-return"] is Verdict.REVIEW


def test_jiangxian_sentences_not_encoded_are_recorded():
    quotes = [n.quote for n in catalog.not_encoded() if n.plan.id == "jiangxian-14th-eco"]
    for text in ("严守水资源保护三条红线", "在涑水河流域持续开展专项执法攻坚行动", "严格湿地分区管理", "散养密集区",
                 "推进取缔严重污染企业", "严厉打击非法取水"):
        assert any(text in q for q in quotes), text


# ------------------------------------------------------------------ 004 晋城市城区


def test_site_lies_in_chengqu(layers):
    assert layers.admin_area(CHENGQU).contains(CHENGQU_SITE)


def test_general_unit_rule_is_a_condition_not_a_restriction(layers):
    # “落实一般管控单元管理规定……执行国家、省、市相关产业准入、总量控制、排放标准等管理规定”
    result = run(layers, CHENGQU_SITE, "软件开发", "new")
    assert "CQ23-3.1-general-units" not in verdicts(result, "CQ23")
    assert "CQ23-3.1-general-units" in conditions(result)
    assert Verdict.RESTRICTED not in verdicts(result, "CQ23").values()


def test_coal_washing_does_not_pull_in_coal_mines(layers):
    # 专栏2 “对煤炭洗选……等13个行业分阶段逐步实施淘汰搬迁，严格控制新增产能”
    existing = verdicts(run(layers, CHENGQU_SITE, "0610", "existing"), "CQ23")
    assert existing["CQ23-box2-13-industries-exit"] is Verdict.REVIEW
    assert verdicts(run(layers, CHENGQU_SITE, "0610", "new"), "CQ23")["CQ23-box2-13-industries-new"] is Verdict.REVIEW
    assert verdicts(run(layers, CHENGQU_SITE, "煤炭洗选", "existing"), "CQ23")["CQ23-box2-13-industries-exit"] is Verdict.EXIT
    for code in ("2524", "1012", "3032", "3034", "4430", "2921"):  # 型煤, 采石, 采石（来料加工）, 保温材料, 热力, 塑料制品
        assert verdicts(run(layers, CHENGQU_SITE, code, "existing"), "CQ23")["CQ23-box2-13-industries-exit"] is Verdict.EXIT
    for code in ("3021", "3012", "2625", "1019"):  # classes the term is only part of
        assert verdicts(run(layers, CHENGQU_SITE, code, "existing"), "CQ23")["CQ23-box2-13-industries-exit"] is Verdict.REVIEW


def test_small_backward_plants_only(layers):
    # “对各类土小企业采取断然措施坚决取缔”
    assert verdicts(run(layers, CHENGQU_SITE, "2521", "existing"), "CQ23")["CQ23-3.2-small-backward"] is Verdict.REVIEW


def test_rivers_clear_four_only_violations(layers):
    # “对城区15条河流开展‘清四乱’大起底大排查大整治行动”
    channels = with_zone(layers, "river_channels", CHENGQU_SITE)
    assert verdicts(run(channels, CHENGQU_SITE, "4822", "existing"), "CQ23")["CQ23-5.2-rivers-clear-four"] is Verdict.REVIEW


@pytest.mark.parametrize("industry", ["太阳能发电", "4416", "4415", "4610", "4690", "软件开发", "7010"])
def test_20km_ring_leaves_projects_without_air_emissions(layers, industry):
    # “市区周边20公里范围内不再新上涉气项目”: 涉气 = projects that emit air pollutants
    result = run(layers, CHENGQU_SITE, industry, "new")
    assert "CQ23-3.2-urban-20km" not in verdicts(result, "CQ23")


def test_20km_ring_prohibits_emitters_and_reviews_what_the_code_cannot_tell(layers):
    for industry in ("3011", "4411", "2521", "3391", "443"):
        assert verdicts(run(layers, CHENGQU_SITE, industry, "new"), "CQ23")["CQ23-3.2-urban-20km"] is Verdict.PROHIBITED
    for industry in ("2110", "3411", "4620", "0610"):
        assert verdicts(run(layers, CHENGQU_SITE, industry, "new"), "CQ23")["CQ23-3.2-urban-20km"] is Verdict.REVIEW


def test_core_area_heavy_air_polluters_only(layers):
    # “核心区域内不再新上涉气重污染企业” (重污染行业: 钢铁（冶铸）、石灰窑、砖瓦窑、粉磨站)
    assert "CQ23-box2-core-area-new" not in verdicts(run(layers, CHENGQU_SITE, "2110", "new"), "CQ23")
    assert "CQ23-box2-core-area-new" not in verdicts(run(layers, CHENGQU_SITE, "4416", "new"), "CQ23")
    assert verdicts(run(layers, CHENGQU_SITE, "3110", "new"), "CQ23")["CQ23-box2-core-area-new"] is Verdict.REVIEW


def test_existing_strict_control_of_named_industries(layers):
    # “对现有铸造、煤炭开采、汽修、餐饮、水泥等行业涉及企业严格管控”
    for industry in ("8111", "62", "3391", "3011"):
        found = verdicts(run(layers, CHENGQU_SITE, industry, "existing"), "CQ23")
        assert found["CQ23-box2-existing-strict-control"] is Verdict.REVIEW
    assert "CQ23-box2-existing-strict-control" not in verdicts(run(layers, CHENGQU_SITE, "2110", "existing"), "CQ23")


def test_retrospective_relocation_is_not_a_rule():
    # 第一章（一）工作成效 “加快推进晋城市健牛工贸有限公司等企业的搬迁改造进度” (十三五 achievements)
    assert "CQ23-1.1-jianniu-relocation" not in BY_ID
    quotes = [n for n in catalog.not_encoded() if n.plan.id == "chengqu-14th-eco"]
    assert any("健牛工贸" in n.quote and "回顾" in n.reason for n in quotes)
    for text in ("对超污染物总量指标的企业实施停产", "不得作为热源", "闲置院落"):
        assert any(text in n.quote for n in quotes), text


def test_spring_zone_sentences(layers):
    # “在泉域的重点保护区内……禁止将已污染含水层与未污染含水层的地下水混合开采”
    key_zone = with_zone(layers, "spring_key_zones", CHENGQU_SITE)
    assert verdicts(run(key_zone, CHENGQU_SITE, "4610", "existing"), "CQ23")["CQ23-5.1-spring-mixed-aquifers"] is Verdict.REVIEW
    # “加强对泉域范围内采矿企业的取用水管理”
    spring_area = with_zone(layers, "spring_areas", CHENGQU_SITE)
    assert verdicts(run(spring_area, CHENGQU_SITE, "0610", "existing"), "CQ23")["CQ23-5.1-spring-area-mining-water"] is Verdict.RESTRICTED


def test_casting_total_load_and_soil_survey(layers):
    # “对铸造等重点行业企业实行污染物总量控制……纳入排污许可证管理”
    assert verdicts(run(layers, CHENGQU_SITE, "3391", "existing"), "CQ23")["CQ23-3.2-casting-total-load"] is Verdict.RESTRICTED
    # “以用途变更为住宅、公共管理与公共服务用地的地块，以及腾退工矿企业用地为重点，依法开展土壤污染状况调查和风险评估”
    assert "CQ23-3.4-soil-survey-land-use-change" in conditions(run(layers, CHENGQU_SITE, "4710", "new"))


def test_rail_highway_dumps(layers):
    # 专栏3 “对高铁、高速沿线的裸露砂堆、煤堆、渣堆、土堆、垃圾堆等不规范堆场……进行清理”
    assert verdicts(run(layers, CHENGQU_SITE, "5161", "existing"), "CQ23")["CQ23-box3-rail-highway-dumps"] is Verdict.REVIEW
    assert "CQ23-box3-rail-highway-dumps" not in verdicts(run(layers, CHENGQU_SITE, "651", "existing"), "CQ23")


def test_forest_grazing_ban_by_term_and_by_code(layers):
    # “严禁在新造林地、未成林地、封山育林区等重要生态区域放牧。”
    forest = with_zone(layers, "forest_grazing_ban", CHENGQU_SITE)
    assert verdicts(run(forest, CHENGQU_SITE, "放牧", "existing"), "CQ23")["CQ23-4.1-grazing-ban"] is Verdict.PROHIBITED
    assert verdicts(run(forest, CHENGQU_SITE, "0311", "existing"), "CQ23")["CQ23-4.1-grazing-ban"] is Verdict.REVIEW
    assert "CQ23-4.1-grazing-ban" not in verdicts(run(forest, CHENGQU_SITE, "0313", "existing"), "CQ23")
