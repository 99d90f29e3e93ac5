"""Limits every request lives within: body size, processing time, concurrent checks.

Both guards are plain ASGI middleware so they act before any body is parsed: an
oversized upload is refused while it streams in (413), and a request that takes longer
than the time limit is answered 504 instead of holding the client forever.
"""

from __future__ import annotations

import asyncio
import json
import math
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
    check_threads: int = 4


def error_body(error: InputError) -> dict:
    """The one error shape of the API: the field, the value and the fix, in Chinese and English."""
    message_zh, message_en = error.message.split("\n", 1)
    value = error.value if isinstance(error.value, str | int | float | bool | None) else repr(error.value)
    if isinstance(value, float) and not math.isfinite(value):
        value = repr(value)  # JSON has no NaN or infinity
    return {"error": {"field": error.field, "value": value, "message_zh": message_zh, "message_en": message_en,
                      "message": error.message}}


async def _send_json(send: Send, status: int, body: dict) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})


class _TooLarge(Exception):
    pass


class _TrackedSend:
    """The ASGI send, remembering whether the response has started (no error can be sent after)."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self.send(message)


class BodySizeLimit:
    """Refuse a request body over the limit (uploads get the larger multipart limit)."""

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
        received = 0
        tracked = _TrackedSend(send)

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted_receive, tracked)
        except _TooLarge:
            if not tracked.started:
                await _send_json(send, 413, self._refusal(received, limit))

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
            await asyncio.wait_for(self.app(scope, receive, tracked), self.seconds)
        except asyncio.TimeoutError:
            if not tracked.started:
                await _send_json(send, 504, error_body(InputError(
                    "request", scope.get("path", ""), f"处理超过时限 {self.seconds:g} 秒，请缩小场址文件或稍后重试。",
                    f"processing took longer than {self.seconds:g} s; simplify the site file or retry later.")))
