"""The answer a reviewer reads first: the verdict, its reason in one sentence, and the
findings folded into what is about the site, what holds anywhere in a plan's area, and
what could not be determined.

A check can list a hundred rules; a reviewer signs one verdict. The headline names the
finding that decides it (the strictest, nearest the site) and counts the rest; rules that
wait for the same missing layer are one line, not twenty; compliant zones far from the
site are counted, not listed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spatial.rules import Action, Stage, Verdict, ZoneKind

if TYPE_CHECKING:
    from spatial.findings import CheckResult, Finding, NotEvaluated

FOLD_M = 5_000.0  # compliant site findings farther than this are counted, not listed
# How ``decisive`` ranks findings of one verdict by group: a zone about the site first.
GROUP_ORDER = {"site": 0, "area": 1, "undetermined": 2}

GROUP_LABELS = {"site": "场址所在或邻近的管控区", "area": "规划范围内普遍适用的行业条款（与场址位置无关）",
                "undetermined": "未能确定的条款（范围未界定或缺少图层）"}


@dataclass(frozen=True)
class MissingLayerGroup:
    """Every rule held back by one missing (or uncovering) layer, read once."""

    layer: str
    layer_name: str
    reason: str
    rules: tuple[str, ...]
    actions: dict[str, int]  # 禁止/限制/退出/鼓励 → how many of the rules

    @property
    def summary(self) -> str:
        counts = "、".join(f"{n} 条{action}性条款" for action, n in self.actions.items() if action != Action.ENCOURAGE.value)
        return f"缺{self.layer_name}图层：{counts or '仅鼓励性条款'}未评估"

    @property
    def summary_en(self) -> str:
        return f"layer {self.layer} missing: {len(self.rules)} rule(s) not evaluated"

    def to_dict(self) -> dict:
        return {"layer": self.layer, "layer_name": self.layer_name, "reason": self.reason, "rules": list(self.rules),
                "actions": self.actions, "summary": self.summary, "summary_en": self.summary_en}


def missing_layer_groups(not_evaluated: list[NotEvaluated]) -> list[MissingLayerGroup]:
    """Not-evaluated rules grouped by the layer they wait for, most prohibitive first."""
    groups = (_missing_group(layer, items) for layer, items in _by_layer(not_evaluated).items())
    return sorted(groups, key=lambda group: _group_rank(group.actions, len(group.rules), group.layer))


def first_missing_layer_group(not_evaluated: list[NotEvaluated]) -> MissingLayerGroup | None:
    """``missing_layer_groups(not_evaluated)[0]`` (None when nothing waits), the other groups left unworded:
    a batch row's headline names only the first."""
    by_layer = _by_layer(not_evaluated)
    if not by_layer:
        return None
    layer = min(by_layer, key=lambda layer: _group_rank({item.rule.action.value for item in by_layer[layer]}, len(by_layer[layer]), layer))
    return _missing_group(layer, by_layer[layer])


_ACTION_WEIGHT = {Action.PROHIBIT.value: 3, Action.EXIT.value: 2, Action.RESTRICT.value: 1}


def _group_rank(actions: Iterable[str], rules: int, layer: str) -> tuple[int, int, str]:
    """Where a layer's group goes among the groups: the most prohibitive action first, then more rules."""
    return -max((_ACTION_WEIGHT.get(action, 0) for action in actions), default=0), -rules, layer


def _by_layer(not_evaluated: list[NotEvaluated]) -> dict[str, list[NotEvaluated]]:
    by_layer: dict[str, list[NotEvaluated]] = {}
    for item in not_evaluated:
        by_layer.setdefault(item.layer, []).append(item)
    return by_layer


def _missing_group(layer: str, items: list[NotEvaluated]) -> MissingLayerGroup:
    actions = Counter(item.rule.action.value for item in items)
    ordered = {a.value: actions[a.value] for a in (Action.PROHIBIT, Action.EXIT, Action.RESTRICT, Action.ENCOURAGE) if actions[a.value]}
    return MissingLayerGroup(layer, items[0].layer_name or layer, items[0].reason, tuple(item.rule.id for item in items), ordered)


def decisive(findings: list[Finding]) -> Finding | None:
    """The finding that decides the verdict: the strictest; among equals a zone about the
    site before a plan-wide condition, then the one the site lies deepest in."""
    if not findings:
        return None
    return min(findings, key=lambda f: (-f.verdict.severity, GROUP_ORDER[f.group], -(f.margin_m if _finite(f.margin_m) else -math.inf),
                                        f.rule.id))


def folded(findings: list[Finding], show_all: bool = False) -> tuple[list[Finding], int]:
    """Site findings to list, and how many compliant ones farther than ``FOLD_M`` were folded."""
    if show_all:
        return list(findings), 0
    kept = [f for f in findings if f.verdict is not Verdict.COMPLIANT or f.inside
            or (_finite(f.distance_m) and f.distance_m <= FOLD_M) or f.boundary_case]
    return kept, len(findings) - len(kept)


