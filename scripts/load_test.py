"""Load test of the reviewer web app: N concurrent clients for S seconds on loopback.

Starts the real `siting serve` in a subprocess on a free loopback port with a private data
directory (the default layers linked in from the normal data directory, a fresh audit log),
waits until it answers, then runs N clients that post /api/check in a loop, each on its own kept-alive
connection: sites
inside Shanxi as lon/lat, as DMS text, as Gauss–Krüger X/Y and as AMap (GCJ-02) picks, over
several industries and stages, and one request in ten invalid in a known way, which must get
422 naming the expected field (counted as expected rejections, not errors).

Afterwards the server is stopped and its audit log compared with the answers: every check
answered 200 must be recorded (lost = answered but not in the log), and the hash chain is
verified with `siting history --verify`. The load generator shares the machine with the server, so it is
kept lean: every request is encoded before the clock starts, sent as raw HTTP/1.1 over asyncio streams
(uvloop when installed; no HTTP client library), and an answered check is parsed only as far as its audit
echo; the clients run in several processes (``--client-processes``), and their CPU time is reported
beside the server's. While it runs, the memory
of the server and its check workers (RSS and PSS: pages shared between processes counted once) is
sampled; the peak is reported. Then one client alone measures the latency of a single reviewer.

With ``--baseline DIR`` (a read-only checkout of earlier code, e.g. ``git worktree add /tmp/baseline HEAD``)
the same runs are made against that code first, on the same machine in the same run, and the figures
are printed as ratios (``--baseline-data-from``: a data directory whose default layers that code built, when
its layer cache differs from today's); the baseline runs without the speed-ups uvicorn would pick up by itself (httptools,
uvloop) unless its own setup.cfg declares them, as it ran before. With ``--token`` the server has a reviewer account
and the clients sign in with its API token, so every request also passes the account gate. Exit status 1 if errors > 0, lost > 0 or the chain is broken. Run:
``python scripts/load_test.py [--clients 50] [--seconds 60] [--baseline /tmp/baseline] [--token] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import configparser
import json
import multiprocessing
import os
import random
import re
import resource
import secrets
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

import numpy as np
import shapely
from pyproj import Transformer

from layers.build import data_dir, load_layers
from siting.audit.log import AuditLog
from spatial.gcj02 import wgs84_to_gcj02

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 300
REQUEST_TIMEOUT_S = 120
REQUESTS_PER_CLIENT = 400  # encoded in advance, then sent in turn
REQUEST_ENCODING_S = 5.0  # how long the client processes get for that before the clock starts
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
    """What the clients saw (one event loop per client process, so no lock), and the CPU time they used."""

    latencies_ms: list[float] = field(default_factory=list)
    check_latencies_ms: list[float] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    unanswered: int = 0  # requests that got no HTTP answer at all (also in errors)
    client_cpu_s: float = 0.0


# Used by uvicorn when installed, without an import of ours: a baseline whose setup.cfg does not declare one runs
# without it, as it ran before (uvicorn then falls back to h11 and asyncio).
OPTIONAL_SPEEDUPS = ("httptools", "uvloop")


def undeclared_speedups(code: Path) -> tuple[str, ...]:
    """The OPTIONAL_SPEEDUPS that ``code``'s setup.cfg does not declare."""
    config = configparser.ConfigParser()
    config.read(code / "setup.cfg", encoding="utf-8")
    declared = config.get("options", "install_requires", fallback="")
    return tuple(name for name in OPTIONAL_SPEEDUPS if not re.search(rf"^\s*{name}\b", declared, re.MULTILINE))


def hidden_modules_env(root: Path, modules: tuple[str, ...]) -> dict[str, str]:
    """Environment additions under which ``modules`` cannot be imported: a stub that raises ImportError shadows each."""
    if not modules:
        return {}
    stubs = root / "hidden-modules"
    stubs.mkdir(exist_ok=True)
    for name in modules:
        (stubs / f"{name}.py").write_text(f"raise ImportError('{name} is not a dependency of this code')\n", encoding="utf-8")
    return {"PYTHONPATH": os.pathsep.join(filter(None, (str(stubs), os.environ.get("PYTHONPATH"))))}


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
    """Degrees, minutes and seconds to 0.01″, in whole hundredths: 59.995″ is never written as 60.00″."""
    degrees, rest = divmod(round(abs(value) * 360_000), 360_000)
    minutes, hundredths = divmod(rest, 6_000)
    return f"{degrees}°{minutes}′{hundredths / 100:.2f}″"


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


