"""What the engine says beside a verdict, as typed codes; the words are made here, once per language.

The engine (``spatial.checker``, ``spatial.decision``, ``spatial.screening``, ``spatial.siting_classes``)
produces ``Note`` values: a ``NoteCode`` and the parameters it names (metres, a layer's name, an
area's name, a deadline). Text is made only where a result is turned into output, by ``render``
(one note) and ``render_notes`` (a finding's notes as one sentence list), in Chinese (``zh``, the
default, the words every stored record and API answer carries) or English (``en``). A new note is a
new code and one line in each table below; free text from the rule catalog (a plan's note, the
wording of an extent the plan leaves undefined, why a layer is missing) stays text, carried by a code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from spatial.enums import IdentityEnum

Lang = Literal["zh", "en"]


class NoteCode(IdentityEnum):
    """What a note says. Finding notes, reasons a rule was not evaluated, and a check's warnings."""

    RULE_NOTE = "rule_note"  # the rule's note from the catalog (text)
    UNDEFINED_EXTENT = "undefined_extent"  # the plan gives the zone no extent (text: the catalog's wording, if any)
    COARSER_INDUSTRY = "coarser_industry"  # the industry given is broader than the rule's
    NAMED_ENTERPRISE = "named_enterprise"  # the rule names enterprises (names) the project is not
    OUTSIDE_WITHIN_ACCURACY = "outside_within_accuracy"  # metres outside the zone, within the layer's accuracy
    INSIDE_NEAR_EDGE = "inside_near_edge"  # metres inside the zone, within accuracy_m of its edge
    PARTLY_UNCOVERED = "partly_uncovered"  # part of the site lies outside the layer's coverage (names)
    AT_AREA_EDGE = "at_area_edge"  # within admin accuracy of the edge of the rule's area
    DEADLINE = "deadline"  # the rule's deadline (date)
    DEADLINE_PASSED = "deadline_passed"  # the rule's deadline (date), passed
    BEYOND_BOUND = "beyond_bound"  # a missing layer bounded by another; the site lies beyond its reach
    MISSING_LAYER = "missing_layer"  # the rule's layer is missing (text: why)
    UNCOVERED_GAPS = "uncovered_gaps"  # the layer lacks stretches (names, widths) near the site or it is outside coverage
    UNCOVERED = "uncovered"  # the site lies outside the areas (names) the layer covers
    OUTSIDE_SHANXI = "outside_shanxi"  # warning: the site is not in Shanxi
    NEAR_PLAN_EDGE = "near_plan_edge"  # warning: metres from a plan's area edge, within accuracy_m
    NO_PLAN = "no_plan"  # warning: no loaded plan reaches the site
    UNITS_INCOMPLETE = "units_incomplete"  # warning: inside the unit layer's coverage but in no unit
    DEMONSTRATION = "demonstration"  # warning: the check used demonstration layers (names)


@dataclass(frozen=True)
class Note:
    """One note: its code and the parameters that code names (the others stay empty)."""

    code: NoteCode
    text: str = ""  # catalog free text (plan note, undefined extent, why a layer is missing, a bound's note)
    metres: float | None = None
    accuracy_m: float | None = None
    reach_m: float | None = None
    layer: str = ""  # a layer's Chinese name
    bounding: str = ""  # the name of the layer that bounds a missing one
    area: str = ""  # an admin area's name
    plan: str = ""  # a plan's title
    date: str = ""
    names: tuple[str, ...] = ()  # enterprises, covered admin areas, gap stretches, demonstration layers
    widths: tuple[float, ...] = ()  # per gap stretch: metres either side


def render(note: Note, lang: Lang = "zh") -> str:
    """One note in words: a sentence (or a clause, for a finding's list) in ``lang``."""
    return _TABLES[lang][note.code](note)


def render_notes(notes: Iterable[Note], lang: Lang = "zh") -> str:
    """A finding's notes as one sentence list ("a；b。" in Chinese, "a; b." in English).

    A note that is a finding's whole statement (``BEYOND_BOUND``) keeps its own punctuation.
    """
    notes = tuple(notes)
    if len(notes) == 1 and notes[0].code in _STATEMENTS:
        return render(notes[0], lang)
    if lang == "zh":
        return _joined([render(n, lang) for n in notes], "。；", "；", "。")
    return _joined([render(n, lang) for n in notes], ".;", "; ", ".")


