"""The reviewer page in headless Debian chromium, offline except for the app on loopback."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import httpx
import pytest
import shapely
from docx import Document

from layers import catalog
from spatial.layer import project
from tests.browser import LAPTOP, OfflinePage
from tests.test_site_files import write_ovi_kmz
from tests.webapp import open_page

FEN_QUOTE = "禁止在汾河（运城段）河岸两侧2公里"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def wait_for_result(session: OfflinePage, zones: bool = True) -> str:
    """The check id shown once a result is on the page, after its map has loaded."""
    page = session.page
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    check_id = re.search(r"C\d{8}T\d{6}-[0-9a-f]{12}", page.inner_text("#check-id")).group(0)
    page.wait_for_function("id => document.querySelector('#map').src.includes(id)", arg=check_id)
    frame = page.frame_locator("#map")
    frame.locator(".leaflet-control-layers").wait_for()  # the check map's layer control: the overview has none
    if zones:
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
        assert api["units"][0]["code"] in page.text_content("#units")  # folded, there to open
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
    page.wait_for_selector("[data-field=at] .field-error")
    message = page.inner_text("[data-field=at] .field-error")
    assert "输入错误：坐标" in message and "Input error: at" in message and "纬度" in message
    assert page.get_attribute("#at", "aria-invalid") == "true"
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


def map_ready(session: OfflinePage, check_id: str | None = None) -> None:
    """Wait until the map frame holds the check's map (or the overview) with its page bridge running."""
    session.page.wait_for_function("""id => { const frame = document.querySelector('#map');
        const doc = frame.contentDocument;
        return doc && doc.body && doc.body.dataset.bridge === 'ready'
            && (id ? frame.contentWindow.location.href.includes(id) : frame.contentWindow.location.pathname === '/api/overview-map'); }""",
                                   arg=check_id, timeout=60_000)


def check_at(session: OfflinePage, app_url: str, at: str, industry: str = "造纸", zones: bool = True) -> str:
    page = session.page
    page.fill("#at", at)
    page.fill("#industry", industry)
    page.click("#submit")
    check_id = wait_for_result(session, zones)
    map_ready(session, check_id)
    return check_id


def test_a_failed_check_leaves_no_old_result(session, app_url, mill_site):
    open_page(session, app_url)
    page = session.page
    check_at(session, app_url, f"{mill_site.x:.7f}, {mill_site.y:.7f}")
    assert page.locator("#findings tbody tr").count() > 0
    for bad, field in (("3938552 514297", "at"), ("111.2", "at")):  # GK easting without its zone; one number
        page.fill("#at", bad)
        page.click("#submit")
        page.wait_for_selector(f"[data-field={field}] .field-error")
        assert page.is_hidden("#summary") and page.is_hidden("#result")
        assert page.locator("#findings tbody tr").count() == 0 and page.inner_text("#verdict") == ""
        assert page.get_attribute("#download-docx", "href") is None
        assert page.locator(".field-error").count() == 1 and page.is_hidden("#error")
        map_ready(session)  # the map is the overview again, not the last check's
    page.fill("#at", f"{mill_site.x:.7f}, {mill_site.y:.7f}")
    page.fill("#industry", "")
    page.click("#submit")
    page.wait_for_selector("[data-field=industry] .field-error")
    assert page.locator(".field-error").count() == 1 and page.is_hidden("#summary")


def test_verdict_headline_and_deciding_finding_fit_above_the_fold(session, app_url, mill_site):
    open_page(session, app_url)
    page = session.page
    check_id = check_at(session, app_url, f"{mill_site.x:.7f}, {mill_site.y:.7f}")
    api = httpx.get(f"{app_url}/api/checks/{check_id}").json()["result"]
    assert page.inner_text("#headline") == api["headline"]
    fold = LAPTOP[1]
    for selector in ("#verdict", "#decisive"):
        box = page.locator(selector).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= fold, (selector, box)
    decisive = page.inner_text("#decisive")
    assert "YC21-3.1-fen-2km" in decisive and FEN_QUOTE in decisive and "禁止" in decisive
    basis = page.inner_text("#basis")
    assert f"代码 {'、'.join(api['industry']['codes'])}" in basis and "新建" in basis
    applied = [plan["title"] for plan in api["plans"] if plan["applies"]]
    assert applied and all(title in page.text_content("#basis") for title in applied)
    assert page.locator("#result details").count() >= 5  # the rest folds open
    # From the findings table, the zone's popup opens in the map.
    page.locator("#findings tbody tr", has_text="YC21-3.1-fen-2km").locator("button.show-zone").click()
    popup = page.frame_locator("#map").locator(".leaflet-popup-content")
    popup.wait_for()
    assert "YC21-3.1-fen-2km" in popup.inner_text() and page.evaluate("() => document.body.dataset.checkId") == check_id
    assert_offline_clean(session)


