"""Notes are typed codes the engine produces and ``spatial.notes`` words, in Chinese and English.

Every code has words in both languages; a check's findings, reasons and warnings carry codes with
their parameters, and their Chinese text is the text checks gave before notes were typed (the
stored audit records and API answers hold it): the expected strings below were taken from
``siting check`` output before the change, on the same built layers and sites.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import shapely

from layers import catalog
from spatial.checker import check
from spatial.notes import Note, NoteCode, render, render_notes
from spatial.rules import Stage
from tests.sites import site_near

XINJIANG, TAIYUAN_AREA = "140825", "140105"
CJK = re.compile(r"[\u4e00-\u9fff]")
ASCII_NOTE = dict(text="plan text", metres=1234.5, accuracy_m=200.0, reach_m=12050.0, layer="Layer A", bounding="Layer B",
                  area="Area C", plan="Plan D", date="2025-12-31", names=("N1", "N2"), widths=(3000.0, 500.0))


def run(layers, site, industry, stage, on):
    return check(site, catalog.taxonomy().resolve(industry), Stage.parse(stage), list(catalog.rules()), layers, on=on)


def finding(result, rule_id):
    return next(f for f in (*result.findings, *result.conditions, *result.information) if f.rule.id == rule_id)


def held(result, rule_id):
    return next(n for n in result.not_evaluated if n.rule.id == rule_id)


@pytest.mark.parametrize("code", list(NoteCode))
def test_every_note_code_is_worded_in_chinese_and_english(code):
    note = Note(code, **ASCII_NOTE)
    zh, en = render(note), render(note, "en")
    assert render_notes([note]) in (zh, zh.rstrip("。；") + "。")  # Chinese is the default language
    assert zh and en and zh != en
    if code not in (NoteCode.RULE_NOTE, NoteCode.UNDEFINED_EXTENT):  # catalog text is its own words in both
        assert CJK.search(zh), zh
    assert not CJK.search(en), en  # the English table adds no Chinese of its own
    assert "None" not in zh + en and "{" not in zh + en


def test_a_finding_list_is_one_sentence_in_each_language():
    notes = [Note(NoteCode.COARSER_INDUSTRY), Note(NoteCode.DEADLINE_PASSED, date="2025-12-31")]
    assert render_notes(notes) == "所报行业类别比本条管控行业更宽，可能属于管控范围，请细化到小类；期限 2025-12-31，已逾期。"
    assert render_notes(notes, "en") == ("The industry given is broader than the rule's and may fall under it: give a finer class; "
                                         "Deadline 2025-12-31, passed.")
    assert render(Note(NoteCode.UNDEFINED_EXTENT)) == "规划未界定该区域范围。"
    assert render_notes([]) == "" and render_notes([Note(NoteCode.RULE_NOTE, text="  ")]) == ""


def test_the_mill_site_notes_read_as_before(layers, mill_site):
    result = run(layers, mill_site, "化工", "expand", date(2031, 1, 1))
    exit_1km = finding(result, "SX22-3.1-fen-1km-exit")
    assert [n.code for n in exit_1km.notes] == [NoteCode.RULE_NOTE, NoteCode.INSIDE_NEAR_EDGE]
    assert exit_1km.note == ("汾河全省干流（不限河段）；退出时限未给出；“沿岸”起算线未界定；是否含支流规划未说明，按干流编码；"
                             "场址在管控范围内 600 米，接近边界（图层精度 ±1000 米）。")
    assert exit_1km.note_en.endswith("The site is 600 m inside the zone, near its edge (layer accuracy ±1000 m).")
    levee = finding(result, "YC21-6.4-levee-yellow")  # a whole statement: its punctuation is its own
    assert [n.code for n in levee.notes] == [NoteCode.BEYOND_BOUND]
    assert levee.note == ("图层“黄河堤防（运城段，堤外50米防护林带基线）”缺失，但其要素均在“黄河干流（山西段）”12,000 米以内"
                          "（黄河小北干流河槽宽3–18公里，堤防距省界中泓线按不超过12公里计（含中泓线±200米精度）。）；"
                          "场址距“黄河干流（山西段）”超过 12,050 米，不在本条范围内")
    redline = held(result, "NAT19-redline-no-development")
    assert redline.why == Note(NoteCode.UNCOVERED, layer="生态保护红线", names=("绛县",))
    assert redline.reason == "图层“生态保护红线”只覆盖绛县，场址在覆盖范围外"
    assert redline.reason_en == "Layer \"生态保护红线\" covers only 绛县; the site is outside its coverage"
    assert result.warnings == [
        "本次检查使用了示意数据（运城市中心城区、城市规划区（不含县城规划区）、城市规划区、县城规划区、“三线一单”一般管控单元）："
        "其范围与编码均非正式数据，结果仅供演示，不得作为审批依据；请用 siting layers import 导入主管部门提供的正式图层。"]
    assert result.to_dict()["warnings"] == result.warnings and result.warnings_en[0].startswith("This check used demonstration data")


def test_a_coarse_code_just_outside_a_zone_reads_as_before(layers):
    site = site_near(layers, "fen_river", XINJIANG, 1000)
    result = run(layers, site, "0610", "rebuild", date(2031, 1, 1))
    exit_1km = finding(result, "SX22-3.1-fen-1km-exit")
    assert exit_1km.notes[-1].code is NoteCode.OUTSIDE_WITHIN_ACCURACY
    assert exit_1km.note.endswith("按干流编码；场址在管控范围外 0 米，但在图层位置精度（含河道中线至河岸距离）以内。")
    settlement = finding(result, "YC21-3.1-settlement")
    assert [n.code for n in settlement.notes] == [NoteCode.UNDEFINED_EXTENT, NoteCode.RULE_NOTE, NoteCode.COARSER_INDUSTRY]
    assert settlement.note.endswith("危险化学品贮存、处理处置）；所报行业类别比本条管控行业更宽，可能属于管控范围，请细化到小类。")


def test_a_layer_covering_many_areas_names_five_then_counts(layers):
    site = site_near(layers, "fen_river", TAIYUAN_AREA, 200)
    result = run(layers, site, "水泥", "new", date(2020, 1, 1))
    planning = held(result, "SX22-3.1-planning-areas")
    assert planning.why.code is NoteCode.UNCOVERED and len(planning.why.names) == 14
    assert planning.reason == "图层“城市规划区、县城规划区”只覆盖城区、盐湖区、临猗县、万荣县、闻喜县等14个行政区，场址在覆盖范围外"
    assert planning.reason_en.endswith("闻喜县 and 9 more admin areas; the site is outside its coverage")


def test_a_site_on_the_edge_of_yuncheng_reads_as_before(layers):
    edge = layers.admin_area(XINJIANG).boundary.interpolate(0.1, normalized=True)
    result = run(layers, shapely.Point(edge.x + 0.0003, edge.y + 0.0003), "造纸", "expand", date(2024, 6, 1))
    assert result.warnings[0] == "场址距运城市边界 41 米，在行政边界精度（±200 米）以内，《运城市\"十四五\"生态环境保护规划》的条款按需复核处理。"
    assert result.notices[0].code is NoteCode.NEAR_PLAN_EDGE and round(result.notices[0].metres) == 41
    settlement = finding(result, "YC21-3.1-settlement")
    assert settlement.notes[-1] == Note(NoteCode.AT_AREA_EDGE, area="运城市")
    assert settlement.note.endswith("；场址距运城市边界在行政边界精度以内，可能不在该条款适用范围内。")
