"""A layer is a GeoDataFrame in WGS84 plus the provenance a permit file must cite."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from spatial.crs import STORAGE_CRS, gk3_zone_for_longitude, transformer


@dataclass(frozen=True)
class Provenance:
    source: str
    version: str
    sha256: str
    crs: str
    accuracy_m: float
    authoritative: bool
    demonstration: bool
    note: str = ""
    midline_to_bank_m: float = 0.0
    coverage: tuple[str, ...] = ()  # admin codes the layer speaks for; empty: everywhere it is used
    imported: dict | None = None  # for imported layers: file names, hashes, field mapping, repairs
    # Reaches where the river is wider: (min lon, min lat, max lon, max lat, mid-line to bank m, name).
    bank_reaches: tuple[tuple[float, float, float, float, float, str], ...] = ()
    # Stretches the layer leaves out (the Fen's last reach at 1:4M): (name, ((lon, lat), ...), width m).
    gaps: tuple[tuple[str, tuple[tuple[float, float], ...], float], ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Provenance:
        reaches = tuple(tuple(reach) for reach in data.get("bank_reaches", ()))
        gaps = tuple((name, tuple(tuple(xy) for xy in line), float(width)) for name, line, width in data.get("gaps", ()))
        return cls(**{**data, "coverage": tuple(data.get("coverage", ())), "bank_reaches": reaches, "gaps": gaps})

    def gap_area(self) -> BaseGeometry:
        """WGS84: where the layer is known to be incomplete (each gap's line, widened in metres)."""
        parts = []
        for _, line, width in self.gaps:
            geometry = shapely.LineString(line)
            epsg = gk3_zone_for_longitude(geometry.centroid.x).epsg
            parts.append(project(shapely.buffer(project(geometry, STORAGE_CRS.to_epsg(), epsg), width), epsg, STORAGE_CRS.to_epsg()))
        return shapely.union_all(parts)

    @property
    def widest_bank_m(self) -> float:
        return max([self.midline_to_bank_m, *(reach[4] for reach in self.bank_reaches)])

    def bank_m(self, lon: NDArray, lat: NDArray) -> NDArray:
        """Mid-line to bank allowance at WGS84 sites: the reach's own where one is declared."""
        allowance = np.full(np.shape(lon), self.midline_to_bank_m, dtype=float)
        for min_lon, min_lat, max_lon, max_lat, metres, _ in self.bank_reaches:
            within = (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
            allowance = np.where(within, np.maximum(allowance, metres), allowance)
        return allowance


@dataclass(frozen=True)
class Layer:
    id: str
    name: str
    frame: gpd.GeoDataFrame
    provenance: Provenance

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, **self.provenance.to_dict()}


@dataclass(frozen=True)
class MissingLayer:
    """A layer a rule names that no source provides yet."""

    id: str
    name: str
    reason: str
    bounded_by: str | None = None  # a loaded layer every feature of this one lies near
    within_m: float = 0.0  # how near: metres from ``bounded_by``
    bound_note: str = ""


class LayerSet:
    """The layers a check may use, looked up by id, with projected copies cached."""

    ADMIN = "admin"

    def __init__(self, layers: dict[str, Layer], missing: dict[str, MissingLayer]) -> None:
        if self.ADMIN not in layers:
            raise ValueError("a LayerSet needs the admin layer to know plan jurisdictions")
        self.layers = layers
        self.missing = missing
        self._projected: dict[tuple[str, str | None, int], BaseGeometry] = {}

    @property
    def admin(self) -> Layer:
        return self.layers[self.ADMIN]

    def admin_area(self, code: str) -> BaseGeometry:
        rows = self.admin.frame.loc[self.admin.frame["code"] == code]
        if rows.empty:
            raise KeyError(f"admin code {code} is not in the admin layer")
        return rows.geometry.iloc[0]

    def projected(self, layer_id: str, epsg: int, section: str | None = None) -> BaseGeometry:
        """The layer's union in a metric CRS, clipped to an admin section if given."""
        key = (layer_id, section, epsg)
        if key not in self._projected:
            geometry = shapely.union_all(self.layers[layer_id].frame.geometry.values)
            if section is not None:
                geometry = shapely.intersection(geometry, self.admin_area(section))
            self._projected[key] = project(geometry, STORAGE_CRS.to_epsg(), epsg)
        return self._projected[key]


def project(geometry: BaseGeometry, source: int, target: int) -> BaseGeometry:
    """Reproject a shapely geometry between EPSG codes (x = longitude/easting)."""
    forward = transformer(source, target)
    return shapely.transform(geometry, lambda xy: np.column_stack(forward.transform(xy[:, 0], xy[:, 1])))
