"""《运城市"十四五"生态环境保护规划》(YC21): each corrected or added rule checked at a site,
from the sentence it encodes (seed 000_4170045ae78128c7.txt)."""

from datetime import date

import pytest
import shapely

from layers import catalog
from spatial.checker import check
from spatial.errors import InputError
from spatial.industry import IndustryMatch
from spatial.rules import Stage, Verdict
from spatial.semantics import rule_verdict
from tests.sites import site_clear_of_zone, site_in_zone, site_near

RULES = list(catalog.rules())
BY_ID = {rule.id: rule for rule in RULES}
YANHU, JIANGXIAN, XINJIANG, YONGJI = "140802", "140826", "140825", "140881"
CHENGQU_JINCHENG = "140502"


def run(layers, site, industry, stage, project="", on=None):
    kwargs = {"on": on} if on else {}
    return check(site, catalog.taxonomy().resolve(industry), Stage.parse(stage), RULES, layers, project=project, **kwargs)


def verdicts(result):
    return {f.rule.id: f.verdict for f in result.findings}


def county(layers, code):
    return shapely.point_on_surface(layers.admin_area(code))


def furniture():
    """A furniture plant: class 2110 where the full GB/T table is loaded, else division 21 (all furniture)."""
    try:
        catalog.taxonomy().resolve("C2110")
        return "C2110"
    except InputError:
        return "21"


# --- 三、（一）L769–796: 污染较重 / 高风险 in 城市规划区、县城规划区 -----------------------------

@pytest.mark.parametrize("industry", ["造纸", "电镀", "选矿", "危险化学品仓储"])
def test_new_paper_mill_or_plating_shop_in_a_planning_area_is_prohibited(layers, industry):
    rule_id = "YC21-3.1-planning-area-new"
    if "planning_areas" in layers.missing:
        result = run(layers, county(layers, YANHU), industry, "new")
        assert rule_id in {n.rule.id for n in result.not_evaluated}
        return
    result = run(layers, site_in_zone(layers, "planning_areas", YANHU), industry, "new")
    assert verdicts(result)[rule_id] is Verdict.PROHIBITED
    assert result.overall is Verdict.PROHIBITED


def test_existing_paper_mill_in_a_planning_area_must_relocate(layers):
    if "planning_areas" in layers.missing:
        pytest.skip("planning_areas layer missing")
    result = run(layers, site_in_zone(layers, "planning_areas", YANHU), "造纸", "existing")
    assert verdicts(result)["YC21-3.1-planning-area-exit"] is Verdict.EXIT


def test_paper_mill_outside_every_planning_area_is_not_reached(layers):
    if "planning_areas" in layers.missing:
        pytest.skip("planning_areas layer missing")
    result = run(layers, site_clear_of_zone(layers, "planning_areas", YANHU), "造纸", "new")
    assert verdicts(result)["YC21-3.1-planning-area-new"] is Verdict.COMPLIANT


def test_planning_area_terms_are_this_plans_own_lists():
    rule = BY_ID["YC21-3.1-planning-area-new"]
    assert {"造纸", "电镀", "洗煤", "选矿", "焦化", "有色金属冶炼", "危险化学品贮存", "危险化学品处理处置"} <= rule.industry_terms
    # a software firm or a furniture plant is neither 污染较重 nor 高风险
    for industry in ("软件开发", furniture()):
        match = catalog.taxonomy().resolve(industry).match(rule.industry_codes, rule.excepted_codes, rule.finer_codes,
                                                          rule.industry_terms)
        assert match is IndustryMatch.NONE


# --- L769–776 partial clause: 严控重污染行业产能规模 -------------------------------------------

def test_heavy_pollution_capacity_in_the_valley_is_a_restriction_under_review(layers):
    result = run(layers, county(layers, XINJIANG), "煤电", "new")
    found = verdicts(result)
    # 煤电 is a 重污染 industry of this plan (三、（二）), but not on the 禁止 list of 污染较重 projects.
    assert found["YC21-3.1-valley-heavy-capacity"] is Verdict.REVIEW
    assert found["YC21-3.1-settlement-heavy-capacity"] is Verdict.REVIEW
    assert "YC21-3.1-valley" not in found
    assert "YC21-3.1-yellow-tourism-heavy-capacity" in {n.rule.id for n in result.not_evaluated}
    assert found["YC21-3.1-lakes-heavy-capacity"] is Verdict.COMPLIANT  # 新绛 lies far beyond the lakes' band
    assert BY_ID["YC21-3.1-valley-heavy-capacity"].action.value == "限制"


def test_heavy_pollution_capacity_does_not_reach_furniture(layers):
    result = run(layers, county(layers, XINJIANG), furniture(), "new")
    assert not {i for i in verdicts(result) if i.endswith("heavy-capacity")}


# --- 三、（二）L815–823: 重点行业 = 高能耗、高排放和资源型行业 ------------------------------------

