"""The real app for tests: `siting serve` in a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.browser import OfflinePage

STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(data_dir: Path, *extra: str) -> Iterator[str]:
    """Start `siting serve` against ``data_dir`` and yield its base URL; stop it afterwards."""
    port = free_port()
    log = data_dir / f"serve-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "siting", "serve", "--host", "127.0.0.1", "--port", str(port), *extra],
            env=os.environ | {"SITING_DATA_DIR": str(data_dir)}, stdout=output, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"siting serve exited with {process.returncode}:\n{log.read_text(errors='replace')}")
            try:
                if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"siting serve did not start in {STARTUP_TIMEOUT_S} s:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def open_page(session: OfflinePage, app_url: str) -> None:
    """The reviewer page, ready to use: its script loaded and the map frame drawn."""
    session.page.goto(app_url)
    session.page.wait_for_selector("body[data-ready=true]")
    session.page.frame_locator("#map").locator(".leaflet-container").wait_for()
