"""Rows of a site register → checked sites → result tables, one chunk at a time, in columns.

Both batch engines (local and dask) call :func:`screen_chunk`, so their outputs agree
row for row. A chunk comes in as an Arrow table and goes out as Arrow tables: texts are
parsed once per distinct value, verdicts are dictionary arrays, coordinates and distances
floats, so no per-row Python runs for the rows that read cleanly. A row that cannot be
checked keeps its place and carries the reason, in the bilingual form of ``InputError``
naming the row, the column and the value.
"""

from __future__ import annotations

import hashlib
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from pyproj import CRS

from layers import catalog
from siting.text_fields import clean_text
from spatial.coordinates import LonLatProblem, geographic_to_wgs84, lonlat_problems, lonlat_refusal, parse_point, resolve_crs
from spatial.crs import WGS84, transformer
from spatial.errors import InputError
from spatial.industry import Industry, Taxonomy
from spatial.layer import LayerSet
from spatial.notes import Note, render
from spatial.rules import Action, Rule, Stage, Verdict
from spatial.screening import DEFAULT_REPORT_M, Pattern, PatternItem, Screening, screen, site_headlines
from spatial.semantics import VERDICTS

FIELDS = {  # role → accepted headers (case-insensitive), first match wins
    "name": ("name", "名称"),
    "lon": ("lon", "经度"),
    "lat": ("lat", "纬度"),
    "industry": ("industry", "行业"),
    "stage": ("stage", "阶段"),
}
ROW = "行号"
STATUS = "审查状态"
REASON = "原因"
SUMMARY_COLUMNS = [ROW, STATUS, REASON, "结论", "verdict", "理由", "经度_WGS84", "纬度_WGS84", "高斯投影带EPSG",
                   "禁止条款", "退出条款", "限制条款", "需复核条款", "量测距离_米", "未评估条款数", "示意数据", "规划情形"]
DETAIL_COLUMNS = [ROW, "名称", "条款", "结论", "verdict", "在管控区内", "边界情形", "距离_米", "余量_米", "说明"]
SITUATION_COLUMNS = ["规划情形", "行业", "阶段", "适用规划", "类别", "条款", "结论", "说明"]
CHECKED, UNCHECKED = "已检查", "未检查"
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_UNSAFE_TEXT = "[\\x{0}-\\x{1f}\\x{7f}-\\x{9f}\\x{fffe}\\x{ffff}]"  # what siting.text_fields.clean_text refuses
_REGEX_SPECIAL = r"[\\.+*?()|\[\]{}^$]"  # escaped to read a text as a literal in an RE2 expression
NAME_MAX_CHARS = 200  # as a project name in siting check
_LABELS = [v.label for v in VERDICTS]
_CODES = [v.value for v in VERDICTS]
_LISTED = (Verdict.PROHIBITED, Verdict.EXIT, Verdict.RESTRICTED, Verdict.REVIEW)  # the 汇总 columns of rule ids, in order
_LISTED_LABELS = [v.label for v in _LISTED]  # as the 规划情形 records name them (labels are unique)
_VERDICT_LABELS = {v: v.label for v in Verdict}
_NOT_EVALUATED_LABELS = {action: (Verdict.COMPLIANT if action is Action.ENCOURAGE else Verdict.REVIEW).label for action in Action}
_OUTSIDE_NOTE = "场址在规划管辖范围外，但在行政边界精度以内"
_EDGE_NOTE = "场址距条款适用范围边界在行政边界精度以内"


@dataclass(frozen=True)
class Columns:
    """Which input column plays which role; ``geometry`` when the sites come as geometries."""

    name: str | None
    lon: str | None
    lat: str | None
    industry: str | None
    stage: str | None
    geometry: bool = False


@dataclass(frozen=True)
class Options:
    crs: str | None = None  # the system of the coordinates (or of a geometry column without one)
    industry: str | None = None  # for rows (or files) without an industry
    stage: str = "new"
    report_m: float = DEFAULT_REPORT_M


