"""Read a project's land polygon (用地红线) or line from the files applicants hand in.

KML/KMZ (奥维地图 exports with folders and styles), Shapefile (loose or zipped, GBK or
UTF-8 attributes, with or without .prj), GeoJSON, GeoPackage, DXF, and CSV/Excel
界址点 tables (point number, X, Y in order). Every layer of the file is read and all
features are unioned into one site geometry in WGS84. Invalid rings are repaired with
a note, or refused with the reason.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry.base import BaseGeometry

from spatial.coordinates import UNNAMED_DEGREES_NOTE, geographic_to_wgs84, parse_point, resolve_crs
from spatial.errors import InputError

VECTOR_SUFFIXES = {".kml", ".kmz", ".shp", ".zip", ".geojson", ".json", ".gpkg", ".dxf"}
TABLE_SUFFIXES = {".csv", ".xlsx"}


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
    return InputError("--site", path.name, fix_zh, fix_en)


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
    dataset, notes = _dataset_path(path)
    frame = _read_all_layers(path, dataset)
    if frame.empty or frame.geometry.is_empty.all():
        raise _error(path, "文件中没有任何几何要素。", "the file holds no geometry.")
    frame, crs_text = _with_crs(path, frame, crs, notes)
    geometry, repair = _repair(path, shapely.force_2d(shapely.union_all(frame.to_crs(4326).geometry.values)))
    return SiteFile(geometry, path.name, len(frame), crs_text, tuple(notes + repair))


def _dataset_path(path: Path) -> tuple[str, list[str]]:
    if path.suffix.lower() != ".zip":
        return str(path), []
    try:
        with zipfile.ZipFile(path) as archive:
            shapefiles = [n for n in archive.namelist() if n.lower().endswith(".shp") and not n.startswith("__MACOSX")]
    except zipfile.BadZipFile:
        raise _error(path, "不是有效的 zip 压缩包。", "not a valid zip archive.") from None
    if not shapefiles:
        raise _error(path, "压缩包中没有 .shp 文件；请把 .shp、.shx、.dbf（及 .prj、.cpg）一起压缩。",
                     "the zip holds no .shp; zip the .shp, .shx, .dbf (and .prj, .cpg) together.")
    if len(shapefiles) > 1:
        raise _error(path, f"压缩包中有多个 shapefile（{'、'.join(shapefiles)}），请只放用地红线一个。",
                     f"the zip holds several shapefiles ({', '.join(shapefiles)}); include only the site.")
    return f"/vsizip/{path}/{shapefiles[0]}", [f"读取压缩包内 {shapefiles[0]}"]


def _dbf_encoding(path: Path, dataset: str) -> str | None:
    """GBK unless a .cpg says otherwise or the DBF text decodes as UTF-8."""
    if not dataset.lower().endswith(".shp"):
        return None
    if dataset.startswith("/vsizip/"):
        with zipfile.ZipFile(path) as archive:
            names = {n.lower(): n for n in archive.namelist()}
            stem = dataset.split(str(path) + "/", 1)[1][:-4].lower()
            cpg = archive.read(names[stem + ".cpg"]).decode("ascii", "ignore") if stem + ".cpg" in names else None
            dbf = archive.read(names[stem + ".dbf"]) if stem + ".dbf" in names else b""
    else:
        cpg_path, dbf_path = Path(dataset).with_suffix(".cpg"), Path(dataset).with_suffix(".dbf")
        cpg = cpg_path.read_text("ascii", "ignore") if cpg_path.exists() else None
        dbf = dbf_path.read_bytes() if dbf_path.exists() else b""
    if cpg and cpg.strip():
        return cpg.strip()
    try:
        dbf.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "gbk"


def _read_all_layers(path: Path, dataset: str) -> gpd.GeoDataFrame:
    encoding = _dbf_encoding(path, dataset)
    try:
        layer_names = [name for name, _ in pyogrio.list_layers(dataset)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's unclosed-ring warning; GEOS refuses below
            frames = [pyogrio.read_dataframe(dataset, layer=name, encoding=encoding) for name in layer_names]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise _error(path, f"无法读取该文件：{error}", f"cannot read the file: {error}") from None
    except shapely.errors.GEOSException as error:
        raise _error(path, f"几何无法解析，常见原因是面的环未闭合（首尾点不同）：{error}",
                     f"a geometry cannot be parsed, typically an unclosed ring (first and last point differ): {error}") from None
    frames = [f for f in frames if not f.empty]
    if not frames:
        return gpd.GeoDataFrame(geometry=[], crs=None)
    crs = frames[0].crs
    return gpd.GeoDataFrame(pd.concat([f.to_crs(crs) if f.crs and crs else f for f in frames], ignore_index=True), crs=crs)


def _with_crs(path: Path, frame: gpd.GeoDataFrame, crs: str | None, notes: list[str]) -> tuple[gpd.GeoDataFrame, str]:
    if crs:
        system = resolve_crs(crs)
        if isinstance(system, str):
            return _shift_geographic(path, frame, system), system
        frame = frame.set_crs(system, allow_override=True)
        return frame, f"EPSG:{system.to_epsg()} {system.name}（--crs）"
    if frame.crs is not None:
        return frame, f"{frame.crs.name}（文件自带）"
    x0, y0, x1, y1 = frame.total_bounds
    if -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90:
        notes.append("文件未带坐标系，坐标为经纬度。" + UNNAMED_DEGREES_NOTE)
        return frame.set_crs(4326), "WGS84/CGCS2000（推断）"
    try:
        sample = parse_point(f"{y0} {x0}")  # refuses an easting without a zone number
    except InputError as error:
        raise _error(path, "文件未带坐标系（缺 .prj）。" + error.fix_zh, "the file has no CRS (.prj missing). " + error.fix_en) from None
    notes.extend(sample.notes)
    return frame.set_crs(sample.crs.split(" ")[0]), sample.crs + "（按带号推断）"


def _shift_geographic(path: Path, frame: gpd.GeoDataFrame, system: str) -> gpd.GeoDataFrame:
    """Apply a named geographic system (GCJ-02, BD-09, WGS84, CGCS2000) to every vertex at once."""
    x0, _, x1, _ = frame.total_bounds
    if not -180 <= x0 <= x1 <= 180:
        raise _error(path, f"--crs {system} 是经纬度坐标系，但文件坐标是平面坐标（米）。",
                     f"--crs {system} is geographic but the file is in metres.")
    shifted = shapely.transform(
        frame.geometry.values, lambda xy: np.column_stack(geographic_to_wgs84(system, xy[:, 0], xy[:, 1]))
    )
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=shifted, crs=4326)


def _repair(path: Path, geometry: BaseGeometry) -> tuple[BaseGeometry, list[str]]:
    if geometry.is_empty:
        raise _error(path, "文件中没有任何几何要素。", "the file holds no geometry.")
    if shapely.is_valid(geometry):
        return geometry, []
    reason = shapely.is_valid_reason(geometry)
    repaired = shapely.make_valid(geometry)
    polygonal = shapely.get_dimensions(repaired) == 2 or shapely.get_dimensions(geometry) < 2
    if repaired.is_empty or not polygonal:
        raise _error(path, f"用地红线无效且无法修复：{reason}。", f"the site geometry is invalid and cannot be repaired: {reason}.")
    return repaired, [f"用地红线几何无效（{reason}），已自动修复，请核对面积。"]


def _read_boundary_table(path: Path, crs: str | None) -> SiteFile:
    """A 界址点 table: point number, X, Y per row, in order round the parcel."""
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
    if len(columns) < 3 or len(table) < 3:
        raise _error(path, "界址点表应有三列（点号、X、Y）且至少三个点。", "a boundary table needs three columns (point, X, Y) and at least three rows.")
    try:
        points = [parse_point(f"{x} {y}", crs) for x, y in zip(table[columns[1]], table[columns[2]], strict=True)]
    except InputError as error:
        raise _error(path, f"界址点坐标有误：{error.value}。{error.fix_zh}", f"bad boundary point {error.value!r}. {error.fix_en}") from None
    ring = [(p.lon, p.lat) for p in points]
    notes = []
    if ring[0] != ring[-1]:
        ring.append(ring[0])
        notes.append("界址点首尾未闭合，已按首点闭合。")
    geometry, repair = _repair(path, shapely.Polygon(ring))
    return SiteFile(geometry, path.name, len(points), points[0].crs, tuple(notes + repair + list(points[0].notes)))
