"""Path traversal names and symbolic links inside archives: refused before GDAL resolves them
through /vsizip/, and nothing is written or read outside the archive."""

from __future__ import annotations

import stat
import zipfile

import pytest

from tests.hostile import assert_refused, catalog_state, check_site, siting_bounded, square_kml


@pytest.mark.parametrize("member", ["../../../tmp/evil.shp", "/etc/evil.shp", "C:/evil.shp", "data/../../evil.kml"])
def test_traversal_member_names_are_refused(tmp_path, member):
    path = tmp_path / "红线.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, b"\0" * 100)
    assert_refused(check_site(path), "--site", "红线.zip", "不安全的路径", member)


def test_a_symlink_member_in_a_kmz_is_refused(tmp_path):
    path = tmp_path / "链接.kmz"
    link = zipfile.ZipInfo("doc.kml")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
    assert_refused(check_site(path), "链接.kmz", "符号链接", "doc.kml")


def test_a_symlink_in_a_layer_import_leaves_the_catalog_untouched(tmp_path, user_dir):
    path = tmp_path / "redline.zip"
    link = zipfile.ZipInfo("redline.shp")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(link, "/etc/passwd")
        archive.writestr("doc.kml", square_kml())
    before = catalog_state(user_dir)
    assert_refused(siting_bounded("layers", "import", str(path), "--kind", "redline"), "FILE", "redline.zip", "symbolic link")
    assert catalog_state(user_dir) == before