@dataclass
class ChunkResult:
    summary: pa.Table  # the input columns, then SUMMARY_COLUMNS (the long texts as dictionary arrays)
    details: pa.Table  # DETAIL_COLUMNS, one row per measured finding
    situations: dict[str, Situation] = field(default_factory=dict)  # by key: every situation the chunk met

    def verdict_counts(self) -> dict[str, int]:
        """Rows per verdict code, and ``unchecked`` for the rows that could not be checked."""
        checked = pc.equal(self.summary.column(STATUS), CHECKED)
        counts = pc.value_counts(pc.filter(self.summary.column("verdict"), checked).combine_chunks().dictionary_decode()
                                 if self.summary.num_rows else pa.array([], pa.string()))
        out = {str(item["values"]): int(item["counts"]) for item in counts.to_pylist()}
        out["unchecked"] = self.summary.num_rows - int(pc.sum(checked.cast(pa.int64())).as_py() or 0)
        return out


def resolve_columns(headers: list[str], overrides: dict[str, str | None], has_geometry: bool) -> Columns:
    """Map roles to headers: an override (--lon-col …) or the default English/Chinese header."""
    lowered = {str(h).strip().lower(): h for h in headers}
    chosen: dict[str, str | None] = {}
    for role, names in FIELDS.items():
        wanted = overrides.get(role)
        if wanted:
            if wanted not in headers and wanted.lower() not in lowered:
                raise InputError(f"--{role}-col", wanted, f"输入文件没有该列。现有列：{'、'.join(map(str, headers))}。",
                                 f"the input has no such column; it has: {', '.join(map(str, headers))}.")
            chosen[role] = wanted if wanted in headers else lowered[wanted.lower()]
        else:
            chosen[role] = next((lowered[n.lower()] for n in names if n.lower() in lowered), None)
    if not has_geometry and (chosen["lon"] is None or chosen["lat"] is None):
        raise InputError(
            "经度/纬度列", "、".join(map(str, headers)),
            "找不到经纬度列：默认列名为 lon/lat 或 经度/纬度，其他列名请用 --lon-col、--lat-col 指定。",
            "no coordinate columns: the defaults are lon/lat or 经度/纬度; name others with --lon-col and --lat-col.",
        )
    return Columns(chosen["name"], chosen["lon"], chosen["lat"], chosen["industry"], chosen["stage"], has_geometry)


class _Reasons:
    """Why rows could not be checked, kept only for those rows (most rows have none)."""

    def __init__(self, rows: NDArray) -> None:
        self.rows = rows
        self.by_index: dict[int, list[str]] = {}

    def add(self, i: int, field_name: str, value: object, fix_zh: str, fix_en: str) -> None:
        self.by_index.setdefault(int(i), []).append(InputError(f"第{self.rows[i]}行 {field_name}", value, fix_zh, fix_en).message)

    def failed(self) -> NDArray:
        failed = np.zeros(len(self.rows), dtype=bool)
        failed[list(self.by_index)] = True
        return failed

    def column(self) -> pa.Array:
        if not self.by_index:
            return _empty_texts(len(self.rows))
        at = np.fromiter(self.by_index, dtype=np.int64, count=len(self.by_index))
        mask = np.zeros(len(self.rows), dtype=bool)
        mask[at] = True
        texts = pa.array(["\n".join(self.by_index[i]) for i in np.sort(at).tolist()], pa.string())
        return pc.replace_with_mask(_empty_texts(len(self.rows)), pa.array(mask), texts)


