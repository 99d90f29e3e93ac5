"""`siting users …` and the account store under it, on SQLite and on PostgreSQL alike:
argon2id hashes, secrets never stored in clear, sessions that expire and end, tokens that revoke,
and login failures that lock an account or an address for a while."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

from siting.accounts import AccountStore, LockedOut, Lockout, hash_password, verify_password
from tests.accounts import PASSWORD, postgres_schema_url

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path) -> str:
    """The account database: a SQLite file, or a schema of its own on the test PostgreSQL server."""
    if request.param == "postgresql":
        return postgres_schema_url(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "accounts.sqlite")


def users(database: str, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", "users", *args, "--database", database],
                          input=password + "\n" if password is not None else "", capture_output=True, text=True, timeout=120,
                          env=os.environ | {"PYTHONIOENCODING": "utf-8"})


def stored_text(database: str) -> str:
    """Everything the account tables hold, as text: where a password or token in clear would show."""
    tables = ("users", "sessions", "api_tokens", "login_failures")
    if database.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(database) as connection:
            return "\n".join(str(connection.execute(f"SELECT * FROM {table}").fetchall()) for table in tables)
    with sqlite3.connect(database) as connection:
        return "\n".join(str(connection.execute(f"SELECT * FROM {table}").fetchall()) for table in tables)


def test_users_add_list_token_revoke_disable_passwd(database):
    added = users(database, "add", "王审查", "--role", "reviewer", "--unit", "环评科", "--password-stdin", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert "王审查" in added.stdout and "reviewer" in added.stdout and "环评科" in added.stdout
    again = users(database, "add", "王审查", "--role", "auditor", "--password-stdin", password=PASSWORD)
    assert again.returncode == 2 and "已存在" in again.stderr and "exists" in again.stderr
    assert users(database, "add", "李数据", "--role", "data-admin", "--password-stdin", password=PASSWORD).returncode == 0

    issued = users(database, "token", "王审查", "--label", "批量核查脚本")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("siting_") and len(token) > 40
    token_id = issued.stderr.split("API 令牌 ")[1].split("（")[0]

    store = AccountStore(database)
    user, found = store.token_user(token)
    assert (user.name, user.role, user.unit, found.id) == ("王审查", "reviewer", "环评科", token_id)
    listing = users(database, "list")
    assert "王审查" in listing.stdout and "审查人员" in listing.stdout and token_id in listing.stdout and "批量核查脚本" in listing.stdout
    assert token not in listing.stdout  # shown once, at issue

    text = stored_text(database)
    assert PASSWORD not in text and token not in text  # only hashes are kept
    assert "$argon2id$" in text

    assert users(database, "revoke-token", token_id).returncode == 0
    assert store.token_user(token) is None
    assert users(database, "revoke-token", token_id).returncode == 2

    session_id, _ = store.create_session("王审查")
    assert users(database, "disable", "王审查").returncode == 0
    assert store.session(session_id) is None  # disabling ends the account's sessions at once
    assert not store.user("王审查").enabled
    assert users(database, "enable", "王审查").returncode == 0
    assert store.session(session_id) is None  # …and they stay ended

    session_id, _ = store.create_session("王审查")
    changed = users(database, "passwd", "王审查", "--password-stdin", password="a new long password")
    assert changed.returncode == 0, changed.stderr
    assert store.session(session_id) is None
    assert verify_password(store.user("王审查").password_hash, "a new long password")
    assert not verify_password(store.user("王审查").password_hash, PASSWORD)
    store.close()


def test_bad_input_is_named_in_both_languages(database):
    short = users(database, "add", "x", "--role", "reviewer", "--password-stdin", password="short")
    assert short.returncode == 2 and "至少 10 个字符" in short.stderr and "at least 10 characters" in short.stderr
    assert "short" not in short.stderr.replace("short.", "")  # the password itself is never echoed
    role = users(database, "add", "x", "--role", "admin", "--password-stdin", password=PASSWORD)
    assert role.returncode == 2 and "reviewer" in role.stderr
    missing = users(database, "disable", "nobody")
    assert missing.returncode == 2 and "没有该账户" in missing.stderr and "no such account" in missing.stderr
    no_terminal = users(database, "add", "y", "--role", "reviewer")
    assert no_terminal.returncode == 2 and "--password-stdin" in no_terminal.stderr


def test_sessions_expire_when_idle_and_when_old(database):
    store = AccountStore(database, idle_s=1.5, absolute_s=60)
    store.add_user("a", "reviewer", "", hash_password(PASSWORD))
    first, csrf = store.create_session("a")
    second, _ = store.create_session("a")
    assert first != second and store.session(first).csrf == csrf
    assert first not in stored_text(database) and second not in stored_text(database)  # ids are stored as hashes
    time.sleep(2)
    assert store.session(first) is None  # idle too long
    old = AccountStore(database, idle_s=60, absolute_s=1)
    third, _ = old.create_session("a")
    assert old.session(third) is not None
    time.sleep(1.5)
    assert old.session(third) is None  # lived too long, however busy
    assert store.end_session(second) is False  # already gone
    live, _ = old.create_session("a")
    fresh = AccountStore(database)
    assert fresh.end_session(live) and fresh.session(live) is None
    for each in (store, old, fresh):
        each.close()


def test_twenty_failures_lock_the_account_and_say_when_to_retry(database):
    store = AccountStore(database)
    lockout = Lockout(store)
    for _ in range(19):
        lockout.failed("王审查", "10.0.0.9")
    lockout.check("王审查", "10.0.0.9")  # 19 failures: still allowed
    lockout.failed("王审查", "10.0.0.9")
    with pytest.raises(LockedOut) as locked:
        lockout.check("王审查", "10.0.0.7")  # the account is locked from every address
    assert locked.value.subject == "account" and 14 * 60 < locked.value.retry_after_s <= 15 * 60
    zh, en = locked.value.messages()
    assert "北京时间" in zh and "分钟后" in zh and "try again after" in en and "Beijing time" in en
    lockout.check("李数据", "10.0.0.9")  # another account from the same address is not
    store.close()


def test_many_failures_from_one_address_lock_that_address(database):
    store = AccountStore(database)
    lockout = Lockout(store, address_limit=30)
    for index in range(30):
        lockout.failed(f"guess{index}", "192.0.2.1")
    with pytest.raises(LockedOut) as locked:
        lockout.check("王审查", "192.0.2.1")
    assert locked.value.subject == "address" and locked.value.value == "192.0.2.1"
    lockout.check("王审查", "192.0.2.2")
    lockout.succeeded("guess0")  # a success clears the account's count, never the address's
    with pytest.raises(LockedOut):
        lockout.check("guess0", "192.0.2.1")
    store.close()