def test_a_site_outside_shanxi_is_not_applicable_never_green(session, app_url):
    open_page(session, app_url)
    page = session.page
    check_at(session, app_url, "116.40, 39.90", zones=False)  # 北京: no Shanxi zone or county near
    assert page.get_attribute("#verdict", "data-verdict") == "not_applicable"
    assert "不适用" in page.inner_text("#verdict") and "符合" not in page.inner_text("#verdict-label")
    red, green, blue = (int(v) for v in re.findall(r"\d+", page.eval_on_selector("#verdict", "n => getComputedStyle(n).backgroundColor"))[:3])
    assert not (green > red + 40 and green > blue + 40)  # grey, not the green of 符合
    assert "不在山西省境内" in page.inner_text("#basis")
    assert_offline_clean(session)


# In a check map: `map`, and `at`, the site marker's container point.
SITE_JS = """const map = window[document.querySelector('.folium-map').id]; let site = null;
    map.eachLayer(l => { const el = l.getElement && l.getElement();
        if (el && el.querySelector && el.querySelector('.siting-site-icon')) site = l.getLatLng(); });
    const at = map.latLngToContainerPoint(site);"""


def _zone_point(session: OfflinePage, wait_ms: int = 15_000) -> dict | None:
    """A point of the check map, off the site marker, where a zone (a clickable path) lies on top; the
    zones' paths are drawn after the map reports ready on a loaded machine, so they are looked for a while."""
    for _ in range(wait_ms // 250):
        point = _zone_point_now(session)
        if point is not None:
            return point
        session.page.wait_for_timeout(250)
    return _zone_point_now(session)


def _zone_point_now(session: OfflinePage) -> dict | None:
    return session.page.frame_locator("#map").locator("body").evaluate("""() => {
        """ + SITE_JS + """
        for (const [dx, dy] of [[60, 40], [-60, 40], [60, -40], [-60, -40], [90, 0], [-90, 0], [0, 90]]) {
            const x = at.x + dx, y = at.y + dy;
            const hit = document.elementFromPoint(x, y);
            if (hit && hit.matches('path.leaflet-interactive')) {
                const ll = map.containerPointToLatLng([x, y]);
                return {x, y, lon: ll.lng, lat: ll.lat};
            }
        }
        return null; }""")


def test_a_click_on_a_zone_checks_that_point_and_shift_opens_its_popup(session, app_url, mill_site):
    open_page(session, app_url)
    page = session.page
    first = check_at(session, app_url, f"{mill_site.x:.7f}, {mill_site.y:.7f}")
    point = _zone_point(session)
    assert point is not None, "no zone under the points tried round the site"
    container = page.frame_locator("#map").locator(".folium-map")
    container.click(position={"x": point["x"], "y": point["y"]})
    page.wait_for_function("id => document.body.dataset.checkId && document.body.dataset.checkId !== id", arg=first, timeout=60_000)
    second = page.evaluate("document.body.dataset.checkId")
    map_ready(session, second)
    site = httpx.get(f"{app_url}/api/checks/{second}").json()["result"]["site"]["wgs84"]
    # The point clicked (to a pixel or two, about 30 m here), not the site 60–90 px away.
    assert site["lon"] == pytest.approx(point["lon"], abs=3e-4) and site["lat"] == pytest.approx(point["lat"], abs=3e-4)
    assert abs(site["lon"] - mill_site.x) + abs(site["lat"] - mill_site.y) > 1e-3
    # With Shift the zone's popup opens and no check runs.
    point = _zone_point(session)
    page.frame_locator("#map").locator(".folium-map").click(position={"x": point["x"], "y": point["y"]}, modifiers=["Shift"])
    popup = page.frame_locator("#map").locator(".leaflet-popup-content")
    popup.wait_for()
    assert "“" in popup.inner_text()  # a finding's quote
    page.wait_for_timeout(300)
    assert page.evaluate("document.body.dataset.checkId") == second and page.is_hidden("#busy")
    assert_offline_clean(session)


def test_a_polygon_drawn_on_the_map_gets_the_answer_of_the_same_polygon_uploaded(session, app_url, mill_site, tmp_path):
    open_page(session, app_url)
    page = session.page
    check_at(session, app_url, f"{mill_site.x:.7f}, {mill_site.y:.7f}")
    frame = page.frame_locator("#map")
    frame.locator(".leaflet-pm-icon-polygon").click()
    centre = frame.locator("body").evaluate(f"() => {{ {SITE_JS} return at; }}")
    corners = [(-70, -50), (80, -60), (90, 60), (-60, 70)]
    for dx, dy in [*corners, corners[0]]:  # back to the first vertex closes the polygon
        frame.locator(".folium-map").click(position={"x": centre["x"] + dx, "y": centre["y"] + dy})
        page.wait_for_timeout(150)
    check_id = wait_for_result(session)
    record = httpx.get(f"{app_url}/api/checks/{check_id}").json()
    assert record["channel"] == "api-file" and record["result"]["site"]["geometry_type"] == "Polygon"
    assert "地图上绘制的多边形" in page.inner_text("#pane-drawn")
    drawn = shapely.from_wkb(bytes.fromhex(record["site_wkb"]))
    upload = tmp_path / "同一地块.geojson"
    upload.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(drawn)}]}), encoding="utf-8")
    token = httpx.get(f"{app_url}/api/csrf-token").json()["token"]
    answer = httpx.post(f"{app_url}/api/check/file", files={"file": (upload.name, upload.read_bytes(), "application/geo+json")},
                        data={"industry": "造纸", "stage": "new"}, headers={"X-CSRF-Token": token, "Origin": app_url},
                        timeout=60).json()
    assert shapely.equals_exact(shapely.from_wkb(bytes.fromhex(httpx.get(
        f"{app_url}/api/checks/{answer['audit']['check_id']}").json()["site_wkb"])), drawn, 1e-9)
    shown = record["result"]
    assert (answer["overall"], answer["headline"]) == (shown["overall"], shown["headline"])
    assert [(f["rule"], f["verdict"]) for f in answer["findings"]] == [(f["rule"], f["verdict"]) for f in shown["findings"]]
    assert page.get_attribute("#verdict", "data-verdict") == shown["overall"]
    assert_offline_clean(session)


