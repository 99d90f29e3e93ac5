"""Benchmark: an industry siting map of 运城市 (焦化, 新建) and the industry × stage matrix.

Each measurement runs in a fresh process on the default layers plus the stand-in red line of
10,000 polygons (scripts/bench_data.py); time excludes loading the layers, peak memory
(max RSS) includes it. Measured in the same run:

- classes: classification + GeoPackage + 50 m GeoTIFF + HTML (``--repeat`` runs, median);
- matrix: 10 industries × 2 stages, shares per class;
- baseline: the plain region zone map (`siting map --region 运城市 --out`, simplified HTML),
  run as often as the map and alternating with it;
- grid: the batch screen of a grid of points over the region (``--grid-res``, 50 m: 5.7 M
  sites; 0 leaves it out), the sampling way to the same answer.

The machine's load average is printed before and after: the timings mean little without it.

    python scripts/bench_industry_map.py [--region 运城市] [--industry 焦化] [--grid-res 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_TARGET_S, _TARGET_GB, _MATRIX_TARGET_S, _HTML_TARGET_MB = 10.0, 2.0, 60.0, 3.0
_GRID_CHUNK = 250_000  # points screened at once: a 50 m grid of 运城市 (5.7 M points) in bounded memory


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(kind: str, region_name: str, industry: str, res: float, grid_res: float, workdir: Path) -> dict:
    """One measurement in this process (called in a child)."""
    from scripts.bench_data import full_stack
    from siting.cli.map_command import DEFAULT_INDUSTRIES

    layers, rules = full_stack()
    from layers import catalog
    from maps.region import resolve_region
    from spatial.rules import Stage

    start = time.perf_counter()
    out: dict = {}
    if kind == "classes":
        from maps.industry_map import write_industry_map
        from siting.report.class_exports import write_gpkg, write_tif
        from spatial.siting_classes import RegionClassifier

        region = resolve_region(region_name, layers)
        result = RegionClassifier(region.code, region.geometry, rules, layers).classify(catalog.taxonomy().resolve(industry), Stage.NEW)
        out["classify_s"] = time.perf_counter() - start
        write_gpkg(result, layers, workdir / "classes.gpkg")
        write_tif(result, layers, workdir / "classes.tif", res)
        admin = layers.admin.frame
        counties = admin.loc[admin["parent"] == region.code].reset_index(drop=True)
        rows = result.county_table(list(counties["name"]), counties.geometry.values)
        html = write_industry_map(result, region, counties, layers, rows, result.largest(), workdir / "classes.html")
        out["html_mb"] = html.stat().st_size / 1e6
        out["classes"] = {c.name: round(c.area_km2, 2) for c in result.classes if not c.geometry.is_empty}
    elif kind == "matrix":
        from spatial.siting_classes import RegionClassifier, matrix

        region = resolve_region(region_name, layers)
        taxonomy = catalog.taxonomy()
        industries = [taxonomy.resolve(name) for name in DEFAULT_INDUSTRIES.split(",")]
        rows = matrix(RegionClassifier(region.code, region.geometry, rules, layers), industries, [Stage.NEW, Stage.EXISTING])
        out["rows"] = len(rows)
    elif kind == "region_map":
        from maps.region import region_zones
        from maps.region_map import write_region_map

        html = write_region_map(region_zones(region_name, layers, rules), layers, workdir / "region.html")
        out["html_mb"] = html.stat().st_size / 1e6
    elif kind == "grid":
        import numpy as np
        import shapely

        from spatial.layer import project
        from spatial.screening import screen

        region = resolve_region(region_name, layers)
        gk = region.geometry_gk
        minx, miny, maxx, maxy = gk.bounds
        x, y = np.meshgrid(np.arange(minx + grid_res / 2, maxx, grid_res), np.arange(miny + grid_res / 2, maxy, grid_res))
        keep = shapely.contains_xy(gk, x.ravel(), y.ravel())
        lonlat = shapely.get_coordinates(project(shapely.multipoints(np.column_stack([x.ravel()[keep], y.ravel()[keep]])),
                                                 region.gk_epsg, 4326))
        combos = [(catalog.taxonomy().resolve(industry), Stage.NEW)]
        start = time.perf_counter()
        for first in range(0, len(lonlat), _GRID_CHUNK):  # in chunks, as `siting batch` screens a registry
            chunk = lonlat[first:first + _GRID_CHUNK]
            screen(chunk[:, 0], chunk[:, 1], np.zeros(len(chunk), dtype=np.int64), combos, rules, layers)
        out["sites"] = len(lonlat)
    out["seconds"] = time.perf_counter() - start
    out["peak_mb"] = _peak_mb()
    return out


def _child(kind: str, args: argparse.Namespace, workdir: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--one", kind, "--region", args.region, "--industry", args.industry,
                           "--res", str(args.res), "--grid-res", str(args.grid_res), "--workdir", str(workdir)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="运城市")
    parser.add_argument("--industry", default="焦化")
    parser.add_argument("--res", type=float, default=50.0)
    parser.add_argument("--grid-res", type=float, default=50.0,
                        help="also screen a grid of points this many metres apart (0: do not)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the map and of the baseline, alternating; the median of each is reported")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.region, args.industry, args.res, args.grid_res, args.workdir), ensure_ascii=False))
        return 0
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, list[dict]] = {"classes": [], "region_map": []}
        for _ in range(max(1, args.repeat)):  # alternating, so a change in the machine's load falls on both
            for kind, found in runs.items():
                found.append(_child(kind, args, Path(tmp)))
        matrix = _child("matrix", args, Path(tmp))
        grid = _child("grid", args, Path(tmp)) if args.grid_res > 0 else None
    load_after = os.getloadavg()
    classes, baseline = (sorted(found, key=lambda r: r["seconds"])[len(found) // 2] for found in runs.values())
    spread = {kind: f"{min(r['seconds'] for r in found):.2f}–{max(r['seconds'] for r in found):.2f} s" for kind, found in runs.items()}
    print(f"{args.region}, {args.industry}, 新建; default layers + stand-in red line (10,000 polygons); one process each")
    print(f"load average (1, 5, 15 min) on {os.cpu_count()} CPUs: before {', '.join(f'{v:.2f}' for v in load_before)}; "
          f"after {', '.join(f'{v:.2f}' for v in load_after)}")
    print(f"{'':44}{'seconds':>9}{'peak MB':>9}{'HTML MB':>9}   (map and baseline: median of {max(1, args.repeat)} runs, range)")
    print(f"{'classes: vectors + GPKG + ' + f'{args.res:g} m GeoTIFF + HTML':44}{classes['seconds']:9.2f}{classes['peak_mb']:9.0f}"
          f"{classes['html_mb']:9.2f}   ({spread['classes']}; classification alone {classes['classify_s']:.2f} s)")
    print(f"{'matrix: 10 industries × 2 stages':44}{matrix['seconds']:9.2f}{matrix['peak_mb']:9.0f}")
    print(f"{'baseline: siting map --region (zone map HTML)':44}{baseline['seconds']:9.2f}{baseline['peak_mb']:9.0f}"
          f"{baseline['html_mb']:9.2f}   ({spread['region_map']})")
    if grid:
        label = f"grid: batch screen of {grid['sites']:,} points, {args.grid_res:g} m"
        print(f"{label:44}{grid['seconds']:9.2f}{grid['peak_mb']:9.0f}")
    print(f"classes: {classes['classes']}")
    print(f"ratio classes/baseline: time {classes['seconds'] / baseline['seconds']:.2f}, peak {classes['peak_mb'] / baseline['peak_mb']:.2f}")
    if grid:
        print(f"ratio classes/grid screen: time {classes['seconds'] / grid['seconds']:.2f}, peak {classes['peak_mb'] / grid['peak_mb']:.2f}")
    print(f"targets: classes ≤ {_TARGET_S:g} s {'met' if classes['seconds'] <= _TARGET_S else 'NOT met'}, "
          f"≤ {_TARGET_GB:g} GB {'met' if classes['peak_mb'] <= _TARGET_GB * 1024 else 'NOT met'}; "
          f"matrix ≤ {_MATRIX_TARGET_S:g} s {'met' if matrix['seconds'] <= _MATRIX_TARGET_S else 'NOT met'}; "
          f"HTML ≤ {_HTML_TARGET_MB:g} MB {'met' if classes['html_mb'] <= _HTML_TARGET_MB else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
