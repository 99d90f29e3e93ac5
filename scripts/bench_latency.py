"""Benchmark (a) warm single-site latency and (d) cold `siting check` process time.

(a) ``spatial.checker.check`` on random sites over Shanxi against the full layer stack
(with the 10,000-polygon stand-in red line), p50 and p99 after warm-up, against a plain
geopandas request measured in the same run on the same sites: the site as a GeoDataFrame,
reprojected to its GK zone, ``sjoin`` with every zone polygon (buffers materialised) and
``sjoin_nearest`` to the river baselines.

(d) ``python -m siting check … --format json`` as a fresh process on the default layers
(median of 5, after one run to warm the file cache), next to a bare interpreter start.
Run: ``python scripts/bench_latency.py [--requests N]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import zones_by_epsg
from bench_data import combos, full_stack, random_sites

from spatial.checker import check
from spatial.crs import gk3_zone_for_longitude


def percentiles(samples: list[float]) -> tuple[float, float]:
    values = np.array(samples) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def warm_latency(requests: int) -> None:
    import geopandas as gpd

    layers, rules = full_stack()
    lon, lat, group = random_sites(requests + 200, seed=7)
    kinds = combos()
    zones = zones_by_epsg(layers, rules)
    polygon_frames = {code: gpd.GeoDataFrame(geometry=z["polygons"], crs=code) for code, z in zones.items()}
    line_frames = {code: [(gpd.GeoDataFrame(geometry=[line], crs=code), limit) for line, limit in z["lines"]] for code, z in zones.items()}
    for frame in polygon_frames.values():
        frame.sindex  # noqa: B018 - built once, as a long-running service would
    for i in range(200):  # warm-up: prepares the targets of both zones
        check(shapely.Point(lon[i], lat[i]), *kinds[group[i]], rules, layers)

    engine, plain = [], []
    for i in range(200, requests + 200):  # each approach in its own loop, as a service answering requests would run
        site = shapely.Point(lon[i], lat[i])
        start = time.perf_counter()
        check(site, *kinds[group[i]], rules, layers)
        engine.append(time.perf_counter() - start)
    for i in range(200, requests + 200):
        site = shapely.Point(lon[i], lat[i])
        start = time.perf_counter()
        code = gk3_zone_for_longitude(lon[i]).epsg
        point = gpd.GeoDataFrame(geometry=[site], crs=4326).to_crs(code)
        gpd.sjoin(point, polygon_frames[code], predicate="intersects")
        for frame, limit in line_frames[code]:
            gpd.sjoin_nearest(point, frame, max_distance=limit, distance_col="d")
        plain.append(time.perf_counter() - start)

    (e50, e99), (p50, p99) = percentiles(engine), percentiles(plain)
    print(f"\n== (a) warm single check, {requests:,} random sites, full stack ==")
    print(f"engine check()                     p50 {e50:7.3f} ms   p99 {e99:7.3f} ms   target p50 ≤ 1 ms")
    print(f"geopandas sjoin per request        p50 {p50:7.3f} ms   p99 {p99:7.3f} ms   sjoin/engine at p50 = {p50 / e50:.1f}× (target ≥ 20×)")


def cold_cli() -> None:
    command = [sys.executable, "-m", "siting", "check", "--lon", "111.157728", "--lat", "35.576393", "--industry", "造纸", "--format", "json"]
    subprocess.run(command, capture_output=True, check=True)
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        runs.append(time.perf_counter() - start)
    bare = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - start)
    cold, empty = statistics.median(runs), statistics.median(bare)
    print("\n== (d) cold `siting check` process, default layers ==")
    print(f"siting check (fresh process)       {cold:7.2f} s   target ≤ 1.5 s; bare interpreter {empty:.2f} s ({cold / empty:.0f}×)")
    phases = [json.loads(subprocess.run([sys.executable, "-c", _PHASES], capture_output=True, check=True, text=True).stdout)
              for _ in range(5)]
    print("where the time goes (median of 5 fresh processes): " + ", ".join(
        f"{name} {statistics.median(p[name] for p in phases):.2f} s" for name in phases[0]))


# The steps `siting check` takes, timed one by one in a fresh process.
_PHASES = """
import json, time
start = time.perf_counter()
import siting.cli.main
from layers import catalog
from layers.build import load_layers
from spatial.checker import check
from spatial.rules import Stage
import shapely
phases = {"imports": time.perf_counter() - start}
start = time.perf_counter()
rules = list(catalog.rules())
industry = catalog.taxonomy().resolve("造纸")
phases["rule catalog"] = time.perf_counter() - start
start = time.perf_counter()
layers = load_layers()
phases["layers"] = time.perf_counter() - start
start = time.perf_counter()
check(shapely.Point(111.157728, 35.576393), industry, Stage.parse("new"), rules, layers)
phases["first check"] = time.perf_counter() - start
print(json.dumps(phases))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    warm_latency(args.requests)
    cold_cli()


if __name__ == "__main__":
    main()
