"""Screen many point sites at once with the checker's rules.

Sites are grouped by what decides every rule but the measured ones: their (industry,
stage) group, which plans reach them (inside, or within boundary accuracy), which layer
coverages and 三线一单 unit layers they fall in. Each such *situation* is decided once per
rule list and layer set by ``spatial.decision`` (the single check's decisions too) and
shared by every chunk that meets it; buffer and polygon rules are then measured for all
sites that need them by ``spatial.measure`` (the single check's measure), one array
operation per rule.

Distances are exact within each zone's *horizon*: its widest band (buffer distance,
layer accuracy, river mid-line to bank) plus ``report_m``. Beyond it a distance is
stated only as "more than the horizon" (NaN here); no verdict depends on it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from spatial.answer import GROUP_ORDER, MissingLayerGroup, decisive, first_missing_layer_group, headline_of
from spatial.crs import SHANXI_BOUNDS, transformer
from spatial.decision import AreaScope, Coverage, RuleBook, RuleDecision, Situation, decide, demonstration_layers, rule_book
from spatial.engine import DEEP, FAR, NEAR, PreparedZones, TargetKey, ZoneIndex, gk_epsg, grid_codes, prepared
from spatial.findings import Finding, NotEvaluated, group_of
from spatial.industry import Industry, IndustryMatch
from spatial.layer import LayerSet
from spatial.measure import measure
from spatial.rules import Action, Rule, Stage, Verdict, ZoneKind
from spatial.semantics import (
    COMPLIANT,
    NOT_APPLICABLE,
    VERDICTS,
    applicable,
    bound,
    overdue,
    plan_applies,
    rule_target,
    rule_verdict,
)

DEFAULT_REPORT_M = 500.0
SITUATIONS_KEPT = 1 << 16  # situations remembered per rule list: a province's register meets a few thousand
Combo = tuple[Industry, Stage] | tuple[Industry, Stage, frozenset[str]]


class PatternFinding(NamedTuple):
    """A rule with the same answer for every site of a situation."""

    rule: Rule
    verdict: Verdict
    inside: bool | None
    boundary: bool


class MeasuredRule(NamedTuple):
    """A rule measured per site."""

    rule: Rule
    match: IndustryMatch
    at_edge: bool  # the sites lie within accuracy of the edge of the area the rule reaches


PatternItem = PatternFinding | NotEvaluated | MeasuredRule


@dataclass(eq=False)
class Pattern:
    """What every site of one situation gets from the rules that need no measurement: the
    situation's decisions (``spatial.decision``) as the screen tables them.

    One object per rule list and distinct set of decisions (situations whose flags differ only where
    no decision changes share it), shared by every chunk and thread that meets it (its decisions
    never change once made; compared by identity).
    """

    industry: Industry
    stage: Stage
    findings: list[PatternFinding] = field(default_factory=list)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)
    conditions: list[Rule] = field(default_factory=list)
    measured: list[MeasuredRule] = field(default_factory=list)
    information: list[Rule] = field(default_factory=list)  # measures on named enterprises the project is not
    demonstration: list[str] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)  # ids of the plans that reach the sites
    severity: int = NOT_APPLICABLE
    # The not-evaluated rules grouped by the layer they wait for (the first group), and how many are not encouraging.
    missing: tuple[MissingLayerGroup | None, int] = (None, 0)
    # The measured rules as arrays (positions in the rule list, severity inside, at the edge of their area).
    measured_rules: NDArray = field(default_factory=lambda: np.empty(0, np.int32), repr=False)
    measured_hits: NDArray = field(default_factory=lambda: np.empty(0, np.int8), repr=False)
    measured_at_edge: NDArray = field(default_factory=lambda: np.empty(0, bool), repr=False)
    _parts: tuple[date, _PatternParts] | None = field(default=None, repr=False)

    def parts(self, today: date) -> _PatternParts:
        """What the pattern gives every headline of its sites on a day (overdue deadlines change with it);
        threads may both make a day's parts: equal ones."""
        parts = self._parts
        if parts is None or parts[0] != today:
            parts = self._parts = (today, _PatternParts(self, today))
        return parts[1]


@dataclass
class Screening:
    """The answer for n sites (see the module docstring)."""

    overall: NDArray  # severity per site
    epsg: NDArray
    pattern: NDArray  # index into patterns, per site
    patterns: list[Pattern]
    measured: pd.DataFrame  # site, rule, severity, inside, boundary, distance_m, margin_m, horizon_m
    layer_names: dict[str, str] = field(default_factory=dict)  # of the measured layers, for headlines
    rules: list[Rule] = field(default_factory=list)  # the measured rules, by their code in ``measured["rule"]``

    def findings_of(self, site: int) -> list[dict]:
        """Every finding of one site, as (rule id, verdict, inside, boundary, distance, margin)."""
        pattern = self.patterns[self.pattern[site]]
        rows = [{"rule": f.rule.id, "verdict": f.verdict, "inside": f.inside, "boundary_case": f.boundary,
                 "distance_m": None, "margin_m": None} for f in pattern.findings]
        own = self.measured.loc[self.measured["site"] == site]
        for record in own.itertuples(index=False):
            rows.append({"rule": record.rule, "verdict": VERDICTS[record.severity], "inside": bool(record.inside),
                         "boundary_case": bool(record.boundary), "distance_m": _or_none(record.distance_m),
                         "margin_m": _or_none(record.margin_m)})
        return rows


