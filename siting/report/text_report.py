"""Plain-text Chinese rendering of a check, for pasting into a review memo."""

from __future__ import annotations

import math

from spatial.answer import FOLD_M, folded
from spatial.findings import CheckResult, Finding
from spatial.rules import Verdict


def _metres(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{value:,.0f}"


def _input_lines(site: dict) -> list[str]:
    given = site.get("input") or {}
    lines = []
    if "file" in given:
        size = site["size"] or {}
        measure = f"面积 {size['area_m2']:,.0f} 平方米" if "area_m2" in size else f"长度 {size.get('length_m', 0):,.0f} 米"
        lines.append(f"用地红线/线路文件：{given['file']}，{given['features']} 个要素，坐标系 {given['crs']}，{measure}")
    elif "text" in given:
        how = "（推断）" if given["inferred"] else ""
        lines.append(f"输入坐标：{given['text']}，按 {given['crs']}{how} 读取")
    lines.extend(f"  说明：{note}" for note in given.get("notes", []))
    return lines


def _unit_lines(units: list[dict]) -> list[str]:
    """The 三线一单 units the site falls in, each with its access list."""
    if not units:
        return []
    lines = ["", "所在“三线一单”环境管控单元及生态环境准入清单："]
    for unit in units:
        demo = "（示意数据）" if unit["demonstration"] else ""
        share = f"，占场址 {unit['overlap']['share']:.1%}" if unit.get("overlap") else ""
        lines.append(f"- {unit['code']} {unit['name']}（{unit['class']}单元）{demo}{share}")
        lines.extend(f"  {dimension}：{text}" for dimension, text in unit["access_list"].items())
        if unit["rules"]:
            lines.append(f"  规划对该类单元的条款：{'、'.join(unit['rules'])}（见上表）")
    return lines


def _finding_line(index: int, finding: Finding) -> str:
    inside = {True: "区内", False: "区外", None: "范围未界定"}[finding.inside]
    measure = ""
    if finding.distance_m is not None:
        measure = f"，距离 {_metres(finding.distance_m)} 米，余量 {_metres(finding.margin_m)} 米"
    likely = f"，可能为“{finding.likely.label}”" if finding.likely is not None else ""
    edge = "，边界情形" if finding.boundary_case else ""
    due = ""
    if finding.rule.deadline and finding.verdict is not Verdict.COMPLIANT:
        due = f"，期限 {finding.rule.deadline}" + ("（已逾期）" if finding.overdue else "")
    return (f"{index}. 【{finding.verdict.label}】{finding.zone}（{inside}{measure}{edge}{likely}{due}）"
            f"——{finding.rule.plan.jurisdiction_name} {finding.rule.id}（{finding.rule.action.value}）")


def _citation(finding: Finding) -> list[str]:
    rule = finding.rule
    lines = [f"   依据：{rule.plan.title} {rule.section}：“{rule.quote}”"]
    if rule.condition:
        lines.append(f"   适用情形：{rule.condition}")
    if finding.overlap:
        measure = (f"{finding.overlap['area_m2']:,.0f} 平方米" if "area_m2" in finding.overlap
                   else f"{finding.overlap['length_m']:,.0f} 米")
        lines.append(f"   场址在该区域内的部分：{measure}，占 {finding.overlap['share']:.1%}")
    if finding.note:
        lines.append(f"   说明：{finding.note}")
    return lines


def render(result: CheckResult, show_all: bool = False) -> str:
    """The answer, verdict and reason first; a screen for the common case. ``show_all`` lists
    compliant and far zones, every general condition and every rule held back by a layer."""
    data = result.to_dict(show_all)
    site = data["site"]
    gk = site["gk_zone"]
    admin = "、".join(site["admin"][k] for k in ("province", "city", "county") if k in site["admin"])
    lines = [
        f"选址审查结论：{result.overall.label}（{result.overall.value}）",
        f"理由：{data['headline']}",
        *([f"【示意数据】本次检查使用了示意图层（{'、'.join(result.demonstration)}），结论不得作为审批依据。"]
          if result.demonstration else []),
        "",
        f"场址：经度 {site['wgs84']['lon']:.6f}，纬度 {site['wgs84']['lat']:.6f}（WGS84/CGCS2000）；"
        f"EPSG:{gk['epsg']} X(北) {gk['y_northing']:.1f} Y(东) {gk['x_easting']:.1f}；"
        + (admin or "不在山西省境内"),
        *_input_lines(site),
        f"行业：{result.industry.label}（{'、'.join(result.industry.codes)}）；阶段：{result.stage.value}；"
        "适用规划：" + ("、".join(p["jurisdiction_name"] + ("（边界）" if p["edge_case"] else "") for p in data["plans"] if p["applies"]) or "无"),
    ]
    site_findings = [f for f in result.findings if f.group == "site"]
    listed, hidden = folded(site_findings, show_all)
    if listed or hidden:
        lines += ["", "一、场址所在或邻近的管控区："]
        for index, finding in enumerate(listed, 1):
            lines.append(_finding_line(index, finding))
            if finding.verdict is not Verdict.COMPLIANT or show_all:
                lines.extend(_citation(finding))
        if hidden:
            lines.append(f"   另有 {hidden} 处距场址 {FOLD_M / 1000:g} 公里以外的管控区，场址均在区外（--all 列出）。")
    area = [f for f in result.findings if f.group == "area" and (show_all or f.verdict is not Verdict.COMPLIANT)]
    if area:
        lines += ["", "二、规划范围内普遍适用的行业条款（与场址位置无关，仍计入结论）："]
        for index, finding in enumerate(area, 1):
            lines.append(_finding_line(index, finding))
            lines.extend(_citation(finding))
    undefined = [f for f in result.findings if f.group == "undetermined"]
    groups = result.missing_layers()
    if undefined or groups:
        lines += ["", "三、未能确定的条款（须人工核查）："]
        for finding in undefined:
            lines.append(f"- 【{finding.verdict.label}】{finding.zone}：规划未界定范围——{finding.rule.id}（{finding.rule.action.value}）")
        for group in groups:
            lines.append(f"- {group.summary}（{group.reason.split('：', 1)[-1]}）")
            if show_all:
                lines.append(f"  条款：{'、'.join(group.rules)}")
    if result.information:
        lines += ["", "点名企业的措施（项目名称未涉及，仅供参考）："]
        lines.extend(f"- {f.rule.id}：“{f.rule.quote}”" for f in result.information)
    lines.extend(_unit_lines(data["units"]))
    if result.conditions:
        lines += ["", f"普遍适用的准入条件 {len(result.conditions)} 条（不因选址而异，不影响结论）"
                  + ("：" if show_all else "；--all 列出。")]
        if show_all:
            lines.extend(f"- {c.rule.id}：{c.rule.plan.title} {c.rule.section}：“{c.rule.quote}”" for c in result.conditions)
    if result.warnings:
        lines.append("")
        lines.extend(f"注意：{w}" for w in result.warnings)
    lines += ["", "数据来源："]
    for layer in data["layers"]:
        status = "示意数据" if layer["demonstration"] else ("权威数据" if layer["authoritative"] else "非权威公开数据")
        lines.append(f"- {layer['name']}：{layer['source']} {layer['version']}，sha256 {layer['sha256'][:12]}…，"
                     f"{layer['crs']}，精度 ±{layer['accuracy_m']:g} 米，{status}")
        imported = layer.get("imported")
        if imported:
            files = "；".join(f"{f['name']}（sha256 {f['sha256'][:16]}…）" for f in imported["files"])
            lines.append(f"  导入文件：{files}，导入时间 {imported['imported_at']}")
    if data["layers"] and not all(layer["authoritative"] for layer in data["layers"]):
        lines.append("本结论使用了非权威公开图层，仅供审查参考；正式审批须以主管部门提供的权威图层复核。")
    return "\n".join(lines)