def screen_chunk(table: pa.Table | pd.DataFrame, rows: NDArray, columns: Columns, options: Options, rules: list[Rule],
                 layers: LayerSet, xy: NDArray | None = None) -> ChunkResult:
    """Check one chunk of input rows; ``rows`` are their 1-based numbers in the input.

    ``xy``: the site coordinates when the input has a geometry column (NaN where missing).
    """
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    table = table.combine_chunks()
    rows = np.asarray(rows, dtype=np.int64)
    reasons = _Reasons(rows)
    lon, lat = _coordinates(table, columns, options, xy, reasons)
    industries, industry_codes = _industries(table, columns, options, reasons)
    stages, stage_codes = _stages(table, columns, options, reasons)
    named, named_codes = _named_enterprises(table, columns, rules)
    _check_names(table, columns, reasons)
    ok = ~reasons.failed()
    valid = np.flatnonzero(ok)

    # One group per distinct (industry query, stage, named rules), numbered in order of first appearance.
    queries: dict[str, int] = {}
    query_of = np.array([queries.setdefault(i.query, len(queries)) if i is not None else -1 for i in industries], dtype=np.int64)
    stage_of = np.array([list(Stage).index(s) if s is not None else -1 for s in stages], dtype=np.int64)
    key = ((query_of[industry_codes[valid]] * len(Stage) + stage_of[stage_codes[valid]]) * len(named)
           + named_codes[valid])
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    combos = [(industries[industry_codes[valid[first[k]]]], stages[stage_codes[valid[first[k]]]], named[named_codes[valid[first[k]]]])
              for k in order]
    group = rank[inverse.ravel()] if len(valid) else np.empty(0, dtype=np.int64)
    screening = screen(lon[valid], lat[valid], group, combos, rules, layers, options.report_m)
    return _tables(table, rows, valid, lon, lat, reasons, screening, columns)


def _text(table: pa.Table, column: str, strip: bool = True) -> pa.Array:
    """A column as text, "" where missing (numbers written as pandas writes them: 112.0, 1)."""
    values = table.column(column)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        values = values.cast(pa.string())
    else:
        series = pd.Series(values.to_pandas()).astype("string")
        values = pa.array(series.to_numpy(dtype=object, na_value=None), pa.string())
    if strip:
        values = pc.utf8_trim_whitespace(values)
    return pc.fill_null(values, "")