def _joined(parts: list[str], trailing: str, separator: str, end: str) -> str:
    """Each part stripped of its closing punctuation, then joined and closed once."""
    kept = [part.strip().rstrip(trailing) for part in parts if part and part.strip()]
    return separator.join(kept) + end if kept else ""


_STATEMENTS = frozenset({NoteCode.BEYOND_BOUND})


def _coverage_zh(names: tuple[str, ...]) -> str:
    """Covered admin areas named, at most five, then a count."""
    return "、".join(names) if len(names) <= 5 else f"{'、'.join(names[:5])}等{len(names)}个行政区"


def _coverage_en(names: tuple[str, ...]) -> str:
    return ", ".join(names) if len(names) <= 5 else f"{', '.join(names[:5])} and {len(names) - 5} more admin areas"


def _gaps(note: Note) -> str:
    return "、".join(f"{name}（两侧 {width:,.0f} 米内）" for name, width in zip(note.names, note.widths, strict=True))


def _gaps_en(note: Note) -> str:
    return ", ".join(f"{name} (within {width:,.0f} m either side)" for name, width in zip(note.names, note.widths, strict=True))


_ZH: dict[NoteCode, Callable[[Note], str]] = {
    NoteCode.RULE_NOTE: lambda n: n.text,
    NoteCode.UNDEFINED_EXTENT: lambda n: n.text or "规划未界定该区域范围。",
    NoteCode.COARSER_INDUSTRY: lambda n: "所报行业类别比本条管控行业更宽，可能属于管控范围，请细化到小类。",
    NoteCode.NAMED_ENTERPRISE: lambda n: f"本条针对点名企业（{'、'.join(n.names)}），项目名称未涉及，仅供参考",
    NoteCode.OUTSIDE_WITHIN_ACCURACY: lambda n: f"场址在管控范围外 {n.metres:.0f} 米，但在图层位置精度（含河道中线至河岸距离）以内。",
    NoteCode.INSIDE_NEAR_EDGE: lambda n: f"场址在管控范围内 {n.metres:.0f} 米，接近边界（图层精度 ±{n.accuracy_m:g} 米）。",
    NoteCode.PARTLY_UNCOVERED: lambda n: f"场址部分在图层“{n.layer}”覆盖范围（{_coverage_zh(n.names)}）以外，该部分未能判定",
    NoteCode.AT_AREA_EDGE: lambda n: f"场址距{n.area}边界在行政边界精度以内，可能不在该条款适用范围内",
    NoteCode.DEADLINE: lambda n: f"期限 {n.date}",
    NoteCode.DEADLINE_PASSED: lambda n: f"期限 {n.date}，已逾期",
    NoteCode.BEYOND_BOUND: lambda n: (f"图层“{n.layer}”缺失，但其要素均在“{n.bounding}”{n.metres:,.0f} 米以内（{n.text}）；"
                                      f"场址距“{n.bounding}”超过 {n.reach_m:,.0f} 米，不在本条范围内"),
    NoteCode.MISSING_LAYER: lambda n: f"缺少图层“{n.layer}”：{n.text}",
    NoteCode.UNCOVERED_GAPS: lambda n: f"图层“{n.layer}”缺{_gaps(n)}，场址在该段附近或图层覆盖范围外，须人工核查",
    NoteCode.UNCOVERED: lambda n: f"图层“{n.layer}”只覆盖{_coverage_zh(n.names)}，场址在覆盖范围外",
    NoteCode.OUTSIDE_SHANXI: lambda n: "场址不在山西省境内（按行政区划图层判断），请核对坐标。",
    NoteCode.NEAR_PLAN_EDGE: lambda n: (f"场址距{n.area}边界 {n.metres:.0f} 米，"
                                        f"在行政边界精度（±{n.accuracy_m:g} 米）以内，{n.plan}的条款按需复核处理。"),
    NoteCode.NO_PLAN: lambda n: "场址不在任何已载入规划的管辖范围内，没有规划条款适用；请核对坐标。",
    NoteCode.UNITS_INCOMPLETE: lambda n: "场址在三线一单单元图层覆盖范围内，却不落在任何单元中：单元图层可能不完整，请核对。",
    NoteCode.DEMONSTRATION: lambda n: (f"本次检查使用了示意数据（{'、'.join(n.names)}）：其范围与编码均非正式数据，结果仅供演示，不得作为审批依据；"
                                       "请用 siting layers import 导入主管部门提供的正式图层。"),
}