class Headlines(NamedTuple):
    """The headlines of a screening's sites: each distinct text once, and per site the index of its own.

    A million sites share a few thousand texts; the caller expands them once (an Arrow ``take``)
    instead of holding a Python string per site.
    """

    codes: NDArray  # int32 per site, an index into texts
    texts: list[str]

    def expanded(self) -> NDArray:
        """The headline of every site, as an array of strings."""
        return np.array(self.texts or [""], dtype=object).take(self.codes)


def site_headlines(screening: Screening) -> Headlines:
    """The headline of every site, worded as a single check words it (``spatial.answer``).

    A site whose answer needs no measured finding shares its situation's headline (made once
    per situation and verdict); only sites with a measured finding other than compliant get
    their own, from the findings with their verdict and a count of the rest (equal texts are
    kept once).
    """
    today = date.today()
    patterns = screening.patterns
    keys = screening.pattern.astype(np.int64) * len(VERDICTS) + screening.overall
    unique, inverse = np.unique(keys, return_inverse=True)
    index: dict[str, int] = {}  # each distinct text, numbered in order of first appearance
    shared = np.array([index.setdefault(patterns[key // len(VERDICTS)].parts(today).plain(key % len(VERDICTS)), len(index))
                       for key in unique.tolist()], dtype=np.int32)
    codes = shared[inverse.ravel()] if len(keys) else np.empty(0, dtype=np.int32)
    measured = screening.measured
    severity = measured["severity"].to_numpy()
    notable = np.flatnonzero(severity > COMPLIANT)
    if not len(notable):
        return Headlines(codes, list(index))
    sites = measured["site"].to_numpy()[notable]
    order = np.argsort(sites, kind="stable")
    notable, sites = notable[order], sites[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sites)) + 1]
    # Per site, how many of its notable findings have each verdict; only those with the site's verdict become Findings.
    counts = np.zeros((len(starts), len(VERDICTS)), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(sites)])), severity[notable]), 1)
    lead = severity[notable] == screening.overall[sites]
    candidates = notable[lead]
    owner = np.searchsorted(starts, np.flatnonzero(lead), side="right") - 1
    # Each site's decisive measured finding, picked in arrays: ``decisive`` over the fixed findings and that one
    # alone gives what it gives over them and every measured finding (a minimum of minimums; same order of keys).
    rule_codes = measured["rule"].cat.codes.to_numpy()[candidates].astype(np.int64)
    ids = np.array([rule.id for rule in screening.rules], dtype=str)
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[np.argsort(ids, kind="stable")] = np.arange(len(ids))
    group_rank = np.array([GROUP_ORDER[group_of(rule)] for rule in screening.rules], dtype=np.int64)
    margin = measured["margin_m"].to_numpy()[candidates]
    depth = np.where(np.isfinite(margin), -margin, np.inf)
    ranked = np.lexsort((id_rank[rule_codes], depth, group_rank[rule_codes], owner))
    first = ranked[np.r_[True, owner[ranked][1:] != owner[ranked][:-1]]] if len(ranked) else ranked
    leads = candidates[first]
    columns = [measured[name].to_numpy()[leads].tolist() for name in ("inside", "distance_m", "margin_m", "boundary")]
    # Per measured rule, once: its layer's name and the zone's wording (the same for every site).
    names = [screening.layer_names.get(rule.zone.layer, "") for rule in screening.rules]
    zones = [rule.zone.describe(name) for rule, name in zip(screening.rules, names, strict=True)]
    found: list[list[Finding]] = [[] for _ in range(len(starts))]
    for code, verdict, at, inside, distance, margin, boundary in zip(rule_codes[first].tolist(), severity[leads].tolist(),
                                                                     owner[first].tolist(), *columns, strict=True):
        rule = screening.rules[code]
        found[at].append(Finding(rule, VERDICTS[verdict], rule.zone.layer, names[code], zones[code],
                                 inside, _or_none(distance), _or_none(margin), boundary, (),
                                 overdue=inside and overdue(rule, today)))
    leading = sites[starts]
    site_parts = [patterns[p].parts(today) for p in screening.pattern[leading].tolist()]
    own = []
    for k, (verdict, parts, row) in enumerate(zip(screening.overall[leading].tolist(), site_parts, counts.tolist(), strict=True)):
        text = parts.headline(verdict, found[k], row)
        own.append(index.setdefault(text, len(index)))
    codes[leading] = own
    return Headlines(codes, list(index))


