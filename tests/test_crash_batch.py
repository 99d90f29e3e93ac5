"""Crash safety: `siting batch` killed with SIGKILL partway leaves no half-written file under OUT's
name, no worker process, and never destroys the previous result; a rerun of the same command
completes with every row. A worker killed partway fails the run in words, with nothing written."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from siting.batch.files import DETAILS, SITUATIONS, read_result
from spatial.rules import Verdict
from tests.hostile import TIME_LIMIT_S

ROWS = 30_000
CHUNK_ROWS = 1_000
KILL_AFTER_BYTES = 1 << 19  # a few thousand result rows staged: well into the run, far from its end


@pytest.fixture(scope="module")
def register(tmp_path_factory) -> Path:
    rng = np.random.default_rng(9)
    path = tmp_path_factory.mktemp("crash-batch") / "名录.csv"
    pd.DataFrame({"名称": [f"企业{i + 1}" for i in range(ROWS)], "经度": np.round(rng.uniform(110.3, 114.4, ROWS), 6),
                  "纬度": np.round(rng.uniform(34.7, 40.6, ROWS), 6),
                  "行业": np.array(["造纸", "焦化", "水泥", "2521"])[np.arange(ROWS) % 4], "阶段": "新建"}).to_csv(path, index=False)
    return path


def _command(register: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "siting", "batch", str(register), "--out", str(out), "--chunk-rows", str(CHUNK_ROWS)]


def _staged(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.partial-")]


def _staged_bytes(out: Path) -> int:
    try:
        return sum(f.stat().st_size for d in _staged(out) for f in d.iterdir() if f.is_file())
    except FileNotFoundError:  # a staged file renamed or removed while we looked
        return 0


def _workers(pid: int) -> list[int]:
    """The processes a batch forked (its screening workers)."""
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended (its new parent may never reap it)


def _partway(register: Path, out: Path, stderr: int = subprocess.DEVNULL) -> tuple[subprocess.Popen, list[int]]:
    """The batch started and run until it has staged half a megabyte of results (and is still running), with its workers."""
    child = subprocess.Popen(_command(register, out), stdout=subprocess.DEVNULL, stderr=stderr, text=True)
    deadline = time.monotonic() + TIME_LIMIT_S
    while child.poll() is None and time.monotonic() < deadline:
        if _staged_bytes(out) > KILL_AFTER_BYTES:
            break
        time.sleep(0.01)
    assert child.poll() is None, "the batch ended before it could be killed partway"
    return child, _workers(child.pid)


def _kill_partway(register: Path, out: Path) -> list[int]:
    """SIGKILL the batch partway; the workers it had."""
    child, workers = _partway(register, out)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(TIME_LIMIT_S)
    assert _staged(out), "the killed run had staged its results"
    return workers


def _gone(workers: list[int]) -> bool:
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(_running(pid) for pid in workers)


def _rerun(register: Path, out: Path) -> None:
    done = subprocess.run(_command(register, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not _staged(out), "the rerun removed what the killed run staged, and its own staging"
    summary = read_result(out)
    assert summary["行号"].astype(int).tolist() == list(range(1, ROWS + 1))
    assert summary["名称"].tolist() == [f"企业{i + 1}" for i in range(ROWS)]
    assert set(summary["verdict"]) <= {v.value for v in Verdict}


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_a_killed_batch_leaves_no_output_and_a_rerun_completes(register, layers, tmp_path, suffix):
    out = tmp_path / f"结果{suffix}"
    workers = _kill_partway(register, out)
    assert len(workers) >= 1 and _gone(workers), "every worker died with the batch"
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
    _rerun(register, out)
    assert len(read_result(out, SITUATIONS)) and read_result(out, DETAILS).columns.size


def test_a_killed_batch_keeps_the_previous_result_whole(register, layers, tmp_path):
    out = tmp_path / "结果.gpkg"
    _rerun(register, out)
    before = out.read_bytes()
    _kill_partway(register, out)
    assert out.read_bytes() == before
    _rerun(register, out)


def test_a_worker_killed_partway_fails_the_batch_in_words(register, layers, tmp_path):
    out = tmp_path / "结果.csv"
    child, workers = _partway(register, out, stderr=subprocess.PIPE)
    assert workers, "a register of many chunks is screened by worker processes"
    os.kill(workers[0], signal.SIGKILL)
    _, stderr = child.communicate(timeout=TIME_LIMIT_S)
    assert child.returncode == 2, stderr[-2000:]
    said = stderr[-2000:]
    assert "审查工作进程意外退出" in stderr and "worker process ended unexpectedly" in stderr and "--chunk-rows" in stderr, said
    assert "Traceback" not in stderr, said
    assert not out.exists() and not _staged(out), f"nothing is written, nothing is left staged: {list(tmp_path.iterdir())}"
    assert _gone(workers), f"workers {workers} still running"
