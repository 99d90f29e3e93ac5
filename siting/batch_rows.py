"""Rows of a site register → checked sites → result tables, one chunk at a time.

Both batch engines (local and dask) call :func:`screen_chunk`, so their outputs agree
row for row. A row that cannot be checked keeps its place and carries the reason, in
the bilingual form of ``InputError`` naming the row, the column and the value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pyproj import CRS

from layers import catalog
from spatial.coordinates import geographic_to_wgs84, parse_point, resolve_crs
from spatial.crs import transformer
from spatial.errors import InputError
from spatial.industry import Industry
from spatial.layer import LayerSet
from spatial.rules import Rule, Stage, Verdict
from spatial.screening import DEFAULT_REPORT_M, Screening, combo, screen, site_headlines
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
    summary: pd.DataFrame  # the input rows, then SUMMARY_COLUMNS
    details: pd.DataFrame  # DETAIL_COLUMNS, one row per measured finding
    situations: dict[str, pd.DataFrame] = field(default_factory=dict)  # situation key → SITUATION_COLUMNS rows


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


def screen_chunk(frame: pd.DataFrame, rows: NDArray, columns: Columns, options: Options, rules: list[Rule],
                 layers: LayerSet, xy: NDArray | None = None) -> ChunkResult:
    """Check one chunk of input rows; ``rows`` are their 1-based numbers in the input.

    ``xy``: the site coordinates when the input has a geometry column (NaN where missing).
    """
    n = len(frame)
    rows = np.asarray(rows, dtype=np.int64)
    reasons: list[list[str]] = [[] for _ in range(n)]
    lon, lat = _coordinates(frame, rows, columns, options, xy, reasons)
    industries = _industries(frame, rows, columns, options, reasons)
    stages = _stages(frame, rows, columns, options, reasons)
    ok = np.array([not r for r in reasons], dtype=bool)

    combos: list[tuple[Industry, Stage, frozenset[str]]] = []
    index: dict[tuple[str, Stage, frozenset[str]], int] = {}
    group = np.zeros(n, dtype=np.int64)
    named = _named_enterprises(frame, columns, rules)
    for i in np.flatnonzero(ok):
        key = (industries[i].query, stages[i], named[i])
        if key not in index:
            index[key] = len(combos)
            combos.append((industries[i], stages[i], named[i]))
        group[i] = index[key]
    valid = np.flatnonzero(ok)
    screening = screen(lon[valid], lat[valid], group[valid], combos, rules, layers, options.report_m)
    return _tables(frame, rows, valid, lon, lat, reasons, screening, combos, columns)


def _coordinates(frame: pd.DataFrame, rows: NDArray, columns: Columns, options: Options, xy: NDArray | None,
                 reasons: list[list[str]]) -> tuple[NDArray, NDArray]:
    n = len(frame)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    system = resolve_crs(options.crs) if options.crs else None
    if columns.geometry:
        x, y = xy[:, 0], xy[:, 1]
        missing = ~(np.isfinite(x) & np.isfinite(y))
        for i in np.flatnonzero(missing):
            reasons[i].append(InputError(
                f"第{rows[i]}行 geometry", "（空或非点）", "该行没有点位几何；批量审查按点位进行，面、线场址请用 siting check --site。",
                "the row has no point geometry; batches are of points, check polygons and lines with siting check --site.").message)
        good = ~missing
        if isinstance(system, CRS) and not system.is_geographic:
            lon[good], lat[good] = transformer(system.to_wkt(), 4326).transform(x[good], y[good])
        else:
            lon[good], lat[good] = geographic_to_wgs84(system or "WGS84", x[good], y[good])
    else:
        lon_text = frame[columns.lon].astype("string").str.strip().fillna("")
        lat_text = frame[columns.lat].astype("string").str.strip().fillna("")
        lon_num = pd.to_numeric(lon_text, errors="coerce").to_numpy(dtype=float)
        lat_num = pd.to_numeric(lat_text, errors="coerce").to_numpy(dtype=float)
        plain = np.isfinite(lon_num) & np.isfinite(lat_num) & (np.abs(lon_num) <= 180) & (np.abs(lat_num) <= 90)
        if isinstance(system, CRS) and not system.is_geographic:
            plain[:] = False  # metres: read each row so northing and easting are told apart
        if plain.any():
            lon[plain], lat[plain] = geographic_to_wgs84(system or "WGS84", lon_num[plain], lat_num[plain])
        field = f"{columns.lon}/{columns.lat}"
        numeric = np.isfinite(lon_num) & np.isfinite(lat_num) & ~plain
        if not (isinstance(system, CRS) and not system.is_geographic):
            for i in np.flatnonzero(numeric):  # numbers out of range: as siting check --lon/--lat, never guessed
                swapped = abs(lat_num[i]) <= 180 and abs(lon_num[i]) <= 90
                reasons[i].append(InputError(
                    f"第{rows[i]}行 {field}", f"{lon_text.iat[i]}, {lat_text.iat[i]}",
                    "经度应在 ±180°、纬度应在 ±90° 以内" + ("；该行经纬度像是写反了，请交换两列的值。" if swapped else "。"),
                    "longitude must lie within ±180° and latitude within ±90°" + ("; the two look swapped." if swapped else "."),
                ).message)
            plain |= numeric
        for i in np.flatnonzero(~plain):
            text_lon, text_lat = lon_text.iat[i], lat_text.iat[i]
            if not text_lon or not text_lat:
                reasons[i].append(InputError(f"第{rows[i]}行 {field}", f"{text_lon}, {text_lat}", "缺少经度或纬度。",
                                             "the longitude or latitude is missing.").message)
                continue
            try:
                point = parse_point(f"{text_lon}, {text_lat}", options.crs)
                lon[i], lat[i] = point.lon, point.lat
            except InputError as error:
                reasons[i].append(InputError(f"第{rows[i]}行 {field}", error.value, error.fix_zh, error.fix_en).message)
    with np.errstate(invalid="ignore"):
        outside = np.isfinite(lon) & ~((lon >= 73.5) & (lon < 136.5) & (np.abs(lat) <= 90))
    for i in np.flatnonzero(outside):
        reasons[i].append(InputError(
            f"第{rows[i]}行 经纬度", f"{lon[i]:.6f}, {lat[i]:.6f}",
            "坐标不在中国境内（CGCS2000 3度带范围，经度约73.5–136.5），无法检查；请核对经纬度是否写反或坐标系是否正确。",
            "the point lies outside China's CGCS2000 3-degree zones (lon 73.5–136.5); check for swapped axes or a wrong --crs.").message)
    return lon, lat


def _industries(frame: pd.DataFrame, rows: NDArray, columns: Columns, options: Options,
                reasons: list[list[str]]) -> list[Industry | None]:
    taxonomy = catalog.taxonomy()

    def parse(text: str) -> Industry:
        if not text:
            raise InputError("industry", text, "缺少行业：请填写行业列，或用 --industry 给出全表统一的行业。",
                             "no industry: fill the industry column or give one for all rows with --industry.")
        return taxonomy.resolve(text)

    texts = _texts(frame, columns.industry, options.industry or "")
    return _each_distinct(texts, parse, columns.industry or "--industry", rows, reasons)


def _stages(frame: pd.DataFrame, rows: NDArray, columns: Columns, options: Options,
            reasons: list[list[str]]) -> list[Stage | None]:
    texts = _texts(frame, columns.stage, options.stage)
    return _each_distinct(texts, lambda text: Stage.parse(text or options.stage), columns.stage or "--stage", rows, reasons)


def _each_distinct(texts: list[str], parse, column: str, rows: NDArray, reasons: list[list[str]]) -> list:
    """Parse each distinct text once; a failure becomes the reason of every row that has it."""
    parsed: dict[str, object] = {}
    out = []
    for i, text in enumerate(texts):
        if text not in parsed:
            try:
                parsed[text] = parse(text)
            except InputError as error:
                parsed[text] = error
        value = parsed[text]
        if isinstance(value, InputError):
            reasons[i].append(InputError(f"第{rows[i]}行 {column}", text, value.fix_zh, value.fix_en).message)
            out.append(None)
        else:
            out.append(value)
    return out


def _texts(frame: pd.DataFrame, column: str | None, default: str) -> list[str]:
    if column is None:
        return [default] * len(frame)
    values = frame[column].astype("string").str.strip().fillna("")
    return [v or default for v in values.tolist()]


def _named_enterprises(frame: pd.DataFrame, columns: Columns, rules: list[Rule]) -> list[frozenset[str]]:
    """Per row: the ids of the rules on named enterprises that the row's name names."""
    naming = [rule for rule in rules if rule.enterprises]
    if not columns.name or not naming:
        return [frozenset()] * len(frame)
    names = frame[columns.name].astype("string").fillna("").to_numpy(dtype=object)
    return [frozenset(rule.id for rule in naming if rule.names_enterprise(name)) if name else frozenset() for name in names]