class _PatternParts:
    """What a pattern contributes to the headline of each of its sites, worked out once a day."""

    def __init__(self, pattern: Pattern, today: date) -> None:
        self.fixed = [Finding(f.rule, f.verdict, None, "", f.rule.zone.describe(""), f.inside, None, None, f.boundary, (),
                              overdue=f.inside is not False and overdue(f.rule, today))
                      for f in pattern.findings]
        # By severity (an int hashes in C, a Verdict in Python): the fixed findings, and how many of each (not compliant).
        self.tally = [0] * len(VERDICTS)
        self.by_verdict: dict[int, list[Finding]] = {}
        for finding in self.fixed:
            severity = finding.verdict.severity
            self.by_verdict.setdefault(severity, []).append(finding)
            self.tally[severity] += severity != COMPLIANT
        self.first_missing, self.held = pattern.missing
        self.demonstration = bool(pattern.demonstration)
        self._plain: dict[int, str] = {}
        # Per severity, the decisive fixed finding: ``decisive`` over it and a site's measured ones gives what it
        # gives over all of them (a minimum of minimums). Headlines a fixed finding leads depend on the counts alone.
        self._leads = {severity: decisive(found) for severity, found in self.by_verdict.items()}
        self._led: dict[tuple[int, tuple[int, ...]], str] = {}

    def plain(self, overall: int) -> str:
        """The headline of a site with no measured finding above compliant, made once per verdict
        (threads may both make one: the same string)."""
        if overall not in self._plain:
            self._plain[overall] = self.headline(overall, [], [0] * len(VERDICTS))
        return self._plain[overall]

    def headline(self, overall: int, measured: list[Finding], tally: list[int]) -> str:
        """``overall``: the site's severity; ``measured``: its measured findings with that verdict; ``tally``: per
        severity, how many of all its measured findings have it (compliant ones not counted)."""
        fixed = self._leads.get(overall)
        lead = decisive([fixed, *measured] if fixed is not None else measured)
        counts = [mine + theirs for mine, theirs in zip(self.tally, tally, strict=True)]
        if lead is not None and lead.verdict is not Verdict.COMPLIANT:
            counts[lead.verdict.severity] -= 1
        key = (overall, tuple(counts))
        if lead is fixed and key in self._led:
            return self._led[key]
        others = Counter({VERDICTS[severity]: count for severity, count in enumerate(counts) if count > 0})
        text = headline_of(VERDICTS[overall], lead, others, self.held, self.first_missing, self.demonstration)[0]
        if lead is fixed:
            self._led[key] = text
        return text


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


