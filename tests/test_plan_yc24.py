"""运城市 2024 work measures (运政办发〔2024〕15号): each rule reaches what its sentence names.

Sites come from the sentences: a county the measure names (or one it does not), an industry,
a stage and, where the sentence names a firm or plant, the project's name. Counties are
admin areas of the built layers (a point on their surface); 中心城区 is the central_urban_area layer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import shapely
import yaml

from layers import catalog
from spatial.checker import check
from spatial.rules import Stage, Verdict, ZoneKind
from tests.sites import site_in_zone

RULES = list(catalog.rules())
PLAN = "yuncheng-2024-measures"
OURS = {r.id: r for r in RULES if r.plan.id == PLAN}
SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "003_f478b4c4109130c3.txt"
RULE_FILE = Path(catalog.DATA) / "rules" / "yuncheng_2024_measures.yaml"

YANHU, LINYI, WANRONG, WENXI, JISHAN, XINJIANG = "140802", "140821", "140822", "140823", "140824", "140825"
JIANGXIAN, YUANQU, XIAXIAN, PINGLU, RUICHENG, YONGJI, HEJIN = "140826", "140827", "140828", "140829", "140830", "140881", "140882"


def run(layers, site, industry, stage, project=""):
    return check(site, catalog.taxonomy().resolve(industry), Stage.parse(stage), RULES, layers, project=project)


def county(layers, code):
    return shapely.point_on_surface(layers.admin_area(code))


def at(layers, code, industry, stage, project=""):
    return run(layers, county(layers, code), industry, stage, project)


def findings(result):
    return {f.rule.id: f for f in result.findings if f.rule.plan.id == PLAN}


def informed(result):
    return {f.rule.id for f in getattr(result, "information", []) if f.rule.plan.id == PLAN}


def conditions(result):
    return {f.rule.id for f in result.conditions if f.rule.plan.id == PLAN}


def not_evaluated(result):
    return {n.rule.id: n.layer for n in result.not_evaluated if n.rule.plan.id == PLAN}


# ── the file itself ─────────────────────────────────────────────────────────────────────────

def _norm(text):
    return re.sub(r"\s+", "", text)


def test_every_quote_is_verbatim_in_the_plan():
    seed = _norm(SEED.read_text(encoding="utf-8"))
    raw = yaml.safe_load(RULE_FILE.read_text(encoding="utf-8"))
    quotes = [e["quote"] for e in raw["rules"]] + [e["quote"] for e in raw.get("not_encoded") or []]
    assert [q for q in quotes if _norm(q) not in seed] == []


def test_no_inferred_deadlines():
    # 推动淘汰37台煤气发生炉 and the 11 relocations carry no date in the text.
    assert OURS["YC24-A1-gasifier-exit"].deadline is None
    assert OURS["YC24-A2-central-city-named-relocation"].deadline is None
    assert OURS["YC24-A1-submerged-arc-exit"].deadline is None
    # 2024年开工/完工 is when the works start or finish, not a date for Ⅲ类.
    assert OURS["YC24-W3-named-wwtp-class3"].deadline is None


def test_named_places_are_scoped():
    scoped = {
        "YC24-A1-mingfu-exit": {JISHAN},
        "YC24-A1-submerged-arc-exit": {JIANGXIAN, PINGLU},
        "YC24-A1-gasifier-exit": {LINYI, PINGLU, XINJIANG},
        "YC24-A5-wenxi-magnesium": {WENXI},
        "YC24-A13-yanhu-loose-coal-zero": {YANHU},
        "YC24-W2-fenglingdu-wwtp-no-overflow": {RUICHENG},
        "YC24-W12-yongji-farmland-drainage": {YONGJI},
        "YC24-S7-groundwater-points": {HEJIN, WANRONG, YUANQU, XIAXIAN, YANHU, RUICHENG, WENXI},
        "YC24-AX7-named-boilers-2024": {LINYI, XINJIANG, YANHU, JISHAN},
        "YC24-AX7-named-boilers-2025": {PINGLU, RUICHENG},
    }
    assert {rid: set(OURS[rid].scope) for rid in scoped} == scoped
    for rid in ("YC24-W7-xiyuan-lake", "YC24-W7-wuxing-lake", "YC24-W7-yazichi"):
        assert OURS[rid].zone.kind is ZoneKind.WITHIN and set(OURS[rid].scope) == {YANHU, YONGJI}


def test_missing_sentences_are_encoded_or_recorded():
    recorded = {_norm(item.quote) for item in catalog.not_encoded() if item.plan.id == PLAN}
    encoded = {_norm(r.quote) for r in OURS.values()}
    for quote in (
        "2024年5月底前，完成29家企业LDAR检测修复，完成43家涉VOCs企业提升改造。",
        "2024年9月底前，完成24家企业无组织治理工作。",
        "特别是围绕废旧厂区等地方开展排查，实现散乱污企业动态清零，并形成常态化监管机制。",
        "新绛县城区及城东污水处理厂水质提标工程、万荣县荣碧污水处理有限公司提质工程2024年12月完成，出水满足回用要求，入河三项指标力争满足断面水质考核要求。",
        "盐湖区城西机电产业园污水处理厂2024年6月完成调试；永济经济技术开发区污水处理及回用工程项目2025年12月底完工；",
        "科学规范处置南风化工钡盐（运城）有限公司75万吨历史遗留固废；",
        "推动山西北方铜业有限公司铜矿峪矿环保设施提升改造工程，完成减排任务49.15千克；",
    ):
        assert _norm(quote) in encoded | recorded, quote
    assert any(_norm("40台供热企业及协同供热企业锅炉附属设施") in q for q in encoded)
    assert any(_norm("汾河流域（稷山段）污水处理厂尾水人工湿地") in q for q in recorded)


# ── acceptance examples ───────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("industry", ["C1711", "棉纺织"])
def test_cotton_mill_in_jiangxian_is_not_exited_by_named_boilers(layers, industry):
    result = at(layers, JIANGXIAN, industry, "existing")
    hits = findings(result)
    assert "YC24-AX7-named-boilers-2024" not in hits and "YC24-AX7-named-boilers-2025" not in hits
    assert all(f.verdict is not Verdict.EXIT for f in hits.values())


def test_steel_plant_in_yongji_gets_neither_mingfu_nor_wenxi_deadline(layers):
    result = at(layers, YONGJI, "钢铁", "existing")
    hits = findings(result)
    assert "YC24-A1-mingfu-exit" not in hits and "YC24-A5-wenxi-magnesium" not in hits
    assert "YC24-A4-gaoyi-co" not in hits and "YC24-A4-ule-steel" not in hits
    assert not {f.rule.deadline for f in hits.values()} & {"2024-05-31", "2024-06-30"}
    assert "YC24-A4-gaoyi-co" in informed(result)  # unplaced named firm: shown, never a verdict


@pytest.mark.parametrize("industry", ["镁冶炼", "金属镁", "C3217"])
def test_wenxi_magnesium_reaches_wenxi_only(layers, industry):
    assert "YC24-A5-wenxi-magnesium" not in findings(at(layers, YONGJI, industry, "existing"))
    hit = findings(at(layers, WENXI, industry, "existing"))["YC24-A5-wenxi-magnesium"]
    assert hit.verdict is Verdict.RESTRICTED and hit.rule.deadline == "2024-06-30"


def test_mingfu_named_in_jishan_exits_by_may_2024(layers):
    result = at(layers, JISHAN, "钢铁", "existing", project="稷山县铭福钢铁制品有限公司")
    hit = findings(result)["YC24-A1-mingfu-exit"]
    # L44–46 retires named furnaces, converters and a boiler, not the plant: 需复核, most likely 退出 of that equipment.
    assert hit.verdict is Verdict.REVIEW and hit.likely is Verdict.EXIT and hit.rule.condition
    assert hit.rule.deadline == "2024-05-31" and "2024-05-31" in hit.note and hit.overdue


def test_mingfu_does_not_bind_other_steel_plants_in_jishan(layers):
    result = at(layers, JISHAN, "钢铁", "existing", project="稷山县某钢铁有限公司")
    assert "YC24-A1-mingfu-exit" not in findings(result)
    assert "YC24-A1-mingfu-exit" in informed(result)


def test_software_company_gets_no_groundwater_points_finding(layers):
    result = at(layers, YANHU, "软件开发", "new")
    assert "YC24-S7-groundwater-points" not in findings(result)


# ── 《大气三十条》 ───────────────────────────────────────────────────────────────────────────

def test_submerged_arc_binds_the_two_named_firms(layers):
    named = findings(at(layers, JIANGXIAN, "铁合金", "existing", project="绛县华晋冶金有限公司"))
    assert named["YC24-A1-submerged-arc-exit"].verdict is Verdict.REVIEW  # 4 furnaces (L48), not the plants
    assert named["YC24-A1-submerged-arc-exit"].likely is Verdict.EXIT
    assert findings(at(layers, PINGLU, "C3140", "existing", project="平陆昌盛铁合金有限公司"))[
        "YC24-A1-submerged-arc-exit"].verdict is Verdict.REVIEW
    other = at(layers, JIANGXIAN, "铁合金", "existing", project="绛县某铁合金厂")
    assert "YC24-A1-submerged-arc-exit" not in findings(other)
    assert "YC24-A1-submerged-arc-exit" not in findings(at(layers, HEJIN, "铁合金", "existing", project="华晋"))


def test_gasifiers_are_review_in_their_three_counties_only(layers):
    hit = findings(at(layers, LINYI, "C2621", "existing"))["YC24-A1-gasifier-exit"]
    assert hit.verdict is Verdict.REVIEW and hit.rule.deadline is None and hit.rule.condition
    assert "YC24-A1-gasifier-exit" not in findings(at(layers, YONGJI, "C2621", "existing"))


def test_central_city_vocs_exit_is_not_widened(layers):
    site = site_in_zone(layers, "central_urban_area", YANHU)
    for industry in ("C3411", "C2921", "C2110"):  # metal products, plastics, furniture: not in the sentence
        assert "YC24-A2-central-city-vocs-exit" not in findings(run(layers, site, industry, "existing"))
    hit = findings(run(layers, site, "化工", "existing"))["YC24-A2-central-city-vocs-exit"]
    assert hit.verdict is Verdict.REVIEW  # only 重污染 ones: the code cannot tell


def test_central_city_relocation_binds_the_eleven_firms_only(layers):
    site = site_in_zone(layers, "central_urban_area", YANHU)
    result = run(layers, site, "C3411", "existing")
    assert "YC24-A2-central-city-named-relocation" not in findings(result)
    assert "YC24-A2-central-city-named-relocation" in informed(result)
    named = findings(run(layers, site, "C2929", "existing", project="运城市南华塑胶制品有限公司"))
    hit = named["YC24-A2-central-city-named-relocation"]
    assert hit.verdict is Verdict.EXIT and hit.rule.deadline is None


def test_gaoyi_binds_only_gaoyi(layers):
    hit = findings(at(layers, WENXI, "钢铁", "existing", project="山西高义钢铁有限公司"))["YC24-A4-gaoyi-co"]
    assert hit.verdict is Verdict.RESTRICTED and hit.rule.deadline == "2024-06-30"
    assert "YC24-A4-gaoyi-co" not in findings(at(layers, WENXI, "钢铁", "existing", project="山西建龙实业有限公司"))


def test_ultra_low_emission_reaches_named_or_counted_plants(layers):
    coke = findings(at(layers, HEJIN, "焦化", "existing", project="河津市禹门口焦化有限公司"))["YC24-A4-ule-coke"]
    assert coke.verdict is Verdict.RESTRICTED and coke.rule.deadline == "2024-10-31"
    assert "YC24-A4-ule-coke" not in findings(at(layers, HEJIN, "焦化", "existing", project="河津市某焦化厂"))
    steel = findings(at(layers, YANHU, "钢铁", "existing", project="盐湖区高祥海炉料有限公司"))["YC24-A4-ule-steel"]
    assert steel.verdict is Verdict.RESTRICTED
    assert "YC24-A4-ule-steel" not in findings(at(layers, YONGJI, "钢铁", "existing"))
    cement = findings(at(layers, YONGJI, "水泥", "existing"))["YC24-A4-ule-cement"]
    assert cement.verdict is Verdict.REVIEW  # one of 13 unnamed plants: to be checked
    assert "YC24-A4-ule-cement" not in findings(at(layers, WENXI, "水泥", "existing"))  # 闻喜 has none listed


def test_brick_kiln_exit_is_a_review_of_one_batch(layers):
    hit = findings(at(layers, XIAXIAN, "砖瓦窑", "existing"))["YC24-A5-brick-kiln"]
    assert hit.verdict is Verdict.REVIEW and hit.rule.condition


def test_vocs_ldar_counted_by_county(layers):
    assert findings(at(layers, HEJIN, "化工", "existing"))["YC24-A7-vocs-ldar-upgrade"].verdict is Verdict.REVIEW
    assert "YC24-A7-vocs-ldar-upgrade" not in findings(at(layers, WANRONG, "化工", "existing"))


def test_named_boilers_bind_named_firms_only(layers):
    named = findings(at(layers, LINYI, "C1711", "existing", project="临猗县华晋纺织有限公司"))
    hit = named["YC24-AX7-named-boilers-2024"]
    # L638–646 retires named 35 t/h coal boilers, not the plants: 需复核, likely 退出 of the boilers.
    assert hit.verdict is Verdict.REVIEW and hit.likely is Verdict.EXIT and hit.rule.deadline == "2024-10-31"
    other = at(layers, LINYI, "C1711", "existing", project="临猗县某棉纺厂")
    assert "YC24-AX7-named-boilers-2024" not in findings(other)
    assert "YC24-AX7-named-boilers-2024" in informed(other)
    yabao = findings(at(layers, RUICHENG, "医药制造", "existing", project="亚宝药业集团股份有限公司芮城工业园"))
    assert yabao["YC24-AX7-named-boilers-2025"].verdict is Verdict.REVIEW
    assert yabao["YC24-AX7-named-boilers-2025"].rule.deadline == "2025-10-31"
    assert "YC24-AX7-named-boilers-2025" not in findings(at(layers, RUICHENG, "医药制造", "existing"))


def test_one_plant_one_policy_binds_the_eleven_boilers(layers):
    hit = findings(at(layers, WANRONG, "热力", "existing", project="万荣县舒沐集中供热有限公司"))
    assert hit["YC24-A12-boiler-one-plant-one-policy"].verdict is Verdict.RESTRICTED
    assert hit["YC24-A12-boiler-one-plant-one-policy"].rule.deadline == "2024-09-30"
    plain = findings(at(layers, WANRONG, "热力", "existing"))
    assert "YC24-A12-boiler-one-plant-one-policy" not in plain
    assert plain["YC24-A12-heat-boiler-overhaul"].verdict is Verdict.REVIEW  # 万荣 has 3 of the 40
    assert "YC24-A12-heat-boiler-overhaul" not in findings(at(layers, JISHAN, "热力", "existing"))
    unplaced = findings(at(layers, YANHU, "4412", "existing", project="运城晋建热电有限公司"))
    assert unplaced["YC24-A12-boiler-one-plant-one-policy-unplaced"].verdict is Verdict.RESTRICTED
    biomass = findings(at(layers, JIANGXIAN, "4417", "existing", project="绛县山西江河生物质能发电有限公司"))
    assert biomass["YC24-A12-boiler-one-plant-one-policy"].verdict is Verdict.RESTRICTED


def test_boiler_ultra_low_is_a_review_for_a_heat_plant(layers):
    hit = findings(at(layers, YONGJI, "4430", "existing"))["YC24-A12-coal-boiler-ule"]
    assert hit.verdict is Verdict.REVIEW


def test_yanhu_loose_coal_condition_stays_in_yanhu(layers):
    assert "YC24-A13-yanhu-loose-coal-zero" in conditions(at(layers, YANHU, "C3411", "existing"))
    assert "YC24-A13-yanhu-loose-coal-zero" not in conditions(at(layers, YONGJI, "C3411", "existing"))


def test_coal_ban_zone_exempts_coal_power_and_heat(layers):
    assert "YC24-A14-coal-ban-zone-enterprises" not in not_evaluated(at(layers, YANHU, "煤电", "existing"))
    assert "YC24-A14-coal-ban-zone-enterprises" not in not_evaluated(at(layers, YANHU, "焦化", "existing"))
    assert "YC24-A14-coal-ban-zone-enterprises" in not_evaluated(at(layers, YANHU, "C3411", "existing"))


def test_scattered_polluting_is_a_condition(layers):
    result = at(layers, XIAXIAN, "C3411", "existing")
    assert "YC24-A20-scattered-polluting" in conditions(result)
    assert "YC24-A20-scattered-polluting" not in findings(result)


# ── 《“一泓清水入黄河”攻坚措施》 ───────────────────────────────────────────────────────────────

def test_fenglingdu_wwtp_rule_binds_that_plant_only(layers):
    named = findings(at(layers, RUICHENG, "污水处理", "existing", project="芮城县风陵渡经济开发区污水处理厂"))
    assert named["YC24-W2-fenglingdu-wwtp-no-overflow"].verdict is Verdict.RESTRICTED
    assert "YC24-W2-fenglingdu-wwtp-no-overflow" not in findings(at(layers, RUICHENG, "污水处理", "existing"))
    assert "YC24-W2-fenglingdu-wwtp-no-overflow" not in findings(at(layers, YONGJI, "污水处理", "existing"))


def test_xinjiang_wanrong_upgrades(layers):
    hit = findings(at(layers, WANRONG, "污水处理", "existing", project="万荣县荣碧污水处理有限公司"))
    assert hit["YC24-W2-xinjiang-wanrong-wwtp-reuse"].verdict is Verdict.RESTRICTED
    assert hit["YC24-W2-xinjiang-wanrong-wwtp-reuse"].rule.deadline == "2024-12-31"
    assert "YC24-W2-xinjiang-wanrong-wwtp-reuse" not in findings(at(layers, WANRONG, "污水处理", "existing"))


def test_named_wwtp_class3_binds_named_plants(layers):
    named = findings(at(layers, YONGJI, "污水处理", "existing", project="永济市城区污水处理厂"))
    assert named["YC24-W3-named-wwtp-class3"].verdict is Verdict.RESTRICTED
    assert "YC24-W3-named-wwtp-class3" not in findings(at(layers, YONGJI, "污水处理", "existing", project="永济市某镇污水处理站"))
    assert "YC24-W3-named-wwtp-class3" not in findings(at(layers, HEJIN, "污水处理", "existing"))


def test_fengxi_linyi_fluoride(layers):
    hit = findings(at(layers, LINYI, "化工", "existing", project="阳煤丰喜肥业（集团）有限责任公司临猗分公司"))
    assert hit["YC24-W4-fengxi-linyi-fluoride"].verdict is Verdict.RESTRICTED
    assert hit["YC24-W4-fengxi-linyi-fluoride"].rule.deadline == "2024-06-30"


def test_named_water_bodies_are_unevaluated_where_named_only(layers):
    result = at(layers, YANHU, "湖库提排", "existing")
    here = not_evaluated(result)
    assert here.get("YC24-W7-xiyuan-lake") == "xiyuan_lake"
    assert "YC24-W7-wuxing-lake" in set(here) | set(findings(result))  # 伍姓湖 has a layer (GSHHG): measured or in its band
    assert here.get("YC24-W7-yazichi") == "yazichi_wetland"
    elsewhere = at(layers, HEJIN, "湖库提排", "existing")
    assert not {"YC24-W7-xiyuan-lake", "YC24-W7-wuxing-lake", "YC24-W7-yazichi"} & (
        set(not_evaluated(elsewhere)) | set(findings(elsewhere)))
    # a drainage-works code is only partly lake pumping: not every 7610 project in the two counties
    assert "YC24-W7-xiyuan-lake" in not_evaluated(at(layers, YONGJI, "7610", "existing"))


def test_yongji_farmland_drainage_stays_in_yongji(layers):
    hit = findings(at(layers, YONGJI, "农田退水", "existing"))["YC24-W12-yongji-farmland-drainage"]
    assert hit.verdict is Verdict.RESTRICTED and hit.rule.deadline == "2025-12-31"
    assert "YC24-W12-yongji-farmland-drainage" not in findings(at(layers, LINYI, "农田退水", "existing"))
    # irrigation in general is only partly 排碱退水
    assert findings(at(layers, YONGJI, "0513", "existing"))["YC24-W12-yongji-farmland-drainage"].verdict is Verdict.REVIEW


def test_geothermal_ban_is_not_a_ban_on_every_heat_plant(layers):
    site = site_in_zone(layers, "central_urban_area", YANHU)
    heat = findings(run(layers, site, "4430", "new"))["YC24-W17-central-city-geothermal-new"]
    assert heat.verdict is Verdict.REVIEW
    well = findings(run(layers, site, "地热井", "new"))["YC24-W17-central-city-geothermal-new"]
    assert well.verdict is Verdict.PROHIBITED


# ── 《净土保卫战九条》 ─────────────────────────────────────────────────────────────────────────

def test_new_pollutants_is_a_review_not_a_restriction(layers):
    hit = findings(at(layers, JIANGXIAN, "C1711", "existing"))["YC24-S6-new-pollutants"]
    assert hit.verdict is Verdict.REVIEW


def test_named_legacy_waste_and_copper_mine(layers):
    nanfeng = findings(at(layers, YANHU, "化工", "existing", project="南风化工钡盐（运城）有限公司"))
    assert nanfeng["YC24-S4-nanfeng-legacy-waste"].verdict is Verdict.RESTRICTED
    assert "YC24-S4-nanfeng-legacy-waste" not in findings(at(layers, YANHU, "化工", "existing"))
    copper = findings(at(layers, YUANQU, "0911", "existing", project="山西北方铜业有限公司铜矿峪矿"))
    assert copper["YC24-S6-beifang-copper"].verdict is Verdict.RESTRICTED
    assert "YC24-S6-beifang-copper" not in findings(at(layers, YUANQU, "0911", "existing"))


@pytest.mark.parametrize("code", [HEJIN, WANRONG, YUANQU, XIAXIAN, YANHU, RUICHENG, WENXI])
def test_groundwater_points_reach_pollution_sources_in_their_counties(layers, code):
    for industry, stage in (("畜禽养殖", "new"), ("C3411", "existing"), ("污水处理", "new")):
        assert findings(at(layers, code, industry, stage))["YC24-S7-groundwater-points"].verdict is Verdict.REVIEW
    for industry in ("软件开发", "7211"):  # software, a head office: not a pollution source
        assert "YC24-S7-groundwater-points" not in findings(at(layers, code, industry, "new"))


@pytest.mark.parametrize("code", [YONGJI, LINYI, JIANGXIAN, JISHAN])
def test_groundwater_points_do_not_reach_other_counties(layers, code):
    assert "YC24-S7-groundwater-points" not in findings(at(layers, code, "畜禽养殖", "new"))
