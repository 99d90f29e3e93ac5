"""Interactive map of one check for reviewers: the site against the zones that reached it.

Drawn at full resolution (the geometry the checker measured), with the distance lines
labelled in metres, a popup per zone listing each finding on it, a legend, layer
control, scale bar, measure tool and the data-authority banners. No basemap unless one
is configured; the page is self-contained (see maps/offline.py).
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

import folium
import shapely
from shapely.geometry.base import BaseGeometry

from maps.basemap import Basemap
from maps.leaflet import Banners, DemoLayer, HtmlPopup, Panel, authority_text, base_map, fill_swatch, legend_html, line_swatch
from maps.offline import save_offline
from maps.style import RIVER_COLOUR, RIVER_LAYERS, SITE_COLOUR, VERDICT_COLOURS, ZoneStyle, zone_style
from spatial.answer import folded
from spatial.checker import CheckResult, Finding
from spatial.crs import STORAGE_CRS
from spatial.layer import LayerSet, Provenance, project
from spatial.rules import Verdict, ZoneKind

__all__ = ["VERDICT_COLOURS", "check_map", "write_check_map"]

_WGS84 = STORAGE_CRS.to_epsg()
_CONTEXT_WINDOW_M = 30_000  # rivers are drawn within this distance of the site
_FIT_WITHIN_M = 5_000  # the first view shows distance lines up to this length
_MIN_HALF_EXTENT_M = 1_500


def finding_html(finding: Finding) -> str:
    """One finding as a popup section: verdict colour, rule, plan, section, quote, distance."""
    rule = finding.rule
    colour = VERDICT_COLOURS[finding.verdict]
    distance = "" if finding.distance_m is None else (
        f"<br>距离 {finding.distance_m:,.0f} 米，余量 {finding.margin_m:,.0f} 米" + ("（边界情形）" if finding.boundary_case else ""))
    return (
        f"<div style='border-left:6px solid {colour};padding-left:6px;margin:4px 0'>"
        f"<b style='color:{colour}'>{html.escape(finding.verdict.label)}</b>　{html.escape(rule.id)}（{html.escape(rule.action.value)}）"
        f"<br>{html.escape(rule.plan.title)} {html.escape(rule.section)}"
        f"<br>“{html.escape(rule.quote)}”{distance}"
        + (f"<br>说明：{html.escape(finding.note)}" if finding.note else "") + "</div>"
    )


def zone_groups(findings: list[Finding]) -> list[list[Finding]]:
    """Findings drawn on the same zone geometry share one overlay (and one popup)."""
    groups: dict[tuple, list[Finding]] = {}
    for finding in findings:
        if finding.zone_geometry is None or finding.zone_geometry.is_empty:
            continue
        key = (finding.layer, finding.zone, hashlib.sha1(finding.zone_geometry.wkb).hexdigest())
        groups.setdefault(key, []).append(finding)
    return list(groups.values())


def strictest(findings: list[Finding]) -> Verdict:
    return max((f.verdict for f in findings), key=lambda v: v.severity)


def zone_overlay(group: list[Finding], demonstration: bool) -> folium.GeoJson:
    first = group[0]
    verdict = strictest(group)
    colour = VERDICT_COLOURS[verdict]
    buffer = first.rule.zone.kind is ZoneKind.BUFFER
    style = ZoneStyle(colour, 0.22, weight=1.5, dash="6 4" if buffer else None).leaflet()
    rule_ids = sorted({f.rule.id for f in group})
    cited = rule_ids[0] if len(rule_ids) == 1 else f"{rule_ids[0]} 等 {len(rule_ids)} 条"
    name = f"{first.zone}（{cited}）" + ("（示意）" if demonstration else "")
    overlay = folium.GeoJson(shapely.geometry.mapping(first.zone_geometry), name=name,
                             style_function=lambda _, s=style: s)
    HtmlPopup(f"<b>{html.escape(first.zone)}</b>" + ("（示意数据）" if demonstration else "")
              + "".join(finding_html(f) for f in sorted(group, key=lambda f: -f.verdict.severity)),
              max_width=440).add_to(overlay)
    folium.Tooltip(f"{first.zone}：{verdict.label}").add_to(overlay)
    return overlay


def _line_length_m(line: BaseGeometry, epsg: int) -> float:
    return float(project(line, _WGS84, epsg).length)


def distance_lines(result: CheckResult) -> folium.FeatureGroup | None:
    """Site → nearest point of each baseline or zone edge, labelled in metres."""
    group = folium.FeatureGroup(name="距离量算线（米）")
    seen = set()
    for finding in result.findings:
        line = finding.nearest_line
        if line is None or line.is_empty or finding.distance_m is None or line.wkb in seen:
            continue
        seen.add(line.wkb)
        length = _line_length_m(line, result.site.gk_epsg)
        if length < 1:
            continue
        label = (f"距{finding.zone}边界 {length:,.0f} 米（在区内）" if finding.inside and finding.rule.zone.kind is ZoneKind.WITHIN
                 else f"至{finding.layer_name} {finding.distance_m:,.0f} 米")
        folium.PolyLine([(y, x) for x, y in line.coords], color="#222222", weight=2, dash_array="6 4",
                        tooltip=folium.Tooltip(label, permanent=True, direction="center",
                                               class_name="siting-distance-label")).add_to(group)
    return group if seen else None


def river_overlay(layers: LayerSet, layer_id: str, site: BaseGeometry, epsg: int) -> folium.GeoJson | None:
    """A river baseline near the site, for context (full resolution)."""
    window = project(shapely.buffer(project(site.centroid, _WGS84, epsg), _CONTEXT_WINDOW_M), epsg, _WGS84)
    clipped = shapely.intersection(shapely.union_all(layers.layers[layer_id].frame.geometry.values), window)
    if clipped.is_empty:
        return None
    return folium.GeoJson(shapely.geometry.mapping(clipped), name=layers.layers[layer_id].name,
                          style_function=lambda _: {"color": RIVER_COLOUR, "weight": 3})


def _site_popup(result: CheckResult) -> str:
    site, colour = result.site, VERDICT_COLOURS[result.overall]
    size = ""
    if site.size and "area_m2" in site.size:
        size = f"<br>面积 {site.size['area_m2']:,.0f} 平方米"
    elif site.size and "length_m" in site.size:
        size = f"<br>长度 {site.size['length_m']:,.0f} 米"
    return (f"<b>场址</b>　经度 {site.lon:.6f}，纬度 {site.lat:.6f}（WGS84/CGCS2000）{size}"
            f"<br>{html.escape(result.industry.label)}，{result.stage.value}"
            f"<br>结论：<b style='color:{colour}'>{result.overall.label}</b>"
            f"<br>{html.escape(result.headline()[0])}")


def site_layer(result: CheckResult) -> folium.FeatureGroup:
    """The site: a marker for a point, the outline (and a marker at its centre) for lines and polygons."""
    group = folium.FeatureGroup(name="场址")
    colour = VERDICT_COLOURS[result.overall]
    geometry = result.site_geometry
    if geometry.geom_type not in ("Point", "MultiPoint"):
        folium.GeoJson(shapely.geometry.mapping(geometry),
                       style_function=lambda _: {"color": SITE_COLOUR, "weight": 3, "fillColor": SITE_COLOUR,
                                                 "fillOpacity": 0.15}).add_to(group)
    icon = folium.DivIcon(html=f"<div class='siting-site-icon' style='background:{colour}'></div>",
                          icon_size=(20, 20), icon_anchor=(10, 10))
    marker = folium.Marker([result.site.lat, result.site.lon], icon=icon, tooltip=f"场址：{result.overall.label}")
    HtmlPopup(_site_popup(result), max_width=320).add_to(marker)
    marker.add_to(group)
    return group


def unit_overlay(result: CheckResult, layers: LayerSet) -> folium.GeoJson | None:
    """The 三线一单 units the site falls in, with their access lists."""
    rows = []
    for unit in result.units:
        frame = layers.layers[unit["layer"]].frame
        match = frame.loc[frame["code"] == unit["code"]]
        if match.empty:
            continue
        access = "".join(f"<br><b>{html.escape(k)}</b>：{html.escape(v)}" for k, v in unit["access_list"].items())
        rows.append({"geometry": match.geometry.iloc[0], "popup": (
            f"<b>{html.escape(str(unit['name']))}</b>（{html.escape(str(unit['code']))}，{html.escape(unit['class'])}）"
            + ("（示意数据）" if unit["demonstration"] else "") + access)})
    if not rows:
        return None
    style = zone_style("units_key")
    overlay = folium.FeatureGroup(name="场址所在三线一单单元" + ("（示意）" if any(u["demonstration"] for u in result.units) else ""),
                                  show=False)
    for row in rows:
        piece = folium.GeoJson(shapely.geometry.mapping(row["geometry"]),
                               style_function=lambda _: {"color": style.colour, "weight": 2, "fillOpacity": 0.05})
        HtmlPopup(row["popup"], max_width=440).add_to(piece)
        piece.add_to(overlay)
    return overlay


def _summary(result: CheckResult) -> str:
    """The answer as the check gives it: verdict and reason, the site's findings (far compliant
    zones folded), binding plan-wide rules, one line per missing layer."""
    colour = VERDICT_COLOURS[result.overall]
    listed, hidden = folded([f for f in result.findings if f.group == "site"])
    listed += [f for f in result.findings if f.group != "site" and f.verdict is not Verdict.COMPLIANT]
    rows = "".join(
        f"<tr><td style='color:{VERDICT_COLOURS[f.verdict]}'>■ {f.verdict.label}</td><td>{html.escape(f.rule.id)}</td>"
        f"<td class='num'>{'' if f.distance_m is None else f'{f.distance_m:,.0f} 米'}</td></tr>"
        for f in listed
    )
    more = f"<br>另有 {hidden} 处 5 公里以外的管控区，场址均在区外。" if hidden else ""
    pending = "".join(f"<br>{html.escape(group.summary)}" for group in result.missing_layers())
    return (f"结论：<b style='color:{colour}'>{result.overall.label}</b><br>{html.escape(result.headline()[0])}{pending}"
            f"<table><tr><th>结论</th><th>条款</th><th>距离</th></tr>{rows}</table>{more}")


def view_bounds(result: CheckResult) -> tuple[float, float, float, float]:
    """(west, south, east, north) showing the site and the distance lines up to a few kilometres."""
    epsg = result.site.gk_epsg
    parts = [project(result.site_geometry, _WGS84, epsg)]
    parts += [project(f.nearest_line, _WGS84, epsg) for f in result.findings
              if f.nearest_line is not None and f.distance_m is not None and f.distance_m <= _FIT_WITHIN_M]
    extent = shapely.union_all(parts)
    box = shapely.box(*extent.bounds).buffer(_MIN_HALF_EXTENT_M, cap_style="square", join_style="mitre")
    return tuple(project(box, epsg, _WGS84).bounds)


def check_map(result: CheckResult, layers: LayerSet, basemap: Basemap | None = None, out: Path | None = None) -> folium.Map:
    fmap = base_map(view_bounds(result), basemap, out)
    shown: list[Provenance] = [layers.admin.provenance]
    for layer_id in RIVER_LAYERS:
        if layer_id in layers.layers and (overlay := river_overlay(layers, layer_id, result.site_geometry,
                                                                   result.site.gk_epsg)):
            overlay.add_to(fmap)
            shown.append(layers.layers[layer_id].provenance)
    for group in zone_groups(result.findings):
        layer = layers.layers.get(group[0].layer)
        demonstration = bool(layer and layer.provenance.demonstration)
        overlay = zone_overlay(group, demonstration)
        overlay.add_to(fmap)
        if layer is not None:
            shown.append(layer.provenance)
        if demonstration:
            DemoLayer(overlay).add_to(fmap)
    if (units := unit_overlay(result, layers)) is not None:
        units.add_to(fmap)
        if any(u["demonstration"] for u in result.units):
            DemoLayer(units).add_to(fmap)
    if (lines := distance_lines(result)) is not None:
        lines.add_to(fmap)
    site = site_layer(result)
    site.add_to(fmap)
    if result.demonstration:  # the verdict on the site rests on demonstration data
        DemoLayer(site).add_to(fmap)

    legend = [(f"<i class='siting-swatch' style='background:{c};opacity:.6;border:1.5px solid {c}'></i>", f"{v.label}（区域）")
              for v, c in VERDICT_COLOURS.items()]
    legend += [(fill_swatch(ZoneStyle("#888888", 0.2, dash="6 4")), "虚线边框：河流等缓冲区"),
               (line_swatch(RIVER_COLOUR), "河流中线"), (line_swatch("#222222", dashed=True), "距离量算线（米）"),
               (f"<i class='siting-site-icon' style='background:{VERDICT_COLOURS[result.overall]}'></i>", "场址")]
    Banners(authority_text(shown)).add_to(fmap)
    Panel("图例", legend_html(legend), corner="bottomright").add_to(fmap)
    Panel("审查结论", _summary(result), corner="bottomleft", open_=False).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    return fmap


def write_check_map(result: CheckResult, layers: LayerSet, out: Path, basemap: Basemap | None = None) -> Path:
    return save_offline(check_map(result, layers, basemap, out), out)
