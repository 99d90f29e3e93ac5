"""Interactive zone map of a region for planners: every zone layer, a legend and an area table.

Geometry is simplified per zoom level on one shared arrangement (maps/simplify.py), so a
city map stays small and neighbouring zones never gap or overlap on screen; areas in the
table come from the full-resolution geometry in the region's Gauss–Krüger zone. County
names, the declared seats and a north arrow orient a planner as the printed figure does.
"""

from __future__ import annotations

import html
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Template

from maps.basemap import Basemap
from maps.leaflet import (
    Banners,
    LevelGeometries,
    Panel,
    PlaceLabel,
    StaticLayer,
    Verbatim,
    ZoomLayer,
    authority_text,
    base_map,
    fill_swatch,
    legend_html,
    line_swatch,
)
from maps.offline import save_offline
from maps.places import seats
from maps.region import RegionZones, Zone
from maps.simplify import Level, arrange, levels_for, simplify_arrangement, simplify_lines
from maps.style import ADMIN_COLOUR, RIVER_COLOUR, ZoneStyle, zone_style
from spatial.crs import STORAGE_EPSG
from spatial.layer import LayerSet, project
from spatial.units import ACCESS_DIMENSIONS

_ATTRIBUTE_LABELS = {"code": "单元编码", "name": "名称", "class": "管控类别", "class_name": "管控类别",
                     "county_name": "所在县（市、区）", "baseline": "基线", "distance_m": "距离（米）"}
_POPUP_TEXT_LIMIT = 400
_LEVEL_GAIN = 0.7  # a coarser level must drop at least 30 % of the vertices


class NorthArrow(Verbatim):
    """A north arrow at the top right, above the layer control (Web Mercator: north is up); the
    left column holds the zoom, measure and panel controls."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            (function (map) {
                var arrow = L.control({position: "topright"});
                arrow.onAdd = function () {
                    var box = L.DomUtil.create("div", "siting-north-arrow");
                    box.title = "指北针（图上方为正北）";
                    box.innerHTML = "<span>北</span><svg width='22' height='30' viewBox='0 0 22 30' aria-hidden='true'>"
                        + "<path d='M11 0 L21 30 L11 23 L1 30 Z' fill='#111'/></svg>";
                    return box;
                };
                arrow.addTo(map);
            })({{ this._parent.get_name() }});
        {% endmacro %}
        {% macro header(this, kwargs) %}
            <style>.siting-north-arrow{background:rgba(255,255,255,.85);border:1px solid #999;border-radius:4px;padding:2px 5px;
              text-align:center;font:bold 13px/1.1 "Noto Sans CJK SC","Microsoft YaHei",sans-serif}
              .siting-north-arrow span{display:block}</style>
        {% endmacro %}
    """)


_SEAT_MIN_ZOOM = 10  # seats are labelled from county scale; at city scale the county names suffice


def _place_names(zones: RegionZones, layers: LayerSet) -> list[StaticLayer]:
    """County names at a point inside each county, and the declared seats in the region (closer in)."""
    names = [PlaceLabel(point.x, point.y, name) for name, point in
             zip(zones.subdivisions["name"], zones.subdivisions.geometry.representative_point(), strict=True)]
    found = [StaticLayer("县（市、区）名称", None, {}, names)]
    seat_labels = [PlaceLabel(seat.lon, seat.lat, f"{seat.name}（示意位置）", "siting-seat-label") for seat in seats(layers)
                   if shapely.contains_xy(zones.region.geometry, seat.lon, seat.lat)]
    if seat_labels:
        found.append(StaticLayer("县城、市驻地（示意位置）", None, {}, seat_labels, label_min_zoom=_SEAT_MIN_ZOOM))
    return found


