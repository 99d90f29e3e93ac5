"""Self-contained map pages: Leaflet and plugins inlined from maps/assets/, no CDN.

Permit-review networks are often offline (内网); folium links Leaflet, jQuery, Bootstrap
and Font Awesome from CDNs, and such a page shows nothing there. `save_offline` strips
every CDN link folium would write, inlines the vendored copies (checked against the
sha256 recorded in maps/assets/manifest.json) and refuses to write a page that still
loads a script or stylesheet from the network.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from pathlib import Path

import folium
from branca.element import Element, Figure
from folium.elements import JSCSSMixin

from maps.vendor import ASSETS, MANIFEST, sha256_bytes

# folium resources the pages provide inline, and those they never need (no
# awesome-markers icons, no Bootstrap widgets are used).
_PROVIDED = {"leaflet", "leaflet_css", "leaflet_measure_js", "leaflet_measure_css", "leaflet_geoman_js", "leaflet_geoman_css"}
_GEOMAN = "@geoman-io/leaflet-geoman-free"
_UNUSED = {"jquery", "bootstrap", "bootstrap_css", "glyphicons_css", "awesome_markers", "awesome_markers_css",
           "awesome_markers_font_css", "awesome_rotate_css"}
_EXTERNAL_RESOURCE = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)
_CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+\.png)["']?\s*\)""")


@cache
def _manifest() -> dict:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


def asset_bytes(package: str, relative: str) -> bytes:
    """A vendored file, verified against its recorded sha256 (a tampered copy is refused)."""
    entry = _manifest()[package]
    expected = entry["files"].get(relative)
    if expected is None:
        raise KeyError(f"{package}/{relative} is not a vendored asset; see maps/vendor.py")
    data = (ASSETS / entry["directory"] / relative).read_bytes()
    if sha256_bytes(data) != expected:
        raise RuntimeError(f"maps/assets/{entry['directory']}/{relative} does not match its sha256 in manifest.json")
    return data


def _data_uri(package: str, relative: str) -> str:
    return "data:image/png;base64," + base64.b64encode(asset_bytes(package, relative)).decode()


def _inline_css(package: str, relative: str) -> str:
    """A vendored stylesheet with its images embedded as data: URIs."""
    base = Path(relative).parent
    css = asset_bytes(package, relative).decode("utf-8")
    return _CSS_URL.sub(lambda m: f'url("{_data_uri(package, str(base / m.group(1)))}")', css)


def _script(text: str) -> str:
    return f"<script>{text}</script>"


@cache
def head_html(measure: bool, draw: bool = False) -> str:
    """Everything a page needs in <head>: Leaflet (and the measure and drawing plugins), inline."""
    icon_options = {
        "iconUrl": _data_uri("leaflet", "images/marker-icon.png"),
        "iconRetinaUrl": _data_uri("leaflet", "images/marker-icon-2x.png"),
        "shadowUrl": _data_uri("leaflet", "images/marker-shadow.png"),
    }
    parts = [
        f"<style>{_inline_css('leaflet', 'leaflet.css')}</style>",
        _script(asset_bytes("leaflet", "leaflet.js").decode("utf-8")),
        # Default markers would otherwise guess an images/ path next to the page.
        _script(f"L.Icon.Default.imagePath = '';L.Icon.Default.mergeOptions({json.dumps(icon_options)});"),
    ]
    if measure:
        parts += [
            f"<style>{_inline_css('leaflet-measure', 'leaflet-measure.css')}</style>",
            _script(asset_bytes("leaflet-measure", "leaflet-measure.cn.js").decode("utf-8")),
        ]
    if draw:
        parts += [
            f"<style>{asset_bytes(_GEOMAN, 'leaflet-geoman.css').decode('utf-8')}</style>",
            _script(asset_bytes(_GEOMAN, "leaflet-geoman.min.js").decode("utf-8")),
        ]
    return "\n".join(parts)


class RawHtml(Element):
    """HTML written verbatim (branca would otherwise read it as a Jinja template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs) -> str:
        return self.text


def _elements(root) -> list:
    found, stack = [], [root]
    while stack:
        element = stack.pop()
        found.append(element)
        stack.extend(element._children.values())
    return found


def make_offline(fmap: folium.Map) -> None:
    """Replace every CDN link of the map's elements with the inlined vendored copies."""
    needs_measure = needs_draw = False
    for element in _elements(fmap):
        if isinstance(element, folium.Popup):
            raise ValueError("folium.Popup parses its HTML with jQuery, which offline pages do not carry; "
                             "use maps.leaflet.HtmlPopup")
        if not isinstance(element, JSCSSMixin):
            continue
        names = {name for name, _ in (*element.default_js, *element.default_css)}
        unknown = names - _PROVIDED - _UNUSED
        if unknown:
            raise ValueError(f"{type(element).__name__} needs {sorted(unknown)}, which have no offline copy in maps/assets")
        needs_measure |= bool(names & {"leaflet_measure_js", "leaflet_measure_css"})
        needs_draw |= bool(names & {"leaflet_geoman_js", "leaflet_geoman_css"})
        element.default_js = []
        element.default_css = []
    figure = fmap.get_root()
    if not isinstance(figure, Figure):
        raise TypeError("the map must belong to a branca Figure")
    figure.header.add_child(RawHtml(head_html(needs_measure, needs_draw)), name="offline_assets", index=0)


def render_offline(fmap: folium.Map) -> str:
    """The page as one HTML string that loads nothing from the network."""
    make_offline(fmap)
    page = fmap.get_root().render()
    if match := _EXTERNAL_RESOURCE.search(page):
        raise ValueError(f"the map page would load a resource from the network: {match.group(0)}")
    return page


def save_offline(fmap: folium.Map, path: Path) -> Path:
    path = Path(path)
    path.write_text(render_offline(fmap), encoding="utf-8")
    return path
