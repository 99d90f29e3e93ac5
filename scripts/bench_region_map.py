"""Benchmark: size and render time of the 运城市 zone map, against its unsimplified baseline.

Render time = build (zones, simplification, HTML) + loading the page in headless Debian
chromium with the network cut off until Leaflet has drawn it. Baselines, measured in the
same run: the same map at full resolution (one level of detail), and folium's plain
GeoJSON of the same zones; ratios are simplified / baseline.

    python scripts/bench_region_map.py [--region 运城市] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import folium
from playwright.sync_api import sync_playwright

from layers import catalog
from layers.build import load_layers
from maps.leaflet import base_map
from maps.offline import save_offline
from maps.region import region_zones
from maps.region_map import write_region_map
from maps.style import zone_style
from tests.browser import CHROMIUM_ARGS, chromium_path, offline_page

_TARGET_BYTES = 3_000_000


def _load(browser, path: Path) -> tuple[float, int]:
    """Seconds from navigation until the map's paths are drawn; console errors seen."""
    session = offline_page(browser)
    try:
        start = time.perf_counter()
        session.page.goto(path.as_uri())
        session.page.wait_for_selector("path.leaflet-interactive")
        session.page.wait_for_load_state("load")
        return time.perf_counter() - start, len(session.console_errors) + len(session.failed_requests)
    finally:
        session.close()


def folium_geojson_map(zones, path: Path) -> Path:
    """Folium's plain way: every zone layer as full-resolution GeoJSON (no popups, no levels)."""
    fmap = base_map(tuple(zones.region.geometry.bounds), None, path)
    for zone in zones.zones:
        style = zone_style(zone.style_id).leaflet()
        folium.GeoJson(zone.frame[["geometry"]], name=zone.name, style_function=lambda _, s=style: s).add_to(fmap)
    folium.GeoJson(zones.subdivisions[["geometry"]], name="县界").add_to(fmap)
    folium.LayerControl().add_to(fmap)
    return save_offline(fmap, path)


def measure(region: str, variant: str, browser, layers, rules, workdir: Path) -> dict:
    start = time.perf_counter()
    zones = region_zones(region, layers, rules)
    path = workdir / f"{variant}.html"
    if variant == "folium":
        folium_geojson_map(zones, path)
    else:
        write_region_map(zones, layers, path, simplify=variant == "lod")
    build = time.perf_counter() - start
    load, problems = _load(browser, path)
    return {"bytes": path.stat().st_size, "build_s": build, "load_s": load, "total_s": build + load, "problems": problems}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--region", default="运城市")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    layers, rules = load_layers(), list(catalog.rules())
    variants = {"folium": "folium GeoJSON, full res.", "full": "baseline (full resolution)", "lod": "simplified per zoom"}
    runs: dict[str, list[dict]] = {name: [] for name in variants.values()}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        try:
            for _ in range(args.repeat):  # interleaved, so drift affects all alike
                for variant, name in variants.items():
                    runs[name].append(measure(args.region, variant, browser, layers, rules, Path(tmp)))
        finally:
            browser.close()
    summary = {name: {key: statistics.median(r[key] for r in rows) for key in rows[0]} for name, rows in runs.items()}
    print(f"{args.region} zone map, all layers, median of {args.repeat} runs (headless chromium, offline)")
    print(f"{'':28}{'HTML MB':>9}{'build s':>9}{'load s':>8}{'total s':>9}{'errors':>8}")
    for name, row in summary.items():
        print(f"{name:28}{row['bytes'] / 1e6:9.2f}{row['build_s']:9.2f}{row['load_s']:8.2f}{row['total_s']:9.2f}"
              f"{row['problems']:8.0f}")
    base, lod = summary["baseline (full resolution)"], summary["simplified per zoom"]
    print(f"ratio simplified/baseline: size {lod['bytes'] / base['bytes']:.2f}, build {lod['build_s'] / base['build_s']:.2f}, "
          f"load {lod['load_s'] / base['load_s']:.2f}, total {lod['total_s'] / base['total_s']:.2f}")
    plain = summary[variants["folium"]]
    print(f"ratio simplified/folium GeoJSON: size {lod['bytes'] / plain['bytes']:.2f}, total {lod['total_s'] / plain['total_s']:.2f}")
    print(f"size target ≤ {_TARGET_BYTES / 1e6:.0f} MB: {'met' if lod['bytes'] <= _TARGET_BYTES else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
