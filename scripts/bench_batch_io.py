"""Benchmark `siting batch` end to end (read, screen, write) against the engine's own time.

    python scripts/bench_batch_io.py [N] [--xlsx-rows M] [--no-flat] [--repeat R] [--baseline DIR [--baseline-data D]]
                                                                                     (not in CI)

On N random Shanxi sites (default 1,000,000; mixed industries and stages, names with quotes
and line breaks) it prints, in one invocation: CSV → CSV wall (all three levels) and its ratio to
the engine (``spatial.screening.screen`` on the same rows, chunks of 50,000 on two threads as
`siting batch` runs them, layers loaded and prepared beforehand); CSV → GeoParquet; XLSX → XLSX
(M rows, default N) with its ratio; the start-up of one `siting batch` on a one-row file (layer
loading, included in every wall time); and the peak memory of each run, with the CSV → CSV peak
at 5 N rows to show it flat (``--no-flat`` skips that run). Each run is a real `siting batch
--quiet` child process, watched by a small launcher process (``_LAUNCHER``): its CPU seconds (user
+ system, every thread and worker process: what bounds a run on a busy machine) and the largest
resident set of any one of its processes come from wait4; its peak memory is the sum of the
proportional set sizes (PSS: a page the batch shares with its forked workers counted once) of
the batch and its workers, read from /proc every 250 ms (reading PSS walks a process's page tables
under its memory-map lock: every 50 ms it slowed the batch by about a second). The start-up,
engine, CSV and GeoParquet runs are taken ``--repeat`` times in turn (default 3) and the best of
each is compared, every run's wall printed beside it: on this shared virtual machine the same run
varies by a quarter from one minute to the next, and noise only adds time. ``--baseline DIR``
(a checkout of earlier code, e.g. ``git worktree add /tmp/base a3f1a27``) adds that code's CSV and
GeoParquet runs to every round and prints this code's best over the baseline's. The bulk grid's
classified columns are kept beside the layer cache by the first run on a layer set (``layers.io.grid_cache``); the benchmark says how many were kept
before it started (none: its first run classified them). The numbers of the row-at-a-time
implementation it replaced (measured on this machine before the change; peaks read without the
launcher) and of the previous columnar pass (same launcher) are printed beside them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.batch_register import register_csv

# The row-at-a-time (pandas) implementation on 1,000,000 rows, 2026-12-06 on this 2-core machine while
# other jobs ran (load average 3–14): wall seconds and peak RSS in MB.
BEFORE = {"csv": (170.3, 1233), "xlsx": (1500.6, 1627)}
# The previous pass (a3f1a27: chunks screened on threads of one process), 1,000,000 rows, this benchmark on this
# machine, 2026-12-06 11:14 UTC at load average 1.5 (wall seconds, peak memory in MB — one process, so its RSS —
# and CPU seconds).
PREVIOUS = {"csv": (6.44, 595, 8.6), "parquet": (5.59, 607, 8.0)}
CHUNK = 50_000


# Linux keeps the peak memory of what a process replaces by exec as its own: a child started by this
# process (which holds the layers and the generated registers) would report this process's peak. Each run
# is therefore forked by a small launcher, which prints the largest RSS of the child and its workers (KB,
# from wait4), their CPU seconds, and the peak of their summed PSS (KB, sampled).
_LAUNCHER = """import os, sys, time
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])

def tree(root):
    try:
        with open(f"/proc/{root}/task/{root}/children") as handle:
            children = [int(child) for child in handle.read().split()]
    except OSError:
        return [root]
    return [root, *(p for child in children for p in tree(child))]

def pss(process):
    try:
        with open(f"/proc/{process}/smaps_rollup") as handle:
            return next((int(line.split()[1]) for line in handle if line.startswith("Pss:")), 0)
    except OSError:
        return 0

peak = 0
while True:
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done:
        break
    peak = max(peak, sum(pss(process) for process in tree(pid)))
    time.sleep(0.25)
print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime, peak)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def siting_batch(source: Path, out: Path, code: Path | None = None, data: Path | None = None) -> tuple[float, float, float, float]:
    """Wall seconds, peak memory (MB: PSS of the batch and its workers together), CPU seconds (user + system)
    and the largest resident set of one of its processes (MB) of one `siting batch` child; ``code``: a checkout
    whose `siting` runs instead of this one, with its layers in ``data``."""
    environment = dict(os.environ)
    if code is not None:  # run from the checkout: ``-m`` puts the working directory first on the path
        environment["PYTHONPATH"] = str(code)
        if data is not None:
            environment["SITING_DATA_DIR"] = str(data)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, "-m", "siting", "batch", str(source), "--out", str(out), "--quiet"],
                          capture_output=True, text=True, env=environment, cwd=code)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"siting batch {source.name} → {out.name} failed: {done.stderr[-2000:]}")
    rss_kb, cpu, pss_kb = done.stdout.split()[-3:]
    return seconds, int(pss_kb) / 1024, float(cpu), int(rss_kb) / 1024


