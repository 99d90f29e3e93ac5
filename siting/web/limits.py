"""Limits every request lives within: body size, processing time, memory, concurrent checks, origin.

These guards are plain ASGI middleware so they act before any body is parsed: an
oversized body is refused while it streams in (413, chunked or not), a request that
takes longer than the time limit is answered 504 instead of holding the client
forever, and a state-changing request from another site is refused (403) before it can
be checked or recorded. The check itself runs in a worker process
(``siting.web.workers``) that is killed when it overruns, so the 504 really frees it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spatial.errors import InputError


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int = 20 * 1024 * 1024
    max_json_bytes: int = 2 * 1024 * 1024
    max_site_vertices: int = 200_000
    max_batch_rows: int = 100
    request_timeout_s: float = 60.0
    check_threads: int = 4  # worker processes; one is always kept for point checks
    check_memory_bytes: int = 2 * 1024 * 1024 * 1024  # address space a check may add to a loaded worker


def _encodable(text: str) -> str:
    """Text UTF-8 can carry: a lone surrogate echoed from the input becomes ``\\udXXX``, never a failed answer."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def error_body(error: InputError) -> dict:
    """The one error shape of the API: the field, the value and the fix, in Chinese and English.

    The echoed value is bounded (a 4,300-digit number or a 2 MB string is shown by its start) and
    made encodable (a lone surrogate is shown as ``\\ud800``), in the value and in the messages.
    """
    value = error.value if isinstance(error.value, str | int | float | bool | None) else repr(error.value)
    if isinstance(value, float) and not math.isfinite(value):
        value = repr(value)  # JSON has no NaN or infinity
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        digits = len(str(abs(value)))  # beyond what a JSON client can hold exactly
        value = f"{str(value)[:20]}…（{digits} 位）"
    if isinstance(value, str):
        value = _encodable(value[:200] + ("…" if len(value) > 200 else ""))
    message = _encodable(InputError(error.field, value, error.fix_zh, error.fix_en).message)
    message_zh, message_en = message.split("\n", 1)
    return {"error": {"field": _encodable(error.field), "value": value, "message_zh": message_zh, "message_en": message_en,
                      "message": message}}


def timeout_error(seconds: float, path: str) -> InputError:
    """The 504 refusal: names the limit (``siting serve --timeout``) and what to do."""
    return InputError("timeout", path, f"处理超过时限 {seconds:g} 秒（siting serve --timeout），已中止；请简化场址文件或稍后重试。",
                      f"processing took longer than the {seconds:g} s limit (siting serve --timeout) and was stopped; "
                      "simplify the site file or retry later.")


async def _send_json(send: Send, status: int, body: dict) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class _TrackedSend:
    """The ASGI send, remembering whether the response has started (no error can be sent after)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class BodySizeLimit:
    """Refuse a request body over the limit (uploads get the larger multipart limit), declared or chunked.

    The body is read here, up to the limit, before the app runs: a chunked body that grows past
    the limit is answered 413 in the error shape, not turned into a parse error by the framework.
    The bytes are kept in ``scope["state"]["body"]`` so a parse failure can say what was wrong, and the
    time the request arrived in ``scope["state"]["started"]``, where a check's deadline starts.
    """

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/")
        limit = self.limits.max_upload_bytes + 64 * 1024 if multipart else self.limits.max_json_bytes
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, self._refusal(int(declared), limit))
            return
        scope.setdefault("state", {})["started"] = time.monotonic()  # a check's deadline counts from here
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: nothing to answer
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                await _send_json(send, 413, self._refusal(received, limit))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        scope["state"]["body"] = body
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _refusal(size: int, limit: int) -> dict:
        megabytes = f"{limit / 1024 / 1024:.1f}"
        return error_body(InputError("body", f"{size} bytes", f"请求或上传文件超过大小上限 {megabytes} MB。",
                                     f"the request or upload exceeds the {megabytes} MB limit."))


class RequestTimeout:
    """Answer 504 when a request takes longer than the limit (the worker finishes and is discarded)."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = _TrackedSend(send)
        try:
            async with asyncio.timeout(self.seconds):  # a timer on this request's task, not a task of its own
                await self.app(scope, receive, tracked)
        except TimeoutError:
            if not tracked.started:
                await _send_json(send, 504, error_body(timeout_error(self.seconds, scope.get("path", ""))))


CSRF_HEADER = "X-CSRF-Token"
# The body types an HTML form on any site can send without asking (no CORS preflight).
_FORM_TYPES = (b"multipart/form-data", b"application/x-www-form-urlencoded", b"text/plain")
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def _origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL (a Referer), lower-cased; '' when it has none."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}".lower() if rest else ""


class SameOrigin:
    """Refuse state-changing requests that another site's page could make (403, before any work or record).

    The rule (README, "Same-origin only"):

    * an ``Origin`` header, or failing that a ``Referer``, must name this server (scheme and Host);
    * a form or upload body (multipart, urlencoded, text/plain: what a cross-site HTML form can send
      without a CORS preflight) must also carry the page's token in the ``X-CSRF-Token`` header;
    * a request with neither ``Origin`` nor ``Referer`` is a non-browser client (browsers send ``Origin``
      on every cross-site POST): it is accepted for JSON or an empty body, and needs the token for
      a form or upload like everyone else. This server sets no cookies, so there is no ambient
      credential for a forged request to ride on.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _send_json(send, 403, error_body(refusal))
            return
        await self.app(scope, receive, send)

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> InputError | None:
        own = f"{scope.get('scheme', 'http')}://{headers.get(b'host', b'').decode('latin-1')}".lower()
        origin = headers.get(b"origin")
        referer = headers.get(b"referer")
        if origin is not None:
            claimed = origin.decode("latin-1").strip().lower()
            if claimed != own:
                return InputError("Origin", claimed[:200], f"拒绝来自其他网站（{claimed[:100]}）的请求：只接受本服务页面（{own}）发出的提交。",
                                  f"refused a request from another site ({claimed[:100]}): only this server's own page ({own}) may submit.")
        elif referer is not None:
            claimed = _origin_of(referer.decode("latin-1").strip())
            if claimed != own:
                return InputError("Referer", claimed[:200], f"拒绝来自其他网站（{claimed[:100]}）的请求：只接受本服务页面（{own}）发出的提交。",
                                  f"refused a request from another site ({claimed[:100]}): only this server's own page ({own}) may submit.")
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind in _FORM_TYPES and not hmac.compare_digest(headers.get(CSRF_HEADER.lower().encode(), b""), self.token):
            return InputError(CSRF_HEADER, None,
                              f"表单与文件上传须带本服务页面的令牌（请求头 {CSRF_HEADER}）：请从本服务的审查网页提交；"
                              "脚本可先 GET /api/csrf-token 取得令牌。",
                              f"forms and uploads must carry this server's page token (header {CSRF_HEADER}): submit from this "
                              "server's page; a script can GET /api/csrf-token first.")
        return None
