"""The app's map frames: the maps package's check map, and a province overview, both offline.

In the page a click on the map checks that point (a zone's popup opens with Shift, Ctrl, Alt
or ⌘, or from the findings list), and a point, line or polygon drawn with the toolbar is
checked as a site; the frame posts both to the page (same origin only), which also tells
the frame where to go when a place is searched. The overview shows city and county lines
and names to click on; zones are drawn by the maps package once a check has run.
"""

from __future__ import annotations

from functools import lru_cache

import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from maps.check_map import check_map
from maps.leaflet import DrawTools, PlaceLabel, StaticLayer, base_map
from maps.offline import RawHtml, render_offline
from maps.places import seats
from maps.style import ADMIN_COLOUR
from spatial.crs import SHANXI_BOUNDS
from spatial.findings import CheckResult
from spatial.layer import LayerSet

_OUTLINE_TOLERANCE_DEG = 0.003  # about 300 m: an outline to click on, never used to measure
_COUNTY_NAMES_FROM_ZOOM = 9  # county names crowd the province view below this zoom


class PageBridge(MacroElement):
    """Clicks and drawn sites go to the page; the page's place search and findings list come back."""

    _template = Template("""{% macro script(this, kwargs) %}
    sitingPageBridge({{ this._parent.get_name() }}, {draw: true});
    {% endmacro %}""")


def _web_map(fmap) -> str:
    """The map as the page's frame: popups on a modifier key, the drawing toolbar, the bridge."""
    # Before any popup is bound, so a plain click on a zone reaches the map and checks the point.
    fmap.get_root().header.add_child(RawHtml("<script>sitingPopupsOnModifier();</script>"), name="siting_popups")
    DrawTools().add_to(fmap)
    PageBridge().add_to(fmap)
    return render_offline(fmap)


def check_map_page(result: CheckResult, layers: LayerSet) -> str:
    return _web_map(check_map(result, layers, compact=True))


@lru_cache(maxsize=4)
def overview_map_page(layers: LayerSet) -> str:
    """Shanxi's city and county lines and names on a blank map (no basemap: permit networks are offline)."""
    frame = layers.admin.frame
    fmap = base_map(SHANXI_BOUNDS, None, None)
    for level, name, weight in (("county", "县级行政区界及名称", 0.8), ("city", "市界及名称", 1.8)):
        rows = frame.loc[frame["level"] == level]
        outlines = shapely.simplify(shapely.boundary(rows.geometry.values), _OUTLINE_TOLERANCE_DEG)
        points = shapely.point_on_surface(rows.geometry.values)
        labels = [PlaceLabel(p.x, p.y, n, "siting-place-label" + (" city" if level == "city" else ""))
                  for p, n in zip(points, rows["name"], strict=True)]
        geojson = {"type": "GeometryCollection", "geometries": [shapely.geometry.mapping(g) for g in outlines]}
        StaticLayer(name, geojson, {"color": ADMIN_COLOUR, "weight": weight, "fill": False}, labels,
                    label_min_zoom=_COUNTY_NAMES_FROM_ZOOM if level == "county" else 0).add_to(fmap)
    seat_labels = [PlaceLabel(s.lon, s.lat, f"{s.name}（示意位置）", "siting-seat-label") for s in seats(layers)]
    if seat_labels:
        StaticLayer("县城、市驻地（示意位置）", None, {}, seat_labels, label_min_zoom=_COUNTY_NAMES_FROM_ZOOM).add_to(fmap)
    fmap.get_root().html.add_child(Element(
        "<div class='siting-overview-hint'>点击地图任意位置即检查该点；也可用左侧工具绘制点、线或多边形场址</div>"))
    fmap.get_root().header.add_child(RawHtml(
        "<style>.siting-overview-hint{position:fixed;bottom:24px;left:50%;transform:translateX(-50%);z-index:1000;"
        "background:#fff;border:1px solid #888;padding:3px 8px;font-size:13px}</style>"), name="siting_overview_css")
    return _web_map(fmap)
