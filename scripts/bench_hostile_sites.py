"""Benchmark: time and peak memory of the worst site files within the limits, against a plain parcel.

The three files issue 19 found costly, each inside the upload limits (20 MB, 200,000 vertices):

* ``self_intersecting``: one polygon of 199,990 vertices with one pair in every four vertices
  swapped, so the ring crosses itself ~50,000 times (repair, then intersection with the zones);
* ``province_line``: a 199,990-vertex line from the south-west to the north-east of Shanxi
  (the 15 km map window and every buffer zone along 600 km);
* ``many_polygons``: 20,000 small square parcels spread over a degree of longitude and latitude.

Each is checked by the real CLI (``siting check --site FILE --format json --timeout T``) in a
fresh process; its wall time and peak resident memory (``wait4`` rusage) are printed next to
the baseline, a 4-vertex square parcel checked the same way, with the ratio. Then each is
uploaded to a real ``siting serve`` (two check workers) and the memory of the server process
and its workers is read from /proc after each upload: the server itself never runs a check.
Run: ``python scripts/bench_hostile_sites.py [--timeout 120] [--out DIR] [--no-server]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

VERTICES = 199_990
PARCELS = 20_000
CENTRE = (111.55, 37.75)  # 太原盆地, across the 汾河 buffer zone


def _feature_collection(geometries: list[dict]) -> str:
    features = [{"type": "Feature", "properties": {}, "geometry": g} for g in geometries]
    return json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":"))


def self_intersecting_polygon(vertices: int = VERTICES, radius_deg: float = 0.08) -> str:
    """A ring round CENTRE with one pair of vertices in every four swapped: a bow-tie every fourth step."""
    points = []
    for i in range(vertices):
        angle = 2 * math.pi * i / vertices
        r = radius_deg * (1.0 + 0.02 * (i % 2))
        points.append([CENTRE[0] + r * math.cos(angle), CENTRE[1] + r * math.sin(angle)])
    for i in range(1, vertices - 2, 4):
        points[i], points[i + 1] = points[i + 1], points[i]
    ring = [[round(x, 7), round(y, 7)] for x, y in points] + [[round(points[0][0], 7), round(points[0][1], 7)]]
    return _feature_collection([{"type": "Polygon", "coordinates": [ring]}])


def province_line(vertices: int = VERTICES) -> str:
    """A zig-zag line from 运城 (south-west) to 大同 (north-east), 200 m either side of its course."""
    start, end = (110.60, 34.90), (113.90, 40.30)
    points = []
    for i in range(vertices):
        t = i / (vertices - 1)
        wiggle = 0.002 * (1 if i % 2 else -1)
        points.append([round(start[0] + t * (end[0] - start[0]) + wiggle, 7), round(start[1] + t * (end[1] - start[1]), 7)])
    return _feature_collection([{"type": "LineString", "coordinates": points}])


def many_polygons(count: int = PARCELS, side_deg: float = 0.0005) -> str:
    """``count`` separate small squares on a grid over one degree round CENTRE."""
    per_row = math.ceil(math.sqrt(count))
    step = 1.0 / per_row
    squares = []
    for i in range(count):
        x = CENTRE[0] - 0.5 + (i % per_row) * step
        y = CENTRE[1] - 0.5 + (i // per_row) * step
        ring = [[x, y], [x + side_deg, y], [x + side_deg, y + side_deg], [x, y + side_deg], [x, y]]
        squares.append({"type": "Polygon", "coordinates": [[[round(a, 7), round(b, 7)] for a, b in ring]]})
    return _feature_collection(squares)


def square_parcel() -> str:
    """The baseline: one ordinary 4-vertex parcel at the same place."""
    x, y = CENTRE
    ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
    return _feature_collection([{"type": "Polygon", "coordinates": [ring]}])


FILES: dict[str, Callable[[], str]] = {
    "baseline_square": square_parcel,
    "self_intersecting": self_intersecting_polygon,
    "province_line": province_line,
    "many_polygons": many_polygons,
}


def write_files(directory: Path) -> dict[str, Path]:
    """Every benchmark file as GeoJSON in ``directory``."""
    paths = {}
    for name, build in FILES.items():
        paths[name] = directory / f"{name}.geojson"
        paths[name].write_text(build(), encoding="utf-8")
    return paths


def measure(path: Path, timeout_s: float) -> dict:
    """One fresh `siting check` of ``path``: exit code, wall seconds, peak RSS (MB) of the process tree's largest."""
    command = [sys.executable, "-m", "siting", "check", "--site", str(path), "--industry", "造纸", "--format", "json",
               "--timeout", f"{timeout_s:g}"]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        # wait4's peak RSS covers the process and the children it reaped (the CLI checks in a forked child).
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read().decode("utf-8", "replace").strip()
    verdict = json.loads(stdout).get("overall") if process.returncode == 0 and stdout else None
    return {"exit": process.returncode, "seconds": round(seconds, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "overall": verdict, "message": stderr.splitlines()[-1][:160] if process.returncode and stderr else ""}


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process in MB, from /proc."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {line.split(":")[0]: int(line.split()[1]) // 1024 for line in lines if line.startswith(("VmRSS", "VmHWM"))}


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def measure_server(paths: dict[str, Path], timeout_s: float) -> list[dict]:
    """Upload each file to a real `siting serve` (2 check workers); the server's and workers' memory after each."""
    import httpx

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.webapp import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "siting", "serve", "--port", str(port), "--timeout", f"{timeout_s:g}",
                               "--check-threads", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        token = httpx.get(f"{base}/api/csrf-token").json()["token"]
        for name, path in paths.items():
            start = time.monotonic()
            response = httpx.post(f"{base}/api/check/file", headers={"X-CSRF-Token": token}, timeout=timeout_s + 30,
                                  files={"file": (path.name, path.read_bytes())}, data={"industry": "造纸"})
            seconds = time.monotonic() - start
            workers = [_status(pid) for pid in _children(server.pid)]
            parent = _status(server.pid)
            rows.append({"file": name, "status": response.status_code, "seconds": round(seconds, 2),
                         "server_rss_mb": parent.get("VmRSS"), "server_peak_mb": parent.get("VmHWM"),
                         "worker_peak_mb": max((w.get("VmHWM", 0) for w in workers), default=None),
                         "tree_rss_mb": parent.get("VmRSS", 0) + sum(w.get("VmRSS", 0) for w in workers)})
            print(f"serve {json.dumps(rows[-1], ensure_ascii=False)}", flush=True)
    finally:
        server.terminate()
        server.wait(30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="the CLI's --timeout for each file (s)")
    parser.add_argument("--out", type=Path, help="keep the generated files here (default: a temporary directory)")
    parser.add_argument("--no-server", action="store_true", help="only the CLI, not the uploads to `siting serve`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="siting-hostile-") as work:
        directory = args.out or Path(work)
        directory.mkdir(parents=True, exist_ok=True)
        paths = write_files(directory)
        rows = {}
        for name, path in paths.items():
            rows[name] = measure(path, args.timeout) | {"file_mb": round(os.path.getsize(path) / 1e6, 1)}
            print(f"{name:<18} {json.dumps(rows[name], ensure_ascii=False)}", flush=True)
        served = [] if args.no_server else measure_server(paths, args.timeout)
    base = rows["baseline_square"]
    print(f"\n{'file':<18} {'MB':>5} {'exit':>4} {'seconds':>8} {'x base':>7} {'peak RSS MB':>12}  (baseline: one 4-vertex parcel)")
    for name, row in rows.items():
        ratio = row["seconds"] / base["seconds"] if base["seconds"] else float("nan")
        print(f"{name:<18} {row['file_mb']:>5} {row['exit']:>4} {row['seconds']:>8.2f} {ratio:>7.1f} {row['peak_rss_mb']:>12}"
              + (f"  {row['message']}" if row["message"] else ""))
    if served:
        print(f"\nsiting serve, 2 check workers: {'file':<18} {'status':>6} {'seconds':>8} {'server RSS':>10} "
              f"{'server peak':>11} {'worker peak':>11} {'all RSS':>8} (MB)")
        for row in served:
            print(f"{'':<30} {row['file']:<18} {row['status']:>6} {row['seconds']:>8.2f} {row['server_rss_mb']:>10} "
                  f"{row['server_peak_mb']:>11} {row['worker_peak_mb']:>11} {row['tree_rss_mb']:>8}")


if __name__ == "__main__":
    main()
