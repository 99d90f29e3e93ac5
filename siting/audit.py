"""The audit log: every check (CLI, API, page) as one SQLite row, replayable later.

A verdict in a permit file must be reproducible, so each row keeps the exact site
geometry (WKB), what the reviewer typed, the result JSON, the date deadlines were
judged against, and the versions of the rule catalog and of every layer. Rows are
chained by hash (each row's digest covers the previous one) and each digest is signed
with a key held outside the database; after every row a signed checkpoint of the chain
heads goes to a separate append-only file (:mod:`siting.audit_signing`). The reviewer's
decisions on a check are a second chain in the same log, each bound to the check's
digest: appended, never edited. :mod:`siting.audit_verify` checks all of it.

Crash safety: WAL journal, ``synchronous=FULL`` and one ``BEGIN IMMEDIATE``
transaction per row, so a process killed mid-write leaves either the whole row or
none of it, never a corrupt file.

Time: stored in UTC (check ids, ``created_at``); shown in China Standard Time (UTC+8, no
daylight saving), and the 审查日期 is the CST date of the same instant.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from layers import catalog
from layers.build import data_dir
from siting.audit_signing import AuditError, SigningKey, append_checkpoint, checkpoints_path, key_path
from spatial.layer import LayerSet

SCHEMA_VERSION = 2
CST = timezone(timedelta(hours=8), "CST")
TIME_NOTE = "时间均为北京时间（UTC+8）；审查编号中的时间为协调世界时（UTC）。"
DECISIONS = ("采纳", "不采纳", "需补充材料")
NOTE_MAX_CHARS = 2000
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
    digest TEXT NOT NULL,
    signature TEXT NOT NULL DEFAULT ''
)
"""
_DECISIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    check_id TEXT NOT NULL,
    check_digest TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    decision TEXT NOT NULL,
    note TEXT NOT NULL,
    rule_id TEXT,
    prev_digest TEXT NOT NULL,
    digest TEXT NOT NULL,
    signature TEXT NOT NULL
)
"""
_FIELDS = ("id", "created_at", "checked_on", "channel", "project", "inputs", "site_wkb", "overall", "result",
           "catalog_version", "layer_versions", "prev_digest", "digest")
_COLUMNS = (*_FIELDS, "signature")
_DECISION_FIELDS = ("id", "check_id", "check_digest", "recorded_at", "decision", "note", "rule_id", "prev_digest", "digest")
_DECISION_COLUMNS = (*_DECISION_FIELDS, "signature")


def default_path() -> Path:
    return data_dir() / "audit.sqlite3"


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def shown_time(stored: str) -> str:
    """A stored UTC time as a reviewer reads it: China Standard Time, to the second."""
    return datetime.fromisoformat(stored).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def review_date(now: datetime) -> date:
    """The 审查日期 of an instant: its date in China Standard Time (the id keeps the UTC time)."""
    return now.astimezone(CST).date()


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
class DecisionRecord:
    """A reviewer's decision on a check (overall, or on one rule's finding), bound to the check's digest."""

    id: str
    check_id: str
    check_digest: str
    recorded_at: str
    decision: str
    note: str
    rule_id: str | None
    prev_digest: str = ""
    digest: str = ""
    signature: str = ""

    def to_dict(self) -> dict:
        """The stored decision as the API returns it."""
        return {"decision_id": self.id, "check_id": self.check_id, "decision": self.decision, "note": self.note,
                "rule_id": self.rule_id, "recorded_at": self.recorded_at}

    def compute_digest(self, prev_digest: str) -> str:
        digest = hashlib.sha256(prev_digest.encode())
        for name in _DECISION_FIELDS[:-2]:
            value = getattr(self, name)
            digest.update(f"\0{name}\0".encode())
            digest.update(b"\x01" if value is None else b"\x02" + str(value).encode())
        return digest.hexdigest()

    def _columns(self) -> tuple:
        return tuple(getattr(self, name) for name in _DECISION_COLUMNS)


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
    signature: str = ""
    # Not part of the row or its digest: filled in when read, for answers and reports.
    decisions: tuple[DecisionRecord, ...] = ()
    public_key: str = ""  # base64 of the Ed25519 key that signs this log

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
        """Everything but the geometry bytes (given as hex), for JSON; decisions in the API's shape."""
        values = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in asdict(self).items() if k != "decisions"}
        return values | {"decisions": [d.to_dict() for d in self.decisions]}

    def _columns(self) -> tuple:
        return tuple(
            json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else value
            for value in (getattr(self, name) for name in _COLUMNS)
        )

    def compute_digest(self, prev_digest: str) -> str:
        digest = hashlib.sha256(prev_digest.encode())
        for name, value in zip(_FIELDS[:-2], self._columns()[:len(_FIELDS) - 2], strict=True):
            digest.update(f"\0{name}\0".encode())
            digest.update(value if isinstance(value, bytes) else str(value).encode())
        return digest.hexdigest()


