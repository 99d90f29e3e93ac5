"""Security headers on every response: pages, API answers, static files, offline map pages, and refusals.

Plain ASGI middleware outside all the others, so a 401, 403, 413 or 504 written by another middleware
carries them too. A response that sets its own Content-Security-Policy keeps it (the map pages need
inline scripts); every policy forbids framing by other sites.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["MAP_CSP", "PAGE_CSP", "SecurityHeaders"]

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "frame-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
# Map pages carry their scripts inline and leaflet-measure compiles its templates at run time;
# they still may load nothing from outside this server.
MAP_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
           "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
           "frame-ancestors 'self'")
_ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "SAMEORIGIN"}


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", PAGE_CSP)
                for name, value in _ALWAYS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)
