"""What a filed 审查意见 says, built once from an audit record so every format says the same.

Everything is taken from the stored result JSON (the contract), not from live objects, so
a report written today from an old record states exactly what was decided then.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from maps.style import VERDICT_COLOURS
from siting.audit import CheckRecord
from spatial.rules import Verdict

TITLE = "建设项目选址空间管控审查意见"
DEMO_WARNING = "本审查使用了示意数据（demonstration data），示意图层不是主管部门发布的数据，不得作为审批依据。"
NON_AUTHORITATIVE = "本审查使用了非权威公开图层（位置精度有限），仅供审查参考；正式审批须以主管部门提供的权威图层复核。"
ACCESS_DIMENSIONS = ("空间布局约束", "污染物排放管控", "环境风险防控", "资源利用效率")
FINDING_HEADER = ("序号", "结论", "规划及条款", "管控区域", "在区内", "距离(米)", "余量(米)", "边界情形")
SECTION_NUMBERS = "一二三四五六七八九十"
PROVENANCE_HEADER = ("图层", "来源及版本", "sha256", "坐标系", "精度(米)", "性质")


@dataclass(frozen=True)
class Unit:
    """A 三线一单 environmental control unit the site falls in, with its access list."""

    code: str
    name: str
    unit_class: str
    access: list[tuple[str, str]]  # (dimension, text), in the plans' order
    demonstration: bool


@dataclass(frozen=True)
class ReportContent:
    check_id: str
    checked_on: str
    created_at: str
    channel: str
    overall: str
    overall_label: str
    colour: str
    conclusion: str
    meta: list[tuple[str, str]]
    findings: list[tuple[str, ...]]
    citations: list[str]
    units: list[Unit]
    not_evaluated: list[str]
    conditions: list[str]
    warnings: list[str]
    provenance: list[tuple[str, ...]]
    demonstration: bool
    authoritative: bool
    catalog_version: str
    notices: list[str] = field(default_factory=list)
    title: str = TITLE

    @property
    def extras(self) -> list[tuple[str, list[str]]]:
        """The lists that follow the findings, with their headings."""
        return [("未能判定的条款（按所缺图层归并，须人工核查）", self.not_evaluated),
                ("普遍适用的准入条件（不因选址而异，不影响结论）", self.conditions), ("注意事项", self.warnings)]


def _metres(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _site_lines(site: dict) -> list[tuple[str, str]]:
    gk = site["gk_zone"]
    admin = "、".join(site["admin"][k] for k in ("province", "city", "county") if k in site["admin"])
    rows = [
        ("场址坐标", f"WGS84/CGCS2000 经度 {site['wgs84']['lon']:.6f}°，纬度 {site['wgs84']['lat']:.6f}°（{_geometry_name(site)}中心）"),
        ("量测坐标系", f"EPSG:{gk['epsg']}（CGCS2000 3度带，中央经线 {gk['central_meridian']}°E），"
                   f"X(北) {gk['y_northing']:.1f}，Y(东) {gk['x_easting']:.1f}"),
        ("所在行政区", admin or "（不在山西省境内）"),
    ]
    size = site.get("size") or {}
    if "area_m2" in size:
        rows.append(("用地面积", f"{size['area_m2']:,.0f} 平方米"))
    elif "length_m" in size:
        rows.append(("线路长度", f"{size['length_m']:,.0f} 米"))
    given = site.get("input") or {}
    if "file" in given:
        rows.append(("场址来源", f"文件 {given['file']}，{given['features']} 个要素，坐标系 {given['crs']}"))
    elif "text" in given:
        rows.append(("场址来源", f"输入坐标“{given['text']}”，按 {given['crs']}{'（推断）' if given.get('inferred') else ''} 读取"))
    notes = given.get("notes") or []
    if notes:
        rows.append(("读取说明", "；".join(n.rstrip("。") for n in notes) + "。"))
    return rows


def _geometry_name(site: dict) -> str:
    return {"Point": "点位", "LineString": "线路", "MultiLineString": "线路"}.get(site.get("geometry_type", ""), "用地")


def _finding_row(index: int, finding: dict) -> tuple[str, ...]:
    inside = {True: "是", False: "否", None: "未界定"}[finding["inside"]]
    return (
        str(index), Verdict(finding["verdict"]).label, f"{finding['plan']} {finding['section']}（{finding['rule']}，{finding['action']}）",
        finding["zone"], inside, _metres(finding["distance_m"]), _metres(finding["margin_m"]),
        "是" if finding["boundary_case"] else "否",
    )


def _citation(index: int, finding: dict) -> str:
    text = f"{index}. {finding['plan']} {finding['section']}：“{finding['quote']}”"
    overlap = finding.get("overlap")
    if overlap:
        measure = f"{overlap['area_m2']:,.0f} 平方米" if "area_m2" in overlap else f"{overlap['length_m']:,.0f} 米"
        text += f" 场址在该区域内的部分：{measure}，占 {overlap['share']:.1%}。"
    if finding.get("note"):
        text += f" 说明：{finding['note']}"
    return text


def _units(result: dict) -> list[Unit]:
    """三线一单 units in the result, whichever shape the access list takes (mapping or rows)."""
    units = []
    for unit in result.get("units") or []:
        access = unit.get("access_list") or unit.get("access") or {}
        if isinstance(access, dict):
            ordered = [d for d in ACCESS_DIMENSIONS if d in access] + [d for d in access if d not in ACCESS_DIMENSIONS]
            rows = [(d, _text(access[d])) for d in ordered if access[d]]
        else:
            rows = [(row.get("dimension", ""), _text(row.get("text", ""))) for row in access]
        units.append(Unit(
            code=str(unit.get("code", "")), name=str(unit.get("name", "")),
            unit_class=str(unit.get("class_label") or unit.get("class") or ""), access=rows,
            demonstration=bool(unit.get("demonstration", False)),
        ))
    return units


def _text(value: object) -> str:
    return "；".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _provenance_row(layer: dict) -> tuple[str, ...]:
    nature = "权威数据" if layer["authoritative"] else "非权威公开数据"
    if layer.get("demonstration"):
        nature = "示意数据（demonstration）"
    return (layer["name"], f"{layer['source']}，版本 {layer['version']}", layer["sha256"], layer["crs"],
            f"±{layer['accuracy_m']:g}", nature)


def _reported(result: dict) -> tuple[list[dict], str, list[str]]:
    """The findings a report lists, a sentence on those folded, and the not-evaluated lines:
    grouped as the check answers (site, binding plan-wide rules, undefined zones; one line per
    missing layer). A record stored before answers were grouped is reported in full."""
    groups = result.get("groups")
    if groups is None:
        return (result["findings"], "",
                [f"{n['rule']}（{n['action']}）：{n['reason']} 条文：“{n['quote']}”" for n in result["not_evaluated"]])
    listed = groups["site"] + [f for f in groups["area"] if f["verdict"] != "compliant"] + groups["undetermined"]["undefined"]
    quiet = len(result["findings"]) - len(listed)
    note = f"另有 {quiet} 条场址在区外或不约束该项目的条款未列出（5 公里以外的管控区及符合的普遍条款）。" if quiet else ""
    held = [f"{g['summary']}：{'、'.join(g['rules'])}。{g['reason']}" for g in groups["undetermined"]["missing_layers"]]
    return listed, note, held


def build_content(record: CheckRecord) -> ReportContent:
    result = record.result
    verdict = Verdict(result["overall"])
    industry = result["industry"]
    meta = [
        ("项目名称", record.project or "（未填写）"),
        ("审查编号", record.id),
        ("审查日期", record.checked_on),
        *_site_lines(result["site"]),
        ("行业", f"{industry['label']}（国民经济行业代码 {'、'.join(industry['codes'])}；申报为“{industry['query']}”）"),
        ("建设阶段", result["stage"]),
        ("适用规划", "；".join(p["title"] for p in result["plans"] if p["applies"]) or "无"),
    ]
    findings, folded_note, held = _reported(result)
    layers = result["layers"]
    demonstration = any(layer.get("demonstration") for layer in layers) or any(u.get("demonstration") for u in result.get("units") or [])
    authoritative = all(layer["authoritative"] for layer in layers)
    notices = ([DEMO_WARNING] if demonstration else []) + ([] if authoritative else [NON_AUTHORITATIVE])
    counted = {label: sum(1 for f in findings if Verdict(f["verdict"]).label == label) for label in
               (v.label for v in sorted(Verdict, key=lambda v: -v.severity))}
    tally = "，".join(f"{label} {n} 条" for label, n in counted.items() if n)
    conclusion = (f"经对照所载规划的空间管控条款，该{_geometry_name(result['site'])}的审查结论为“{verdict.label}”。"
                  + (f"{result['headline']}。" if result.get("headline") else "")
                  + (f"列明条款 {len(findings)} 条：{tally}。" if findings else "没有约束该项目选址的规划空间管控条款。")
                  + folded_note
                  + (f"另有 {len(result['not_evaluated'])} 条因缺少图层未能判定，须人工核查。" if result["not_evaluated"] else ""))
    return ReportContent(
        check_id=record.id, checked_on=record.checked_on, created_at=record.created_at, channel=record.channel,
        overall=verdict.value, overall_label=verdict.label, colour=VERDICT_COLOURS[verdict], conclusion=conclusion,
        meta=meta, findings=[_finding_row(i, f) for i, f in enumerate(findings, 1)],
        citations=[_citation(i, f) for i, f in enumerate(findings, 1)], units=_units(result),
        not_evaluated=held,
        conditions=[f"{c['rule']}：{c['plan']} {c['section']}：“{c['quote']}”" for c in result["conditions"]],
        warnings=list(result["warnings"]), provenance=[_provenance_row(layer) for layer in layers],
        demonstration=demonstration, authoritative=authoritative, catalog_version=record.catalog_version, notices=notices,
    )