class _RuleList:
    """What screening needs of one rule list on one layer set (its ``RuleBook``), worked out once.

    The targets every site is measured against (jurisdictions, coverages, unit layers,
    the bounds of missing layers) fix the layout of a site's situation flags; the
    situations met so far are kept by (industry, stage, named rules; flags), at most
    ``SITUATIONS_KEPT`` of them (the oldest go first). Chunks are screened on threads at
    once, so the situation table is read and written under a lock; new situations are decided
    by one thread at a time, outside it, so that two chunks do not both decide the same ones.
    """

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self.rules, self.layers, self.plans, self.codes = book.rules, book.layers, book.plans, book.codes
        self.jurisdictions, self.coverages, self.units, self.reaches = book.jurisdictions, book.coverages, book.units, book.reaches
        self.targets, self.position = book.targets, book.position
        self._limits: dict[float, dict[TargetKey, float]] = {}
        self.width = 3 * len(self.codes) + len(self.coverages) + len(self.units) + len(self.reaches)  # flag columns
        # Combinations met: numbered (a key then hashes an int, not an Industry), their relevant flag columns
        # and their applicable rules with how the industry matches each.
        self._combos: dict[tuple[Industry, Stage, frozenset[str]], tuple[int, NDArray, list[tuple[Rule, IndustryMatch]]]] = {}
        self._numbered = 0
        # The outcomes of rules met so far, as decision codes, shared by every combination whose industry matches a
        # rule alike: by (id(rule), id(match), named), then by the value of the flags the rule reads. At most one
        # entry per rule, match and naming: bounded by the rule list.
        self._outcomes: dict[tuple[int, int, bool], dict[object, int]] = {}
        self._decided: list[RuleDecision | None] = [None]  # every distinct decision made, by its code (``_code``)
        self._codes: dict[tuple, int] = {}  # a decision's parts → its code: bounded alike
        self._readings: dict[tuple, tuple] = {}  # by combination: what ``_reading`` works out
        self._items: dict[int, PatternItem] = {}  # by id of a decision (kept in _decided): its item in every pattern
        self._hits: dict[tuple[int, int], int] = {}  # by (id(rule), id(match)): a measured rule's severity well inside
        self._columns: dict[int, tuple[list[int], NDArray]] = {}  # by id(rule): the flag columns its outcome reads, their weights
        self._missing_groups: dict[tuple, tuple[MissingLayerGroup | None, int]] = {}  # by the not-evaluated rules
        self._situations: dict[tuple[int, bytes], Pattern] = {}
        # Patterns by what makes them: (combination, plan and unit flags, codes of the rules' decisions); written
        # under _deciding.
        self._alike: dict[tuple, Pattern] = {}
        self._lock = threading.Lock()
        self._deciding = threading.Lock()  # held while deciding new situations (Python: nothing lost to the wait)

    @classmethod
    def of(cls, rules: list[Rule], layers: LayerSet) -> _RuleList:
        """The one _RuleList of a rule list, kept with its rule book."""
        return rule_book(rules, layers).attached(cls, cls)

    def limits(self, report_m: float) -> dict[TargetKey, float]:
        if report_m not in self._limits:
            self._limits[report_m] = horizons(self.rules, self.layers, report_m)
        return self._limits[report_m]

    def numbered(self, combos: list[Combo]) -> tuple[NDArray, NDArray]:
        """Per group: its combination's number (equal combinations, equal numbers) and the flag columns
        its situations are told apart by (``_relevant``)."""
        with self._lock:
            known = [self._number(combo(entry)) for entry in combos]
        return (np.array([number for number, _ in known], dtype=np.int64),
                np.array([relevant for _, relevant in known], dtype=bool).reshape(len(known), self.width))

    def patterns(self, numbers: NDArray, flags: NDArray, entries: dict[int, tuple[Industry, Stage, frozenset[str]]]) -> list[Pattern]:
        """The pattern of each situation (a combination's number and a row of flags), decided on first
        meeting; ``entries``: the combination of each number."""
        packed = np.ascontiguousarray(np.packbits(flags, axis=1))
        rows = packed.view(np.dtype((np.void, packed.shape[1]))).ravel().tolist() if packed.shape[1] else [b""] * len(numbers)
        keys = list(zip(numbers.tolist(), rows, strict=True))
        with self._lock:
            found = [self._situations.get(key) for key in keys]
        if all(pattern is not None for pattern in found):
            return found
        with self._deciding:  # the first chunks meet the same situations: one decides, the other finds them
            with self._lock:
                found = [pattern if pattern is not None else self._situations.get(key) for pattern, key in zip(found, keys, strict=True)]
            new: dict[int, list[int]] = {}
            for i in [i for i, pattern in enumerate(found) if pattern is None]:
                new.setdefault(keys[i][0], []).append(i)
            for number, items in new.items():
                decided = self._decide(entries[number], flags[items])
                with self._lock:
                    for i, pattern in zip(items, decided, strict=True):
                        found[i] = self._situations.setdefault(keys[i], pattern)
                        if len(self._situations) > SITUATIONS_KEPT:
                            del self._situations[next(iter(self._situations))]
        return found

    def _number(self, entry: tuple[Industry, Stage, frozenset[str]]) -> tuple[int, NDArray]:
        """A combination's number, never reused (a forgotten combination met again gets a new one),
        and its relevant flag columns. Under the lock."""
        if entry not in self._combos:
            self._numbered += 1
            rules = applicable(self.rules, entry[0], entry[1])
            self._combos[entry] = (self._numbered, self._relevant(rules), rules)
            if len(self._combos) > SITUATIONS_KEPT:
                del self._combos[next(iter(self._combos))]
        return self._combos[entry][:2]

    def _relevant(self, rules: list[tuple[Rule, IndustryMatch]]) -> NDArray:
        """The flag columns ``_pattern`` reads for the applicable rules of an industry and stage: whether each
        plan applies, the unit layers, and what each rule reads (``_reads``). Sites whose flags differ only
        elsewhere share a pattern."""
        c, v, u = len(self.codes), len(self.coverages), len(self.units)
        relevant = np.zeros(self.width, dtype=bool)
        relevant[[self.codes.index(plan.jurisdiction) for plan in self.plans]] = True
        relevant[3 * c + v:3 * c + v + u] = True
        for rule, _ in rules:
            relevant[self._reads(rule)[0]] = True
        return relevant

    def _decide(self, entry: tuple[Industry, Stage, frozenset[str]], flags: NDArray) -> list[Pattern]:
        """The patterns of situations of one combination (rows of flags). A rule's outcome depends only on
        the few flags it reads: it is worked out once per rule, industry match, naming and value of those, and
        kept as the code of its decision (``_code``). Rows with the same codes and plan and unit flags share a pattern."""
        industry, stage, named = entry
        rules, weights, outcomes = self._reading(entry)
        states = (flags.astype(np.int64) @ weights).tolist()  # per row, the value of the flags each rule reads
        wide = [j for j, (rule, _) in enumerate(rules) if len(self._reads(rule)[0]) >= 63]
        for j in wide:  # read too many flags for one number: their values as bytes
            packed = np.packbits(flags[:, self._reads(rules[j][0])[0]], axis=1)
            for row, value in zip(states, packed, strict=True):
                row[j] = bytes(value)
        c, v = len(self.codes), len(self.coverages)
        plan_column = [self.codes.index(plan.jurisdiction) for plan in self.plans]
        unit_column = [3 * c + v + i for i in range(len(self.units))]
        areas = np.ascontiguousarray(np.packbits(flags[:, plan_column + unit_column], axis=1))
        areas = areas.view(np.dtype((np.void, areas.shape[1]))).ravel().tolist() if areas.shape[1] else [b""] * len(flags)
        patterns = []
        for k, row in enumerate(states):
            codes = []
            for j, state in enumerate(row):
                code = outcomes[j].get(state)
                if code is None:
                    rule, match = rules[j]
                    code = outcomes[j][state] = self._code(self._outcome(rule, match, named, flags[k]))
                codes.append(code)
            # Flags that differ only where no rule's decision and no plan or unit layer changes give the same pattern.
            key = (entry, areas[k], tuple(codes))
            pattern = self._alike.get(key)
            if pattern is None:
                with self._lock:
                    decided = [self._decided[code] for code in codes]
                pattern = self._alike[key] = self._pattern(industry, stage, flags[k], plan_column, unit_column, tuple(decided))
                if len(self._alike) > SITUATIONS_KEPT:
                    del self._alike[next(iter(self._alike))]
            patterns.append(pattern)
        return patterns

    def _reading(self, entry: tuple[Industry, Stage, frozenset[str]]) -> tuple[list[tuple[Rule, IndustryMatch]], NDArray, list[dict]]:
        """A combination's applicable rules, the weights that give, in one product with a row of flags, the value
        of the flags each reads (a zero column for a rule reading 63 or more), and each rule's outcomes by value."""
        with self._lock:
            known = self._combos.get(entry)
            reading = self._readings.get(entry)
        if reading is None:
            rules = known[2] if known is not None else applicable(self.rules, entry[0], entry[1])
            weights = np.zeros((self.width, len(rules)), dtype=np.int64)
            for j, (rule, _) in enumerate(rules):
                columns, column_weights = self._reads(rule)
                if len(columns) < 63:
                    weights[columns, j] = column_weights
            with self._lock:  # threads may both add an outcome table: the same one
                outcomes = [self._outcomes.setdefault((id(rule), id(match), rule.id in entry[2]), {}) for rule, match in rules]
                reading = self._readings[entry] = (rules, weights, outcomes)
                if len(self._readings) > SITUATIONS_KEPT:
                    del self._readings[next(iter(self._readings))]
        return reading

    def _pattern(self, industry: Industry, stage: Stage, row: NDArray, plan_column: list[int], unit_column: list[int],
                 decisions: tuple[RuleDecision | None, ...]) -> Pattern:
        """The pattern of one row of flags from its rules' decisions."""
        plans = [plan.id for plan, column in zip(self.plans, plan_column, strict=True) if row[column]]
        units = [key.layer for key, column in zip(self.units, unit_column, strict=True) if row[column]]
        situation = Situation.of(decisions)
        pattern = _pattern(industry, stage, plans, units, situation, self.layers, self._items)
        pattern.measured_rules = np.array([self.position[id(m.rule)] for m in pattern.measured], dtype=np.int32)
        pattern.measured_hits = np.array([self._hit(m.rule, m.match) for m in pattern.measured], dtype=np.int8)
        pattern.measured_at_edge = np.array([m.at_edge for m in pattern.measured], dtype=bool)
        pattern.missing = self._missing(pattern.not_evaluated)
        return pattern

    def _missing(self, not_evaluated: list[NotEvaluated]) -> tuple[MissingLayerGroup | None, int]:
        """The first missing-layer group and the count of rules held back, once per list of not-evaluated
        items (made once per decision, so most situations of a combination share their list's items)."""
        key = tuple(map(id, not_evaluated))
        found = self._missing_groups.get(key)
        if found is None:
            found = (first_missing_layer_group(not_evaluated), sum(1 for item in not_evaluated if item.rule.action is not Action.ENCOURAGE))
            with self._lock:
                self._missing_groups[key] = found
                if len(self._missing_groups) > SITUATIONS_KEPT:
                    del self._missing_groups[next(iter(self._missing_groups))]
        return found

    def _code(self, decision: RuleDecision | None) -> int:
        """The code of a decision, one per distinct decision (0: the rule does not reach the site): flag values
        a rule reads alike (an edge flag where its area does not apply) then give the same code, and so the same
        pattern. Its reason and layer name follow from the rest."""
        if decision is None:
            return 0
        key = (id(decision.rule), id(decision.match), id(decision.disposition), id(decision.verdict), decision.inside,
               decision.boundary, decision.at_edge, decision.partial, decision.layer)
        with self._lock:
            code = self._codes.get(key)
            if code is None:
                code = self._codes[key] = len(self._decided)
                self._decided.append(decision)
            return code

    def _hit(self, rule: Rule, match: IndustryMatch) -> int:
        """A measured rule's severity for a site well inside (``rule_verdict``), once per rule and match."""
        key = (id(rule), id(match))
        hit = self._hits.get(key)
        if hit is None:
            hit = self._hits[key] = rule_verdict(rule, match).severity  # threads may both make it: the same
        return hit

    def _reads(self, rule: Rule) -> tuple[list[int], NDArray]:
        """The flag columns a rule's outcome reads (the scope of its jurisdictions, its layer's coverage, its
        bound) and their weights in the number that states their values."""
        if id(rule) not in self._columns:
            c, v, u = len(self.codes), len(self.coverages), len(self.units)
            columns = [column for code in rule.jurisdictions for i in [self.codes.index(code)] for column in (i, c + i, 2 * c + i)]
            coverage = [i for i, key in enumerate(self.coverages) if key.layer == rule.zone.layer]
            columns += [3 * c + i for i in coverage]
            reach = bound(rule, self.layers)
            columns += [3 * c + v + u + i for i, found in enumerate(self.reaches) if found == reach]
            columns = list(dict.fromkeys(columns))
            self._columns[id(rule)] = (columns, np.int64(1) << np.arange(min(len(columns), 63), dtype=np.int64))
        return self._columns[id(rule)]

    def _outcome(self, rule: Rule, match: IndustryMatch, named: frozenset[str], row: NDArray) -> RuleDecision | None:
        """A rule's decision (``spatial.decision.decide``) for a row of flags: the scopes, coverage and bound it reads."""
        c, v, u = len(self.codes), len(self.coverages), len(self.units)
        index = {code: self.codes.index(code) for code in rule.jurisdictions}
        scopes = {code: AreaScope(inside=bool(row[c + i]), applies=bool(row[i]), edge_case=bool(row[2 * c + i])) for code, i in index.items()}
        covered = all(row[3 * c + i] for i, key in enumerate(self.coverages) if key.layer == rule.zone.layer)
        reach = bound(rule, self.layers)
        beyond = reach is not None and bool(row[3 * c + v + u + self.reaches.index(reach)])
        return decide(rule, match, self.layers, scopes, Coverage.INSIDE if covered else Coverage.OUTSIDE, beyond, rule.id in named)


