"""Leaflet pieces both map pages use: the base map, zoom-level layers, legend, banners, tools.

Each is a folium element, so folium's layer control lists the overlays; every script
or stylesheet they need is vendored (maps/offline.py inlines it).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import folium
import numpy as np
import shapely
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from maps.basemap import Basemap, add_basemap
from maps.offline import RawHtml
from maps.style import DEMO_TEXT, ZoneStyle
from spatial.layer import Provenance

_HELPERS_JS = Path(__file__).resolve().parent / "js" / "siting_map.js"
_POLYLINE_SCALE = 1e5  # 1e-5 degree, about 1 m: below every layer's accuracy
DEMO_BANNER_ID = "siting-demo-banner"


def base_map(bounds: tuple[float, float, float, float], basemap: Basemap | None, out: Path | None) -> folium.Map:
    """An empty map fitted to (west, south, east, north), with the configured basemap if any."""
    west, south, east, north = bounds
    fmap = folium.Map(location=[(south + north) / 2, (west + east) / 2], zoom_start=10, tiles=None,
                      control_scale=False, max_zoom=19)
    fmap.fit_bounds([[south, west], [north, east]], padding=(20, 20))
    fmap.get_root().header.add_child(RawHtml(f"<script>{_HELPERS_JS.read_text(encoding='utf-8')}</script>"),
                                     name="siting_helpers")
    fmap.get_root().header.add_child(RawHtml(_PAGE_CSS), name="siting_css")
    if basemap is not None:
        add_basemap(fmap, basemap, bounds, out)
    ScaleBar().add_to(fmap)
    MeasureControl().add_to(fmap)
    return fmap


def _zigzag_chunks(values: np.ndarray) -> tuple[str, np.ndarray]:
    """Google polyline characters for signed integers, and how many characters each took."""
    zigzag = np.where(values < 0, ~(values << 1), values << 1).astype(np.uint64)
    counts = np.floor(np.log2(np.maximum(zigzag, 1).astype(float))).astype(int) // 5 + 1
    steps = np.arange(counts.max(initial=1))
    chunks = ((zigzag[:, None] >> (5 * steps[None, :]).astype(np.uint64)) & np.uint64(31)).astype(np.int64)
    chars = chunks + 0x20 * (steps[None, :] < counts[:, None] - 1) + 63
    return chars[steps[None, :] < counts[:, None]].astype(np.uint8).tobytes().decode("ascii"), counts


def encode_geometries(geometries: np.ndarray) -> list[list[list[str]] | None]:
    """WGS84 polygons or lines as encoded polylines (1e-5°, about 1 m): per feature, parts of rings.

    About a third of the size of GeoJSON text; identical coordinates encode identically,
    so shared edges stay shared. Decoded by sitingDecode in maps/js/siting_map.js.
    """
    geometries = np.asarray(geometries, dtype=object)
    parts, owner = shapely.get_parts(geometries, return_index=True)
    polygonal = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    rings, ring_of_polygon = shapely.get_rings(parts[polygonal], return_index=True)
    ring_part = np.concatenate([np.flatnonzero(polygonal)[ring_of_polygon], np.flatnonzero(~polygonal)])
    rings = np.concatenate([rings, parts[~polygonal]])
    order = np.argsort(ring_part, kind="stable")  # exterior before holes, parts in order
    rings, ring_part = rings[order], ring_part[order]
    coords, ring_index = shapely.get_coordinates(rings, return_index=True)
    ints = np.round(coords[:, ::-1] * _POLYLINE_SCALE).astype(np.int64)  # (lat, lng), as the format has it
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    starts = np.r_[True, ring_index[1:] != ring_index[:-1]] if len(ring_index) else np.zeros(0, bool)
    deltas[starts] = ints[starts]
    text, counts = _zigzag_chunks(deltas.ravel())
    per_ring = np.bincount(ring_index, weights=counts.reshape(-1, 2).sum(axis=1), minlength=len(rings)).astype(int)
    offsets = np.r_[0, np.cumsum(per_ring)]
    encoded: list[list[list[str]] | None] = [None] * len(geometries)
    previous_part = -1
    for ring, part in enumerate(ring_part):
        feature = owner[part]
        if encoded[feature] is None:
            encoded[feature] = []
        if part != previous_part:
            encoded[feature].append([])
            previous_part = part
        encoded[feature][-1].append(text[offsets[ring]:offsets[ring + 1]])
    return encoded


@dataclass(frozen=True)
class LevelGeometries:
    max_zoom: int
    geometries: np.ndarray  # WGS84, aligned with the layer's properties


class ZoomLayer(Layer):
    """An overlay drawn from the level of detail matching the map's zoom."""

    _template = Template("")

    def render(self, **kwargs) -> None:
        # Written verbatim: branca would re-read macro output as a template, and encoded
        # polylines may contain "{{".
        data = json.dumps(self.spec, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        self.get_root().script.add_child(
            RawHtml(f"var {self.get_name()} = sitingLodLayer({self._parent.get_name()}, {data});"), name=self.get_name())
        super().render(**kwargs)

    def __init__(self, name: str, style: ZoneStyle, levels: list[LevelGeometries], props: list[dict],
                 demonstration: bool, lines: bool = False, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "ZoomLayer"
        self.spec = {
            "style": style.leaflet(),
            "props": props,
            "demonstration": demonstration,
            "lines": lines,
            "lods": [{"maxZoom": level.max_zoom, "geoms": encode_geometries(level.geometries)} for level in levels],
        }


class StaticLayer(Layer):
    """An overlay for orientation (admin lines, place names, accuracy bands) that never catches a
    click: a click on it reaches the map, which checks that point in the reviewer page."""

    _template = Template("")

    def render(self, **kwargs) -> None:
        data = json.dumps(self.spec, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
        self.get_root().script.add_child(
            RawHtml(f"var {self.get_name()} = sitingStaticLayer({self._parent.get_name()}, {data});"), name=self.get_name())
        super().render(**kwargs)

    def __init__(self, name: str, geojson: dict | None, style: dict, labels: Iterable[PlaceLabel] = (),
                 label_min_zoom: int = 0, show: bool = True, control: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "StaticLayer"
        self.spec = {"geojson": geojson, "style": style, "labelMinZoom": label_min_zoom,
                     "labels": [label.spec() for label in labels]}


@dataclass(frozen=True)
class PlaceLabel:
    """Text on the map at a point (escaped here); ``css`` is its class (siting-place-label, …)."""

    lon: float
    lat: float
    text: str
    css: str = "siting-place-label"

    def spec(self) -> dict:
        return {"lon": round(self.lon, 6), "lat": round(self.lat, 6), "html": html.escape(self.text), "cls": self.css}


class Verbatim(MacroElement):
    """A MacroElement whose rendered macros go into the page as they are.

    branca re-reads macro output as a Jinja template, so text holding "{{" (a plan's
    quote, an encoded polyline) would break the page or be altered.
    """

    def render(self, **kwargs) -> None:
        figure = self.get_root()
        module = self._template.module
        for part, target in (("header", figure.header), ("html", figure.html), ("script", figure.script)):
            macro = module.__dict__.get(part)
            if macro is not None:
                target.add_child(RawHtml(str(macro(self, kwargs))), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


def authority_text(provenances: list[Provenance], simplified: bool = False) -> str:
    """What the banner says about the layers shown (the default layers are public, not official)."""
    text = "权威图层" if provenances and all(p.authoritative for p in provenances) else \
        "本图使用非权威公开图层（精度有限），仅供审查参考"
    return text + ("；几何已按缩放级别简化显示，审查以全精度数据计算" if simplified else "")


class HtmlPopup(Verbatim):
    """A popup of trusted HTML bound to its parent layer (folium.Popup would need jQuery)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.bindPopup({{ this.html_json }}, {maxWidth: {{ this.max_width }}});
        {% endmacro %}
    """)

    def __init__(self, html_text: str, max_width: int = 420) -> None:
        super().__init__()
        self._name = "HtmlPopup"
        self.html_json = json.dumps(html_text, ensure_ascii=False).replace("</", "<\\/")  # readable, safe in <script>
        self.max_width = int(max_width)


class DemoLayer(Verbatim):
    """Registers an existing overlay as demonstration data for the banner."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            sitingDemoLayer({{ this.layer.get_name() }});
        {% endmacro %}
    """)

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        self.layer = layer


def banner_html(authority: str) -> str:
    """The data-authority line and the (hidden until a demo layer shows) demonstration warning."""
    return (f"<div class='siting-authority'>{html.escape(authority)}</div>"
            f"<div id='{DEMO_BANNER_ID}' class='siting-demo' style='display:none'>⚠ {html.escape(DEMO_TEXT)}</div>")


class DemoBannerWatch(Verbatim):
    """Shows the demonstration warning of ``banner_html`` while a demonstration layer is on the map."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            sitingDemoBanner({{ this._parent.get_name() }}, {{ this.demo_id|tojson }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self.demo_id = DEMO_BANNER_ID


class Banners(Verbatim):
    """The authority of the data, always shown; the demonstration warning while demo layers are visible."""

    _template = Template("""
        {% macro html(this, kwargs) %}
            <div class="siting-banner">
              <div class="siting-authority">{{ this.authority }}</div>
              <div id="{{ this.demo_id }}" class="siting-demo" style="display:none">⚠ {{ this.demo_text }}</div>
            </div>
        {% endmacro %}
        {% macro script(this, kwargs) %}
            sitingDemoBanner({{ this._parent.get_name() }}, {{ this.demo_id|tojson }});
        {% endmacro %}
    """)

    def __init__(self, authority: str) -> None:
        super().__init__()
        self.authority = html.escape(authority)
        self.demo_text = html.escape(DEMO_TEXT)
        self.demo_id = DEMO_BANNER_ID


class Panel(Verbatim):
    """A fixed, collapsible box of HTML (legend, area table, findings); ``lead`` (the data-authority
    banners) stays shown above it in the same corner while the box is folded."""

    _template = Template("""
        {% macro html(this, kwargs) %}
            {% if this.lead %}<div class="siting-corner siting-{{ this.corner }}"><div class="siting-lead">{{ this.lead }}</div>{% endif %}
            <details class="siting-panel {{ '' if this.lead else 'siting-' + this.corner }}" {{ 'open' if this.open else '' }}>
              <summary>{{ this.title }}</summary>{{ this.body }}
            </details>
            {% if this.lead %}</div>{% endif %}
        {% endmacro %}
    """)

    def __init__(self, title: str, body: str, corner: str = "bottomright", open_: bool = True, lead: str = "") -> None:
        super().__init__()
        self.title, self.body, self.corner, self.open, self.lead = html.escape(title), body, corner, open_, lead


def legend_html(entries: list[tuple[str, str]]) -> str:
    """Legend rows: (swatch HTML, label text)."""
    return "".join(f"<div class='siting-legend-row'>{swatch}<span>{html.escape(label)}</span></div>"
                   for swatch, label in entries)


def fill_swatch(style: ZoneStyle) -> str:
    dash = "dashed" if style.dash else "solid"
    return (f"<i class='siting-swatch' style='background:{style.colour};opacity:{min(1.0, style.fill_opacity + 0.35):.2f};"
            f"border:1.5px {dash} {style.colour}'></i>")


def line_swatch(colour: str, dashed: bool = False) -> str:
    return f"<i class='siting-line' style='border-top:3px {'dashed' if dashed else 'solid'} {colour}'></i>"


class DrawTools(JSCSSMixin, MacroElement):
    """Leaflet-Geoman's drawing toolbar (point, line, polygon, rectangle; Chinese), for drawing a site."""

    default_js: ClassVar = [("leaflet_geoman_js", "maps/assets/leaflet-geoman-free-2.20.2/leaflet-geoman.min.js")]
    default_css: ClassVar = [("leaflet_geoman_css", "maps/assets/leaflet-geoman-free-2.20.2/leaflet-geoman.css")]
    _template = Template("")

    def __init__(self) -> None:
        super().__init__()
        self._name = "DrawTools"


class ScaleBar(Verbatim):
    _template = Template("""
        {% macro script(this, kwargs) %}
            L.control.scale({metric: true, imperial: false, maxWidth: 200, position: "bottomleft"})
                .addTo({{ this._parent.get_name() }});
        {% endmacro %}
    """)


class MeasureControl(JSCSSMixin, MacroElement):
    """Distance and area measuring (leaflet-measure, Chinese build), metres and hectares."""

    default_js: ClassVar = [("leaflet_measure_js", "maps/assets/leaflet-measure-3.1.0/leaflet-measure.cn.js")]
    default_css: ClassVar = [("leaflet_measure_css", "maps/assets/leaflet-measure-3.1.0/leaflet-measure.css")]
    _template = Template("""
        {% macro script(this, kwargs) %}
            // leaflet-measure 3.1 with Leaflet >= 1.8: no autopan on the capture marker (upstream issue 171).
            L.Control.Measure.include({
                _setCaptureMarkerIcon: function () {
                    this._captureMarker.options.autoPanOnFocus = false;
                    this._captureMarker.setIcon(L.divIcon({iconSize: this._map.getSize().multiplyBy(2)}));
                }
            });
            var {{ this.get_name() }} = new L.Control.Measure({
                position: "topleft", primaryLengthUnit: "meters", secondaryLengthUnit: "kilometers",
                primaryAreaUnit: "sqmeters", secondaryAreaUnit: "hectares", activeColor: "#c0392b",
                completedColor: "#1f6fb2"
            });
            {{ this._parent.get_name() }}.addControl({{ this.get_name() }});
        {% endmacro %}
    """)

    def __init__(self) -> None:
        super().__init__()
        self._name = "MeasureControl"


_PAGE_CSS = """<style>
.siting-banner{position:fixed;top:8px;left:50%;transform:translateX(-50%);z-index:1000;max-width:70%;
  font:13px/1.4 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;text-align:center}
.siting-authority{background:#fff8e1;border:1px solid #e0a800;padding:3px 8px}
.siting-demo{background:#c0392b;color:#fff;font-weight:bold;padding:4px 8px;margin-top:2px}
.siting-panel{position:fixed;z-index:1000;background:rgba(255,255,255,.94);border:1px solid #999;border-radius:4px;
  padding:4px 8px;font:12px/1.5 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-height:45%;overflow:auto;max-width:380px}
.siting-panel summary{font-weight:bold;cursor:pointer}
.siting-bottomright{right:10px;bottom:24px}.siting-bottomleft{left:10px;bottom:40px}.siting-topleft2{left:10px;top:130px}
.siting-legend-row{display:flex;align-items:center;gap:6px;white-space:nowrap}
.siting-swatch{display:inline-block;width:18px;height:12px;flex:none}
.siting-line{display:inline-block;width:18px;height:0;flex:none}
.siting-panel table{border-collapse:collapse}.siting-panel td,.siting-panel th{border-bottom:1px solid #ddd;padding:1px 4px}
.siting-panel td.num{text-align:right}
.leaflet-control-layers{font-size:12px;line-height:1.3}
.siting-distance-label{background:rgba(255,255,255,.9);border:1px solid #333;font-weight:bold;padding:0 3px}
.siting-site-icon{width:14px;height:14px;border-radius:50%;border:3px solid #fff;box-shadow:0 0 0 2px #111}
.siting-label-anchor{background:none;border:0}
.siting-label-anchor span{position:absolute;white-space:nowrap;pointer-events:none}
.siting-place-label{transform:translate(-50%,-50%);font:bold 13px/1.2 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;
  color:#333;text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 2px #fff}
.siting-place-label.city{font-size:15px;color:#111}
.siting-seat-label{transform:translate(8px,-50%);font:12px/1.2 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#222;
  text-shadow:0 0 3px #fff,0 0 3px #fff}
.siting-seat-label::before{content:"";position:absolute;left:-13px;top:50%;width:8px;height:8px;margin-top:-5px;
  border-radius:50%;background:#fff;border:2px solid #222}
.siting-distance-label.right{transform:translate(6px,-50%)}.siting-distance-label.left{transform:translate(calc(-100% - 6px),-50%)}
.siting-distance-label.right,.siting-distance-label.left{font:bold 12px/1.4 "Noto Sans CJK SC","Microsoft YaHei",sans-serif}
.siting-found-place{width:16px;height:16px;margin:-8px 0 0 -8px;border:3px solid #1f6fb2;border-radius:50%}
.siting-found-label{transform:translate(14px,-50%) !important;color:#1f6fb2}
.siting-corner{position:fixed;z-index:1000;display:flex;flex-direction:column;align-items:flex-end;gap:4px;max-width:380px}
.siting-corner .siting-panel{position:static;max-height:none}
.siting-corner>details.siting-panel[open]{max-height:calc(100vh - 220px)}
.siting-lead{font:12px/1.4 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:320px}
.siting-legend-banner{max-width:300px;white-space:normal;margin:2px 0 4px}
.siting-panel .siting-legend-row span{white-space:normal;max-width:300px}
.siting-legend-banner .siting-authority,.siting-lead .siting-authority{background:#fff8e1;border:1px solid #e0a800;padding:2px 6px}
.siting-legend-banner .siting-demo,.siting-lead .siting-demo{background:#c0392b;color:#fff;font-weight:bold;padding:2px 6px;margin-top:2px}
.siting-panel tr[data-zone]{cursor:pointer}.siting-panel tr[data-zone]:hover{background:#eef4fb}
</style>"""