_EN: dict[NoteCode, Callable[[Note], str]] = {
    NoteCode.RULE_NOTE: lambda n: f"Plan note: {n.text}",
    NoteCode.UNDEFINED_EXTENT: lambda n: "The plan gives this zone no extent" + (f" ({n.text})" if n.text else "."),
    NoteCode.COARSER_INDUSTRY: lambda n: "The industry given is broader than the rule's and may fall under it: give a finer class.",
    NoteCode.NAMED_ENTERPRISE: lambda n: (f"The rule names enterprises ({', '.join(n.names)}) the project name does not mention; "
                                          "for reference only"),
    NoteCode.OUTSIDE_WITHIN_ACCURACY: lambda n: (f"The site is {n.metres:.0f} m outside the zone, but within the layer's position "
                                                 "accuracy (the river's centre line to its bank included)."),
    NoteCode.INSIDE_NEAR_EDGE: lambda n: (f"The site is {n.metres:.0f} m inside the zone, near its edge "
                                          f"(layer accuracy ±{n.accuracy_m:g} m)."),
    NoteCode.PARTLY_UNCOVERED: lambda n: (f"Part of the site lies outside what layer \"{n.layer}\" covers ({_coverage_en(n.names)}); "
                                          "that part could not be decided"),
    NoteCode.AT_AREA_EDGE: lambda n: (f"The site lies within admin boundary accuracy of the edge of {n.area}; "
                                      "the rule may not reach it"),
    NoteCode.DEADLINE: lambda n: f"Deadline {n.date}",
    NoteCode.DEADLINE_PASSED: lambda n: f"Deadline {n.date}, passed",
    NoteCode.BEYOND_BOUND: lambda n: (f"Layer \"{n.layer}\" is missing, but all its features lie within {n.metres:,.0f} m of "
                                      f"\"{n.bounding}\" ({n.text}); the site is more than {n.reach_m:,.0f} m from \"{n.bounding}\", "
                                      "beyond this rule's reach"),
    NoteCode.MISSING_LAYER: lambda n: f"Layer \"{n.layer}\" is missing: {n.text}",
    NoteCode.UNCOVERED_GAPS: lambda n: (f"Layer \"{n.layer}\" lacks {_gaps_en(n)}; the site is near such a stretch or outside "
                                        "the layer's coverage: check by hand"),
    NoteCode.UNCOVERED: lambda n: f"Layer \"{n.layer}\" covers only {_coverage_en(n.names)}; the site is outside its coverage",
    NoteCode.OUTSIDE_SHANXI: lambda n: "The site is not in Shanxi (by the admin layer): check the coordinates.",
    NoteCode.NEAR_PLAN_EDGE: lambda n: (f"The site is {n.metres:.0f} m from the edge of {n.area}, within admin boundary accuracy "
                                        f"(±{n.accuracy_m:g} m): the rules of {n.plan} are treated as needing review."),
    NoteCode.NO_PLAN: lambda n: "No loaded plan's jurisdiction reaches the site, so no plan rule applies: check the coordinates.",
    NoteCode.UNITS_INCOMPLETE: lambda n: ("The site lies inside the coverage of the environmental unit layers but in no unit: "
                                          "the unit layers may be incomplete, check them."),
    NoteCode.DEMONSTRATION: lambda n: (f"This check used demonstration data ({', '.join(n.names)}): their extents and codes are not "
                                       "official, the result is for demonstration only and no basis for approval; import the "
                                       "authorities' layers with siting layers import."),
}

_TABLES: dict[str, dict[NoteCode, Callable[[Note], str]]] = {"zh": _ZH, "en": _EN}
