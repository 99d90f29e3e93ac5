"""Issue 19 on the command line, through the real CLI: `siting check` stops at --timeout and at
--memory-mb with a bilingual message and exit 2, and hostile text and coordinates never end in a
traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.bench_hostile_sites import self_intersecting_polygon, square_parcel

EXIT_BAD_INPUT = 2


def siting(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=timeout)


def assert_refused(done: subprocess.CompletedProcess, field: str, *says: str) -> None:
    assert done.returncode == EXIT_BAD_INPUT, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert f"输入错误：{field} = " in done.stderr and f"Input error: {field} = " in done.stderr, done.stderr
    for fragment in says:
        assert fragment in done.stderr, (fragment, done.stderr)


def test_a_check_over_its_timeout_is_stopped_with_exit_2(user_dir: Path, tmp_path: Path):
    site = tmp_path / "self_intersecting.geojson"
    site.write_text(self_intersecting_polygon(), encoding="utf-8")
    started = time.monotonic()
    siting("check", "--lon", "0", "--lat", "35.6", "--industry", "造纸")  # refused at once: the interpreter's start-up
    start_up = time.monotonic() - started
    started = time.monotonic()
    done = siting("check", "--site", str(site), "--industry", "造纸", "--timeout", "4")
    elapsed = time.monotonic() - started
    assert_refused(done, "--timeout", "4 秒", "--timeout")
    assert elapsed < start_up + 4 + 2, (elapsed, start_up)  # unbounded, it runs for 20 s or more


def test_a_check_over_its_memory_cap_is_refused_with_exit_2(user_dir: Path, tmp_path: Path):
    site = tmp_path / "parcel.geojson"
    site.write_text(square_parcel(), encoding="utf-8")
    done = siting("check", "--site", str(site), "--industry", "造纸", "--memory-mb", "300")
    assert_refused(done, "--memory-mb", "300 MB")


def test_an_ordinary_check_runs_within_the_limits(user_dir: Path, tmp_path: Path):
    site = tmp_path / "parcel.geojson"
    site.write_text(square_parcel(), encoding="utf-8")
    done = siting("check", "--site", str(site), "--industry", "造纸", "--format", "json", "--timeout", "120")
    assert done.returncode == 0, done.stderr
    assert '"overall"' in done.stdout


@pytest.mark.parametrize("lon", ["-111.2", "0", "180"])
def test_a_longitude_outside_chinas_zones_is_exit_2(user_dir: Path, lon: str):
    assert_refused(siting("check", "--lon", lon, "--lat", "35.6", "--industry", "造纸"), "--lon", "3度带")


@pytest.mark.parametrize("project", ["a\x0bb", "a\x1b[31mb", "a\uffffb", "一号\u007f地块"])
def test_control_characters_in_the_project_name_are_exit_2(user_dir: Path, project: str):
    assert_refused(siting("check", "--lon", "111.2", "--lat", "35.6", "--industry", "造纸", "--project", project),
                   "--project", "U+")


@pytest.mark.parametrize("option, value", [("--timeout", "0"), ("--timeout", "nan"), ("--memory-mb", "10")])
def test_limits_themselves_are_checked(user_dir: Path, option: str, value: str):
    assert_refused(siting("check", "--lon", "111.2", "--lat", "35.6", "--industry", "造纸", option, value), option)
