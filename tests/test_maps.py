"""Map pages opened in headless Debian chromium with the network cut off (tests/browser.py).

Every page must load with no console error and no request leaving the machine, draw
something in the map pane, list the expected layers in the layer control and show the
demonstration banner exactly while demonstration layers are on the map.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image

from layers import catalog
from maps.check_map import write_check_map
from maps.region import region_zones
from maps.region_map import write_region_map
from maps.style import zone_style
from spatial.checker import check
from spatial.rules import Stage
from tests.browser import offline_page
from tests.sites import site_near

LEAFLET_BACKGROUND = (221, 221, 221)
MAX_REGION_HTML_BYTES = 3_000_000


def _paper_site(layers, rules, point: shapely.Point):
    return check(point, catalog.taxonomy().resolve("造纸"), Stage.NEW, rules, layers)


@pytest.fixture(scope="module")
def fen_check(layers, rules):
    """A paper mill 400 m from the Fen in 新绛县: inside the 运城 2 km ban."""
    return _paper_site(layers, rules, site_near(layers, "fen_river", "140825", 400))


@pytest.fixture(scope="module")
def taiyuan_check(layers, rules):
    """A site by the Fen in 清徐县 (太原): outside every demonstration layer's coverage."""
    return _paper_site(layers, rules, site_near(layers, "fen_river", "140121", 3000))


class Page:
    """A map page loaded offline, with what a test needs to look at."""

    def __init__(self, browser, path: Path) -> None:
        self.session = offline_page(browser)
        self.page = self.session.page
        self.page.goto(path.as_uri())
        self.page.wait_for_load_state("load")
        self.page.wait_for_timeout(300)

    def overlays(self) -> list[str]:
        return [t.strip() for t in self.page.locator(".leaflet-control-layers-overlays label").all_inner_texts()]

    def map_pixels(self) -> np.ndarray:
        shot = self.page.locator(".folium-map").screenshot()
        return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)

    def banner_visible(self) -> bool:
        return self.page.locator("#siting-demo-banner").is_visible()

    def assert_clean(self) -> None:
        assert self.session.console_errors == []
        assert self.session.failed_requests == []
        assert self.session.blocked_requests == []


def drawn_share(pixels: np.ndarray) -> float:
    """Share of the map pane that is not Leaflet's empty background."""
    return float((np.abs(pixels - LEAFLET_BACKGROUND).sum(axis=2) > 30).mean())


def has_colour(pixels: np.ndarray, hex_colour: str, tolerance: int = 60) -> bool:
    rgb = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(pixels - rgb).sum(axis=2) < tolerance).any())


def test_check_map_offline_with_zone_distance_and_popup(browser, layers, fen_check, tmp_path):
    path = write_check_map(fen_check, layers, tmp_path / "check.html")
    page = Page(browser, path)
    try:
        page.assert_clean()
        overlays = page.overlays()
        assert "汾河干流" in overlays
        assert "汾河（运城段）沿岸2000米（YC21-3.1-fen-2km）" in overlays
        assert {"距离量算线（米）", "场址"} <= set(overlays)
        pixels = page.map_pixels()
        assert drawn_share(pixels) > 0.5  # the 2 km zone fills the view round a site 400 m from the river
        assert has_colour(pixels, "#1f6fb2")  # the river line is drawn
        distance = next(f for f in fen_check.findings if f.rule.id == "YC21-3.1-fen-2km").distance_m
        assert page.page.locator(".siting-distance-label", has_text=f"至汾河干流 {distance:,.0f} 米").count() == 1
        page.page.locator(".leaflet-control-scale-line").wait_for()
        assert page.page.locator(".leaflet-control-measure").count() == 1
        assert page.banner_visible() == bool(fen_check.demonstration)
        # Clicking the zone opens its popup: verdict, rule, plan and the plan's words.
        page.page.evaluate("""() => { const map = window[document.querySelector('.folium-map').id];
            map.eachLayer(l => { const p = l.getPopup && l.getPopup();
                if (p && String(p.getContent()).includes('YC21-3.1-fen-2km')) l.openPopup(map.getCenter()); }); }""")
        popup = page.page.locator(".leaflet-popup-content").first.inner_text()
        assert "禁止" in popup and "YC21-3.1-fen-2km" in popup and "禁止在汾河（运城段）河岸两侧2公里" in popup
        page.assert_clean()
    finally:
        page.session.close()