def _to_float(text: pa.Array) -> NDArray:
    """Plain decimal numbers in bulk, anything else as pandas.to_numeric reads it (NaN if not a number)."""
    try:  # every cell a number, as in most registers: one cast, no regular expression per cell
        return pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False).astype(float)
    except pa.ArrowInvalid:
        pass
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_NUMBER), False)
    out = pc.cast(pc.if_else(plain, text, None), pa.float64()).to_numpy(zero_copy_only=False).astype(float)
    other = np.flatnonzero(~plain.to_numpy(zero_copy_only=False) & (pc.utf8_length(text).to_numpy(zero_copy_only=False) > 0))
    if len(other):
        values = text.take(pa.array(other)).to_numpy(zero_copy_only=False)
        out[other] = pd.to_numeric(pd.Series(values, dtype="string"), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return out


def _coordinates(table: pa.Table, columns: Columns, options: Options, xy: NDArray | None,
                 reasons: _Reasons) -> tuple[NDArray, NDArray]:
    n = table.num_rows
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    system = resolve_crs(options.crs) if options.crs else None
    projected = isinstance(system, CRS) and not system.is_geographic
    if columns.geometry:
        x, y = xy[:, 0], xy[:, 1]
        missing = ~(np.isfinite(x) & np.isfinite(y))
        for i in np.flatnonzero(missing):
            reasons.add(i, "geometry", "（空或非点）", "该行没有点位几何；批量审查按点位进行，面、线场址请用 siting check --site。",
                        "the row has no point geometry; batches are of points, check polygons and lines with siting check --site.")
        good = ~missing
        if projected:
            lon[good], lat[good] = transformer(system.to_wkt(), 4326).transform(x[good], y[good])
        else:
            lon[good], lat[good] = geographic_to_wgs84(system or WGS84, x[good], y[good])
    else:
        lon_text, lat_text = _text(table, columns.lon), _text(table, columns.lat)
        lon_num, lat_num = _to_float(lon_text), _to_float(lat_text)
        finite = np.isfinite(lon_num) & np.isfinite(lat_num)
        problems = lonlat_problems(lon_num, lat_num)
        plain = problems == LonLatProblem.NONE
        if projected:
            plain[:] = False  # metres: read each row so northing and easting are told apart
        if plain.any():
            lon[plain], lat[plain] = geographic_to_wgs84(system or WGS84, lon_num[plain], lat_num[plain])
        field_name = f"{columns.lon}/{columns.lat}"
        if not projected:
            for i in np.flatnonzero(finite & ~plain):  # numbers the one lon/lat validator refuses (as siting check), never guessed
                refusal = lonlat_refusal(problems[i], f"{lon_text[i].as_py()}, {lat_text[i].as_py()}")
                reasons.add(i, field_name, refusal.value, refusal.fix_zh, refusal.fix_en)
            plain |= finite
        for i in np.flatnonzero(~plain):
            text_lon, text_lat = lon_text[i].as_py(), lat_text[i].as_py()
            if not text_lon or not text_lat:
                reasons.add(i, field_name, f"{text_lon}, {text_lat}", "缺少经度或纬度。", "the longitude or latitude is missing.")
                continue
            try:
                point = parse_point(f"{text_lon}, {text_lat}", options.crs)
                lon[i], lat[i] = point.lon, point.lat
            except InputError as error:
                reasons.add(i, field_name, error.value, error.fix_zh, error.fix_en)
    converted = lonlat_problems(lon, lat)  # geometry, metres and text, once read as WGS84
    for i in np.flatnonzero(np.isfinite(lon) & (converted != LonLatProblem.NONE)):
        refusal = lonlat_refusal(converted[i], f"{lon[i]:.6f}, {lat[i]:.6f}")
        reasons.add(i, "经纬度", refusal.value, refusal.fix_zh, refusal.fix_en)
    return lon, lat


def _industries(table: pa.Table, columns: Columns, options: Options, reasons: _Reasons) -> tuple[list[Industry | None], NDArray]:
    taxonomy = catalog.taxonomy()

    def parse(text: str) -> Industry:
        if not text:
            raise InputError("industry", text, "缺少行业：请填写行业列，或用 --industry 给出全表统一的行业。",
                             "no industry: fill the industry column or give one for all rows with --industry.")
        return _resolved(taxonomy, text)

    return _each_distinct(table, columns.industry, options.industry or "", parse, columns.industry or "--industry", reasons)


# The taxonomy, and its answers to the texts met: an industry, or the refusal's field, value and fixes.
_RESOLVED: list[tuple[Taxonomy, dict[str, Industry | tuple[str, object, str, str]]]] = []
_RESOLVED_LOCK = threading.Lock()
_RESOLVED_KEPT = 10_000  # texts kept per run at most


def _resolved(taxonomy: Taxonomy, text: str) -> Industry:
    """``taxonomy.resolve``, each text once per run: every chunk meets the same misspelt industries, and the
    suggestions for one (difflib over every class name) cost milliseconds."""
    with _RESOLVED_LOCK:
        if not _RESOLVED or _RESOLVED[0][0] is not taxonomy:
            _RESOLVED[:] = [(taxonomy, {})]
        answers = _RESOLVED[0][1]
    answer = answers.get(text)
    if answer is None:
        try:
            answer = taxonomy.resolve(text)
        except InputError as error:  # kept as its parts: a kept exception would keep every chunk's frames
            answer = (error.field, error.value, error.fix_zh, error.fix_en)
        if len(answers) < _RESOLVED_KEPT:
            answers[text] = answer
    if isinstance(answer, tuple):
        raise InputError(*answer)
    return answer


def _stages(table: pa.Table, columns: Columns, options: Options, reasons: _Reasons) -> tuple[list[Stage | None], NDArray]:
    return _each_distinct(table, columns.stage, options.stage, lambda text: Stage.parse(text or options.stage),
                          columns.stage or "--stage", reasons)


def _each_distinct(table: pa.Table, column: str | None, default: str, parse: Callable[[str], object], field_name: str,
                   reasons: _Reasons) -> tuple[list, NDArray]:
    """Parse each distinct text once: the parsed values and, per row, the index of its value.

    A failure becomes the reason of every row that has the text (its value is None)."""
    n = len(reasons.rows)
    if column is None:
        texts, codes = pa.array([default], pa.string()), np.zeros(n, dtype=np.int64)
    else:
        encoded = pc.dictionary_encode(_text(table, column))
        texts = encoded.dictionary
        codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    values: list = []
    for k, text in enumerate(texts.to_pylist()):
        text = text or default
        try:
            values.append(parse(text))
        except InputError as error:
            values.append(None)
            for i in np.flatnonzero(codes == k):
                reasons.add(i, field_name, text, error.fix_zh, error.fix_en)
    return values, codes


def _check_names(table: pa.Table, columns: Columns, reasons: _Reasons) -> None:
    """A name the audit log and reports could not hold (control characters, over 200 characters) is a reason
    not to check its row; only the names a bulk test flags go through ``clean_text``."""
    if not columns.name:
        return
    names = _text(table, columns.name, strip=False)
    suspect = pc.or_(pc.match_substring_regex(names, _UNSAFE_TEXT), pc.greater(pc.utf8_length(names), NAME_MAX_CHARS))
    for i in np.flatnonzero(suspect.to_numpy(zero_copy_only=False)):
        try:
            clean_text(names[i].as_py(), columns.name, max_len=NAME_MAX_CHARS)
        except InputError as error:
            reasons.add(i, columns.name, error.value, error.fix_zh, error.fix_en)


def _named_enterprises(table: pa.Table, columns: Columns, rules: list[Rule]) -> tuple[list[frozenset[str]], NDArray]:
    """The distinct sets of rules on named enterprises that rows' names name, and each row's set."""
    naming = [rule for rule in rules if rule.enterprises]
    n = table.num_rows
    if not columns.name or not naming:
        return [frozenset()], np.zeros(n, dtype=np.int64)
    names = _text(table, columns.name, strip=False)
    # One pass finds the few names that hold any enterprise (a regular expression of every name, as
    # literals); each rule's names are then looked for in those only (Rule.names_enterprise).
    anyone = "|".join(re.sub(_REGEX_SPECIAL, r"\\\g<0>", enterprise) for rule in naming for enterprise in rule.enterprises)
    rows = np.flatnonzero(pc.match_substring_regex(names, anyone).to_numpy(zero_copy_only=False))
    mask = np.zeros(n, dtype=np.int64)
    if len(rows):
        some = names.take(pa.array(rows))
        for bit, rule in enumerate(naming):
            hit = np.zeros(len(rows), dtype=bool)
            for enterprise in rule.enterprises:
                hit |= pc.match_substring(some, enterprise).to_numpy(zero_copy_only=False)
            mask[rows] |= hit.astype(np.int64) << bit
    unique, codes = np.unique(mask, return_inverse=True)
    sets = [frozenset(rule.id for bit, rule in enumerate(naming) if int(m) >> bit & 1) for m in unique.tolist()]
    return sets, codes.ravel().astype(np.int64)


def _tables(table: pa.Table, rows: NDArray, valid: NDArray, lon: NDArray, lat: NDArray, reasons: _Reasons,
            screening: Screening, columns: Columns) -> ChunkResult:
    n = table.num_rows
    described = _described(screening.patterns)
    measured = screening.measured
    rule_ids = list(measured["rule"].cat.categories)
    codes = measured["rule"].cat.codes.to_numpy()
    # In (site, rule) order, so that every engine and chunking joins the same strings.
    rank = np.empty(len(rule_ids), dtype=np.int64)
    rank[np.argsort(np.array(rule_ids, dtype=str), kind="stable")] = np.arange(len(rule_ids))
    order = np.lexsort((rank[codes], measured["site"].to_numpy()))
    site_row = valid[measured["site"].to_numpy()[order]]
    rule = pa.array(rule_ids, pa.string()).take(pa.array(codes[order].astype(np.int64)))
    found, inside, boundary, distance, margin, horizon = (measured[name].to_numpy()[order] for name in (
        "severity", "inside", "boundary", "distance_m", "margin_m", "horizon_m"))
    pattern = np.full(n, len(described), dtype=np.int64)  # one past the patterns: unchecked
    pattern[valid] = np.where(screening.pattern >= 0, screening.pattern, len(described))

    def per_pattern(values: list[str]) -> pa.DictionaryArray:
        return _texts(pattern, [*values, ""])

    ids = {}
    for k, verdict in enumerate(_LISTED):
        hit = found == verdict.severity
        ids[verdict] = _appended(per_pattern([situation.rules[k] for situation in described]), site_row[hit], rule.filter(pa.array(hit)))

    stated = np.isfinite(distance)
    metres = pa.array([f"{value:.1f}" for value in distance[stated].tolist()], pa.string())
    distances = _appended(_texts(np.zeros(n, dtype=np.int32), [""]), site_row[stated],
                          pc.binary_join_element_wise(rule.filter(pa.array(stated)), metres, "="))

    headlines = site_headlines(screening)
    headline = np.full(n, len(headlines.texts), dtype=np.int64)  # one past the texts: unchecked, ""
    headline[valid] = headlines.codes
    checked = np.zeros(n, dtype=bool)
    checked[valid] = True
    severity = np.full(n, len(VERDICTS), dtype=np.int8)
    severity[valid] = screening.overall
    epsg = np.zeros(n, dtype=np.int64)
    epsg[valid] = screening.epsg
    not_evaluated = np.array([situation.not_evaluated for situation in described] + [0], dtype=np.int64)[pattern]

    added = {
        ROW: pa.array(rows, pa.int64()),
        STATUS: _dictionary(np.where(checked, 0, 1), [CHECKED, UNCHECKED]),
        REASON: reasons.column(),
        "结论": _dictionary(severity, [*_LABELS, ""]),
        "verdict": _dictionary(severity, [*_CODES, ""]),
        "理由": _texts(headline, [*headlines.texts, ""]),
        "经度_WGS84": pa.array(np.round(lon, 7), pa.float64(), mask=~checked),
        "纬度_WGS84": pa.array(np.round(lat, 7), pa.float64(), mask=~checked),
        "高斯投影带EPSG": pa.array(epsg, pa.int64(), mask=~checked),
        "禁止条款": ids[Verdict.PROHIBITED], "退出条款": ids[Verdict.EXIT], "限制条款": ids[Verdict.RESTRICTED],
        "需复核条款": ids[Verdict.REVIEW], "量测距离_米": distances,
        "未评估条款数": pa.array(not_evaluated, pa.int64(), mask=~checked),
        "示意数据": per_pattern([situation.demonstration for situation in described]),
        "规划情形": per_pattern([situation.key for situation in described]),
    }
    summary = with_input(table, pa.table(added))

    # The measured findings worth a line: a stated distance, or a verdict other than compliant.
    # The rest are compliant and farther than the report horizon (规划情形 lists what was measured).
    keep = stated | (found != Verdict.COMPLIANT.severity)
    kept_rows = site_row[keep]  # already in (row, rule) order
    name_text = _text(table, columns.name, strip=False) if columns.name else _empty_texts(n)
    distance, margin, found = distance[keep], margin[keep], found[keep].astype(np.int8)
    horizons, which = np.unique(horizon[keep], return_inverse=True)  # a few: one per measured target
    notes = pa.array([f"距离超过 {h:.0f} 米（报告范围以外）" for h in horizons.tolist()]
                     + [f"距边界超过 {h:.0f} 米" for h in horizons.tolist()] + [""], pa.string())
    note = np.where(np.isnan(distance), which, np.where(np.isnan(margin), len(horizons) + which, 2 * len(horizons)))
    details = pa.table({
        ROW: pa.array(rows[kept_rows], pa.int64()), "名称": name_text.take(pa.array(kept_rows, pa.int64())),
        "条款": rule.filter(pa.array(keep)),
        "结论": _dictionary(found, _LABELS), "verdict": _dictionary(found, _CODES),
        "在管控区内": pa.array(inside[keep].astype(bool)), "边界情形": pa.array(boundary[keep].astype(bool)),
        "距离_米": pa.array(np.round(distance, 2), pa.float64(), from_pandas=True),
        "余量_米": pa.array(np.round(margin, 2), pa.float64(), from_pandas=True), "说明": notes.take(pa.array(note.ravel())),
    })
    return ChunkResult(summary, details, {situation.key: situation for situation in described})


def with_input(table: pa.Table, added: pa.Table) -> pa.Table:
    """A chunk's 汇总 rows: its input columns (``…_输入`` where a name is one of ours), then ``added``."""
    names = [f"{c}_输入" if c in SUMMARY_COLUMNS else c for c in table.column_names]
    return pa.Table.from_arrays([*table.columns, *added.columns], names=[*names, *added.column_names])


def _appended(base: pa.DictionaryArray, rows: NDArray, texts: pa.Array) -> pa.DictionaryArray:
    """``base`` with, on each row of ``rows``, the texts given for it joined with "; " (after the base text,
    if any): ``rows`` ascending, one per text. Each row touched gets a dictionary entry of its own."""
    if not len(rows):
        return base
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    extra = pc.binary_join(pa.ListArray.from_arrays(pa.array(np.r_[starts, len(rows)].astype(np.int32)), texts), "; ")
    at = rows[starts]
    indices = base.indices.to_numpy(zero_copy_only=False).copy()
    before = base.dictionary.take(pa.array(indices[at]))
    joined = pc.if_else(pc.equal(before, ""), extra, pc.binary_join_element_wise(before, extra, "; "))
    indices[at] = len(base.dictionary) + np.arange(len(at), dtype=np.int32)
    return _texts(indices, pa.concat_arrays([base.dictionary, joined]))


def _texts(indices: NDArray, texts: list[str] | pa.Array) -> pa.DictionaryArray:
    """A text column as indices into the distinct texts: a million rows share a few thousand headlines and rule
    lists, so the tables stay small until a writer spells them out."""
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int32), pa.int32()),
                                          texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string()))


