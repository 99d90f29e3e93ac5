"""XML external entities and billion-laughs in KML and KMZ: the hardened parser (defusedxml)
refuses any DTD before GDAL's parser sees the document; a plain KML still reads."""

from __future__ import annotations

import zipfile

import pytest

from layers.io.site_files import read_site
from tests.hostile import TIME_LIMIT_S, assert_refused, catalog_state, check_site, siting_bounded, square_kml

XXE = '<!DOCTYPE kml [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
LAUGHS = "<!DOCTYPE kml [<!ENTITY l0 \"ha\">" + "".join(
    f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)) + "]>\n"
PARAMETER = '<!DOCTYPE kml [<!ENTITY % remote SYSTEM "http://127.0.0.1:9/evil.dtd"> %remote;]>\n'
CASES = {"xxe": (XXE, "&secret;"), "billion_laughs": (LAUGHS, "&l9;"), "parameter_entity": (PARAMETER, "x")}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("suffix", [".kml", ".kmz"])
def test_a_dtd_in_a_site_file_is_refused_quickly(tmp_path, case, suffix):
    doctype, name = CASES[case]
    text = square_kml(doctype=doctype, name=name)
    path = tmp_path / f"site{suffix}"
    if suffix == ".kml":
        path.write_text(text, encoding="utf-8")
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("doc.kml", text)
    result = check_site(path)
    assert_refused(result, "--site", f"site{suffix}", "DOCTYPE/实体声明", "refused for safety")
    assert "root:" not in result.err + result.out  # nothing of /etc/passwd leaks into the answer
    assert result.seconds < TIME_LIMIT_S


def test_a_dtd_in_an_imported_layer_is_refused_and_the_catalog_kept(tmp_path, user_dir):
    path = tmp_path / "redline.kml"
    path.write_text(square_kml(doctype=XXE, name="&secret;"), encoding="utf-8")
    before = catalog_state(user_dir)
    assert_refused(siting_bounded("layers", "import", str(path), "--kind", "redline"), "FILE", "redline.kml", "DOCTYPE")
    assert catalog_state(user_dir) == before


def test_malformed_xml_is_refused_with_its_position(tmp_path):
    path = tmp_path / "broken.kml"
    path.write_text(square_kml().replace("</Placemark>", ""), encoding="utf-8")
    assert_refused(check_site(path), "broken.kml", "不是合法的 XML", "mismatched tag")


def test_the_same_kml_without_a_dtd_reads(tmp_path):
    path = tmp_path / "plain.kml"
    path.write_text(square_kml(), encoding="utf-8")
    site = read_site(path)
    assert site.geometry.geom_type == "Polygon" and site.features == 1
