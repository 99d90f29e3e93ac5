"""The audit log: every check (CLI, API, page) as one SQLite row, replayable later.

A verdict in a permit file must be reproducible, so each row keeps the exact site
geometry (WKB), what the reviewer typed, the result JSON, the date deadlines were
judged against, and the versions of the rule catalog and of every layer. Rows are
chained by hash (each row's digest covers the previous one), so an edited or deleted
row shows up in :meth:`AuditLog.verify`.

Crash safety: WAL journal, ``synchronous=FULL`` and one ``BEGIN IMMEDIATE``
transaction per row, so a process killed mid-write leaves either the whole row or
none of it, never a corrupt file.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

from layers import catalog
from layers.build import data_dir
from spatial.layer import LayerSet

SCHEMA_VERSION = 1
_BUSY_TIMEOUT_MS = 30_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS checks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    checked_on TEXT NOT NULL,
    channel TEXT NOT NULL,
    project TEXT NOT NULL,
    inputs TEXT NOT NULL,
    site_wkb BLOB NOT NULL,
    overall TEXT NOT NULL,
    result TEXT NOT NULL,
    catalog_version TEXT NOT NULL,
    layer_versions TEXT NOT NULL,
    prev_digest TEXT NOT NULL,
    digest TEXT NOT NULL
)
"""
_FIELDS = ("id", "created_at", "checked_on", "channel", "project", "inputs", "site_wkb", "overall", "result",
           "catalog_version", "layer_versions", "prev_digest", "digest")


class AuditError(RuntimeError):
    """The audit log cannot be read or written; a check must not be reported unrecorded."""


def default_path() -> Path:
    return data_dir() / "audit.sqlite3"


def new_check_id(now: datetime) -> str:
    """Sortable and unguessable: UTC time to the second plus 48 random bits."""
    return f"C{now:%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"


@lru_cache(maxsize=1)
def catalog_version() -> str:
    """sha256 over every file a verdict depends on besides layers: rules, taxonomy, layer declarations.

    Computed once per process, like ``catalog.rules()``, so it names the rules actually loaded.
    """
    digest = hashlib.sha256()
    for path in [*catalog.rule_files(), catalog.DATA / "industries.yaml", catalog.DATA / "layers.yaml"]:
        digest.update(f"{path.relative_to(catalog.DATA).as_posix()}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def layer_versions(layers: LayerSet) -> dict:
    """Per layer: source digest, version and the demonstration flag; plus the ids of missing layers."""
    return {
        "layers": {
            layer_id: {"sha256": layer.provenance.sha256, "version": layer.provenance.version,
                       "demonstration": layer.provenance.demonstration}
            for layer_id, layer in sorted(layers.layers.items())
        },
        "missing": sorted(layers.missing),
    }


@dataclass(frozen=True)
class CheckRecord:
    """One audited check. ``inputs`` holds what the reviewer gave (industry and stage as typed, the site echo)."""

    id: str
    created_at: str
    checked_on: str
    channel: str
    project: str
    inputs: dict
    site_wkb: bytes
    overall: str
    result: dict
    catalog_version: str
    layer_versions: dict
    prev_digest: str = ""
    digest: str = ""

    @property
    def on(self) -> date:
        return date.fromisoformat(self.checked_on)

    def echo(self) -> dict:
        """What an answer carries beside the result so the reviewer can cite and replay it."""
        return {"check_id": self.id, "checked_on": self.checked_on, "catalog_version": self.catalog_version}

    def summary(self) -> dict:
        """The listing row: no geometry, no full result."""
        site = self.result.get("site", {})
        return {
            "id": self.id, "created_at": self.created_at, "channel": self.channel, "project": self.project,
            "industry": self.inputs.get("industry"), "stage": self.result.get("stage"), "overall": self.overall,
            "overall_label": self.result.get("overall_label"), "lon": site.get("wgs84", {}).get("lon"),
            "lat": site.get("wgs84", {}).get("lat"), "geometry_type": site.get("geometry_type"),
        }

    def to_dict(self) -> dict:
        """Everything but the geometry bytes (given as hex), for JSON."""
        return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in asdict(self).items()}

    def _columns(self) -> tuple:
        return tuple(
            json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else value
            for value in (getattr(self, name) for name in _FIELDS)
        )

    def compute_digest(self, prev_digest: str) -> str:
        digest = hashlib.sha256(prev_digest.encode())
        for name, value in zip(_FIELDS[:-2], self._columns()[:-2], strict=True):
            digest.update(f"\0{name}\0".encode())
            digest.update(value if isinstance(value, bytes) else str(value).encode())
        return digest.hexdigest()


def _record(row: sqlite3.Row) -> CheckRecord:
    values = {name: row[name] for name in _FIELDS}
    for name in ("inputs", "result", "layer_versions"):
        values[name] = json.loads(values[name])
    return CheckRecord(**values)


class AuditLog:
    """The SQLite audit database; one short-lived connection per operation, so threads never share one."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(_SCHEMA)
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise AuditError(f"audit log {self.path} has schema {version}, newer than this program's {SCHEMA_VERSION}")
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as error:
            raise AuditError(f"cannot open the audit log {self.path}: {error}") from error

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        try:
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA synchronous=FULL")
            yield connection
        finally:
            connection.close()

    def append(self, record: CheckRecord) -> CheckRecord:
        """Store one record in its own transaction, chained to the last one; return it with its digests."""
        try:
            with self._connect() as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    last = connection.execute("SELECT digest FROM checks ORDER BY seq DESC LIMIT 1").fetchone()
                    prev = last["digest"] if last else ""
                    stored = CheckRecord(**{**asdict(record), "prev_digest": prev, "digest": record.compute_digest(prev)})
                    connection.execute(
                        f"INSERT INTO checks ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))})",
                        stored._columns(),
                    )
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        except sqlite3.Error as error:
            raise AuditError(f"cannot write the audit log {self.path}: {error}") from error
        return stored

    def get(self, check_id: str) -> CheckRecord | None:
        with self._connect() as connection:
            row = connection.execute(f"SELECT {', '.join(_FIELDS)} FROM checks WHERE id = ?", (check_id,)).fetchone()
        return _record(row) if row else None

    def recent(self, limit: int = 20) -> list[CheckRecord]:
        """The latest records, newest first."""
        with self._connect() as connection:
            rows = connection.execute(f"SELECT {', '.join(_FIELDS)} FROM checks ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [_record(row) for row in rows]

    def count(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM checks").fetchone()[0])

    def verify(self) -> list[str]:
        """Ids of records whose digest or chain link does not match: empty for an intact log."""
        broken = []
        prev = ""
        with self._connect() as connection:
            for row in connection.execute(f"SELECT {', '.join(_FIELDS)} FROM checks ORDER BY seq"):
                record = _record(row)
                if record.prev_digest != prev or record.compute_digest(prev) != record.digest:
                    broken.append(record.id)
                prev = record.digest
        return broken


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
