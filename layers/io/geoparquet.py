"""Reading the GeoParquet files the layer caches hold.

geopandas rebuilds each file's CRS from its PROJJSON, which costs PROJ about 40 ms a
file: more than reading the file, and a third of a cold `siting check`. The CRS is
taken from the PROJJSON's own authority code when it has one, which PROJ resolves
from its database in a millisecond.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyarrow.parquet as pq
import shapely
from pyproj import CRS


def read_frame(path: Path) -> gpd.GeoDataFrame:
    """A GeoParquet file (WKB geometry, as ``GeoDataFrame.to_parquet`` writes it) as a frame."""
    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    if b"geo" not in metadata:
        raise ValueError(f"{path.name} is Parquet without GeoParquet metadata")
    geo = json.loads(metadata[b"geo"])
    column = geo["primary_column"]
    meta = geo["columns"][column]
    if meta.get("encoding", "WKB").upper() != "WKB":
        return gpd.read_parquet(path)
    frame = table.to_pandas()
    frame[column] = shapely.from_wkb(frame[column].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=column, crs=_crs(meta))


def _crs(meta: dict) -> CRS | None:
    if "crs" not in meta:  # GeoParquet: an absent crs means OGC:CRS84
        return CRS.from_user_input("OGC:CRS84")
    projjson = meta["crs"]
    if projjson is None:
        return None
    code = projjson.get("id") if isinstance(projjson, dict) else None
    if code and {"authority", "code"} <= code.keys():
        return CRS.from_user_input(f"{code['authority']}:{code['code']}")
    return CRS.from_user_input(projjson)