def screen(lon: NDArray, lat: NDArray, group: NDArray, combos: list[Combo], rules: list[Rule],
           layers: LayerSet, report_m: float = DEFAULT_REPORT_M) -> Screening:
    """Check n WGS84 points; ``group[i]`` indexes the (industry, stage, named enterprise rules)
    of site i in ``combos`` (the third item may be left out: no enterprise named)."""
    zones = prepared(layers)
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    group = np.asarray(group, dtype=np.int64)
    n = len(lon)
    if n == 0:
        empty = pd.DataFrame({name: np.empty(0, dtype=kind) for name, kind in _MEASURED_COLUMNS.items()})
        empty["rule"] = pd.Categorical.from_codes(empty["rule"], categories=["-"])
        return Screening(np.empty(0, np.int8), np.empty(0, np.int32), np.empty(0, np.int32), [], empty)
    known = _RuleList.of(list(rules), layers)
    accuracy = layers.admin.provenance.accuracy_m
    locality = zones.locality_order(zones.cells(lon, lat))
    lon, lat, group = lon[locality], lat[locality], group[locality]
    membership = _Membership(zones, lon, lat)
    inside, scope = [], []
    for key in known.jurisdictions:
        within, near = membership.near(key, accuracy)
        inside.append(within)
        scope.append(plan_applies(within, np.where(near, 0.0, np.inf), accuracy))  # the edge within accuracy or not
    flags = _columns([applied for applied, _ in scope] + inside + [edge_case for _, edge_case in scope]
                     + [membership.contains(key) for key in known.coverages + known.units]
                     + [membership.beyond(key, reach) for key, reach in known.reaches], n)
    numbers, relevant = known.numbered(combos)
    number = numbers[group]
    flags &= relevant[group]
    site_pattern, first = _situations(number, flags)
    patterns = known.patterns(number[first], flags[first], {n: combo(entry) for n, entry in zip(numbers.tolist(), combos, strict=True)})

    # Every (site, measured rule) pair, made from the patterns' rule arrays without a loop over sites.
    sizes = np.bincount(site_pattern, minlength=len(patterns))
    order = np.argsort(site_pattern.astype(np.uint16) if len(first) <= 1 << 16 else site_pattern, kind="stable")  # radix sort
    starts = np.cumsum(sizes) - sizes
    per_pattern = np.array([len(p.measured_rules) for p in patterns], dtype=np.int64)
    entry_pattern = np.repeat(np.arange(len(patterns)), per_pattern)
    pair_count = sizes[entry_pattern]
    pair_entry = np.repeat(np.arange(len(entry_pattern)), pair_count)
    within = np.arange(len(pair_entry)) - np.repeat(np.cumsum(pair_count) - pair_count, pair_count)
    pair_site = order[starts[entry_pattern][pair_entry] + within]
    pair_rule = _concatenate([p.measured_rules for p in patterns], np.int32)[pair_entry]
    pair_hit = _concatenate([p.measured_hits for p in patterns], np.int8)[pair_entry]
    pair_edge = _concatenate([p.measured_at_edge for p in patterns], bool)[pair_entry]
    by_rule = np.argsort(pair_rule.astype(np.uint16) if len(known.rules) <= 1 << 16 else pair_rule, kind="stable")  # radix sort
    pair_site, pair_rule, pair_hit, pair_edge = pair_site[by_rule], pair_rule[by_rule], pair_hit[by_rule], pair_edge[by_rule]
    measured_rules, rule_start = np.unique(pair_rule, return_index=True)
    rule_stop = np.r_[rule_start[1:], len(pair_rule)][:len(rule_start)].astype(np.int64)

    limits = known.limits(report_m)
    need: dict[TargetKey, NDArray] = {}
    for position, start, stop in zip(measured_rules.tolist(), rule_start.tolist(), rule_stop.tolist(), strict=True):
        need.setdefault(known.targets[position], np.zeros(n, dtype=bool))[pair_site[start:stop]] = True
    for key, mask in need.items():
        membership.measure(key, limits[key], mask)

    # One array pass per measured rule over every site it reaches, whatever their pattern.
    columns: dict[str, list[NDArray]] = {name: [] for name in _MEASURED_COLUMNS}
    for code, (position, start, stop) in enumerate(zip(measured_rules.tolist(), rule_start.tolist(), rule_stop.tolist(), strict=True)):
        found = _measure_rule(known.rules[position], pair_site[start:stop], pair_hit[start:stop], pair_edge[start:stop],
                              membership, layers, limits)
        found["rule"] = np.full(stop - start, code, dtype=np.int16)
        for name, values in found.items():
            columns[name].append(values)
    measured = pd.DataFrame({name: np.concatenate(parts) if parts else np.empty(0, dtype=_MEASURED_COLUMNS[name])
                             for name, parts in columns.items()})
    measured_list = [known.rules[position] for position in measured_rules.tolist()]
    measured["rule"] = pd.Categorical.from_codes(measured["rule"].to_numpy(dtype=np.int16),
                                                 categories=[rule.id for rule in measured_list] or ["-"])

    overall = np.array([pattern.severity for pattern in patterns], dtype=np.int8)[site_pattern]
    if len(measured):
        np.maximum.at(overall, measured["site"].to_numpy(), measured["severity"].to_numpy())
    # Back to the caller's order.
    measured["site"] = locality[measured["site"].to_numpy()]
    names = {key.layer: layers.layers[key.layer].name for key in need}
    return Screening(_unsort(overall, locality), _unsort(membership.epsg, locality), _unsort(site_pattern.astype(np.int32), locality),
                     patterns, measured, names, measured_list)


