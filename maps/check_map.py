"""Interactive map of one check for reviewers: the site against the zones that reached it.

Drawn at full resolution (the geometry the checker measured), with each measured zone's
accuracy band (the strip either side of its edge where a site is 需复核), distance lines to
zones within 5 km labelled in metres, a popup per zone listing each finding on it, county
lines and names and the declared seats for orientation, a legend carrying the
data-authority banners, layer control, scale bar and measure tool. No basemap unless one
is configured; the page is self-contained (see maps/offline.py).
"""

from __future__ import annotations

import hashlib
import html
from pathlib import Path

import folium
import shapely
from folium.template import Template
from shapely.geometry.base import BaseGeometry

from maps.basemap import Basemap
from maps.leaflet import (
    DemoBannerWatch,
    DemoLayer,
    HtmlPopup,
    Panel,
    PlaceLabel,
    StaticLayer,
    Verbatim,
    authority_text,
    banner_html,
    base_map,
    fill_swatch,
    legend_html,
    line_swatch,
)
from maps.offline import save_offline
from maps.places import seats
from maps.style import ADMIN_COLOUR, RIVER_COLOUR, RIVER_LAYERS, SITE_COLOUR, VERDICT_COLOURS, ZoneStyle, zone_style
from spatial.answer import folded
from spatial.crs import STORAGE_EPSG
from spatial.findings import MAP_WINDOW_M, CheckResult, Finding
from spatial.layer import LayerSet, Provenance, project
from spatial.rules import Verdict, ZoneKind

__all__ = ["VERDICT_COLOURS", "check_map", "write_check_map"]

_CONTEXT_WINDOW_M = 30_000  # rivers are drawn within this distance of the site
_FIT_WITHIN_M = 5_000  # the first view shows distance lines up to this length
_MIN_HALF_EXTENT_M = 1_500
_ADMIN_WINDOW_M = 40_000  # county lines and names are drawn within this distance of the site
_ADMIN_TOLERANCE_DEG = 0.0002  # about 20 m: context lines, never measured
_LABEL_CLEAR_M = 2_500  # a county name is placed at least this far from the site marker
_SEAT_CLEAR_M = 1_000  # a seat this close to the site would put its label on the site marker
_BAND_COLOUR = VERDICT_COLOURS[Verdict.REVIEW]  # a site in the band is 需复核


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


def zone_key(index: int) -> str:
    """The key of the index-th zone group (``zone_groups`` order), shared by the overlay and the findings list."""
    return f"zone-{index}"


def strictest(findings: list[Finding]) -> Verdict:
    return max((f.verdict for f in findings), key=lambda v: v.severity)


class ZoneKey(Verbatim):
    """Registers a zone overlay under its keys (its group key, ``rule:<id>`` of each rule on it), so
    the map's findings list and the page's findings table can open its popup."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {% for key in this.keys %}sitingZone({{ key|tojson }}, {{ this.layer.get_name() }});{% endfor %}
        {% endmacro %}
    """)

    def __init__(self, layer: folium.GeoJson, keys: list[str]) -> None:
        super().__init__()
        self.layer, self.keys = layer, keys


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
    return float(project(line, STORAGE_EPSG, epsg).length)


def distance_lines(result: CheckResult) -> StaticLayer | None:
    """Site → nearest point of each baseline or zone edge within 5 km, labelled in metres at the
    far end, on the side away from the site, so no label covers the site marker."""
    lines, labels, seen = [], [], set()
    for finding in result.findings:
        line = finding.nearest_line
        if (line is None or line.is_empty or finding.distance_m is None or finding.distance_m > _FIT_WITHIN_M
                or line.wkb in seen):
            continue
        seen.add(line.wkb)
        length = _line_length_m(line, result.site.gk_epsg)
        if length < 1:
            continue
        label = (f"距{finding.zone}边界 {length:,.0f} 米（在区内）" if finding.inside and finding.rule.zone.kind is ZoneKind.WITHIN
                 else f"至{finding.layer_name} {finding.distance_m:,.0f} 米")
        (x0, _), (x1, y1) = line.coords[0], line.coords[-1]
        lines.append(shapely.geometry.mapping(line))
        labels.append(PlaceLabel(x1, y1, label, f"siting-distance-label {'right' if x1 >= x0 else 'left'}"))
    if not lines:
        return None
    return StaticLayer("距离量算线（米）", {"type": "GeometryCollection", "geometries": lines},
                       {"color": "#222222", "weight": 2, "dashArray": "6 4"}, labels)