def _boxes_overlap(a: dict, b: dict) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_check_map_orients_and_explains(browser, layers, fen_check, tmp_path):
    """County lines and names, the declared seat, the accuracy band in the legend, distance lines
    only to zones within 5 km with their metres, no label on the site marker, banners in the legend."""
    path = write_check_map(fen_check, layers, tmp_path / "check.html")
    page = Page(browser, path)
    try:
        page.assert_clean()
        overlays = page.overlays()
        assert {"县级行政区界及名称", "县城、市驻地（示意位置）", "位置精度带（界线两侧）"} <= set(overlays)
        names = page.page.locator(".siting-place-label").all_inner_texts()
        assert "新绛县" in names  # the site's county, by name, in the first view
        assert page.page.locator(".siting-place-label", has_text="新绛县").first.is_visible()
        assert "新绛县城（示意位置）" in page.page.locator(".siting-seat-label").all_inner_texts()
        legend = page.page.locator("details.siting-panel", has_text="图例")
        fen = layers.layers["fen_river"].provenance
        assert f"汾河干流：界内 {fen.accuracy_m:g} 米" in legend.inner_text() and "位置精度带" in legend.inner_text()
        assert has_colour(page.map_pixels(), "#d4ac0d", tolerance=90)  # the band is drawn (需复核 yellow)
        # Distance lines: one per distinct zone within 5 km, each labelled with its metres; none farther.
        near = {f.nearest_line.wkb for f in fen_check.findings
                if f.nearest_line is not None and f.distance_m is not None and 1 <= f.distance_m <= 5_000}
        far = [f for f in fen_check.findings if f.distance_m is not None and f.distance_m > 5_000]
        labels = page.page.locator(".siting-distance-label").all_inner_texts()
        assert len(labels) == len(near) and all(re.search(r"[\d,]+ 米", label) for label in labels)
        assert all(f"{f.distance_m:,.0f} 米" not in " ".join(labels) for f in far)
        site = page.page.locator(".siting-site-icon").first.bounding_box()
        for label in page.page.locator(".siting-distance-label, .siting-place-label").all():
            if label.is_visible():
                assert not _boxes_overlap(label.bounding_box(), site), label.inner_text()
        # The banners live in the legend, clear of the layer control.
        authority = page.page.locator(".siting-legend-banner .siting-authority")
        assert authority.is_visible()
        assert not _boxes_overlap(authority.bounding_box(), page.page.locator(".leaflet-control-layers").bounding_box())
        assert page.banner_visible() == bool(fen_check.demonstration)
        # A row of the map's findings list opens its zone's popup.
        page.page.locator("details.siting-panel summary", has_text="审查结论").click()
        page.page.locator("details.siting-panel tr[data-zone]", has_text="YC21-3.1-fen-2km").first.click()
        assert "YC21-3.1-fen-2km" in page.page.locator(".leaflet-popup-content").first.inner_text()
        page.assert_clean()
    finally:
        page.session.close()


def test_places_are_found_by_name_from_the_layers(layers):
    from maps.places import search_places

    wenxi = search_places(layers, "闻喜")
    assert (wenxi[0].name, wenxi[0].kind, wenxi[0].within, wenxi[0].code) == ("闻喜县", "县（市、区）", "运城市", "140823")
    assert wenxi[0].bounds[0] < wenxi[0].lon < wenxi[0].bounds[2]
    seat = next(p for p in search_places(layers, "运城") if p.kind == "市驻地")
    assert seat.approximate and seat.bounds is None and seat.within == "运城市"
    assert search_places(layers, "运城")[0].name == "运城市"  # the city before its seat and planning area
    assert search_places(layers, "140826")[0].name == "绛县"
    assert search_places(layers, "盐湖")[0].name == "盐湖区" and "盐湖" in [p.name for p in search_places(layers, "盐湖")]
    assert search_places(layers, "不存在的地方") == [] and search_places(layers, "  ") == []


