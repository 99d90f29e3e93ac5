"""Load test of the reviewer web app: N concurrent clients for S seconds on loopback.

Starts the real `siting serve` in a subprocess on a free loopback port with a private data
directory (the default layers linked in from the normal data directory, a fresh audit log),
waits until it answers, then runs N client threads that post /api/check in a loop: sites
inside Shanxi as lon/lat, as DMS text, as Gauss–Krüger X/Y and as AMap (GCJ-02) picks, over
several industries and stages, and one request in ten invalid in a known way, which must get
422 naming the expected field (counted as expected rejections, not errors).

Afterwards the server is stopped and its audit log compared with the answers: every check
answered 200 must be recorded (lost = answered but not in the log), and the hash chain is
verified with `siting history --verify`. Exit status 1 if errors > 0, lost > 0 or the chain is
broken. Run: ``python scripts/load_test.py [--clients 50] [--seconds 60] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import shapely
from pyproj import Transformer

from layers.build import data_dir, load_layers
from siting.audit import AuditLog
from spatial.gcj02 import wgs84_to_gcj02

STARTUP_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 120
SHANXI = "140000"
INDUSTRIES = ["造纸", "焦化", "水泥", "钢铁", "2521", "C2221", "软件开发", "电镀", "两高一剩"]
STAGES = ["new", "existing", "expand", "rebuild", "新建", "现有", "扩建", "改建"]
# Invalid requests: (body changes, the field the 422 must name)
INVALID = [
    ({"lat": 135.0}, "lat"),
    ({"lon": 211.0}, "lon"),
    ({"industry": "造只厂"}, "industry"),
    ({"stage": "later"}, "stage"),
    ({"lat": None}, "lat"),
    ({"lon": "东经"}, "lon"),
    ({"colour": "red"}, "colour"),
]


@dataclass
class Tally:
    """What the clients saw; appended to under one lock."""

    latencies_ms: list[float] = field(default_factory=list)
    check_latencies_ms: list[float] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    unanswered: int = 0  # requests that got no HTTP answer at all (also in errors)
    lock: threading.Lock = field(default_factory=threading.Lock)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def private_data_dir(source: Path) -> Path:
    """A fresh data directory sharing the built default layers (read-only) with ``source``."""
    root = Path(tempfile.mkdtemp(prefix="siting-load-"))
    for shared in ("layers", "sources"):
        (root / shared).symlink_to((source / shared).resolve())
    return root


def sites_in_shanxi(province: shapely.Geometry, count: int, seed: int) -> np.ndarray:
    """(lon, lat) rows uniformly inside the province boundary."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = province.bounds
    points = np.empty((0, 2))
    while len(points) < count:
        xy = rng.uniform((x0, y0), (x1, y1), (count * 3, 2))
        points = np.vstack([points, xy[shapely.contains_xy(province, xy[:, 0], xy[:, 1])]])
    return points[:count]


