"""What a filed 审查意见 says, built once from an audit record so every format says the same.

Everything is taken from the stored result JSON (the contract), not from live objects, so
a report written today from an old record states exactly what was decided then.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from maps.style import VERDICT_COLOURS
from siting.audit.log import TIME_NOTE, CheckRecord, shown_time
from siting.audit.signing import PublicKey
from spatial.rules import Verdict

TITLE = "建设项目选址空间管控审查意见"
DEMO_WARNING = "本审查使用了示意数据（demonstration data），示意图层不是主管部门发布的数据，不得作为审批依据。"
NON_AUTHORITATIVE = "本审查使用了非权威公开图层（位置精度有限），仅供审查参考；正式审批须以主管部门提供的权威图层复核。"
ACCESS_DIMENSIONS = ("空间布局约束", "污染物排放管控", "环境风险防控", "资源利用效率")
FINDING_HEADER = ("序号", "结论", "规划及条款", "管控区域", "在区内", "距离(米)", "余量(米)", "边界情形")
# Column shares of the text width, sized to their content (the plan and zone cells carry the words).
FINDING_WIDTHS = (0.05, 0.07, 0.33, 0.24, 0.07, 0.085, 0.085, 0.07)
SECTION_NUMBERS = "一二三四五六七八九十"
PROVENANCE_HEADER = ("图层", "来源及版本", "坐标系", "精度(米)", "性质")
PROVENANCE_WIDTHS = (0.22, 0.43, 0.13, 0.08, 0.14)
MISSING_HEADER = ("所缺图层", "未评估条款")
MISSING_WIDTHS = (0.62, 0.38)
MISSING_TITLE = "未能判定的条款（按所缺图层归并，须人工核查；条款及原因见附录一）"
HASH_HEADER = ("图层", "图层数据 sha256")
HASH_WIDTHS = (0.3, 0.7)
DECISION_HEADER = ("记录时间", "范围", "意见", "说明")
DECISION_WIDTHS = (0.22, 0.22, 0.12, 0.44)
NO_DECISIONS = "审计日志中尚无审查人意见记录。"
# Command-line wording in stored notes, put in the words a report reader has (a report has no options).
_CLI_WORDS = (
    (re.compile(r"请?加 ?--crs ?gcj02"), "请将坐标系指定为 GCJ-02（高德/腾讯坐标）后重新审查"),
    (re.compile(r"请?加 ?--crs ?bd09"), "请将坐标系指定为 BD-09（百度坐标）后重新审查"),
    (re.compile(r"请?加 ?--crs ?(\S+?)(?=[（(，。；]|$)"), r"请将坐标系指定为 \1"),
    (re.compile(r"用 ?--crs ?指明"), "指明坐标系"),
    (re.compile(r"（--crs）"), "（审查时指定）"),
    (re.compile(r"请用 ?siting layers import ?导入"), "请导入"),
    (re.compile(r"siting history --id ?\S*"), "按审查编号复现"),
    (re.compile(r"[（(]?--all 列出[）)]?[。；]?"), ""),
    (re.compile(r"--crs"), "坐标系"),
    (re.compile(r"--site"), "场址文件"),
    (re.compile(r"--at"), "坐标"),
)


@dataclass(frozen=True)
class Unit:
    """A 三线一单 environmental control unit the site falls in, with its access list."""

    code: str
    name: str
    unit_class: str
    access: list[tuple[str, str]]  # (dimension, text), in the plans' order
    demonstration: bool


@dataclass(frozen=True)
class ReviewerDecision:
    """A reviewer's decision on the check, as appended to the audit log (times in China Standard Time)."""

    recorded_at: str
    decision: str
    scope: str  # 总体结论, or the rule id decided on
    note: str
    decision_id: str


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
    headline: str
    decisive: str
    findings: list[tuple[str, ...]]
    citations: list[str]
    units: list[Unit]
    not_evaluated: list[tuple[str, str]]  # one row per missing layer: its Chinese name, the rules it holds back
    not_evaluated_detail: list[tuple[str, str, str]]  # appendix: layer, rule ids, why the layer is missing
    conditions: list[str]
    warnings: list[str]
    provenance: list[tuple[str, ...]]
    hashes: list[tuple[str, str]]
    demonstration: bool
    authoritative: bool
    catalog_version: str
    notices: list[str] = field(default_factory=list)
    title: str = TITLE
    # The audit record this report is issued from: when, on which versions, signed by which key, and the
    # reviewer's decisions appended since (one clock: stored UTC, shown in China Standard Time).
    issued_at: str = ""
    issued: str = ""
    time_note: str = TIME_NOTE
    public_key: str = ""
    key_fingerprint: str = ""
    decisions: list[ReviewerDecision] = field(default_factory=list)

    @property
    def extras(self) -> list[tuple[str, list[str]]]:
        """The lists that follow the not-evaluated block, with their headings."""
        return [("普遍适用的准入条件（不因选址而异，不影响结论）", self.conditions), ("注意事项", self.warnings)]