def _feature_popup(zone: Zone, row: dict, area_km2: float) -> str:
    lines = [f"<b>{html.escape(zone.label)}</b>" + ("（示意数据）" if zone.demonstration else "")]
    if zone.also:
        lines.append(f"同一范围：{html.escape('、'.join([zone.name, *(name for _, name in zone.also)]))}")
    for key, label in {**_ATTRIBUTE_LABELS, **ACCESS_DIMENSIONS}.items():
        value = row.get(key)
        if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
            continue
        text = str(value) if len(str(value)) <= _POPUP_TEXT_LIMIT else str(value)[:_POPUP_TEXT_LIMIT] + "…"
        lines.append(f"{label}：{html.escape(text)}")
    lines.append(f"图内面积：{area_km2:,.2f} 平方公里")
    if zone.rules:
        lines.append(f"引用条款：{html.escape('、'.join(zone.rules))}")
    if zone.plans:
        lines.append(f"引用规划：{html.escape('；'.join(zone.plans))}")
    if zone.coverage_note:
        lines.append(f"图层覆盖：{html.escape(zone.coverage_note)}")
    lines.append(f"来源：{html.escape(zone.provenance.source)}（±{zone.provenance.accuracy_m:g} 米）")
    return "<br>".join(lines)


def _area_table(zones: RegionZones) -> str:
    rows = "".join(
        f"<tr><td>{fill_swatch(zone_style(z.style_id))} {html.escape(z.label)}{'（示意）' if z.demonstration else ''}"
        f"{'<br><small>' + html.escape(z.coverage_note) + '</small>' if z.coverage_note else ''}</td>"
        f"<td class='num'>{z.area_km2:,.2f}</td><td class='num'>{100 * z.area_km2 / zones.region_area_km2:.1f}%</td></tr>"
        for z in zones.zones
    )
    return (f"<table><tr><th>分区</th><th>面积（km²）</th><th>占比</th></tr>{rows}"
            f"<tr><td>{html.escape(zones.region.name)}全域</td><td class='num'>{zones.region_area_km2:,.2f}</td>"
            f"<td class='num'>100%</td></tr></table><small>面积在 EPSG:{zones.region.gk_epsg}（CGCS2000 高斯-克吕格3度带）"
            "按全精度几何计算。</small>")


def _missing_list(zones: RegionZones) -> str:
    items = "".join(f"<li>{html.escape(m['name'])}（{len(m['rules'])} 条条款）</li>" for m in zones.missing)
    return f"<ul style='margin:0;padding-left:16px'>{items}</ul>"


def _gk(geometries: np.ndarray, epsg: int) -> np.ndarray:
    return np.asarray(project(np.asarray(geometries, dtype=object), STORAGE_EPSG, epsg), dtype=object)


def _wgs84(geometries: np.ndarray, epsg: int) -> np.ndarray:
    return np.asarray(project(np.asarray(geometries, dtype=object), epsg, STORAGE_EPSG), dtype=object)


def simplified_levels(zones: RegionZones, levels: list[Level]) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
    """Per level: the outline + subdivisions + every zone's features, simplified together (WGS84)."""
    epsg = zones.region.gk_epsg
    frames = [gpd.GeoSeries([zones.region.geometry]), zones.subdivisions.geometry] + [z.frame.geometry for z in zones.zones]
    sizes = [len(f) for f in frames]
    arrangement = arrange(_gk(np.concatenate([f.values for f in frames]), epsg))
    per_level = []
    for level in levels:
        simplified = _wgs84(simplify_arrangement(arrangement, level.tolerance_m), epsg)
        per_level.append(np.split(simplified, np.cumsum(sizes)[:-1]))
    rivers = [[_wgs84(simplify_lines(_gk(frame.geometry.values, epsg), level.tolerance_m), epsg) for level in levels]
              for frame in zones.rivers.values()]
    return per_level, rivers


def _useful_levels(levels: list[Level], per_level: list, rivers: list) -> tuple[list[Level], list, list]:
    """Keep a coarser level only if it saves enough vertices over the next finer one kept;
    coarse source data would otherwise be written several times over for nothing."""
    counts = [int(shapely.get_num_coordinates(np.concatenate(parts)).sum()) for parts in per_level]
    keep = [len(levels) - 1]
    for index in range(len(levels) - 2, -1, -1):
        if counts[index] <= _LEVEL_GAIN * counts[keep[-1]]:
            keep.append(index)
    keep.reverse()
    return [levels[i] for i in keep], [per_level[i] for i in keep], [[river[i] for i in keep] for river in rivers]