def test_new_furniture_plant_in_jiangxian_is_not_a_key_industry(layers):
    result = run(layers, county(layers, JIANGXIAN), furniture(), "new")
    found = verdicts(result)
    assert "YC21-3.2-cleaner-production" not in found
    assert "YC21-3.2-fen-valley-grade-a" not in found


def test_new_coking_plant_in_jiangxian_must_reach_cleaner_production_grade_1(layers):
    result = run(layers, county(layers, JIANGXIAN), "焦化", "new")
    assert verdicts(result)["YC21-3.2-cleaner-production"] is Verdict.RESTRICTED


def test_cleaner_production_rule_does_not_reach_outside_yuncheng(layers):
    result = run(layers, county(layers, CHENGQU_JINCHENG), "焦化", "new")
    assert "YC21-3.2-cleaner-production" not in verdicts(result)


# --- 三、（一）L784–788: 汾河（运城段）2 km; 洗煤、选矿 are plants, not mines --------------------------

@pytest.mark.parametrize("code", ["0610", "1019"])
def test_a_mine_given_by_code_near_the_fen_is_review_not_prohibited(layers, code):
    result = run(layers, site_near(layers, "fen_river", XINJIANG, 400), code, "new")
    assert verdicts(result)["YC21-3.1-fen-2km"] is Verdict.REVIEW


@pytest.mark.parametrize("industry", ["洗煤", "选矿", "造纸", "电镀"])
def test_a_washing_plant_near_the_fen_is_prohibited(layers, industry):
    result = run(layers, site_near(layers, "fen_river", XINJIANG, 400), industry, "new")
    assert verdicts(result)["YC21-3.1-fen-2km"] is Verdict.PROHIBITED


# --- 三、（二）L846–886: conditional capacity measures -------------------------------------------

def test_new_chemical_plant_outside_every_zone_is_not_prohibited_by_the_ethylene_rule(layers):
    result = run(layers, county(layers, YONGJI), "化工", "new")
    assert verdicts(result).get("YC21-3.2-ethylene-px-ctl") is not Verdict.PROHIBITED


def test_ethylene_by_product_is_prohibited_by_class_code_is_review(layers):
    site = county(layers, YONGJI)
    assert verdicts(run(layers, site, "乙烯", "new"))["YC21-3.2-ethylene-px-ctl"] is Verdict.PROHIBITED
    assert verdicts(run(layers, site, "2614", "new"))["YC21-3.2-ethylene-px-ctl"] is Verdict.REVIEW


def test_existing_steel_plant_is_review_not_exit_for_independent_sintering(layers):
    result = run(layers, county(layers, YONGJI), "311", "existing")
    assert verdicts(result)["YC21-3.2-steel-sinter-exit"] is Verdict.REVIEW
    assert "独立" in BY_ID["YC21-3.2-steel-sinter-exit"].condition


def test_existing_coke_plant_is_review_for_the_43m_oven_exit(layers):
    result = run(layers, county(layers, YONGJI), "焦化", "existing")
    assert verdicts(result)["YC21-3.2-coke-43m-exit"] is Verdict.REVIEW
    assert "4.3米" in BY_ID["YC21-3.2-coke-43m-exit"].condition


@pytest.mark.parametrize("rule_id", ["YC21-3.2-coal-power-sub300-exit", "YC21-3.2-small-coal-power",
                                     "YC21-3.2-brick-exit", "YC21-3.2-mercury-process",
                                     "YC21-3.3-small-boiler-exit", "YC21-3.3-chp-30km-exit"])
def test_subset_rules_carry_their_condition_and_give_review(rule_id):
    rule = BY_ID[rule_id]
    assert rule.condition
    assert rule_verdict(rule, IndustryMatch.WITHIN) is Verdict.REVIEW


# --- 五、（一）L1194–1196: coke ultra-low emission by 2022-10 ------------------------------------

def test_existing_coke_plant_must_have_completed_ultra_low_emission_by_october_2022(layers):
    result = run(layers, county(layers, YONGJI), "焦化", "existing", on=date(2024, 1, 1))
    hit = next(f for f in result.findings if f.rule.id == "YC21-5.1-coke-ule")
    assert hit.verdict is Verdict.RESTRICTED and hit.rule.deadline == "2022-10-31" and hit.overdue
    assert "YC21-5.1-coke-ule" not in verdicts(run(layers, county(layers, YONGJI), "焦化", "new"))
    assert "YC21-5.1-coke-ule" not in verdicts(run(layers, county(layers, CHENGQU_JINCHENG), "焦化", "existing"))


# --- 六、（三）L1464–1467: steel water reuse, chemical/dyeing deep treatment by 2025 ---------------

def test_existing_steel_plant_must_reuse_its_water_by_2025(layers):
    result = run(layers, county(layers, JIANGXIAN), "钢铁", "existing", on=date(2025, 1, 1))
    hit = next(f for f in result.findings if f.rule.id == "YC21-6.3-steel-water-reuse")
    assert hit.verdict is Verdict.RESTRICTED and hit.rule.deadline == "2025-12-31" and not hit.overdue


