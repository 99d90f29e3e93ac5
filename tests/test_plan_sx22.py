"""Plan 002 (山西省“十四五”生态环境保护规划): each rule reaches what its sentence names.

Sites are admin areas or demonstration layers of the default build; every expected verdict
is the one the quoted sentence gives (see the rule's quote in shanxi_2022_eco_plan.yaml).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import shapely
import yaml

from layers import catalog
from spatial.checker import check
from spatial.industry import IndustryMatch
from spatial.rules import Action, Stage, Verdict
from spatial.semantics import rule_verdict
from tests.sites import site_in_zone

PLAN = "shanxi-14th-eco"
RULE_FILE = catalog.DATA / "rules" / "shanxi_2022_eco_plan.yaml"
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "002_cc20a076072919e3.txt"

DATONG, PINGCHENG, GUANGLING = "140200", "140213", "140223"
CHANGZHI, LUZHOU = "140400", "140403"
WENSHUI, PINGYAO, TAIGU = "141121", "140728", "140703"
YANHU = "140802"


def rules_by_id() -> dict:
    return {rule.id: rule for rule in catalog.rules() if rule.plan.id == PLAN}


RULES = list(catalog.rules())
SX = rules_by_id()


def run(layers, site, industry, stage, project=""):
    return check(site, catalog.taxonomy().resolve(industry), Stage.parse(stage), RULES, layers, project=project)


def county(layers, code):
    return shapely.point_on_surface(layers.admin_area(code))


def verdicts(result) -> dict:
    return {f.rule.id: f.verdict for f in result.findings}


def skipped(result) -> dict:
    return {n.rule.id: n.layer for n in result.not_evaluated}


# ── the text ────────────────────────────────────────────────────────────────

def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_quote_and_not_encoded_sentence_is_verbatim_in_the_plan():
    seed = _norm(SEED.read_text(encoding="utf-8"))
    raw = yaml.safe_load(RULE_FILE.read_text(encoding="utf-8"))
    for entry in raw["rules"] + raw["not_encoded"]:
        assert _norm(entry["quote"]) in seed, entry.get("id", entry["section"])


def test_not_encoded_sentences_are_recorded_with_a_reason():
    recorded = {item.quote: item.reason for item in catalog.not_encoded() if item.plan.id == PLAN}
    assert any("散煤清零" in q for q in recorded)
    assert any("新增化工园区" in q for q in recorded)
    assert any("湖（库）区周边生态空间管控" in q for q in recorded)
    assert all(reason for reason in recorded.values())


# ── acceptance examples ─────────────────────────────────────────────────────

@pytest.mark.parametrize("code", [PINGCHENG, GUANGLING, DATONG])
def test_a_new_chemical_plant_in_datong_far_from_rivers_is_not_prohibited(layers, code):
    result = run(layers, county(layers, code), "化工", "new")
    sx = {i: v for i, v in verdicts(result).items() if i.startswith("SX22")}
    assert Verdict.PROHIBITED not in sx.values()
    # the riverside ban has no distance ("一定范围"): a review, never a ban
    assert sx["SX22-3.1-rivers-setback"] is Verdict.REVIEW
    assert sx["SX22-3.2-industrial-parks"] is Verdict.REVIEW  # 入园: may already be in a park
    assert result.overall is not Verdict.PROHIBITED


def test_an_existing_steel_plant_gets_no_unconditional_exit_from_backward_capacity(layers):
    result = run(layers, county(layers, PINGCHENG), "钢铁", "existing")
    found = {f.rule.id: f for f in result.findings}
    hit = found["SX22-3.2-backward-capacity-exit"]
    assert hit.verdict is Verdict.REVIEW
    assert "落后产能" in SX["SX22-3.2-backward-capacity-exit"].condition
    assert Verdict.EXIT not in {f.verdict for f in result.findings if f.rule.plan.id == PLAN}
    # the retrofit the plan does order for every existing steel plant (L310)
    assert found["SX22-5.2-ule-steel-coke-cement"].verdict is Verdict.RESTRICTED


@pytest.mark.parametrize("rule_id", ["SX22-6.3-fen-levee-50m", "SX22-6.3-yellow-tributary-levee-50m",
                                     "SX22-6.3-other-tributary-levee-30m"])
def test_the_levee_planting_strips_never_restrict_a_project(layers, rule_id):
    rule = SX[rule_id]
    assert rule.condition and "植树种草增绿" in rule.condition
    assert rule_verdict(rule, IndustryMatch.WITHIN) is Verdict.REVIEW
    for code in (PINGCHENG, YANHU, LUZHOU):
        result = run(layers, county(layers, code), "软件开发", "new")
        assert verdicts(result).get(rule_id, Verdict.COMPLIANT).severity <= Verdict.REVIEW.severity
        assert result.overall.severity < Verdict.RESTRICTED.severity


# ── support is not an exit order ────────────────────────────────────────────

def test_relocation_of_built_up_polluters_is_support_not_exit(layers):
    for rule_id in ("SX22-3.1-built-up-relocate", "SX22-3.1-built-up-periphery-relocate"):
        assert SX[rule_id].action is Action.ENCOURAGE
        assert SX[rule_id].stages == frozenset({Stage.EXISTING})
    result = run(layers, county(layers, PINGCHENG), "焦化", "existing")
    assert verdicts(result)["SX22-3.1-built-up-periphery-relocate"] is Verdict.COMPLIANT
    expanding = run(layers, county(layers, PINGCHENG), "焦化", "expand")
    assert "SX22-3.1-built-up-periphery-relocate" not in verdicts(expanding)


# ── this plan's own industry lists ──────────────────────────────────────────

def test_key_industries_are_the_l228_list_not_the_union(layers):
    site = county(layers, PINGCHENG)
    consult = "SX22-5.5-1p30-eia-consultation"
    assert consult in skipped(run(layers, site, "钢铁", "new"))
    assert consult in skipped(run(layers, site, "包装印刷", "new"))
    # 铸造 is in 001's list of 重点行业 (and in the old cross-plan union), not in 002's L228 list
    # (001's 铁合金/冶炼/煤化 fall inside 002's 钢铁/有色/能源 anyway)
    result = run(layers, site, "铸造", "new")
    assert consult not in skipped(result)
    assert "SX22-3.2-clean-production-grade1" not in verdicts(result)
    assert not any(code.startswith("33") for code in SX[consult].industry_codes)


def test_industrial_coating_is_a_process_so_a_furniture_code_is_only_reviewed(layers):
    result = run(layers, county(layers, PINGCHENG), "2110", "new")
    assert verdicts(result)["SX22-3.2-clean-production-grade1"] is Verdict.REVIEW
    named = run(layers, county(layers, PINGCHENG), "包装印刷", "new")
    assert verdicts(named)["SX22-3.2-clean-production-grade1"] is Verdict.RESTRICTED


def test_power_in_the_clean_transport_rule_is_thermal_power(layers):
    site = site_in_zone(layers, "city_planning_areas", YANHU)
    rule_id = "SX22-3.4-city-clean-transport"
    assert verdicts(run(layers, site, "4411", "existing"))[rule_id] is Verdict.RESTRICTED
    assert verdicts(run(layers, site, "4412", "existing"))[rule_id] is Verdict.RESTRICTED
    for renewable in ("4413", "4415", "4416"):
        assert rule_id not in verdicts(run(layers, site, renewable, "existing")), renewable


@pytest.mark.parametrize("industry, reached", [
    ("焦化", True), ("钢铁", True), ("化工", True), ("水泥", True), ("有色金属冶炼", True),
    ("造纸", False), ("电镀", False), ("软件开发", False),
])
def test_the_riverside_ban_names_only_this_plans_high_pollution_list(layers, industry, reached):
    result = run(layers, county(layers, GUANGLING), industry, "new")
    assert ("SX22-3.1-rivers-setback" in verdicts(result)) is reached
    if reached:
        assert verdicts(result)["SX22-3.1-rivers-setback"] is Verdict.REVIEW
    assert SX["SX22-3.1-rivers-setback"].zone.kind.value == "undefined"


def test_captive_coal_units_are_only_part_of_thermal_power(layers):
    site = county(layers, PINGCHENG)
    assert verdicts(run(layers, site, "4411", "new"))["SX22-3.3-captive-coal-units"] is Verdict.REVIEW
    assert verdicts(run(layers, site, "自备燃煤发电机组", "new"))["SX22-3.3-captive-coal-units"] is Verdict.PROHIBITED


# ── conditions the industry code cannot tell: 需复核, never 退出/禁止 ─────────

def test_small_coal_boiler_exit_binds_only_boilers_under_35_t(layers):
    result = run(layers, county(layers, PINGCHENG), "4430", "existing")
    assert verdicts(result)["SX22-5.1-small-coal-boilers-exit"] is Verdict.REVIEW
    assert "35蒸吨" in SX["SX22-5.1-small-coal-boilers-exit"].condition


def test_open_pit_mine_closure_binds_only_open_pit_mines(layers):
    site = site_in_zone(layers, "city_planning_areas", YANHU)
    result = run(layers, site, "露天矿山", "existing")
    assert verdicts(result)["SX22-5.4-city-open-pit-mines-exit"] is Verdict.REVIEW
    coal = run(layers, site, "06", "existing")
    assert verdicts(coal)["SX22-5.4-city-open-pit-mines-exit"] is Verdict.REVIEW


@pytest.mark.parametrize("rule_id", [
    "SX22-6.2-drinking-water-illegal", "SX22-6.3-river-channel-restore", "SX22-6.3-wetland-restore",
    "SX22-9.2-reserve-encroachment-exit", "SX22-9.2-lake-encroachment-exit",
    "SX22-3.2-backward-capacity-exit", "SX22-5.1-small-coal-boilers-exit", "SX22-5.4-city-open-pit-mines-exit",
])
def test_exits_on_a_subset_are_conditions(rule_id):
    rule = SX[rule_id]
    assert rule.action is Action.EXIT and rule.condition
    assert rule_verdict(rule, IndustryMatch.WITHIN) is Verdict.REVIEW


def test_only_illegal_projects_in_drinking_water_zones_are_targeted():
    assert "违法建设项目" in SX["SX22-6.2-drinking-water-illegal"].condition


def test_park_rules_are_conditions_stated_for_sites_outside_parks(layers):
    site = county(layers, PINGCHENG)
    plating = run(layers, site, "电镀", "existing")
    assert verdicts(plating)["SX22-10.2-electroplating-parks"] is Verdict.REVIEW
    assert "园区" in SX["SX22-10.2-electroplating-parks"].condition
    casting = run(layers, site, "铸造", "new")
    assert verdicts(casting)["SX22-3.2-industrial-parks"] is Verdict.REVIEW


def test_coal_offset_binds_projects_that_add_coal_use_only(layers):
    result = run(layers, county(layers, PINGCHENG), "化工", "new")
    assert verdicts(result)["SX22-3.3-coal-offset"] is Verdict.REVIEW


# ── places the sentences name ───────────────────────────────────────────────

def test_basic_farmland_rule_uses_the_concentrated_areas_like_yuncheng(layers):
    for rule_id in ("SX22-7.1-basic-farmland-new", "SX22-7.1-basic-farmland-exit"):
        assert SX[rule_id].zone.layer == "basic_farmland_concentrated"
        assert SX[rule_id].industries == ("可能造成土壤污染的建设项目",)
    result = run(layers, county(layers, PINGCHENG), "焦化", "new")
    assert skipped(result)["SX22-7.1-basic-farmland-new"] == "basic_farmland_concentrated"


def test_zhang_river_coal_chemical_rule_reaches_the_zhang_basin_only(layers):
    rule_id = "SX22-6.4-zhang-coal-chemical"
    assert verdicts(run(layers, county(layers, LUZHOU), "煤化工", "new"))[rule_id] is Verdict.REVIEW
    assert rule_id not in verdicts(run(layers, county(layers, PINGCHENG), "煤化工", "new"))


def test_named_lakes_are_evaluated_in_their_city_only(layers):
    in_changzhi = skipped(run(layers, county(layers, LUZHOU), "焦化", "new"))
    in_datong = skipped(run(layers, county(layers, PINGCHENG), "焦化", "new"))
    assert "SX22-3.1-zhangze-lake" in in_changzhi and "SX22-3.1-zhangze-lake" not in in_datong
    assert "SX22-3.1-jinyang-lake" not in in_datong and "SX22-3.1-wuxing-yanhu-lakes" not in in_datong


def test_livestock_counties_measure_is_encouragement_in_the_named_counties(layers):
    rule_id = "SX22-6.2-livestock-counties"
    for code in (WENSHUI, PINGYAO, TAIGU):
        result = run(layers, county(layers, code), "畜禽养殖", "existing")
        assert verdicts(result)[rule_id] is Verdict.COMPLIANT
    assert rule_id not in verdicts(run(layers, county(layers, PINGCHENG), "畜禽养殖", "existing"))


# ── sentences the audit found missing ───────────────────────────────────────

def test_three_control_lines_are_a_general_condition(layers):
    result = run(layers, county(layers, PINGCHENG), "软件开发", "new")
    assert "SX22-3.1-sanxian" in {c.rule.id for c in result.conditions}
    assert "SX22-3.1-sanxian" not in verdicts(result)


def test_mercury_thermometers_are_prohibited_as_in_yuncheng(layers):
    result = run(layers, county(layers, PINGCHENG), "含汞体温计血压计", "new")
    assert verdicts(result)["SX22-10.3-mercury-devices"] is Verdict.PROHIBITED


def test_zero_landfill_areas(layers):
    site = county(layers, PINGCHENG)
    new = run(layers, site, "生活垃圾填埋场", "new")
    assert verdicts(new)["SX22-8.2-zero-landfill-new"] is Verdict.REVIEW  # which areas: undefined
    existing = run(layers, site, "生活垃圾填埋场", "existing")
    assert verdicts(existing)["SX22-8.2-zero-landfill-existing"] is Verdict.REVIEW
    assert SX["SX22-8.2-zero-landfill-existing"].action is not Action.EXIT
    incineration = run(layers, site, "生活垃圾焚烧", "new")
    assert verdicts(incineration)["SX22-8.2-incineration"] is Verdict.COMPLIANT


def test_land_use_change_survey(layers):
    result = run(layers, county(layers, PINGCHENG), "住宅", "new")
    assert verdicts(result)["SX22-7.2-land-use-change-survey"] is Verdict.REVIEW


def test_ultra_low_emission_retrofit_binds_existing_coke_and_cement(layers):
    site = county(layers, PINGCHENG)
    for industry in ("焦化", "水泥"):
        assert verdicts(run(layers, site, industry, "existing"))["SX22-5.2-ule-steel-coke-cement"] is Verdict.RESTRICTED
    assert "SX22-5.2-ule-steel-coke-cement" not in verdicts(run(layers, site, "有色金属冶炼", "existing"))


def test_new_zone_rules_are_not_evaluated_without_their_layers(layers):
    site = county(layers, PINGCHENG)
    assert skipped(run(layers, site, "01", "existing"))["SX22-7.1-strict-control-farmland"] == "strict_control_farmland"
    assert skipped(run(layers, site, "焦化", "new"))["SX22-6.4-fen-basin-load-control"] == "fen_basin"
    assert skipped(run(layers, site, "4610", "existing"))["SX22-6.1-overdraft-well-closure"] == "groundwater_overdraft"
