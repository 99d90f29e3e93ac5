"""Who is calling: login, server-side sessions, API tokens, single sign-on, CSRF bound to the caller, roles.

Used only when accounts are configured (``siting users add``); the desktop mode (loopback, no accounts)
keeps the single local user and the per-run page token of :class:`siting.web.limits.SameOrigin`.

* A browser logs in on ``/login`` and gets a random session id in a cookie (HttpOnly, SameSite=Strict,
  Secure over TLS) naming a session kept in the account database; a new id at every login, deleted at
  logout, refused after 30 minutes idle or 12 hours in all (``siting.accounts.store``).
* A script sends ``Authorization: Bearer <token>`` (``siting users token``).
* An agency's single-sign-on proxy may name the user in a header (``--sso-header``), believed only from
  ``--trusted-proxy`` addresses; the user must exist in the store, which gives the role.
* Every state-changing request from a session carries that session's token in ``X-CSRF-Token`` (whatever
  its body type), on top of the Origin check of ``SameOrigin``; the login form is a double submit (a cookie
  and the page's copy of it must agree) with the same Origin check.
* Anything but the login page, its assets and ``/api/health`` needs a caller: a 401 in the API's error
  shape, or for a page a redirect to the login page. A role that may not do something gets a 403 naming
  the roles that may.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

import anyio
from fastapi import Body, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from siting.accounts import AccountStore, LockedOut, Lockout, Permission, Role, permits, roles_for, verify_password
from siting.accounts.passwords import hash_password, needs_rehash
from siting.accounts.roles import ROLE_NAMES
from siting.audit.log import LOCAL_ACTOR, Actor
from siting.web.limits import CSRF_HEADER, SameOrigin, error_body
from spatial.errors import InputError

__all__ = [
    "LOGIN_COOKIE", "SESSION_COOKIE", "AccountGate", "AuthSettings", "Forbidden", "Identity", "add_account_routes", "caller",
    "forbidden_body", "identity_of", "permitted",
]

SESSION_COOKIE = "siting_session"
LOGIN_COOKIE = "siting_login"  # the login form's double-submit token
_PUBLIC = {("GET", "/login"), ("GET", "/static/login.js"), ("GET", "/static/app.css"), ("GET", "/api/health"),
           ("HEAD", "/api/health"), ("POST", "/api/login")}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class AuthSettings:
    """How a server with accounts knows its callers (``siting serve`` options)."""

    store: AccountStore
    sso_header: str | None = None
    trusted_proxies: tuple[_Network, ...] = ()
    share_unit: bool = False
    lockout: Lockout = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lockout", Lockout(self.store))

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)


@dataclass(frozen=True)
class Identity:
    """The caller of one request: the actor for the audit log, how it was known, the CSRF token it must send."""

    actor: Actor
    via: str  # "session" | "token" | "sso" | "local"
    csrf: str
    session_id: str | None = None

    def to_dict(self, accounts: bool) -> dict:
        role = Role(self.actor.role)
        return {"user": self.actor.user, "role": role.value, "role_label": ROLE_NAMES[role], "unit": self.actor.unit,
                "via": self.via, "accounts": accounts, "permissions": [p.value for p in Permission if permits(role.value, p)]}


LOCAL_IDENTITY = Identity(LOCAL_ACTOR, "local", "")


def _refusal(status: int, error: InputError, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=status, headers=headers)


def _anonymous() -> InputError:
    return InputError("Authorization", None, "需要登录：请在 /login 登录，或在请求头 Authorization: Bearer 中给出 API 令牌（siting users token）。",
                      "login required: log in at /login, or send an API token (siting users token) as Authorization: Bearer.")


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:  # a malformed cookie header is no cookie
                return None
            if name in jar:
                return jar[name].value
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def set_cookie(response: Response, scope: Scope, name: str, value: str, max_age: int | None = None) -> None:
    """A cookie only this server's own pages send back: HttpOnly, SameSite=Strict, Secure when the request came over TLS."""
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=scope.get("scheme") == "https")


def clear_cookie(response: Response, scope: Scope, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="strict", secure=scope.get("scheme") == "https")