def test_measure_tool_measures_in_metres_offline(browser, layers, fen_check, tmp_path):
    path = write_check_map(fen_check, layers, tmp_path / "check.html")
    page = Page(browser, path)
    try:
        toggle = page.page.locator(".leaflet-control-measure-toggle").bounding_box()
        page.page.mouse.move(toggle["x"] + toggle["width"] / 2, toggle["y"] + toggle["height"] / 2)
        page.page.locator(".leaflet-control-measure .js-start").click()
        box = page.page.locator(".folium-map").bounding_box()
        for dx in (300, 700):
            page.page.mouse.click(box["x"] + dx, box["y"] + 450)
            page.page.wait_for_timeout(100)
        page.page.locator(".leaflet-control-measure .js-finish").click()
        result = page.page.locator(".leaflet-popup-content").inner_text()
        assert "距离测量" in result
        shown = float(result.split("米")[0].split()[-1].replace(",", ""))
        expected = page.page.evaluate("""() => { const map = window[document.querySelector('.folium-map').id];
            return map.distance(map.containerPointToLatLng([300, 450]), map.containerPointToLatLng([700, 450])); }""")
        assert shown == pytest.approx(expected, rel=0.01)
        page.assert_clean()
    finally:
        page.session.close()


def test_banner_only_with_demonstration_data(browser, layers, taiyuan_check, tmp_path):
    assert not taiyuan_check.demonstration, "the 清徐 site should use no demonstration layer"
    path = write_check_map(taiyuan_check, layers, tmp_path / "taiyuan.html")
    page = Page(browser, path)
    try:
        page.assert_clean()
        assert not page.banner_visible()
        assert page.page.locator(".siting-authority").is_visible()
    finally:
        page.session.close()


@pytest.fixture(scope="module")
def yuncheng_page(layers, rules, tmp_path_factory):
    zones = region_zones("运城市", layers, rules)
    path = write_region_map(zones, layers, tmp_path_factory.mktemp("region") / "运城市.html")
    return zones, path


def test_region_map_of_yuncheng_is_small_and_opens_offline(browser, yuncheng_page):
    zones, path = yuncheng_page
    assert path.stat().st_size <= MAX_REGION_HTML_BYTES
    page = Page(browser, path)
    try:
        page.assert_clean()
        overlays = page.overlays()
        expected = [z.label + ("（示意）" if z.demonstration else "") for z in zones.zones]
        assert expected and set(expected) <= set(overlays)
        assert {"县（市、区）界", "运城市边界"} <= set(overlays)
        pixels = page.map_pixels()
        assert drawn_share(pixels) > 0.3
        table = page.page.locator("details.siting-panel", has_text="分区面积").text_content()
        for zone in zones.zones:
            assert f"{zone.area_km2:,.2f}" in table
        # Deeper zoom levels swap in finer geometry without errors.
        for zoom in (9, 11, 13):
            page.page.evaluate(f"() => window[document.querySelector('.folium-map').id].setZoom({zoom})")
            page.page.wait_for_timeout(300)
            assert page.page.locator("path.leaflet-interactive").count() > 0
        page.assert_clean()
    finally:
        page.session.close()


