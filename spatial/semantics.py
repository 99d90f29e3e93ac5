"""What a rule says about a site, written once for one site and for arrays of sites.

The checker (one site, full report) and the batch screen (many sites, tables) both
decide here which rules speak, how a measured distance becomes a verdict, and what a
jurisdiction edge or a layer's coverage does to it. Verdicts travel as severities
(indices into ``Verdict``) so that arrays of sites can be handled at once.
"""

from __future__ import annotations

from datetime import date

import numpy as np
from numpy.typing import NDArray

from spatial.cache import Cache
from spatial.engine import AREA, TargetKey
from spatial.enums import IdentityEnum
from spatial.industry import Industry, IndustryMatch
from spatial.layer import LayerSet
from spatial.rules import Action, Rule, Stage, Verdict, ZoneKind

VERDICTS = list(Verdict)
REVIEW = Verdict.REVIEW.severity
COMPLIANT = Verdict.COMPLIANT.severity
NOT_APPLICABLE = Verdict.NOT_APPLICABLE.severity
MEASURED_KINDS = (ZoneKind.BUFFER, ZoneKind.WITHIN)  # zones a rule is measured on (a layer's buffer or polygons)


class Disposition(IdentityEnum):
    """How an applicable rule is handled for a site."""

    MISSING = "missing"  # its layer does not exist: not evaluated
    BEYOND = "beyond"  # its layer does not exist, but the layer bounding it puts the site out of reach
    UNCOVERED = "uncovered"  # its layer does not speak for the site's area: not evaluated
    CONDITION = "condition"  # a general condition: listed, never a verdict
    FIXED = "fixed"  # undefined extent or whole jurisdiction: the same answer anywhere in scope
    MEASURED = "measured"  # buffer or polygon zone: measured on the layer
    INFORMATION = "information"  # a measure on a named enterprise the project is not: listed for information


_APPLICABLE: Cache[tuple, tuple[tuple[Rule, ...], list[tuple[Rule, IndustryMatch]]]] = Cache(256)


def applicable(rules: list[Rule] | tuple[Rule, ...], industry: Industry, stage: Stage) -> list[tuple[Rule, IndustryMatch]]:
    """The rules for this industry and stage, with how the industry matches each (cached)."""
    def make() -> tuple[tuple[Rule, ...], list[tuple[Rule, IndustryMatch]]]:
        chosen = []
        for rule in rules:
            if stage not in rule.stages:
                continue
            match = industry.match(rule.industry_codes, rule.excepted_codes, rule.finer_codes, rule.industry_terms)
            if match is not IndustryMatch.NONE:
                chosen.append((rule, match))
        return tuple(rules), chosen  # the rules are kept so their ids stay theirs
    return _APPLICABLE.get((tuple(map(id, rules)), industry.codes, industry.term, stage), make)[1]


def disposition(rule: Rule, layers: LayerSet, covered: bool, beyond: bool = False) -> Disposition:
    """``covered``: the site lies within the area the rule's layer declares it covers;
    ``beyond``: the site lies farther from the layer bounding a missing layer than the rule reaches."""
    layer = rule.zone.layer
    if layer is not None and layer in layers.missing:
        return Disposition.BEYOND if beyond else Disposition.MISSING
    if not covered:
        return Disposition.UNCOVERED
    if rule.general:
        return Disposition.CONDITION
    if rule.zone.kind in MEASURED_KINDS:
        return Disposition.MEASURED
    return Disposition.FIXED


def bound(rule: Rule, layers: LayerSet) -> tuple[TargetKey, float] | None:
    """For a rule on a missing layer that a loaded layer bounds (levees lie within a known
    distance of their river's line): the bounding target and how far from it the rule can reach."""
    missing = layers.missing.get(rule.zone.layer) if rule.zone.layer else None
    if missing is None or missing.bounded_by not in layers.layers:
        return None
    return TargetKey(AREA, missing.bounded_by), missing.within_m + (rule.zone.distance_m or 0.0)


def bounds(rules: list[Rule] | tuple[Rule, ...], layers: LayerSet) -> list[tuple[TargetKey, float]]:
    """Every distinct (bounding target, reach) the rules need, in a stable order."""
    return sorted({found for rule in rules if (found := bound(rule, layers)) is not None})


