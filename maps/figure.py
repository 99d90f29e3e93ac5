"""Print figures (PNG/PDF, A4 landscape) of a check or a region's zones, for reports.

Drawn in the Gauss–Krüger zone of the site or region (metres), so the scale bar is true;
the north arrow points to true north (it differs from grid north by the meridian
convergence, which the CRS note states). Every figure carries a title, legend, scale
bar, north arrow, CRS note, data sources, date and — when demonstration layers are
shown — the demonstration label. Chinese text uses Noto Sans CJK (maps/fonts.py).
Uses matplotlib's object API only (no pyplot state), so callers may render from threads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrow, Patch, Rectangle
from shapely.geometry.base import BaseGeometry

from maps.check_map import strictest, view_bounds, zone_groups
from maps.fonts import cjk_family
from maps.region import RegionZones, Zone
from maps.style import ADMIN_COLOUR, DEMO_TEXT, RIVER_COLOUR, RIVER_LAYERS, SITE_COLOUR, VERDICT_COLOURS, zone_style
from spatial.answer import folded
from spatial.crs import STORAGE_EPSG, gk3_zone_for_longitude
from spatial.findings import CheckResult
from spatial.layer import LayerSet, Provenance, project
from spatial.rules import Verdict, ZoneKind

A4_LANDSCAPE_IN = (297 / 25.4, 210 / 25.4)
PNG_DPI = 300
_MAP_RECT = (0.055, 0.13, 0.58, 0.715)  # left, bottom, width, height (figure fraction)
_PANEL_RECT = (0.665, 0.13, 0.315, 0.715)
TITLE_XY = (0.035, 0.955)  # figure fraction of the title's top-left corner
TITLE_SIZE_PT = 17
_MAX_FINDINGS_LISTED = 14
_FOOTER_WIDTH = 190  # columns of 7.5 pt text across the sheet
_MIN_BAND_PT = 4.0  # a buffer band drawn narrower than this at the sheet's scale gets a heavy outline
_ROW_STEP = 0.028  # panel rows (axes fraction)
_ROW_LINE = 0.021  # extra line of a wrapped panel row
_SUBTITLE_WIDTH = 150


@dataclass
class Sheet:
    """A blank A4 landscape sheet with map and panel axes, and its projection."""

    figure: Figure
    map_ax: Axes
    panel_ax: Axes
    epsg: int
    family: str


def new_sheet(title: str, subtitle: str, epsg: int) -> Sheet:
    family = cjk_family()
    figure = Figure(figsize=A4_LANDSCAPE_IN)
    figure.set_facecolor("white")
    figure.text(*TITLE_XY, title, fontsize=TITLE_SIZE_PT, fontweight="bold", family=family, va="top")
    lines = _wrap(subtitle, _SUBTITLE_WIDTH)
    if len(lines) > 2:
        lines = [lines[0], lines[1][:-1] + "…"]
    for i, line in enumerate(lines):
        figure.text(0.035, 0.905 - 0.022 * i, line, fontsize=9.5, family=family, va="top", color="#333333")
    map_ax = figure.add_axes(_MAP_RECT)
    map_ax.set_aspect("equal")
    map_ax.tick_params(labelsize=6.5)
    panel_ax = figure.add_axes(_PANEL_RECT)
    panel_ax.set_axis_off()
    return Sheet(figure, map_ax, panel_ax, epsg, family)


def _gk_series(geometries, epsg: int) -> gpd.GeoSeries:
    values = np.asarray(project(np.asarray(list(geometries), dtype=object), STORAGE_EPSG, epsg), dtype=object)
    return gpd.GeoSeries(values)


def set_extent(sheet: Sheet, bounds_gk: tuple[float, float, float, float], margin: float = 0.04) -> None:
    """Fit the map axes to ``bounds_gk`` at equal scale, ticks in kilometres."""
    minx, miny, maxx, maxy = bounds_gk
    ax = sheet.map_ax
    width_in = _MAP_RECT[2] * A4_LANDSCAPE_IN[0]
    height_in = _MAP_RECT[3] * A4_LANDSCAPE_IN[1]
    span_x, span_y = (maxx - minx) * (1 + 2 * margin), (maxy - miny) * (1 + 2 * margin)
    scale = max(span_x / width_in, span_y / height_in)  # metres per inch
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    ax.set_xlim(cx - scale * width_in / 2, cx + scale * width_in / 2)
    ax.set_ylim(cy - scale * height_in / 2, cy + scale * height_in / 2)
    decimals = 0 if max(span_x, span_y) > 20_000 else 1 if max(span_x, span_y) > 2_000 else 2
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(lambda v, _, d=decimals: f"{v / 1000:.{d}f}")
        axis.label.set_visible(False)


def _nice_length(target_m: float) -> float:
    exponent = 10 ** math.floor(math.log10(target_m))
    return max(step * exponent for step in (1, 2, 5) if step * exponent <= target_m)


def bar_size(sheet: Sheet) -> tuple[float, float, float]:
    """The bar's round length and its white box's width and height (GK metres) at the current extent."""
    (x0, x1), (y0, y1) = sheet.map_ax.get_xlim(), sheet.map_ax.get_ylim()
    length = _nice_length((x1 - x0) / 4)
    return length, length + 0.07 * (x1 - x0), 0.085 * (y1 - y0)


def scale_bar_box(sheet: Sheet, avoid: BaseGeometry | None = None) -> tuple[float, float]:
    """Lower-left corner (GK) of the scale bar's box: a bottom corner the map body ``avoid`` leaves
    clear; with none clear the map is extended downwards, so the bar never covers what it shows."""
    ax = sheet.map_ax
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    _, width, height = bar_size(sheet)
    pad_x, pad_y = 0.01 * (x1 - x0), 0.01 * (y1 - y0)
    corners = [(x0 + pad_x, y0 + pad_y), (x1 - pad_x - width, y0 + pad_y)]
    if avoid is None:
        return corners[0]
    for x, y in corners:
        if not shapely.box(x, y, x + width, y + height).intersects(avoid):
            return x, y
    # Grow the extent downwards until the box fits below the old bottom edge (box and pad are
    # 9.5 % of the grown height: 0.11 of the old height), keeping the axes' equal scale.
    grow = 0.11 * (y1 - y0)
    ratio = (x1 - x0) / (y1 - y0)
    cx = (x0 + x1) / 2
    span_y = y1 - y0 + grow
    ax.set_ylim(y0 - grow, y1)
    ax.set_xlim(cx - ratio * span_y / 2, cx + ratio * span_y / 2)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return x0 + 0.01 * (x1 - x0), y0 + 0.01 * (y1 - y0)


def add_scale_bar(sheet: Sheet, avoid: BaseGeometry | None = None) -> None:
    """A four-segment bar of a round length, about a quarter of the map width, clear of ``avoid`` (GK)."""
    ax = sheet.map_ax
    box_x, box_y = scale_bar_box(sheet, avoid)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    length, width, box_height = bar_size(sheet)
    ax.add_patch(Rectangle((box_x, box_y), width, box_height, facecolor="white", edgecolor="none", alpha=0.85, zorder=20))
    left, bottom, height = box_x + 0.01 * (x1 - x0), box_y + 0.02 * (y1 - y0), 0.012 * (y1 - y0)
    for i in range(4):
        ax.add_patch(Rectangle((left + i * length / 4, bottom), length / 4, height, zorder=21,
                               facecolor="black" if i % 2 == 0 else "white", edgecolor="black", linewidth=0.6))
    unit, divisor = ("千米", 1000) if length >= 1000 else ("米", 1)
    for fraction in (0, 0.5, 1):
        ax.text(left + fraction * length, bottom + height * 1.6, f"{fraction * length / divisor:g}", ha="center",
                va="bottom", fontsize=7, family=sheet.family, zorder=21)
    ax.text(left + length * 1.04, bottom, unit, ha="left", va="bottom", fontsize=7, family=sheet.family, zorder=21)


def meridian_convergence_deg(lon: float, lat: float, epsg: int) -> float:
    """Angle from grid north to true north at a point (positive: true north lies east of grid north)."""
    here = project(shapely.Point(lon, lat), STORAGE_EPSG, epsg)
    north = project(shapely.Point(lon, lat + 0.01), STORAGE_EPSG, epsg)
    return math.degrees(math.atan2(north.x - here.x, north.y - here.y))


def add_north_arrow(sheet: Sheet, convergence_deg: float) -> None:
    """An arrow to true north in the map's top-right corner."""
    ax = sheet.map_ax
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    size = 0.07 * (y1 - y0)
    cx, cy = x1 - 0.06 * (x1 - x0), y1 - 0.13 * (y1 - y0)
    angle = math.radians(convergence_deg)
    dx, dy = size * math.sin(angle), size * math.cos(angle)
    ax.add_patch(FancyArrow(cx - dx / 2, cy - dy / 2, dx, dy, width=size * 0.12, head_width=size * 0.42,
                            head_length=size * 0.38, length_includes_head=True, color="black", zorder=22))
    ax.text(cx + dx * 0.62, cy + dy * 0.62, "北", ha="center", va="bottom", fontsize=11, fontweight="bold",
            family=sheet.family, zorder=22)


