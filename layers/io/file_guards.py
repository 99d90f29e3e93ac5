"""Checks a file must pass before GDAL reads it: size, archive contents, XML, shapefile headers.

GDAL trusts what it is given: it inflates whatever a zip holds, follows member names
such as ``../../x.shp`` through /vsizip/, and reads a truncated .shp or .dbf as far as
it goes, silently dropping the rest. So every archive is inflated here first, counting
what it really holds against ``spatial.limits``; member names and symbolic links are
refused; KML is parsed by defusedxml (no DTD, no entities) before GDAL's parser sees
it; and a shapefile's header lengths must match its files' real sizes.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from xml.sax import SAXException
from xml.sax.handler import ContentHandler

import defusedxml.sax
from defusedxml import DefusedXmlException

from spatial.errors import FieldKey, InputError
from spatial.limits import FileLimits, MiB

_CHUNK = MiB
_XML_MEMBERS = (".kml", ".xml", ".rels")  # KMZ documents; the parts of an XLSX


def _refuse(field: FieldKey, path: Path, fix_zh: str, fix_en: str) -> InputError:
    return InputError(field, path.name, fix_zh, fix_en)


def check_size(path: Path, field: FieldKey, limits: FileLimits) -> None:
    """Refuse a file (or a .gdb folder) larger than the limit before reading any of it."""
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    if size > limits.max_file_bytes:
        cap = limits.max_file_bytes // MiB
        raise _refuse(field, path, f"文件过大（{size / MiB:.0f} MB，上限 {cap} MB）；请只提交所需范围的数据。",
                      f"the file is too large ({size / MiB:.0f} MB, limit {cap} MB); submit only the area needed.")


def check_archive(path: Path, field: FieldKey, limits: FileLimits) -> list[str]:
    """The member names of a zip/KMZ, after refusing bombs, unsafe names, links and KML with a DTD."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > limits.max_archive_members:
                raise _refuse(field, path, f"压缩包内文件过多（{len(members)} 个，上限 {limits.max_archive_members}）。",
                              f"the archive holds too many members ({len(members)}, limit {limits.max_archive_members}).")
            for member in members:
                _check_member_name(member, path, field)
            unpacked = 0
            for member in members:
                xml = member.filename.lower().endswith(_XML_MEMBERS)
                parser = _KmlCheck(path, field, member.filename) if xml else None
                with archive.open(member) as stream:
                    while chunk := stream.read(_CHUNK):
                        unpacked += len(chunk)
                        if unpacked > limits.max_unpacked_bytes:
                            cap = limits.max_unpacked_bytes // MiB
                            raise _refuse(field, path, f"压缩包解压后超过 {cap} MB 上限（疑似压缩炸弹），未读取。",
                                          f"the archive inflates to more than {cap} MB (a zip bomb?); it was not read.")
                        if parser:
                            parser.feed(chunk, limits)
                if parser:
                    parser.close()
            return [m.filename for m in members]
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as error:
        raise _refuse(field, path, f"压缩包损坏或无法读取（{error}）；请重新压缩后提交。",
                      f"the archive is damaged or unreadable ({error}); zip it again.") from None


def _check_member_name(member: zipfile.ZipInfo, path: Path, field: FieldKey) -> None:
    name = member.filename
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]) or "\x00" in name:
        raise _refuse(field, path, f"压缩包内含不安全的路径“{name}”（绝对路径或 ..），未读取；请只压缩数据文件本身。",
                      f"the archive holds an unsafe member path {name!r} (absolute or '..'); it was not read.")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise _refuse(field, path, f"压缩包内含符号链接“{name}”，未读取；请压缩文件本身而非链接。",
                      f"the archive holds a symbolic link {name!r}; it was not read. Zip the files, not links.")


class _Stop(ContentHandler):
    """Parse for well-formedness and safety only: keep nothing."""


