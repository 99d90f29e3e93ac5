"""One look per kind of zone, shared by the HTML maps and the printed figures.

Styled by layer id (or id prefix), so layers imported later under the catalog's ids
(eco_redline, units_*, dw_source_*, planning_areas) get their conventional colours and
any other layer a stable colour of its own.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from spatial.rules import Verdict

VERDICT_COLOURS = {
    Verdict.PROHIBITED: "#c0392b",
    Verdict.EXIT: "#8e44ad",
    Verdict.RESTRICTED: "#e67e22",
    Verdict.REVIEW: "#d4ac0d",
    Verdict.COMPLIANT: "#27ae60",
    Verdict.NOT_APPLICABLE: "#7f8c8d",
}
RIVER_COLOUR = "#1f6fb2"
RIVER_LAYERS = ("yellow_river", "fen_river", "sanggan_river", "hutuo_river", "qin_river", "zhang_river")  # drawn as context
ADMIN_COLOUR = "#555555"
SITE_COLOUR = "#111111"
DEMO_TEXT = "示意数据（demonstration data），不得作为审批依据"


@dataclass(frozen=True)
class ZoneStyle:
    colour: str
    fill_opacity: float
    weight: float = 1.0
    dash: str | None = None  # Leaflet dashArray, e.g. "6 4"
    hatch: str | None = None  # matplotlib hatch for print, so zones stay apart in greyscale
    order: int = 50  # drawing order: lower first (underneath)

    def leaflet(self) -> dict:
        style = {"color": self.colour, "weight": self.weight, "fillColor": self.colour, "fillOpacity": self.fill_opacity,
                 "fill": self.fill_opacity > 0}  # an outline must not catch clicks meant for the zones beneath
        if self.dash:
            style["dashArray"] = self.dash
        return style


_BY_ID = {
    "units_general": ZoneStyle("#e8dc8c", 0.35, order=10),
    "units_key": ZoneStyle("#e8743b", 0.40, order=11),
    "units_priority": ZoneStyle("#2e8b57", 0.40, order=12),
    "planning_areas": ZoneStyle("#8e44ad", 0.20, weight=1.5, hatch="..", order=20),
    "eco_redline": ZoneStyle("#d7191c", 0.40, weight=1.5, hatch="///", order=30),
    "dw_source_quasi": ZoneStyle("#9ecae1", 0.45, order=40),
    "dw_source_level2": ZoneStyle("#3182bd", 0.45, order=41),
    "dw_source_level1": ZoneStyle("#08306b", 0.50, order=42),
}
BUFFER_STYLE = ZoneStyle("#4a90d9", 0.22, weight=1.2, dash="6 4", hatch="\\\\", order=25)
# River bands, one colour each so a planner tells 黄河 1 km from 汾河 2 km. The outline is heavy
# (2.5 px, short gaps) so a 1 km band still reads as a band at city scale, where it is a few pixels wide.
_BAND_COLOURS = {
    ("yellow_river", "1000"): "#d4a017",
    ("fen_river", "2000"): "#5b9bd5",
    ("fen_river", "1000"): "#0b6e8a",
    ("sushui_river", "1000"): "#00a087",
}
_BAND_PALETTE = ["#9467bd", "#8c564b", "#e377c2", "#ff7f0e", "#2ca02c", "#7f7f7f"]
_PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#a6761d", "#666666", "#17becf", "#bcbd22"]


def zone_style(layer_id: str) -> ZoneStyle:
    """The style of a polygon layer; a stable palette colour for layers without a convention."""
    if layer_id in _BY_ID:
        return _BY_ID[layer_id]
    if layer_id.startswith("dw_source"):
        return ZoneStyle("#4292c6", 0.45, order=43)
    if layer_id.startswith("buffer:"):
        return _band_style(layer_id)
    index = int(hashlib.sha1(layer_id.encode()).hexdigest(), 16) % len(_PALETTE)
    return ZoneStyle(_PALETTE[index], 0.30, order=50)


def _band_style(style_id: str) -> ZoneStyle:
    """A buffer band's style from ``buffer:<baseline layer>:<distance m>``; a bare ``buffer:`` gets the generic one."""
    _, baseline, distance = ([*style_id.split(":"), "", ""])[:3]
    if not baseline:
        return BUFFER_STYLE
    colour = _BAND_COLOURS.get((baseline, distance))
    if colour is None:
        colour = _BAND_PALETTE[int(hashlib.sha1(style_id.encode()).hexdigest(), 16) % len(_BAND_PALETTE)]
    return ZoneStyle(colour, 0.30, weight=2.5, dash="8 3", hatch="\\\\", order=25)
