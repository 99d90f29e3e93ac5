"""Zones prepared once, measured for one site or a million at a time.

A *target* is one geometry the rules measure against: a layer's union (optionally
clipped to an admin section, e.g. 汾河（运城段）), an admin jurisdiction, or the area a
layer declares it covers. Each target is materialised once per Gauss–Krüger zone (Shanxi
spans zones 37 and 38, CM 111° and 114°): its polygon parts go into one STRtree shared by
every target of the zone and are prepared for point-in-polygon tests; its linework
(polygon rings, lines, points) is cut into short chunks under an STRtree for exact
nearest-edge distances. Both the single-site check and the batch screen measure through
these objects, so they cannot disagree.

For bulk work a WGS84 grid classifies every cell once per target as "far outside",
"deep inside" or "needs an exact look", with margins that make the classification
conservative; only sites in cells of the last kind reach GEOS.

The classified columns can be handed out and taken back (``PreparedZones.grid_columns``,
``adopt_grid``), so ``layers.io.grid_cache`` can keep them on disk per layer set and a
batch's start-up does not classify again what an earlier one did.

Threads (web requests, batch chunks) share these objects. GEOS prepared geometries are
not thread-safe (their indexes are built lazily, libgeos/geos#825), so every predicate on
a prepared geometry runs under its owner's lock; tree queries and distances, which only
read, run in parallel.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from spatial.cache import Cache
from spatial.crs import STORAGE_EPSG, gk3_zone_for_longitude, transformer
from spatial.layer import LayerSet, Provenance, project

if TYPE_CHECKING:
    from spatial.decision import RuleBook

_CHUNK_VERTICES = 32  # linework is cut into pieces of this many vertices for the nearest-edge tree
_DIRECT_VERTICES = 2500  # below this many linework vertices one point is measured directly, not through the tree
_GRID_DEG = 0.0025  # about 230 m east–west and 280 m north–south in Shanxi
_GRID_PAD_DEG = 0.25
_GRID_COLUMNS_STEP = 16  # the grid table grows by this many targets at a time
_UNIONS_KEPT = 256  # layer unions, sections and coverages kept per layer set
_LAYERS_KEPT = 256  # per-layer records kept per layer set (more than any catalog declares)
_BOOKS_KEPT = 16  # rule lists kept per layer set (the catalog's, a test's subset, …)
_M_PER_DEG_LAT_MIN = 110_570.0  # metres per degree of latitude, a lower bound anywhere on the ellipsoid
_M_PER_DEG_LAT_MAX = 111_700.0
_M_PER_DEG_LON_EQ = 111_320.0

FAR = np.uint8(1)  # every point of the cell is outside the target and farther than the horizon from it
DEEP = np.uint8(2)  # every point of the cell is inside the target and farther than the horizon from its edge
NEAR = np.uint8(3)  # (a column of its own) every point of the cell is within the distance of the target's edge
_GK_SCALE_MAX = 1.01  # GK metres per metre on the ellipsoid, bounded with room to spare (1.0013 at 3.6° from the meridian)
_UNPACK = ((np.arange(256, dtype=np.uint8)[:, None] >> np.array([0, 2, 4, 6], dtype=np.uint8)) & 3).astype(np.uint8)  # byte → 4 codes

AREA = "area"
COVERAGE = "coverage"
FEATURES = "features"  # a layer's features side by side, unmerged: membership only


class TargetKey(NamedTuple):
    """What is measured: ``area`` of a layer (clipped to an admin ``section``), its ``coverage`` or ``features``."""

    kind: str
    layer: str
    section: str | None = None

    @classmethod
    def jurisdiction(cls, code: str) -> TargetKey:
        return cls(AREA, LayerSet.ADMIN, code)


@dataclass
class Target:
    """One target in one GK zone: its geometry, prepared polygon parts and linework index."""

    key: TargetKey
    epsg: int
    geometry: BaseGeometry
    parts: NDArray  # polygon parts, prepared
    chunks: NDArray  # linework pieces (≤ _CHUNK_VERTICES vertices) and points
    tree: shapely.STRtree | None

    @cached_property
    def whole(self) -> BaseGeometry | None:
        """All the pieces as one collection when they are few: one GEOS distance call then beats a tree search."""
        small = len(self.chunks) and shapely.get_num_coordinates(self.chunks).sum() <= _DIRECT_VERTICES
        return shapely.geometrycollections(self.chunks) if small else None

    def edge_distance(self, points: NDArray, limit: float | None = None) -> NDArray:
        """Exact metres from each point to the target's linework (rings, lines, points).

        With ``limit``, distances beyond it come back as NaN: a bounded search is
        much cheaper, and the caller has said it does not need them.
        """
        out = np.full(len(points), np.nan)
        if self.tree is None or len(points) == 0:
            return out
        if limit is None or math.isinf(limit):
            if len(points) == 1 and self.whole is not None:
                return shapely.distance(points, self.whole)
            (hit, _), distance = self.tree.query_nearest(points, return_distance=True, all_matches=False)
            out[hit] = distance
            return out
        # Bounded: every piece within the limit, then the least distance per point. Much
        # cheaper than a bounded nearest-neighbour search when most points have few pieces near.
        hit, piece = self.tree.query(points, predicate="dwithin", distance=limit)
        if len(hit):
            distance = shapely.distance(points[hit], self.chunks[piece])
            order = np.lexsort((distance, hit))
            first = np.r_[True, hit[order][1:] != hit[order][:-1]]
            out[hit[order][first]] = distance[order][first]
        return out

    def within(self, points: NDArray, distance: float) -> NDArray:
        """Whether each point lies within ``distance`` of the target's linework: exact, and no
        distance computed (one tree search with GEOS's early-exit test)."""
        out = np.zeros(len(points), dtype=bool)
        if self.tree is None or len(points) == 0:
            return out
        hit, _ = self.tree.query(points, predicate="dwithin", distance=distance)
        out[hit] = True
        return out


def _linework(geometry: BaseGeometry) -> tuple[NDArray, NDArray]:
    """Polygon parts, and the linework (rings, lines) in chunks of _CHUNK_VERTICES plus any points."""
    parts = shapely.get_parts(shapely.get_parts(geometry))
    dims = shapely.get_dimensions(parts)
    polygons = parts[dims == 2]
    lines = shapely.get_parts(np.concatenate([shapely.boundary(polygons), parts[dims == 1]]))
    return polygons, np.concatenate([parts[dims == 0], _chunks(lines)])


def _chunks(lines: NDArray) -> NDArray:
    """Lines cut into pieces of at most _CHUNK_VERTICES vertices; each piece repeats the last
    vertex of the one before, so every segment is kept exactly once."""
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    if len(coords) == 0:
        return np.empty(0, dtype=object)
    start = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    rank = np.arange(len(coords)) - np.repeat(start, np.diff(np.r_[start, len(coords)]))
    step = _CHUNK_VERTICES - 1
    joint = (rank % step == 0) & (rank > 0)
    all_owner = np.r_[owner, owner[joint]].astype(np.int64)
    all_chunk = np.r_[rank // step, rank[joint] // step - 1]
    all_rank = np.r_[rank, rank[joint]]
    order = np.lexsort((all_rank, all_chunk, all_owner))
    key = all_owner[order] * (int(all_chunk.max()) + 1) + all_chunk[order]
    _, piece, count = np.unique(key, return_inverse=True, return_counts=True)
    keep = count[piece] >= 2
    _, piece = np.unique(piece[keep], return_inverse=True)
    return shapely.linestrings(np.r_[coords, coords[joint]][order][keep], indices=piece)


@dataclass(frozen=True)
class _SharedTree:
    """The STRtree over every polygon part of a zone's targets, swapped whole when targets are added."""

    keys: tuple[TargetKey, ...] = ()
    index: dict[TargetKey, int] = field(default_factory=dict)
    parts: NDArray = field(default_factory=lambda: np.empty(0, dtype=object))
    part_target: NDArray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    tree: shapely.STRtree | None = None


class ZoneIndex:
    """Every target prepared in one GK zone, with one STRtree over all their polygon parts.

    Preparing is serialised by a lock and published by swapping one object, so threads
    may screen chunks against the same index.
    """

    def __init__(self, layers: LayerSet, epsg: int) -> None:
        self.layers = layers
        self.epsg = epsg
        self.targets: dict[TargetKey, Target] = {}
        self._shared = _SharedTree()
        self._lock = threading.Lock()

    def geometry(self, key: TargetKey) -> BaseGeometry:
        return prepared(self.layers).geometry(key, self.epsg)

    def ensure(self, keys: set[TargetKey] | list[TargetKey]) -> None:
        """Prepare the targets not yet prepared, then rebuild the shared tree once."""
        if all(k in self.targets for k in keys):
            return
        with self._lock:
            new = [k for k in dict.fromkeys(keys) if k not in self.targets]
            if not new:
                return
            targets = dict(self.targets)
            for key in new:
                geometry = self.geometry(key)
                polygons, chunks = _linework(geometry)
                shapely.prepare(polygons)
                targets[key] = Target(key, self.epsg, geometry, polygons, chunks, shapely.STRtree(chunks) if len(chunks) else None)
            keys_all = (*self._shared.keys, *new)
            parts = np.concatenate([targets[k].parts for k in keys_all])
            part_target = np.concatenate([np.full(len(targets[k].parts), i, dtype=np.int32) for i, k in enumerate(keys_all)])
            # The tree is published before the targets: a thread that finds its key prepared finds it in the tree.
            self._shared = _SharedTree(keys_all, {k: i for i, k in enumerate(keys_all)}, parts, part_target,
                                       shapely.STRtree(parts) if len(parts) else None)
            self.targets = targets

    def containing(self, point: BaseGeometry) -> set[TargetKey]:
        """The prepared targets whose polygons a single point intersects (one tree query)."""
        shared = self._shared
        if shared.tree is None:
            return set()
        candidates = shared.tree.query(point)
        with self._lock:  # prepared geometries
            hit = candidates[shapely.intersects(shared.parts[candidates], point)]
        return {shared.keys[i] for i in shared.part_target[hit].tolist()}

    def inside(self, points: NDArray, wanted: dict[TargetKey, NDArray]) -> dict[TargetKey, NDArray]:
        """Point-in-target for the points each key asks about (``wanted[key]``: a boolean mask).

        One query of the shared tree finds every candidate (point, part) pair; the
        prepared parts then decide the pairs some key wants.
        """
        self.ensure(list(wanted))
        shared = self._shared
        result = {key: np.zeros(len(points), dtype=bool) for key in wanted}
        asked = np.zeros(len(points), dtype=bool)
        for mask in wanted.values():
            asked |= mask
        rows = np.flatnonzero(asked)
        if shared.tree is None or len(rows) == 0:
            return result
        want = np.zeros((len(shared.keys), len(points)), dtype=bool)
        for key, mask in wanted.items():
            want[shared.index[key]] = mask
        pair_point, pair_part = shared.tree.query(points[rows])
        pair_point = rows[pair_point]
        pair_target = shared.part_target[pair_part]
        keep = want[pair_target, pair_point]
        pair_point, pair_part, pair_target = pair_point[keep], pair_part[keep], pair_target[keep]
        with self._lock:  # prepared geometries
            hit = shapely.intersects(shared.parts[pair_part], points[pair_point])
        for key in wanted:
            sel = hit & (pair_target == shared.index[key])
            result[key][pair_point[sel]] = True
        return result


@dataclass
class _Grid:
    """A WGS84 raster over the zones' extent; a per-target code says where GEOS is not needed.

    The codes are one table, a row per cell (and a last, all-zero row for the cell index −1,
    outside the grid) and a column per (target, horizon): the table is far larger than the
    CPU caches, so looking a site up costs a cache miss, once for all targets, not once each.
    A code takes two bits (four columns to a byte): a province's grid of sixty targets is then
    80 MB, not 330 MB.
    """

    west: float
    south: float
    nx: int
    ny: int
    columns: dict[tuple, int] = field(default_factory=dict)
    table: NDArray = field(default_factory=lambda: np.zeros((1, 0), dtype=np.uint8))

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float]) -> _Grid:
        west, south, east, north = bounds
        west, south = west - _GRID_PAD_DEG, south - _GRID_PAD_DEG
        nx = math.ceil((east + _GRID_PAD_DEG - west) / _GRID_DEG)
        ny = math.ceil((north + _GRID_PAD_DEG - south) / _GRID_DEG)
        return cls(west, south, nx, ny)

    def cell(self, lon: NDArray, lat: NDArray) -> NDArray:
        """Flat cell index of each point, −1 outside the grid (or not finite)."""
        with np.errstate(invalid="ignore"):
            col = np.floor((lon - self.west) / _GRID_DEG)
            row = np.floor((self.south + self.ny * _GRID_DEG - lat) / _GRID_DEG)
        ok = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return np.where(ok, np.nan_to_num(row) * self.nx + np.nan_to_num(col), -1).astype(np.int64)

    def add_column(self, name: tuple, codes: NDArray) -> None:
        """Store a column's codes; the column is published (in ``columns``) only once written.

        Readers may gather rows meanwhile: writing a column rewrites its bytes with the bits
        of the published columns unchanged, and a grown table (or a copy of a table read from
        disk, which is read-only) replaces the old one whole."""
        width = len(self.columns)
        if width == self.table.shape[1] * 4 or not self.table.flags.writeable:
            grown = np.zeros((self.ny * self.nx + 1, max((width + _GRID_COLUMNS_STEP) // 4, self.table.shape[1])), dtype=np.uint8)
            grown[:len(self.table), :self.table.shape[1]] = self.table
            self.table = grown
        self.table[:-1, width // 4] |= codes.astype(np.uint8) << (2 * (width % 4))
        self.columns[name] = width

    @property
    def extent(self) -> list:
        """West, south, columns, rows and cell size: what a stored table must match to be taken."""
        return [self.west, self.south, self.nx, self.ny, _GRID_DEG]

    def adopt(self, names: list[tuple], table: NDArray) -> None:
        """Take columns classified earlier (``table`` packed as ``add_column`` packs, one row per cell
        and the all-zero row last), e.g. a read-only memory map of a stored grid."""
        if table.shape[0] != self.ny * self.nx + 1 or table.shape[1] < (len(names) + 3) // 4:
            raise ValueError(f"a grid table of shape {table.shape} does not hold {len(names)} columns of this grid")
        self.table = table
        self.columns = {name: i for i, name in enumerate(names)}

    def stored(self) -> tuple[list[tuple], NDArray]:
        """The published column names in column order and the packed table of just those columns."""
        width = len(self.columns)
        return sorted(self.columns, key=self.columns.get), self.table[:, :(width + 3) // 4]

    def packed(self, cells: NDArray) -> NDArray:
        """The packed codes of every column published so far, per cell (one gather); see ``grid_codes``."""
        return self.table[cells, :(len(self.columns) + 3) // 4]

    def rows(self, cells: NDArray) -> NDArray:
        """The codes of every column published so far, per cell."""
        width = len(self.columns)
        return _UNPACK[self.table[cells, :(width + 3) // 4]].reshape(len(cells), -1)[:, :width]

    def classify(self, geometry: BaseGeometry, horizon: float) -> NDArray:
        """FAR, DEEP or 0 per cell, conservative by two cell diagonals.

        Only a window round the geometry (padded by the horizon) is rasterised; every
        cell beyond it is FAR.
        """
        if math.isinf(horizon):
            return np.zeros(self.ny * self.nx, dtype=np.uint8)
        codes = np.full(self.ny * self.nx, FAR, dtype=np.uint8)
        window = self._window(geometry, horizon)
        if window is None:
            return codes
        rows, cols, distance, inside, diagonal = window
        cells = np.zeros(distance.shape, dtype=np.uint8)
        clear = distance - 2 * diagonal > horizon
        cells[clear & ~inside] = FAR
        cells[clear & inside] = DEEP
        codes.reshape(self.ny, self.nx)[rows, cols] = cells
        return codes

    def classify_near(self, geometry: BaseGeometry, distance: float) -> NDArray:
        """NEAR or 0 per cell: NEAR where every point of the cell lies within ``distance`` of
        the geometry's linework, conservative by a diagonal, the most metres a cell can span
        and a per cent for the GK scale (a site's distances are measured in its GK zone)."""
        codes = np.zeros(self.ny * self.nx, dtype=np.uint8)
        window = self._window(geometry, distance, longest=True) if math.isfinite(distance) else None
        if window is None:
            return codes
        rows, cols, reach, _, diagonal = window
        codes.reshape(self.ny, self.nx)[rows, cols] = np.where((reach + diagonal) * _GK_SCALE_MAX + 1.0 <= distance, NEAR, 0)
        return codes

    def _window(self, geometry: BaseGeometry, horizon: float, longest: bool = False) -> tuple | None:
        """Rows and columns of the cells round the geometry (padded by the horizon), each cell's
        metres from the centre of the nearest cell the linework touches, which cells lie inside
        the polygons, and a cell's longest diagonal; None when no cell is near.

        Metres are the fewest a cell can span (a lower bound of the distance) or, with
        ``longest``, the most (an upper bound). Only bulk screening builds the grid, so its
        raster libraries are imported here, off the single check's cold start.
        """
        from rasterio import features
        from rasterio.transform import Affine
        from scipy import ndimage

        if geometry.is_empty:
            return None
        north = self.south + self.ny * _GRID_DEG
        lat_high = max(abs(self.south), abs(north))
        lat_low = 0.0 if self.south <= 0 <= north else min(abs(self.south), abs(north))
        side_y, side_x = _GRID_DEG * _M_PER_DEG_LAT_MIN, _GRID_DEG * _M_PER_DEG_LON_EQ * math.cos(math.radians(lat_high))
        side = min(side_y, side_x)
        diagonal = _GRID_DEG * math.hypot(_M_PER_DEG_LAT_MAX, _M_PER_DEG_LON_EQ * math.cos(math.radians(lat_low)))
        pad = math.ceil((horizon + 3 * diagonal) / side) + 1  # in cells
        west, south, east, top = shapely.bounds(geometry)
        col0 = max(int((west - self.west) / _GRID_DEG) - pad, 0)
        col1 = min(int((east - self.west) / _GRID_DEG) + pad + 1, self.nx)
        row0 = max(int((north - top) / _GRID_DEG) - pad, 0)
        row1 = min(int((north - south) / _GRID_DEG) + pad + 1, self.ny)
        if col0 >= col1 or row0 >= row1:
            return None
        shape = (row1 - row0, col1 - col0)
        affine = Affine(_GRID_DEG, 0.0, self.west + col0 * _GRID_DEG, 0.0, -_GRID_DEG, north - row0 * _GRID_DEG)
        polygons, chunks = _linework(geometry)
        touched = features.rasterize(((g, 1) for g in chunks), out_shape=shape, transform=affine,
                                     all_touched=True, dtype=np.uint8) if len(chunks) else np.zeros(shape, np.uint8)
        interior = features.rasterize(((g, 1) for g in polygons), out_shape=shape, transform=affine,
                                      dtype=np.uint8) if len(polygons) else np.zeros(shape, np.uint8)
        if not touched.any():
            distance = np.full(shape, -math.inf if not longest else math.inf)
        elif longest:
            # The most metres a cell spans north–south and east–west bound the metres between cell centres from above.
            sampling = (_GRID_DEG * _M_PER_DEG_LAT_MAX, _GRID_DEG * _M_PER_DEG_LON_EQ * math.cos(math.radians(lat_low)))
            distance = ndimage.distance_transform_edt(touched == 0, sampling=sampling)
        else:
            # The Euclidean distance between cell centres measured on the least metres a cell
            # spans north–south and east–west never exceeds the metres between them; two
            # diagonals more cover any point of either cell.
            distance = ndimage.distance_transform_edt(touched == 0, sampling=(side_y, side_x))
        return slice(row0, row1), slice(col0, col1), distance, interior.astype(bool), diagonal


class PreparedZones:
    """The prepared targets of one LayerSet, per GK zone, plus the bulk grid, and what is derived from
    the layers once: each kind in a cache of its own (``spatial.cache``: typed, bounded, locked)."""

    def __init__(self, layers: LayerSet) -> None:
        self.layers = layers
        self._zones: dict[int, ZoneIndex] = {}
        self._grid: _Grid | None = None
        self._admin_tree: shapely.STRtree | None = None
        self._lock = threading.RLock()
        # Unions, sections and coverages in storage coordinates, by what they are made of (each once).
        self._unions: Cache[tuple, BaseGeometry] = Cache(_UNIONS_KEPT)
        self._features: Cache[str, tuple[NDArray, shapely.STRtree]] = Cache(_LAYERS_KEPT)  # prepared copies, by layer
        #: What the checker and the screen derive from one rule list on these layers (``spatial.decision``).
        self.books: Cache[tuple[int, ...], RuleBook] = Cache(_BOOKS_KEPT)
        #: Per layer: its provenance record, its unit records (三线一单 layers), the names of the areas it covers.
        self.layer_records: Cache[str, dict] = Cache(_LAYERS_KEPT)
        self.unit_records: Cache[str, list[dict]] = Cache(_LAYERS_KEPT)
        self.coverage_names: Cache[str, tuple[str, ...]] = Cache(_LAYERS_KEPT)

    def adopt_grid(self, names: list[tuple], table: NDArray) -> bool:
        """Take a grid classified earlier on these layers (see ``layers.io.grid_cache``) unless this one
        already holds columns; True when taken."""
        with self._lock:
            if self._grid is not None and self._grid.columns:
                return False
            grid = _Grid.covering(tuple(self.layers.admin.frame.total_bounds))
            grid.adopt(names, table)
            self._grid = grid
            return True

    def grid_extent(self) -> list:
        """The bulk grid's west, south, columns, rows and cell size (the grid need not exist yet)."""
        return (self._grid or _Grid.covering(tuple(self.layers.admin.frame.total_bounds))).extent

    def grid_columns(self) -> tuple[list[tuple], NDArray]:
        """The bulk grid's classified column names (in order) and their packed table; none before a screen."""
        with self._lock:
            if self._grid is None:
                return [], np.zeros((0, 0), dtype=np.uint8)
            return self._grid.stored()

    def zone(self, epsg: int) -> ZoneIndex:
        if epsg not in self._zones:
            with self._lock:
                self._zones.setdefault(epsg, ZoneIndex(self.layers, epsg))
        return self._zones[epsg]

    def admin_names(self, lon: float, lat: float) -> dict[str, str]:
        """Province, city and county containing a WGS84 point."""
        frame = self.layers.admin.frame
        point = shapely.Point(lon, lat)
        with self._lock:  # prepared geometries
            if self._admin_tree is None:
                geometries = _prepared_copies(frame.geometry.values)
                self._admin_geometries = geometries
                self._admin_rows = [(str(level), f"{name}（{code}）") for level, name, code in zip(frame["level"], frame["name"], frame["code"], strict=True)]
                self._admin_tree = shapely.STRtree(geometries)
            candidates = self._admin_tree.query(point)
            hits = candidates[shapely.contains(self._admin_geometries[candidates], point)]
        return dict(self._admin_rows[i] for i in sorted(hits.tolist()))

    def features_at(self, layer_id: str, site: BaseGeometry) -> NDArray:
        """Indices (ascending) of a layer's features a WGS84 site intersects, through a prepared tree."""
        geometries, tree = self._features.get(layer_id, lambda: _indexed(self.layers.layers[layer_id].frame.geometry.values))
        candidates = np.sort(tree.query(site))
        with self._lock:  # prepared geometries
            return candidates[shapely.intersects(geometries[candidates], site)]

    def geometry(self, key: TargetKey, epsg: int) -> BaseGeometry:
        """The geometry of a target in a CRS (EPSG:4326 included).

        An area is what ``LayerSet.projected`` gives (the layer's union, clipped to the
        section, projected) and a coverage the union of the admin areas a layer declares it
        covers, less its gaps; each union is computed once, not once per section and zone.
        """
        layers = self.layers
        if key.kind == COVERAGE:  # one union per distinct coverage
            provenance = layers.layers[key.layer].provenance
            frame = layers.admin.frame
            codes = provenance.coverage or tuple(frame.loc[frame["level"] == "province", "code"])  # gaps alone: the province, less them
            area = self._unions.get(("coverage", codes, provenance.gaps), lambda: _coverage_area(layers, codes, provenance))
            return project(area, STORAGE_EPSG, epsg)
        if key.kind == FEATURES:
            collection = shapely.geometrycollections(np.asarray(layers.layers[key.layer].frame.geometry.values))
            return collection if epsg == STORAGE_EPSG else project(collection, STORAGE_EPSG, epsg)
        if key.layer == LayerSet.ADMIN and key.section is not None:  # a jurisdiction: its own feature, no union of nested areas
            return project(layers.admin_area(key.section), STORAGE_EPSG, epsg)
        geometry = self._unions.get(("union", key.layer), lambda: _union(layers.layers[key.layer].frame.geometry.values))
        if key.section is not None:
            whole = geometry
            geometry = self._unions.get(("section", key.layer, key.section),
                                        lambda: shapely.intersection(whole, layers.admin_area(key.section)))
        return project(geometry, STORAGE_EPSG, epsg)

    @property
    def grid(self) -> _Grid:
        with self._lock:
            if self._grid is None:
                self._grid = _Grid.covering(tuple(self.layers.admin.frame.total_bounds))
        return self._grid

    def cells(self, lon: NDArray, lat: NDArray) -> NDArray:
        """Grid cell of each WGS84 point (−1 outside the grid), to pass to grid_rows."""
        return self.grid.cell(lon, lat)

    def locality_order(self, cells: NDArray) -> NDArray:
        """A permutation putting sites near each other next to each other (Morton order of
        blocks of at least 8 × 8 cells, 2 km), so tree searches and grid look-ups touch memory
        in order. Blocks are made coarse enough for a 16-bit key, which numpy radix-sorts."""
        grid = self.grid
        shift = max(3, (max(grid.nx, grid.ny) - 1).bit_length() - 8)
        row, col = np.divmod(np.maximum(cells, 0), grid.nx)
        key = (_interleave(row >> shift) << 1 | _interleave(col >> shift)).astype(np.uint16)
        return np.argsort(np.where(cells >= 0, key, np.uint16(0xFFFF)), kind="stable")

    def grid_column(self, key: TargetKey, horizon: float) -> int:
        """The grid table's column for a target and horizon, classified on first use."""
        grid = self.grid
        if (key, horizon) not in grid.columns:
            with self._lock:
                if (key, horizon) not in grid.columns:
                    grid.add_column((key, horizon), grid.classify(self.geometry(key, STORAGE_EPSG), horizon))
        return grid.columns[(key, horizon)]

    def near_column(self, key: TargetKey, distance: float) -> int:
        """The grid table's column saying where every point of a cell lies within ``distance`` of a
        target's edge (NEAR), classified on first use."""
        grid = self.grid
        name = (key, distance, NEAR)
        if name not in grid.columns:
            with self._lock:
                if name not in grid.columns:
                    grid.add_column(name, grid.classify_near(self.geometry(key, STORAGE_EPSG), distance))
        return grid.columns[name]

    def grid_rows(self, cells: NDArray) -> NDArray:
        """The codes of every column classified so far, per cell: one gather for all targets."""
        return self.grid.rows(cells)

    def grid_packed(self, cells: NDArray) -> NDArray:
        """As ``grid_rows``, the codes left packed (``grid_codes`` takes one column out)."""
        return self.grid.packed(cells)


def layers_digest(layers: LayerSet) -> str:
    """SHA-256 of every layer's id, provenance and geometry (WKB): what the grid's classification depends on."""
    digest = hashlib.sha256()
    for layer_id in sorted(layers.layers):
        layer = layers.layers[layer_id]
        digest.update(json.dumps([layer_id, layer.provenance.to_dict()], sort_keys=True, ensure_ascii=False, default=str).encode())
        for wkb in shapely.to_wkb(np.asarray(layer.frame.geometry.values)):
            digest.update(len(wkb).to_bytes(8, "little") + wkb)
    return digest.hexdigest()


def grid_codes(packed: NDArray, column: int) -> NDArray:
    """One column's codes from rows of ``PreparedZones.grid_packed``."""
    return (packed[:, column >> 2] >> (2 * (column & 3))) & 3


def _interleave(values: NDArray) -> NDArray:
    """Spread the low 16 bits of each value to the even bit positions (for Morton keys)."""
    v = values.astype(np.int64) & 0xFFFF
    v = (v | (v << 8)) & 0x00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F
    v = (v | (v << 2)) & 0x33333333
    return (v | (v << 1)) & 0x55555555


def drawn_zone(target: BaseGeometry, window: BaseGeometry, distance_m: float | None = None,
               jurisdiction: BaseGeometry | None = None) -> BaseGeometry:
    """The zone a rule draws on its target, as far as it reaches into ``window`` (one metric CRS).

    A polygon zone (``distance_m`` None) is the target itself; a buffer zone is the band of
    ``distance_m`` round the part of the target within ``window``, inside the rule's
    ``jurisdiction``. ``window`` must hold every point of the target within ``distance_m`` of
    where the zone is wanted. Check maps and region maps both draw zones here.
    """
    nearby = shapely.intersection(target, window)
    if distance_m is None:
        return nearby
    return shapely.intersection(shapely.buffer(nearby, distance_m), jurisdiction)


def _coverage_area(layers: LayerSet, codes: tuple[str, ...], provenance: Provenance) -> BaseGeometry:
    """The union of the admin areas a layer covers, less its declared gaps (storage coordinates)."""
    area = shapely.union_all([layers.admin_area(code) for code in codes])
    return shapely.difference(area, provenance.gap_area()) if provenance.gaps else area


def _union(geometries: NDArray) -> BaseGeometry:
    """The union of a layer's features, as one multipolygon for a polygon layer.

    Agency polygon layers (red line, units) overlap in small clusters. GEOS's disjoint-subset
    union merges each cluster of intersecting polygons on its own and leaves the rest as they
    are: the same polygons as one cascaded union of everything, five times faster on the
    10,000-polygon stand-in red line (tests/test_industry_map.py compares the two).
    """
    geometries = np.asarray(geometries)
    parts = shapely.get_parts(geometries)
    if not len(parts) or not (shapely.get_type_id(parts) == 3).all():  # the disjoint-subset union takes polygons only
        return shapely.union_all(geometries)
    return shapely.multipolygons(shapely.get_parts(shapely.disjoint_subset_union_all(parts)))


def _indexed(geometries: NDArray) -> tuple[NDArray, shapely.STRtree]:
    """Prepared copies of a layer's geometries and a tree over them."""
    copies = _prepared_copies(geometries)
    return copies, shapely.STRtree(copies)


def _prepared_copies(geometries: NDArray) -> NDArray:
    """Prepared copies of a layer's geometries: preparing the layer's own objects would make
    every predicate anywhere on them use GEOS prepared geometry, which is not thread-safe."""
    copies = shapely.from_wkb(shapely.to_wkb(np.asarray(geometries)))
    shapely.prepare(copies)
    return copies


_PREPARED: weakref.WeakKeyDictionary[LayerSet, PreparedZones] = weakref.WeakKeyDictionary()
_PREPARED_LOCK = threading.Lock()


def prepared(layers: LayerSet) -> PreparedZones:
    """The one PreparedZones of a LayerSet, built on first use and kept as long as the layers."""
    with _PREPARED_LOCK:  # threads screening chunks of one batch share one index
        if layers not in _PREPARED:
            _PREPARED[layers] = PreparedZones(layers)
        return _PREPARED[layers]


def gk_epsg(lon: NDArray) -> NDArray:
    """EPSG code of each site's GK zone (0 where the longitude is not finite)."""
    zone = np.floor(np.asarray(lon, dtype=float) / 3.0 + 0.5)
    epsg = np.zeros(len(zone), dtype=np.int32)
    for number in np.unique(zone[np.isfinite(zone)]):
        epsg[zone == number] = gk3_zone_for_longitude(3.0 * number).epsg
    return epsg


def gk_coordinates(lon: NDArray, lat: NDArray) -> tuple[NDArray, NDArray]:
    """EPSG code of each site's GK zone and its (x, y) in that zone, as arrays (no geometry objects)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    epsg = gk_epsg(lon)
    xy = np.full((len(lon), 2), np.nan)
    for code in np.unique(epsg[epsg > 0]):
        rows = np.flatnonzero(epsg == code)
        xy[rows, 0], xy[rows, 1] = transformer(STORAGE_EPSG, int(code)).transform(lon[rows], lat[rows])
    return epsg, xy
