"""`siting batch --engine dask`: the same chunk check, on a dask.distributed cluster.

The register is loaded into a dask-geopandas frame and partitioned spatially (Hilbert
order of the sites), so each worker sees neighbouring sites and touches few zones. Each
partition is checked by :func:`siting.batch.rows.screen_chunk`, the columnar chunk function
the local engine uses; its Arrow tables come back to this process and are written in input order. Workers
load the layers once per process from the data directory given to them (a remote
worker builds them from the pinned sources if it has none).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from tqdm import tqdm

from layers import catalog
from layers.build import data_dir, load_layers
from layers.io.grid_cache import GridCache
from siting.batch.files import SiteTable
from siting.batch.rows import ROW, ChunkResult, Columns, Options, screen_chunk
from spatial.crs import SHANXI_BOUNDS
from spatial.engine import prepared
from spatial.errors import InputError

_ROW, _X, _Y = "__row", "__x", "__y"
_SITES_PER_PARTITION = 25_000


def run_dask(table: SiteTable, columns: Columns, options: Options, scheduler: str | None, workers: int,
             bar: tqdm) -> Iterator[ChunkResult]:
    import dask
    import dask_geopandas
    from dask.distributed import Client, LocalCluster, as_completed

    sites = _sites(table, columns)
    partitions = max(workers * 2, math.ceil(len(sites) / _SITES_PER_PARTITION))
    with dask.config.set({"dataframe.convert-string": False}):
        # Hilbert order, cut into contiguous runs: each partition is a compact patch of the map.
        # (Sorted here rather than by a distributed shuffle, which would force every input
        # column through Arrow and fail on the mixed types of real registers.)
        # Sites outside the province still sort, at the curve's edge.
        ordered = sites.iloc[np.argsort(sites.geometry.hilbert_distance(total_bounds=SHANXI_BOUNDS), kind="stable")]
        frame = dask_geopandas.from_geopandas(ordered, npartitions=partitions, sort=False)
        if scheduler:
            try:
                client = Client(scheduler, timeout="20s")
            except OSError as error:
                raise InputError("--scheduler", scheduler, f"无法连接 dask 调度器：{error}", f"cannot reach the dask scheduler: {error}") from None
        else:
            client = Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=logging.ERROR))
        with client:
            root = str(data_dir())
            tasks = [dask.delayed(_screen_partition)(part, columns, options, root) for part in frame.to_delayed()]
            results = []
            for future in as_completed(client.compute(tasks)):
                result = future.result()
                bar.update(len(result.summary))
                results.append(result)
            if not scheduler:
                client.cluster.close()
    yield from _in_input_order(results, table.chunk_rows)


def _sites(table: SiteTable, columns: Columns) -> gpd.GeoDataFrame:
    """Every row with its number and a point to partition by (its coordinates where they read as numbers)."""
    frames = []
    start = 1
    for chunk, xy in table.chunks():
        frame = chunk.to_pandas()
        frame[_ROW] = np.arange(start, start + len(frame))
        start += len(frame)
        if xy is not None:
            frame[_X], frame[_Y] = xy[:, 0], xy[:, 1]
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({_ROW: []})
    if columns.geometry:
        x, y = data[_X].to_numpy(dtype=float), data[_Y].to_numpy(dtype=float)
    else:
        x = pd.to_numeric(data[columns.lon].astype("string"), errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(data[columns.lat].astype("string"), errors="coerce").to_numpy(dtype=float)
    usable = np.isfinite(x) & np.isfinite(y)
    points = shapely.points(np.where(usable, x, 0.0), np.where(usable, y, 0.0))
    return gpd.GeoDataFrame(data, geometry=points)


@lru_cache(maxsize=2)
def _worker_layers(root: str):
    layers = load_layers(Path(root))
    grid_cache = GridCache(prepared(layers), Path(root) / "layers")
    grid_cache.load()  # the grid an earlier run (or worker) classified
    return layers, list(catalog.rules()), grid_cache


def _screen_partition(part: gpd.GeoDataFrame, columns: Columns, options: Options, root: str) -> ChunkResult:
    layers, rules, grid_cache = _worker_layers(root)
    rows = part[_ROW].to_numpy()
    xy = part[[_X, _Y]].to_numpy(dtype=float) if columns.geometry else None
    frame = pd.DataFrame(part.drop(columns=[c for c in (_ROW, _X, _Y, "geometry") if c in part.columns]))
    result = screen_chunk(frame.reset_index(drop=True), rows, columns, options, rules, layers, xy)
    grid_cache.save()  # only when this partition classified new columns
    return result


def _in_input_order(results: list[ChunkResult], chunk_rows: int) -> Iterator[ChunkResult]:
    if not results:
        return
    summary = pa.concat_tables([r.summary for r in results], promote_options="permissive")
    summary = summary.take(pc.sort_indices(summary, [(ROW, "ascending")]))
    details = pa.concat_tables([r.details for r in results])
    details = details.take(pc.sort_indices(details, [(ROW, "ascending"), ("条款", "ascending")]))
    situations = {key: situation for r in results for key, situation in r.situations.items()}
    detail_rows = details.column(ROW).to_numpy()
    row_numbers = summary.column(ROW).to_numpy()
    for start in range(0, summary.num_rows, chunk_rows):
        part = summary.slice(start, chunk_rows)
        low, high = row_numbers[start], row_numbers[min(start + chunk_rows, summary.num_rows) - 1]
        a, b = np.searchsorted(detail_rows, [low, high + 1])
        yield ChunkResult(part, details.slice(a, b - a), situations if start == 0 else {})
