"""Read a project's land polygon (用地红线) or line from the files applicants hand in.

KML/KMZ (奥维地图 exports with folders and styles), Shapefile (loose or zipped, GBK or
UTF-8 attributes, with or without .prj), GeoJSON, GeoPackage, DXF, and CSV/Excel
界址点 tables (point number, X, Y in order). Every layer of the file is read and all
features are unioned into one site geometry in WGS84. Invalid rings are repaired with
a note, or refused with the reason.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from layers.io.file_guards import check_archive, check_size
from layers.io.vector_files import dataset_path, file_error, read_frame, shift_geographic
from spatial.coordinates import UNNAMED_DEGREES_NOTE, describe_crs, is_obfuscated, parse_point, resolve_crs
from spatial.crs import CHINA_BOUNDS, STORAGE_CRS
from spatial.errors import FieldKey, InputError, mention
from spatial.limits import MIN_SITE_AREA_M2, SITE_FILE_LIMITS

VECTOR_SUFFIXES = {".kml", ".kmz", ".shp", ".zip", ".geojson", ".json", ".gpkg", ".dxf"}
TABLE_SUFFIXES = {".csv", ".xlsx"}
FIELD = FieldKey.SITE_FILE


@dataclass(frozen=True)
class SiteFile:
    """A site geometry (WGS84) with what was read and what was repaired."""

    geometry: BaseGeometry
    source: str
    features: int
    crs: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"file": self.source, "features": self.features, "crs": self.crs, "notes": list(self.notes)}


def _error(path: Path, fix_zh: str, fix_en: str) -> InputError:
    return file_error(FIELD, path, fix_zh, fix_en)


def read_site(path: Path, crs: str | None = None) -> SiteFile:
    """The union of every feature in a site file, in WGS84."""
    if not path.is_file():
        raise _error(path, "文件不存在。", "the file does not exist.")
    suffix = path.suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return _read_boundary_table(path, crs)
    if suffix not in VECTOR_SUFFIXES:
        raise _error(path, f"不支持的文件类型 {suffix}；支持 KML/KMZ、Shapefile（可压缩为zip）、GeoJSON、GeoPackage、DXF、CSV/Excel 界址点表。",
                     f"unsupported file type {suffix}; use KML/KMZ, Shapefile (or zip), GeoJSON, GeoPackage, DXF or a CSV/Excel table.")
    dataset, notes = dataset_path(path, FIELD, SITE_FILE_LIMITS)
    frame = read_frame(path, dataset, FIELD, SITE_FILE_LIMITS)
    if frame.empty or (frame.geometry.isna() | frame.geometry.is_empty).all():
        raise _error(path, "文件中没有任何几何要素。", "the file holds no geometry.")
    frame, crs_text = _with_crs(path, frame, crs, notes)
    wgs84 = frame.to_crs(STORAGE_CRS).geometry.values
    _in_china(path, wgs84, crs_text)
    geometry, repair = _repair(path, shapely.force_2d(shapely.union_all(_one_dimension(wgs84, notes))))
    return SiteFile(geometry, path.name, len(frame), crs_text, tuple(notes + repair))


def _one_dimension(geometries, notes: list[str]):
    """A site is one polygon, line or point set: when a file mixes them (a KML with a marker
    beside the parcel), the parts of the highest dimension are the site; the rest are named."""
    parts = shapely.get_parts(geometries[~shapely.is_empty(geometries) & ~pd.isna(geometries)])
    dimensions = shapely.get_dimensions(parts)
    top = int(dimensions.max())
    dropped = {d: int((dimensions == d).sum()) for d in (0, 1) if d < top and (dimensions == d).any()}
    if dropped:
        kinds = "、".join(f"{count} 个{('点', '线')[d]}" for d, count in dropped.items())
        notes.append(f"文件混有不同几何类型：按{('点', '线', '面')[top]}要素作为场址，忽略了其中的 {kinds}要素，请核对。")
    return parts[dimensions == top]


def _in_china(path: Path, geometries, crs_text: str) -> None:
    """Refuse a site read in the wrong CRS: degrees declared as metres land near the equator,
    metres declared as degrees fall off the globe."""
    x0, y0, x1, y1 = shapely.total_bounds(geometries)
    if CHINA_BOUNDS[0] <= x0 <= x1 <= CHINA_BOUNDS[2] and CHINA_BOUNDS[1] <= y0 <= y1 <= CHINA_BOUNDS[3]:
        return
    raise _error(
        path,
        f"按 {crs_text} 读取后，场址落在经度 {x0:.3f}–{x1:.3f}、纬度 {y0:.3f}–{y1:.3f}，不在中国境内：文件声明的坐标系与坐标值不符"
        f"（如经纬度写在高斯坐标系文件里，或高斯坐标标成了经纬度）。请核对 .prj，或用 {mention(FieldKey.CRS)} 指明实际坐标系。",
        f"read as {crs_text}, the site lies at longitude {x0:.3f}..{x1:.3f}, latitude {y0:.3f}..{y1:.3f}, outside China: the "
        "declared CRS does not match the coordinates (degrees in a Gauss–Krüger file, or metres declared as degrees). "
        f"Check the .prj or name the real coordinate system with {mention(FieldKey.CRS)}.",
    )


def _with_crs(path: Path, frame: gpd.GeoDataFrame, crs: str | None, notes: list[str]) -> tuple[gpd.GeoDataFrame, str]:
    if crs:
        system = resolve_crs(crs)
        if is_obfuscated(system):
            return shift_geographic(path, frame, system, FIELD), describe_crs(system)
        frame = frame.set_crs(system, allow_override=True)
        return frame, f"{describe_crs(system)}（指定）"
    if frame.crs is not None:
        return frame, f"{frame.crs.name}（文件自带）"
    x0, y0, x1, y1 = frame.total_bounds
    if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
        notes.append("文件未带坐标系，坐标为经纬度。" + UNNAMED_DEGREES_NOTE)
        return frame.set_crs(STORAGE_CRS), "WGS84/CGCS2000（推断）"
    try:
        sample = parse_point(f"{y0} {x0}")  # refuses an easting without a zone number
    except InputError as error:
        raise _error(path, "文件未带坐标系（缺 .prj）。" + error.fix_zh, "the file has no CRS (.prj missing). " + error.fix_en) from None
    notes.extend(sample.notes)
    return frame.set_crs(sample.crs.split(" ")[0]), sample.crs + "（按带号推断）"


def _repair(path: Path, geometry: BaseGeometry) -> tuple[BaseGeometry, list[str]]:
    if geometry.is_empty:
        raise _error(path, "文件中没有任何几何要素。", "the file holds no geometry.")
    if shapely.is_valid(geometry):
        _has_area(path, geometry)
        return geometry, []
    reason = shapely.is_valid_reason(geometry)
    repaired = shapely.make_valid(geometry)
    polygonal = shapely.get_dimensions(repaired) == 2 or shapely.get_dimensions(geometry) < 2
    if repaired.is_empty or not polygonal:
        raise _error(path, f"用地红线无效且无法修复：{reason}。", f"the site geometry is invalid and cannot be repaired: {reason}.")
    _has_area(path, repaired)
    return repaired, [f"用地红线几何无效（{reason}），已自动修复，请核对面积。"]


def _has_area(path: Path, geometry: BaseGeometry) -> None:
    """A polygon site of (almost) no area is a ring folded onto a line, not a parcel."""
    if shapely.get_dimensions(geometry) != 2:
        return
    metres_per_degree = 111_320.0
    area_m2 = geometry.area * metres_per_degree**2 * math.cos(math.radians(geometry.centroid.y))
    if area_m2 < MIN_SITE_AREA_M2:
        raise _error(path, f"用地红线面积约 {area_m2:.2g} 平方米，几乎为零（界址点共线或重合）；请核对坐标。",
                     f"the site polygon's area is about {area_m2:.2g} m², practically none (collinear or repeated points).")


def _read_boundary_table(path: Path, crs: str | None) -> SiteFile:
    """A 界址点 table: point number, X, Y per row, in order round the parcel."""
    check_size(path, FIELD, SITE_FILE_LIMITS)
    if path.suffix.lower() == ".xlsx":
        check_archive(path, FIELD, SITE_FILE_LIMITS)
    try:
        if path.suffix.lower() == ".csv":
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gbk")
            table = pd.read_csv(io.StringIO(text), dtype=str)
        else:
            table = pyogrio.read_dataframe(path, read_geometry=False).astype(str)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, pyogrio.errors.DataSourceError) as error:
        raise _error(path, f"无法读取界址点表：{error}", f"cannot read the boundary-point table: {error}") from None
    columns = list(table.columns)
    if len(table) > SITE_FILE_LIMITS.max_table_rows:
        raise _error(path, f"界址点表行数过多（{len(table)} 行，上限 {SITE_FILE_LIMITS.max_table_rows}）。",
                     f"the boundary table has too many rows ({len(table)}, limit {SITE_FILE_LIMITS.max_table_rows}).")
    if len(columns) < 3 or len(table) < 3:
        raise _error(path, "界址点表应有三列（点号、X、Y）且至少三个点。", "a boundary table needs three columns (point, X, Y) and at least three rows.")
    points = []
    for row, (number, x, y) in enumerate(zip(table[columns[0]], table[columns[1]], table[columns[2]], strict=True), start=2):
        try:
            points.append(parse_point(f"{x} {y}", crs))
        except InputError as error:
            raise _error(path, f"第 {row} 行（点号 {number}）界址点坐标有误：{error.value}。{error.fix_zh}",
                         f"row {row} (point {number}): bad boundary point {error.value!r}. {error.fix_en}") from None
    ring = [(p.lon, p.lat) for p in points]
    notes = []
    if ring[0] != ring[-1]:
        ring.append(ring[0])
        notes.append("界址点首尾未闭合，已按首点闭合。")
    if len(set(ring)) < 3:
        raise _error(path, "界址点少于三个不同的点，围不成地块。", "fewer than three distinct boundary points: they enclose no parcel.")
    geometry, repair = _repair(path, shapely.Polygon(ring))
    return SiteFile(geometry, path.name, len(points), points[0].crs, tuple(notes + repair + list(points[0].notes)))
