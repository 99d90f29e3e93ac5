"""The reviewer page in headless Debian chromium, offline except for the app on loopback."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
import shapely
from docx import Document

from spatial.layer import project
from tests.browser import OfflinePage, offline_page
from tests.sites import site_near
from tests.test_site_files import write_ovi_kmz
from tests.webapp import running_server

FEN_QUOTE = "禁止在汾河（运城段）河岸两侧2公里"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def app_url(data_dir, layers) -> Iterator[str]:
    with running_server(data_dir) as base:
        yield base


@pytest.fixture()
def session(browser) -> Iterator[OfflinePage]:
    page = offline_page(browser)
    yield page
    page.close()


@pytest.fixture(scope="module")
def mill_site(layers) -> shapely.Point:
    return site_near(layers, "fen_river", "140825", 400)


def open_page(session: OfflinePage, app_url: str) -> None:
    session.page.goto(app_url)
    session.page.wait_for_selector("body[data-ready=true]")
    session.page.frame_locator("#map").locator(".leaflet-container").wait_for()


def wait_for_result(session: OfflinePage) -> str:
    """The check id shown once a result is on the page, after its map has loaded."""
    page = session.page
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    check_id = re.search(r"C\d{8}T\d{6}-[0-9a-f]{12}", page.inner_text("#check-id")).group(0)
    page.wait_for_function("id => document.querySelector('#map').src.includes(id)", arg=check_id)
    frame = page.frame_locator("#map")
    frame.locator(".leaflet-control-layers").wait_for()  # the check map's layer control: the overview has none
    assert frame.locator(".leaflet-overlay-pane path").count() > 0  # the site and its zones are drawn
    return check_id


def assert_offline_clean(session: OfflinePage) -> None:
    assert session.console_errors == [], session.console_errors
    assert session.failed_requests == [] and session.blocked_requests == [], session.failed_requests


def test_pasted_coordinates_show_the_verdict_findings_and_map(session, app_url, mill_site):
    open_page(session, app_url)
    page = session.page
    page.fill("#at", f"北纬{mill_site.y:.7f} 东经{mill_site.x:.7f}")  # latitude first, with Chinese marks
    page.fill("#industry", "造纸")
    page.select_option("#stage", "new")
    page.click("#submit")
    check_id = wait_for_result(session)
    api = httpx.get(f"{app_url}/api/checks/{check_id}").json()["result"]
    assert page.get_attribute("#verdict", "data-verdict") == api["overall"] == "prohibited"
    assert "禁止" in page.inner_text("#verdict")
    table = page.inner_text("#findings")
    assert "YC21-3.1-fen-2km" in table and FEN_QUOTE in table
    groups = api["groups"]
    shown = len(groups["site"]) + sum(f["verdict"] != "compliant" for f in groups["area"]) + len(groups["undetermined"]["undefined"])
    assert page.locator("#findings tbody tr").count() == shown
    assert page.inner_text("#headline") == api["headline"] and api["headline"].startswith("禁止：")
    assert page.locator("#sources tbody tr").count() == len(api["layers"])
    if api.get("units"):
        assert api["units"][0]["code"] in page.inner_text("#units")
    assert_offline_clean(session)


def test_uploaded_kmz_is_checked_as_a_polygon(session, app_url, mill_site, tmp_path):
    centre = project(mill_site, 4326, 4546)
    parcel = project(shapely.box(centre.x - 150, centre.y - 150, centre.x + 150, centre.y + 150), 4546, 4326)
    kmz = tmp_path / "一号地块.kmz"
    write_ovi_kmz(kmz, parcel)
    open_page(session, app_url)
    page = session.page
    page.click("#tab-file")
    page.set_input_files("#file", str(kmz))
    page.fill("#industry", "造纸")
    page.click("#submit")
    check_id = wait_for_result(session)
    site = page.inner_text("#site")
    assert "一号地块.kmz" in site and "用地面积" in site
    record = httpx.get(f"{app_url}/api/checks/{check_id}").json()
    assert record["result"]["site"]["geometry_type"] == "Polygon" and record["channel"] == "api-file"
    assert page.get_attribute("#verdict", "data-verdict") == record["overall"] == "prohibited"
    assert_offline_clean(session)


def test_downloaded_docx_holds_the_verdict_a_citation_and_the_map(session, app_url, mill_site, tmp_path):
    open_page(session, app_url)
    page = session.page
    page.fill("#project", "某纸业年产5万吨生活用纸项目")
    page.fill("#at", f"{mill_site.x:.7f}, {mill_site.y:.7f}")
    page.fill("#industry", "造纸")
    page.click("#submit")
    check_id = wait_for_result(session)
    with page.expect_download(timeout=120_000) as download:
        page.click("#download-docx")
    path = tmp_path / "审查意见.docx"
    download.value.save_as(path)
    document = Document(str(path))
    text = "\n".join([p.text for p in document.paragraphs]
                     + [cell.text for table in document.tables for row in table.rows for cell in row.cells])
    assert "结论：禁止（prohibited）" in text and FEN_QUOTE in text
    assert check_id in text and "某纸业年产5万吨生活用纸项目" in text
    images = [part.blob for part in document.part.package.parts if part.content_type == "image/png"]
    assert len(document.inline_shapes) == 1 and len(images) == 1 and images[0].startswith(PNG_MAGIC)
    assert len(images[0]) > 20_000  # a drawn map, not a placeholder
    assert_offline_clean(session)


def test_clicking_the_map_checks_that_point(session, app_url):
    open_page(session, app_url)
    page = session.page
    page.fill("#industry", "焦化")
    box = page.locator("#map").bounding_box()
    page.frame_locator("#map").locator(".leaflet-container").click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    check_id = wait_for_result(session)
    lon, lat = (float(v) for v in page.input_value("#at").split(","))
    assert page.input_value("#crs") == "wgs84"
    record = httpx.get(f"{app_url}/api/checks/{check_id}").json()
    assert record["result"]["site"]["wgs84"] == {"lon": round(lon, 7), "lat": round(lat, 7)}
    assert 110 < lon < 115 and 34.5 < lat < 40.8 and record["result"]["industry"]["query"] == "焦化"
    assert_offline_clean(session)


def test_bad_coordinates_are_shown_in_chinese_and_english(session, app_url):
    open_page(session, app_url)
    page = session.page
    page.fill("#at", "111.2, 91")
    page.fill("#industry", "造纸")
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])")
    message = page.inner_text("#error")
    assert "输入错误：at" in message and "Input error: at" in message and "纬度" in message
    assert page.is_hidden("#result")
    assert session.failed_requests == [] and session.blocked_requests == []
    assert all("422" in error for error in session.console_errors)  # chromium logs the 422 response itself


def test_industry_box_suggests_from_the_taxonomy(session, app_url):
    open_page(session, app_url)
    page = session.page
    page.fill("#industry", "焦炭")
    page.locator("#industry-list option").first.wait_for(state="attached")
    options = page.eval_on_selector_all("#industry-list option", "nodes => nodes.map(n => n.value)")
    assert "焦化" in options
    assert_offline_clean(session)
