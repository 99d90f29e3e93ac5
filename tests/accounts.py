"""Accounts for web tests: a data directory of a module's own with users in it, and logged-in HTTP clients."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from siting.accounts import AccountStore, hash_password, open_store

PASSWORD = "correct horse battery"
_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def module_data_dir(shared: Path, root: Path) -> Path:
    """A data directory of its own (its own audit log, accounts, imports) sharing the built default layers."""
    root.mkdir(parents=True, exist_ok=True)
    for name in ("layers", "sources"):
        (root / name).symlink_to(shared / name)
    return root


def add_users(store: AccountStore, *users: tuple[str, str, str]) -> None:
    """(name, role, unit) accounts, all with PASSWORD."""
    digest = hash_password(PASSWORD)
    for name, role, unit in users:
        assert store.add_user(name, role, unit, digest)


@dataclass
class LoggedIn:
    """An HTTP client holding a session cookie, and the session's CSRF token."""

    client: httpx.Client
    csrf: str
    session_id: str

    def post(self, path: str, **kwargs) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf} | kwargs.pop("headers", {})
        return self.client.post(path, headers=headers, **kwargs)


def login_token(client: httpx.Client) -> str:
    """The login page's double-submit token (its cookie is now in ``client``)."""
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return _META.search(page.text).group(1)


@contextmanager
def logged_in(base: str, name: str, password: str = PASSWORD) -> Iterator[LoggedIn]:
    with httpx.Client(base_url=base, timeout=60) as client:
        answer = client.post("/api/login", json={"name": name, "password": password}, headers={"X-CSRF-Token": login_token(client)})
        assert answer.status_code == 200, answer.text
        yield LoggedIn(client, answer.json()["csrf_token"], client.cookies["siting_session"])


def postgres_schema_url(postgres_url: str) -> str:
    """A schema of its own in the test PostgreSQL database, as a URL whose connections use it."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    return f"{postgres_url}?options=-csearch_path%3D{schema}"


def store_for(kind: str, tmp_path: Path, postgres_url: str | None) -> AccountStore:
    return open_store(postgres_schema_url(postgres_url) if kind == "postgresql" and postgres_url else tmp_path / "accounts.sqlite")
