"""Industry siting maps: a region in the classes a check would give one kind of project.

The same look as the region zone maps (maps/region_map.py, maps/figure.py): per-zoom
simplification that keeps shared edges shared, legend, scale bar, north arrow, county names,
sources and the demonstration label; plus what a report needs — km² and share per class
and county, the largest contiguous 未发现限制 areas, and the rules behind each class with
their quotes. Geometry is drawn simplified; every number comes from the full-resolution
classes (spatial/siting_classes.py).
"""

from __future__ import annotations

import html
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely

from maps.basemap import Basemap
from maps.leaflet import Banners, LevelGeometries, Panel, ZoomLayer, authority_text, base_map, fill_swatch, legend_html, line_swatch
from maps.offline import save_offline
from maps.region import Region
from maps.simplify import Level, arrange, levels_for, simplify_arrangement
from maps.style import ADMIN_COLOUR, VERDICT_COLOURS, ZoneStyle
from spatial.crs import STORAGE_EPSG
from spatial.layer import LayerSet, Provenance, project
from spatial.rules import Verdict
from spatial.siting_classes import CLASS_NAMES, CLASSES, SitingClasses

_QUOTE_LIMIT = 160
_NOT_EVALUATED_STYLE = ZoneStyle("#5d6d7e", 0.0, weight=1.2, dash="4 4")
MEANINGS = {
    Verdict.PROHIBITED: "规划禁止该类项目在此选址",
    Verdict.EXIT: "现有项目须退出（关停、搬迁）",
    Verdict.RESTRICTED: "可选址，但须满足规划的限制条件",
    Verdict.REVIEW: "边界精度带、条件条款、缺失图层或示意数据：须逐址核查",
    Verdict.COMPLIANT: "已载入图层上未发现限制",
    Verdict.NOT_APPLICABLE: "无已载入规划覆盖",
}


def class_style(verdict: Verdict) -> ZoneStyle:
    return ZoneStyle(VERDICT_COLOURS[verdict], 0.45, weight=0.6, order=60 - verdict.severity)


def sources(result: SitingClasses, layers: LayerSet) -> list[Provenance]:
    """Provenance of the admin layer and of every loaded layer a named rule measures."""
    used = dict.fromkeys([LayerSet.ADMIN, *(r.zone.layer for r in result.rules.values() if r.zone.layer in layers.layers)])
    return [layers.layers[i].provenance for i in used]


def demonstration(result: SitingClasses) -> bool:
    return any(c.demonstration for c in result.classes)


def title(region: Region, result: SitingClasses) -> str:
    return f"{region.name}{result.industry.label}项目（{result.stage.value}）选址管控分类图"


def _present(result: SitingClasses) -> list:
    return [c for c in result.classes if not c.geometry.is_empty]


def _wgs84(geometries: np.ndarray, epsg: int) -> np.ndarray:
    return np.asarray(project(np.asarray(geometries, dtype=object), epsg, STORAGE_EPSG), dtype=object)


def _class_levels(present: list, levels: list[Level]) -> list[np.ndarray]:
    """The classes simplified for each level, as one coverage.

    The classes tile the region by construction (each is an area less every stronger class),
    so their parts are already the faces of a coverage: no arrangement of a city's worth of
    class edges to node (seconds). Each level is simplified from the next finer one, a few
    times cheaper than from the full geometry; tolerances grow fourfold per level, so the
    finer levels add at most a third of a level's own tolerance. The region and county
    outlines are simplified on their own arrangement and may stand off the class edges by
    less than a level's tolerance (under a screen pixel).
    """
    parts, owner = shapely.get_parts(np.array([c.geometry for c in present], dtype=object), return_index=True)
    out: list[np.ndarray] = [np.empty(0, dtype=object)] * len(levels)
    for i in sorted(range(len(levels)), key=lambda i: levels[i].tolerance_m):
        if levels[i].tolerance_m > 0 and len(parts):
            parts = shapely.coverage_simplify(parts, levels[i].tolerance_m)
        kept = ~shapely.is_empty(parts)
        out[i] = np.array([shapely.multipolygons(parts[kept & (owner == k)]) for k in range(len(present))], dtype=object)
    return out


