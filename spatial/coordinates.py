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

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS
from pyproj.exceptions import CRSError

from spatial.bd09 import bd09_to_wgs84
from spatial.crs import transformer
from spatial.errors import InputError
from spatial.gcj02 import gcj02_to_wgs84
from spatial.limits import MAX_COORDINATE_TEXT

# Named systems a reviewer may give as the coordinate system (CLI --crs, API crs).
GEOGRAPHIC_NAMES = {"wgs84": "WGS84", "cgcs2000": "CGCS2000", "gcj02": "GCJ-02", "bd09": "BD-09"}
UNNAMED_DEGREES_NOTE = (
    "经纬度未指明坐标系，按 WGS84/CGCS2000 处理（二者相差仅厘米级）；"
    "若取自高德/腾讯地图，请把坐标系指定为 gcj02；取自百度地图，请指定为 bd09。"
)
_CHINA_LON = (73.0, 136.0)
_CHINA_LAT = (3.0, 54.0)
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


def _fail(text: str, fix_zh: str, fix_en: str, field: str = "--at") -> InputError:
    return InputError(field, text, fix_zh, fix_en)


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
        return _CHINA_LON[0] <= lon <= _CHINA_LON[1] and _CHINA_LAT[0] <= lat <= _CHINA_LAT[1]

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


def resolve_crs(name: str) -> str | CRS:
    """A named geographic system ('wgs84', 'cgcs2000', 'gcj02', 'bd09') or a pyproj CRS."""
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key in GEOGRAPHIC_NAMES:
        return GEOGRAPHIC_NAMES[key]
    try:
        return CRS.from_user_input(name.strip())
    except CRSError:
        raise InputError(
            "--crs", name, "请给出 EPSG:NNNN，或 wgs84、cgcs2000、gcj02、bd09 之一。",
            "give EPSG:NNNN or one of wgs84, cgcs2000, gcj02, bd09.",
        ) from None


def point_from_lonlat(lon: float, lat: float, crs: str | None = None, text: str | None = None,
                      notes: tuple[str, ...] = ()) -> ParsedPoint:
    """Degrees in a geographic system → WGS84, with range checks."""
    text = text if text is not None else f"{lon}, {lat}"
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        raise _fail(text, "纬度应在 ±90°、经度应在 ±180° 以内。", "latitude must lie within ±90° and longitude within ±180°.")
    system = resolve_crs(crs) if crs else None
    if system is None:
        return ParsedPoint(lon, lat, text, "WGS84/CGCS2000", True, (*notes, UNNAMED_DEGREES_NOTE))
    if isinstance(system, CRS) and not system.is_geographic:
        raise _fail(text, f"{system.name} 是平面坐标系，但给出的是经纬度。", f"{system.name} is projected but degrees were given.",
                    field="--crs")
    wlon, wlat = geographic_to_wgs84(system, lon, lat)
    described = system if isinstance(system, str) else f"EPSG:{system.to_epsg()} {system.name}"
    return ParsedPoint(float(wlon), float(wlat), text, described, False, notes)


def geographic_to_wgs84(system: str | CRS, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """Degrees in a named system or a geographic CRS → WGS84 (vectorised)."""
    if system == "GCJ-02":
        return gcj02_to_wgs84(lon, lat)
    if system == "BD-09":
        return bd09_to_wgs84(lon, lat)
    if isinstance(system, str):  # WGS84 or CGCS2000: equal within centimetres
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
        if isinstance(system, str) or system.is_geographic:
            raise _fail(text, "给出的是平面坐标（米），坐标系应为投影坐标系，如 EPSG:4546。",
                        "metres were given; the coordinate system must be a projected CRS such as EPSG:4546.", field="--crs")
        described, inferred, note = f"EPSG:{system.to_epsg()} {system.name}", False, ""
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
        described, inferred = f"EPSG:{system.to_epsg()} {system.name}", True
        note = f"按 Y 值前的带号判断为 CGCS2000 高斯-克吕格{zone_text}。"
    lon, lat = transformer(system.to_wkt(), 4326).transform(easting, northing)
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise _fail(text, f"该平面坐标不在 {system.name} 的有效范围内。", f"the coordinates fall outside {system.name}.")
    return ParsedPoint(lon, lat, text, described, inferred, (note,) if note else ())
