"""A server with accounts, on a loopback port: nothing but the login page and the health check answers
a stranger, sessions are server-side and end at logout, every state-changing request needs the
session's token, repeated wrong passwords lock the account, API tokens and single sign-on work only as
configured, every response carries the security headers, and an open address without accounts is refused."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount

from siting.accounts import open_store
from siting.web.app import create_app
from siting.web.auth import AuthSettings
from tests.accounts import PASSWORD, add_users, logged_in, login_token, module_data_dir, postgres_schema_url
from tests.webapp import free_port, running_server

PUBLIC = {("GET", "/login"), ("GET", "/api/health"), ("POST", "/api/login")}
SAMPLE_PARAMS = {"check_id": "C20260101T000000-0123456789ab", "target": "units_priority"}


@pytest.fixture(scope="module")
def server(data_dir, layers, tmp_path_factory) -> tuple[str, Path]:
    """`siting serve` with four accounts; 127.0.0.1 stands for the agency's reverse proxy (TLS and single sign-on)."""
    root = module_data_dir(data_dir, tmp_path_factory.mktemp("accounts") / "data")
    store = open_store(root / "accounts.sqlite")
    add_users(store, ("reviewer1", "reviewer", "环评科"), ("locked", "reviewer", ""), ("admin1", "data-admin", ""),
              ("sso-user", "auditor", ""))
    store.close()
    with running_server(root, "--check-threads", "2", "--trusted-proxy", "127.0.0.1", "--sso-header", "X-Remote-User",
                        "--allowed-hosts", "siting.example.gov.cn") as base:
        yield base, root


def routes(tmp_path: Path) -> list[tuple[str, str]]:
    """Every (method, path) the app answers, with sample path parameters."""
    app = create_app(accounts=AuthSettings(open_store(tmp_path / "accounts.sqlite")))
    found = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            found += [(method, route.path.format(**SAMPLE_PARAMS)) for method in sorted(route.methods)]
        elif isinstance(route, Mount):
            found += [("GET", f"{route.path}/app.js"), ("GET", f"{route.path}/index.html")]
        else:  # FastAPI's own pages (openapi.json)
            found += [("GET", route.path)]
    return found


def test_a_stranger_gets_401_or_the_login_page_on_every_route_but_login_and_health(server, tmp_path):
    base, _ = server
    walked = routes(tmp_path)
    assert len(walked) > 25 and ("POST", "/api/check") in walked and ("DELETE", "/api/layers/units_priority") in walked
    with httpx.Client(base_url=base, timeout=30) as client:
        for method, path in walked:
            if (method, path) in PUBLIC:
                continue
            answer = client.request(method, path, json={} if method in ("POST", "DELETE") else None)
            assert answer.status_code == 401, (method, path, answer.status_code, answer.text[:200])
            error = answer.json()["error"]
            assert "需要登录" in error["message_zh"] and "login required" in error["message_en"], (method, path)
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        page = client.get("/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"] == "/login?next=%2F"
        assert client.get("/api/health").status_code == 200
        assert client.get("/login").status_code == 200
        assert client.get("/static/login.js").status_code == 200


def test_login_gives_a_strict_httponly_cookie_a_new_id_each_time_and_logout_ends_it(server):
    base, _ = server
    with logged_in(base, "reviewer1") as first:
        me = first.client.get("/api/me").json()
        assert (me["user"], me["role"], me["unit"], me["accounts"]) == ("reviewer1", "reviewer", "环评科", True)
        old_id = first.session_id
        again = first.client.post("/api/login", json={"name": "reviewer1", "password": PASSWORD},
                                  headers={"X-CSRF-Token": login_token(first.client)})
        assert again.status_code == 200
        cookie = again.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie  # plain HTTP: not Secure
        new_id = first.client.cookies["siting_session"]
        assert new_id != old_id  # rotation: a new id at every login
        stolen = httpx.get(f"{base}/api/me", cookies={"siting_session": old_id})
        assert stolen.status_code == 401  # the id held before the login no longer works

        kept = new_id
        assert first.post("/api/logout").status_code == 403  # the old session's token went with it
        first.csrf = again.json()["csrf_token"]
        assert first.post("/api/logout").json() == {"logged_out": True}
        assert first.client.get("/api/me").status_code == 401
    replayed = httpx.get(f"{base}/api/me", cookies={"siting_session": kept})
    assert replayed.status_code == 401  # a stolen cookie of a logged-out session is refused
    assert "siting_session=" in replayed.headers.get("set-cookie", "")  # and the browser is told to forget it


def test_over_tls_behind_the_trusted_proxy_the_cookie_is_secure(server):
    base, _ = server
    with httpx.Client(base_url=base, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}) as client:
        page = client.get("/login")
        assert "Secure" in page.headers["set-cookie"]  # the login form's cookie too
        token = page.cookies["siting_login"]  # the test client speaks plain HTTP to the "proxy": send it by hand
        answer = client.post("/api/login", json={"name": "reviewer1", "password": PASSWORD},
                             headers={"X-CSRF-Token": token, "Cookie": f"siting_login={token}",
                                      "Origin": base.replace("http://", "https://")})
        assert answer.status_code == 200, answer.text
        assert "Secure" in answer.headers["set-cookie"] and "SameSite=strict" in answer.headers["set-cookie"]