def add_footer(sheet: Sheet, sources: list[Provenance], convergence_deg: float, centre_lon: float) -> None:
    """CRS note, data sources and date along the bottom of the sheet."""
    zone = gk3_zone_for_longitude(centre_lon)
    crs = (f"坐标系：CGCS2000 / 3度带高斯-克吕格投影，中央经线 {zone.central_meridian}°E（EPSG:{sheet.epsg}），"
           f"坐标单位千米；北向箭头指真北（图幅中心子午线收敛角 {convergence_deg:+.2f}°）。")
    names = "；".join(dict.fromkeys(f"{p.source} {p.version}".strip() + ("（示意数据）" if p.demonstration else "")
                                    for p in sources))
    sheet.figure.text(0.035, 0.092, crs, fontsize=7.5, family=sheet.family, va="top")
    for i, line in enumerate(_wrap(f"数据来源：{names}", _FOOTER_WIDTH)[:2]):
        sheet.figure.text(0.035, 0.070 - 0.018 * i, line, fontsize=7.5, family=sheet.family, va="top")
    sheet.figure.text(0.035, 0.022, f"制图日期：{date.today().isoformat()}　本图为审查辅助图件，距离以高斯-克吕格投影平面计算。",
                      fontsize=7.5, family=sheet.family, va="bottom")


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` columns, a CJK character counting two."""
    lines, line, used = [], "", 0
    for char in text:
        size = 2 if ord(char) > 0x2E80 else 1
        if used + size > width:
            lines.append(line)
            line, used = "", 0
        line, used = line + char, used + size
    return [*lines, line] if line else lines


def add_demo_label(sheet: Sheet) -> None:
    sheet.figure.text(0.985, 0.955, f"⚠ {DEMO_TEXT}", fontsize=10.5, fontweight="bold", color="white",
                      family=sheet.family, ha="right", va="top",
                      bbox={"boxstyle": "square,pad=0.4", "facecolor": "#c0392b", "edgecolor": "none"})


def panel_legend(sheet: Sheet, handles: list, title: str, top: float = 1.0) -> None:
    legend = sheet.panel_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0, top), frameon=False,
                                   title=title, prop={"family": sheet.family, "size": 8},
                                   title_fontproperties={"family": sheet.family, "size": 9.5, "weight": "bold"},
                                   alignment="left")
    sheet.panel_ax.add_artist(legend)


def panel_rows(sheet: Sheet, title: str, rows: list[tuple[str, ...]], top: float, widths: tuple[float, ...],
               swatches: list[dict | None] | None = None) -> float:
    """A simple table of text rows in the panel, each with an optional swatch (Rectangle style); returns the y below it."""
    ax = sheet.panel_ax
    ax.text(0, top, title, fontsize=9.5, fontweight="bold", family=sheet.family, va="top", transform=ax.transAxes)
    y = top - 0.04
    panel_pt = _PANEL_RECT[2] * A4_LANDSCAPE_IN[0] * 72
    for row, swatch in zip(rows, swatches or [None] * len(rows), strict=True):
        indent = 0.0
        if swatch:
            ax.add_patch(Rectangle((0, y - 0.02), 0.05, 0.018, transform=ax.transAxes, **swatch))
            indent = 0.065
        # The first cell wraps within its column (7.5 pt text: a CJK character is 7.5 pt, two columns).
        lines = _wrap(row[0], int((widths[0] - indent) * panel_pt / 7.5 * 2 * 0.96))
        ax.text(indent, y, "\n".join(lines), fontsize=7.5, family=sheet.family, va="top", ha="left",
                linespacing=1.25, transform=ax.transAxes)
        x = widths[0]
        for cell, width in zip(row[1:], widths[1:], strict=True):
            ax.text(x + width, y, cell, fontsize=7.5, family=sheet.family, va="top", ha="right", transform=ax.transAxes)
            x += width
        y -= _ROW_STEP + _ROW_LINE * (len(lines) - 1)
    return y


def _save(sheet: Sheet, out: Path) -> Path:
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in (".png", ".pdf"):
        raise ValueError(f"figure format must be .png or .pdf, not {out.suffix!r}")
    sheet.figure.savefig(out, dpi=PNG_DPI, format=suffix[1:], metadata={"Creator": "shanxi-siting"} if suffix == ".pdf" else None)
    return out


def _draw(ax: Axes, geometries, **style) -> None:
    series = gpd.GeoSeries(list(geometries))
    series = series[~series.is_empty & series.notna()]
    if len(series):
        series.plot(ax=ax, **style)


def render_check_figure(result: CheckResult, layers: LayerSet, out: Path) -> Path:
    """The site against the zones that reached it, as a print figure (.png or .pdf by suffix)."""
    epsg = result.site.gk_epsg
    verdict = result.overall
    sheet = new_sheet(f"建设项目选址空间管控审查图　结论：{verdict.label}",
                      f"{result.industry.label}（{result.stage.value}）　场址 经度 {result.site.lon:.6f}° 纬度 {result.site.lat:.6f}°　"
                      f"{'、'.join(result.site.admin.values())}", epsg)
    west, south, east, north = view_bounds(result)
    box = project(shapely.box(west, south, east, north), STORAGE_EPSG, epsg)
    set_extent(sheet, box.bounds)
    ax = sheet.map_ax
    window = project(box.buffer(box.length), epsg, STORAGE_EPSG)

    admin = layers.admin.frame
    counties = admin.loc[(admin["level"] == "county") & admin.intersects(window)]
    _draw(ax, _gk_series(counties.geometry.boundary, epsg), color=ADMIN_COLOUR, linewidth=0.8, linestyle="-.", zorder=2)
    shown: list[Provenance] = [layers.admin.provenance]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    view = project(shapely.box(x0, y0, x1, y1), epsg, STORAGE_EPSG)  # what the map shows, for the legend
    drawn_rivers = False
    for layer_id in RIVER_LAYERS:
        if layer_id in layers.layers:
            river = shapely.intersection(shapely.union_all(layers.layers[layer_id].frame.geometry.values), window)
            if not river.is_empty:
                _draw(ax, _gk_series([river], epsg), color=RIVER_COLOUR, linewidth=2, zorder=4)
                shown.append(layers.layers[layer_id].provenance)
                drawn_rivers |= river.intersects(view)
    demonstration = bool(result.demonstration)
    drawn_verdicts: set[Verdict] = set()
    drawn_buffer = False
    for group in sorted(zone_groups(result.findings), key=lambda g: strictest(g).severity):
        finding = group[0]
        colour = VERDICT_COLOURS[strictest(group)]
        buffer = finding.rule.zone.kind is ZoneKind.BUFFER
        if finding.zone_geometry is not None and finding.zone_geometry.intersects(view):
            drawn_verdicts.add(strictest(group))
            drawn_buffer |= buffer
        _draw(ax, _gk_series([finding.zone_geometry], epsg), facecolor=colour, alpha=0.25, edgecolor="none", zorder=3)
        _draw(ax, _gk_series([finding.zone_geometry.boundary], epsg), color=colour, linewidth=1.2,
              linestyle="--" if buffer else "-", zorder=5)
        if (layer := layers.layers.get(finding.layer)) is not None:
            shown.append(layer.provenance)
            demonstration |= layer.provenance.demonstration
    distance_lines = _draw_distance_lines(sheet, result)
    site_gk = project(result.site_geometry, STORAGE_EPSG, epsg)
    point_site = site_gk.geom_type in ("Point", "MultiPoint")
    if point_site:
        ax.plot(site_gk.centroid.x, site_gk.centroid.y, marker="o", markersize=11, markerfacecolor=VERDICT_COLOURS[verdict],
                markeredgecolor="white", markeredgewidth=2, zorder=30)
    else:
        _draw(ax, [site_gk], facecolor=SITE_COLOUR, alpha=0.15, edgecolor=SITE_COLOUR, linewidth=2.2, zorder=30)
    convergence = meridian_convergence_deg(result.site.lon, result.site.lat, epsg)
    add_scale_bar(sheet)
    add_north_arrow(sheet, convergence)
    drawn_counties = bool(len(counties)) and shapely.intersects(shapely.union_all(counties.geometry.boundary.values), view)
    panel_legend(sheet, check_legend_handles(drawn_verdicts, drawn_buffer, drawn_rivers, distance_lines, drawn_counties,
                                             VERDICT_COLOURS[verdict] if point_site else None), "图例")
    site_findings, _ = folded([f for f in result.findings if f.group == "site"])
    shown_findings = site_findings + [f for f in result.findings if f.group != "site" and f.verdict is not Verdict.COMPLIANT]
    listed = shown_findings[:_MAX_FINDINGS_LISTED]
    rows = [(f"{f.verdict.label}  {f.rule.id}", _distance_text(f)) for f in listed]
    colours: list[dict | None] = [{"facecolor": VERDICT_COLOURS[f.verdict]} for f in listed]
    if len(shown_findings) > _MAX_FINDINGS_LISTED:
        rows.append((f"另有 {len(shown_findings) - _MAX_FINDINGS_LISTED} 条，见审查意见", ""))
        colours.append(None)
    for group in result.missing_layers()[:3]:
        rows.append((group.summary, ""))
        colours.append(None)
    panel_rows(sheet, "审查结论（条款、距离）", rows, top=0.5, widths=(0.8, 0.2), swatches=colours)
    if demonstration:
        add_demo_label(sheet)
    add_footer(sheet, shown, convergence, result.site.lon)
    return _save(sheet, out)


def check_legend_handles(verdicts: set[Verdict], buffer: bool, rivers: bool, distance_lines: bool, counties: bool,
                         point_colour: str | None) -> list:
    """Legend rows for what the check figure draws, and nothing else (``point_colour``: a point site's marker)."""
    handles: list = [Patch(facecolor=VERDICT_COLOURS[v], alpha=0.5, edgecolor=VERDICT_COLOURS[v], label=f"{v.label}（管控区域）")
                     for v in sorted(verdicts, key=lambda v: -v.severity)]
    if buffer:
        handles.append(Patch(facecolor="white", edgecolor="#555555", linestyle="--", label="虚线边框：缓冲区"))
    if rivers:
        handles.append(Line2D([], [], color=RIVER_COLOUR, linewidth=2, label="河流中线"))
    if distance_lines:
        handles.append(Line2D([], [], color="#222222", linestyle="--", label="距离量算线（米）"))
    if counties:
        handles.append(Line2D([], [], color=ADMIN_COLOUR, linestyle="-.", label="县（市、区）界"))
    if point_colour is None:
        handles.append(Patch(facecolor=SITE_COLOUR, alpha=0.15, edgecolor=SITE_COLOUR, linewidth=2.2, label="场址"))
    else:
        handles.append(Line2D([], [], marker="o", color="none", markerfacecolor=point_colour, markersize=9, label="场址"))
    return handles


def _distance_text(finding) -> str:
    if finding.distance_m is None:
        return ""
    return "区内" if finding.inside and finding.distance_m == 0 else f"{finding.distance_m:,.0f} 米"


def _draw_distance_lines(sheet: Sheet, result: CheckResult) -> bool:
    """Draw the measured distance lines; whether any shows in the map view."""
    ax, epsg, seen, shown = sheet.map_ax, sheet.epsg, set(), False
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    view = shapely.box(x0, y0, x1, y1)
    for finding in result.findings:
        line = finding.nearest_line
        if line is None or line.is_empty or finding.distance_m is None or line.wkb in seen:
            continue
        seen.add(line.wkb)
        line_gk = project(line, STORAGE_EPSG, epsg)
        if line_gk.length < 1:
            continue
        ax.plot(*np.asarray(line_gk.coords).T, color="#222222", linestyle="--", linewidth=1.1, zorder=25)
        visible = shapely.intersection(line_gk, view)
        if visible.is_empty:
            continue
        shown = True
        anchor = visible.interpolate(0.5, normalized=True)
        label = (f"距{finding.zone}边界 {line_gk.length:,.0f} 米" if finding.inside and finding.rule.zone.kind is ZoneKind.WITHIN
                 else f"至{finding.layer_name} {finding.distance_m:,.0f} 米")
        ax.text(anchor.x, anchor.y, label, fontsize=8, family=sheet.family, ha="center", va="center", zorder=26,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "#222222", "linewidth": 0.6})
    return shown


def _swatch(style) -> dict:
    return {"facecolor": style.colour, "alpha": min(0.85, style.fill_opacity + 0.25), "edgecolor": style.colour,
            "hatch": style.hatch, "linestyle": "--" if style.dash else "-", "linewidth": 0.8}


def band_width_pt(zone: Zone, metres_per_pt: float) -> float:
    """Printed width of a buffer band (both sides of its baseline); infinite for other zones."""
    if "distance_m" not in zone.frame.columns:
        return math.inf
    return 2 * float(zone.frame["distance_m"].max()) / metres_per_pt


def render_region_figure(zones: RegionZones, layers: LayerSet, out: Path) -> Path:
    """The zone map of a region as a print figure (.png or .pdf by suffix), with the area table."""
    region = zones.region
    epsg = region.gk_epsg
    plans = "、".join(p.title for p in zones.plans)
    sheet = new_sheet(f"{region.name}生态环境空间管控分区图", f"依据：{plans}", epsg)
    set_extent(sheet, region.geometry_gk.bounds)
    ax = sheet.map_ax
    metres_per_pt = (ax.get_xlim()[1] - ax.get_xlim()[0]) / (_MAP_RECT[2] * A4_LANDSCAPE_IN[0] * 72)
    for zone in zones.zones:
        style = zone_style(zone.style_id)
        geometries = _gk_series(zone.frame.geometry.values, epsg)
        _draw(ax, geometries, facecolor=style.colour, alpha=min(0.85, style.fill_opacity + 0.25), edgecolor="none",
              zorder=2 + style.order / 100)
        thin = band_width_pt(zone, metres_per_pt) < _MIN_BAND_PT
        _draw(ax, geometries.boundary, color=style.colour, linewidth=1.6 if thin else 0.6 if not style.hatch else 0.9,
              linestyle="-" if thin else "--" if style.dash else "-", zorder=3 + style.order / 100)
        if style.hatch:
            _draw(ax, geometries, facecolor="none", edgecolor=style.colour, hatch=style.hatch, linewidth=0, zorder=3)
    for frame in zones.rivers.values():
        _draw(ax, _gk_series(frame.geometry.values, epsg), color=RIVER_COLOUR, linewidth=1.6, zorder=6)
    handles = []
    if zones.rivers:
        names = "、".join(layers.layers[layer_id].name for layer_id in zones.rivers)
        handles.append(Line2D([], [], color=RIVER_COLOUR, linewidth=1.6, label=f"河流中线（{names}）"))
    subdivisions = _gk_series(zones.subdivisions.geometry.values, epsg)
    _draw(ax, subdivisions.boundary, color=ADMIN_COLOUR, linewidth=0.7, linestyle="-.", zorder=7)
    _draw(ax, [region.geometry_gk.boundary], color="#111111", linewidth=1.8, zorder=8)
    if len(zones.subdivisions) > 1:
        for name, point in zip(zones.subdivisions["name"], subdivisions.representative_point(), strict=True):
            ax.text(point.x, point.y, name, fontsize=8, family=sheet.family, ha="center", va="center", zorder=9,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7, "edgecolor": "none"})
    handles += [Line2D([], [], color="#111111", linewidth=1.8, label=f"{region.name}边界"),
                Line2D([], [], color=ADMIN_COLOUR, linewidth=0.7, linestyle="-.", label="县（市、区）界")]
    centre = region.geometry.representative_point()
    convergence = meridian_convergence_deg(centre.x, centre.y, epsg)
    add_scale_bar(sheet, avoid=region.geometry_gk)
    add_north_arrow(sheet, convergence)
    rows = [(f"{z.label}{'（示意）' if z.demonstration else ''}{'，' + z.coverage_note if z.coverage_note else ''}"
             + (f"（同一范围，{len(z.plans)} 项规划引用）" if z.also else ""),
             f"{z.area_km2:,.2f}", f"{100 * z.area_km2 / zones.region_area_km2:.1f}%") for z in zones.zones]
    rows.append((f"{region.name}全域", f"{zones.region_area_km2:,.2f}", "100%"))
    swatches = [_swatch(zone_style(z.style_id)) for z in zones.zones] + [None]
    below = panel_rows(sheet, "图例与分区面积（平方千米）", rows, top=1.0, widths=(0.70, 0.19, 0.11), swatches=swatches)
    panel_legend(sheet, handles, "", top=below)
    below -= 0.045 * (len(handles) + 0.5)
    sheet.panel_ax.text(0, below, "面积按全精度几何在高斯-克吕格平面计算。", fontsize=7.5, family=sheet.family, va="top",
                        transform=sheet.panel_ax.transAxes)
    below -= 0.03
    if zones.missing:
        sheet.panel_ax.text(0, below - 0.01, f"另有 {len(zones.missing)} 类规划管控区尚无图层，未能绘出。", fontsize=7.5,
                            family=sheet.family, va="top", color="#8a5a00", transform=sheet.panel_ax.transAxes)
    if zones.demonstration:
        add_demo_label(sheet)
    add_footer(sheet, zones.sources(layers), convergence, centre.x)
    return _save(sheet, out)

