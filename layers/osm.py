"""River centrelines from an OpenStreetMap extract the user downloaded (.osm.pbf).

GDAL's OSM driver reads the extract; ways tagged waterway=river (or canal) whose name,
or Chinese name, is the river asked for are merged into one line per river. OSM lines
are far better than the 1:4M default (tens of metres against a kilometre), though not
official river management lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from layers.imports import FIELD, ImportedLayers, file_hashes
from layers.io.vector_files import file_error
from spatial.crs import STORAGE_CRS
from spatial.errors import FieldKey, InputError

_WATERWAYS = ("river", "canal")
_CHINESE_NAME = re.compile(r'"name:zh"=>"([^"]*)"')


def read_osm_rivers(path: Path, wanted: dict[str, str], clip: shapely.Geometry | None = None) -> ImportedLayers:
    """Lines of the named rivers (name → layer id), clipped to ``clip`` (WGS84) when given."""
    if not path.is_file():
        raise file_error(FIELD, path, "文件不存在。", "the file does not exist.")
    try:
        ways = pyogrio.read_dataframe(path, layer="lines", columns=["osm_id", "name", "waterway", "other_tags"],
                                      where=f"waterway IN ({', '.join(repr(w) for w in _WATERWAYS)})")
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError) as error:
        raise file_error(FIELD, path, f"无法作为 OSM 摘录读取：{error}", f"cannot read it as an OSM extract: {error}") from None
    chinese = ways["other_tags"].fillna("").str.extract(_CHINESE_NAME, expand=False)
    names = chinese.fillna(ways["name"].fillna(""))  # name:zh first: names may be bilingual
    frames = {}
    for river, layer_id in wanted.items():
        selected = ways.loc[(names == river) | (ways["name"] == river)]
        if selected.empty:
            found = sorted(set(names[names != ""]))[:20]
            raise InputError(FieldKey.RIVER, river, f"摘录中没有名为“{river}”的河流（waterway=river/canal）；摘录中的河流有：{'、'.join(found) or '无'}。",
                             f"the extract has no river named {river!r}; rivers in it: {', '.join(found) or 'none'}.")
        line = shapely.line_merge(shapely.union_all(selected.geometry.values))
        if clip is not None:
            line = shapely.intersection(line, clip)
        frames[layer_id] = gpd.GeoDataFrame({"name": [river], "osm_ways": [len(selected)]}, geometry=[line], crs=STORAGE_CRS)
    count = sum(int(f["osm_ways"].iloc[0]) for f in frames.values())
    return ImportedLayers(kind="osm_rivers", frames=frames, files=file_hashes(path), crs="EPSG:4326（OpenStreetMap）",
                          field_map={"name": "name / name:zh"}, features=count,
                          notes=[f"由 {count} 条 OSM 河道线合并：{'、'.join(wanted)}"])

