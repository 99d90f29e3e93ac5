"""An uploaded site file, read safely: the client's name never reaches the filesystem.

The bytes are written to a fresh private temporary directory under a fixed name chosen
here (only the suffix is taken from the client, and only from an allow-list); archives
(KMZ, zipped shapefile, XLSX) are inflated in memory first to enforce member-count and
unpacked-size caps on what they really hold, not on what their headers claim.
"""

from __future__ import annotations

import logging
import stat
import tempfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import shapely
from shapely.geometry.base import BaseGeometry

from siting.web.limits import Limits
from spatial.errors import InputError
from spatial.site_files import read_site

ACCEPTED_SUFFIXES = (".kml", ".kmz", ".zip", ".geojson", ".json", ".gpkg", ".dxf", ".csv", ".xlsx")
ARCHIVE_SUFFIXES = {".kmz", ".zip", ".xlsx"}
FIELD = "file"
_CHUNK = 1024 * 1024
_LOG = logging.getLogger(__name__)


def display_name(filename: str | None) -> str:
    """The client's file name for messages and the audit echo only: last path part, printable, bounded."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:120] or "（未命名文件）"


def _refuse(name: str, fix_zh: str, fix_en: str) -> InputError:
    return InputError(FIELD, name, fix_zh, fix_en)


def check_archive(path: Path, name: str, limits: Limits) -> None:
    """Refuse an archive with too many members, unsafe member names or links, or too much inside."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > limits.max_archive_members:
                raise _refuse(name, f"压缩包内文件过多（{len(members)} 个，上限 {limits.max_archive_members}）。",
                              f"the archive holds too many members ({len(members)}, limit {limits.max_archive_members}).")
            unpacked = 0
            for member in members:
                parts = PurePosixPath(member.filename.replace("\\", "/")).parts
                if member.filename.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                    raise _refuse(name, f"压缩包内含不安全的路径“{member.filename}”。", f"the archive holds an unsafe path {member.filename!r}.")
                if stat.S_ISLNK(member.external_attr >> 16):
                    raise _refuse(name, f"压缩包内含符号链接“{member.filename}”。", f"the archive holds a symbolic link {member.filename!r}.")
                with archive.open(member) as stream:
                    while chunk := stream.read(_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > limits.max_unpacked_bytes:
                            mb = limits.max_unpacked_bytes // 1024 // 1024
                            raise _refuse(name, f"压缩包解压后超过 {mb} MB 上限（疑似压缩炸弹）。",
                                          f"the archive unpacks to more than {mb} MB (a zip bomb?).")
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as error:
        raise _refuse(name, f"压缩包损坏或无法读取：{error}", f"the archive is damaged or unreadable: {error}") from None


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
        if suffix in ARCHIVE_SUFFIXES:
            check_archive(path, name, limits)
        try:
            site = read_site(path, crs)
        except InputError as error:
            field = "crs" if error.field == "--crs" else FIELD
            raise InputError(field, crs if field == "crs" else name, error.fix_zh, error.fix_en) from None
        except Exception as error:  # an untrusted file must never become a 500; the reader's gap is logged
            _LOG.exception("site file reader failed on an upload")
            raise _refuse(name, f"无法读取该文件（{type(error).__name__}）；请检查文件是否完整、格式是否正确。",
                          f"cannot read the file ({type(error).__name__}); check that it is complete and well formed.") from None
    vertices = int(shapely.get_num_coordinates(site.geometry))
    if vertices > limits.max_site_vertices:
        raise _refuse(name, f"场址几何过于复杂（{vertices} 个顶点，上限 {limits.max_site_vertices}）。",
                      f"the site geometry is too detailed ({vertices} vertices, limit {limits.max_site_vertices}).")
    return site.geometry, site.to_dict() | {"file": name}
