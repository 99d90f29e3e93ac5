"""The app's map frames: the maps package's check map, and a province overview, both offline.

Each frame posts a click on the map to the page (same origin only), which checks that
point. The overview is just the city outlines to click on; zones are drawn by the
maps package once a check has run.
"""

from __future__ import annotations

from functools import lru_cache

import folium
import shapely
from branca.element import Element

from maps.check_map import check_map
from maps.offline import render_offline
from spatial.checker import CheckResult
from spatial.layer import LayerSet

SHANXI_CENTRE = (37.6, 112.3)
_OUTLINE_TOLERANCE_DEG = 0.003  # about 300 m: an outline to click on, never used to measure


def click_bridge(fmap: folium.Map) -> None:
    """Post every map click, as WGS84 degrees, to the page that embeds the map."""
    fmap.get_root().script.add_child(Element(
        f"{fmap.get_name()}.on('click', function (e) {{"
        " if (window.parent !== window) { window.parent.postMessage("
        "{type: 'siting:click', lon: e.latlng.lng, lat: e.latlng.lat}, window.location.origin); } });"
    ))


def check_map_page(result: CheckResult, layers: LayerSet) -> str:
    fmap = check_map(result, layers)
    click_bridge(fmap)
    return render_offline(fmap)


@lru_cache(maxsize=4)
def overview_map_page(layers: LayerSet) -> str:
    """Shanxi's city outlines on a blank map (no basemap: permit networks are offline)."""
    frame = layers.admin.frame
    fmap = folium.Map(location=SHANXI_CENTRE, zoom_start=7, tiles=None, control_scale=True)
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
    click_bridge(fmap)
    return render_offline(fmap)