def test_place_search_centres_the_map_without_a_geocoder(session, app_url):
    open_page(session, app_url)
    page = session.page
    map_ready(session)
    page.fill("#place", "闻喜")
    page.press("#place", "Enter")
    frame = page.frame_locator("#map")
    frame.locator(".siting-found-label", has_text="闻喜县").wait_for()
    centre = frame.locator("body").evaluate("() => window[document.querySelector('.folium-map').id].getCenter()")
    county = httpx.get(f"{app_url}/api/places", params={"q": "闻喜县"}).json()["places"][0]
    west, south, east, north = county["bounds"]
    assert county["kind"] == "县（市、区）" and west < centre["lng"] < east and south < centre["lat"] < north
    assert "闻喜县" in page.inner_text("#place-status")
    page.fill("#place", "不存在的地方")
    page.press("#place", "Enter")
    page.wait_for_function("() => document.querySelector('#place-status').textContent.includes('未找到')")
    assert_offline_clean(session)


def test_industry_suggestions_are_distinct_and_insert_what_resolves_to_their_code(session, app_url):
    open_page(session, app_url)
    page = session.page
    page.fill("#industry", "造纸")
    page.locator("#industry-list option").first.wait_for(state="attached")
    options = page.eval_on_selector_all("#industry-list option", "nodes => nodes.map(n => [n.value, n.label, n.dataset.codes])")
    assert len({value for value, _, _ in options}) == len(options) and len({codes for _, _, codes in options}) == len(options)
    taxonomy = catalog.taxonomy()
    for value, label, codes in options:
        assert f"代码 {codes}" in label
        assert "、".join(sorted(taxonomy.resolve(value).codes)) == codes, (value, codes)
    assert "222" in [codes for _, _, codes in options]  # 造纸 (class 222) is offered as well as the 造纸 term (221、222)
    assert_offline_clean(session)