def _empty_texts(n: int) -> pa.Array:
    """n empty strings, made from their offsets (no Python string per row)."""
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(np.zeros(n + 1, dtype=np.int32)), pa.py_buffer(b"")])


def _dictionary(indices: NDArray, labels: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(np.asarray(indices, dtype=np.int8), pa.int8()), pa.array(labels, pa.string()))


@dataclass(frozen=True)
class Situation:
    """What the result tables say about one situation: its stable key (the same on every engine
    and chunk), its rows of the 规划情形 level, and the columns of 汇总 its sites share."""

    key: str
    heading: tuple[str, str, str]  # 行业, 阶段, 适用规划 (the first columns of its 规划情形 rows, after the key)
    records: list[tuple[str, str, str, str]]  # 类别, 条款, 结论, 说明: one 规划情形 row each
    rules: tuple[str, ...]  # per verdict of _LISTED: the ids of its rules that need no measuring, joined
    demonstration: str
    not_evaluated: int


# Worked out once per pattern: patterns are shared by every chunk that meets their situation
# (spatial.screening), so an entry lives exactly as long as its pattern. Chunks are tabled on
# threads at once: the table is read and written under the lock.
_SITUATIONS: weakref.WeakKeyDictionary[Pattern, Situation] = weakref.WeakKeyDictionary()
_SITUATIONS_LOCK = threading.Lock()
_DESCRIBING = threading.Lock()  # held while describing new situations (Python: nothing lost to the wait)
_KEYS: dict[tuple, str] = {}  # situation content → key, written under _DESCRIBING
_KEYS_KEPT = 1 << 16  # as many as spatial.screening keeps situations: a long-lived process forgets, never grows
_RENDERED: dict[int, tuple[Note, str]] = {}  # by id(note): the note and its text, written under _DESCRIBING