def prime(rules: list[Rule], layers: LayerSet, report_m: float = DEFAULT_REPORT_M) -> None:
    """Classify every grid column and prepare every target, in Shanxi's GK zones, that screening with
    ``rules`` may read; otherwise each is worked out when a chunk first needs it.

    A batch calls this before it forks its worker processes: they then share what it made (copy on
    write) instead of each making it again, and the parent keeps the grid for the next run.
    """
    zones = prepared(layers)
    known = _RuleList.of(list(rules), layers)
    accuracy = layers.admin.provenance.accuracy_m
    for key in known.jurisdictions:
        zones.grid_column(key, accuracy)
    for key in known.coverages + known.units:
        zones.grid_column(key, 0.0)
    for key, reach in known.reaches:
        zones.grid_column(key, reach)
        zones.near_column(key, reach)
    limits = known.limits(report_m)
    for key, horizon in limits.items():
        zones.grid_column(key, horizon)
    keys = [*known.jurisdictions, *known.coverages, *known.units, *(key for key, _ in known.reaches), *limits]
    west, _, east, _ = SHANXI_BOUNDS
    for code in np.unique(gk_epsg(np.linspace(west, east, 64))).tolist():
        zones.zone(code).ensure(keys)


def _concatenate(arrays: list[NDArray], dtype: type) -> NDArray:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)


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
    """Where sites lie against targets, the grid deciding where GEOS is needed."""

    def __init__(self, zones: PreparedZones, lon: NDArray, lat: NDArray) -> None:
        self.zones, self.lon, self.lat = zones, lon, lat
        self.epsg = gk_epsg(lon)
        self.in_zone = {int(code): self.epsg == code for code in np.unique(self.epsg)}  # sites per GK zone, found once
        self.cells = zones.cells(lon, lat)
        self.inside: dict[TargetKey, NDArray] = {}
        self.edge: dict[TargetKey, NDArray] = {}
        self._points = np.full(len(lon), None, dtype=object)
        self._codes = np.zeros((len(lon), 0), dtype=np.uint8)  # packed grid codes per site

    def points(self, rows: NDArray, code: int) -> NDArray:
        """GK points of some sites (all in zone ``code``), projected and made only when GEOS first needs them."""
        fresh = rows[shapely.is_missing(self._points[rows])]
        if len(fresh):
            x, y = transformer(4326, code).transform(self.lon[fresh], self.lat[fresh])
            self._points[fresh] = shapely.points(x, y)
        return self._points[rows]

    def measure(self, key: TargetKey, horizon: float, mask: NDArray) -> None:
        """Inside, and exact metres to the edge within ``horizon`` (NaN beyond), of the masked sites."""
        codes = self._column(self.zones.grid_column(key, horizon))
        inside = codes == DEEP
        edge = np.full(len(self.lon), np.nan)
        for rows, points, zone in self._exact(key, mask & (codes != DEEP) & (codes != FAR)):
            inside[rows] = zone.inside(points, {key: np.ones(len(rows), dtype=bool)})[key]
            edge[rows] = zone.targets[key].edge_distance(points, limit=horizon)
        self.inside[key] = inside
        self.edge[key] = edge

    def contains(self, key: TargetKey) -> NDArray:
        """Which sites lie inside a target."""
        codes = self._column(self.zones.grid_column(key, 0.0))
        inside = codes == DEEP
        for rows, points, zone in self._exact(key, (codes != DEEP) & (codes != FAR)):
            inside[rows] = zone.inside(points, {key: np.ones(len(rows), dtype=bool)})[key]
        return inside

    def near(self, key: TargetKey, distance: float) -> tuple[NDArray, NDArray]:
        """(inside, within) per site: inside a target, and within ``distance`` of its edge (no metres computed)."""
        codes = self._column(self.zones.grid_column(key, distance))
        inside = codes == DEEP
        within = np.zeros(len(self.lon), dtype=bool)
        for rows, points, zone in self._exact(key, (codes != DEEP) & (codes != FAR)):
            inside[rows] = zone.inside(points, {key: np.ones(len(rows), dtype=bool)})[key]
            within[rows] = zone.targets[key].within(points, distance)
        return inside, within

    def beyond(self, key: TargetKey, distance: float) -> NDArray:
        """Which sites lie outside a target and farther than ``distance`` from its edge. Sites in
        cells wholly within the distance (the NEAR column) are not, and need no look."""
        codes = self._column(self.zones.grid_column(key, distance))
        near = self._column(self.zones.near_column(key, distance)) == NEAR
        far = codes == FAR
        for rows, points, zone in self._exact(key, (codes != DEEP) & ~far & ~near):
            within = zone.targets[key].within(points, distance)
            rest = np.flatnonzero(~within)
            far[rows[rest]] = ~zone.inside(points[rest], {key: np.ones(len(rest), dtype=bool)})[key]
        return far

    def _column(self, column: int) -> NDArray:
        if column >= self._codes.shape[1] * 4:
            self._codes = self.zones.grid_packed(self.cells)
        return grid_codes(self._codes, column)

    def _exact(self, key: TargetKey, exact: NDArray) -> Iterator[tuple[NDArray, NDArray, ZoneIndex]]:
        """(rows, GK points, zone index with the target prepared) of the sites GEOS must decide, zone by zone."""
        for code, in_zone in self.in_zone.items():
            rows = np.flatnonzero(exact & in_zone)
            if len(rows):
                zone = self.zones.zone(code)
                zone.ensure([key])
                yield rows, self.points(rows, code), zone