def _area_table(result: SitingClasses, county_rows: list[dict]) -> str:
    colours = {CLASS_NAMES[v]: VERDICT_COLOURS[v] for v in CLASSES}
    rows = "".join(
        f"<tr><td>{html.escape(r['county'])}</td><td><i class='siting-swatch' style='background:{colours[r['class']]}'></i>"
        f"{html.escape(r['class'])}</td><td class='num'>{r['area_km2']:,.2f}</td><td class='num'>{100 * r['share']:.1f}%</td></tr>"
        for r in county_rows)
    return (f"<table><tr><th>县（市、区）</th><th>类别</th><th>面积（km²）</th><th>占比</th></tr>{rows}</table>"
            f"<small>面积在 EPSG:{result.epsg}（CGCS2000 高斯-克吕格3度带）按全精度分类几何计算。</small>")


def _largest_table(largest: list[dict]) -> str:
    if not largest:
        return "<small>区域内没有未发现限制的区域。</small>"
    rows = "".join(f"<tr><td>{p['rank']}</td><td class='num'>{p['area_km2']:,.3f}</td>"
                   f"<td>{p['lon']:.5f}, {p['lat']:.5f}</td></tr>" for p in largest)
    return f"<table><tr><th>序号</th><th>面积（km²）</th><th>中心（经度, 纬度）</th></tr>{rows}</table>"


def _rules_list(result: SitingClasses) -> str:
    parts = []
    for cls in _present(result):
        if not cls.rules and not cls.demonstration:
            continue
        items = "".join(
            f"<li><b>{html.escape(rule_id)}</b>（{html.escape(result.rules[rule_id].plan.title)}"
            f"{html.escape(result.rules[rule_id].section)}）：{html.escape(_short(result.rules[rule_id].quote))}</li>"
            for rule_id in cls.rules)
        if cls.demonstration:
            items += f"<li>示意数据：{html.escape('、'.join(cls.demonstration))}</li>"
        parts.append(f"<div><b style='color:{VERDICT_COLOURS[cls.verdict]}'>{html.escape(cls.name)}</b>"
                     f"<ul style='margin:0;padding-left:16px'>{items}</ul></div>")
    return "<div style='max-height:50vh;overflow:auto;max-width:46em'>" + "".join(parts) + "</div>"


def _short(text: str) -> str:
    return text if len(text) <= _QUOTE_LIMIT else text[:_QUOTE_LIMIT] + "…"


def _not_evaluated_list(result: SitingClasses) -> str:
    items = "".join(f"<li>{html.escape(n.layer_name)}：{len(n.rules)} 条条款，{float(n.geometry.area) / 1e6:,.1f} km²"
                    f"<br><small>{html.escape(n.reason)}</small></li>" for n in result.not_evaluated)
    return f"<ul style='margin:0;padding-left:16px;max-height:40vh;overflow:auto'>{items}</ul>"


