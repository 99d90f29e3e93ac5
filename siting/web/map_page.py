"""The app's map frames: the maps package's check map, and a province overview, both offline.

Each frame posts a click on the map to the page (same origin only), which checks that
point. The overview is just the city outlines to click on; zones are drawn by the
maps package once a check has run.
"""

from __future__ import annotations

from functools import lru_cache

import folium
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from maps.check_map import check_map
from maps.leaflet import base_map
from maps.offline import render_offline
from spatial.checker import CheckResult
from spatial.layer import LayerSet

SHANXI_BOUNDS = (110.2, 34.5, 114.6, 40.8)  # west, south, east, north
_OUTLINE_TOLERANCE_DEG = 0.003  # about 300 m: an outline to click on, never used to measure


class ClickBridge(MacroElement):
    """Post every map click, as WGS84 degrees, to the page that embeds the map (same origin only)."""

    _template = Template("""{% macro script(this, kwargs) %}
    {{ this._parent.get_name() }}.on('click', function (e) {
        if (window.parent !== window) {
            window.parent.postMessage({type: 'siting:click', lon: e.latlng.lng, lat: e.latlng.lat}, window.location.origin);
        }
    });
    {% endmacro %}""")


def check_map_page(result: CheckResult, layers: LayerSet) -> str:
    fmap = check_map(result, layers)
    ClickBridge().add_to(fmap)
    return render_offline(fmap)


@lru_cache(maxsize=4)
def overview_map_page(layers: LayerSet) -> str:
    """Shanxi's city outlines on a blank map (no basemap: permit networks are offline)."""
    frame = layers.admin.frame
    fmap = base_map(SHANXI_BOUNDS, None, None)
    for level, weight in (("province", 2.5), ("city", 1.0)):
        rows = frame.loc[frame["level"] == level, ["name", "geometry"]]
        outlines = folium.GeoJson(
            rows.assign(geometry=shapely.simplify(rows.geometry.values, _OUTLINE_TOLERANCE_DEG)),
            name={"province": "省界", "city": "市界"}[level],
            style_function=lambda _, w=weight: {"color": "#555555", "weight": w, "fillOpacity": 0.02},
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
        )
        outlines.add_to(fmap)
    fmap.get_root().html.add_child(Element(
        "<div style='position:fixed;bottom:24px;left:50%;transform:translateX(-50%);z-index:1000;background:#fff;"
        "border:1px solid #888;padding:3px 8px;font-size:13px'>在地图上点击任意位置即检查该点</div>"))
    ClickBridge().add_to(fmap)
    return render_offline(fmap)