def encoded_requests(base: str, sites: np.ndarray, seed: int, count: int = REQUESTS_PER_CLIENT,
                     token: str | None = None) -> list[tuple[bytes, str | None]]:
    """``count`` complete HTTP/1.1 requests (keep-alive) for one client, encoded before the clock starts, each
    with the field its 422 must name (None: a valid check); with ``token``, each signed in as its API token."""
    rng = random.Random(seed)
    host = base.split("://", 1)[1]
    authorization = f"Authorization: Bearer {token}\r\n" if token else ""
    requests = []
    for _ in range(count):
        lon, lat = sites[rng.randrange(len(sites))]
        body, expected_field = request_body(float(lon), float(lat), rng)
        payload = json.dumps(body, ensure_ascii=False).encode()
        head = (f"POST /api/check HTTP/1.1\r\nHost: {host}\r\n{authorization}Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n").encode()
        requests.append((head + payload, expected_field))
    return requests


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[int, bytes]:
    """Send one request on a kept-alive connection; (status, body) of the answer."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length is None:
        raise ConnectionError(f"answer without Content-Length: {head[:200]!r}")
    return status, await reader.readexactly(length)


async def client(base: str, requests: list[tuple[bytes, str | None]], deadline: float, tally: Tally) -> None:
    """Post checks back to back on one keep-alive connection until the deadline; classify every answer."""
    host, port = base.split("://", 1)[1].rsplit(":", 1)
    connection = None
    index = 0
    while time.monotonic() < deadline:
        request, expected_field = requests[index % len(requests)]
        index += 1
        start = time.perf_counter()
        try:
            if connection is None:
                connection = await asyncio.open_connection(host, int(port))
            status, body = await asyncio.wait_for(_exchange(*connection, request), REQUEST_TIMEOUT_S)
        except (OSError, EOFError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as error:
            tally.errors.append(f"{type(error).__name__}: {error}")
            tally.unanswered += 1
            if connection is not None:
                connection[1].close()
            connection = None
            continue
        elapsed = (time.perf_counter() - start) * 1000
        problem, check_id = _classify(status, body, expected_field)
        tally.latencies_ms.append(elapsed)
        if problem:
            sent = request.split(b"\r\n\r\n", 1)[1].decode()
            tally.errors.append(f"{problem} for {sent}")
        elif check_id:
            tally.answered.append(check_id)
            tally.check_latencies_ms.append(elapsed)
        else:
            tally.rejected += 1
    if connection is not None:
        connection[1].close()


def _classify(status: int, body: bytes, expected_field: str | None) -> tuple[str | None, str | None]:
    """(what is wrong, check id of an answered check).

    An answered check is read only as far as its verification needs: the answer must end with its audit echo
    (``"audit": {...}}``), which is parsed; the 20 kB result before it is the server's to get right and the
    tests' to check, and parsing it here would cost the load generator about as much CPU as the server spends."""
    if expected_field is None:
        if status != 200:
            return f"HTTP {status} {body[:300].decode(errors='replace')}", None
        at = body.rfind(b'"audit":')
        try:
            echo = json.loads(body[at + 8:-1]) if at > 0 and body.endswith(b"}") else None
        except ValueError:
            echo = None
        if not isinstance(echo, dict) or not isinstance(echo.get("check_id"), str):
            return f"HTTP 200 without an audit echo at its end: …{body[-300:].decode(errors='replace')}", None
        return None, echo["check_id"]
    if status != 422:
        return f"HTTP {status} where 422 on {expected_field} was expected", None
    error = json.loads(body)["error"]
    if error["field"] != expected_field or not error["message_zh"] or not error["message_en"]:
        return f"422 naming {error['field']!r} where {expected_field!r} was expected", None
    return None, None


