"""The user's layer catalog: imported agency layers that replace the defaults.

It lives in the user data directory (``<data dir>/catalog``), never in the installed
package. ``catalog.json`` is the only index: layer files are written first under new
names, then the index is replaced in one atomic rename, so a process killed mid-import
leaves the previous catalog whole. Every import records its files and their hashes.
What such a killed import wrote (layer files the index never named, a staged index) is
swept on the next import, removal or load: see :func:`sweep`.

The index a writer replaces is kept as ``catalog.previous.json`` (a hard link, so no copy
can be torn). A damaged ``catalog.json`` (truncated, garbage, wrong types, a directory,
unreadable, empty, absurdly large) is never trusted: checks use the previous index, else
the default layers, and :func:`damage` names what happened. Layer files an import replaces
or a removal drops move to ``catalog/superseded`` so a check issued on them can still be
drawn as issued (:func:`layers_as_of`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from layers import catalog
from layers.imports import ImportedLayers, LayerKind
from layers.io.geoparquet import read_frame
from spatial.layer import Layer, LayerSet, MissingLayer, Provenance

INDEX_NAME = "catalog.json"
PREVIOUS_NAME = "catalog.previous.json"
SUPERSEDED_NAME = "superseded.json"
INDEX_MAX_BYTES = 16 * 1024 * 1024  # thousands of imports; anything larger is not an index this program wrote
_SAFE_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.parquet$")


def catalog_dir(root: Path) -> Path:
    return root / "catalog"


class _Damaged(Exception):
    def __init__(self, zh: str, en: str) -> None:
        super().__init__(en)
        self.zh, self.en = zh, en


def _empty() -> dict:
    return {"layers": {}, "imports": []}


def _parse(path: Path) -> dict:
    """A catalog index read and checked field by field, or _Damaged saying what is wrong with it."""
    if path.is_dir():
        raise _Damaged("是一个目录而不是文件", "is a directory, not a file")
    try:
        size = path.stat().st_size
        if size > INDEX_MAX_BYTES:
            raise _Damaged(f"大小 {size:,} 字节，超过上限 {INDEX_MAX_BYTES:,}", f"is {size:,} bytes, over the {INDEX_MAX_BYTES:,} limit")
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise _Damaged(f"无法读取（{error.strerror}）", f"cannot be read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise _Damaged("不是 UTF-8 文本", "is not UTF-8 text") from None
    if not text.strip():
        raise _Damaged("是空文件", "is empty")
    try:
        index = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise _Damaged(f"不是完整的 JSON（{error}）", f"is not complete JSON ({error})") from None
    _check_index(index)
    return index


def _check_index(index: object) -> None:
    if not isinstance(index, dict) or not isinstance(index.get("layers"), dict) or not isinstance(index.get("imports"), list):
        raise _Damaged("结构不对（应为含 layers 对象和 imports 列表的 JSON 对象）",
                       "has the wrong shape (an object with a layers object and an imports list expected)")
    for part, key, entry in [("layers", layer_id, entry) for layer_id, entry in index["layers"].items()]:
        try:
            valid = (isinstance(entry["name"], str) and isinstance(entry["file_sha256"], str)
                     and bool(_SAFE_FILE.match(entry["file"]))
                     and isinstance(entry["provenance"]["imported"]["import_id"], str))
            Provenance.from_dict(entry["provenance"])
        except (KeyError, TypeError, ValueError, AttributeError):
            valid = False
        if not valid:
            raise _Damaged(f"{part}.{key} 的条目缺少字段或类型不对", f"entry {part}.{key} lacks a field or has the wrong type")
    if not all(isinstance(record, dict) and isinstance(record.get("id"), str) for record in index["imports"]):
        raise _Damaged("imports 中有缺少 id 的条目", "an imports entry has no id")


def index_state(root: Path) -> tuple[dict, dict | None]:
    """The index checks should use, and the damage found (None when catalog.json is sound).

    Damage falls back to the previous index a writer kept, else to no imports (the defaults).
    """
    directory = catalog_dir(root)
    path, previous = directory / INDEX_NAME, directory / PREVIOUS_NAME
    if not path.exists() and not path.is_symlink():
        if not previous.exists():
            return _empty(), None
        failure = _Damaged("不存在（而上一版索引在）", "is missing (while the previous index is there)")
    else:
        try:
            return _parse(path), None
        except _Damaged as damaged:
            failure = damaged
    try:
        index, fallback = _parse(previous), "previous"
    except _Damaged:
        index, fallback = _empty(), "defaults"
    used_zh = f"已改用上一版完好的索引 {PREVIOUS_NAME}" if fallback == "previous" else "已改用默认图层（不含任何导入图层）"
    used_en = f"using the previous good index {PREVIOUS_NAME}" if fallback == "previous" else "using the default layers (no imports)"
    return index, {
        "file": str(path), "fallback": fallback,
        "message_zh": f"导入图层目录索引 {path} {failure.zh}；{used_zh}。请重新导入图层，或从备份恢复该文件。",
        "message_en": f"the imported-layer index {path} {failure.en}; {used_en}. Import the layers again or restore the file.",
    }


def read_index(root: Path) -> dict:
    return index_state(root)[0]


def damage(root: Path) -> dict | None:
    """What is wrong with catalog.json and what checks use instead; None when it is sound."""
    return index_state(root)[1]


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
    index, damaged = index_state(directory.parent)
    if damaged is not None:  # never delete what a damaged index may still name
        return []
    named = {entry["file"] for entry in index["layers"].values()}
    leftovers = [p for p in (directory / "layers").glob("*.parquet") if p.name not in named]
    leftovers += [*directory.glob(".catalog-*.json"), *directory.glob(".superseded-*.json")]
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
    """Replace the index atomically, keeping the one it replaces (if sound) as the previous good copy."""
    current = directory / INDEX_NAME
    try:
        _parse(current)
        kept = directory / f".catalog-{uuid.uuid4().hex}.json"
        os.link(current, kept)
        os.replace(kept, directory / PREVIOUS_NAME)
    except (_Damaged, OSError):
        pass  # no sound index to keep: the previous copy stays as it was
    staging = directory / f".catalog-{uuid.uuid4().hex}.json"
    with staging.open("w", encoding="utf-8") as handle:
        json.dump(index, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    if current.is_dir() and not current.is_symlink():  # a directory in the index's place: set aside, not deleted
        os.replace(current, directory / f"catalog.damaged-{uuid.uuid4().hex[:8]}")
    os.replace(staging, current)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _supersede(directory: Path, entries: dict[str, dict]) -> None:
    """Keep the files of layers about to leave the index (hard links in ``superseded/``, listed in
    ``superseded.json``, both before the index changes), so checks issued on them can still be drawn as issued."""
    kept = directory / "superseded"
    kept.mkdir(exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    listed = _superseded(directory.parent)
    for layer_id, entry in entries.items():
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.link(directory / "layers" / entry["file"], kept / entry["file"])
        if (kept / entry["file"]).exists():
            listed.append({"layer_id": layer_id, "name": entry["name"], "file": entry["file"],
                           "file_sha256": entry["file_sha256"], "provenance": entry["provenance"], "superseded_at": now})
    staging = directory / f".superseded-{uuid.uuid4().hex}.json"
    staging.write_text(json.dumps(listed, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(staging, directory / SUPERSEDED_NAME)


def _superseded(root: Path) -> list[dict]:
    """The superseded layer files' entries; an unreadable list only costs drawing old checks as issued."""
    try:
        listed = json.loads((catalog_dir(root) / SUPERSEDED_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [entry for entry in listed if isinstance(entry, dict)] if isinstance(listed, list) else []


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add(root: Path, imported: ImportedLayers, names: dict[str, str], *, accuracy_m: float, accuracy_note: str,
        coverage: tuple[str, ...], source: str | None, version: str | None, authoritative: bool,
        access_list: list[dict] | None = None, midline_to_bank_m: dict[str, float] | None = None) -> dict:
    """Record an import and make its layers the ones checks use; returns the import record."""
    import_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    imported_at = datetime.now(UTC).isoformat(timespec="seconds")
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
        replaced = {layer_id: index["layers"][layer_id] for layer_id in layers if layer_id in index["layers"]}
        _supersede(directory, replaced)
        record = {"id": import_id, "kind": imported.kind, "files": imported.files, "access_list": access_list or [],
                  "crs": imported.crs, "field_map": imported.field_map, "features": imported.features,
                  "repaired": imported.repaired, "dropped": imported.dropped, "notes": imported.notes,
                  "imported_at": imported_at, "layers": sorted(layers), "accuracy_m": accuracy_m, "coverage": list(coverage)}
        index["layers"].update(layers)
        index["imports"].append(record)
        _write_index(directory, index)
        for old in replaced.values():
            (directory / "layers" / old["file"]).unlink(missing_ok=True)
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
        _supersede(directory, dropped)
        index["layers"] = {k: v for k, v in index["layers"].items() if k not in dropped}
        for record in index["imports"]:
            if record["id"] == target:
                record["removed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        _write_index(directory, index)
        for entry in dropped.values():
            (directory / "layers" / entry["file"]).unlink(missing_ok=True)
    return sorted(dropped)


def load(root: Path) -> tuple[dict[str, Layer], dict[str, MissingLayer]]:
    """Imported layers, and the imported layers that could not be read (to be reported, never passed)."""
    sweep(root)
    loaded: dict[str, Layer] = {}
    broken: dict[str, MissingLayer] = {}
    index, damaged = index_state(root)
    if damaged is not None:
        print(f"{damaged['message_zh']}\n{damaged['message_en']}", file=sys.stderr)
    for layer_id, entry in index["layers"].items():
        path = catalog_dir(root) / "layers" / entry["file"]
        if damaged is not None and not path.exists():  # the previous index names files a later import superseded
            path = catalog_dir(root) / "superseded" / entry["file"]
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
    """Problems with the stored catalog: a damaged index, files missing or changed since import."""
    index, damaged = index_state(root)
    problems = [damaged["message_zh"]] if damaged else []
    for layer_id, entry in index["layers"].items():
        path = catalog_dir(root) / "layers" / entry["file"]
        if not path.exists():
            problems.append(f"{layer_id}：图层文件 {entry['file']} 不存在")
        elif _sha256(path) != entry["file_sha256"]:
            problems.append(f"{layer_id}：图层文件 {entry['file']} 的哈希与导入时不符（被改动或损坏）")
    return problems


def _default_layers(root: Path) -> dict[str, dict]:
    """The default layers' manifest entries (the cache ``layers.build`` keeps), by id; empty if unreadable."""
    try:
        manifest = json.loads((root / "layers" / "manifest.json").read_text(encoding="utf-8"))
        return {layer_id: entry for layer_id, entry in manifest["layers"].items() if isinstance(entry, dict)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def layers_as_of(root: Path, versions: dict, current: LayerSet) -> LayerSet | None:
    """The layers a check was issued on, given its recorded ``layer_versions``: today's where they are the
    same version, else a superseded import or the cached default of that version. None if any is gone."""
    wanted = versions.get("layers", {})
    if set(versions.get("missing", [])) - set(current.missing) - set(wanted):
        return None  # a layer missing then is loaded now: its "missing" reason is not kept
    candidates: list[tuple[str, Path, dict]] = []
    for layer_id, entry in _default_layers(root).items():
        candidates.append((layer_id, root / "layers" / str(entry.get("file")), entry))
    for entry in _superseded(root):
        if _SAFE_FILE.match(str(entry.get("file"))):
            candidates.append((str(entry.get("layer_id")), catalog_dir(root) / "superseded" / entry["file"], entry))
    chosen: dict[str, Layer] = {}
    for layer_id, want in wanted.items():
        have = current.layers.get(layer_id)
        if have is not None and (have.provenance.sha256, have.provenance.version) == (want["sha256"], want["version"]):
            chosen[layer_id] = have
            continue
        for candidate_id, path, entry in candidates:
            try:
                provenance = Provenance.from_dict(entry["provenance"])
                if candidate_id != layer_id or (provenance.sha256, provenance.version) != (want["sha256"], want["version"]):
                    continue
                if _sha256(path) != entry["file_sha256"]:
                    continue
                chosen[layer_id] = Layer(layer_id, entry["name"], read_frame(path), provenance)
                break
            except (OSError, ValueError, KeyError, TypeError):
                continue
        else:
            return None
    missing = {layer_id: layer for layer_id, layer in current.missing.items() if layer_id in versions.get("missing", [])}
    return LayerSet(chosen, missing) if LayerSet.ADMIN in chosen else None


def add_import(root: Path, imported: ImportedLayers, accuracy_given: float | None, kind: LayerKind, **record: object) -> dict:
    """Record an import with its accuracy (as given, else the kind's default, and which) and each river's declared
    mid-line-to-bank distance (the river's, not the data's); the stored record. One path for every channel."""
    declared = catalog.layer_declarations()
    accuracy = accuracy_given if accuracy_given is not None else kind.accuracy_m
    source = "导入时给出" if accuracy_given is not None else kind.accuracy_note or "默认"
    return add(root, imported, {layer_id: declared[layer_id]["name"] for layer_id in imported.frames},
               accuracy_m=accuracy, accuracy_note=f"位置精度 ±{accuracy:g} 米（{source}）",
               midline_to_bank_m={layer_id: float(declared[layer_id].get("midline_to_bank_m", 0.0)) for layer_id in imported.frames},
               **record)
