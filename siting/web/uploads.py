"""An uploaded site file, read safely: the client's name never reaches the filesystem.

The bytes are written to a fresh private temporary directory under a fixed name chosen
here (only the suffix is taken from the client, and only from an allow-list). The site
reader then applies the engine's file guards (``layers.io.file_guards``: archive member
count and inflated size, unsafe member names, links, hardened XML) before GDAL reads it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path, PurePosixPath

import shapely
from shapely.geometry.base import BaseGeometry

from layers.io.site_files import read_site
from siting.web.limits import Limits
from siting.web.schemas import api_error
from spatial.errors import FieldKey, InputError

ACCEPTED_SUFFIXES = (".kml", ".kmz", ".zip", ".geojson", ".json", ".gpkg", ".dxf", ".csv", ".xlsx")
FIELD = "file"
_LOG = logging.getLogger(__name__)


def display_name(filename: str | None) -> str:
    """The client's file name for messages and the audit echo only: last path part, printable, bounded."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:120] or "（未命名文件）"


def _refuse(name: str, fix_zh: str, fix_en: str) -> InputError:
    return InputError(FIELD, name, fix_zh, fix_en)


def read_upload(filename: str | None, data: bytes, crs: str | None, limits: Limits) -> tuple[BaseGeometry, dict]:
    """The site geometry (WGS84) and its echo from an uploaded file's bytes."""
    name = display_name(filename)
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in ACCEPTED_SUFFIXES:
        raise _refuse(name, f"不支持的文件类型“{suffix or '无扩展名'}”；"
                            "请上传 KML/KMZ、压缩为 zip 的 Shapefile、GeoJSON、GeoPackage、DXF 或 CSV/Excel 界址点表。",
                      f"unsupported file type {suffix or '(none)'}; upload KML/KMZ, a zipped shapefile, GeoJSON, GeoPackage, DXF or a CSV/XLSX table.")
    if not data:
        raise _refuse(name, "文件为空。", "the file is empty.")
    with tempfile.TemporaryDirectory(prefix="siting-upload-") as work:
        path = Path(work) / f"site{suffix}"
        path.write_bytes(data)
        try:
            site = read_site(path, crs)
        except InputError as error:
            worded = api_error(error)  # the API's words (「坐标系（crs）」), for the page to turn into its labels
            bad_crs = error.field == FieldKey.CRS
            raise InputError(worded.field if bad_crs else FIELD, crs if bad_crs else name, worded.fix_zh, worded.fix_en) from None
        except Exception as error:  # an untrusted file must never become a 500; the reader's gap is logged
            _LOG.exception("site file reader failed on an upload")
            raise _refuse(name, f"无法读取该文件（{type(error).__name__}）；请检查文件是否完整、格式是否正确。",
                          f"cannot read the file ({type(error).__name__}); check that it is complete and well formed.") from None
    vertices = int(shapely.get_num_coordinates(site.geometry))
    if vertices > limits.max_site_vertices:
        raise _refuse(name, f"场址几何过于复杂（{vertices} 个顶点，上限 {limits.max_site_vertices}）。",
                      f"the site geometry is too detailed ({vertices} vertices, limit {limits.max_site_vertices}).")
    return site.geometry, site.to_dict() | {"file": name}
