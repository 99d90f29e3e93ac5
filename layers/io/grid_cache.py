"""The engine's classified bulk grid, kept on disk per layer set and memory-mapped by the next run.

One file per layer set, named by a SHA-256 of every layer's geometry and provenance
(``spatial.engine.layers_digest``): other layers, other file, so a stale classification is never
read. A file is written whole under a new name and renamed over the old one, so a run that maps
the old file keeps its mapping; a file that is absent, damaged or made for another grid is
ignored, and a disk that cannot be written leaves the cache as it was: the next run classifies
again, nothing is wrong.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from spatial.engine import PreparedZones, TargetKey, layers_digest

MAGIC = b"SITING-GRID 1\n"  # a file's first bytes; change the number when the classification changes
ALIGN = 64  # the table's bytes start at a multiple of this


class GridCache:
    """The grid file of one ``PreparedZones`` in ``directory``: read once, written when it grew."""

    def __init__(self, zones: PreparedZones, directory: Path) -> None:
        self.zones = zones
        self.digest = layers_digest(zones.layers)
        self.path = directory / f"grid-{self.digest[:16]}.bin"
        self._kept = 0  # columns the file holds
        self._lock = threading.Lock()

    def load(self) -> bool:
        """Give the zones the columns the file holds (memory-mapped); False when nothing was taken."""
        with self._lock:
            stored = self._read()
            if stored is None or not self.zones.adopt_grid(*stored):
                return False
            self._kept = len(stored[0])
            return True

    def save(self) -> None:
        """Write the grid when it holds columns the file does not (files of other layer sets are removed)."""
        with self._lock:
            names, table = self.zones.grid_columns()
            if len(names) <= self._kept:
                return
            try:
                self._write(names, table)
                for stale in self.path.parent.glob("grid-*.bin"):
                    if stale.name != self.path.name:
                        stale.unlink(missing_ok=True)
            except OSError:
                return
            self._kept = len(names)

    def _read(self) -> tuple[list[tuple], np.ndarray] | None:
        try:
            with self.path.open("rb") as source:
                if source.read(len(MAGIC)) != MAGIC:
                    return None
                size = int.from_bytes(source.read(8), "little")
                header = json.loads(source.read(size))
            start = -(-(len(MAGIC) + 8 + size) // ALIGN) * ALIGN
            extent = self.zones.grid_extent()
            if header["digest"] != self.digest or header["grid"] != extent:
                return None
            rows = extent[2] * extent[3] + 1
            table = np.memmap(self.path, dtype=np.uint8, mode="r", offset=start, shape=(rows, header["bytes"]))
            names = [_column_name(name) for name in header["columns"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return names, table.view(np.ndarray)

    def _write(self, names: list[tuple], table: np.ndarray) -> None:
        stored = [[*name[0], float(name[1]), *map(int, name[2:])] for name in names]
        header = json.dumps({"digest": self.digest, "grid": self.zones.grid_extent(), "columns": stored,
                             "bytes": table.shape[1]}).encode()
        head = MAGIC + len(header).to_bytes(8, "little") + header
        head += b"\0" * (-len(head) % ALIGN)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, staged = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(head)
                np.ascontiguousarray(table).tofile(out)
            os.replace(staged, self.path)
        except BaseException:
            Path(staged).unlink(missing_ok=True)
            raise


def _column_name(stored: list) -> tuple:
    """A grid column's name as ``PreparedZones`` makes it, from its form in a file."""
    key = TargetKey(*stored[:3])
    return (key, float(stored[3])) if len(stored) == 4 else (key, float(stored[3]), np.uint8(stored[4]))
