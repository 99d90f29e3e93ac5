"""Screen many point sites at once with the checker's rules.

Sites are grouped by what decides every rule but the measured ones: their (industry,
stage) group, which plans reach them (inside, or within boundary accuracy), which layer
coverages and 三线一单 unit layers they fall in. Each such *pattern* is worked out once,
by the same decisions the single-site check makes (``spatial.semantics``); buffer and
polygon rules are then measured for all sites of a pattern in one array operation.

Distances are exact within each zone's *horizon*: its widest band (buffer distance,
layer accuracy, river mid-line to bank) plus ``report_m``. Beyond it a distance is
stated only as "more than the horizon" (NaN here); no verdict depends on it.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from spatial.answer import decisive, headline_of, missing_layer_groups
from spatial.checker import Finding, NotEvaluated, layer_name, missing_reason, uncovered_reason
from spatial.crs import transformer
from spatial.engine import COVERAGE, DEEP, FAR, FEATURES, PreparedZones, TargetKey, gk_epsg, prepared
from spatial.industry import Industry, IndustryMatch
from spatial.layer import LayerSet
from spatial.rules import Action, Rule, Stage, Verdict, ZoneKind
from spatial.semantics import (
    COMPLIANT,
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
    measured_outcome,
    overdue,
    plan_applies,
    rule_scope,
    rule_target,
    rule_verdict,
)
from spatial.units import UnitClass

DEFAULT_REPORT_M = 500.0
Combo = tuple[Industry, Stage] | tuple[Industry, Stage, frozenset[str]]


@dataclass
class Pattern:
    """What every site of one situation gets from the rules that need no measurement."""

    group: int
    findings: list[tuple[Rule, Verdict, bool | None, bool]] = field(default_factory=list)  # rule, verdict, inside, boundary
    not_evaluated: list[tuple[Rule, str, str, str]] = field(default_factory=list)  # rule, layer, reason, layer name
    conditions: list[Rule] = field(default_factory=list)
    measured: list[tuple[Rule, IndustryMatch, bool]] = field(default_factory=list)  # rule, match, site near the edge of its area
    information: list[Rule] = field(default_factory=list)  # measures on named enterprises the project is not
    demonstration: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)  # ids of the plans that reach the sites
    severity: int = NOT_APPLICABLE


@dataclass
class Screening:
    """The answer for n sites (see the module docstring)."""

    overall: NDArray  # severity per site
    epsg: NDArray
    pattern: NDArray  # index into patterns, per site
    patterns: list[Pattern]
    measured: pd.DataFrame  # site, rule, severity, inside, boundary, distance_m, margin_m, horizon_m
    layer_names: dict[str, str] = field(default_factory=dict)  # of the measured layers, for headlines

    def findings_of(self, site: int) -> list[dict]:
        """Every finding of one site, as (rule id, verdict, inside, boundary, distance, margin)."""
        pattern = self.patterns[self.pattern[site]]
        rows = [{"rule": rule.id, "verdict": verdict, "inside": inside, "boundary_case": boundary,
                 "distance_m": None, "margin_m": None} for rule, verdict, inside, boundary in pattern.findings]
        own = self.measured.loc[self.measured["site"] == site]
        for record in own.itertuples(index=False):
            rows.append({"rule": record.rule, "verdict": VERDICTS[record.severity], "inside": bool(record.inside),
                         "boundary_case": bool(record.boundary), "distance_m": _or_none(record.distance_m),
                         "margin_m": _or_none(record.margin_m)})
        return rows


def site_headlines(screening: Screening) -> NDArray:
    """The headline of every site, worded as a single check words it (``spatial.answer``).

    A site whose answer needs no measured finding shares its pattern's headline; only sites
    with a measured finding other than compliant get their own.
    """
    measured = screening.measured
    rules = {rule.id: rule for pattern in screening.patterns for rule, _, _ in pattern.measured}
    parts = [_PatternParts(pattern) for pattern in screening.patterns]
    # Sites without a notable measured finding: one headline per (pattern, overall), filled in bulk.
    keys = screening.pattern.astype(np.int64) * len(VERDICTS) + screening.overall
    unique, inverse = np.unique(keys, return_inverse=True)
    shared = np.array([parts[key // len(VERDICTS)].headline(VERDICTS[key % len(VERDICTS)], [])
                       for key in unique.tolist()] or [""], dtype=object)
    out = shared[inverse.ravel()] if len(keys) else np.empty(0, dtype=object)
    notable = measured[measured["severity"].to_numpy() > COMPLIANT]
    if not len(notable):
        return out
    today = date.today()
    sites = notable["site"].to_numpy()
    order = np.argsort(sites, kind="stable")
    starts = np.flatnonzero(np.diff(sites[order])) + 1
    columns = [notable[name].to_numpy()[order] for name in ("rule", "severity", "inside", "distance_m", "margin_m", "boundary")]
    for rows in np.split(np.arange(len(order)), starts):
        site = int(sites[order[rows[0]]])
        found = []
        for rule_id, severity, inside, distance, margin, boundary in zip(*(column[rows] for column in columns), strict=True):
            rule = rules[str(rule_id)]
            name = screening.layer_names.get(rule.zone.layer, "")
            found.append(Finding(rule, VERDICTS[severity], rule.zone.layer, name, rule.zone.describe(name), bool(inside),
                                 _or_none(distance), _or_none(margin), bool(boundary), "",
                                 overdue=bool(inside) and overdue(rule, today)))
        out[site] = parts[screening.pattern[site]].headline(VERDICTS[int(screening.overall[site])], found)
    return out


class _PatternParts:
    """What a pattern contributes to the headline of each of its sites, worked out once."""

    def __init__(self, pattern: Pattern) -> None:
        today = date.today()
        self.fixed = [Finding(rule, verdict, None, "", rule.zone.describe(""), inside, None, None, boundary, "",
                              overdue=inside is not False and overdue(rule, today))
                      for rule, verdict, inside, boundary in pattern.findings]
        items = [NotEvaluated(rule, layer, reason, name) for rule, layer, reason, name in pattern.not_evaluated]
        groups = missing_layer_groups(items)
        self.first_missing = groups[0] if groups else None
        self.held = sum(1 for item in items if item.rule.action is not Action.ENCOURAGE)
        self.demonstration = bool(pattern.demonstration)

    def headline(self, overall: Verdict, measured: list[Finding]) -> str:
        everything = self.fixed + measured
        lead = decisive([f for f in everything if f.verdict is overall])
        others = Counter(f.verdict for f in everything if f is not lead and f.verdict is not Verdict.COMPLIANT)
        return headline_of(overall, lead, others, self.held, self.first_missing, self.demonstration)[0]


def horizons(rules: list[Rule] | tuple[Rule, ...], layers: LayerSet, report_m: float) -> dict[TargetKey, float]:
    """Per measured target: the widest band any rule draws round it, plus ``report_m``."""
    widest: dict[TargetKey, float] = {}
    for rule in rules:
        key = rule_target(rule, layers)
        if key is None:
            continue
        provenance = layers.layers[key.layer].provenance
        band = provenance.accuracy_m
        if rule.zone.kind is ZoneKind.BUFFER:
            band += rule.zone.distance_m + provenance.widest_bank_m
        widest[key] = max(widest.get(key, 0.0), band)
    return {key: band + report_m for key, band in widest.items()}


def screen(lon: NDArray, lat: NDArray, group: NDArray, combos: list[Combo], rules: list[Rule],
           layers: LayerSet, report_m: float = DEFAULT_REPORT_M) -> Screening:
    """Check n WGS84 points; ``group[i]`` indexes the (industry, stage, named enterprise rules)
    of site i in ``combos`` (the third item may be left out: no enterprise named)."""
    rules = list(rules)
    zones = prepared(layers)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    n = len(lon)
    accuracy = layers.admin.provenance.accuracy_m
    everyone = np.ones(n, dtype=bool)
    if n == 0:
        empty = pd.DataFrame({name: np.empty(0, dtype=kind) for name, kind in _MEASURED_COLUMNS.items()})
        empty["rule"] = pd.Categorical.from_codes(empty["rule"], categories=["-"])
        return Screening(np.empty(0, np.int8), np.empty(0, np.int32), np.empty(0, np.int32), [], empty)

    plans = list({rule.plan.id: rule.plan for rule in rules}.values())
    codes = list(dict.fromkeys(code for rule in rules for code in (rule.plan.jurisdiction, *rule.jurisdictions)))
    jurisdictions = [TargetKey.jurisdiction(code) for code in codes]
    coverages = [TargetKey(COVERAGE, layer_id) for layer_id in layers.layers if has_coverage(layer_id, layers)]
    units = [TargetKey(FEATURES, unit.layer) for unit in UnitClass if unit.layer in layers.layers]
    locality = zones.locality_order(zones.cells(lon, lat))
    lon, lat, group = lon[locality], lat[locality], group[locality]
    membership = _Membership(zones, lon, lat)
    for key in dict.fromkeys(jurisdictions):
        membership.measure(key, accuracy, everyone)
    for key in coverages + units:
        membership.measure(key, 0.0, everyone, edges=False)
    reaches = bounds(rules, layers)
    far = []
    for key, reach in reaches:
        membership.measure(key, reach, everyone)
        with np.errstate(invalid="ignore"):
            far.append(~membership.inside[key] & ~(membership.edge[key] <= reach))
    scope = [plan_applies(membership.inside[key], membership.edge[key], accuracy) for key in jurisdictions]
    applies = _columns([applied for applied, _ in scope], n)
    edge = _columns([edge_case for _, edge_case in scope], n)
    inside = _columns([membership.inside[key] for key in jurisdictions], n)
    covered = _columns([membership.inside[key] for key in coverages], n)
    in_unit = _columns([membership.inside[key] for key in units], n)

    beyond = _columns(far, n)
    site_pattern, first = _situations(group, np.column_stack([applies, inside, edge, covered, in_unit, beyond]))
    order = np.argsort(site_pattern.astype(np.uint16) if len(first) <= 1 << 16 else site_pattern, kind="stable")  # radix sort
    members = np.split(order, np.searchsorted(site_pattern[order], np.arange(1, len(first))))
    coverage_index = {key.layer: i for i, key in enumerate(coverages)}
    rule_ids = tuple(map(id, rules))
    patterns = [
        _known_pattern(zones, rule_ids, int(group[s]), combos, rules, layers, plans,
                       {code: {"applies": bool(applies[s, i]), "inside": bool(inside[s, i]), "edge_case": bool(edge[s, i])}
                        for i, code in enumerate(codes)},
                       {layer: bool(covered[s, i]) for layer, i in coverage_index.items()},
                       [key.layer for key, hit in zip(units, in_unit[s], strict=True) if hit],
                       {reach: bool(beyond[s, i]) for i, reach in enumerate(reaches)})
        for s in first
    ]

    limits = horizons(rules, layers, report_m)
    need: dict[TargetKey, NDArray] = {}
    for pattern, rows in zip(patterns, members, strict=True):
        for rule, _, _ in pattern.measured:
            need.setdefault(rule_target(rule, layers), np.zeros(n, dtype=bool))[rows] = True
    for key, mask in need.items():
        membership.measure(key, limits[key], mask)

    # One array pass per measured rule over every site it reaches, whatever their pattern.
    reach: dict[str, tuple[Rule, list[NDArray], list[NDArray], list[NDArray]]] = {}
    for pattern, rows in zip(patterns, members, strict=True):
        for rule, match, at_edge in pattern.measured:
            entry = reach.setdefault(rule.id, (rule, [], [], []))
            entry[1].append(rows)
            entry[2].append(np.full(len(rows), rule_verdict(rule, match).severity, dtype=np.int8))
            entry[3].append(np.full(len(rows), at_edge))
    columns: dict[str, list[NDArray]] = {name: [] for name in _MEASURED_COLUMNS}
    for code, (rule, rows, hits, at_edge) in enumerate(reach.values()):
        found = _measure_rule(rule, np.concatenate(rows), np.concatenate(hits), np.concatenate(at_edge), membership, layers, limits)
        found["rule"] = np.full(len(found["site"]), code, dtype=np.int16)
        for name, values in found.items():
            columns[name].append(values)
    measured = pd.DataFrame({name: np.concatenate(parts) if parts else np.empty(0, dtype=_MEASURED_COLUMNS[name])
                             for name, parts in columns.items()})
    measured["rule"] = pd.Categorical.from_codes(measured["rule"].to_numpy(dtype=np.int16), categories=list(reach) or ["-"])

    overall = np.array([pattern.severity for pattern in patterns], dtype=np.int8)[site_pattern]
    if len(measured):
        np.maximum.at(overall, measured["site"].to_numpy(), measured["severity"].to_numpy())
    # Back to the caller's order.
    measured["site"] = locality[measured["site"].to_numpy()]
    names = {key.layer: layers.layers[key.layer].name for key in need}
    return Screening(_unsort(overall, locality), _unsort(membership.epsg, locality), _unsort(site_pattern.astype(np.int32), locality),
                     patterns, measured, names)


def _unsort(values: NDArray, order: NDArray) -> NDArray:
    out = np.empty_like(values)
    out[order] = values
    return out


def _columns(arrays: list[NDArray], n: int) -> NDArray:
    return np.column_stack(arrays) if arrays else np.zeros((n, 0), dtype=bool)


def _situations(group: NDArray, flags: NDArray) -> tuple[NDArray, NDArray]:
    """Pattern index per site and one representative site per pattern (sites with equal group and flags)."""
    weights = np.left_shift(np.int64(1), np.arange(flags.shape[1], dtype=np.int64))
    if flags.shape[1] + int(group.max(initial=0)).bit_length() < 63:
        key = (group << flags.shape[1]) | (flags.astype(np.int64) @ weights)
        _, first, site_pattern = np.unique(key, return_index=True, return_inverse=True)
    else:
        packed = np.packbits(flags.astype(np.uint8), axis=1)
        # Sorting rows (``unique(axis=0)``) costs most of a chunk's time; a 64-bit mix of each row sorts as
        # one number. The mix may merge two different rows, so the grouping is checked and, if it did, redone
        # exactly.
        mix = _ROW_MIX[: packed.shape[1]] if packed.shape[1] <= len(_ROW_MIX) else _row_mix(packed.shape[1])
        key = (packed.astype(np.uint64) * mix).sum(axis=1, dtype=np.uint64) ^ (group.astype(np.uint64) * _GROUP_MIX)
        _, first, site_pattern = np.unique(key, return_index=True, return_inverse=True)
        site_pattern = site_pattern.ravel()
        if not (np.array_equal(packed[first][site_pattern], packed) and np.array_equal(group[first][site_pattern], group)):
            table = np.column_stack([group, packed.astype(np.int64)])
            _, first, site_pattern = np.unique(table, axis=0, return_index=True, return_inverse=True)
    return site_pattern.ravel(), first


def _row_mix(width: int) -> NDArray:
    """Fixed odd 64-bit multipliers, one per packed flag byte (a seeded generator: runs are reproducible)."""
    return np.random.default_rng(20261206).integers(0, 2**63, width, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


_ROW_MIX = _row_mix(4096)
_GROUP_MIX = np.uint64(0x9E3779B97F4A7C15)


class _Membership:
    """Inside and edge distance of sites for targets, the grid deciding where GEOS is needed."""

    def __init__(self, zones: PreparedZones, lon: NDArray, lat: NDArray) -> None:
        self.zones, self.lon, self.lat = zones, lon, lat
        self.epsg = gk_epsg(lon)
        self.in_zone = {int(code): self.epsg == code for code in np.unique(self.epsg)}  # sites per GK zone, found once
        self.cells = zones.cells(lon, lat)
        self.inside: dict[TargetKey, NDArray] = {}
        self.edge: dict[TargetKey, NDArray] = {}
        self._points = np.full(len(lon), None, dtype=object)
        self._codes = np.zeros((len(lon), 0), dtype=np.uint8)  # grid codes per site and table column

    def points(self, rows: NDArray, code: int) -> NDArray:
        """GK points of some sites (all in zone ``code``), projected and made only when GEOS first needs them."""
        fresh = rows[shapely.is_missing(self._points[rows])]
        if len(fresh):
            x, y = transformer(4326, code).transform(self.lon[fresh], self.lat[fresh])
            self._points[fresh] = shapely.points(x, y)
        return self._points[rows]

    def measure(self, key: TargetKey, horizon: float, mask: NDArray, edges: bool = True) -> None:
        n = len(self.lon)
        column = self.zones.grid_column(key, horizon)
        if column >= self._codes.shape[1]:
            self._codes = self.zones.grid_rows(self.cells)
        codes = self._codes[:, column]
        inside = codes == DEEP
        edge = np.full(n, np.nan)
        exact = mask & (codes != DEEP) & (codes != FAR)
        for code, in_zone in self.in_zone.items():
            rows = np.flatnonzero(exact & in_zone)
            if not len(rows):
                continue
            points = self.points(rows, code)
            zone = self.zones.zone(code)
            zone.ensure([key])
            inside[rows] = zone.inside(points, {key: np.ones(len(rows), dtype=bool)})[key]
            if edges:
                edge[rows] = zone.targets[key].edge_distance(points, limit=horizon)
        self.inside[key] = inside
        self.edge[key] = edge


def _known_pattern(zones: PreparedZones, rule_ids: tuple[int, ...], group: int, combos: list[Combo],
                   rules: list[Rule], layers: LayerSet, plans: list, areas: dict[str, dict],
                   covered: dict[str, bool], units: list[str], beyond: dict[tuple[TargetKey, float], bool]) -> Pattern:
    """A situation's pattern, worked out once per prepared layer set and rule list: the
    chunks of a batch share most situations."""
    industry, stage, named = combo(combos[group])
    key = ("pattern", rule_ids, industry.codes, industry.term, stage, named,
           tuple((code, tuple(area.values())) for code, area in areas.items()), tuple(covered.items()), tuple(units), tuple(beyond.items()))
    if key not in zones.memo:
        zones.memo[key] = (rules, _pattern(group, combos, rules, layers, plans, areas, covered, units, beyond))
    return dataclasses.replace(zones.memo[key][1], group=group)


def combo(entry: Combo) -> tuple[Industry, Stage, frozenset[str]]:
    """(industry, stage, ids of the enterprise rules the project names) of a group."""
    return (entry[0], entry[1], entry[2]) if len(entry) > 2 else (entry[0], entry[1], frozenset())


def _pattern(group: int, combos: list[Combo], rules: list[Rule], layers: LayerSet, plans: list,
             areas: dict[str, dict], covered: dict[str, bool], units: list[str],
             beyond: dict[tuple[TargetKey, float], bool]) -> Pattern:
    """The single-site decisions for one situation (mirrors spatial.checker.check)."""
    industry, stage, named = combo(combos[group])
    pattern = Pattern(group, plans=[plan.id for plan in plans if areas[plan.jurisdiction]["applies"]])
    used = {LayerSet.ADMIN, *units}
    for rule, match in applicable(rules, industry, stage):
        applies, _, at_edge = rule_scope(rule, areas)
        if not applies:
            continue
        if rule.enterprises and rule.id not in named:
            pattern.information.append(rule)
            continue
        layer = rule.zone.layer
        reach = bound(rule, layers)
        handling = disposition(rule, layers, covered=covered.get(layer, True), beyond=reach is not None and beyond[reach])
        if handling is Disposition.BEYOND:
            pattern.findings.append((rule, Verdict.COMPLIANT, False, False))
            continue
        if handling is Disposition.MISSING:
            pattern.not_evaluated.append((rule, layer, missing_reason(layers, layer), layer_name(layers, layer)))
            continue
        if handling is Disposition.UNCOVERED:
            pattern.not_evaluated.append((rule, layer, uncovered_reason(layers, layer), layer_name(layers, layer)))
            continue
        if layer is not None:
            used.add(layer)
        if handling is Disposition.CONDITION:
            pattern.conditions.append(rule)
        elif handling is Disposition.MEASURED:
            pattern.measured.append((rule, match, at_edge))
        else:
            verdict, hit = fixed_outcome(rule, match)
            if at_edge:
                verdict = VERDICTS[int(edge_of_jurisdiction(np.array([verdict.severity]), np.array([True]))[0])]
            pattern.findings.append((rule, verdict, hit, at_edge))
    pattern.demonstration = [layers.layers[i].name for i in sorted(used) if layers.layers[i].provenance.demonstration]
    if not pattern.plans:
        pattern.severity = NOT_APPLICABLE
        return pattern
    severities = [verdict.severity for _, verdict, _, _ in pattern.findings]
    if pattern.demonstration or any(rule.action is not Action.ENCOURAGE for rule, _, _, _ in pattern.not_evaluated):
        severities.append(REVIEW)
    pattern.severity = max(severities, default=COMPLIANT)
    return pattern


_MEASURED_COLUMNS = {"site": np.int64, "rule": np.int16, "severity": np.int8, "inside": bool, "boundary": bool,
                     "distance_m": float, "margin_m": float, "horizon_m": float}


def _measure_rule(rule: Rule, rows: NDArray, hit: NDArray, at_edge: NDArray, membership: _Membership,
                  layers: LayerSet, limits: dict[TargetKey, float]) -> dict[str, NDArray]:
    key = rule_target(rule, layers)
    provenance = layers.layers[key.layer].provenance
    within = membership.inside[key][rows]
    edge = membership.edge[key][rows]
    distance = np.where(within, 0.0, edge)
    if rule.zone.kind is ZoneKind.BUFFER:
        margin = rule.zone.distance_m - distance
        with np.errstate(invalid="ignore"):
            inside = margin >= 0
        band = provenance.accuracy_m + provenance.bank_m(membership.lon[rows], membership.lat[rows])
    else:
        margin = np.where(within, edge, -edge)
        inside = within
        band = provenance.accuracy_m
    severity, boundary = measured_outcome(rule.action, hit, inside, margin, provenance.accuracy_m, band)
    severity = edge_of_jurisdiction(severity, at_edge)
    boundary = boundary | at_edge
    return {"site": rows, "severity": severity, "inside": inside, "boundary": boundary, "distance_m": distance, "margin_m": margin,
            "horizon_m": np.full(len(rows), limits[key])}


def _or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
