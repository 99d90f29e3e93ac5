"""The audit tests' two stores: each test's log in its own SQLite file, or in its own schema of the session's
real PostgreSQL server (``postgres_url``), so the same tests hold for both."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_database(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """A fresh, empty place for one audit log: what ``open_audit_log`` and ``--database`` take."""
    if request.param == "sqlite":
        yield str(tmp_path / "audit.sqlite3")
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")