def engine_seconds(source: Path) -> tuple[float, float]:
    """The engine's own wall and CPU seconds on the register's rows (parsed beforehand), two threads, chunks of 50,000."""
    import pyarrow.csv as pa_csv

    from layers import catalog
    from layers.build import load_layers
    from spatial.rules import Stage
    from spatial.screening import screen

    layers, rules = load_layers(), list(catalog.rules())
    table = pa_csv.read_csv(source, convert_options=pa_csv.ConvertOptions(column_types={"行业": "string", "阶段": "string"}))
    lon, lat = table.column("经度").to_numpy(), table.column("纬度").to_numpy()
    taxonomy = catalog.taxonomy()
    pairs = sorted({(i, s) for i, s in zip(table.column("行业").to_pylist(), table.column("阶段").to_pylist(), strict=True)})
    combos = [(taxonomy.resolve(i), Stage.parse(s)) for i, s in pairs]
    index = {pair: k for k, pair in enumerate(pairs)}
    group = np.array([index[p] for p in zip(table.column("行业").to_pylist(), table.column("阶段").to_pylist(), strict=True)])
    screen(lon[:CHUNK], lat[:CHUNK], group[:CHUNK], combos, rules, layers)  # prepares every target once

    def chunk(at: int):
        return screen(lon[at:at + CHUNK], lat[at:at + CHUNK], group[at:at + CHUNK], combos, rules, layers)

    start, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(chunk, range(0, len(lon), CHUNK)))
    return time.perf_counter() - start, time.process_time() - cpu


def grid_columns_cached() -> int:
    """How many classified grid columns the layers' grid cache holds now (0: none yet)."""
    from layers.build import data_dir, load_layers
    from layers.io.grid_cache import GridCache
    from spatial.engine import PreparedZones

    zones = PreparedZones(load_layers())
    GridCache(zones, data_dir() / "layers").load()
    return len(zones.grid.columns)


