"""The account tables on SQLite (default ``data_dir()/accounts.sqlite``) or PostgreSQL (``postgresql://…``).

Secrets are kept only as hashes: passwords as argon2id (:mod:`.passwords`), session ids and API tokens
as SHA-256 of 256 random bits (a stolen database row cannot be replayed as a cookie or token). A session
ends when it has been idle for ``idle_s`` or lived ``absolute_s``, at logout, when its user is disabled,
or when the password changes. Both databases run the same SQL (``?`` placeholders become ``%s`` for psycopg).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from layers.build import data_dir

__all__ = ["IDLE_S", "LIFETIME_S", "AccountStore", "Session", "Token", "User", "default_path", "open_store", "secret_hash"]

IDLE_S = 30 * 60
LIFETIME_S = 12 * 3600
_TOUCH_EVERY_S = 30  # a session's last-seen time is written at most this often
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, unit TEXT NOT NULL DEFAULT '', password_hash TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1, created_at {real} NOT NULL, changed_at {real} NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL, csrf TEXT NOT NULL, created_at {real} NOT NULL, seen_at {real} NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_name);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY, user_name TEXT NOT NULL, label TEXT NOT NULL DEFAULT '', token_hash TEXT NOT NULL UNIQUE,
    csrf TEXT NOT NULL, created_at {real} NOT NULL, last_used {real}, revoked_at {real});
CREATE TABLE IF NOT EXISTS login_failures (failure_key TEXT NOT NULL, at {real} NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (failure_key, at);
"""


def default_path() -> Path:
    return data_dir() / "accounts.sqlite"


