"""The offline browser helper itself: loopback pages load, anything else is cut off and reported."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser import offline_page


@pytest.fixture()
def loopback_site(tmp_path: Path) -> Iterator[str]:
    """A page on a loopback server that also asks a CDN for a script."""
    (tmp_path / "local.js").write_text("document.body.dataset.local = 'yes';", encoding="utf-8")
    (tmp_path / "index.html").write_text(
        "<html><body><p>本地页面</p><script src='local.js'></script>"
        "<script src='https://unpkg.com/leaflet@1.9.4/dist/leaflet.js'></script></body></html>",
        encoding="utf-8",
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()


def test_loopback_loads_and_internet_is_blocked(browser, loopback_site: str) -> None:
    session = offline_page(browser)
    try:
        session.page.goto(loopback_site)
        session.page.wait_for_load_state("networkidle")
        assert session.page.locator("body").get_attribute("data-local") == "yes"
        assert session.blocked_requests == ["https://unpkg.com/leaflet@1.9.4/dist/leaflet.js"]
        assert any("unpkg.com" in failed for failed in session.failed_requests)
    finally:
        session.close()


def test_console_errors_are_recorded(browser, tmp_path: Path) -> None:
    page_file = tmp_path / "error.html"
    page_file.write_text("<script>console.error('故障'); undefinedFunction();</script>", encoding="utf-8")
    session = offline_page(browser)
    try:
        session.page.goto(page_file.as_uri())
        session.page.wait_for_load_state("load")
        assert any("故障" in error for error in session.console_errors)
        assert any("undefinedFunction" in error for error in session.console_errors)
        assert session.failed_requests == []
    finally:
        session.close()