class AccountGate:
    """ASGI middleware: resolve the caller, refuse the anonymous and CSRF-less, then apply ``SameOrigin``."""

    def __init__(self, app: ASGIApp, settings: AuthSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self._behind_proxy(scope)
        state = scope.setdefault("state", {})
        store = self.settings.store
        identity, new_session, refusal = await self._identify(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if identity is None and (method, path) not in _PUBLIC:
            stale = _cookie(scope, SESSION_COOKIE) is not None
            if method in ("GET", "HEAD") and not path.startswith("/api/") and "text/html" in (_header(scope, b"accept") or ""):
                wanted = path + (f"?{scope['query_string'].decode('latin-1')}" if scope.get("query_string") else "")
                response: Response = RedirectResponse(f"/login?next={quote(wanted, safe='')}", status_code=303)
            else:
                response = _refusal(401, _anonymous(), {"WWW-Authenticate": 'Bearer realm="siting"'})
            if stale:  # a session that ended (logout, expiry): the browser may forget its cookie
                clear_cookie(response, scope, SESSION_COOKIE)
            await response(scope, receive, send)
            return
        state["identity"] = identity
        login = (method, path) == ("POST", "/api/login")  # a double submit, logged in already or not
        expected = (_cookie(scope, LOGIN_COOKIE) or "") if login or identity is None else identity.csrf
        if method in _UNSAFE and (login or identity is None or identity.via in ("session", "sso")):
            presented = _header(scope, CSRF_HEADER.lower().encode()) or ""
            if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
                await _refusal(403, _csrf_missing(login))(scope, receive, send)
                return
        if new_session is not None:
            send = _with_session_cookie(send, scope, new_session, store.absolute_s)
        await SameOrigin(self.app, expected or secrets.token_urlsafe(32))(scope, receive, send)

    def _behind_proxy(self, scope: Scope) -> None:
        """Behind a trusted reverse proxy: the client's address and scheme as the proxy reports them."""
        peer = (scope.get("client") or ("", 0))[0]
        scope.setdefault("state", {})["peer"] = peer
        if not self.settings.trusted(peer):
            return
        forwarded = [part.strip() for part in (_header(scope, b"x-forwarded-for") or "").split(",") if part.strip()]
        while forwarded and self.settings.trusted(forwarded[-1]):
            forwarded.pop()
        if forwarded:
            scope["client"] = (forwarded[-1], 0)
        if (_header(scope, b"x-forwarded-proto") or "").strip().lower() == "https":
            scope["scheme"] = "https"

    async def _identify(self, scope: Scope) -> tuple[Identity | None, str | None, ASGIApp | None]:
        """(identity or None, a session id to set as cookie, a refusal to send instead)."""
        store = self.settings.store
        authorization = _header(scope, b"authorization")
        if authorization is not None:
            scheme, _, token = authorization.partition(" ")
            found = await _looked_up(store, store.looked_up_token, store.token_user, token.strip()) if scheme.lower() == "bearer" else None
            if found is None:
                return None, None, _refusal(401, InputError(
                    "Authorization", scheme[:20], "API 令牌无效、已吊销，或其账户已停用；请用 siting users token 签发新令牌。",
                    "the API token is unknown or revoked, or its account is disabled; issue a new one with siting users token."),
                    {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            user, token_row = found
            return Identity(Actor(user.name, user.role, user.unit), "token", token_row.csrf), None, None
        session_id = _cookie(scope, SESSION_COOKIE)
        session = await _looked_up(store, store.looked_up_session, store.session, session_id) if session_id else None
        sso_name = _header(scope, self.settings.sso_header.lower().encode()) if self.settings.sso_header else None
        if sso_name is not None and self.settings.trusted(scope["state"]["peer"]):
            sso_name = unquote(sso_name.strip())
            if session is not None and session.user.name == sso_name:
                return Identity(Actor(sso_name, session.user.role, session.user.unit), "sso", session.csrf, session_id), None, None
            user = await anyio.to_thread.run_sync(store.user, sso_name)
            if user is None or not user.enabled:
                return None, None, _refusal(403, InputError(
                    self.settings.sso_header or "", sso_name[:64], "单点登录给出的用户在本服务没有账户或已停用；请管理员用 siting users add 添加。",
                    "the single-sign-on user has no enabled account here; an administrator adds it with siting users add."))
            new_id, csrf = await anyio.to_thread.run_sync(store.create_session, user.name)
            return Identity(Actor(user.name, user.role, user.unit), "sso", csrf, new_id), new_id, None
        if session is not None:
            return Identity(Actor(session.user.name, session.user.role, session.user.unit), "session", session.csrf, session_id), None, None
        return None, None, None


async def _looked_up(store: AccountStore, read: Callable[[str], tuple[Any, bool]], lookup: Callable[[str], Any], secret: str) -> Any:
    """A session's or token's row, read on the event loop when the store reads without waiting (SQLite WAL):
    no thread hop per request. ``lookup`` (which also writes) goes to a thread only when a write is due
    (at most every 30 s per session or token) or the store is PostgreSQL."""
    if store.reads_without_waiting:
        found, due = read(secret)
        if not due:
            return found
    return await anyio.to_thread.run_sync(lookup, secret)


def _with_session_cookie(send: Send, scope: Scope, session_id: str, max_age: float) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            carrier = Response()
            set_cookie(carrier, scope, SESSION_COOKIE, session_id, int(max_age))
            message = message | {"headers": [*message.get("headers", []), *carrier.raw_headers[-1:]]}
        await send(message)

    return sending


def _csrf_missing(login: bool) -> InputError:
    if login:
        return InputError(CSRF_HEADER, None, "登录表单缺少或带错了本页令牌：请重新打开 /login 页面再登录。",
                          "the login form lacks this page's token or carries a wrong one: open /login again and log in.")
    return InputError(CSRF_HEADER, None,
                      f"提交须带本会话的令牌（请求头 {CSRF_HEADER}）：请从本服务的审查网页提交；脚本请改用 API 令牌（Authorization: Bearer）"
                      "或先 GET /api/csrf-token 取得本会话的令牌。",
                      f"a submission must carry this session's token (header {CSRF_HEADER}): submit from this server's page; a script "
                      "uses an API token (Authorization: Bearer) or GETs /api/csrf-token first.")


# --- roles --------------------------------------------------------------------------------------------


class Forbidden(Exception):
    """The caller's role may not do this: the 403 names the roles that may."""

    def __init__(self, actor: Actor, permission: Permission, detail_zh: str = "", detail_en: str = "") -> None:
        super().__init__(actor, permission)
        self.actor = actor
        self.permission = permission
        self.detail_zh = detail_zh
        self.detail_en = detail_en


def forbidden_body(error: Forbidden) -> dict:
    needed = roles_for(error.permission)
    zh = "、".join(f"{ROLE_NAMES[r]}（{r.value}）" for r in needed)
    en = " or ".join(r.value for r in needed)
    try:
        have = ROLE_NAMES[Role(error.actor.role)]
    except ValueError:
        have = error.actor.role
    return error_body(InputError("role", error.actor.role,
                                 f"{error.detail_zh or '此操作'}须由{zh}进行；当前账户 {error.actor.user} 是{have}。",
                                 f"{error.detail_en or 'this action'} needs the role {en}; account {error.actor.user} is {error.actor.role}."))


def identity_of(request: Request) -> Identity:
    """The request's caller: the desktop mode's local user, or whoever ``AccountGate`` let through."""
    if request.app.state.accounts is None:
        return LOCAL_IDENTITY
    identity = request.scope.get("state", {}).get("identity")
    if identity is None:  # only public routes run without a caller, and they never ask for one
        raise InputError("Authorization", None, "需要登录。", "login required.")
    return identity


async def caller(request: Request) -> Actor:
    """A route dependency: the caller's Actor. A coroutine, so FastAPI runs it on the event loop: a plain
    function would be sent to its thread pool, a thread hop per request for a dictionary lookup."""
    return identity_of(request).actor


def permitted(permission: Permission, zh: str = "", en: str = "") -> Callable[[Request], Coroutine[Any, Any, Actor]]:
    """A route dependency: the caller's Actor when its role may do ``permission``, else a 403 (a coroutine,
    like :func:`caller`)."""

    async def dependency(request: Request) -> Actor:
        actor = identity_of(request).actor
        if not permits(actor.role, permission):
            raise Forbidden(actor, permission, zh, en)
        return actor

    return dependency


# --- the login page and the account routes ------------------------------------------------------------


class Login(BaseModel):
    name: str = Field(min_length=1, max_length=64, description="账户名")
    password: str = Field(min_length=1, max_length=1024, description="密码")


def _local_path(target: str | None) -> str:
    """Where to go after login: a path on this server only (never ``//other.site`` or a full URL)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def add_account_routes(app: FastAPI, settings: AuthSettings | None, static: Path) -> None:
    """``/login``, ``/api/login``, ``/api/logout`` and ``/api/me`` on ``app``."""

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request, next: str | None = None) -> Response:
        if settings is None:  # the desktop mode has no login
            return RedirectResponse(_local_path(next), status_code=303)
        token = _cookie(request.scope, LOGIN_COOKIE) or secrets.token_urlsafe(32)
        html = (static / "login.html").read_text(encoding="utf-8")
        response = HTMLResponse(html.replace("</head>", f'<meta name="csrf-token" content="{token}">\n</head>', 1))
        set_cookie(response, request.scope, LOGIN_COOKIE, token)
        return response

    @app.post("/api/login", summary="登录：账户名与密码（须带请求头 X-CSRF-Token：登录页的令牌）", tags=["账户"])
    async def login(request: Request, body: Annotated[Login, Body()]) -> Response:
        if settings is None:
            raise InputError("name", body.name, "本服务未配置账户（本机单用户模式），无需登录。",
                             "this server has no accounts (desktop mode): no login needed.")
        address = (request.scope.get("client") or ("",))[0]
        try:
            await anyio.to_thread.run_sync(settings.lockout.check, body.name, address)
        except LockedOut as locked:
            zh, en = locked.messages()
            return _refusal(429, InputError("name" if locked.subject == "account" else "address", locked.value, zh, en),
                            {"Retry-After": str(locked.retry_after_s)})
        user = await anyio.to_thread.run_sync(settings.store.user, body.name)
        usable = user is not None and user.enabled
        if not await anyio.to_thread.run_sync(verify_password, user.password_hash if usable else None, body.password):
            await anyio.to_thread.run_sync(settings.lockout.failed, body.name, address)
            return _refusal(401, InputError("password", "（不显示）", "账户名或密码不正确，或账户已停用。",
                                            "wrong account name or password, or the account is disabled."))
        assert user is not None
        await anyio.to_thread.run_sync(settings.lockout.succeeded, user.name)
        if needs_rehash(user.password_hash):
            await anyio.to_thread.run_sync(settings.store.set_password, user.name, hash_password(body.password))
        old = _cookie(request.scope, SESSION_COOKIE)
        if old:  # rotation: the id a browser had before login never becomes a logged-in session
            await anyio.to_thread.run_sync(settings.store.end_session, old)
        session_id, csrf = await anyio.to_thread.run_sync(settings.store.create_session, user.name)
        identity = Identity(Actor(user.name, user.role, user.unit), "session", csrf, session_id)
        response = JSONResponse(identity.to_dict(True) | {"csrf_token": csrf})
        set_cookie(response, request.scope, SESSION_COOKIE, session_id, int(settings.store.absolute_s))
        clear_cookie(response, request.scope, LOGIN_COOKIE)
        return response

    @app.post("/api/logout", summary="退出登录：结束本会话（服务器端删除）", tags=["账户"])
    async def logout(request: Request) -> Response:
        identity = identity_of(request)
        if settings is not None and identity.session_id:
            await anyio.to_thread.run_sync(settings.store.end_session, identity.session_id)
        response = JSONResponse({"logged_out": identity.session_id is not None})
        clear_cookie(response, request.scope, SESSION_COOKIE)
        return response

    @app.get("/api/me", summary="当前用户：账户名、角色、单位及其可做的事", tags=["账户"])
    async def me(request: Request) -> dict[str, Any]:
        return identity_of(request).to_dict(settings is not None)