def industry_map(result: SitingClasses, region: Region, subdivisions: gpd.GeoDataFrame, layers: LayerSet,
                 county_rows: list[dict], largest: list[dict], basemap: Basemap | None = None,
                 out: Path | None = None) -> folium.Map:
    """The classified region as an offline Leaflet page."""
    epsg = result.epsg
    present = _present(result)
    counties = np.asarray(project(np.asarray(subdivisions.geometry.values, dtype=object), STORAGE_EPSG, epsg), dtype=object)
    admin = arrange(np.concatenate([[result.region], counties]))
    levels = levels_for(region.geometry.centroid.y)
    per_level = [_wgs84(np.concatenate([simplify_arrangement(admin, level.tolerance_m), classes]), epsg)
                 for level, classes in zip(levels, _class_levels(present, levels), strict=True)]
    fmap = base_map(tuple(region.geometry.bounds), basemap, out)

    def lod(rows: slice) -> list[LevelGeometries]:
        return [LevelGeometries(level.max_zoom, parts[rows]) for level, parts in zip(levels, per_level, strict=True)]

    legend = []
    first = 1 + len(counties)
    total = result.region_km2
    for i, cls in enumerate(present):
        style = class_style(cls.verdict)
        popup = (f"<b>{html.escape(cls.name)}</b>：{html.escape(MEANINGS[cls.verdict])}<br>"
                 f"面积：{cls.area_km2:,.2f} km²（{100 * cls.area_km2 / total:.1f}%）"
                 + (f"<br>条款：{html.escape('、'.join(cls.rules))}" if cls.rules else "")
                 + (f"<br>示意数据：{html.escape('、'.join(cls.demonstration))}" if cls.demonstration else ""))
        ZoomLayer(cls.name, style, lod(slice(first + i, first + i + 1)), [{"popup": popup, "tooltip": html.escape(cls.name)}],
                  bool(cls.demonstration)).add_to(fmap)
        legend.append((fill_swatch(style), f"{cls.name}：{MEANINGS[cls.verdict]}"))
    if result.not_evaluated:
        merged = shapely.union_all([n.geometry for n in result.not_evaluated])
        names = "、".join(n.layer_name for n in result.not_evaluated)
        geometry = [LevelGeometries(level.max_zoom, _wgs84(np.array([shapely.simplify(merged, level.tolerance_m)]), epsg))
                    for level in levels]
        ZoomLayer("有条款未评价（缺图层）", _NOT_EVALUATED_STYLE, geometry,
                  [{"popup": f"<b>有条款因缺少图层未评价</b><br>{html.escape(names)}", "tooltip": "有条款未评价"}],
                  False, show=False).add_to(fmap)
        legend.append((line_swatch(_NOT_EVALUATED_STYLE.colour, dashed=True), "有条款未评价（缺图层，见左上）"))
    ZoomLayer("县（市、区）界" if region.level == "city" else "行政区界", ZoneStyle(ADMIN_COLOUR, 0.0, weight=1.0),
              lod(slice(1, first)), [{"tooltip": html.escape(n)} for n in subdivisions["name"]], False).add_to(fmap)
    ZoomLayer(f"{region.name}边界", ZoneStyle("#222222", 0.0, weight=2.5), lod(slice(0, 1)),
              [{"tooltip": html.escape(region.name)}], False).add_to(fmap)
    legend += [(line_swatch("#222222"), f"{region.name}边界"), (line_swatch(ADMIN_COLOUR), "县（市、区）界")]
    Banners(authority_text(sources(result, layers), simplified=True)).add_to(fmap)
    Panel(f"{title(region, result)}图例", legend_html(legend), corner="bottomright").add_to(fmap)
    Panel("分类面积（按县）", _area_table(result, county_rows), corner="bottomleft", open_=False).add_to(fmap)
    Panel("最大的未发现限制连片区域", _largest_table(largest), corner="bottomleft", open_=False).add_to(fmap)
    Panel("各类别依据条款", _rules_list(result), corner="topleft2", open_=False).add_to(fmap)
    if result.not_evaluated:
        Panel(f"未评价条款的图层（{len(result.not_evaluated)}）", _not_evaluated_list(result), corner="topleft2",
              open_=False).add_to(fmap)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    return fmap


def write_industry_map(result: SitingClasses, region: Region, subdivisions: gpd.GeoDataFrame, layers: LayerSet,
                       county_rows: list[dict], largest: list[dict], out: Path, basemap: Basemap | None = None) -> Path:
    return save_offline(industry_map(result, region, subdivisions, layers, county_rows, largest, basemap, out), out)