def accuracy_bands(result: CheckResult, layers: LayerSet) -> tuple[StaticLayer | None, list[str]]:
    """Each measured zone's accuracy band within 5 km of the site: the layer's positional accuracy
    inside its edge and, outside, that plus the river's mid-line-to-bank allowance — a site in
    the band is 需复核. Also the legend's words for the bands drawn (layer name and ±metres)."""
    bands, words = [], {}
    for group in zone_groups(result.findings):
        finding = group[0]
        drawing, layer = finding.drawing, layers.layers.get(finding.layer or "")
        if drawing is None or layer is None or finding.distance_m is None or finding.distance_m > _FIT_WITHIN_M:
            continue
        accuracy = float(layer.provenance.accuracy_m)
        outward = accuracy
        if finding.rule.zone.kind is ZoneKind.BUFFER:
            outward += float(layer.provenance.bank_m(result.site.lon, result.site.lat))
        zone = drawing.zone_gk
        edge = shapely.boundary(zone)
        band = shapely.union(shapely.intersection(shapely.buffer(edge, accuracy), zone),
                             shapely.difference(shapely.buffer(edge, outward), zone))
        # The zone is cut out of the map window round the site; that cut is no edge of the zone.
        reach = MAP_WINDOW_M - outward - (drawing.distance_m or 0.0) - 50
        band = shapely.intersection(band, shapely.buffer(drawing.site_gk, reach))
        if band.is_empty:
            continue
        bands.append(shapely.geometry.mapping(shapely.simplify(project(band, drawing.epsg, STORAGE_EPSG), 1e-5)))
        words[layer.name] = f"{layer.name}：界内 {accuracy:g} 米" + (f"、界外 {outward:g} 米" if outward != accuracy else "")
    if not bands:
        return None, []
    layer = StaticLayer("位置精度带（界线两侧）", {"type": "GeometryCollection", "geometries": bands},
                        {"stroke": False, "fillColor": _BAND_COLOUR, "fillOpacity": 0.3})
    return layer, list(words.values())


def admin_context(result: CheckResult, layers: LayerSet) -> list[StaticLayer]:
    """County and city lines with county names, and the declared seats, around the site: where
    the site is, offline, with or without a basemap. Names are kept off the site marker."""
    epsg = result.site.gk_epsg
    centre = project(result.site_geometry.centroid, STORAGE_EPSG, epsg)
    window = project(shapely.buffer(centre, _ADMIN_WINDOW_M), epsg, STORAGE_EPSG)
    frame = layers.admin.frame
    near = frame.loc[frame["level"].isin(["city", "county"]) & frame.intersects(window)]
    lines, labels = [], []
    clear = project(shapely.buffer(centre, _LABEL_CLEAR_M), epsg, STORAGE_EPSG)
    near_site = project(shapely.buffer(centre, _SEAT_CLEAR_M), epsg, STORAGE_EPSG)
    view = shapely.box(*view_bounds(result))
    for row in near.itertuples():
        edge = shapely.simplify(shapely.intersection(shapely.boundary(row.geometry), window), _ADMIN_TOLERANCE_DEG)
        if not edge.is_empty:
            lines.append({"type": "Feature", "geometry": shapely.geometry.mapping(edge),
                          "properties": {"level": row.level}})
        if row.level == "county":
            # In the first view if the county shows there, else where it lies in the window.
            piece = shapely.difference(shapely.intersection(row.geometry, view), clear)
            if piece.is_empty:
                piece = shapely.difference(shapely.intersection(row.geometry, window), clear)
            if not piece.is_empty:
                point = shapely.point_on_surface(piece)
                labels.append(PlaceLabel(point.x, point.y, row.name))
    style = {"color": ADMIN_COLOUR, "weight": 1.2, "dashArray": "8 4 2 4", "fill": False, "opacity": 0.9}
    counties = StaticLayer("县级行政区界及名称", {"type": "FeatureCollection", "features": lines}, style, labels)
    # A seat under the site marker is left out (the county name still says where the site is).
    seat_labels = [PlaceLabel(seat.lon, seat.lat, f"{seat.name}（示意位置）", "siting-seat-label")
                   for seat in seats(layers) if shapely.contains_xy(window, seat.lon, seat.lat)
                   and not shapely.contains_xy(near_site, seat.lon, seat.lat)]
    found = [counties]
    if seat_labels:
        found.append(StaticLayer("县城、市驻地（示意位置）", None, {}, seat_labels))
    return found