def test_region_banner_follows_the_demonstration_layers_on_the_map(browser, yuncheng_page):
    zones, path = yuncheng_page
    demo = [z.label + "（示意）" for z in zones.zones if z.demonstration]
    page = Page(browser, path)
    try:
        assert page.banner_visible() == bool(demo)
        if not demo:
            return
        for name in demo:
            page.page.locator(".leaflet-control-layers-overlays label", has_text=name).locator("input").uncheck()
        assert not page.banner_visible()
        page.page.locator(".leaflet-control-layers-overlays label", has_text=demo[0]).locator("input").check()
        assert page.banner_visible()
        page.assert_clean()
    finally:
        page.session.close()


def test_region_lists_each_zone_kind_once_with_every_plan_naming_it(yuncheng_page, rules):
    zones, _ = yuncheng_page
    labels = [z.label for z in zones.zones]
    assert len(labels) == len(set(labels))
    shapes = [shapely.union_all(z.frame.geometry.values) for z in zones.zones]
    for i, a in enumerate(shapes):
        for j, b in enumerate(shapes[i + 1:], i + 1):
            same = shapely.symmetric_difference(a, b).area <= 0.001 * a.area
            assert not same, f"{labels[i]} and {labels[j]} draw the same area"
    # The demonstration 运城 city disk stands in for three differently named areas: one row.
    (merged,) = [z for z in zones.zones if len(z.also) >= 2]
    layer_ids = {merged.source_name, *(i for i, _ in merged.also)}
    assert {"central_urban_area", "city_planning_areas", "yuncheng_city_planning_area"} <= layer_ids
    naming = {r.plan.title for r in rules if r.zone.layer in layer_ids and r.plan in zones.plans}
    assert naming and naming <= set(merged.plans)


def test_region_river_bands_have_their_own_colours_and_the_yellow_river_band_shows(browser, yuncheng_page):
    zones, path = yuncheng_page
    bands = {z.name: zone_style(z.style_id).colour for z in zones.zones if z.id.startswith("buffer:")}
    assert {"黄河干流（山西段）沿岸1000米", "汾河（运城段）沿岸2000米", "汾河干流沿岸1000米"} <= set(bands)
    assert len(set(bands.values())) == len(bands)
    page = Page(browser, path)
    try:
        pixels = page.map_pixels()
        gold = np.array([int(bands["黄河干流（山西段）沿岸1000米"][i:i + 2], 16) for i in (1, 3, 5)])
        # At city zoom the 1 km band is a few pixels wide; its outline keeps it a visible ribbon.
        assert (np.abs(pixels - gold).sum(axis=2) < 40).sum() > 1500
        legend = page.page.locator("details.siting-panel", has_text="管控分区图例").inner_text()
        for name in bands:
            assert legend.count(name) == 1
        page.assert_clean()
    finally:
        page.session.close()


def test_region_html_names_counties_and_points_north(browser, yuncheng_page):
    zones, path = yuncheng_page
    page = Page(browser, path)
    try:
        shown = [t.strip() for t in page.page.locator(".siting-place-label").all_inner_texts()]
        assert sorted(shown) == sorted(zones.subdivisions["name"])
        arrow = page.page.locator(".siting-north-arrow")
        assert arrow.is_visible() and "北" in arrow.inner_text()
        box = arrow.bounding_box()
        for other in (".leaflet-control-layers", ".leaflet-control-zoom", "details.siting-panel"):
            for element in page.page.locator(other).all():
                assert not _boxes_overlap(box, element.bounding_box()), other
        page.assert_clean()
    finally:
        page.session.close()


def test_demonstration_units_quote_only_their_own_city(layers, fen_check):
    (unit,) = fen_check.units
    assert unit["demonstration"] and unit["code"].startswith("ZH140825")
    texts = list(unit["access_list"].values())
    assert texts and all("晋城" not in text and "运城市的规划未给出" in text for text in texts)
    for layer_id in ("units_priority", "units_key", "units_general"):
        frame = layers.layers[layer_id].frame
        chengqu = frame.loc[frame["county"] == "140502", "spatial_layout"]
        yuncheng = frame.loc[frame["county"].str.startswith("1408"), "spatial_layout"]
        assert len(chengqu) and chengqu.str.contains("晋城市城区").all()
        assert len(yuncheng) and not yuncheng.str.contains("晋城").any()