def _dms(value: float) -> str:
    degrees, rest = divmod(abs(value) * 3600, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{int(degrees)}°{int(minutes)}′{seconds:.2f}″"


_TO_GK = {epsg: Transformer.from_crs(4326, epsg, always_xy=True) for epsg in (4546, 4547)}


def request_body(lon: float, lat: float, rng: random.Random) -> tuple[dict, str | None]:
    """A check request for the site in one of the ways reviewers write it; or an invalid one and its field."""
    body = {"industry": rng.choice(INDUSTRIES), "stage": rng.choice(STAGES), "project": "负载测试"}
    form = rng.random()
    if form < 0.55:
        body |= {"lon": round(lon, 6), "lat": round(lat, 6)}
    elif form < 0.7:
        body |= {"at": f"东经{_dms(lon)} 北纬{_dms(lat)}"}
    elif form < 0.8:
        epsg = 4546 if lon < 112.5 else 4547
        easting, northing = _TO_GK[epsg].transform(lon, lat)
        body |= {"at": f"X={northing:.2f} Y={easting:.2f}", "crs": f"EPSG:{epsg}"}
    elif form < 0.9:
        glon, glat = wgs84_to_gcj02(lon, lat)
        body |= {"lon": round(float(glon), 6), "lat": round(float(glat), 6), "crs": "gcj02"}
    else:
        changes, expected = rng.choice(INVALID)
        body |= {"lon": round(lon, 6), "lat": round(lat, 6)}
        body |= changes
        return {k: v for k, v in body.items() if v is not None}, expected
    return body, None


def client(base: str, sites: np.ndarray, deadline: float, seed: int, tally: Tally) -> None:
    """Post checks back to back until the deadline; classify every answer."""
    rng = random.Random(seed)
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as http:
        while time.monotonic() < deadline:
            lon, lat = sites[rng.randrange(len(sites))]
            body, expected_field = request_body(float(lon), float(lat), rng)
            start = time.perf_counter()
            try:
                response = http.post("/api/check", json=body)
            except httpx.HTTPError as error:
                with tally.lock:
                    tally.errors.append(f"{type(error).__name__}: {error}")
                    tally.unanswered += 1
                continue
            elapsed = (time.perf_counter() - start) * 1000
            problem, check_id = _classify(response, expected_field)
            with tally.lock:
                tally.latencies_ms.append(elapsed)
                if problem:
                    tally.errors.append(f"{problem} for {json.dumps(body, ensure_ascii=False)}")
                elif check_id:
                    tally.answered.append(check_id)
                    tally.check_latencies_ms.append(elapsed)
                else:
                    tally.rejected += 1


def _classify(response: httpx.Response, expected_field: str | None) -> tuple[str | None, str | None]:
    """(what is wrong, check id of an answered check)."""
    if expected_field is None:
        if response.status_code != 200:
            return f"HTTP {response.status_code} {response.text[:300]}", None
        return None, response.json()["audit"]["check_id"]
    if response.status_code != 422:
        return f"HTTP {response.status_code} where 422 on {expected_field} was expected", None
    error = response.json()["error"]
    if error["field"] != expected_field or not error["message_zh"] or not error["message_en"]:
        return f"422 naming {error['field']!r} where {expected_field!r} was expected", None
    return None, None


def serve(root: Path) -> tuple[subprocess.Popen, str]:
    """`siting serve` on ``root`` and a free loopback port; returns once uvicorn listens (app started)."""
    port = free_port()
    log = root / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen([sys.executable, "-m", "siting", "serve", "--host", "127.0.0.1", "--port", str(port)],
                                   env=os.environ | {"SITING_DATA_DIR": str(root)}, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while b"Uvicorn running on" not in log.read_bytes():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(process)
            raise RuntimeError(f"siting serve did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    return process, f"http://127.0.0.1:{port}"


def stop_server(process: subprocess.Popen) -> int:
    """SIGINT (uvicorn finishes what is in flight), SIGKILL only if it does not stop."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run(clients: int, seconds: float, source: Path, seed: int) -> dict:
    province = load_layers(source).admin_area(SHANXI)  # built (or verified) here: the server starts from a ready cache
    sites = sites_in_shanxi(province, 2000, seed)
    root = private_data_dir(source)
    try:
        process, base = serve(root)
        try:
            tally = Tally()
            started = time.monotonic()
            threads = [threading.Thread(target=client, args=(base, sites, started + seconds, seed + n, tally))
                       for n in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            wall = time.monotonic() - started
        finally:
            stop_server(process)
        audit = AuditLog(root / "audit.sqlite3")
        recorded = {r.id for r in audit.recent(audit.count() + 1)}
        verify = subprocess.run([sys.executable, "-m", "siting", "history", "--verify", "--format", "json"],
                                env=os.environ | {"SITING_DATA_DIR": str(root)}, capture_output=True, text=True, timeout=300)
        chain = json.loads(verify.stdout) if verify.stdout else {"broken": ["history --verify failed: " + verify.stderr[-500:]]}
        answered = set(tally.answered)
        return {
            "clients": clients, "seconds": round(wall, 1), "requests": len(tally.latencies_ms) + tally.unanswered,
            "checks_answered": len(tally.answered), "expected_rejections": tally.rejected, "errors": len(tally.errors),
            "error_samples": tally.errors[:5], "requests_per_s": round(len(tally.latencies_ms) / wall, 1),
            "latency_ms": {f"p{q}": round(percentile(tally.latencies_ms, q), 1) for q in (50, 95, 99)},
            "check_latency_ms": {f"p{q}": round(percentile(tally.check_latencies_ms, q), 1) for q in (50, 95, 99)},
            "audit_records": len(recorded), "lost": len(answered - recorded), "unanswered_records": len(recorded - answered),
            "duplicate_ids": len(tally.answered) - len(answered), "chain_records": chain.get("records"),
            "chain_broken": chain["broken"], "verify_exit": verify.returncode,
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def failed(summary: dict) -> bool:
    return bool(summary["errors"] or summary["lost"] or summary["chain_broken"] or summary["verify_exit"]
                or summary["duplicate_ids"] or not summary["checks_answered"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--data-from", type=Path, default=None, help="data directory whose built default layers to use")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args()
    summary = run(args.clients, args.seconds, args.data_from or data_dir(), args.seed)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        latency, checks = summary["latency_ms"], summary["check_latency_ms"]
        print(f"{summary['clients']} clients, {summary['seconds']} s: {summary['requests']} requests "
              f"({summary['requests_per_s']}/s), {summary['checks_answered']} checks answered, "
              f"{summary['expected_rejections']} expected rejections (422), errors {summary['errors']}")
        print(f"latency all requests  p50 {latency['p50']} ms  p95 {latency['p95']} ms  p99 {latency['p99']} ms")
        print(f"latency checks (200)  p50 {checks['p50']} ms  p95 {checks['p95']} ms  p99 {checks['p99']} ms")
        print(f"audit: {summary['audit_records']} records for {summary['checks_answered']} answered checks, "
              f"lost {summary['lost']}, recorded but unanswered {summary['unanswered_records']}, "
              f"hash chain {'intact' if not summary['chain_broken'] else 'BROKEN ' + ', '.join(summary['chain_broken'])} "
              f"({summary['chain_records']} records verified)")
        for sample in summary["error_samples"]:
            print(f"error: {sample}")
    return 1 if failed(summary) else 0


if __name__ == "__main__":
    sys.exit(main())