def render_industry_figure(result: SitingClasses, region: Region, subdivisions: gpd.GeoDataFrame, layers: LayerSet,
                           largest: list[dict], out: Path) -> Path:
    """The classified region as an A4 landscape print figure (.png or .pdf by suffix)."""
    from matplotlib.lines import Line2D  # matplotlib only for print: the HTML map does without it

    from maps.figure import (
        add_demo_label,
        add_footer,
        add_north_arrow,
        add_scale_bar,
        meridian_convergence_deg,
        new_sheet,
        panel_legend,
        panel_rows,
        set_extent,
    )

    epsg = result.epsg
    plans = "、".join(dict.fromkeys(p for c in result.classes for p in c.plans))
    sheet = new_sheet(title(region, result), f"依据：{plans or '已载入规划'}", epsg)
    set_extent(sheet, result.region.bounds)
    ax = sheet.map_ax
    present = _present(result)
    for cls in present:
        gpd.GeoSeries([cls.geometry]).plot(ax=ax, facecolor=VERDICT_COLOURS[cls.verdict], edgecolor="none", alpha=0.8, zorder=2)
    counties = gpd.GeoSeries(np.asarray(project(np.asarray(subdivisions.geometry.values, dtype=object), STORAGE_EPSG, epsg), dtype=object))
    counties.boundary.plot(ax=ax, color=ADMIN_COLOUR, linewidth=0.7, linestyle="-.", zorder=7)
    gpd.GeoSeries([result.region.boundary]).plot(ax=ax, color="#111111", linewidth=1.8, zorder=8)
    if len(subdivisions) > 1:
        for name, point in zip(subdivisions["name"], counties.representative_point(), strict=True):
            ax.text(point.x, point.y, name, fontsize=8, family=sheet.family, ha="center", va="center", zorder=9,
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7, "edgecolor": "none"})
    centre = region.geometry.representative_point()
    convergence = meridian_convergence_deg(centre.x, centre.y, epsg)
    add_scale_bar(sheet)
    add_north_arrow(sheet, convergence)
    rows = [(f"{c.name}（{len(c.rules)} 条条款）", f"{c.area_km2:,.2f}", f"{100 * c.area_km2 / result.region_km2:.1f}%")
            for c in present]
    rows.append((f"{region.name}全域", f"{result.region_km2:,.2f}", "100%"))
    swatches = [{"facecolor": VERDICT_COLOURS[c.verdict], "edgecolor": "none", "alpha": 0.8} for c in present] + [None]
    below = panel_rows(sheet, "分类面积（平方千米）", rows, top=1.0, widths=(0.70, 0.19, 0.11), swatches=swatches)
    if largest:
        below = panel_rows(sheet, "最大的未发现限制连片区域", [(f"{p['rank']}. {p['lon']:.4f}°E, {p['lat']:.4f}°N",
                                                          f"{p['area_km2']:,.2f}", "") for p in largest[:5]],
                           top=below - 0.02, widths=(0.70, 0.19, 0.11))
    handles = [Line2D([], [], color="#111111", linewidth=1.8, label=f"{region.name}边界"),
               Line2D([], [], color=ADMIN_COLOUR, linewidth=0.7, linestyle="-.", label="县（市、区）界")]
    panel_legend(sheet, handles, "", top=below)
    below -= 0.045 * (len(handles) + 0.5)
    notes = ["类别即在该处 siting check 的结论；边界精度带按需复核计。"]
    if result.not_evaluated:
        notes.append(f"另有 {len(result.not_evaluated)} 个图层缺失或覆盖不全，相关条款未评价（按需复核计）。")
    for note in notes:
        sheet.panel_ax.text(0, below, note, fontsize=7.5, family=sheet.family, va="top", color="#333333",
                            transform=sheet.panel_ax.transAxes)
        below -= 0.03
    if demonstration(result):
        add_demo_label(sheet)
    add_footer(sheet, sources(result, layers), convergence, centre.x)
    sheet.figure.savefig(out, dpi=300, format=out.suffix.lower()[1:],
                         metadata={"Creator": "shanxi-siting"} if out.suffix.lower() == ".pdf" else None)
    return out


def render_matrix_figure(rows: list[dict], region_name: str, out: Path) -> Path:
    """Stacked bars: the share of the region in each class, one bar per industry and stage."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    from maps.fonts import cjk_family

    family = cjk_family()
    figure = Figure(figsize=(297 / 25.4, 210 / 25.4))
    ax = figure.add_axes((0.22, 0.12, 0.74, 0.76))
    labels = [f"{r['industry']}（{r['stage']}）" for r in rows]
    left = np.zeros(len(rows))
    y = np.arange(len(rows))[::-1]
    for verdict in CLASSES:
        share = np.array([r[CLASS_NAMES[verdict]] for r in rows]) * 100
        ax.barh(y, share, left=left, color=VERDICT_COLOURS[verdict], height=0.7, label=CLASS_NAMES[verdict])
        for yi, lo, width in zip(y, left, share, strict=True):
            if width >= 6:
                ax.text(lo + width / 2, yi, f"{width:.0f}%", ha="center", va="center", fontsize=7, color="white",
                        family=family)
        left += share
    ax.set_yticks(y, labels, fontsize=8, family=family)
    ax.set_xlim(0, 100)
    ax.set_xlabel("占区域面积（%）", family=family)
    figure.text(0.035, 0.955, f"{region_name}各行业选址管控分类占比", fontsize=15, fontweight="bold", family=family, va="top")
    handles = [Patch(facecolor=VERDICT_COLOURS[v], label=CLASS_NAMES[v]) for v in CLASSES]
    figure.legend(handles=handles, loc="upper right", ncol=len(handles), prop={"family": family, "size": 8}, frameon=False)
    figure.text(0.035, 0.03, "类别即在该处 siting check 的结论（已载入图层）；缺失图层与边界精度带按需复核计。",
                fontsize=7.5, family=family)
    figure.savefig(out, dpi=200 if out.suffix.lower() == ".png" else 300, format=out.suffix.lower()[1:])
    return out