def secret_hash(secret: str) -> str:
    """How a session id or token is stored and looked up: SHA-256 (the secret has 256 random bits)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class User:
    name: str
    role: str
    unit: str
    enabled: bool
    created_at: float
    password_hash: str = field(default="", repr=False)

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "unit": self.unit, "enabled": self.enabled}


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str
    created_at: float
    seen_at: float


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    label: str
    created_at: float
    last_used: float | None
    revoked: bool
    csrf: str = ""


class AccountStore:
    """The account tables in one database; safe to share between threads (and between processes)."""

    def __init__(self, database: str | Path | None = None, idle_s: float = IDLE_S, absolute_s: float = LIFETIME_S) -> None:
        self.database = str(database) if database else str(default_path())
        self.postgres = self.database.startswith(("postgresql://", "postgres://"))
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pg: Any = None
        self._pid = os.getpid()
        self._create()

    @property
    def reads_without_waiting(self) -> bool:
        """SQLite in WAL mode (how ``_create`` makes it): a read never waits for a writer, so an event loop
        may make a lookup itself instead of sending it to a thread. PostgreSQL is a network round trip."""
        return not self.postgres

    def describe(self) -> str:
        """The database for messages, without a password in it."""
        if not self.postgres:
            return self.database
        scheme, _, rest = self.database.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"

    # --- connection -------------------------------------------------------------------------------------

    @contextmanager
    def _cursor(self, write: bool = True) -> Iterator[Any]:
        """A cursor in one transaction, committed when the block ends and rolled back if it raises.

        SQLite: each thread keeps its own connection; a read takes no write lock (the audit log may
        share the file and its writer must not wait behind a session lookup). A forked process (several
        HTTP workers) opens its own connections: one inherited from the parent is never used."""
        if os.getpid() != self._pid:
            self._pid, self._pg, self._local = os.getpid(), None, threading.local()
        if self.postgres:
            with self._lock:
                if self._pg is None or self._pg.closed or self._pg.broken:  # reconnect after a server restart
                    import psycopg

                    self._pg = psycopg.connect(self.database, autocommit=False)
                try:
                    with self._pg.cursor() as cursor:
                        yield _PgCursor(cursor)
                    self._pg.commit()
                except BaseException:
                    if not self._pg.closed:
                        self._pg.rollback()
                    raise
            return
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = sqlite3.connect(self.database, timeout=30, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield connection.cursor()
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _create(self) -> None:
        if not self.postgres:
            path = Path(self.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():  # password hashes and session hashes: readable by the server's user only
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            connection = sqlite3.connect(path)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
            finally:
                connection.close()
        schema = _SCHEMA.format(real="DOUBLE PRECISION" if self.postgres else "REAL")
        with self._cursor() as cursor:
            if self.postgres:  # app servers starting together must not race to create the same tables
                cursor.execute("SELECT pg_advisory_xact_lock(1851879529)")
            for statement in filter(str.strip, schema.split(";")):
                cursor.execute(statement)

    def close(self) -> None:
        """Close this thread's SQLite connection (others close with their threads), or the PostgreSQL one."""
        with self._lock:
            if self._pg is not None:
                self._pg.close()
                self._pg = None
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._cursor(write=False) as cursor:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall())

    def _run(self, sql: str, params: Sequence = ()) -> int:
        with self._cursor() as cursor:
            cursor.execute(sql, tuple(params))
            return cursor.rowcount

    # --- users ------------------------------------------------------------------------------------------

    _USER = "SELECT name, role, unit, enabled, created_at, password_hash FROM users"

    @staticmethod
    def _user(row: tuple) -> User:
        return User(row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def add_user(self, name: str, role: str, unit: str, password_hash: str) -> bool:
        """Add an account; False when the name is taken."""
        now = time.time()
        return self._run("INSERT INTO users (name, role, unit, password_hash, enabled, created_at, changed_at) "
                         "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (name) DO NOTHING",
                         (name, role, unit, password_hash, now, now)) == 1

    def user(self, name: str) -> User | None:
        rows = self._rows(f"{self._USER} WHERE name = ?", (name,))
        return self._user(rows[0]) if rows else None

    def users(self) -> list[User]:
        return [self._user(row) for row in self._rows(f"{self._USER} ORDER BY name")]

    def configured(self) -> bool:
        """Accounts are configured when at least one account is enabled: the server then asks who is calling."""
        return bool(self._rows("SELECT 1 FROM users WHERE enabled = 1 LIMIT 1"))

    def set_enabled(self, name: str, enabled: bool) -> bool:
        """Enable or disable an account; disabling ends its sessions at once (its tokens stop working too)."""
        with self._cursor() as cursor:
            cursor.execute("UPDATE users SET enabled = ?, changed_at = ? WHERE name = ?", (int(enabled), time.time(), name))
            found = cursor.rowcount == 1
            if not enabled:
                cursor.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        return found

    def set_password(self, name: str, password_hash: str) -> bool:
        """Replace the password hash; every session of the account ends (a new login is needed everywhere)."""
        with self._cursor() as cursor:
            cursor.execute("UPDATE users SET password_hash = ?, changed_at = ? WHERE name = ?", (password_hash, time.time(), name))
            found = cursor.rowcount == 1
            cursor.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
        return found

    # --- sessions ---------------------------------------------------------------------------------------

    def create_session(self, name: str) -> tuple[str, str]:
        """A new session for ``name``: (session id for the cookie, its CSRF token). Only the id's hash is stored."""
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        with self._cursor() as cursor:
            cursor.execute("DELETE FROM sessions WHERE seen_at < ? OR created_at < ?", (now - self.idle_s, now - self.absolute_s))
            cursor.execute("INSERT INTO sessions (id_hash, user_name, csrf, created_at, seen_at) VALUES (?, ?, ?, ?, ?)",
                           (secret_hash(session_id), name, csrf, now, now))
        return session_id, csrf

    def session(self, session_id: str) -> Session | None:
        """The live session with this id, its last-seen time moved on; None when unknown, expired, or its user disabled."""
        found, due = self.looked_up_session(session_id)
        if due and found is None:
            self._run("DELETE FROM sessions WHERE id_hash = ?", (secret_hash(session_id),))
        elif due:
            self._run("UPDATE sessions SET seen_at = ? WHERE id_hash = ?", (found.seen_at, secret_hash(session_id)))
        return found

    def looked_up_session(self, session_id: str) -> tuple[Session | None, bool]:
        """:meth:`session` without its write: (the live session or None, whether a write is due: the ended
        session to delete, or its last-seen time to move on, at most every 30 s). A caller that must not wait
        on a writer reads here and calls :meth:`session` only when a write is due."""
        now = time.time()
        rows = self._rows("SELECT s.csrf, s.created_at, s.seen_at, u.name, u.role, u.unit, u.enabled, u.created_at "
                          "FROM sessions s JOIN users u ON u.name = s.user_name WHERE s.id_hash = ?", (secret_hash(session_id),))
        if not rows:
            return None, False
        csrf, created_at, seen_at, *user = rows[0]
        if not user[3] or now - seen_at > self.idle_s or now - created_at > self.absolute_s:
            return None, True
        return Session(User(user[0], user[1], user[2], bool(user[3]), user[4]), csrf, created_at, now), now - seen_at > _TOUCH_EVERY_S

    def end_session(self, session_id: str) -> bool:
        return self._run("DELETE FROM sessions WHERE id_hash = ?", (secret_hash(session_id),)) == 1

    # --- API tokens -------------------------------------------------------------------------------------

    def add_token(self, name: str, label: str) -> tuple[str, str]:
        """A new API token for ``name``: (token id, the token). The token is shown once and stored as its hash."""
        token_id = "t" + secrets.token_hex(4)
        token = f"siting_{secrets.token_urlsafe(32)}"
        self._run("INSERT INTO api_tokens (id, user_name, label, token_hash, csrf, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                  (token_id, name, label, secret_hash(token), secrets.token_urlsafe(32), time.time()))
        return token_id, token

    def token_user(self, token: str) -> tuple[User, Token] | None:
        """The enabled account a live (unrevoked) token belongs to, and the token; None otherwise."""
        found, due = self.looked_up_token(token)
        if due and found is not None:
            self._run("UPDATE api_tokens SET last_used = ? WHERE id = ?", (found[1].last_used, found[1].id))
        return found

    def looked_up_token(self, token: str) -> tuple[tuple[User, Token] | None, bool]:
        """:meth:`token_user` without its write: (the account and token or None, whether the token's
        last-used time is due to be written, at most every 30 s), as :meth:`looked_up_session`."""
        rows = self._rows("SELECT t.id, t.label, t.created_at, t.last_used, t.csrf, u.name, u.role, u.unit, u.enabled, u.created_at "
                          "FROM api_tokens t JOIN users u ON u.name = t.user_name "
                          "WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.enabled = 1", (secret_hash(token),))
        if not rows:
            return None, False
        token_id, label, created_at, last_used, csrf, *user = rows[0]
        now = time.time()
        found = User(user[0], user[1], user[2], bool(user[3]), user[4]), Token(token_id, user[0], label, created_at, now, False, csrf)
        return found, last_used is None or now - last_used > _TOUCH_EVERY_S

    def tokens(self, name: str | None = None) -> list[Token]:
        select = "SELECT id, user_name, label, created_at, last_used, revoked_at FROM api_tokens"
        rows = self._rows(f"{select} WHERE user_name = ? ORDER BY created_at", (name,)) if name else self._rows(f"{select} ORDER BY created_at")
        return [Token(r[0], r[1], r[2], r[3], r[4], r[5] is not None) for r in rows]

    def revoke_token(self, token_id: str) -> bool:
        return self._run("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (time.time(), token_id)) == 1

    # --- login failures ---------------------------------------------------------------------------------

    def add_failure(self, keys: Sequence[str], window_s: float) -> None:
        """Count a failed login against each key (an account, an address); rows older than the window go."""
        now = time.time()
        with self._cursor() as cursor:
            cursor.execute("DELETE FROM login_failures WHERE at < ?", (now - window_s,))
            for key in keys:
                cursor.execute("INSERT INTO login_failures (failure_key, at) VALUES (?, ?)", (key, now))

    def failures(self, key: str, since: float) -> list[float]:
        """When ``key`` failed since ``since``, oldest first."""
        return [row[0] for row in self._rows("SELECT at FROM login_failures WHERE failure_key = ? AND at >= ? ORDER BY at",
                                             (key, since))]

    def clear_failures(self, key: str) -> None:
        self._run("DELETE FROM login_failures WHERE failure_key = ?", (key,))


class _PgCursor:
    """A psycopg cursor that takes the SQLite placeholders, so both databases run the same statements."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence = ()) -> None:
        self._cursor.execute(sql.replace("?", "%s"), tuple(params))

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def open_store(database: str | Path | None = None) -> AccountStore:
    """The account store in ``database`` (None: the default SQLite file; a path; or a ``postgresql://`` URL)."""
    return AccountStore(database)
