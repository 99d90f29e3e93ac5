"""Crash safety: `siting serve` killed with SIGKILL while clients' checks are being recorded leaves an
audit log that opens, passes SQLite's integrity check and the hash-chain verification, holds every
check it answered, complete, and takes new records after a restart. A check worker killed mid-request
costs that request a 503 and nothing else: every answered check is recorded, and a new worker serves on."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import shapely

from scripts.load_test import _tree, serve, stop_server
from siting.audit.log import AuditLog
from siting.audit.verify import verify_log
from tests.sites import site_near

KILL_AT_RECORDS = 40  # recorded while eight clients keep posting: writes are in flight at the kill
CLIENTS = 8


def _recorded(audit_path: Path) -> int:
    """Rows in the log, read without writing (the server is the only writer)."""
    with sqlite3.connect(f"file:{audit_path}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT COUNT(*) FROM checks").fetchone()[0]


def _post_until_refused(base: str, sites: list[shapely.Point], answered: dict[str, dict], failures: list[str],
                        stop: threading.Event) -> None:
    """Post checks until the server is gone; note each answered check id with the site it was for."""
    with httpx.Client(base_url=base, timeout=60) as http:
        k = 0
        while not stop.is_set():
            site = sites[k % len(sites)]
            k += 1
            body = {"lon": site.x, "lat": site.y, "industry": ["造纸", "焦化", "2521"][k % 3], "stage": "new"}
            try:
                response = http.post("/api/check", json=body)
            except httpx.TransportError:
                return
            if response.status_code != 200:
                failures.append(f"HTTP {response.status_code}: {response.text[:300]}")
                return
            answered[response.json()["audit"]["check_id"]] = body


def _kill_while_recording(root: Path, sites: list[shapely.Point]) -> dict[str, dict]:
    audit_path = root / "audit.sqlite3"
    process, base = serve(root)
    start_count = _recorded(audit_path)
    answered: dict[str, dict] = {}
    failures: list[str] = []
    stop = threading.Event()
    clients = [threading.Thread(target=_post_until_refused, args=(base, sites, answered, failures, stop)) for _ in range(CLIENTS)]
    for thread in clients:
        thread.start()
    deadline = time.monotonic() + 120
    while _recorded(audit_path) < start_count + KILL_AT_RECORDS and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    stop.set()
    for thread in clients:
        thread.join(90)
    assert not failures, failures
    assert len(answered) >= KILL_AT_RECORDS // 2, "the clients were answered before the kill"
    return answered


def _assert_intact(audit_path: Path, answered: dict[str, dict]) -> None:
    with sqlite3.connect(audit_path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    audit = AuditLog(audit_path)
    assert verify_log(audit.path, audit.checkpoints_path, audit.key.public).broken == []
    records = {r.id: r for r in audit.recent(100_000)}
    assert set(answered) <= set(records), "a check answered to a client is missing from the log"
    for check_id, body in answered.items():
        record = records[check_id]
        assert record.channel == "api" and record.inputs["industry"] == body["industry"]
        point = shapely.from_wkb(record.site_wkb)
        assert (point.x, point.y) == (body["lon"], body["lat"])
    for record in records.values():  # answered or not, each row is whole
        assert record.overall == record.result["overall"] and record.result["findings"] is not None
        assert record.layer_versions["layers"] and len(record.catalog_version) == 64
        assert shapely.from_wkb(record.site_wkb).geom_type == "Point"


def test_a_server_killed_mid_check_leaves_a_whole_audit_log(user_dir, layers):
    sites = [site_near(layers, "fen_river", "140825", d) for d in (300, 1500, 2500)]
    answered: dict[str, dict] = {}
    for _ in range(2):  # killed, restarted on the same log, killed again
        answered |= _kill_while_recording(user_dir, sites)
        _assert_intact(user_dir / "audit.sqlite3", answered)
    process, base = serve(user_dir)
    try:
        after = httpx.post(f"{base}/api/check", json={"lon": sites[0].x, "lat": sites[0].y, "industry": "造纸"}, timeout=60)
        assert after.status_code == 200, after.text
        answered[after.json()["audit"]["check_id"]] = {"lon": sites[0].x, "lat": sites[0].y, "industry": "造纸"}
    finally:
        assert stop_server(process) == 0
    _assert_intact(user_dir / "audit.sqlite3", answered)
    verify = subprocess.run([sys.executable, "-m", "siting", "history", "--verify", "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert verify.returncode == 0, verify.stderr
    report = json.loads(verify.stdout)
    assert report["broken"] == [] and report["records"] >= len(answered)


def test_a_check_worker_killed_mid_request_loses_no_answered_record(user_dir, layers):
    sites = [site_near(layers, "fen_river", "140825", d) for d in (300, 1500, 2500)]
    audit_path = user_dir / "audit.sqlite3"
    process, base = serve(user_dir)
    answered: dict[str, dict] = {}
    statuses: list[tuple[int, str]] = []
    stop = threading.Event()

    def post() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            k = 0
            while not stop.is_set():
                site = sites[k % len(sites)]
                k += 1
                body = {"lon": site.x, "lat": site.y, "industry": ["造纸", "焦化"][k % 2], "stage": "new"}
                response = http.post("/api/check", json=body)
                if response.status_code == 200:
                    answered[response.json()["audit"]["check_id"]] = body
                else:
                    statuses.append((response.status_code, response.json()["error"]["field"]))

    clients = [threading.Thread(target=post) for _ in range(CLIENTS)]
    try:
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 120
        while _recorded(audit_path) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        zygote = [pid for pid in _tree(process.pid) if pid != process.pid and _parent(pid) == process.pid]
        workers = [pid for pid in _tree(process.pid) if _parent(pid) in zygote]
        assert workers, "the server's check workers are forked from its zygote"
        for pid in workers[:2]:
            os.kill(pid, signal.SIGKILL)
        before = len(answered)
        while len(answered) < before + 40 and time.monotonic() < deadline:  # replacements answer
            time.sleep(0.01)
        stop.set()
        for thread in clients:
            thread.join(90)
    finally:
        stop.set()
        assert stop_server(process) == 0
    assert len(answered) >= before + 40, "new workers took over"
    assert set(statuses) <= {(503, "worker")}, statuses
    _assert_intact(audit_path, answered)


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