def headline(result: CheckResult, groups: list[MissingLayerGroup]) -> tuple[str, str]:
    """(Chinese, English) one-sentence reason for the overall verdict of a check."""
    overall = result.overall
    lead = decisive([f for f in result.findings if f.verdict is overall])
    others = Counter(f.verdict for f in result.findings if f is not lead and f.verdict is not Verdict.COMPLIANT)
    held = sum(1 for n in result.not_evaluated if n.rule.action is not Action.ENCOURAGE)
    return headline_of(overall, lead, others, held, groups[0] if groups else None, bool(result.demonstration))


def headline_of(overall: Verdict, lead: Finding | None, others: Counter, held: int, first_missing: MissingLayerGroup | None,
                demonstration: bool) -> tuple[str, str]:
    """The headline from its parts, so that a batch row and a single check word it alike:
    the deciding finding, how many other findings of each verdict, how many rules wait for
    a layer (and the first such layer), whether demonstration data was used."""
    if overall is Verdict.NOT_APPLICABLE:
        return ("不适用：场址不在任何适用规划的管辖范围内，请核对坐标",
                "Not applicable: the site lies outside the jurisdiction of every plan; check the coordinates")
    named_missing = False
    if lead is not None:
        zh, en = _reason(lead)
    elif first_missing is not None and overall is Verdict.REVIEW:
        zh = f"{first_missing.summary}，须补充图层或人工核查"
        en = f"{first_missing.summary_en}; supply the layer or check by hand"
        named_missing = True
    elif overall is Verdict.REVIEW and demonstration:
        zh, en = "结论依赖示意数据，不得作为审批依据", "the answer rests on demonstration data"
    else:
        zh, en = "场址不在已评估的任何管控区内，也不属任何禁止、限制或退出的行业条款", "no evaluated zone or industry rule restricts this project here"
    tail_zh, tail_en = _counts(others, 0 if named_missing else held)
    return f"{overall.label}：{zh}{tail_zh}", f"{overall.label_en.capitalize()}: {en}{tail_en}"


def _reason(finding: Finding) -> tuple[str, str]:
    rule, zone = finding.rule, finding.rule.zone
    deadline = ""
    if rule.deadline and finding.verdict is Verdict.EXIT:
        deadline = f"，期限 {rule.deadline}" + ("（已逾期）" if finding.overdue else "")
    what = f"{'、'.join(rule.industries)}{'/'.join(s.value for s in Stage if s in rule.stages)}项目{rule.action.value}"
    source = f"（{rule.plan.jurisdiction_name}规划 {rule.id}）"
    if finding.group == "undetermined":
        return (f"位于或邻近“{zone.name or finding.zone}”（规划未界定范围），{what}{source}",
                f"the plan names a zone without extent ({rule.id}); it may reach the site")
    if finding.group == "area":
        scope = rule.scope_name or rule.plan.jurisdiction_name
        why = "所报行业较条款宽泛或条款限于特定情形，" if finding.verdict is Verdict.REVIEW else ""
        due = f", deadline {rule.deadline}" if deadline else ""
        return (f"{why}{scope}范围内{what}{deadline}{source}", f"{rule.action.name.lower()} across {scope} for this industry{due} ({rule.id})")
    distance = _m(finding.distance_m)
    if finding.boundary_case and finding.verdict is Verdict.REVIEW:
        likely = finding.likely.label if finding.likely else Verdict.REVIEW.label
        side = "内" if finding.inside else "外"
        return (f"场址在{finding.zone}边界{side} {_m(abs(finding.margin_m or 0))} 米，在图层位置精度以内，可能为“{likely}”{source}",
                f"the site is {_m(abs(finding.margin_m or 0))} m {'inside' if finding.inside else 'outside'} the edge of a zone, "
                f"within the layer's accuracy ({rule.id})")
    if zone.kind is ZoneKind.BUFFER:
        return (f"位于{finding.zone}范围内，距{finding.layer_name} {distance} 米（余量 {_m(finding.margin_m)} 米）{deadline}{source}",
                f"within {zone.distance_m:g} m of {finding.layer}: {distance} m from it (margin {_m(finding.margin_m)} m){deadline} ({rule.id})")
    return (f"位于{finding.zone}内{deadline}{source}", f"inside {finding.layer}{deadline} ({rule.id})")


def _counts(others: Counter, held: int) -> tuple[str, str]:
    parts_zh, parts_en = [], []
    for verdict in sorted(others, key=lambda v: -v.severity):
        parts_zh.append(f"{others[verdict]} 条{verdict.label}")
        parts_en.append(f"{others[verdict]} {verdict.label_en}")
    if held:
        parts_zh.append(f"{held} 条因缺图层未评估")
        parts_en.append(f"{held} not evaluated for want of a layer")
    if not parts_zh:
        return "", ""
    return "；另有 " + "，".join(parts_zh), "; also " + ", ".join(parts_en)


def _m(value: float | None) -> str:
    return "—" if not _finite(value) else f"{value:,.0f}"


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