class _KmlCheck:
    """Incremental defusedxml parse of one KML document: refuses DTDs, entities and oversize."""

    def __init__(self, path: Path, field: FieldKey, member: str) -> None:
        self.path, self.field, self.member = path, field, member
        self.parser = defusedxml.sax.make_parser()
        self.parser.setFeature("http://xml.org/sax/features/external-general-entities", False)
        self.parser.forbid_dtd = True
        self.parser.forbid_entities = True
        self.parser.forbid_external = True
        self.parser.setContentHandler(_Stop())
        self.size = 0

    def feed(self, data: bytes, limits: FileLimits) -> None:
        self.size += len(data)
        if self.size > limits.max_xml_bytes:
            cap = limits.max_xml_bytes // MiB
            raise _refuse(self.field, self.path, f"文档 {self.member} 超过 {cap} MB 上限。",
                          f"the document {self.member} exceeds the {cap} MB limit.")
        self._run(self.parser.feed, data)

    def close(self) -> None:
        self._run(self.parser.close)

    def _run(self, step, *args) -> None:
        try:
            step(*args)
        except DefusedXmlException:
            raise _refuse(self.field, self.path,
                          f"XML/KML 文档 {self.member} 含 DOCTYPE/实体声明（可能引用外部文件或无限展开），出于安全不予读取；"
                          "请从原软件重新导出标准文件。",
                          f"the XML/KML document {self.member} declares a DOCTYPE or entities (external files or "
                          "exponential expansion); it is refused for safety. Export a plain file again.") from None
        except SAXException as error:
            raise _refuse(self.field, self.path, f"文档 {self.member} 不是合法的 XML（{error}）；请重新导出。",
                          f"the document {self.member} is not well-formed XML ({error}); export it again.") from None


def check_kml(path: Path, field: FieldKey, limits: FileLimits) -> None:
    """A loose .kml parsed by the hardened parser, in chunks."""
    parser = _KmlCheck(path, field, path.name)
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            parser.feed(chunk, limits)
    parser.close()


def check_shapefile(path: Path, field: FieldKey, sizes: dict[str, int], headers: dict[str, bytes]) -> None:
    """Refuse a .shp/.shx/.dbf shorter than its header says (a truncated copy or upload).

    ``sizes`` and ``headers`` are keyed by lower-case suffix (".shp", ".shx", ".dbf"):
    the real byte size of each file and its first 32 bytes.
    """
    for suffix in (".shp", ".shx"):
        header = headers.get(suffix)
        if header is None:
            continue
        if len(header) < 28 or struct.unpack(">i", header[:4])[0] != 9994:
            _truncated(path, field, suffix, "文件头无效", "invalid header")
        declared = struct.unpack(">i", header[24:28])[0] * 2
        if sizes[suffix] < declared:
            _truncated(path, field, suffix, f"文件头写明 {declared} 字节，实际只有 {sizes[suffix]} 字节",
                       f"its header says {declared} bytes but it has {sizes[suffix]}")
    header = headers.get(".dbf")
    if header is not None:
        if len(header) < 12:
            _truncated(path, field, ".dbf", "文件头不完整", "incomplete header")
        records, header_length, record_length = struct.unpack("<IHH", header[4:12])
        declared = header_length + records * record_length
        if sizes[".dbf"] < declared:
            _truncated(path, field, ".dbf", f"文件头写明 {records} 条记录共 {declared} 字节，实际只有 {sizes['.dbf']} 字节",
                       f"its header declares {records} records in {declared} bytes but it has {sizes['.dbf']}")


def _truncated(path: Path, field: FieldKey, suffix: str, why_zh: str, why_en: str) -> None:
    raise _refuse(field, path, f"Shapefile 的 {suffix} 文件不完整（{why_zh}），可能复制或上传时被截断；请重新导出或重新拷贝完整文件。",
                  f"the shapefile's {suffix} file is truncated ({why_en}); export or copy the complete files again.")


def loose_shapefile(path: Path, field: FieldKey) -> None:
    """check_shapefile on a .shp and its sidecars on disk."""
    sizes, headers = {}, {}
    for suffix in (".shp", ".shx", ".dbf"):
        sidecar = next((p for p in (path.with_suffix(suffix), path.with_suffix(suffix.upper())) if p.exists()), None)
        if sidecar is not None:
            sizes[suffix] = sidecar.stat().st_size
            with sidecar.open("rb") as handle:
                headers[suffix] = handle.read(32)
    check_shapefile(path, field, sizes, headers)


def zipped_shapefile(path: Path, field: FieldKey, shp_member: str) -> None:
    """check_shapefile on a .shp inside a zip and its sidecars there."""
    stem = shp_member[:-4].lower()
    sizes, headers = {}, {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.lower()
            if name[:-4] == stem and name[-4:] in (".shp", ".shx", ".dbf"):
                sizes[name[-4:]] = info.file_size
                with archive.open(info) as stream:
                    headers[name[-4:]] = stream.read(32)
    check_shapefile(path, field, sizes, headers)
