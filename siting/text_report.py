"""Plain-text Chinese rendering of a check, for pasting into a review memo."""

from __future__ import annotations

import math

from spatial.checker import CheckResult


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


def render(result: CheckResult) -> str:
    data = result.to_dict()
    site = data["site"]
    gk = site["gk_zone"]
    admin = "、".join(site["admin"][k] for k in ("province", "city", "county") if k in site["admin"])
    lines = [
        f"选址审查结论：{result.overall.label}（{result.overall.value}）",
        *([f"【示意数据】本次检查使用了示意图层（{'、'.join(result.demonstration)}），结论不得作为审批依据。"]
          if result.demonstration else []),
        "",
        f"场址：WGS84/CGCS2000 经度 {site['wgs84']['lon']:.6f}，纬度 {site['wgs84']['lat']:.6f}；"
        f"量测坐标系 EPSG:{gk['epsg']}（CGCS2000 3度带，中央经线 {gk['central_meridian']}°E），"
        f"X(北) {gk['y_northing']:.1f}，Y(东) {gk['x_easting']:.1f}",
        "所在行政区：" + (admin or "（不在山西省境内）"),
        *_input_lines(site),
        f"行业：{result.industry.label}（国民经济行业代码 {'、'.join(result.industry.codes)}）；阶段：{result.stage.value}",
    ]
    for plan in data["plans"]:
        where = "适用" if plan["applies"] else "不适用（场址不在其管辖范围内）"
        lines.append(f"规划：{plan['title']}，管辖 {plan['jurisdiction_name']}——{where}")
    lines.append("")
    if result.findings:
        lines.append("| 序号 | 结论 | 规划 | 条款 | 管控区域 | 在区内 | 距离(米) | 余量(米) | 边界情形 |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        for index, finding in enumerate(result.findings, 1):
            inside = {True: "是", False: "否", None: "未界定"}[finding.inside]
            lines.append(
                f"| {index} | {finding.verdict.label} | {finding.rule.plan.jurisdiction_name} | "
                f"{finding.rule.id}（{finding.rule.action.value}） | "
                f"{finding.zone} | "
                f"{inside} | {_metres(finding.distance_m)} | {_metres(finding.margin_m)} | "
                f"{'是' if finding.boundary_case else '否'} |"
            )
        lines.append("")
        lines.append("条款依据：")
        for index, finding in enumerate(result.findings, 1):
            rule = finding.rule
            lines.append(f"{index}. {rule.plan.title} {rule.section}：“{rule.quote}”")
            if finding.overlap:
                measure = (f"{finding.overlap['area_m2']:,.0f} 平方米" if "area_m2" in finding.overlap
                           else f"{finding.overlap['length_m']:,.0f} 米")
                lines.append(f"   场址在该区域内的部分：{measure}，占 {finding.overlap['share']:.1%}")
            if finding.note:
                lines.append(f"   说明：{finding.note}")
    else:
        lines.append("没有适用于该行业和阶段的规划空间管控条款。")
    lines.extend(_unit_lines(data["units"]))
    if result.conditions:
        lines.append("")
        lines.append("普遍适用的准入条件（不因选址而异，不影响上述结论）：")
        for item in result.conditions:
            lines.append(f"- {item.rule.id}：{item.rule.plan.title} {item.rule.section}：“{item.rule.quote}”")
    if result.not_evaluated:
        lines.append("")
        lines.append("未能判定的条款（缺少图层或超出图层覆盖范围，须人工核查）：")
        for item in result.not_evaluated:
            lines.append(f"- {item.rule.id}（{item.rule.action.value}）：{item.reason}")
            lines.append(f"  “{item.rule.quote}”")
    if result.warnings:
        lines.append("")
        lines.extend(f"注意：{w}" for w in result.warnings)
    lines.append("")
    lines.append("数据来源：")
    for layer in data["layers"]:
        status = "权威数据" if layer["authoritative"] else "非权威公开数据"
        if layer["demonstration"]:
            status = "示意数据（demonstration）"
        lines.append(
            f"- {layer['name']}：{layer['source']}，版本 {layer['version']}，sha256 {layer['sha256'][:16]}…，"
            f"{layer['crs']}，位置精度 ±{layer['accuracy_m']:g} 米，{status}"
        )
        imported = layer.get("imported")
        if imported:
            files = "；".join(f"{f['name']}（sha256 {f['sha256'][:16]}…）" for f in imported["files"])
            lines.append(f"  导入文件：{files}，导入时间 {imported['imported_at']}")
    if not all(layer["authoritative"] for layer in data["layers"]):
        lines.append("本结论使用了非权威公开图层，仅供审查参考；正式审批须以主管部门提供的权威图层复核。")
    return "\n".join(lines)