def new_decision_id(now: datetime) -> str:
    return f"D{now:%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"


def record_from_row(row: sqlite3.Row) -> CheckRecord:
    values = {name: row[name] for name in _COLUMNS}
    for name in ("inputs", "result", "layer_versions"):
        values[name] = json.loads(values[name])
    return CheckRecord(**values)


def decision_from_row(row: sqlite3.Row) -> DecisionRecord:
    return DecisionRecord(**{name: row[name] for name in _DECISION_COLUMNS})


class AuditLog:
    """The SQLite audit database; one short-lived connection per operation, so threads never share one.

    ``key`` is the signing key file (default: ``$SITING_AUDIT_KEY``, else beside the database);
    checkpoints go to ``<name>-checkpoints.jsonl`` beside the database.
    """

    def __init__(self, path: Path | None = None, key: Path | None = None) -> None:
        self.path = path or default_path()
        self.key_path = key or key_path(self.path.parent)
        self.checkpoints_path = checkpoints_path(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as connection:
                connection.execute("PRAGMA journal_mode=WAL")
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise AuditError(f"audit log {self.path} has schema {version}, newer than this program's {SCHEMA_VERSION}")
                connection.execute(_SCHEMA)
                connection.execute(_DECISIONS_SCHEMA)
                connection.execute("CREATE INDEX IF NOT EXISTS decisions_by_check ON decisions (check_id, seq)")
                columns = {row["name"] for row in connection.execute("PRAGMA table_info(checks)")}
                if "signature" not in columns:  # a version-1 log: its rows stay unsigned, the first checkpoint covers them
                    connection.execute("ALTER TABLE checks ADD COLUMN signature TEXT NOT NULL DEFAULT ''")
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as error:
            raise AuditError(f"cannot open the audit log {self.path}: {error}") from error
        self.key = SigningKey.load_or_create(self.key_path)
        if version < SCHEMA_VERSION and self.count():
            self._checkpoint()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection; any SQLite failure (a locked, damaged or vanished file) becomes an AuditError."""
        try:
            connection = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as error:
            raise AuditError(f"cannot open the audit log {self.path}: {error}") from error
        try:
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA synchronous=FULL")
            yield connection
        except sqlite3.Error as error:
            raise AuditError(f"the audit log {self.path} cannot be read or written: {error}") from error
        finally:
            connection.close()

    @staticmethod
    def _heads(connection: sqlite3.Connection) -> dict:
        """Each chain's size (its last seq) and head digest, read in one snapshot."""
        connection.execute("BEGIN")
        heads = {}
        for chain in ("checks", "decisions"):
            last = connection.execute(f"SELECT seq, digest FROM {chain} ORDER BY seq DESC LIMIT 1").fetchone()
            heads[chain] = {"size": last["seq"] if last else 0, "head": last["digest"] if last else ""}
        connection.execute("COMMIT")
        return heads

    def _checkpoint(self, connection: sqlite3.Connection | None = None) -> None:
        """Sign the current heads into the checkpoint file (after a commit, on the writer's connection)."""
        try:
            if connection is not None:
                append_checkpoint(self.checkpoints_path, self.key, lambda: self._heads(connection))
                return
            with self._connect() as own:
                append_checkpoint(self.checkpoints_path, self.key, lambda: self._heads(own))
        except sqlite3.Error as error:
            raise AuditError(f"cannot read the audit log {self.path}: {error}") from error

    def _append(self, table: str, columns: tuple[str, ...], chained) -> object:
        """Insert ``chained(prev_digest)`` (a signed record) as the next link of ``table`` in one transaction."""
        try:
            with self._connect() as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    last = connection.execute(f"SELECT digest FROM {table} ORDER BY seq DESC LIMIT 1").fetchone()
                    stored = chained(last["digest"] if last else "")
                    connection.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                       stored._columns())
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
                self._checkpoint(connection)
        except sqlite3.Error as error:
            raise AuditError(f"cannot write the audit log {self.path}: {error}") from error
        return stored

    def _signed(self, record, prev: str):
        digest = record.compute_digest(prev)
        return replace(record, prev_digest=prev, digest=digest, signature=self.key.sign(digest.encode()))

    def append(self, record: CheckRecord) -> CheckRecord:
        """Store one record in its own transaction, chained to the last one and signed; return it as stored."""
        clean = replace(record, decisions=(), public_key=self.key.public.base64)
        return self._append("checks", _COLUMNS, lambda prev: self._signed(clean, prev))

    def decide(self, check: CheckRecord, decision: str, note: str, rule_id: str | None) -> DecisionRecord:
        """Append a reviewer's decision on ``check`` (validated by the caller) to the decisions chain."""
        now = now_utc()
        record = DecisionRecord(id=new_decision_id(now), check_id=check.id, check_digest=check.digest,
                                recorded_at=now.isoformat(timespec="seconds"), decision=decision, note=note, rule_id=rule_id)
        return self._append("decisions", _DECISION_COLUMNS, lambda prev: self._signed(record, prev))

    def get(self, check_id: str) -> CheckRecord | None:
        with self._connect() as connection:
            row = connection.execute(f"SELECT {', '.join(_COLUMNS)} FROM checks WHERE id = ?", (check_id,)).fetchone()
        if row is None:
            return None
        return replace(record_from_row(row), decisions=tuple(self.decisions(check_id)), public_key=self.key.public.base64)

    def recent(self, limit: int = 20) -> list[CheckRecord]:
        """The latest records, newest first."""
        with self._connect() as connection:
            rows = connection.execute(f"SELECT {', '.join(_COLUMNS)} FROM checks ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [replace(record_from_row(row), public_key=self.key.public.base64) for row in rows]

    def decisions(self, check_id: str) -> list[DecisionRecord]:
        """The decisions on one check, in the order they were recorded."""
        with self._connect() as connection:
            rows = connection.execute(f"SELECT {', '.join(_DECISION_COLUMNS)} FROM decisions WHERE check_id = ? ORDER BY seq",
                                      (check_id,)).fetchall()
        return [decision_from_row(row) for row in rows]

    def latest_decisions(self, check_ids: list[str]) -> dict[str, DecisionRecord]:
        """For each of these checks that has decisions, the last one recorded."""
        if not check_ids:
            return {}
        marks = ", ".join("?" * len(check_ids))
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT {', '.join(_DECISION_COLUMNS)} FROM decisions WHERE seq IN "
                f"(SELECT MAX(seq) FROM decisions WHERE check_id IN ({marks}) GROUP BY check_id)", check_ids).fetchall()
        return {row["check_id"]: decision_from_row(row) for row in rows}

    def count(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) FROM checks").fetchone()[0])