def combo(entry: Combo) -> tuple[Industry, Stage, frozenset[str]]:
    """(industry, stage, ids of the enterprise rules the project names) of a group."""
    return (entry[0], entry[1], entry[2]) if len(entry) > 2 else (entry[0], entry[1], frozenset())


def _pattern(industry: Industry, stage: Stage, plans: list[str], units: list[str], situation: Situation, layers: LayerSet,
             items: dict[int, PatternItem]) -> Pattern:
    """A situation's pattern: its decisions, the plans that reach it and the unit layers it lies in. ``items``: each
    decision's item, made once (decisions are shared by the situations they occur in), by the decision's id."""
    def item(decision: RuleDecision, make: Callable[[RuleDecision], PatternItem]) -> PatternItem:
        found = items.get(id(decision))
        if found is None:
            found = items[id(decision)] = make(decision)
        return found

    demonstration = demonstration_layers(layers, situation.layers | set(units))
    return Pattern(
        industry, stage,
        findings=[item(d, _finding_item) for d in situation.findings],
        not_evaluated=[item(d, _held_item) for d in situation.not_evaluated],
        conditions=[d.rule for d in situation.conditions],
        measured=[item(d, _measured_item) for d in situation.measured],
        information=[d.rule for d in situation.information],
        demonstration=demonstration, plans=plans, severity=situation.severity(bool(plans), bool(demonstration)),
    )


