"""`siting batch IN --out OUT`: screen a whole register of sites.

The layer sources are verified once per run (when the layers are loaded), then the
input is read, checked and written chunk by chunk with a progress bar on stderr (rows per
second and time left; ``--quiet`` for scripts). Reading, screening and writing overlap:
chunks are screened in worker processes forked once the layers are loaded (``siting.batch.workers``)
while this process reads the next, and a writer thread takes finished chunks from a bounded
queue, so memory stays flat in the number of rows. Every input row
appears in the output, in input order; a row that could not be checked says why. The bulk
grid's classified columns are kept beside the layer cache, so that only a run meeting new
targets classifies them.
``--engine dask`` runs the same chunk check on a dask cluster (see siting.batch.dask_engine).
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path

from tqdm import tqdm

from layers import catalog
from layers.build import data_dir, load_layers
from layers.io.grid_cache import GridCache
from siting.batch.files import ResultWriter, SiteTable
from siting.batch.rows import FIELDS, ChunkResult, Options, resolve_columns
from siting.batch.workers import ChunkProcesses, ChunkThreads, result_of
from siting.memory import arrow_pool_returning_memory, freeze_long_lived
from spatial.engine import prepared
from spatial.errors import InputError
from spatial.rules import Verdict
from spatial.screening import DEFAULT_REPORT_M, prime

_MAX_DEFAULT_PROCESSES = 4  # each worker holds a chunk in memory: more must be asked for
_WRITE_QUEUE = 2  # finished chunks waiting for the writer thread


def register(commands: argparse._SubParsersAction) -> None:
    batch = commands.add_parser("batch", help="批量审查 CSV、Excel 或 GeoPackage 中的全部场址")
    batch.add_argument("input", type=Path, metavar="IN", help="场址表：.csv、.xlsx 或 .gpkg（点图层）")
    batch.add_argument("--out", type=Path, required=True, metavar="OUT",
                       help="结果：.xlsx（分工作表）、.gpkg（分图层）、.csv 或 .parquet（GeoParquet，分文件）")
    batch.add_argument("--crs", help="坐标系：EPSG:NNNN，或 wgs84、cgcs2000、gcj02、bd09（默认 WGS84/CGCS2000 经纬度）")
    for role, names in FIELDS.items():
        batch.add_argument(f"--{role}-col", metavar="COLUMN", help=f"{'/'.join(names)} 以外的列名")
    batch.add_argument("--layer", help="GeoPackage 中的图层名（默认第一个）")
    batch.add_argument("--industry", help="无行业列或该列为空时使用的行业")
    batch.add_argument("--stage", default="new", help="无阶段列或该列为空时使用的阶段（默认 new）")
    batch.add_argument("--report-m", type=float, default=DEFAULT_REPORT_M,
                       help=f"在各管控区最宽边界带以外再精确报告距离的范围（米，默认 {DEFAULT_REPORT_M:g}；inf 为全部精确）")
    batch.add_argument("--chunk-rows", type=int, default=50_000, help="每批读入的行数（默认 50000）")
    batch.add_argument("--engine", choices=["local", "dask"], default="local", help="local：本进程；dask：dask 集群")
    batch.add_argument("--processes", "--threads", dest="processes", type=int,
                       default=min(len(os.sched_getaffinity(0)), _MAX_DEFAULT_PROCESSES),
                       help=f"local 引擎同时审查的批数（各在一个工作进程中；默认为可用 CPU 核数，至多 {_MAX_DEFAULT_PROCESSES}）")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed 调度器地址，如 tcp://10.0.0.5:8786；不给则在本机启动集群")
    batch.add_argument("--workers", type=int, default=2, help="本机 dask 集群的工作进程数（默认 2）")
    batch.add_argument("--quiet", action="store_true", help="不显示进度条（供脚本调用）")


def run(args: argparse.Namespace) -> int:
    if args.chunk_rows < 1:
        raise InputError("--chunk-rows", args.chunk_rows, "应为正整数。", "must be a positive integer.")
    if args.processes < 1:
        raise InputError("--processes", args.processes, "应为正整数。", "must be a positive integer.")
    if not args.report_m >= 0:
        raise InputError("--report-m", args.report_m, "应为非负的米数（inf 表示全部精确）。", "must be a non-negative number of metres (inf: every distance).")
    arrow_pool_returning_memory()
    table = SiteTable(args.input, args.chunk_rows, args.layer)
    overrides = {role: getattr(args, f"{role}_col") for role in FIELDS}
    columns = resolve_columns(table.headers, overrides, table.has_geometry)
    options = Options(crs=args.crs or table.crs, industry=args.industry, stage=args.stage, report_m=args.report_m)
    if options.crs:
        from spatial.coordinates import resolve_crs

        resolve_crs(options.crs)  # a bad --crs is one error for the file, not one per row
    counts: Counter = Counter()
    # OUT appears, all at once, only when every row is written (see siting.batch.files.ResultWriter).
    with ResultWriter(args.out) as writer:
        layers = load_layers(log=lambda m: print(m, file=sys.stderr))  # checks the cache against the pinned sources, once
        rules = list(catalog.rules())
        zones = prepared(layers)
        grid_cache = GridCache(zones, data_dir() / "layers")
        grid_cache.load()  # classified by earlier runs on these layers: not again
        if args.engine == "dask":
            from siting.batch.dask_engine import run_dask

            freeze_long_lived()
            with _progress(table, args.quiet) as bar:
                _write_behind(run_dask(table, columns, options, args.scheduler, args.workers, bar), writer, counts)
        else:
            several = table.total > args.chunk_rows  # a guess for CSV (line breaks in cells count): only the speed depends on it
            if several:
                prime(rules, layers, options.report_m)  # made once here, shared by every worker
            freeze_long_lived()
            kind = ChunkProcesses if several else ChunkThreads
            with kind(args.processes, columns, options, rules, layers) as screener, _progress(table, args.quiet) as bar:
                _write_behind(_run_local(table, screener, bar, args.processes + several, args.chunk_rows), writer, counts)
    grid_cache.save()  # after the results are in place: the cache is never what a run waits for or fails on
    _report(counts, writer)
    return 0


def _write_behind(results: Iterable[ChunkResult], writer: ResultWriter, counts: Counter) -> None:
    """Write chunks on a thread of its own, in order, while the next ones are read and screened.

    At most ``_WRITE_QUEUE`` finished chunks wait; an error on either side stops both and is raised here."""
    waiting: queue.Queue = queue.Queue(_WRITE_QUEUE)
    failed: list[BaseException] = []

    def drain() -> None:
        while (result := waiting.get()) is not None:
            if failed:
                continue
            try:
                writer.write(result)
            except BaseException as error:  # handed to the main thread, which raises it
                failed.append(error)

    thread = threading.Thread(target=drain, name="batch-writer", daemon=True)
    thread.start()
    try:
        for result in results:
            if failed:
                break
            counts.update(result.verdict_counts())
            waiting.put(result)
    finally:
        waiting.put(None)
        thread.join()
    if failed:
        raise failed[0]


def _progress(table: SiteTable, quiet: bool) -> tqdm:
    return tqdm(total=table.total, unit="行", unit_scale=True, desc="批量审查", file=sys.stderr, disable=True if quiet else None)


def _run_local(table: SiteTable, screener: ChunkProcesses | ChunkThreads, bar: tqdm, in_flight: int,
               chunk_rows: int) -> Iterator[ChunkResult]:
    """Chunk results in input order while the next chunks are read and screened; at most ``in_flight``
    chunks are held (one more than the workers, so none waits for this process), so memory stays flat."""
    pending: deque[tuple[Future, int]] = deque()
    start = 1
    for frame, xy in table.chunks():
        pending.append((screener.submit(frame, start, xy), len(frame)))
        start += len(frame)
        if len(pending) >= in_flight:
            yield _finished(pending.popleft(), bar, chunk_rows)
    while pending:
        yield _finished(pending.popleft(), bar, chunk_rows)


def _finished(job: tuple[Future, int], bar: tqdm, chunk_rows: int) -> ChunkResult:
    future, size = job
    result = result_of(future, chunk_rows)
    bar.update(size)
    return result


def _report(counts: Counter, writer: ResultWriter) -> None:
    labels = {verdict.value: verdict.label for verdict in Verdict}
    checked = sum(v for k, v in counts.items() if k != "unchecked")
    parts = "、".join(f"{label} {counts.get(code, 0)}" for code, label in labels.items())
    print(f"已检查 {checked} 行（{parts}），未检查 {counts.get('unchecked', 0)} 行（原因见“原因”列）。", file=sys.stderr)
    print("结果已写出：" + "、".join(str(p) for p in writer.paths()), file=sys.stderr)
