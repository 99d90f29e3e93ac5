"""Helpers for the hostile-file tests: run the real CLI within fixed time and memory bounds."""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TIME_LIMIT_S = 60
MEMORY_LIMIT_BYTES = 4 * 1024**3  # address space of the whole process, GDAL and all
SQUARE_KML = """<?xml version="1.0" encoding="UTF-8"?>
{doctype}<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>{name}</name>
<Polygon><outerBoundaryIs><LinearRing><coordinates>
111.50,35.50 111.51,35.50 111.51,35.51 111.50,35.51 111.50,35.50
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>{extra}</Document></kml>
"""


@dataclass(frozen=True)
class Bounded:
    code: int
    out: str
    err: str
    seconds: float


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))


def siting_bounded(*args: str) -> Bounded:
    """`siting ARGS` in a child with an address-space cap; a hang fails the test at the time limit."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True,
                          timeout=TIME_LIMIT_S, preexec_fn=_limit_memory)
    return Bounded(done.returncode, done.stdout, done.stderr, time.monotonic() - start)


def check_site(path: Path) -> Bounded:
    return siting_bounded("check", "--site", str(path), "--industry", "造纸", "--format", "json")


def assert_refused(result: Bounded, *fragments: str) -> None:
    """Exit 2 with the bilingual InputError naming the field and each fragment; never a traceback."""
    assert result.code == 2, (result.code, result.err[-2000:])
    assert "Traceback" not in result.err
    assert "输入错误：" in result.err and "Input error:" in result.err
    for fragment in fragments:
        assert fragment in result.err, (fragment, result.err)


def square_kml(doctype: str = "", name: str = "一号地块", extra: str = "") -> str:
    return SQUARE_KML.format(doctype=doctype, name=name, extra=extra)


def catalog_state(root: Path) -> tuple[bytes | None, list[str]]:
    """The catalog index bytes and its layer files: what an import must not half-change."""
    index = root / "catalog" / "catalog.json"
    files = root / "catalog" / "layers"
    return (index.read_bytes() if index.exists() else None,
            sorted(p.name for p in files.iterdir()) if files.exists() else [])