def test_exit_has_its_own_colour_and_overdue_deadlines_are_marked(session, app_url):
    """An existing steel plant in 稷山's planning area: 退出, not the orange of 限制; 已逾期 stands out."""
    open_page(session, app_url)
    page = session.page
    page.select_option("#stage", "existing")
    page.fill("#project", "稷山县铭福钢铁制品有限公司高炉")
    check_id = check_at(session, app_url, "110.979, 35.62", industry="钢铁")
    api = httpx.get(f"{app_url}/api/checks/{check_id}").json()["result"]
    assert api["overall"] == page.get_attribute("#verdict", "data-verdict") == "exit"
    colour = page.eval_on_selector("#verdict", "n => getComputedStyle(n).backgroundColor")
    page.evaluate("() => { const probe = document.createElement('div'); probe.id = 'probe'; probe.className = 'verdict restricted';"
                  " document.body.appendChild(probe); }")
    assert colour != page.eval_on_selector("#probe", "n => getComputedStyle(n).backgroundColor")
    overdue = [f for f in api["findings"] if f["overdue"] and f["deadline"]]
    assert overdue
    marked = page.locator("#findings .deadline.overdue").all_text_contents()
    assert "期限 2025-12-31（已逾期）" in marked  # YC21-6.3-steel-water-reuse, 限制 across 运城
    for finding in overdue:
        if finding in api["groups"]["site"] + api["groups"]["area"] + api["groups"]["undetermined"]["undefined"]:
            assert f"期限 {finding['deadline']}（已逾期）" in marked
    assert_offline_clean(session)


def classify_in_planner(session: OfflinePage, app_url: str, region: str, industry: str, stage: str = "new") -> None:
    open_page(session, app_url)
    page = session.page
    page.click("#page-planner")
    page.fill("#planner-region", region)
    page.fill("#planner-industry", industry)
    page.select_option("#planner-stage", stage)
    page.click("#planner-submit")


def test_planner_tab_classifies_a_region_shows_its_map_table_and_downloads(session, app_url, layers, rules, tmp_path):
    from maps.region import resolve_region
    from spatial.rules import Stage
    from spatial.siting_classes import RegionClassifier

    classify_in_planner(session, app_url, "运城市", "焦化")
    page = session.page
    page.wait_for_selector("#planner-result:not([hidden])", timeout=120_000)
    assert not page.is_visible("#check-form") and not page.is_visible("#map")
    frame = page.frame_locator("#planner-map")
    frame.locator(".leaflet-control-layers").wait_for(timeout=60_000)
    assert frame.locator(".leaflet-overlay-pane path").count() > 0
    region = resolve_region("运城市", layers)
    expected = RegionClassifier(region.code, region.geometry, rules, layers).classify(catalog.taxonomy().resolve("焦化"), Stage.NEW)
    present = [c for c in expected.classes if not c.geometry.is_empty]
    rows = page.eval_on_selector_all("#planner-classes tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    assert [row[0] for row in rows] == [c.name for c in present]
    assert "禁止" in {row[0] for row in rows} and len(rows) >= 3
    for row, cls in zip(rows, present, strict=True):
        assert float(row[1].replace(",", "")) == pytest.approx(cls.area_km2, abs=0.006)
    counties = page.eval_on_selector_all("#planner-counties tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
    assert "盐湖区" in counties and "全域" in counties
    with page.expect_download() as download:
        page.click("#planner-gpkg")
    saved = tmp_path / "classes.gpkg"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"SQLite format 3\x00")
    frame_classes = gpd.read_file(saved, layer="classes")
    assert list(frame_classes["class"]) == [c.name for c in present]
    assert frame_classes.crs.to_epsg() == expected.epsg
    tif = httpx.get(app_url + page.get_attribute("#planner-tif", "href"), timeout=60)
    assert tif.status_code == 200 and tif.content[:4] in (b"II*\x00", b"MM\x00*")
    assert_offline_clean(session)


def test_planner_tab_names_a_region_it_cannot_find_in_both_languages(session, app_url):
    classify_in_planner(session, app_url, "火星市", "焦化")
    page = session.page
    error = page.wait_for_selector('[data-field="region"] .field-error')
    assert "山西省行政区划中没有该名称或代码" in error.inner_text() and "Shanxi city or county" in error.inner_text()
    assert page.get_attribute("#planner-region", "aria-invalid") == "true"
    assert page.is_hidden("#planner-result") and page.get_attribute("#planner-map", "src") is None
    assert all("422" in message for message in session.console_errors)  # chromium logs the 422 response itself