def _described(patterns: list[Pattern]) -> list[Situation]:
    with _SITUATIONS_LOCK:
        found = [_SITUATIONS.get(pattern) for pattern in patterns]
    if all(situation is not None for situation in found):
        return found
    with _DESCRIBING:  # the first chunks meet the same situations: one describes them, the other finds them
        with _SITUATIONS_LOCK:
            found = [_SITUATIONS.get(pattern) for pattern in patterns]
        for i in [i for i, situation in enumerate(found) if situation is None]:
            situation = _situation(patterns[i])
            with _SITUATIONS_LOCK:
                found[i] = _SITUATIONS.setdefault(patterns[i], situation)
    return found


def _situation(pattern: Pattern) -> Situation:
    """What the tables say about a pattern's sites; its key is a hash of its 规划情形 rows, so every engine,
    chunking and run names the same situation alike."""
    records = [("结论", f.rule.id, _VERDICT_LABELS[f.verdict], _OUTSIDE_NOTE if f.boundary else f.rule.zone.describe(""))
               for f in sorted(pattern.findings, key=_rule_id)]
    records += [("未评估", held.rule.id, _NOT_EVALUATED_LABELS[held.rule.action], _rendered(held.why))
                for held in sorted(pattern.not_evaluated, key=_rule_id)]
    records += [("一般条件", rule.id, "", rule.zone.describe("")) for rule in sorted(pattern.conditions, key=_id)]
    records += [("量测", m.rule.id, "见量测明细", _EDGE_NOTE if m.at_edge else "") for m in sorted(pattern.measured, key=_rule_id)]
    records += [("点名企业", rule.id, "仅供参考", f"本条针对点名企业（{'、'.join(rule.enterprises)}）")
                for rule in sorted(pattern.information, key=_id)]
    plans = "、".join(pattern.plans)
    content = (pattern.industry.label, pattern.stage.value, plans, tuple(records), tuple(pattern.demonstration))
    key = _KEYS.get(content)
    if key is None:  # patterns of different flags often read the same: their key is hashed once
        fingerprint = repr((pattern.industry.label, pattern.stage.value, plans, records, pattern.demonstration))
        key = "S" + hashlib.sha1(fingerprint.encode()).hexdigest()[:10]
        if len(_KEYS) >= _KEYS_KEPT:
            _KEYS.clear()
        _KEYS[content] = key
    listed: dict[str, list[str]] = {label: [] for label in _LISTED_LABELS}
    for _, rule_id, label, _ in records[:len(pattern.findings)]:  # the findings' records, in rule id order
        if label in listed:
            listed[label].append(rule_id)
    return Situation(key, (pattern.industry.label, pattern.stage.value, plans), records,
                     tuple("; ".join(ids) for ids in listed.values()), "、".join(pattern.demonstration), len(pattern.not_evaluated))


