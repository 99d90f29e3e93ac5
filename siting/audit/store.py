"""Where the audit log lives: an SQLite file (the embedded default) or a PostgreSQL database.

Both hold the same three chained tables and give the log the two things it needs beyond plain
SQL: an append transaction that excludes every other appender, in any process or on any server
(SQLite ``BEGIN IMMEDIATE``; PostgreSQL an exclusive table lock taken inside the transaction), so
the chains never fork; and a read of all chain heads in one snapshot, for the signed checkpoints.
Connections take ``?`` placeholders and give rows that are read by column name on both.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from layers.build import data_dir
from siting.audit.signing import AuditError

SCHEMA_VERSION = 3
CHAINS = ("checks", "decisions", "layer_changes")
ACTOR_COLUMNS = ("user", "role", "unit")  # schema 3: who made the record
BUSY_TIMEOUT_MS = 30_000
_SCHEMA_LOCK = 0x5174_6E67  # PostgreSQL advisory lock held while one process creates the tables


def _tables(seq: str, blob: str) -> list[str]:
    actor = ", ".join(f'"{name}" TEXT NOT NULL DEFAULT \'\'' for name in ACTOR_COLUMNS)
    return [
        f"""CREATE TABLE IF NOT EXISTS checks (
            seq {seq}, id TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, checked_on TEXT NOT NULL,
            channel TEXT NOT NULL, project TEXT NOT NULL, inputs TEXT NOT NULL, site_wkb {blob} NOT NULL,
            overall TEXT NOT NULL, result TEXT NOT NULL, catalog_version TEXT NOT NULL, layer_versions TEXT NOT NULL,
            prev_digest TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL DEFAULT '', {actor})""",
        f"""CREATE TABLE IF NOT EXISTS decisions (
            seq {seq}, id TEXT NOT NULL UNIQUE, check_id TEXT NOT NULL, check_digest TEXT NOT NULL,
            recorded_at TEXT NOT NULL, decision TEXT NOT NULL, note TEXT NOT NULL, rule_id TEXT,
            prev_digest TEXT NOT NULL, digest TEXT NOT NULL, signature TEXT NOT NULL DEFAULT '', {actor})""",
        f"""CREATE TABLE IF NOT EXISTS layer_changes (
            seq {seq}, id TEXT NOT NULL UNIQUE, recorded_at TEXT NOT NULL, {actor}, action TEXT NOT NULL,
            layer_id TEXT NOT NULL, detail TEXT NOT NULL, prev_digest TEXT NOT NULL, digest TEXT NOT NULL,
            signature TEXT NOT NULL)""",
    ]


_INDEXES = (
    "CREATE INDEX IF NOT EXISTS decisions_by_check ON decisions (check_id, seq)",
    'CREATE INDEX IF NOT EXISTS checks_by_user ON checks ("user", seq)',
    "CREATE INDEX IF NOT EXISTS checks_by_unit ON checks (unit, seq)",
)


def _add_missing_columns(store: SqliteStore | PostgresStore, connection: Any) -> None:
    """An older log's tables gain the columns of this schema; their rows keep verifying as before."""
    for table in ("checks", "decisions"):
        present = set(store.columns(connection, table))
        if "signature" not in present:  # a version-1 log: its rows stay unsigned, the first checkpoint covers them
            connection.execute(f"ALTER TABLE {table} ADD COLUMN signature TEXT NOT NULL DEFAULT ''")
        for name in ACTOR_COLUMNS:  # a version-2 log: its rows name no one, and their digests stay as they were
            if name not in present:
                connection.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" TEXT NOT NULL DEFAULT \'\'')


