"""What the rules say for a situation, decided in one place for one site and for a million.

A *situation* is what decides every rule but the measured distance: the industry and stage,
which admin areas reach the site (inside, or within the admin layer's accuracy of their
edge), which layer coverages it falls in, whether it lies beyond the reach of a missing
layer's bound, and which enterprises the project names. ``decide`` says what one rule does
in it; ``Situation.of`` gathers the rules' decisions. The single check (``spatial.checker``)
and the batch screen (``spatial.screening``) both call these two and nothing else decides:
the check then words the decisions as findings, the screen tables them.

``RuleBook`` holds what both derive from one rule list on one layer set (plans, the admin
areas and coverages that make up a situation, the targets measured), made once and kept
with the layers' prepared zones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from spatial.engine import COVERAGE, FEATURES, TargetKey, prepared
from spatial.enums import IdentityEnum
from spatial.industry import Industry, IndustryMatch
from spatial.layer import Layer, LayerSet
from spatial.notes import Note, NoteCode
from spatial.rules import Action, Plan, Rule, Stage, Verdict
from spatial.semantics import (
    COMPLIANT,
    MEASURED_KINDS,
    NOT_APPLICABLE,
    REVIEW,
    VERDICTS,
    Disposition,
    applicable,
    bound,
    bounds,
    disposition,
    edge_of_jurisdiction,
    fixed_outcome,
    has_coverage,
    partly_covered,
    rule_target,
)
from spatial.units import UnitClass

T = TypeVar("T")


class Coverage(IdentityEnum):
    """Whether a layer speaks for a site: wholly, for part of it (a polygon straddling its edge), or not."""

    INSIDE = "inside"
    PARTIAL = "partial"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class AreaScope:
    """A site against one admin area (a plan's jurisdiction or a county a rule names)."""

    inside: bool
    applies: bool  # inside, or within the admin layer's accuracy of the edge
    edge_case: bool  # within that accuracy of the edge, on either side
    distance_to_edge_m: float | None = None  # None where only the flags were asked for (the batch screen)

    def to_dict(self) -> dict:
        return {"inside": self.inside, "applies": self.applies, "distance_to_edge_m": self.distance_to_edge_m,
                "edge_case": self.edge_case}


@dataclass(frozen=True)
class RuleScope:
    """One rule against the admin areas it reaches."""

    applies: bool
    inside: bool
    edge_case: bool  # near an edge, and not firmly inside any of its areas


def rule_scope(rule: Rule, scopes: Mapping[str, AreaScope]) -> RuleScope:
    """How a rule reaches a site, from the scopes of the admin areas it reaches."""
    areas = [scopes[code] for code in rule.jurisdictions]
    return RuleScope(applies=any(area.applies for area in areas), inside=any(area.inside for area in areas),
                     edge_case=any(area.edge_case for area in areas) and not any(area.inside and not area.edge_case for area in areas))


@dataclass(frozen=True)
class RuleDecision:
    """What one applicable rule does for a situation.

    ``disposition`` says where it goes: a fixed finding (``FIXED``, ``BEYOND``), not evaluated
    (``MISSING``, ``UNCOVERED``), a general condition, information only (an enterprise the
    project is not), or measured. ``verdict``/``inside``/``boundary`` are final for fixed
    findings; a measured rule's verdict comes from ``spatial.measure``.
    """

    rule: Rule
    match: IndustryMatch
    disposition: Disposition
    verdict: Verdict = Verdict.COMPLIANT
    inside: bool | None = None
    boundary: bool = False
    at_edge: bool = False  # the site lies within accuracy of the edge of the area the rule reaches
    partial: bool = False  # the rule's layer covers only part of the site
    layer: str | None = None  # the layer the decision rests on (used layers are cited)
    reason: Note | None = None  # why a rule is not evaluated
    layer_name: str = ""


def decide(rule: Rule, match: IndustryMatch, layers: LayerSet, scopes: Mapping[str, AreaScope], coverage: Coverage,
           beyond: bool, named: bool) -> RuleDecision | None:
    """What a rule for the industry and stage does in a situation; None where it does not reach the site.

    ``coverage``: the site against the declared coverage of the rule's layer; ``beyond``: the site
    lies farther from the layer bounding the rule's missing layer than the rule reaches; ``named``:
    the project names the enterprise the rule names (if it names one).
    """
    scope = rule_scope(rule, scopes)
    if not scope.applies:
        return None
    if rule.enterprises and not named:
        return RuleDecision(rule, match, Disposition.INFORMATION)
    layer = rule.zone.layer
    handling = disposition(rule, layers, covered=coverage is not Coverage.OUTSIDE, beyond=beyond)
    if handling is Disposition.BEYOND:
        return RuleDecision(rule, match, handling, inside=False)
    if handling is Disposition.MISSING:
        return RuleDecision(rule, match, handling, reason=missing_reason(layers, layer), layer_name=layer_name(layers, layer))
    if handling is Disposition.UNCOVERED:
        return RuleDecision(rule, match, handling, reason=uncovered_reason(layers, layer), layer_name=layer_name(layers, layer))
    partial = coverage is Coverage.PARTIAL
    if rule.zone.kind in MEASURED_KINDS:  # measured (a general condition's zone too: for its distance)
        return RuleDecision(rule, match, handling, at_edge=scope.edge_case, partial=partial, layer=layer)
    verdict, inside = fixed_outcome(rule, match)
    if handling is Disposition.CONDITION:  # listed, never a verdict
        return RuleDecision(rule, match, handling, inside=inside, boundary=partial, partial=partial, layer=layer)
    severity = edge_of_jurisdiction(partly_covered(np.array([verdict.severity]), rule.action, partial), np.array([scope.edge_case]))
    return RuleDecision(rule, match, handling, VERDICTS[int(severity[0])], inside, boundary=scope.edge_case or partial,
                        at_edge=scope.edge_case, partial=partial, layer=layer)


@dataclass(frozen=True, eq=False)
class Situation:
    """Every applicable rule's decision in one situation, grouped as an answer lists them (rule order kept).

    One object per situation, shared by every site and thread that meets it (compared by identity).
    """

    findings: tuple[RuleDecision, ...]  # fixed: undefined extents, whole jurisdictions, beyond a bound
    not_evaluated: tuple[RuleDecision, ...]
    conditions: tuple[RuleDecision, ...]
    information: tuple[RuleDecision, ...]  # measures on named enterprises the project is not
    measured: tuple[RuleDecision, ...]
    layers: frozenset[str]  # the layers the decisions rest on, the admin layer included

    @classmethod
    def of(cls, decisions: Iterable[RuleDecision | None]) -> Situation:
        groups: dict[str, list[RuleDecision]] = {name: [] for name in ("findings", "not_evaluated", "conditions", "information",
                                                                       "measured")}
        for decision in decisions:
            if decision is not None:
                groups[_GROUP[decision.disposition]].append(decision)
        used = {LayerSet.ADMIN} | {d.layer for d in (*groups["findings"], *groups["conditions"], *groups["measured"])
                                   if d.layer is not None}
        return cls(**{name: tuple(found) for name, found in groups.items()}, layers=frozenset(used))

    def severity(self, reached: bool, demonstration: bool) -> int:
        """The verdict before measurement: not applicable where no plan reaches (``reached``), else the
        strictest fixed finding, at least review while a rule waits for a layer or data is demonstration."""
        if not reached:
            return NOT_APPLICABLE
        severities = [d.verdict.severity for d in self.findings]
        if demonstration or any(d.rule.action is not Action.ENCOURAGE for d in self.not_evaluated):
            severities.append(REVIEW)
        return max(severities, default=COMPLIANT)


_GROUP = {Disposition.FIXED: "findings", Disposition.BEYOND: "findings", Disposition.MISSING: "not_evaluated",
          Disposition.UNCOVERED: "not_evaluated", Disposition.CONDITION: "conditions", Disposition.INFORMATION: "information",
          Disposition.MEASURED: "measured"}


def demonstration_layers(layers: LayerSet, used: Iterable[str]) -> list[str]:
    """Names of the demonstration layers among those an answer used, in id order."""
    return [layers.layers[i].name for i in sorted(used) if layers.layers[i].provenance.demonstration]


class RuleBook:
    """One rule list on one layer set: what a situation is made of and what is measured (see the module docstring).

    ``attached`` keeps, per kind, what another module derives from the book (the checker's
    situations, the screen's flag table), so it lives exactly as long as the book.
    """

    def __init__(self, rules: tuple[Rule, ...], layers: LayerSet) -> None:
        self.rules, self.layers = rules, layers  # the rules are kept so their ids stay theirs
        self.plans: list[Plan] = list({rule.plan.id: rule.plan for rule in rules}.values())
        self.codes: list[str] = list(dict.fromkeys(code for rule in rules for code in (rule.plan.jurisdiction, *rule.jurisdictions)))
        self.jurisdictions = [TargetKey.jurisdiction(code) for code in self.codes]
        self.coverage_layers = [layer_id for layer_id in layers.layers if has_coverage(layer_id, layers)]
        self.coverages = [TargetKey(COVERAGE, layer_id) for layer_id in self.coverage_layers]
        self.units = [TargetKey(FEATURES, unit.layer) for unit in UnitClass if unit.layer in layers.layers]
        self.reaches: list[tuple[TargetKey, float]] = bounds(rules, layers)
        self.targets: list[TargetKey | None] = [rule_target(rule, layers) for rule in rules]
        self.position = {id(rule): i for i, rule in enumerate(rules)}
        self.scope_keys: set[TargetKey] = set(self.jurisdictions) | set(self.coverages)
        self._on_layer: dict[str, list[Rule]] = {}
        for rule in rules:
            if rule.zone.layer is not None:
                self._on_layer.setdefault(rule.zone.layer, []).append(rule)
        self._attached: dict[type, object] = {}
        self._lock = threading.Lock()

    def rules_on(self, layer_id: str) -> list[Rule]:
        """The rules whose zone is a layer, in catalog order."""
        return self._on_layer.get(layer_id, [])

    def decide(self, industry: Industry, stage: Stage, scopes: Mapping[str, AreaScope], coverage: Callable[[str | None], Coverage],
               beyond: Callable[[tuple[TargetKey, float]], bool], named: Callable[[Rule], bool]) -> Situation:
        """Every rule's decision for a site whose areas, coverages and bounds the callables give."""
        return Situation.of(decide(rule, match, self.layers, scopes, coverage(rule.zone.layer),
                                   reach is not None and beyond(reach), named(rule))
                            for rule, match in applicable(self.rules, industry, stage)
                            for reach in [bound(rule, self.layers)])

    def attached(self, kind: type[T], make: Callable[[RuleBook], T]) -> T:
        """The one ``kind`` object derived from this book, made on first use."""
        with self._lock:
            found = self._attached.get(kind)
            if found is None:
                found = self._attached[kind] = make(self)
            return found  # type: ignore[return-value]


def rule_book(rules: list[Rule] | tuple[Rule, ...], layers: LayerSet) -> RuleBook:
    """The one RuleBook of a rule list on a layer set (kept with the layers' prepared zones)."""
    return prepared(layers).books.get(tuple(map(id, rules)), lambda: RuleBook(tuple(rules), layers))


def layer_name(layers: LayerSet, layer_id: str) -> str:
    """The Chinese name of a loaded or a missing layer."""
    known = layers.layers.get(layer_id) or layers.missing.get(layer_id)
    return known.name if known is not None else layer_id


def missing_reason(layers: LayerSet, layer_id: str) -> Note:
    missing = layers.missing[layer_id]
    return Note(NoteCode.MISSING_LAYER, text=missing.reason, layer=missing.name)


def uncovered_reason(layers: LayerSet, layer_id: str) -> Note:
    layer = layers.layers[layer_id]
    if layer.provenance.gaps:
        gaps = layer.provenance.gaps
        return Note(NoteCode.UNCOVERED_GAPS, layer=layer.name, names=tuple(name for name, _, _ in gaps),
                    widths=tuple(width for _, _, width in gaps))
    return Note(NoteCode.UNCOVERED, layer=layer.name, names=coverage_names(layer, layers))


def coverage_names(layer: Layer, layers: LayerSet) -> tuple[str, ...]:
    """The names of the admin areas a layer declares it covers, in the admin layer's order."""
    def make() -> tuple[str, ...]:
        frame = layers.admin.frame
        return tuple(frame.loc[frame["code"].isin(layer.provenance.coverage), "name"])
    return prepared(layers).coverage_names.get(layer.id, make)