def test_state_changing_requests_need_the_sessions_token(server, mill_site):
    base, _ = server
    point = {"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸"}
    with logged_in(base, "reviewer1") as session:
        no_token = session.client.post("/api/check", json=point)
        assert no_token.status_code == 403
        assert no_token.json()["error"]["field"] == "X-CSRF-Token" and "本会话的令牌" in no_token.json()["error"]["message_zh"]
        wrong = session.client.post("/api/check", json=point, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        form = session.client.post("/api/check/file", data={"industry": "造纸"},
                                   files={"file": ("site.geojson", b'{"type":"Point","coordinates":[111.2,35.6]}')})
        assert form.status_code == 403  # a CSRF-less form post
        other_site = session.post("/api/check", json=point, headers={"Origin": "https://evil.example"})
        assert other_site.status_code == 403 and other_site.json()["error"]["field"] == "Origin"
        assert session.client.get("/api/csrf-token").json()["token"] == session.csrf
        checked = session.post("/api/check", json=point)
        assert checked.status_code == 200, checked.text
        assert checked.json()["audit"]["check_id"]


def test_the_login_form_itself_needs_its_double_submit_token(server):
    base, _ = server
    with httpx.Client(base_url=base) as client:
        form = client.post("/api/login", data={"name": "reviewer1", "password": PASSWORD})
        assert form.status_code == 403 and "登录表单" in form.json()["error"]["message_zh"]
        token = login_token(client)
        client.cookies.clear()
        no_cookie = client.post("/api/login", json={"name": "reviewer1", "password": PASSWORD}, headers={"X-CSRF-Token": token})
        assert no_cookie.status_code == 403  # the header alone (a forger can't set the cookie) is not enough
        token = login_token(client)
        cross = client.post("/api/login", json={"name": "reviewer1", "password": PASSWORD},
                            headers={"X-CSRF-Token": token, "Origin": "https://evil.example"})
        assert cross.status_code == 403


def test_twenty_wrong_passwords_lock_the_account_with_a_time_to_retry(server):
    base, _ = server
    with httpx.Client(base_url=base, timeout=60) as client:
        token = login_token(client)
        for attempt in range(20):
            wrong = client.post("/api/login", json={"name": "locked", "password": f"wrong password {attempt}"},
                                headers={"X-CSRF-Token": token})
            assert wrong.status_code == 401, (attempt, wrong.text)
            assert "账户名或密码不正确" in wrong.json()["error"]["message_zh"]
        right = client.post("/api/login", json={"name": "locked", "password": PASSWORD}, headers={"X-CSRF-Token": token})
        assert right.status_code == 429
        error = right.json()["error"]
        assert "已暂时锁定" in error["message_zh"] and "北京时间" in error["message_zh"]
        assert "try again after" in error["message_en"]
        assert 0 < int(right.headers["Retry-After"]) <= 15 * 60
    with logged_in(base, "reviewer1"):  # another account is not locked
        pass


def test_api_tokens_authenticate_scripts_until_revoked(server, mill_site):
    base, root = server
    database = str(root / "accounts.sqlite")
    env = os.environ | {"SITING_DATA_DIR": str(root)}
    issued = subprocess.run([sys.executable, "-m", "siting", "users", "token", "reviewer1", "--database", database],
                            capture_output=True, text=True, env=env, check=True)
    token = issued.stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    checked = httpx.post(f"{base}/api/check", json={"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸"}, headers=bearer, timeout=60)
    assert checked.status_code == 200, checked.text  # no ambient credential: JSON needs no CSRF token
    assert httpx.get(f"{base}/api/checks", headers=bearer).status_code == 200
    token_id = issued.stderr.split("API 令牌 ")[1].split("（")[0]
    subprocess.run([sys.executable, "-m", "siting", "users", "revoke-token", token_id, "--database", database], env=env, check=True)
    refused = httpx.get(f"{base}/api/checks", headers=bearer)
    assert refused.status_code == 401 and "已吊销" in refused.json()["error"]["message_zh"]


def test_session_and_token_lookups_write_only_when_a_write_is_due(tmp_path):
    """The gate reads a session or a token on the event loop (SQLite in WAL never makes a read wait) and sends
    the lookup to a thread only for a write: the last-seen time, at most every 30 s, or an ended session's row."""
    store = open_store(tmp_path / "accounts.sqlite")
    store.add_user("王五", "reviewer", "二科", "not a hash: never logged in with")
    session_id, csrf = store.create_session("王五")
    found, due = store.looked_up_session(session_id)
    assert (found.user.name, found.user.unit, found.csrf, due) == ("王五", "二科", csrf, False)

    def age(seconds: float) -> None:
        with sqlite3.connect(tmp_path / "accounts.sqlite") as connection:
            connection.execute("UPDATE sessions SET seen_at = seen_at - ?", (seconds,))

    age(31)
    assert store.looked_up_session(session_id)[1] is True, "a touch is due"
    assert store.session(session_id).user.name == "王五"
    assert store.looked_up_session(session_id)[1] is False, "touched: no write due for another 30 s"
    age(store.idle_s + 1)
    assert store.looked_up_session(session_id) == (None, True), "idle too long: its row is to be deleted"
    assert store.session(session_id) is None
    assert store.looked_up_session(session_id) == (None, False), "deleted"
    token_id, token = store.add_token("王五", "脚本")
    (user, held), due = store.looked_up_token(token)
    assert (user.name, held.id, due) == ("王五", token_id, True), "never used: its first use is written"
    store.token_user(token)
    assert store.looked_up_token(token)[1] is False
    store.revoke_token(token_id)
    assert store.looked_up_token(token) == (None, False)
    store.close()


def test_single_sign_on_header_from_the_trusted_proxy_names_an_existing_user(server):
    base, _ = server
    with httpx.Client(base_url=base) as client:
        me = client.get("/api/me", headers={"X-Remote-User": "sso-user"})
        assert me.status_code == 200 and (me.json()["user"], me.json()["role"], me.json()["via"]) == ("sso-user", "auditor", "sso")
        assert "siting_session" in client.cookies  # a session, so that its CSRF token binds the page's posts
        unknown = client.get("/api/me", headers={"X-Remote-User": "nobody"})
        assert unknown.status_code == 403 and "没有账户" in unknown.json()["error"]["message_zh"]


def test_every_response_carries_the_security_headers(server):
    base, _ = server
    with logged_in(base, "reviewer1") as session:
        answers = [session.client.get(path) for path in ("/", "/login", "/static/app.js", "/api/rules", "/api/nope", "/api/overview-map")]
        answers += [httpx.get(f"{base}/api/checks"), httpx.post(f"{base}/api/login", json={})]
        for answer in answers:
            headers = answer.headers
            assert headers["X-Content-Type-Options"] == "nosniff", answer.url
            assert headers["Referrer-Policy"] == "same-origin" and headers["X-Frame-Options"] == "SAMEORIGIN"
            assert "frame-ancestors 'self'" in headers["Content-Security-Policy"], answer.url
        page, overview = answers[0], answers[5]
        assert "script-src 'self';" in page.headers["Content-Security-Policy"]  # no inline script on the app's pages
        assert "unsafe-inline" in overview.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]  # map pages keep theirs