def has_coverage(layer_id: str | None, layers: LayerSet) -> bool:
    """Whether a layer declares a limited coverage (so sites outside it are not evaluated)."""
    if layer_id is None or layer_id not in layers.layers:
        return False
    provenance = layers.layers[layer_id].provenance
    return bool(provenance.coverage or provenance.gaps)


def rule_verdict(rule: Rule, match: IndustryMatch) -> Verdict:
    """The verdict of a rule that reaches the site. A coarser industry, or a rule that binds
    only a subset the industry code cannot tell (its ``condition``), earns a review."""
    if rule.action is Action.ENCOURAGE:
        return Verdict.COMPLIANT
    if match is IndustryMatch.COARSER or rule.condition:
        return Verdict.REVIEW
    return rule.action.verdict


def fixed_outcome(rule: Rule, match: IndustryMatch) -> tuple[Verdict, bool | None]:
    """Verdict and ``inside`` of a rule on an undefined extent or a whole jurisdiction."""
    if rule.zone.kind is ZoneKind.UNDEFINED:
        return (Verdict.COMPLIANT if rule.action is Action.ENCOURAGE else Verdict.REVIEW), None
    return rule_verdict(rule, match), True


def measured_outcome(action: Action, hit: int | NDArray, inside: NDArray, margin: NDArray,
                     accuracy: float | NDArray, outward_band: float | NDArray) -> tuple[NDArray, NDArray]:
    """Severity and boundary flag per site from its margin into the zone (metres, < 0 outside).

    ``hit`` is the severity of the rule for a site well inside (``rule_verdict``; per site
    when sites differ in how their industry matches). A site within the layer's accuracy
    of the edge is a boundary case on either side: a non-encouraging rule asks for review,
    whose likely answer (``likely_verdict``) is the rule's own inside and compliance outside.
    ``outward_band`` widens the outer band by the river's mid-line-to-bank distance. A NaN
    margin means farther than any band.
    """
    boundary = (inside & (margin <= accuracy)) | (~inside & (-margin <= outward_band))  # NaN compares False
    near = REVIEW if action is not Action.ENCOURAGE else COMPLIANT
    severity = np.where(boundary, np.minimum(hit, near), np.where(inside, hit, COMPLIANT)).astype(np.int8)
    return severity, boundary


def likely_verdict(rule: Rule, inside: bool | None) -> Verdict:
    """What a review finding most likely resolves to: the rule's action inside its zone (or
    where the zone is undefined), compliance outside."""
    return rule.action.verdict if inside is not False else Verdict.COMPLIANT


def overdue(rule: Rule, on: date) -> bool:
    """Whether the rule's deadline has passed on a date."""
    return bool(rule.deadline) and date.fromisoformat(rule.deadline) < on


def edge_of_jurisdiction(severity: NDArray, edge_case: NDArray) -> NDArray:
    """A site within boundary accuracy of a rule's jurisdiction edge, on either side: a rule
    hit becomes a review, since the site may lie on the other side."""
    return np.where(edge_case, np.minimum(severity, REVIEW), severity).astype(np.int8)


def partly_covered(severity: NDArray, action: Action, partial: bool) -> NDArray:
    """A site straddling the edge of what a layer covers: the uncovered part is unknown, so a
    non-encouraging rule asks at least for review."""
    return np.maximum(severity, REVIEW).astype(np.int8) if partial and action is not Action.ENCOURAGE else severity


def plan_applies(inside: NDArray | bool, to_edge: NDArray | float, accuracy: float) -> tuple[NDArray | bool, NDArray | bool]:
    """(applies, edge_case): a plan reaches sites inside it or within accuracy of its edge (arrays or scalars)."""
    edge_case = to_edge <= accuracy  # NaN (farther than asked) compares False
    return inside | edge_case, edge_case


def rule_target(rule: Rule, layers: LayerSet) -> TargetKey | None:
    """The geometry a buffer or polygon rule is measured against (None for other rules)."""
    zone = rule.zone
    if zone.layer is None or zone.layer not in layers.layers:
        return None
    if zone.kind is ZoneKind.BUFFER:
        return TargetKey(AREA, zone.layer, zone.section)
    if zone.kind is ZoneKind.WITHIN:
        return TargetKey(AREA, zone.layer)
    return None
