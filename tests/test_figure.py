"""Print figures: A4 landscape, legible Chinese (checked on the pixels), PDF text and labels.

Legibility is checked by looking at the rendered title: Noto CJK sets every Chinese
character in a one-em cell, so the title's cells must each hold ink and differ from
one another. A font without CJK glyphs draws the same tofu box in every cell — the
control render below shows this check catches it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pypdfium2
import pytest
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from layers import catalog
from maps.check_map import strictest, view_bounds, zone_groups
from maps.figure import (
    A4_LANDSCAPE_IN,
    PNG_DPI,
    TITLE_SIZE_PT,
    TITLE_XY,
    bar_size,
    new_sheet,
    render_check_figure,
    render_region_figure,
    scale_bar_box,
    set_extent,
)
from maps.region import region_zones
from maps.style import DEMO_TEXT
from spatial.checker import check
from spatial.rules import Stage, Verdict
from tests.sites import site_near

A4_LANDSCAPE_PT = (842, 595)


def title_glyphs(pixels: np.ndarray, dpi: float, count: int) -> list[np.ndarray]:
    """The ink blobs (split at blank columns) of the title's first ``count`` one-em characters."""
    height, width = pixels.shape[:2]
    em = TITLE_SIZE_PT * dpi / 72
    left, top = round(TITLE_XY[0] * width), round((1 - TITLE_XY[1]) * height)
    band = pixels[top:top + round(1.4 * em), left:left + round(count * em)].min(axis=2) < 128
    inked = np.flatnonzero(band.any(axis=0))
    runs = np.split(inked, np.flatnonzero(np.diff(inked) > 1) + 1) if len(inked) else []
    glyphs = []
    for run in runs:
        if len(run) < 3:
            continue
        piece = band[:, run[0]:run[-1] + 1]
        rows = np.flatnonzero(piece.any(axis=1))
        glyphs.append(piece[rows[0]:rows[-1] + 1])
    return glyphs


def legible(glyphs: list[np.ndarray], count: int) -> bool:
    """Enough glyphs, and hardly any two alike: tofu boxes are all the same picture."""
    if len(glyphs) < 0.8 * count:
        return False
    shapes = [np.asarray(Image.fromarray(g.astype(np.uint8) * 255).resize((24, 24))) / 255 for g in glyphs]
    pairs = [(a, b) for i, a in enumerate(shapes) for b in shapes[i + 1:]]
    alike = sum(np.mean(np.abs(a - b)) < 0.08 for a, b in pairs)
    return alike <= 0.05 * len(pairs)


def png_pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_tofu_control_render_is_caught():
    """The check itself: a title set in DejaVu Sans (no CJK glyphs) fails it."""
    figure = Figure(figsize=A4_LANDSCAPE_IN, dpi=100)
    FigureCanvasAgg(figure)
    figure.text(*TITLE_XY, "绛县生态环境空间管控分区图", fontsize=TITLE_SIZE_PT, family="DejaVu Sans", va="top")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Glyph missing": the tofu is the point here
        figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())[:, :, :3].astype(int)
    assert not legible(title_glyphs(pixels, figure.dpi, 13), 13)


@pytest.fixture(scope="module")
def jiangxian(layers, rules):
    return region_zones("绛县", layers, rules)


