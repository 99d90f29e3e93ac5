"""Zip bombs in a KMZ and a zipped shapefile: refused from what the archive really inflates to,
in bounded time and memory, before GDAL reads a byte of it."""

from __future__ import annotations

import zipfile

import pytest

from spatial.limits import LAYER_FILE_LIMITS, SITE_FILE_LIMITS, MiB
from tests.hostile import TIME_LIMIT_S, assert_refused, catalog_state, check_site, siting_bounded, square_kml

_ZEROS = b"\0" * MiB


def _bomb(path, member: str, head: bytes, inflated_bytes: int, filler: bytes = _ZEROS) -> None:
    """An archive whose one member inflates to ``inflated_bytes`` but compresses to almost nothing."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, archive.open(member, "w", force_zip64=True) as out:
        out.write(head)
        for _ in range(inflated_bytes // len(filler)):
            out.write(filler)


def test_kmz_bomb_is_refused_at_the_unpacked_size_cap(tmp_path):
    path = tmp_path / "炸弹.kmz"
    _bomb(path, "files/photo.png", b"", SITE_FILE_LIMITS.max_unpacked_bytes + 8 * MiB)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("doc.kml", square_kml())
    assert path.stat().st_size < MiB
    result = check_site(path)
    assert_refused(result, "--site", "炸弹.kmz", "压缩包解压后超过 256 MB 上限", "zip bomb")
    assert result.seconds < TIME_LIMIT_S


def test_kml_document_inflating_past_the_xml_cap_is_refused(tmp_path):
    path = tmp_path / "空白.kmz"
    # A valid KML head followed by whitespace: every XML parser would accept it, only the cap stops it.
    _bomb(path, "doc.kml", square_kml().encode()[:-7], SITE_FILE_LIMITS.max_xml_bytes + MiB, b" " * MiB)
    assert_refused(check_site(path), "空白.kmz", "文档 doc.kml 超过 64 MB 上限")


def test_zipped_shapefile_bomb_is_refused_before_gdal_opens_it(tmp_path):
    path = tmp_path / "红线.zip"
    _bomb(path, "红线.dbf", b"", SITE_FILE_LIMITS.max_unpacked_bytes + 8 * MiB)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("红线.shp", b"\0" * 100)
        archive.writestr("红线.shx", b"\0" * 100)
    assert_refused(check_site(path), "红线.zip", "疑似压缩炸弹")


def test_an_archive_of_too_many_members_is_refused_on_import(tmp_path, user_dir):
    path = tmp_path / "units.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(LAYER_FILE_LIMITS.max_archive_members + 1):
            archive.writestr(f"part{i}.txt", b"")
    before = catalog_state(user_dir)
    result = siting_bounded("layers", "import", str(path), "--kind", "redline")
    assert_refused(result, "FILE", "units.zip", f"压缩包内文件过多（{LAYER_FILE_LIMITS.max_archive_members + 1} 个")
    assert catalog_state(user_dir) == before


@pytest.mark.parametrize("suffix", [".kmz", ".zip"])
def test_a_truncated_archive_is_refused_as_damaged(tmp_path, suffix):
    whole = tmp_path / f"whole{suffix}"
    with zipfile.ZipFile(whole, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("doc.kml" if suffix == ".kmz" else "a.shp", square_kml() * 50)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert_refused(check_site(cut), f"cut{suffix}", "压缩包损坏或无法读取")
