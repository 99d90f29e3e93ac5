"""Headless Debian chromium for page tests, with the network cut off except for loopback.

Permit networks are often offline, so every page the product writes must work with no
internet: `offline_page` aborts any request to a host outside ``allow`` and records
console errors and failed requests for the test to assert on. The browser is Debian's
``/usr/bin/chromium`` (installed by scripts/setup_env.sh), driven by the PyPI
``playwright`` client; ``playwright install`` is never needed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route, WebSocketRoute, sync_playwright

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
LOCAL_SCHEMES = frozenset({"file", "data", "blob", "about"})


def chromium_path() -> Path:
    """Debian's chromium binary (SITING_CHROMIUM overrides); a clear failure when it is missing."""
    candidates = [os.environ.get("SITING_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file():
            return Path(candidate)
    raise RuntimeError("Debian chromium not found at /usr/bin/chromium; run scripts/setup_env.sh as root "
                       "(apt-get install chromium) or set SITING_CHROMIUM.")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the whole test session."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class OfflinePage:
    """A page in its own browser context whose requests outside loopback are aborted."""

    page: Page
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)

    def close(self) -> None:
        self.page.context.close()


LAPTOP = (1366, 768)  # the reviewer's laptop screen the page is laid out for


def offline_page(browser: Browser, allow: Iterable[str] = ("127.0.0.1", "localhost"),
                 viewport: tuple[int, int] = (1280, 900)) -> OfflinePage:
    """A fresh page that may reach only ``allow`` hosts and local schemes (file:, data:, blob:).

    Blocked requests are aborted, so they also appear in ``failed_requests``: a page that
    tries to reach a CDN or tile server fails the test that asserts none failed.
    """
    allowed = frozenset(allow)
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, service_workers="block")
    result = OfflinePage(page=context.new_page())

    def route(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in LOCAL_SCHEMES or url.hostname in allowed:
            route.continue_()
        else:
            result.blocked_requests.append(route.request.url)
            route.abort("internetdisconnected")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            result.console_errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def on_failed(request: Request) -> None:
        result.failed_requests.append(f"{request.url} ({request.failure})")

    def route_socket(socket: WebSocketRoute) -> None:
        if urlsplit(socket.url).hostname in allowed:
            socket.connect_to_server()
        else:
            result.blocked_requests.append(socket.url)
            result.failed_requests.append(f"{socket.url} (websocket blocked)")
            socket.close()

    context.route("**/*", route)
    context.route_web_socket("**/*", route_socket)
    result.page.on("console", on_console)
    result.page.on("pageerror", lambda error: result.console_errors.append(f"uncaught: {error}"))
    result.page.on("requestfailed", on_failed)
    return result
