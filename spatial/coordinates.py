"""One parser for every way a Chinese reviewer writes a point.

Decimal degrees in either order (with or without E/N/东经/北纬), DMS in ASCII and
Chinese forms, Gauss–Krüger x/y (3° or 6° zones, with the zone number in front of the
easting or with the CRS named), and the AMap/Tencent (GCJ-02) and Baidu (BD-09)
systems. Where the numbers can only mean one system it is inferred and said; where
they fit two (a GK easting without its zone), the parser refuses and asks.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError

from spatial.bd09 import bd09_to_wgs84
from spatial.crs import BD09, CGCS2000, CHINA_BOUNDS, GCJ02, GK_LON_RANGE, SHANXI_BOUNDS, WGS84, transformer
from spatial.errors import FieldKey, InputError
from spatial.gcj02 import gcj02_to_wgs84
from spatial.limits import MAX_COORDINATE_TEXT

# Named systems a reviewer may give as the coordinate system, by name and as echoed.
NAMED_SYSTEMS = {"wgs84": (WGS84, "WGS84"), "cgcs2000": (CGCS2000, "CGCS2000"), "gcj02": (GCJ02, "GCJ-02"), "bd09": (BD09, "BD-09")}
UNNAMED_DEGREES_NOTE = (
    "经纬度未指明坐标系，按 WGS84/CGCS2000 处理（二者相差仅厘米级）；"
    "若取自高德/腾讯地图，请把坐标系指定为 gcj02；取自百度地图，请指定为 bd09。"
)
_NORTHING = (1_000_000.0, 6_000_000.0)  # GK northings in China have seven digits

_NUMBER = r"\d+(?:\.\d+)?"
_TOKEN = re.compile(
    rf"""
    (?P<pre>(?<![0-9.])(?:东经|北纬|经度|纬度|[ENXY](?![A-Z])))?\s*[:=]?\s*
    (?P<value>
        (?P<deg>{_NUMBER})\s*[°度]
            (?:\s*(?P<min>{_NUMBER})\s*['′分])?
            (?:\s*(?P<sec>{_NUMBER})\s*(?:"|″|''|′′|秒))?
      | (?P<dd>\d{{1,3}})-(?P<dm>\d{{1,2}})-(?P<ds>{_NUMBER})
      | (?P<dec>[-+]?{_NUMBER})
    )
    (?P<post>[EN](?![A-Z]))?  # a trailing mark is written against the value: 111.2E
    """,
    re.VERBOSE | re.IGNORECASE,
)
_AXIS_OF_MARK = {"东经": "lon", "经度": "lon", "E": "lon", "北纬": "lat", "纬度": "lat", "N": "lat"}


@dataclass(frozen=True)
class ParsedPoint:
    """A point in WGS84 with the reading that produced it."""

    lon: float
    lat: float
    text: str
    crs: str  # the system the input was read in
    inferred: bool  # True when the system was inferred from the numbers
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"text": self.text, "crs": self.crs, "inferred": self.inferred, "notes": list(self.notes)}


@dataclass(frozen=True)
class _Number:
    value: float
    axis: str | None  # lon | lat | None
    angular: bool  # written with degree/minute/second marks


def _fail(text: str, fix_zh: str, fix_en: str) -> InputError:
    return InputError(FieldKey.AT, text, fix_zh, fix_en)


class LonLatProblem(IntEnum):
    """What is wrong with a pair of decimal degrees, in the order it is looked for."""

    NONE = 0
    LON_NOT_FINITE = 1
    LAT_NOT_FINITE = 2
    LON_RANGE = 3
    LAT_RANGE = 4
    LAT_LOOKS_LIKE_LON = 5  # 90 < |lat| <= 180 and |lon| <= 90 (or lon not known): the axes look swapped
    OUTSIDE_CHINA = 6  # no CGCS2000 3-degree zone to measure in


_WEST, _SOUTH, _EAST, _NORTH = SHANXI_BOUNDS
_MIDDLE = ((_WEST + _EAST) / 2, (_SOUTH + _NORTH) / 2)
_LON_RANGE_FIX = (f"经度应在 -180 到 180 之间（山西约 {_WEST}–{_EAST}）。",
                  f"longitude must lie in -180..180 (Shanxi is about {_WEST}–{_EAST}).")
_LAT_RANGE_FIX = (f"纬度应在 -90 到 90 之间（山西约 {_SOUTH}–{_NORTH}）。",
                  f"latitude must lie in -90..90 (Shanxi is about {_SOUTH}–{_NORTH}).")
_LONLAT_FIXES = {
    LonLatProblem.LON_NOT_FINITE: (FieldKey.LON, "经度应为有限的十进制度数，例如 111.25。",
                                   "the longitude must be a finite number of decimal degrees, e.g. 111.25."),
    LonLatProblem.LAT_NOT_FINITE: (FieldKey.LAT, "纬度应为有限的十进制度数，例如 35.6。",
                                   "the latitude must be a finite number of decimal degrees, e.g. 35.6."),
    LonLatProblem.LON_RANGE: (FieldKey.LON, *_LON_RANGE_FIX),
    LonLatProblem.LAT_RANGE: (FieldKey.LAT, *_LAT_RANGE_FIX),
    LonLatProblem.LAT_LOOKS_LIKE_LON: (FieldKey.LAT, _LAT_RANGE_FIX[0] + "该值像经度：经度与纬度可能写反，请交换二者。",
                                       _LAT_RANGE_FIX[1] + " It looks like a longitude: longitude and latitude may be swapped."),
    LonLatProblem.OUTSIDE_CHINA: (
        FieldKey.LON,
        f"坐标不在中国境内（CGCS2000 3度带范围，经度约{GK_LON_RANGE[0]}–{GK_LON_RANGE[1]}），无法检查；"
        "请核对经纬度是否写反或坐标系是否正确。",
        f"the point lies outside China's CGCS2000 3-degree zones (lon {GK_LON_RANGE[0]}–{GK_LON_RANGE[1]}); "
        "check for swapped axes or a wrong coordinate system.",
    ),
}


def lonlat_problems(lon: ArrayLike | None, lat: ArrayLike | None) -> NDArray[np.int8]:
    """The first :class:`LonLatProblem` of each pair of decimal degrees (finiteness, range, swapped axes,
    China's GK zones), for scalars or arrays alike: the one validator of every channel and the batch.

    ``None`` for one axis checks the other alone, as a form or an API checks a field when it arrives.
    """
    x, y = np.broadcast_arrays(np.asarray(_MIDDLE[0] if lon is None else lon, dtype=float),
                               np.asarray(_MIDDLE[1] if lat is None else lat, dtype=float))
    with np.errstate(invalid="ignore"):
        usable = (x >= GK_LON_RANGE[0]) & (x < GK_LON_RANGE[1]) & (np.abs(y) <= 90)  # NaN is never usable
    problems = np.zeros(x.shape, dtype=np.int8)
    if not usable.all():  # name the problem of the few rows that have one
        bad = ~usable
        xb, yb = x[bad], y[bad]
        lat_range = (np.abs(yb) > 180) | ((np.abs(yb) > 90) & (lon is not None) & (np.abs(xb) > 90))
        cases = [~np.isfinite(xb), ~np.isfinite(yb), np.abs(xb) > 180, lat_range, np.abs(yb) > 90, np.ones(xb.shape, bool)]
        problems[bad] = np.select(cases, list(LonLatProblem)[1:])  # cases in the enum's order
    return problems


def lonlat_refusal(problem: int, value: object, field: FieldKey | None = None) -> InputError:
    """The bilingual refusal of one problem, naming ``lon`` or ``lat`` (or ``field``, e.g. the text it was read from)."""
    axis, fix_zh, fix_en = _LONLAT_FIXES[LonLatProblem(problem)]
    return InputError(field or axis, value, fix_zh, fix_en)


def require_lonlat(lon: float, lat: float, text: str | None = None) -> None:
    """Refuse one pair unless it is usable degrees; the error names ``lon``/``lat``, or ``at`` for a pair read from text."""
    problem = int(lonlat_problems(lon, lat))
    if problem != LonLatProblem.NONE:
        axis = _LONLAT_FIXES[LonLatProblem(problem)][0]
        value = text if text is not None else (lon if axis == FieldKey.LON else lat)
        raise lonlat_refusal(problem, value, FieldKey.AT if text is not None else None)


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return text.replace("，", ",").replace("；", ",").replace(";", ",")


def _numbers(text: str) -> list[_Number]:
    normal = _normalise(text)
    found: list[_Number] = []
    consumed = 0
    for match in _TOKEN.finditer(normal):
        skipped = normal[consumed:match.start()]
        if re.search(r"[^\s,/、()（）]", skipped):
            raise _fail(text, f"无法识别“{skipped.strip()}”。请写成“111.25, 35.60”“东经111°15′ 北纬35°36′”或高斯坐标。",
                        f"cannot read {skipped.strip()!r}; write e.g. '111.25, 35.60' or DMS or Gauss–Krüger x/y.")
        consumed = match.end()
        mark = match["pre"] or match["post"]
        axis = _AXIS_OF_MARK.get((mark or "").upper())
        if match["deg"] is not None:
            value = _dms(text, match["deg"], match["min"], match["sec"])
            angular = True
        elif match["dd"] is not None:
            value = _dms(text, match["dd"], match["dm"], match["ds"])
            angular = True
        else:
            value = float(match["dec"])
            angular = False
        found.append(_Number(value, axis, angular))
    rest = normal[consumed:]
    if re.search(r"[^\s,/、()（）]", rest):
        raise _fail(text, f"无法识别“{rest.strip()}”。请只写两个坐标值，可带 东经/北纬 或 E/N。",
                    f"cannot read {rest.strip()!r}; give exactly two coordinates, optionally marked E/N.")
    return found


def _dms(text: str, degrees: str, minutes: str | None, seconds: str | None) -> float:
    d, m, s = float(degrees), float(minutes or 0), float(seconds or 0)
    if m >= 60 or s >= 60:
        raise _fail(text, "度分秒中的分、秒应小于60。", "minutes and seconds must be below 60.")
    return d + m / 60.0 + s / 3600.0


def parse_point(text: str, crs: str | None = None) -> ParsedPoint:
    """Read one point from free text, optionally in a named system (see :func:`resolve_crs`)."""
    if len(text) > MAX_COORDINATE_TEXT:
        raise _fail(text[:40] + "…", f"坐标文本过长（{len(text)} 个字符，上限 {MAX_COORDINATE_TEXT}）；一个点只需两个坐标值。",
                    f"the coordinate text is too long ({len(text)} characters, limit {MAX_COORDINATE_TEXT}); a point needs two values.")
    numbers = _numbers(text)
    if len(numbers) != 2:
        raise _fail(text, f"应给出两个坐标值，读到 {len(numbers)} 个。", f"expected two coordinates, found {len(numbers)}.")
    if all(abs(n.value) <= 180 for n in numbers):
        lon, lat, note = _order_degrees(text, numbers)
        return point_from_lonlat(lon, lat, crs, text=text, notes=(note,) if note else ())
    if any(n.angular for n in numbers) or not all(abs(n.value) > 1000 for n in numbers):
        raise _fail(text, "一个值像经纬度、另一个像平面坐标，无法同时成立。", "one value looks like degrees and the other like metres.")
    return _projected(text, numbers[0].value, numbers[1].value, crs)


def _order_degrees(text: str, numbers: list[_Number]) -> tuple[float, float, str]:
    first, second = numbers
    if first.axis and second.axis and first.axis == second.axis:
        raise _fail(text, "两个值标成了同一个方向（都是经度或都是纬度）。", "both values are marked as the same axis.")
    if first.axis == "lat" or second.axis == "lon":
        return second.value, first.value, ""
    if first.axis == "lon" or second.axis == "lat":
        return first.value, second.value, ""

    def fits(lon: float, lat: float) -> bool:
        return CHINA_BOUNDS[0] <= lon <= CHINA_BOUNDS[2] and CHINA_BOUNDS[1] <= lat <= CHINA_BOUNDS[3]

    if abs(first.value) > 90 and abs(second.value) > 90:
        raise _fail(text, "两个值都大于90°，纬度不可能超过±90°。", "both values exceed 90°; a latitude cannot.")
    if fits(first.value, second.value):
        return first.value, second.value, ""
    if fits(second.value, first.value):
        return second.value, first.value, "按数值范围判断为“纬度在前、经度在后”。"
    raise _fail(
        text, "无法判断哪个是经度、哪个是纬度（中国境内经度约73–136、纬度约3–54）。请加上 东经/北纬 或 E/N。",
        "cannot tell longitude from latitude (China: lon 73–136, lat 3–54); mark them with E/N.",
    )


def resolve_crs(name: str) -> CRS:
    """The system a reviewer names: 'wgs84', 'cgcs2000', 'gcj02', 'bd09' (see spatial.crs) or anything pyproj reads."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key in NAMED_SYSTEMS:
        return NAMED_SYSTEMS[key][0]
    try:
        return CRS.from_user_input(name.strip())
    except CRSError:
        raise InputError(
            FieldKey.CRS, name, "请给出 EPSG:NNNN，或 wgs84、cgcs2000、gcj02、bd09 之一。",
            "give EPSG:NNNN or one of wgs84, cgcs2000, gcj02, bd09.",
        ) from None


def describe_crs(system: CRS) -> str:
    """How an answer echoes the system: its common name when it has one, else EPSG code and name."""
    named = next((label for crs, label in NAMED_SYSTEMS.values() if _same(system, crs)), None)
    return named or f"EPSG:{system.to_epsg()} {system.name}"


def is_obfuscated(system: CRS) -> bool:
    """GCJ-02 or BD-09: systems PROJ cannot transform, shifted vertex by vertex (:func:`geographic_to_wgs84`)."""
    return _same(system, GCJ02) or _same(system, BD09)


def _same(system: CRS, named: CRS) -> bool:
    """pyproj equality ignores a CRS's name, and GCJ-02 and BD-09 differ only by theirs."""
    return system.name == named.name and system == named


def point_from_lonlat(lon: float, lat: float, crs: str | None = None, text: str | None = None,
                      notes: tuple[str, ...] = ()) -> ParsedPoint:
    """Degrees in a geographic system → WGS84, through the one lon/lat validator.

    The error names ``lon`` or ``lat`` for degrees given as two fields, ``at`` for degrees read from ``text``.
    """
    require_lonlat(lon, lat, text)
    text = text if text is not None else f"{lon}, {lat}"
    system = resolve_crs(crs) if crs else None
    if system is None:
        return ParsedPoint(lon, lat, text, "WGS84/CGCS2000", True, (*notes, UNNAMED_DEGREES_NOTE))
    if not system.is_geographic:
        raise InputError(FieldKey.CRS, crs, f"{system.name} 是平面坐标系，但给出的是经纬度（{text}）。",
                         f"{system.name} is projected but degrees were given ({text}).")
    wlon, wlat = geographic_to_wgs84(system, lon, lat)
    return ParsedPoint(float(wlon), float(wlat), text, describe_crs(system), False, notes)


def geographic_to_wgs84(system: CRS, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Degrees in a geographic CRS (GCJ-02 and BD-09 included) → WGS84 (vectorised)."""
    if _same(system, GCJ02):
        return gcj02_to_wgs84(lon, lat)
    if _same(system, BD09):
        return bd09_to_wgs84(lon, lat)
    if _same(system, WGS84) or _same(system, CGCS2000):  # equal within centimetres
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    out_lon, out_lat = transformer(system.to_wkt(), 4326).transform(np.asarray(lon), np.asarray(lat))
    return np.asarray(out_lon), np.asarray(out_lat)


def gauss_kruger_crs(easting: float) -> tuple[CRS, str] | None:
    """The CGCS2000 GK CRS implied by a zone prefix in the easting, if any."""
    if easting < 10_000_000:
        return None
    zone = int(easting // 1_000_000)
    if 25 <= zone <= 45:
        return CRS.from_epsg(4513 + zone - 25), f"3度带第{zone}带（中央经线{3 * zone}°E）"
    if 13 <= zone <= 23:
        return CRS.from_epsg(4491 + zone - 13), f"6度带第{zone}带（中央经线{6 * zone - 3}°E）"
    return None


def _projected(text: str, a: float, b: float, crs: str | None) -> ParsedPoint:
    in_northing = [_NORTHING[0] <= v < _NORTHING[1] for v in (a, b)]
    if in_northing == [True, False]:
        northing, easting = a, b
    elif in_northing == [False, True]:
        northing, easting = b, a
    else:
        raise _fail(text, "无法判断哪个是 X（北坐标，7位整数）、哪个是 Y（东坐标）。", "cannot tell the northing (7 digits) from the easting.")
    if crs:
        system = resolve_crs(crs)
        if system.is_geographic:
            raise InputError(FieldKey.CRS, crs, f"给出的是平面坐标（米，{text}），坐标系应为投影坐标系，如 EPSG:4546。",
                             f"metres were given ({text}); the coordinate system must be a projected CRS such as EPSG:4546.")
        described, inferred, note = describe_crs(system), False, ""
    else:
        implied = gauss_kruger_crs(easting)
        if implied is None:
            raise _fail(
                text,
                "Y（东坐标）没有带号，山西跨3度带第37、38带（中央经线111°、114°），无法确定。"
                "请把坐标系指定为 EPSG:4546（111°E）或 EPSG:4547（114°E），或在 Y 前写上带号。",
                "the easting has no zone number and Shanxi spans two 3-degree zones; "
                "set the coordinate system to EPSG:4546 (CM 111E) or EPSG:4547 (CM 114E), or prefix the zone number.",
            )
        system, zone_text = implied
        described, inferred = describe_crs(system), True
        note = f"按 Y 值前的带号判断为 CGCS2000 高斯-克吕格{zone_text}。"
    lon, lat = transformer(system.to_wkt(), 4326).transform(easting, northing)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise _fail(text, f"该平面坐标不在 {system.name} 的有效范围内。", f"the coordinates fall outside {system.name}.")
    return ParsedPoint(lon, lat, text, described, inferred, (note,) if note else ())
