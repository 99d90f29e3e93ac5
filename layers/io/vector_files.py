"""Open the vector files people hand over, as GDAL reads them, with Chinese attributes intact.

Shared by the site reader and the layer importer: zipped or loose Shapefiles (DBF in
GBK/GB18030 or UTF-8, told by the .cpg or the bytes), GeoPackage, GeoJSON, KML/KMZ,
DXF and FileGDB (a .gdb folder, or zipped). Every failure is an InputError naming
the file and what to do.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from layers.io.file_guards import check_archive, check_kml, check_size, loose_shapefile, zipped_shapefile
from spatial.coordinates import describe_crs, geographic_to_wgs84
from spatial.crs import STORAGE_CRS
from spatial.errors import FieldKey, InputError, mention
from spatial.limits import FileLimits


def file_error(field: FieldKey, path: Path, fix_zh: str, fix_en: str) -> InputError:
    return InputError(field, path.name, fix_zh, fix_en)


def dataset_path(path: Path, field: FieldKey, limits: FileLimits, member: str | None = None) -> tuple[str, list[str]]:
    """The GDAL dataset name of a file that passed the guards: a zip is opened in place through /vsizip/."""
    check_size(path, field, limits)
    suffix = path.suffix.lower()
    if suffix == ".kmz":
        check_archive(path, field, limits)
    elif suffix == ".kml":
        check_kml(path, field, limits)
    elif suffix == ".shp":
        loose_shapefile(path, field)
    if suffix != ".zip":
        return str(path), []
    names = [n for n in check_archive(path, field, limits) if not n.startswith("__MACOSX")]
    gdbs = sorted({n.split(".gdb/")[0] + ".gdb" for n in names if ".gdb/" in n.lower()})
    shapefiles = [n for n in names if n.lower().endswith(".shp")]
    candidates = gdbs or shapefiles
    if member is not None:
        candidates = [n for n in candidates if Path(n).stem == member or n == member]
    if not candidates:
        raise file_error(field, path, "压缩包中没有 .shp 文件或 .gdb 文件夹；请把 .shp、.shx、.dbf（及 .prj、.cpg）一起压缩。",
                         "the zip holds no .shp and no .gdb folder; zip the .shp, .shx, .dbf (and .prj, .cpg) together.")
    if len(candidates) > 1:
        raise file_error(field, path, f"压缩包中有多个数据集（{'、'.join(candidates)}），请只放一个，或指明要读哪一个。",
                         f"the zip holds several datasets ({', '.join(candidates)}); include only one or name the one to read.")
    if not gdbs:
        zipped_shapefile(path, field, candidates[0])
    return f"/vsizip/{path}/{candidates[0]}", [f"读取压缩包内 {candidates[0]}"]


def dbf_encoding(path: Path, dataset: str) -> str | None:
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


def read_frame(path: Path, dataset: str, field: FieldKey, limits: FileLimits, layer: str | None = None) -> gpd.GeoDataFrame:
    """Every layer of a dataset (or the named one) as one frame in the first layer's CRS, within the limits."""
    encoding = dbf_encoding(path, dataset)
    try:
        layer_names = [name for name, _ in pyogrio.list_layers(dataset)]
        if layer is not None:
            if layer not in layer_names:
                raise file_error(field, path, f"文件中没有图层 {layer}；现有：{'、'.join(layer_names)}。",
                                 f"the file has no layer {layer}; it has: {', '.join(layer_names)}.")
            layer_names = [layer]
        _check_feature_count(path, dataset, layer_names, field, limits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # GDAL's unclosed-ring warning; GEOS refuses below
            frames = [pyogrio.read_dataframe(dataset, layer=name, encoding=encoding) for name in layer_names]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as error:
        raise file_error(field, path, f"无法读取该文件：{error}", f"cannot read the file: {error}") from None
    except shapely.errors.GEOSException as error:
        raise file_error(field, path, f"几何无法解析，常见原因是面的环未闭合（首尾点不同）：{error}",
                         f"a geometry cannot be parsed, typically an unclosed ring (first and last point differ): {error}") from None
    except (UnicodeDecodeError, LookupError) as error:
        raise file_error(field, path, f"属性表的文字编码无法识别（{error}）；请检查 .cpg 文件（应为 UTF-8 或 GBK）。",
                         f"the attribute encoding cannot be read ({error}); check the .cpg file (UTF-8 or GBK).") from None
    frames = [f for f in frames if not f.empty]
    if not frames:
        return gpd.GeoDataFrame(geometry=[], crs=None)
    vertices = sum(int(shapely.get_num_coordinates(f.geometry.values).sum()) for f in frames)
    if vertices > limits.max_vertices:
        raise file_error(field, path, f"文件顶点过多（{vertices} 个，上限 {limits.max_vertices}）；请抽稀或只提交所需范围。",
                         f"the file has too many vertices ({vertices}, limit {limits.max_vertices}); simplify it or submit only the area needed.")
    crs = frames[0].crs
    return gpd.GeoDataFrame(pd.concat([f.to_crs(crs) if f.crs and crs else f for f in frames], ignore_index=True), crs=crs)


def _check_feature_count(path: Path, dataset: str, layer_names: list[str], field: FieldKey, limits: FileLimits) -> None:
    """Refuse before reading when the layers declare more features than the limit."""
    count = sum(max(pyogrio.read_info(dataset, layer=name)["features"], 0) for name in layer_names)
    if count > limits.max_features:
        raise file_error(field, path, f"文件要素过多（{count} 个，上限 {limits.max_features}）；请只提交所需范围。",
                         f"the file has too many features ({count}, limit {limits.max_features}); submit only the area needed.")


def shift_geographic(path: Path, frame: gpd.GeoDataFrame, system: CRS, field: FieldKey) -> gpd.GeoDataFrame:
    """Apply a geographic system given for the file (GCJ-02, BD-09, WGS84, CGCS2000, …) to every vertex at once."""
    x0, _, x1, _ = frame.total_bounds
    if not -180 <= x0 <= x1 <= 180:
        crs = mention(FieldKey.CRS)
        raise file_error(field, path, f"{crs} {describe_crs(system)} 是经纬度坐标系，但文件坐标是平面坐标（米）；请改为文件实际的投影坐标系。",
                         f"{crs} {describe_crs(system)} is geographic but the file is in metres; give the file's projected CRS.")
    shifted = shapely.transform(
        frame.geometry.values, lambda xy: np.column_stack(geographic_to_wgs84(system, xy[:, 0], xy[:, 1]))
    )
    return gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=shifted, crs=STORAGE_CRS)