def _tables(frame: pd.DataFrame, rows: NDArray, valid: NDArray, lon: NDArray, lat: NDArray,
            reasons: list[list[str]], screening: Screening, combos: list[tuple[Industry, Stage]],
            columns: Columns) -> ChunkResult:
    n = len(frame)
    situations = [_situation(pattern, combos) for pattern in screening.patterns]
    keys = np.array([key for key, _ in situations], dtype=object)
    # In (site, rule) order, so that every engine and chunking joins the same strings.
    measured = screening.measured.assign(rule=screening.measured["rule"].astype(str)).sort_values(["site", "rule"], kind="stable")
    site_row = valid[measured["site"].to_numpy()] if len(measured) else np.empty(0, dtype=np.int64)

    ids = {verdict: np.full(n, "", dtype=object) for verdict in (Verdict.PROHIBITED, Verdict.EXIT, Verdict.RESTRICTED, Verdict.REVIEW)}
    for verdict, column in ids.items():
        column[valid] = np.array([_joined(p, verdict) for p in screening.patterns] + [""], dtype=object)[screening.pattern]
        hit = measured["severity"].to_numpy() == verdict.severity
        if hit.any():
            extra = pd.Series(measured["rule"].to_numpy()[hit]).groupby(site_row[hit]).agg("; ".join)
            column[extra.index.to_numpy()] = [f"{a}; {b}" if a else b for a, b in zip(column[extra.index.to_numpy()], extra.to_numpy(), strict=True)]

    distances = np.full(n, "", dtype=object)
    stated = np.isfinite(measured["distance_m"].to_numpy())
    if stated.any():
        text = measured["rule"][stated] + "=" + measured["distance_m"][stated].map("{:.1f}".format)
        joined = text.groupby(site_row[stated]).agg("; ".join)
        distances[joined.index.to_numpy()] = joined.to_numpy()

    headlines = np.full(n, "", dtype=object)
    headlines[valid] = site_headlines(screening)
    overall = np.full(n, "", dtype=object)
    label = np.full(n, "", dtype=object)
    overall[valid] = np.array([v.value for v in VERDICTS], dtype=object)[screening.overall]
    label[valid] = np.array([v.label for v in VERDICTS], dtype=object)[screening.overall]
    not_evaluated = np.full(n, None, dtype=object)
    not_evaluated[valid] = np.array([len(p.not_evaluated) for p in screening.patterns] + [0], dtype=object)[screening.pattern]
    demonstration = np.full(n, "", dtype=object)
    demonstration[valid] = np.array(["、".join(p.demonstration) for p in screening.patterns] + [""], dtype=object)[screening.pattern]
    situation = np.full(n, "", dtype=object)
    situation[valid] = np.append(keys, "")[screening.pattern]
    epsg = np.full(n, None, dtype=object)
    epsg[valid] = screening.epsg
    checked = np.zeros(n, dtype=bool)
    checked[valid] = True

    summary = frame.reset_index(drop=True).copy()
    added = pd.DataFrame({
        ROW: rows, STATUS: np.where(checked, CHECKED, UNCHECKED), REASON: ["\n".join(r) for r in reasons],
        "结论": label, "verdict": overall, "理由": headlines,
        "经度_WGS84": np.where(checked, np.round(lon, 7), np.nan), "纬度_WGS84": np.where(checked, np.round(lat, 7), np.nan),
        "高斯投影带EPSG": epsg, "禁止条款": ids[Verdict.PROHIBITED], "退出条款": ids[Verdict.EXIT], "限制条款": ids[Verdict.RESTRICTED],
        "需复核条款": ids[Verdict.REVIEW], "量测距离_米": distances, "未评估条款数": not_evaluated,
        "示意数据": demonstration, "规划情形": situation,
    })
    summary = pd.concat([summary.rename(columns={c: f"{c}_输入" for c in SUMMARY_COLUMNS if c in summary.columns}), added], axis=1)

    # The measured findings worth a line: a stated distance, or a verdict other than compliant.
    # The rest are compliant and farther than the report horizon (规划情形 lists what was measured).
    keep = stated | (measured["severity"].to_numpy() != Verdict.COMPLIANT.severity)
    kept = measured[keep]
    names = frame[columns.name].astype("string").fillna("").to_numpy(dtype=object) if columns.name else np.full(n, "", dtype=object)
    horizon = kept["horizon_m"].map("{:.0f}".format).to_numpy(dtype=object)
    note = np.where(np.isnan(kept["distance_m"].to_numpy()), "距离超过 " + horizon + " 米（报告范围以外）",
                    np.where(np.isnan(kept["margin_m"].to_numpy()), "距边界超过 " + horizon + " 米", ""))
    severity = kept["severity"].to_numpy()
    details = pd.DataFrame({
        ROW: rows[site_row[keep]], "名称": names[site_row[keep]], "条款": kept["rule"].to_numpy(),
        "结论": np.array([v.label for v in VERDICTS], dtype=object)[severity],
        "verdict": np.array([v.value for v in VERDICTS], dtype=object)[severity],
        "在管控区内": kept["inside"].to_numpy(), "边界情形": kept["boundary"].to_numpy(),
        "距离_米": np.round(kept["distance_m"].to_numpy(), 2), "余量_米": np.round(kept["margin_m"].to_numpy(), 2), "说明": note,
    }).sort_values([ROW, "条款"], kind="stable").reset_index(drop=True)
    return ChunkResult(summary, details, dict(situations))


