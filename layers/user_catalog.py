"""The user's layer catalog: imported agency layers that replace the defaults.

It lives in the user data directory (``<data dir>/catalog``), never in the installed
package. ``catalog.json`` is the only index: layer files are written first under new
names, then the index is replaced in one atomic rename, so a process killed mid-import
leaves the previous catalog whole. Every import records its files and their hashes.
What such a killed import wrote (layer files the index never named, a staged index) is
swept on the next import, removal or load: see :func:`sweep`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from layers.geoparquet import read_frame
from layers.imports import ImportedLayers
from spatial.layer import Layer, MissingLayer, Provenance


def catalog_dir(root: Path) -> Path:
    return root / "catalog"


def read_index(root: Path) -> dict:
    path = catalog_dir(root) / "catalog.json"
    if not path.exists():
        return {"layers": {}, "imports": []}
    return json.loads(path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[Path]:
    """One writer at a time (another import waits for this one); what a killed writer left is swept first."""
    directory = catalog_dir(root)
    (directory / "layers").mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_leftovers(directory)
        yield directory


def _remove_leftovers(directory: Path) -> list[str]:
    """Delete layer files the index does not name and staged indexes; the caller holds the lock.

    Every writer holds the lock from its first file to its index rename, and the kernel drops
    the lock of a killed process, so while we hold it nothing unnamed can belong to a live import.
    """
    named = {entry["file"] for entry in read_index(directory.parent)["layers"].values()}
    leftovers = [p for p in (directory / "layers").glob("*.parquet") if p.name not in named]
    leftovers += list(directory.glob(".catalog-*.json"))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return sorted(p.name for p in leftovers)


def sweep(root: Path) -> list[str]:
    """Remove what a killed import left behind, unless an import is running now; returns the names removed.

    Never waits: a reader that finds the lock taken leaves the sweep to the next one.
    """
    directory = catalog_dir(root)
    if not (directory / "layers").is_dir():
        return []
    try:
        with (directory / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return _remove_leftovers(directory)
    except OSError:  # taken by a running import, or a read-only data directory
        return []


def _write_index(directory: Path, index: dict) -> None:
    staging = directory / f".catalog-{uuid.uuid4().hex}.json"
    with staging.open("w", encoding="utf-8") as handle:
        json.dump(index, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, directory / "catalog.json")
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add(root: Path, imported: ImportedLayers, names: dict[str, str], *, accuracy_m: float, accuracy_note: str,
        coverage: tuple[str, ...], source: str | None, version: str | None, authoritative: bool,
        access_list: list[dict] | None = None, midline_to_bank_m: dict[str, float] | None = None) -> dict:
    """Record an import and make its layers the ones checks use; returns the import record."""
    import_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    imported_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    digest = hashlib.sha256("".join(f["sha256"] for f in imported.files).encode()).hexdigest()
    main_file = imported.files[0]["name"]
    with _locked(root) as directory:
        layers: dict[str, dict] = {}
        for layer_id, frame in imported.frames.items():
            path = directory / "layers" / f"{layer_id}.{import_id}.parquet"
            frame.to_parquet(path)
            provenance = Provenance(
                source=source or f"用户导入：{main_file}", version=version or imported_at[:10], sha256=digest,
                crs=imported.crs, accuracy_m=accuracy_m, authoritative=authoritative, demonstration=False,
                note="；".join([accuracy_note, *imported.notes]).strip("；"), coverage=coverage,
                midline_to_bank_m=(midline_to_bank_m or {}).get(layer_id, 0.0),
                imported={"import_id": import_id, "kind": imported.kind, "files": imported.files,
                          "imported_at": imported_at, "field_map": imported.field_map,
                          "access_list": access_list or []},
            )
            layers[layer_id] = {"name": names[layer_id], "file": path.name, "file_sha256": _sha256(path),
                                "features": len(frame), "provenance": provenance.to_dict()}
        index = read_index(root)
        replaced = {layer_id: index["layers"][layer_id]["file"] for layer_id in layers if layer_id in index["layers"]}
        record = {"id": import_id, "kind": imported.kind, "files": imported.files, "access_list": access_list or [],
                  "crs": imported.crs, "field_map": imported.field_map, "features": imported.features,
                  "repaired": imported.repaired, "dropped": imported.dropped, "notes": imported.notes,
                  "imported_at": imported_at, "layers": sorted(layers), "accuracy_m": accuracy_m, "coverage": list(coverage)}
        index["layers"].update(layers)
        index["imports"].append(record)
        _write_index(directory, index)
        for old in replaced.values():
            (directory / "layers" / old).unlink(missing_ok=True)
    return record


def remove(root: Path, target: str) -> list[str]:
    """Drop an import (by import id or one of its layer ids); its layers revert to the defaults."""
    with _locked(root) as directory:
        index = read_index(root)
        if target in index["layers"]:
            target = index["layers"][target]["provenance"]["imported"]["import_id"]
        dropped = {layer_id: entry for layer_id, entry in index["layers"].items()
                   if entry["provenance"]["imported"]["import_id"] == target}
        if not dropped:
            return []
        index["layers"] = {k: v for k, v in index["layers"].items() if k not in dropped}
        for record in index["imports"]:
            if record["id"] == target:
                record["removed_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        _write_index(directory, index)
        for entry in dropped.values():
            (directory / "layers" / entry["file"]).unlink(missing_ok=True)
    return sorted(dropped)


def load(root: Path) -> tuple[dict[str, Layer], dict[str, MissingLayer]]:
    """Imported layers, and the imported layers that could not be read (to be reported, never passed)."""
    sweep(root)
    loaded: dict[str, Layer] = {}
    broken: dict[str, MissingLayer] = {}
    for layer_id, entry in read_index(root)["layers"].items():
        path = catalog_dir(root) / "layers" / entry["file"]
        try:
            if _sha256(path) != entry["file_sha256"]:  # truncated, emptied or swapped: never read as "no zones here"
                raise ValueError("文件哈希与导入时不符，已被改动或损坏")
            frame = read_frame(path)
        except (OSError, ValueError) as error:
            broken[layer_id] = MissingLayer(layer_id, entry["name"], f"导入的图层文件无法读取（{path.name}：{error}），请重新导入。")
            continue
        loaded[layer_id] = Layer(layer_id, entry["name"], frame, Provenance.from_dict(entry["provenance"]))
    return loaded, broken


def verify(root: Path) -> list[str]:
    """Problems with the stored catalog: files missing or changed since import."""
    problems = []
    for layer_id, entry in read_index(root)["layers"].items():
        path = catalog_dir(root) / "layers" / entry["file"]
        if not path.exists():
            problems.append(f"{layer_id}：图层文件 {entry['file']} 不存在")
        elif _sha256(path) != entry["file_sha256"]:
            problems.append(f"{layer_id}：图层文件 {entry['file']} 的哈希与导入时不符（被改动或损坏）")
    return problems