def river_overlay(layers: LayerSet, layer_id: str, site: BaseGeometry, epsg: int) -> folium.GeoJson | None:
    """A river baseline near the site, for context (full resolution)."""
    window = project(shapely.buffer(project(site.centroid, STORAGE_EPSG, epsg), _CONTEXT_WINDOW_M), epsg, STORAGE_EPSG)
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
    keys = {id(f): zone_key(index) for index, group in enumerate(zone_groups(result.findings)) for f in group}
    rows = "".join(
        (f"<tr data-zone='{keys[id(f)]}' title='点击查看该管控区详情'>" if id(f) in keys else "<tr>")
        + f"<td style='color:{VERDICT_COLOURS[f.verdict]}'>■ {f.verdict.label}</td><td>{html.escape(f.rule.id)}</td>"
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
    parts = [project(result.site_geometry, STORAGE_EPSG, epsg)]
    parts += [project(f.nearest_line, STORAGE_EPSG, epsg) for f in result.findings
              if f.nearest_line is not None and f.distance_m is not None and f.distance_m <= _FIT_WITHIN_M]
    extent = shapely.union_all(parts)
    box = shapely.box(*extent.bounds).buffer(_MIN_HALF_EXTENT_M, cap_style="square", join_style="mitre")
    return tuple(project(box, epsg, STORAGE_EPSG).bounds)


def check_map(result: CheckResult, layers: LayerSet, basemap: Basemap | None = None, out: Path | None = None,
              compact: bool = False) -> folium.Map:
    """The check's map; ``compact`` (the page's map frame) folds the layer control to its button."""
    fmap = base_map(view_bounds(result), basemap, out)
    shown: list[Provenance] = [layers.admin.provenance]
    for context in admin_context(result, layers):
        context.add_to(fmap)
    for layer_id in RIVER_LAYERS:
        if layer_id in layers.layers and (overlay := river_overlay(layers, layer_id, result.site_geometry,
                                                                   result.site.gk_epsg)):
            overlay.add_to(fmap)
            shown.append(layers.layers[layer_id].provenance)
    bands, band_words = accuracy_bands(result, layers)
    if bands is not None:
        bands.add_to(fmap)
    for index, group in enumerate(zone_groups(result.findings)):
        layer = layers.layers.get(group[0].layer)
        demonstration = bool(layer and layer.provenance.demonstration)
        overlay = zone_overlay(group, demonstration)
        overlay.add_to(fmap)
        ZoneKey(overlay, [zone_key(index), *(f"rule:{rule}" for rule in sorted({f.rule.id for f in group}))]).add_to(fmap)
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

    drawn = {strictest(group) for group in zone_groups(result.findings)}
    legend = [(f"<i class='siting-swatch' style='background:{c};opacity:.6;border:1.5px solid {c}'></i>", f"{v.label}（区域）")
              for v, c in VERDICT_COLOURS.items() if v in drawn]
    legend += [(fill_swatch(ZoneStyle("#888888", 0.2, dash="6 4")), "虚线边框：河流等缓冲区")]
    if band_words:
        legend.append((f"<i class='siting-swatch' style='background:{_BAND_COLOUR};opacity:.55'></i>",
                       "位置精度带（界线两侧；场址落在带内为需复核）：" + "；".join(band_words)))
    legend += [(line_swatch(RIVER_COLOUR), "河流中线")]
    if lines is not None:
        legend.append((line_swatch("#222222", dashed=True), "距离量算线（5 公里以内，米）"))
    legend += [(line_swatch(ADMIN_COLOUR, dashed=True), "县级行政区界"),
               (f"<i class='siting-site-icon' style='background:{VERDICT_COLOURS[result.overall]}'></i>", "场址")]
    banners = banner_html(authority_text(shown))
    if compact:  # the page's small map frame: the legend folds, the banners stay in its corner
        Panel("图例", legend_html(legend), corner="bottomright", open_=False, lead=banners).add_to(fmap)
    else:
        Panel("图例", f"<div class='siting-legend-banner'>{banners}</div>" + legend_html(legend), corner="bottomright").add_to(fmap)
    DemoBannerWatch().add_to(fmap)
    Panel("审查结论", _summary(result), corner="bottomleft", open_=False).add_to(fmap)
    folium.LayerControl(collapsed=compact).add_to(fmap)
    return fmap


def write_check_map(result: CheckResult, layers: LayerSet, out: Path, basemap: Basemap | None = None) -> Path:
    return save_offline(check_map(result, layers, basemap, out), out)
