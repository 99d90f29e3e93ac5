"""Files a planner takes into GIS and reports from an industry siting classification.

GeoPackage: one multipolygon per class (and one per not-evaluated layer), with the rule ids
and plans that make it, in the region's CGCS2000 Gauss–Krüger zone. GeoTIFF: the same vectors
rasterised at a chosen cell size (uint8 class codes, colour table, category names and
provenance in tags, deflate, tiled). Tables: the per-county areas, the largest unrestricted
areas and the industry × stage matrix as CSV or XLSX.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from maps.style import VERDICT_COLOURS
from spatial.errors import InputError
from spatial.layer import LayerSet
from spatial.siting_classes import CLASS_CODES, CLASS_NAMES, CLASSES, SitingClasses

MAX_RASTER_CELLS = 60_000_000  # about 60 MB of uint8: a 50 m raster of all Shanxi fits
NODATA = 0
_STRIP_ROWS = 256  # rows of cells rasterised per strip of the class polygons


def _rgb(colour: str) -> tuple[int, int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255


def provenance_text(result: SitingClasses, layers: LayerSet) -> str:
    """One line naming the classification and the layer versions it rests on."""
    versions = "；".join(f"{layer.id} {layer.provenance.version}" for layer in layers.layers.values())
    return (f"siting map --region {result.region_code} --industry {result.industry.query} --stage {result.stage.value}；"
            f"{date.today().isoformat()}；图层：{versions}")


def write_gpkg(result: SitingClasses, layers: LayerSet, path: Path) -> Path:
    """Layer ``classes``: one row per class present; layer ``not_evaluated``: one row per missing or partial layer."""
    present = [c for c in result.classes if not c.geometry.is_empty]
    classes = gpd.GeoDataFrame({
        "code": [c.code for c in present], "class": [c.name for c in present], "verdict": [c.verdict.value for c in present],
        "area_km2": [round(c.area_km2, 4) for c in present], "share": [round(c.area_km2 / result.region_km2, 6) for c in present],
        "rules": [",".join(c.rules) for c in present], "plans": ["；".join(c.plans) for c in present],
        "demonstration": ["；".join(c.demonstration) for c in present],
        "industry": result.industry.label, "stage": result.stage.value,
    }, geometry=gpd.GeoSeries([c.geometry for c in present]).force_2d().values, crs=f"EPSG:{result.epsg}")
    if path.exists():
        path.unlink()
    classes.to_file(path, layer="classes", driver="GPKG")
    if result.not_evaluated:
        missing = gpd.GeoDataFrame({
            "layer": [n.layer for n in result.not_evaluated], "layer_name": [n.layer_name for n in result.not_evaluated],
            "reason": [n.reason for n in result.not_evaluated], "rules": [",".join(n.rules) for n in result.not_evaluated],
            "area_km2": [round(float(n.geometry.area) / 1e6, 4) for n in result.not_evaluated],
        }, geometry=[n.geometry for n in result.not_evaluated], crs=f"EPSG:{result.epsg}")
        missing.to_file(path, layer="not_evaluated", driver="GPKG")
    return path


def raster_grid(result: SitingClasses, res: float) -> tuple[tuple[int, int], object]:
    """(rows, columns) and affine transform of a north-up grid of ``res`` metres over the region, snapped to whole cells."""
    from rasterio.transform import from_origin

    if not (math.isfinite(res) and res > 0):
        raise InputError("--res", str(res), "栅格分辨率应为正数（米），如 50。", "the cell size must be a positive number of metres, e.g. 50.")
    minx, miny, maxx, maxy = result.region.bounds
    west, north = math.floor(minx / res) * res, math.ceil(maxy / res) * res
    width, height = math.ceil((maxx - west) / res), math.ceil((north - miny) / res)
    if width * height > MAX_RASTER_CELLS:
        coarsest = math.ceil(math.sqrt((maxx - minx) * (maxy - miny) / MAX_RASTER_CELLS))
        raise InputError("--res", f"{res:g}", f"栅格过大（{width}×{height} 像元）；请用 --res {coarsest} 或更大的分辨率。",
                         f"the raster would be {width}×{height} cells; use --res {coarsest} or coarser.")
    return (height, width), from_origin(west, north, res, res)


def rasterise(result: SitingClasses, res: float) -> tuple[np.ndarray, object]:
    """Class codes per cell (a cell takes the class at its centre; 0 outside the region) and the transform.

    GDAL fills a polygon row by row, scanning all its edges on every row, so a city-wide class
    of a quarter of a million vertices costs seconds; cut into strips of ``_STRIP_ROWS`` rows
    along cell edges, each strip's edges are scanned only on its own rows. No cell centre lies
    on a cut, so every cell gets the same class.
    """
    from rasterio import features

    shape, transform = raster_grid(result, res)
    present = [c for c in result.classes if not c.geometry.is_empty]
    if not present:
        return np.zeros(shape, dtype=np.uint8), transform
    geometries = np.array([c.geometry for c in present], dtype=object)
    class_codes = np.array([c.code for c in present])
    west, north = transform.c, transform.f
    east = west + (shape[1] + 1) * res
    shapes = []
    for top in range(0, shape[0], _STRIP_ROWS):
        bottom = north - min(top + _STRIP_ROWS, shape[0]) * res
        strips = shapely.clip_by_rect(geometries, west - res, bottom, east, north - top * res)
        pieces, owner = shapely.get_parts(strips, return_index=True)
        pieces, whose = shapely.get_parts(pieces, return_index=True)  # a clip may give a collection of polygons
        owner = owner[whose]
        keep = (shapely.get_type_id(pieces) == 3) & ~shapely.is_empty(pieces)  # polygons only: a line would burn cells
        shapes += zip(pieces[keep], class_codes[owner[keep]].tolist(), strict=True)
    codes = features.rasterize(shapes, out_shape=shape, transform=transform, fill=NODATA, dtype=np.uint8) if shapes \
        else np.zeros(shape, dtype=np.uint8)
    return codes, transform


def write_tif(result: SitingClasses, layers: LayerSet, path: Path, res: float) -> Path:
    """A paletted GeoTIFF of the classes in the region's GK zone."""
    import rasterio

    codes, transform = rasterise(result, res)
    tags = {f"CLASS_{CLASS_CODES[v]}": f"{CLASS_NAMES[v]} ({v.label_en})" for v in CLASSES}
    tags |= {"NODATA_0": "区域外 (outside the region)", "INDUSTRY": result.industry.label, "STAGE": result.stage.value,
             "REGION": result.region_code, "RESOLUTION_M": f"{res:g}", "PROVENANCE": provenance_text(result, layers),
             "NOTE": "由分类矢量栅格化（像元取其中心所在类别）；审查以 siting check 为准。"}
    profile = {"driver": "GTiff", "width": codes.shape[1], "height": codes.shape[0], "count": 1, "dtype": "uint8",
               "crs": f"EPSG:{result.epsg}", "transform": transform, "nodata": NODATA, "compress": "deflate",
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(codes, 1)
        colours = {NODATA: (0, 0, 0, 0)} | {CLASS_CODES[v]: _rgb(VERDICT_COLOURS[v]) for v in CLASSES}
        dst.write_colormap(1, colours)
        dst.update_tags(**tags)
        dst.update_tags(1, **tags)
        dst.set_band_description(1, "siting class")
    return path


def _write_rows(rows: list[dict], path: Path, sheet: str) -> Path:
    if path.suffix.lower() == ".xlsx":
        import xlsxwriter

        with xlsxwriter.Workbook(str(path)) as book:
            page = book.add_worksheet(sheet)
            header = list(rows[0]) if rows else []
            page.write_row(0, 0, header)
            for i, row in enumerate(rows, start=1):
                page.write_row(i, 0, [row[key] for key in header])
        return path
    with path.open("w", newline="", encoding="utf-8-sig") as handle:  # Excel opens UTF-8 CSV with a BOM correctly
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_matrix(rows: list[dict], path: Path) -> Path:
    """The industry × stage share table as .csv or .xlsx (shares as fractions of the region)."""
    return _write_rows(rows, path, "管控分类矩阵")


def write_table(rows: list[dict], path: Path) -> Path:
    """The per-county area table as .csv or .xlsx."""
    return _write_rows(rows, path, "分类面积")