def _joined(pattern, verdict: Verdict) -> str:
    return "; ".join(sorted(rule.id for rule, found, _, _ in pattern.findings if found is verdict))


def _situation(pattern, combos: list[tuple[Industry, Stage]]) -> tuple[str, pd.DataFrame]:
    """A stable key (same on every engine and chunk) and the rows describing one situation."""
    industry, stage, _ = combo(combos[pattern.group])
    records = [("结论", rule.id, verdict.label, "场址在规划管辖范围外，但在行政边界精度以内" if boundary else rule.zone.describe(""))
               for rule, verdict, _, boundary in sorted(pattern.findings, key=lambda f: f[0].id)]
    records += [("未评估", rule.id, Verdict.REVIEW.label if rule.action.value != "鼓励" else Verdict.COMPLIANT.label, reason)
                for rule, _, reason, _ in sorted(pattern.not_evaluated, key=lambda f: f[0].id)]
    records += [("一般条件", rule.id, "", rule.zone.describe("")) for rule in sorted(pattern.conditions, key=lambda r: r.id)]
    records += [("量测", rule.id, "见量测明细", "场址距条款适用范围边界在行政边界精度以内" if at_edge else "")
                for rule, _, at_edge in sorted(pattern.measured, key=lambda m: m[0].id)]
    records += [("点名企业", rule.id, "仅供参考", f"本条针对点名企业（{'、'.join(rule.enterprises)}）")
                for rule in sorted(pattern.information, key=lambda r: r.id)]
    plans = "、".join(pattern.plans)
    fingerprint = repr((industry.label, stage.value, plans, records, pattern.demonstration))
    key = "S" + hashlib.sha1(fingerprint.encode()).hexdigest()[:10]
    table = pd.DataFrame(records, columns=["类别", "条款", "结论", "说明"])
    table.insert(0, "适用规划", plans)
    table.insert(0, "阶段", stage.value)
    table.insert(0, "行业", industry.label)
    table.insert(0, "规划情形", key)
    return key, table[SITUATION_COLUMNS]