def _finding_item(d: RuleDecision) -> PatternFinding:
    return PatternFinding(d.rule, d.verdict, d.inside, d.boundary)


def _held_item(d: RuleDecision) -> NotEvaluated:
    return NotEvaluated(d.rule, d.rule.zone.layer, d.reason, d.layer_name)


def _measured_item(d: RuleDecision) -> MeasuredRule:
    return MeasuredRule(d.rule, d.match, d.at_edge)


_MEASURED_COLUMNS = {"site": np.int64, "rule": np.int16, "severity": np.int8, "inside": bool, "boundary": bool,
                     "distance_m": float, "margin_m": float, "horizon_m": float}


def _measure_rule(rule: Rule, rows: NDArray, hit: NDArray, at_edge: NDArray, membership: _Membership,
                  layers: LayerSet, limits: dict[TargetKey, float]) -> dict[str, NDArray]:
    key = rule_target(rule, layers)
    within = membership.inside[key][rows]
    edge = membership.edge[key][rows]
    found = measure(rule, layers, hit, within, np.where(within, 0.0, edge), edge, membership.lon[rows], membership.lat[rows], at_edge)
    return {"site": rows, "severity": found.severity, "inside": found.inside, "boundary": found.boundary, "distance_m": found.distance_m,
            "margin_m": found.margin_m, "horizon_m": np.full(len(rows), limits[key])}


def _or_none(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
