"""Optional basemaps. None by default: offline networks would show blank tiles.

Configured with ``--basemap`` (or ``$SITING_BASEMAP``):

- ``tianditu`` / ``tianditu-img``: 天地图 vector or imagery with labels, with the user's key
  (``--tianditu-key`` or ``$TIANDITU_KEY``). 天地图 is on the CGCS2000 datum, which agrees
  with the WGS84 layers to well under a metre, so zones need no shift (unlike AMap/Baidu
  tiles, which are offset GCJ-02/BD-09 and are therefore not offered). The Web-Mercator
  tile set (``_w``) is used, the one Leaflet draws without a projection plug-in.
- ``osm``: OpenStreetMap standard tiles (internet only).
- ``xyz:URL``: any XYZ template, e.g. an intranet tile server ``http://10.1.2.3/tiles/{z}/{x}/{y}.png``.
- ``mbtiles:FILE``: a local MBTiles file; the tiles covering the map are written beside
  the page (``<page>_tiles/z/x/y.ext``) so it still opens with no network.
"""

from __future__ import annotations

import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from spatial.errors import InputError

if TYPE_CHECKING:  # folium costs a third of a second to import; `siting check` needs it only with --map
    import folium

_TIANDITU = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
             "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}")
_MBTILES_MAX_TILES = 20_000


@dataclass(frozen=True)
class Basemap:
    kind: str  # tianditu | tianditu-img | osm | xyz | mbtiles
    url: str = ""  # template (xyz) or file path (mbtiles)
    key: str = ""

    @property
    def label(self) -> str:
        return {"tianditu": "天地图矢量", "tianditu-img": "天地图影像", "osm": "OpenStreetMap",
                "xyz": "自定义瓦片", "mbtiles": f"本地瓦片 {Path(self.url).name}"}[self.kind]


def parse_basemap(spec: str | None, key: str | None = None) -> Basemap | None:
    """A basemap from its command-line form; None for no basemap (the default)."""
    text = (spec if spec is not None else os.environ.get("SITING_BASEMAP", "")).strip()
    if text in ("", "none"):
        return None
    kind, _, rest = text.partition(":")
    if kind in ("tianditu", "tianditu-img"):
        key = key or os.environ.get("TIANDITU_KEY", "")
        if not key:
            raise InputError("--tianditu-key", "（未给出）", "使用天地图底图需提供天地图密钥（--tianditu-key 或环境变量 TIANDITU_KEY）。",
                             "a Tianditu basemap needs your Tianditu key (--tianditu-key or $TIANDITU_KEY).")
        return Basemap(kind, key=key)
    if kind == "osm":
        return Basemap("osm")
    if kind == "xyz" and all(part in rest for part in ("{z}", "{x}", "{y}")):
        return Basemap("xyz", url=rest)
    if kind == "mbtiles" and Path(rest).is_file():
        return Basemap("mbtiles", url=rest)
    raise InputError("--basemap", text, "底图应为 none、tianditu、tianditu-img、osm、xyz:瓦片地址模板（含 {z}/{x}/{y}）"
                     "或 mbtiles:本地文件路径（文件须存在）。",
                     "basemap must be none, tianditu, tianditu-img, osm, xyz:TEMPLATE with {z}/{x}/{y}, "
                     "or mbtiles:FILE (an existing file).")


def add_basemap(fmap: folium.Map, basemap: Basemap, bounds: tuple[float, float, float, float], out: Path | None) -> None:
    """Add the basemap as the map's base layer (and 天地图's label layer)."""
    import folium

    if basemap.kind in ("tianditu", "tianditu-img"):
        layer, labels = ("vec", "cva") if basemap.kind == "tianditu" else ("img", "cia")
        for name, tiles, overlay in ((basemap.label, layer, False), ("天地图注记", labels, True)):
            folium.TileLayer(_TIANDITU.format(s="{s}", layer=tiles, z="{z}", x="{x}", y="{y}", key=basemap.key),
                             name=name, attr="© 天地图 国家地理信息公共服务平台", subdomains="01234567",
                             overlay=overlay, max_zoom=18).add_to(fmap)
    elif basemap.kind == "osm":
        folium.TileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", name=basemap.label,
                         attr="© OpenStreetMap contributors", max_zoom=19).add_to(fmap)
    elif basemap.kind == "xyz":
        folium.TileLayer(basemap.url, name=basemap.label, attr="自定义瓦片").add_to(fmap)
    else:
        if out is None:
            raise InputError("--basemap", basemap.url, "本地 MBTiles 底图只能用于写出的 HTML 文件。",
                             "a local MBTiles basemap needs an output HTML file.")
        template, min_zoom, max_zoom = export_mbtiles(Path(basemap.url), bounds, out)
        west, south, east, north = bounds
        # Only the tiles covering the map's bounds are exported: Leaflet must not ask for others.
        folium.TileLayer(template, name=basemap.label, attr=Path(basemap.url).name, min_zoom=0,
                         min_native_zoom=min_zoom, max_native_zoom=max_zoom, max_zoom=19,
                         bounds=[[south, west], [north, east]]).add_to(fmap)


def _tile_range(bounds: tuple[float, float, float, float], zoom: int) -> tuple[range, range]:
    west, south, east, north = bounds
    n = 2**zoom

    def tile_x(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180) / 360 * n)))

    def tile_y(lat: float) -> int:
        rad = math.radians(lat)
        return min(n - 1, max(0, int((1 - math.asinh(math.tan(rad)) / math.pi) / 2 * n)))

    return range(tile_x(west), tile_x(east) + 1), range(tile_y(north), tile_y(south) + 1)


def export_mbtiles(path: Path, bounds: tuple[float, float, float, float], out: Path) -> tuple[str, int, int]:
    """Write the MBTiles tiles covering ``bounds`` beside ``out``; return a relative XYZ template.

    MBTiles rows count from the south (TMS); the files are written in XYZ order.
    """
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        metadata = dict(db.execute("SELECT name, value FROM metadata").fetchall())
        zooms = [z for (z,) in db.execute("SELECT DISTINCT zoom_level FROM tiles ORDER BY zoom_level")]
        if not zooms:
            raise InputError("--basemap", str(path), "MBTiles 文件中没有瓦片。", "the MBTiles file holds no tiles.")
        ext = metadata.get("format", "png")
        folder = out.with_name(out.stem + "_tiles")
        written = 0
        for zoom in zooms:
            xs, ys = _tile_range(bounds, zoom)
            rows = db.execute(
                "SELECT tile_column, tile_row, tile_data FROM tiles WHERE zoom_level=? AND tile_column BETWEEN ? AND ? "
                "AND tile_row BETWEEN ? AND ?",
                (zoom, xs.start, xs.stop - 1, 2**zoom - ys.stop, 2**zoom - 1 - ys.start),
            )
            for x, tms_y, data in rows:
                tile = folder / str(zoom) / str(x) / f"{2**zoom - 1 - tms_y}.{ext}"
                tile.parent.mkdir(parents=True, exist_ok=True)
                tile.write_bytes(data)
                written += 1
                if written > _MBTILES_MAX_TILES:
                    raise InputError("--basemap", str(path), f"地图范围内瓦片超过 {_MBTILES_MAX_TILES} 张，请减少 MBTiles 的最大级别。",
                                     f"more than {_MBTILES_MAX_TILES} tiles cover the map; lower the MBTiles max zoom.")
    return f"{folder.name}/{{z}}/{{x}}/{{y}}.{ext}", zooms[0], zooms[-1]
