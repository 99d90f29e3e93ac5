"""Where the traced Yellow River and the national 1:4M 黄河 line part, per 0.25° of latitude.

The traced line is Shanxi's boundary (the channel's mid-line); where the river is wide and
braided (小北干流) the channel, the 1:4M line and the banks lie kilometres apart. The
separations printed here are what the `bank_reaches` of `yellow_river` in layers.yaml
declare as the mid-line-to-bank allowance of each wide reach.

    .venv/bin/python scripts/measure_bank_reaches.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from layers import catalog
from layers.build import data_dir, load_layers
from layers.sources import extract_shapefile, fetch_wheel
from spatial.layer import project

BAND_DEG = 0.25
GK_111 = 4546  # CGCS2000 3° zone, CM 111°E: the whole Shanxi reach of the Yellow River lies within reach of it


def main() -> None:
    pin = catalog.source_pins()["metdig-hydrography"]
    with tempfile.TemporaryDirectory() as scratch:
        wheel = fetch_wheel(pin, data_dir() / "sources")
        shapefile = extract_shapefile(wheel, pin["member_dir"], "hyd2_4l", Path(scratch))
        rivers = pyogrio.read_dataframe(shapefile, encoding=pin["encoding"])
    national = shapely.union_all(rivers.loc[rivers["NAME"] == "黄河"].geometry.values)
    traced = shapely.union_all(load_layers().layers["yellow_river"].frame.geometry.values)
    vertices = shapely.get_coordinates(shapely.segmentize(traced, 0.01))
    separation = shapely.distance(project(shapely.points(vertices), 4326, GK_111), project(national, 4326, GK_111))
    print("纬度带        经度范围          最大间距(米)  中位间距(米)")
    for south in np.arange(np.floor(vertices[:, 1].min() / BAND_DEG) * BAND_DEG, vertices[:, 1].max(), BAND_DEG):
        band = (vertices[:, 1] >= south) & (vertices[:, 1] < south + BAND_DEG)
        if band.any():
            print(f"{south:5.2f}–{south + BAND_DEG:5.2f}  {vertices[band, 0].min():6.2f}–{vertices[band, 0].max():6.2f}"
                  f"  {separation[band].max():10.0f}  {np.median(separation[band]):10.0f}")


if __name__ == "__main__":
    main()