def xlsx_copy(source: Path, target: Path, rows: int) -> Path:
    """The first ``rows`` rows of the CSV register as an Excel workbook (xlsxwriter, constant memory)."""
    import pyarrow.csv as pa_csv
    import xlsxwriter

    table = pa_csv.read_csv(source, convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(
        ["名称", "经度", "纬度", "行业", "阶段"], "string"))).slice(0, rows)
    book = xlsxwriter.Workbook(str(target), {"constant_memory": True, "strings_to_numbers": False})
    sheet = book.add_worksheet("名录")
    sheet.write_row(0, 0, table.column_names)
    columns = [table.column(name).to_pylist() for name in table.column_names]
    for i, row in enumerate(zip(*columns, strict=True), 1):
        sheet.write_row(i, 0, row)
    book.close()
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--xlsx-rows", type=int, help="rows of the XLSX → XLSX run (default: N)")
    parser.add_argument("--no-flat", action="store_true", help="skip the CSV → CSV run on 5 N rows")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the start-up, engine, CSV and GeoParquet runs (default 3)")
    parser.add_argument("--baseline", type=Path, help="a checkout of earlier code whose CSV and GeoParquet runs join each round")
    parser.add_argument("--baseline-data", type=Path, help="the data directory of the baseline's own default layers "
                        "(when its layer builder differs from this one's: the two would rebuild each other's cache)")
    args = parser.parse_args()
    n = args.rows
    cached = grid_columns_cached()
    runs: dict[str, list[tuple]] = {}  # per run: wall, peak PSS, CPU, RSS max, load average at its start

    def measured(name: str, source: Path, out: Path, baseline: bool = False) -> None:
        load = os.getloadavg()[0]
        code = (args.baseline, args.baseline_data) if baseline else (None, None)
        runs.setdefault(name, []).append((*siting_batch(source, out, *code), load))

    with tempfile.TemporaryDirectory(prefix="bench-batch-io-") as work:
        root = Path(work)
        source = register_csv(root / "register.csv", n, seed=7, defects=False)
        one = register_csv(root / "one.csv", 1, seed=7, defects=False)
        for k in range(args.repeat):  # in turn, so that a slow spell of a shared machine falls on every kind alike
            measured("startup", one, root / f"one_out{k}.csv")
            load = os.getloadavg()[0]
            runs.setdefault("engine", []).append((*engine_seconds(source), load))
            measured("csv", source, root / f"out{k}.csv")
            size_mb = sum(p.stat().st_size for p in root.glob(f".out{k}.csv.results-*/*")) / 1e6
            measured("parquet", source, root / f"out{k}.parquet")
            if args.baseline:
                measured("csv_baseline", source, root / f"base{k}.csv", baseline=True)
                measured("parquet_baseline", source, root / f"base{k}.parquet", baseline=True)
            for stale in [*root.glob(f".out{k}.*.results-*"), *root.glob(f".base{k}.*.results-*")]:  # one round's results at most
                shutil.rmtree(stale)
        xlsx_rows = args.xlsx_rows or n
        measured("xlsx", xlsx_copy(source, root / "register.xlsx", xlsx_rows), root / "out.xlsx")
        if not args.no_flat:
            big = register_csv(root / "register5.csv", 5 * n, seed=8, defects=False)
            measured("csv_5x", big, root / "out5.csv")
    best = {name: min(found, key=lambda run: run[0]) for name, found in runs.items()}
    engine = best["engine"][0]
    print(f"\n== siting batch end to end, {n:,} random Shanxi sites, {os.cpu_count()} cores, best of {args.repeat} rounds taken in "
          f"turn (noise only adds time; every run's wall is listed, and the load average at the best run's start) ==")
    print(f"{'run':<34}{'wall':>9}{'CPU u+s':>9}{'rows/s':>11}{'peak PSS':>10}{'RSS max':>9}  vs engine   {'every run':<22}"
          f"before: row at a time | previous pass{'load':>7}")
    scale = n / 1_000_000

    def previous(name: str, same_rows: bool = scale == 1) -> str:
        seconds, mb, cpu = PREVIOUS.get(name, (None, None, None))
        shown = ", ".join(part for part in (f"{seconds:.2f} s" if seconds else "", f"CPU {cpu:.1f} s" if cpu else "",
                                            f"{mb:,} MB" if mb else "") if part)
        return shown if same_rows and shown else "—"

    def every(name: str) -> str:
        return "/".join(f"{run[0]:.2f}" for run in runs[name])

    def row(label: str, name: str, rows: int, engine_s: float | None, before: tuple | None = None, same_rows: bool = scale == 1) -> None:
        seconds, mb, cpu, rss, load = best[name]
        ratio = f"{seconds / engine_s:8.1f}×" if engine_s else " " * 9
        old = f"{before[0]:7.1f} s, {before[1]:,} MB ({before[0] / seconds:.0f}× slower)" if before and before[0] and same_rows else "—"
        print(f"{label:<34}{seconds:8.2f}s{cpu:8.1f}s{rows / seconds:11,.0f}{mb:8,.0f}MB{rss:7,.0f}MB  {ratio}   {every(name):<22}"
              f"{old} | {previous(name, same_rows)}{load:7.1f}")

    row("start-up (1 row, layers loaded)", "startup", 1, None)
    engine_cpu, engine_load = best["engine"][1:]
    print(f"{'engine alone (2 threads)':<34}{engine:8.2f}s{engine_cpu:8.1f}s{n / engine:11,.0f}{'':19}  {'1.0×':>9}   {every('engine'):<22}— | "
          f"{previous('engine')}{engine_load:7.1f}")
    row(f"CSV → CSV ({size_mb:,.0f} MB out)", "csv", n, engine, BEFORE["csv"])
    row("CSV → GeoParquet", "parquet", n, engine)
    if args.baseline:
        for name, label in (("csv", "CSV → CSV"), ("parquet", "CSV → GeoParquet")):
            row(f"{label}, baseline", f"{name}_baseline", n, engine)
            print(f"{'':<34}this code / baseline: wall {best[name][0] / best[name + '_baseline'][0]:.2f}×, "
                  f"CPU {best[name][2] / best[name + '_baseline'][2]:.2f}×, peak memory {best[name][1] / best[name + '_baseline'][1]:.2f}× "
                  f"(baseline: {args.baseline})")
    row(f"XLSX → XLSX ({xlsx_rows:,} rows)", "xlsx", xlsx_rows, engine * xlsx_rows / n, BEFORE["xlsx"], xlsx_rows == 1_000_000)
    csv, startup = best["csv"], best["startup"]
    if "csv_5x" in best:
        flat = best["csv_5x"]
        row(f"CSV → CSV, {5 * n:,} rows", "csv_5x", 5 * n, engine * 5)
        print(f"peak memory {csv[1]:,.0f} MB at {n:,} rows, {flat[1]:,.0f} MB at {5 * n:,} rows ({flat[1] / csv[1]:.2f}×)")
    print(f"grid cache: {cached} classified columns kept beside the layers before the first run"
          + ("" if cached else " (the start-up run above classified the ones its row needs, CSV → CSV the rest)"))
    print(f"CSV → CSV less start-up: {csv[0] - startup[0]:.2f} s = {(csv[0] - startup[0]) / engine:.1f}× the engine; "
          f"CPU {csv[2]:.1f} s, so at least {csv[2] / (os.cpu_count() or 1):.1f} s on {os.cpu_count()} idle cores")


if __name__ == "__main__":
    main()