def plain(text: str) -> str:
    """``text`` without command-line syntax: a report names its own fields, not the CLI's options."""
    for pattern, words in _CLI_WORDS:
        text = pattern.sub(words, text)
    return text


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
    rows = [(label, plain(value)) for label, value in rows]
    return rows


def _geometry_name(site: dict) -> str:
    return {"Point": "点位", "LineString": "线路", "MultiLineString": "线路"}.get(site.get("geometry_type", ""), "用地")


def _finding_row(index: int, finding: dict, demo_layers: set[str]) -> tuple[str, ...]:
    inside = {True: "是", False: "否", None: "未界定"}[finding["inside"]]
    zone = finding["zone"] + ("（示意数据）" if finding.get("layer") in demo_layers else "")
    return (
        str(index), Verdict(finding["verdict"]).label, f"{finding['plan']} {finding['section']}（{finding['rule']}，{finding['action']}）",
        zone, inside, _metres(finding["distance_m"]), _metres(finding["margin_m"]),
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
    return plain(text)


def _decisive(findings: list[dict]) -> str:
    """The finding that decides the verdict (the strictest listed, first of its kind), in one sentence."""
    deciding = [f for f in findings if Verdict(f["verdict"]) not in (Verdict.COMPLIANT, Verdict.NOT_APPLICABLE)]
    if not deciding:
        return ""
    finding = max(deciding, key=lambda f: Verdict(f["verdict"]).severity)
    where = {True: "场址在区内", False: "场址在区外", None: "区域范围规划未界定"}[finding["inside"]]
    if finding["distance_m"] is not None:
        where += f"，距离 {_metres(finding['distance_m'])} 米"
        if finding["margin_m"] is not None:
            where += f"，余量 {_metres(finding['margin_m'])} 米"
    return plain(f"【{Verdict(finding['verdict']).label}】{finding['zone']}（{where}）——{finding['plan']} {finding['section']}"
                 f"（{finding['rule']}）：“{finding['quote']}”")


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
        if len(rows) > 1 and len({text for _, text in rows}) == 1:
            rows = [("准入清单（各维度）", rows[0][1])]  # one statement that the plans give no text, said once
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
    return (layer["name"], f"{layer['source']}，版本 {layer['version']}", layer["crs"], f"±{layer['accuracy_m']:g}", nature)


def _held_counts(actions: dict[str, int]) -> str:
    return "、".join(f"{action}性 {n} 条" for action, n in actions.items())


def _reported(result: dict) -> tuple[list[dict], str, list[tuple[str, str]], list[tuple[str, str, str]]]:
    """The findings a report lists, a sentence on those folded, and the not-evaluated rules:
    grouped as the check answers (site, binding plan-wide rules, undefined zones), one row per
    missing layer with the full list for the appendix. A record stored before answers were
    grouped is reported in full, one row per rule."""
    groups = result.get("groups")
    if groups is None:
        rows = [(n["rule"], n["action"]) for n in result["not_evaluated"]]
        detail = [(n["rule"], n["action"], plain(f"{n['reason']} 条文：“{n['quote']}”")) for n in result["not_evaluated"]]
        return result["findings"], "", rows, detail
    listed = groups["site"] + [f for f in groups["area"] if f["verdict"] != "compliant"] + groups["undetermined"]["undefined"]
    quiet = len(result["findings"]) - len(listed)
    note = f"另有 {quiet} 条场址在区外或不约束该项目的条款未列出（5 公里以外的管控区及符合的普遍条款）。" if quiet else ""
    missing = groups["undetermined"]["missing_layers"]
    rows = [(g["layer_name"], _held_counts(g["actions"])) for g in missing]
    detail = [(g["layer_name"], "、".join(g["rules"]), plain(g["reason"])) for g in missing]
    return listed, note, rows, detail


def build_content(record: CheckRecord) -> ReportContent:
    result = record.result
    verdict = Verdict(result["overall"])
    industry = result["industry"]
    meta = [
        ("项目名称", record.project or "（未填写）"),
        ("审查编号", record.id),
        ("审查日期", record.checked_on),
        ("审查时间", f"{shown_time(record.created_at)}（北京时间）"),
        *_site_lines(result["site"]),
        ("行业", f"{industry['label']}（国民经济行业代码 {'、'.join(industry['codes'])}；申报为“{industry['query']}”）"),
        ("建设阶段", result["stage"]),
        ("适用规划", "；".join(p["title"] for p in result["plans"] if p["applies"]) or "无"),
        *_audit_lines(record),
    ]
    findings, folded_note, held, held_detail = _reported(result)
    layers = result["layers"]
    demonstration = any(layer.get("demonstration") for layer in layers) or any(u.get("demonstration") for u in result.get("units") or [])
    authoritative = all(layer["authoritative"] for layer in layers)
    notices = ([DEMO_WARNING] if demonstration else []) + ([] if authoritative else [NON_AUTHORITATIVE])
    counted = {label: sum(1 for f in findings if Verdict(f["verdict"]).label == label) for label in
               (v.label for v in sorted(Verdict, key=lambda v: -v.severity))}
    tally = "，".join(f"{label} {n} 条" for label, n in counted.items() if n)
    conclusion = (f"经对照所载规划的空间管控条款，该{_geometry_name(result['site'])}的审查结论为“{verdict.label}”。"
                  + (f"列明条款 {len(findings)} 条：{tally}。" if findings else "没有约束该项目选址的规划空间管控条款。")
                  + folded_note
                  + (f"另有 {len(result['not_evaluated'])} 条因缺少图层未能判定，须人工核查。" if result["not_evaluated"] else ""))
    return ReportContent(
        check_id=record.id, checked_on=record.checked_on, created_at=record.created_at, channel=record.channel,
        overall=verdict.value, overall_label=verdict.label, colour=VERDICT_COLOURS[verdict], conclusion=conclusion,
        meta=meta, headline=plain(result.get("headline") or ""), decisive=_decisive(findings),
        findings=[_finding_row(i, f, {layer["id"] for layer in layers if layer.get("demonstration")})
                  for i, f in enumerate(findings, 1)],
        citations=[_citation(i, f) for i, f in enumerate(findings, 1)], units=_units(result),
        not_evaluated=held, not_evaluated_detail=held_detail,
        conditions=[f"{c['rule']}：{c['plan']} {c['section']}：“{c['quote']}”" for c in result["conditions"]],
        warnings=[plain(w) for w in result["warnings"]], provenance=[_provenance_row(layer) for layer in layers],
        hashes=[(layer["name"], layer["sha256"]) for layer in layers],
        demonstration=demonstration, authoritative=authoritative, catalog_version=record.catalog_version, notices=notices,
        **_issue_fields(record),
    )


def _audit_lines(record: CheckRecord) -> list[tuple[str, str]]:
    """Meta rows: the versions it was issued on, the log's signing key, and each reviewer decision."""
    issue = _issue_fields(record)
    rows = [("签发版本", f"签发于 {issue['issued_at']}；规则目录版本 {record.catalog_version[:12]}；图层版本见数据来源")]
    if issue["key_fingerprint"]:
        rows.append(("审计签名公钥", f"Ed25519 {issue['key_fingerprint']}（{issue['public_key']}）"))
    rows += [("审查决定", f"{d.recorded_at} {d.decision}（{d.scope}）" + (f"：{d.note}" if d.note else ""))
             for d in issue["decisions"]]
    return rows


def _issue_fields(record: CheckRecord) -> dict:
    """The audit fields: issue time and versions, the log's public key, the reviewer's decisions."""
    issued_at = f"{shown_time(record.created_at)}（北京时间）"
    key = PublicKey.from_base64(record.public_key) if record.public_key else None
    return {
        "issued_at": issued_at,
        "issued": (f"本意见依审计记录 {record.id} 出具，签发于 {issued_at}，审查日期 {record.checked_on}，"
                   f"规则目录版本 {record.catalog_version[:12]}，图层版本见数据来源。此后图层或规则的更新不改变本意见；"
                   "按当前数据的结论须另行复现。"),
        "public_key": key.base64 if key else "",
        "key_fingerprint": key.fingerprint if key else "",
        "decisions": [ReviewerDecision(f"{shown_time(d.recorded_at)}（北京时间）", d.decision, d.rule_id or "总体结论",
                                       d.note, d.id) for d in record.decisions],
    }


def decision_rows(content: ReportContent) -> list[tuple[str, str, str, str]]:
    """The reviewer's decisions as table rows, each naming its audit record."""
    return [(d.recorded_at, d.scope if d.scope == "总体结论" else f"条款（{d.scope}）", d.decision,
             f"{d.note}（记录 {d.decision_id}）" if d.note else f"（记录 {d.decision_id}）") for d in content.decisions]


def issue_lines(content: ReportContent) -> list[str]:
    """The 出具信息 block: record, issue time and versions, the time zone, the audit key."""
    lines = [content.issued or f"本意见依审计记录 {content.check_id} 出具（{content.channel}，{content.created_at}）。",
             f"生成方式：山西省环评选址空间管控审查系统（{content.channel}）；可凭审查编号 {content.check_id} 在审计日志中复现。"]
    if content.key_fingerprint:
        lines.append(f"审计日志签名公钥指纹：{content.key_fingerprint}" + (f"（公钥 {content.public_key}）" if content.public_key else ""))
    lines.append(content.time_note)
    return lines