def test_only_the_allowed_host_names_are_served(server):
    base, _ = server
    assert httpx.get(f"{base}/api/health", headers={"Host": "siting.example.gov.cn"}).status_code == 200
    assert httpx.get(f"{base}/api/health", headers={"Host": "localhost"}).status_code == 200
    assert httpx.get(f"{base}/api/health", headers={"Host": "rebound.example.com"}).status_code == 400


def test_an_open_address_without_accounts_is_refused_with_the_fix(tmp_path):
    env = os.environ | {"SITING_DATA_DIR": str(tmp_path)}
    refused = subprocess.run([sys.executable, "-m", "siting", "serve", "--host", "0.0.0.0", "--port", str(free_port())],
                             capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2
    assert "siting users add" in refused.stderr and "须先配置账户" in refused.stderr and "needs accounts" in refused.stderr
    sso = subprocess.run([sys.executable, "-m", "siting", "serve", "--sso-header", "X-Remote-User"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert sso.returncode == 2 and "--trusted-proxy" in sso.stderr


def test_accounts_and_audit_on_postgresql_serve_the_same_way(data_dir, layers, tmp_path, postgres_url, mill_site):
    database = postgres_schema_url(postgres_url)
    store = open_store(database)
    add_users(store, ("pg-reviewer", "reviewer", "环评科"))
    store.close()
    root = module_data_dir(data_dir, tmp_path / "data")
    with running_server(root, "--check-threads", "1", "--database", database) as base:
        with logged_in(base, "pg-reviewer") as session:
            checked = session.post("/api/check", json={"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸"})
            assert checked.status_code == 200, checked.text
            listed = session.client.get("/api/checks").json()["checks"]
            assert [(c["id"], c["user"]) for c in listed] == [(checked.json()["audit"]["check_id"], "pg-reviewer")]
            kept = session.session_id
            assert session.post("/api/logout").status_code == 200
        assert httpx.get(f"{base}/api/me", cookies={"siting_session": kept}).status_code == 401
    assert not (root / "accounts.sqlite").exists()  # nothing went to the SQLite default
    with psycopg.connect(database) as connection:  # both stores are in the one PostgreSQL schema
        assert connection.execute('SELECT "user" FROM checks').fetchall() == [("pg-reviewer",)]
        assert connection.execute("SELECT count(*) FROM sessions").fetchone() == (0,)
