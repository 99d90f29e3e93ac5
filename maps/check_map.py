"""Interactive folium map of one check: the site, the zones that reached it, the rivers.

Built from small pieces (one function per overlay) so the region maps can reuse them.
No basemap by default: permit networks are often offline and tiles would be blank.
"""

from __future__ import annotations

import html

import folium
import shapely
from shapely.geometry.base import BaseGeometry

from spatial.checker import CheckResult, Finding
from spatial.layer import LayerSet
from spatial.rules import Verdict

VERDICT_COLOURS = {
    Verdict.PROHIBITED: "#c0392b",
    Verdict.RESTRICTED: "#e67e22",
    Verdict.REVIEW: "#f1c40f",
    Verdict.COMPLIANT: "#27ae60",
}
RIVER_COLOUR = "#1f6fb2"
_CONTEXT_WINDOW_DEG = 0.5  # rivers are drawn within about 50 km of the site


def finding_popup(finding: Finding) -> folium.Popup:
    rule = finding.rule
    distance = "" if finding.distance_m is None else f"<br>距离 {finding.distance_m:,.0f} 米，余量 {finding.margin_m:,.0f} 米"
    body = (
        f"<b>{html.escape(finding.verdict.label)}</b>：{html.escape(rule.id)}（{html.escape(rule.action.value)}）"
        f"<br>{html.escape(rule.plan.title)} {html.escape(rule.section)}"
        f"<br>“{html.escape(rule.quote)}”{distance}"
        + (f"<br>说明：{html.escape(finding.note)}" if finding.note else "")
    )
    return folium.Popup(body, max_width=420)


def zone_overlay(finding: Finding) -> folium.GeoJson | None:
    if finding.zone_geometry is None or finding.zone_geometry.is_empty:
        return None
    colour = VERDICT_COLOURS[finding.verdict]
    overlay = folium.GeoJson(
        shapely.geometry.mapping(finding.zone_geometry),
        name=f"{finding.zone}（{finding.rule.id}）",
        style_function=lambda _, c=colour: {"color": c, "weight": 1, "fillColor": c, "fillOpacity": 0.25},
    )
    finding_popup(finding).add_to(overlay)
    return overlay


def distance_line(finding: Finding) -> folium.PolyLine | None:
    line = finding.nearest_line
    if line is None or line.is_empty or finding.distance_m is None:
        return None
    return folium.PolyLine(
        [(y, x) for x, y in line.coords],
        color="#333333", weight=2, dash_array="6 4",
        tooltip=f"至{finding.layer_name} {finding.distance_m:,.0f} 米",
    )


def river_overlay(layers: LayerSet, layer_id: str, near: BaseGeometry) -> folium.GeoJson | None:
    frame = layers.layers[layer_id].frame
    window = shapely.buffer(near.centroid, _CONTEXT_WINDOW_DEG)
    clipped = shapely.intersection(shapely.union_all(frame.geometry.values), window)
    if clipped.is_empty:
        return None
    return folium.GeoJson(
        shapely.geometry.mapping(clipped), name=layers.layers[layer_id].name,
        style_function=lambda _: {"color": RIVER_COLOUR, "weight": 3},
    )


def site_marker(result: CheckResult) -> folium.Marker:
    colour = VERDICT_COLOURS[result.overall]
    site = result.site
    return folium.Marker(
        [site.lat, site.lon],
        tooltip=f"场址：{result.overall.label}",
        popup=folium.Popup(
            f"经度 {site.lon:.6f}，纬度 {site.lat:.6f}<br>{html.escape(result.industry.label)}，{result.stage.value}"
            f"<br>结论：<b style='color:{colour}'>{result.overall.label}</b>", max_width=300,
        ),
        icon=folium.Icon(color={"#c0392b": "red", "#e67e22": "orange", "#f1c40f": "beige"}.get(colour, "green")),
    )


def data_banner(result: CheckResult) -> folium.Element:
    """A fixed banner stating the authority of the data shown."""
    if all(layer["authoritative"] for layer in result.layers):
        text = "权威图层"
    else:
        text = "本图使用非权威公开图层（精度有限），仅供审查参考"
    if any(layer["demonstration"] for layer in result.layers):
        text = "示意数据（demonstration data），不得作为审批依据；" + text
    return folium.Element(
        "<div style='position:fixed;top:8px;left:50px;z-index:1000;background:#fff8e1;border:1px solid #e0a800;"
        f"padding:4px 8px;font-size:13px'>{html.escape(text)}</div>"
    )


def check_map(result: CheckResult, layers: LayerSet) -> folium.Map:
    site = result.site
    fmap = folium.Map(location=[site.lat, site.lon], zoom_start=12, tiles=None, control_scale=True)
    for layer_id in ("yellow_river", "fen_river"):
        if layer_id in layers.layers and (overlay := river_overlay(layers, layer_id, result.site_geometry)):
            overlay.add_to(fmap)
    for finding in result.findings:
        for piece in (zone_overlay(finding), distance_line(finding)):
            if piece is not None:
                piece.add_to(fmap)
    site_marker(result).add_to(fmap)
    fmap.get_root().html.add_child(data_banner(result))
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap
