"""Named places a reviewer can find and read on a map, from the layers alone (no geocoding service).

Permit networks are offline, so "where is 闻喜县" is answered from what the product already
holds: the admin layer (province, cities, counties), the seats of cities and counties declared
in ``layers/catalog/data/demo.yaml`` (schematic, to about 1 km) and the named areas of polygon layers
(lakes, planning areas). Town (乡镇) names are not in any loaded layer, so they cannot be found.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import shapely

from layers import catalog
from spatial.layer import LayerSet

ADMIN_KINDS = {"province": "省", "city": "市", "county": "县（市、区）"}
_SUFFIXES = ("自治县", "市", "县", "区", "省")
# Named polygons worth finding by name; 三线一单 units are many and named after their county.
_NAMED_LAYERS = {"lake_restoration": "湖泊", "planning_areas": "城市（县城）规划区"}


@dataclass(frozen=True)
class Place:
    """A place to centre a map on: its name, what it is, where it is and its extent."""

    name: str
    kind: str  # 省, 市, 县（市、区）, 市驻地, 县城, 湖泊, 城市（县城）规划区
    code: str | None
    lon: float
    lat: float
    bounds: tuple[float, float, float, float] | None  # west, south, east, north; None for a point
    within: str  # the city or province it lies in, to tell like names apart
    approximate: bool = False  # a schematic position (demonstration seats)

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "code": self.code, "lon": round(self.lon, 6), "lat": round(self.lat, 6),
                "bounds": None if self.bounds is None else [round(v, 6) for v in self.bounds], "within": self.within,
                "approximate": self.approximate}


def short_name(name: str) -> str:
    """闻喜县 → 闻喜, 运城市 → 运城: how people type a place name."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def seats(layers: LayerSet) -> list[Place]:
    """City and county seats declared in demo.yaml, for the counties the admin layer holds."""
    frame = layers.admin.frame
    names = dict(zip(frame["code"].astype(str), frame["name"], strict=True))
    parents = dict(zip(frame["code"].astype(str), frame["parent"].astype(str), strict=True))
    found = []
    for code, seat in catalog.demo_parameters().get("seats", {}).items():
        code = str(code)
        if code not in names:
            continue
        city = seat.get("city")
        name = f"{city}驻地" if city else f"{short_name(names[code])}县城"
        found.append(Place(name, "市驻地" if city else "县城", code, float(seat["lon"]), float(seat["lat"]), None,
                           names.get(parents.get(code, ""), ""), approximate=True))
    return found


@lru_cache(maxsize=4)
def places(layers: LayerSet) -> tuple[Place, ...]:
    """Every findable place: admin units, declared seats, named areas of polygon layers."""
    frame = layers.admin.frame
    names = dict(zip(frame["code"].astype(str), frame["name"], strict=True))
    found: list[Place] = []
    points = frame.geometry.representative_point()
    for row, point in zip(frame.itertuples(), points, strict=True):
        found.append(Place(row.name, ADMIN_KINDS.get(row.level, row.level), str(row.code), point.x, point.y,
                           tuple(row.geometry.bounds), names.get(str(row.parent), "")))
    found += seats(layers)
    for layer_id, kind in _NAMED_LAYERS.items():
        layer = layers.layers.get(layer_id)
        if layer is None or "name" not in layer.frame.columns:
            continue
        for name, geometry in zip(layer.frame["name"], layer.frame.geometry, strict=True):
            point = shapely.point_on_surface(geometry)
            found.append(Place(str(name), kind, None, point.x, point.y, tuple(geometry.bounds), "",
                               approximate=layer.provenance.demonstration))
    return tuple(found)


def search_places(layers: LayerSet, query: str, limit: int = 10) -> list[Place]:
    """Places whose name (or short name, or admin code) matches ``query``: exact first, then
    prefix, then anywhere in the name; admin units before seats and areas of the same rank."""
    text = query.strip()
    if not text:
        return []
    ranked = []
    for order, place in enumerate(places(layers)):
        short = short_name(place.name)
        if text in (place.name, short, place.code):
            rank = 0
        elif place.name.startswith(text) or (place.code or "").startswith(text):
            rank = 1
        elif text in place.name or short_name(text) in short:
            rank = 2
        else:
            continue
        ranked.append((rank, order, place))
    return [place for _, _, place in sorted(ranked, key=lambda item: item[:2])[:limit]]