def region_map(zones: RegionZones, layers: LayerSet, basemap: Basemap | None = None, out: Path | None = None,
               simplify: bool = True) -> folium.Map:
    """The zone map of a region; ``simplify=False`` draws full resolution (the benchmark's baseline)."""
    region = zones.region
    levels = levels_for(region.geometry.centroid.y) if simplify else [Level(19, 0.0)]
    per_level, rivers = simplified_levels(zones, levels)
    levels, per_level, rivers = _useful_levels(levels, per_level, rivers)
    fmap = base_map(tuple(region.geometry.bounds), basemap, out)

    def lod(index: int) -> list[LevelGeometries]:
        return [LevelGeometries(level.max_zoom, parts[index]) for level, parts in zip(levels, per_level, strict=True)]

    legend = []
    for number, zone in enumerate(zones.zones, start=2):
        style = zone_style(zone.style_id)
        areas = shapely.area(_gk(zone.frame.geometry.values, region.gk_epsg)) / 1e6
        props = [{"popup": _feature_popup(zone, row, area), "tooltip": html.escape(str(row.get("name") or zone.name))}
                 for row, area in zip(zone.frame.drop(columns="geometry").to_dict("records"), areas, strict=True)]
        label = zone.label + ("（示意）" if zone.demonstration else "")
        ZoomLayer(label, style, lod(number), props, zone.demonstration).add_to(fmap)
        legend.append((fill_swatch(style), label))

    outline = ZoneStyle(ADMIN_COLOUR, 0.0, weight=1.0)
    ZoomLayer("县（市、区）界" if region.level == "city" else "行政区界", outline, lod(1),
              [{"tooltip": html.escape(n)} for n in zones.subdivisions["name"]], False).add_to(fmap)
    ZoomLayer(f"{region.name}边界", ZoneStyle("#222222", 0.0, weight=2.5), lod(0),
              [{"tooltip": html.escape(region.name)}], False).add_to(fmap)
    for (layer_id, frame), river_levels in zip(zones.rivers.items(), rivers, strict=True):
        name = layers.layers[layer_id].name
        ZoomLayer(name, ZoneStyle(RIVER_COLOUR, 0.0, weight=2.5),
                  [LevelGeometries(level.max_zoom, g) for level, g in zip(levels, river_levels, strict=True)],
                  [{"tooltip": html.escape(name)}] * len(frame), layers.layers[layer_id].provenance.demonstration,
                  lines=True).add_to(fmap)
    if zones.rivers:
        legend.append((line_swatch(RIVER_COLOUR), f"河流中线（{'、'.join(layers.layers[i].name for i in zones.rivers)}）"))
    legend += [(line_swatch("#222222"), f"{region.name}边界"), (line_swatch(ADMIN_COLOUR), "县（市、区）界")]
    for layer in _place_names(zones, layers):
        layer.add_to(fmap)

    sources = zones.sources(layers)
    Banners(authority_text(sources, simplified=simplify)).add_to(fmap)
    Panel(f"{region.name}管控分区图例", legend_html(legend), corner="bottomright").add_to(fmap)
    Panel("分区面积", _area_table(zones), corner="bottomleft", open_=False).add_to(fmap)
    if zones.missing:
        Panel(f"未载入图层（{len(zones.missing)}）", _missing_list(zones), corner="topleft2", open_=False).add_to(fmap)
    NorthArrow().add_to(fmap)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    return fmap


def write_region_map(zones: RegionZones, layers: LayerSet, out: Path, basemap: Basemap | None = None,
                     simplify: bool = True) -> Path:
    return save_offline(region_map(zones, layers, basemap, out, simplify), out)