class SqliteStore:
    """The embedded log: WAL journal, ``synchronous=FULL``, so a committed batch survives a crash or power loss."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self.identity = os.path.abspath(path)  # one writer per process for this file

    def open(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                         check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as error:
            raise AuditError(f"cannot open the audit log {self.path}: {error}") from error
        return connection

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection; any SQLite failure (a locked, damaged or vanished file) becomes an AuditError."""
        connection = self.open()
        try:
            yield connection
        except sqlite3.Error as error:
            raise AuditError(f"the audit log {self.path} cannot be read or written: {error}") from error
        finally:
            connection.close()

    def create(self) -> int:
        """Make or upgrade the tables in one transaction; the schema version found before."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AuditError(f"cannot open the audit log {self.path}: {error}") from error
        with self.connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise AuditError(f"audit log {self.path} has schema {version}, newer than this program's {SCHEMA_VERSION}")
            if version < SCHEMA_VERSION:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _tables("INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"):
                        connection.execute(statement)
                    _add_missing_columns(self, connection)
                    for statement in _INDEXES:
                        connection.execute(statement)
                    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        return version

    def begin_append(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")

    def begin_snapshot(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN")

    def columns(self, connection: sqlite3.Connection, table: str) -> list[str]:
        return [row["name"] for row in connection.execute(f"PRAGMA table_info({table})")]

    def default_checkpoints(self) -> Path:
        return self.path.with_name(self.path.stem + "-checkpoints.jsonl")

    def key_directory(self) -> Path:
        return self.path.parent


class _PostgresConnection:
    """A psycopg connection in autocommit mode (transactions are explicit) that takes ``?`` placeholders."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Any = ()) -> Any:
        return self.raw.execute(sql.replace("?", "%s"), parameters)

    def executemany(self, sql: str, rows: list[tuple]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(sql.replace("?", "%s"), rows)

    def close(self) -> None:
        self.raw.close()


def is_postgres(database: str | Path | None) -> bool:
    return isinstance(database, str) and database.startswith(("postgresql://", "postgres://"))


class PostgresStore:
    """The shared log of several app servers. Commits are durable when PostgreSQL says so (``fsync`` and
    ``synchronous_commit`` on, the server's defaults); each server keeps its own signed checkpoint file."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.identity = url
        parts = urlsplit(url)
        shown = parts.netloc.rsplit("@", 1)
        if len(shown) == 2 and ":" in shown[0]:
            parts = parts._replace(netloc=f"{shown[0].split(':', 1)[0]}:***@{shown[1]}")
        self.location = urlunsplit(parts)

    def open(self) -> _PostgresConnection:
        import psycopg
        from psycopg.rows import dict_row

        try:
            return _PostgresConnection(psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=30))
        except psycopg.Error as error:
            raise AuditError(f"cannot open the audit log {self.location}: {error}") from error

    @contextmanager
    def connect(self) -> Iterator[_PostgresConnection]:
        import psycopg

        connection = self.open()
        try:
            yield connection
        except psycopg.Error as error:
            raise AuditError(f"the audit log {self.location} cannot be read or written: {error}") from error
        finally:
            connection.close()

    def create(self) -> int:
        with self.connect() as connection:
            connection.execute("BEGIN")
            try:
                connection.execute("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))
                connection.execute("CREATE TABLE IF NOT EXISTS audit_schema (version INTEGER NOT NULL)")
                row = connection.execute("SELECT MAX(version) AS version FROM audit_schema").fetchone()
                version = row["version"] or 0
                if version > SCHEMA_VERSION:
                    raise AuditError(f"audit log {self.location} has schema {version}, newer than this program's {SCHEMA_VERSION}")
                if version < SCHEMA_VERSION:
                    for statement in _tables("BIGINT PRIMARY KEY", "BYTEA"):
                        connection.execute(statement)
                    _add_missing_columns(self, connection)
                    for statement in _INDEXES:
                        connection.execute(statement)
                    connection.execute("INSERT INTO audit_schema (version) VALUES (?)", (SCHEMA_VERSION,))
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
        return version

    def begin_append(self, connection: _PostgresConnection) -> None:
        """A transaction that holds every chain against all other appenders until it commits."""
        connection.execute("BEGIN")
        connection.execute("LOCK TABLE checks, decisions, layer_changes IN EXCLUSIVE MODE")

    def begin_snapshot(self, connection: _PostgresConnection) -> None:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def columns(self, connection: _PostgresConnection, table: str) -> list[str]:
        rows = connection.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                                  "AND table_name = ? ORDER BY ordinal_position", (table,)).fetchall()
        return [row["column_name"] for row in rows]

    def default_checkpoints(self) -> Path:
        """Beside this server's data, named by the database (URL without password, so one per log)."""
        return data_dir() / f"audit-pg-{hashlib.sha256(self.location.encode()).hexdigest()[:16]}-checkpoints.jsonl"

    def key_directory(self) -> Path:
        return data_dir()


def store_for(database: str | Path | None) -> SqliteStore | PostgresStore:
    """None the default SQLite file, a path that file, ``postgresql://…`` that database."""
    if is_postgres(database):
        return PostgresStore(str(database))
    return SqliteStore(Path(database) if database else data_dir() / "audit.sqlite3")