def test_region_png_of_jiangxian_is_a4_with_legible_chinese(jiangxian, layers, tmp_path):
    title = f"{jiangxian.region.name}生态环境空间管控分区图"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" before drawing tofu
        path = render_region_figure(jiangxian, layers, tmp_path / "绛县.png")
    image = Image.open(path)
    expected = (A4_LANDSCAPE_IN[0] * PNG_DPI, A4_LANDSCAPE_IN[1] * PNG_DPI)  # 3508 × 2480 px
    assert all(abs(size - want) <= 1 for size, want in zip(image.size, expected, strict=True))
    pixels = png_pixels(path)
    assert legible(title_glyphs(pixels, PNG_DPI, len(title)), len(title))
    # The map area holds the zones: red line and units colours are on the page.
    assert np.mean(np.abs(pixels - (255, 255, 255)).sum(axis=2) > 30) > 0.2
    demo_red = np.all(np.abs(pixels - (0xC0, 0x39, 0x2B)) < 12, axis=2)
    assert (demo_red[: pixels.shape[0] // 10, pixels.shape[1] // 2:].mean() > 0.005) == jiangxian.demonstration


def test_region_pdf_of_jiangxian_carries_text_and_renders(jiangxian, layers, tmp_path):
    path = render_region_figure(jiangxian, layers, tmp_path / "绛县.pdf")
    document = pypdfium2.PdfDocument(str(path))
    page = document[0]
    assert tuple(round(v) for v in page.get_size()) == A4_LANDSCAPE_PT
    text = page.get_textpage().get_text_range()
    assert f"{jiangxian.region.name}生态环境空间管控分区图" in text
    for zone in jiangxian.zones:
        assert zone.name in text and f"{zone.area_km2:,.2f}" in text
    assert (DEMO_TEXT in text) == jiangxian.demonstration
    assert "EPSG:4546" in text and "北" in text
    scale = 200 / 72
    pixels = np.asarray(page.render(scale=scale).to_pil().convert("RGB")).astype(int)
    count = len(jiangxian.region.name) + 10
    assert legible(title_glyphs(pixels, 200, count), count)


def test_check_figure_png_and_pdf(layers, rules, tmp_path):
    site = site_near(layers, "fen_river", "140825", 400)
    result = check(site, catalog.taxonomy().resolve("造纸"), Stage.NEW, rules, layers)
    png = render_check_figure(result, layers, tmp_path / "check.png")
    pixels = png_pixels(png)
    assert legible(title_glyphs(pixels, PNG_DPI, 8), 8)  # 建设项目选址空间…
    pdf = render_check_figure(result, layers, tmp_path / "check.pdf")
    text = pypdfium2.PdfDocument(str(pdf))[0].get_textpage().get_text_range()
    distance = next(f for f in result.findings if f.rule.id == "YC21-3.1-fen-2km").distance_m
    assert f"至汾河干流 {distance:,.0f} 米" in text
    assert "YC21-3.1-fen-2km" in text and f"结论：{result.overall.label}" in text
    assert (DEMO_TEXT in text) == bool(result.demonstration)
    with pytest.raises(ValueError, match=r"\.png or \.pdf"):
        render_check_figure(result, layers, tmp_path / "check.svg")


def test_check_figure_legend_lists_only_what_is_drawn(layers, rules, tmp_path):
    site = site_near(layers, "fen_river", "140825", 400)
    result = check(site, catalog.taxonomy().resolve("造纸"), Stage.NEW, rules, layers)
    west, south, east, north = view_bounds(result)
    view = shapely.box(west, south, east, north)
    drawn = {strictest(group) for group in zone_groups(result.findings)
             if group[0].zone_geometry is not None and group[0].zone_geometry.intersects(view)}
    assert Verdict.PROHIBITED in drawn
    text = pypdfium2.PdfDocument(str(render_check_figure(result, layers, tmp_path / "check.pdf")))[0].get_textpage().get_text_range()
    for verdict in Verdict:
        assert (f"{verdict.label}（管控区域）" in text) == (verdict in drawn), verdict


@pytest.mark.parametrize("name", ["运城市", "绛县", "晋城市城区"])
def test_region_scale_bar_is_clear_of_the_map_body(layers, rules, name):
    zones = region_zones(name, layers, rules)
    sheet = new_sheet("", "", zones.region.gk_epsg)
    set_extent(sheet, zones.region.geometry_gk.bounds)
    x, y = scale_bar_box(sheet, zones.region.geometry_gk)
    (x0, x1), (y0, y1) = sheet.map_ax.get_xlim(), sheet.map_ax.get_ylim()
    _, width, height = bar_size(sheet)
    bar = shapely.box(x, y, x + width, y + height)
    assert not bar.intersects(zones.region.geometry_gk)
    assert x0 <= x and x + width <= x1 and y0 <= y and y + height <= y1  # inside the map frame
    assert shapely.box(x0, y0, x1, y1).contains(zones.region.geometry_gk)  # nothing pushed out of view