@pytest.mark.parametrize("industry", ["化工", "纺织印染"])
def test_existing_chemical_or_dyeing_plant_needs_deep_treatment_by_2025(layers, industry):
    result = run(layers, county(layers, JIANGXIAN), industry, "existing")
    assert verdicts(result)["YC21-6.3-chem-dyeing-deep-treatment"] is Verdict.RESTRICTED


def test_deep_treatment_does_not_reach_a_furniture_plant(layers):
    result = run(layers, county(layers, JIANGXIAN), furniture(), "existing")
    assert "YC21-6.3-chem-dyeing-deep-treatment" not in verdicts(result)


# --- 十、（二）L2157–2159: zero wastewater discharge ---------------------------------------------

@pytest.mark.parametrize("industry", ["电镀", "3843", "有色"])
def test_plating_battery_nonferrous_must_discharge_no_wastewater(layers, industry):
    result = run(layers, county(layers, YANHU), industry, "existing")
    assert verdicts(result)["YC21-10.2-heavy-metal-zero-discharge"] is Verdict.RESTRICTED


# --- 六、（四）L1566–1570: levee strips are a planting obligation -------------------------------

@pytest.mark.parametrize("rule_id", ["YC21-6.4-levee-yellow", "YC21-6.4-levee-fen", "YC21-6.4-levee-sushui",
                                     "YC21-6.4-levee-yaoxianqu"])
def test_levee_strip_rule_is_at_most_a_review(layers, rule_id):
    rule = BY_ID[rule_id]
    assert "防护林" in rule.condition
    assert rule_verdict(rule, IndustryMatch.WITHIN) is Verdict.REVIEW
    result = run(layers, county(layers, XINJIANG), "软件开发", "new")
    assert all(f.verdict in (Verdict.REVIEW, Verdict.COMPLIANT) for f in result.findings if f.rule.id == rule_id)


# --- 九、（二）L2059–2073: 自然保护区, not every 自然保护地 ----------------------------------------

@pytest.mark.parametrize("rule_id", ["YC21-9.2-nr-new", "YC21-9.2-nr-exit", "YC21-9.2-nr-quarry-new",
                                     "YC21-9.2-nr-openpit-exit"])
def test_nature_reserve_rules_use_the_nature_reserve_layer(layers, rule_id):
    assert BY_ID[rule_id].zone.layer == "nature_reserves_strict"
    declared = catalog.layer_declarations()["nature_reserves_strict"]
    assert declared["name"] == "自然保护区"


def test_nature_reserve_rule_is_not_evaluated_without_its_layer(layers):
    result = run(layers, county(layers, YANHU), "采石", "new")
    missing = {n.rule.id: n.layer for n in result.not_evaluated}
    assert missing.get("YC21-9.2-nr-quarry-new") == "nature_reserves_strict"


def test_existing_mine_in_a_reserve_exits_only_if_illegal():
    rule = BY_ID["YC21-9.2-nr-exit"]
    assert "违规" in rule.condition and rule_verdict(rule, IndustryMatch.WITHIN) is Verdict.REVIEW


# --- 八、（二）L1878–1882: plastics ban from 2021-07-01 ------------------------------------------

def test_plastics_ban_states_its_effective_date_and_has_no_invented_deadline(layers):
    rule = BY_ID["YC21-8.2-plastics"]
    assert rule.deadline is None and "2021-07-01" in rule.note
    site = county(layers, YANHU)
    assert verdicts(run(layers, site, "不可降解一次性塑料制品", "existing"))["YC21-8.2-plastics"] is Verdict.PROHIBITED
    # a plastics-products class (durable household plastics, degradable products) may not be the banned product
    assert verdicts(run(layers, site, "2927", "existing"))["YC21-8.2-plastics"] is Verdict.REVIEW


def test_mercury_device_ban_does_not_decide_every_medical_device_maker(layers):
    assert verdicts(run(layers, county(layers, YANHU), "358", "new"))["YC21-10.2-mercury-devices"] is Verdict.REVIEW


# --- recorded, not encoded -----------------------------------------------------------------------

def test_parks_wastewater_deadline_is_recorded_as_not_encoded():
    recorded = [n for n in catalog.not_encoded() if n.plan.id == "yuncheng-14th-eco"]
    assert any("省级以上工业园区全部建成污水集中处理设施" in n.quote and n.reason for n in recorded)


# --- 三、（三）L911–915: 高耗能 read as 两高, not every power plant --------------------------------

def test_a_new_solar_plant_is_not_a_high_energy_project(layers):
    site = county(layers, YONGJI)
    assert "YC21-3.3-high-energy" not in verdicts(run(layers, site, "4416", "new"))
    assert verdicts(run(layers, site, "钢铁", "new"))["YC21-3.3-high-energy"] is Verdict.RESTRICTED