def _mbtiles(path: Path, zoom: int, x: int, y: int, around: int = 0) -> None:
    """An MBTiles file (TMS rows) of the tile (x, y) and ``around`` tiles each way, solid magenta PNGs."""
    import sqlite3

    buffer = io.BytesIO()
    Image.new("RGB", (256, 256), (255, 0, 255)).save(buffer, "PNG")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)")
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [("format", "png"), ("name", "test")])
        db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", [
            (zoom, column, 2**zoom - 1 - row, buffer.getvalue())
            for column in range(x - around, x + around + 1) for row in range(y - around, y + around + 1)])


def test_local_mbtiles_basemap_loads_with_no_network(browser, layers, fen_check, tmp_path):
    from maps.basemap import _tile_range, parse_basemap

    site = fen_check.site
    xs, ys = _tile_range((site.lon, site.lat, site.lon, site.lat), 8)
    _mbtiles(tmp_path / "base.mbtiles", 8, xs.start, ys.start, around=2)  # the page shows the tiles round the site
    path = write_check_map(fen_check, layers, tmp_path / "check.html", parse_basemap(f"mbtiles:{tmp_path / 'base.mbtiles'}"))
    assert (tmp_path / "check_tiles" / "8" / str(xs.start) / f"{ys.start}.png").is_file()
    page = Page(browser, path)
    try:
        page.page.wait_for_timeout(500)
        page.assert_clean()
        assert page.page.locator("img.leaflet-tile-loaded").count() > 0
        assert has_colour(page.map_pixels(), "#ff00ff", tolerance=120)
    finally:
        page.session.close()


def test_configured_online_basemap_is_the_only_network_use(layers, fen_check, tmp_path):
    from maps.basemap import parse_basemap

    page = write_check_map(fen_check, layers, tmp_path / "osm.html", parse_basemap("osm")).read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in page
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page and "code.jquery" not in page
    tianditu = write_check_map(fen_check, layers, tmp_path / "tdt.html", parse_basemap("tianditu", "KEY123"))
    assert "tianditu.gov.cn/vec_w/wmts" in tianditu.read_text(encoding="utf-8") and "tk=KEY123" in tianditu.read_text(encoding="utf-8")


def test_default_page_names_no_network_resource(layers, fen_check, tmp_path):
    page = write_check_map(fen_check, layers, tmp_path / "plain.html").read_text(encoding="utf-8")
    assert not re.search(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//""", page)
    assert page.count("<script") >= 3  # Leaflet, the measure plugin and the page helpers are inline


def test_elements_without_an_offline_copy_are_refused(layers, fen_check):
    import folium
    from folium.plugins import Fullscreen

    from maps.check_map import check_map
    from maps.offline import render_offline

    with_cdn_plugin = check_map(fen_check, layers)
    Fullscreen().add_to(with_cdn_plugin)
    with pytest.raises(ValueError, match="no offline copy"):
        render_offline(with_cdn_plugin)
    with_jquery_popup = check_map(fen_check, layers)
    folium.Marker([fen_check.site.lat, fen_check.site.lon], popup=folium.Popup("弹窗")).add_to(with_jquery_popup)
    with pytest.raises(ValueError, match="jQuery"):
        render_offline(with_jquery_popup)


def test_text_with_template_braces_is_written_verbatim(layers, fen_check):
    from maps.check_map import check_map
    from maps.leaflet import HtmlPopup, Panel
    from maps.offline import render_offline

    fmap = check_map(fen_check, layers)
    Panel("说明", "条文“{{ 1 }}”与 {% raw %}").add_to(fmap)
    HtmlPopup("弹窗 {{ x }}").add_to(fmap)
    page = render_offline(fmap)
    assert "条文“{{ 1 }}”与 {% raw %}" in page and json.dumps("弹窗 {{ x }}", ensure_ascii=False) in page