def _rendered(note: Note) -> str:
    """A note's text, once per note object: the screen shares one decision, so one note, among the situations
    it occurs in. Under _DESCRIBING; the note is kept with its text, so its id is not reused while kept."""
    found = _RENDERED.get(id(note))
    if found is None:
        if len(_RENDERED) >= _KEYS_KEPT:
            _RENDERED.clear()
        found = _RENDERED[id(note)] = (note, render(note))
    return found[1]


def _id(rule: Rule) -> str:
    return rule.id


def _rule_id(item: PatternItem) -> str:
    return item.rule.id


def situation_table(situations: dict[str, Situation]) -> pa.Table:
    """The 规划情形 level: every situation met, in key order (a situation's own columns converted once, then repeated)."""
    ordered = [situations[key] for key in sorted(situations)]
    records = [record for situation in ordered for record in situation.records]
    repeat = pa.array(np.repeat(np.arange(len(ordered), dtype=np.int64), [len(s.records) for s in ordered]), pa.int64())
    heads = [[s.key for s in ordered], *([s.heading[k] for s in ordered] for k in range(3))]
    tails = list(zip(*records, strict=True)) if records else [()] * 4
    return pa.table([*(pa.array(column, pa.string()).take(repeat) for column in heads), *(pa.array(column, pa.string()) for column in tails)],
                    names=SITUATION_COLUMNS)