def serve(root: Path, code: Path = REPO, options: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """`siting serve` of the code in ``code`` on ``root`` and a free loopback port; returns once uvicorn
    listens (app started)."""
    port = free_port()
    log = root / f"serve-{port}.log"
    with log.open("wb") as output:
        environment = os.environ | {"SITING_DATA_DIR": str(root)} | hidden_modules_env(root, undeclared_speedups(code))
        process = subprocess.Popen([sys.executable, "-m", "siting", "serve", "--host", "127.0.0.1", "--port", str(port), *options],
                                   env=environment, stdout=output, stderr=subprocess.STDOUT, cwd=code)
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


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB of ``pid`` and its descendants: RSS counts shared pages once per process, PSS once."""
    rss = pss = 0
    for member in _tree(pid):
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU time (user + system) so far of the server process itself and of all its descendants (check workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    used = {"server": 0.0, "workers": 0.0}
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used["server" if member == pid else "workers"] += (int(fields[11]) + int(fields[12])) / tick
    return used


def _client_process(base: str, sites: np.ndarray, start: float, seconds: float, seeds: list[int],
                    results: multiprocessing.Queue, token: str | None) -> None:
    """One client process: a connection per seed on one event loop (uvloop when installed), posting from ``start``
    for ``seconds``; its tally and the CPU time it used meanwhile."""
    tally = Tally()
    work = [encoded_requests(base, sites, seed, token=token) for seed in seeds]
    time.sleep(max(0.0, start - time.monotonic()))
    deadline = start + seconds
    begun = resource.getrusage(resource.RUSAGE_SELF)

    async def main() -> None:
        await asyncio.gather(*(client(base, requests, deadline, tally) for requests in work))

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
    ended = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ended.ru_utime + ended.ru_stime - begun.ru_utime - begun.ru_stime
    results.put({"latencies_ms": tally.latencies_ms, "check_latencies_ms": tally.check_latencies_ms,
                 "answered": tally.answered, "rejected": tally.rejected, "errors": tally.errors, "unanswered": tally.unanswered,
                 "cpu_s": cpu})


def _load(base: str, sites: np.ndarray, clients: int, seconds: float, seed: int, processes: int,
          token: str | None = None) -> tuple[Tally, float]:
    """``clients`` client connections spread over ``processes`` processes; their tallies merged."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    started = time.monotonic() + REQUEST_ENCODING_S  # the clients encode their requests first
    groups = [list(range(seed + k, seed + clients, processes)) for k in range(min(processes, clients))]
    workers = [context.Process(target=_client_process, args=(base, sites, started, seconds, group, results, token)) for group in groups]
    for worker in workers:
        worker.start()
    merged = Tally()
    for _ in workers:
        part = results.get()
        merged.latencies_ms += part["latencies_ms"]
        merged.check_latencies_ms += part["check_latencies_ms"]
        merged.answered += part["answered"]
        merged.rejected += part["rejected"]
        merged.errors += part["errors"]
        merged.unanswered += part["unanswered"]
        merged.client_cpu_s += part["cpu_s"]
    for worker in workers:
        worker.join()
    return merged, time.monotonic() - started


def _served(root: Path, code: Path, options: tuple[str, ...], base_load) -> tuple[Tally, float, dict, dict]:
    """Start the server on ``root``, run ``base_load(base)`` while sampling its memory, stop it, verify its log.

    Returns the tally, the wall time, the memory figures and what the log holds."""
    process, base = serve(root, code, options)
    peak = {"rss": 0.0, "pss": 0.0}
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.25):
            rss, pss = memory_mb(process.pid)
            peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)

    try:
        idle_rss, idle_pss = memory_mb(process.pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        before = cpu_seconds(process.pid)
        tally, wall = base_load(base)
        after = cpu_seconds(process.pid)
        sampling.set()
        sampler.join()
    finally:
        stop_server(process)
    audit = AuditLog(root / "audit.sqlite3")
    recorded = {r.id for r in audit.recent(audit.count() + 1)}
    verify = subprocess.run([sys.executable, "-m", "siting", "history", "--verify", "--format", "json"], cwd=code,
                            env=os.environ | {"SITING_DATA_DIR": str(root)}, capture_output=True, text=True, timeout=300)
    chain = json.loads(verify.stdout) if verify.stdout else {"broken": ["history --verify failed: " + verify.stderr[-500:]]}
    memory = {"idle_rss": round(idle_rss), "idle_pss": round(idle_pss), "peak_rss": round(peak["rss"]),
              "peak_pss": round(peak["pss"])}
    checks = max(1, len(tally.answered))
    used = {part: after[part] - before[part] for part in ("server", "workers")} | {"clients": tally.client_cpu_s}
    cpu = {f"{part}_ms_per_check": round(seconds * 1000 / checks, 2) for part, seconds in used.items()}
    cpu["clients_share"] = round(used["clients"] / max(1e-9, sum(used.values())), 2)
    return tally, wall, memory, {"recorded": recorded, "chain": chain, "verify_exit": verify.returncode, "cpu": cpu}


def api_token(root: Path, code: Path) -> str:
    """A reviewer account and an API token for it in the data directory ``root``, made by ``code``'s CLI:
    the server then runs with accounts, and every request passes the account gate (the token's lookup)."""
    environment = os.environ | {"SITING_DATA_DIR": str(root)}
    subprocess.run([sys.executable, "-m", "siting", "users", "add", "load-test", "--role", "reviewer", "--password-stdin"],
                   input=secrets.token_urlsafe(24) + "\n", text=True, cwd=code, env=environment, check=True, capture_output=True)
    made = subprocess.run([sys.executable, "-m", "siting", "users", "token", "load-test", "--label", "负载测试"], text=True,
                          cwd=code, env=environment, check=True, capture_output=True)
    found = re.search(r"siting_[A-Za-z0-9_-]+", made.stdout + made.stderr)
    if found is None:
        raise RuntimeError(f"siting users token printed no token:\n{made.stdout}{made.stderr}")
    return found.group(0)


def run(clients: int, seconds: float, source: Path, seed: int, code: Path = REPO, options: tuple[str, ...] = (),
        processes: int = 4, single_seconds: float = 15.0, layers_from: Path | None = None, token: bool = False) -> dict:
    """Load a server of the code in ``code`` with ``clients`` clients and check its log; then, on a fresh
    server, one client alone. The sites come from the layers in ``source``; the server reads the layers built in
    ``layers_from`` (default ``source``): earlier code may build its cache differently and rebuild one it does not know.
    ``token``: the server has a reviewer account, and the clients sign in with its API token."""
    province = load_layers(source).admin_area(SHANXI)  # built (or verified) here: the server starts from a ready cache
    sites = sites_in_shanxi(province, 2000, seed)
    layers_from = layers_from or source
    root = private_data_dir(layers_from)
    try:
        secret = api_token(root, code) if token else None
        tally, wall, memory, log = _served(root, code, options,
                                           lambda base: _load(base, sites, clients, seconds, seed, processes, secret))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    answered = set(tally.answered)
    summary = {
        "code": str(code), "options": list(options), "token": token, "clients": clients, "seconds": round(wall, 1),
        "requests": len(tally.latencies_ms) + tally.unanswered,
        "checks_answered": len(tally.answered), "expected_rejections": tally.rejected, "errors": len(tally.errors),
        "error_samples": tally.errors[:5], "requests_per_s": round(len(tally.latencies_ms) / wall, 1),
        "checks_per_s": round(len(tally.answered) / wall, 1),
        "latency_ms": {f"p{q}": round(percentile(tally.latencies_ms, q), 1) for q in (50, 95, 99)},
        "check_latency_ms": {f"p{q}": round(percentile(tally.check_latencies_ms, q), 1) for q in (50, 95, 99)},
        "memory_mb": memory, "cpu": log["cpu"],
        "audit_records": len(log["recorded"]), "lost": len(answered - log["recorded"]),
        "unanswered_records": len(log["recorded"] - answered), "duplicate_ids": len(tally.answered) - len(answered),
        "chain_records": log["chain"].get("records"), "chain_broken": log["chain"]["broken"], "verify_exit": log["verify_exit"],
        "one_client_check_ms": {"p50": float("nan"), "p99": float("nan")}, "one_client_errors": 0, "one_client_lost": 0,
    }
    if single_seconds > 0:
        root = private_data_dir(layers_from)
        try:
            secret = api_token(root, code) if token else None
            single, _, _, alone = _served(root, code, options,
                                          lambda base: _load(base, sites, 1, single_seconds, seed + 10_000, 1, secret))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        summary |= {"one_client_check_ms": {f"p{q}": round(percentile(single.check_latencies_ms, q), 2) for q in (50, 99)},
                    "one_client_errors": len(single.errors), "one_client_lost": len(set(single.answered) - alone["recorded"])}
        summary["error_samples"] += single.errors[:5]
        summary["chain_broken"] = summary["chain_broken"] + alone["chain"]["broken"]
    return summary


def failed(summary: dict) -> bool:
    return bool(summary["errors"] or summary["lost"] or summary["chain_broken"] or summary["verify_exit"]
                or summary["duplicate_ids"] or not summary["checks_answered"] or summary["one_client_errors"]
                or summary["one_client_lost"])


def describe(summary: dict) -> str:
    latency, checks, single, memory = (summary["latency_ms"], summary["check_latency_ms"], summary["one_client_check_ms"],
                                       summary["memory_mb"])
    lines = [
        f"{summary['code']} {' '.join(summary['options'])}".rstrip(),
        f"  {summary['clients']} clients, {summary['seconds']} s: {summary['requests']} requests ({summary['requests_per_s']}/s), "
        f"{summary['checks_answered']} checks answered ({summary['checks_per_s']}/s), "
        f"{summary['expected_rejections']} expected rejections (422), errors {summary['errors']}",
        f"  latency all requests  p50 {latency['p50']} ms  p95 {latency['p95']} ms  p99 {latency['p99']} ms",
        f"  latency checks (200)  p50 {checks['p50']} ms  p95 {checks['p95']} ms  p99 {checks['p99']} ms",
        f"  one client alone (fresh server)  p50 {single['p50']} ms  p99 {single['p99']} ms, "
        f"errors {summary['one_client_errors']}, lost {summary['one_client_lost']}",
        f"  CPU per answered check: server process {summary['cpu']['server_ms_per_check']} ms (HTTP, JSON, IPC, audit "
        f"writer), check workers {summary['cpu']['workers_ms_per_check']} ms, load generator "
        f"{summary['cpu']['clients_ms_per_check']} ms ({summary['cpu']['clients_share']:.0%} of the CPU used)",
        f"  memory of the server and its workers: idle RSS {memory['idle_rss']} MB (PSS {memory['idle_pss']} MB), "
        f"peak RSS {memory['peak_rss']} MB (PSS {memory['peak_pss']} MB)",
        f"  audit: {summary['audit_records']} records for {summary['checks_answered']} answered checks, "
        f"lost {summary['lost']}, recorded but unanswered {summary['unanswered_records']}, "
        f"hash chain {'intact' if not summary['chain_broken'] else 'BROKEN ' + ', '.join(summary['chain_broken'])} "
        f"({summary['chain_records']} records verified)",
    ]
    return "\n".join(lines + [f"  error: {sample}" for sample in summary["error_samples"]])


def ratios(now: dict, before: dict) -> dict:
    """Today's figures over the baseline's: above 1 is more (throughput), below 1 is less (latency, memory)."""

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    return {"checks_per_s": ratio(now["checks_per_s"], before["checks_per_s"]),
            "p50": ratio(now["check_latency_ms"]["p50"], before["check_latency_ms"]["p50"]),
            "p99": ratio(now["check_latency_ms"]["p99"], before["check_latency_ms"]["p99"]),
            "one_client_p50": ratio(now["one_client_check_ms"]["p50"], before["one_client_check_ms"]["p50"]),
            "peak_rss": ratio(now["memory_mb"]["peak_rss"], before["memory_mb"]["peak_rss"]),
            "peak_pss": ratio(now["memory_mb"]["peak_pss"], before["memory_mb"]["peak_pss"])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--single-seconds", type=float, default=15.0,
                        help="how long one client alone runs afterwards, on a fresh server (0: not at all)")
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument("--data-from", type=Path, default=None, help="data directory whose built default layers to use")
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout of earlier code to measure first, for ratios")
    parser.add_argument("--baseline-data-from", type=Path, default=None,
                        help="data directory with the default layers as the baseline's code builds them (default: --data-from)")
    parser.add_argument("--serve-option", action="append", default=[], metavar="OPTION",
                        help="an option for today's `siting serve` (repeat; e.g. --serve-option=--workers=2)")
    parser.add_argument("--token", action="store_true",
                        help="serve with a reviewer account; the clients sign in with its API token (the account gate on every request)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    args = parser.parse_args()
    source = args.data_from or data_dir()
    runs = {}
    if args.baseline is not None:
        runs["baseline"] = run(args.clients, args.seconds, source, args.seed, args.baseline, (), args.client_processes,
                               args.single_seconds, args.baseline_data_from, args.token)
    runs["now"] = run(args.clients, args.seconds, source, args.seed, REPO, tuple(args.serve_option), args.client_processes,
                      args.single_seconds, token=args.token)
    load = os.getloadavg()
    report = runs["now"] | {"machine": {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in load]}}
    if "baseline" in runs:
        report |= {"baseline": runs["baseline"], "ratios_now_over_baseline": ratios(runs["now"], runs["baseline"])}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        for name, summary in runs.items():
            print(f"{name}: {describe(summary)}")
        if "ratios_now_over_baseline" in report:
            print("now / baseline: " + ", ".join(f"{k} {v}" for k, v in report["ratios_now_over_baseline"].items()))
        print(f"machine: {os.cpu_count()} CPUs, load average after the runs {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 1 if any(failed(summary) for summary in runs.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
