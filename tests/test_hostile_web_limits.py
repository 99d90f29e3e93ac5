"""Issue 19 on the web side, through a real `siting serve` on a loopback port: a check that overruns
is stopped (504) while health and small checks answer at once; every hostile input gets the
documented error shape; a cross-site post is refused (403) and not recorded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.bench_hostile_sites import self_intersecting_polygon, square_parcel
from tests.webapp import running_server

TIMEOUT_S = 3
POINT = {"lon": 111.2, "lat": 35.6, "industry": "造纸"}


@pytest.fixture(scope="module")
def server(data_dir: Path, layers: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server with a 3 s deadline and two check workers, with an audit log of its own."""
    root = tmp_path_factory.mktemp("hostile-web")
    for shared in ("layers", "sources"):
        (root / shared).symlink_to(data_dir / shared)
    with running_server(root, "--timeout", str(TIMEOUT_S), "--check-threads", "2") as base:
        yield base


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def token(client: httpx.Client) -> str:
    return client.get("/api/csrf-token").json()["token"]


def recorded(client: httpx.Client) -> int:
    return client.get("/api/health").json()["audit_records"]


def assert_error_shape(response: httpx.Response, status: int, field: str, *says: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert error["message_zh"].startswith("输入错误：") and error["message_en"].startswith("Input error:"), error
    for fragment in says:
        assert fragment in error["message_zh"] + error["message_en"], (fragment, error)
    return error


def test_an_overrunning_check_is_stopped_at_the_deadline_while_health_and_small_checks_answer(client, token):
    answer: dict = {}
    polygon = self_intersecting_polygon().encode()  # 199,990 vertices, 5 MB

    def upload() -> None:
        started = time.monotonic()
        response = httpx.post(f"{client.base_url}/api/check/file", headers={"X-CSRF-Token": token}, timeout=60,
                              files={"file": ("self_intersecting.geojson", polygon)}, data={"industry": "造纸", "project": "自相交红线"})
        answer.update(response=response, seconds=time.monotonic() - started)

    before = recorded(client)
    slow = threading.Thread(target=upload)
    slow.start()
    time.sleep(1.0)  # the worker is inside GEOS by now
    for _ in range(3):
        started = time.monotonic()
        assert client.get("/api/health").status_code == 200
        assert time.monotonic() - started < 1.0
        started = time.monotonic()
        small = client.post("/api/check", json=POINT)
        assert small.status_code == 200, small.text
        assert time.monotonic() - started < 1.0
    slow.join(30)
    assert_error_shape(answer["response"], 504, "timeout", f"{TIMEOUT_S} 秒", "siting serve --timeout")
    assert answer["seconds"] < TIMEOUT_S + 1.0
    assert recorded(client) == before + 3  # the three small checks; the stopped one is not recorded
    # The killed worker is replaced: the pool still answers small checks (file checks too).
    time.sleep(0.5)
    again = client.post("/api/check/file", headers={"X-CSRF-Token": token},
                        files={"file": ("parcel.geojson", square_parcel().encode())}, data={"industry": "造纸"})
    assert again.status_code == 200, again.text


@pytest.mark.parametrize("lon", [-111.2, 0, 180, True])
def test_a_longitude_outside_chinas_zones_is_422_naming_lon(client, lon):
    assert_error_shape(client.post("/api/check", json=POINT | {"lon": lon}), 422, "lon")


@pytest.mark.parametrize("escaped", ["\\ud800", "a\\u0000b", "a\\u000bb", "\\u001b[31m", "\\uffff", "a\\ufffeb"])
def test_lone_surrogates_and_control_characters_in_text_are_422_and_not_recorded(client, escaped):
    before = recorded(client)
    body = b'{"lon": 111.2, "lat": 35.6, "industry": "\\u9020\\u7eb8", "project": "' + escaped.encode() + b'"}'
    error = assert_error_shape(client.post("/api/check", content=body, headers={"Content-Type": "application/json"}),
                               422, "project")
    assert "U+" in error["message_en"] or "surrogate" in error["message_en"]
    assert recorded(client) == before


def test_control_characters_in_an_uploads_project_are_422_too(client, token):
    response = client.post("/api/check/file", headers={"X-CSRF-Token": token},
                           files={"file": ("parcel.geojson", square_parcel().encode())}, data={"industry": "造纸", "project": "一号\x1b地块"})
    assert_error_shape(response, 422, "project", "U+001B")


def test_text_is_normalised_before_it_is_recorded(client):
    answer = client.post("/api/check", json=POINT | {"project": "  Cafe\u0301 项目  "}).json()
    record = client.get(f"/api/checks/{answer['audit']['check_id']}").json()
    assert record["project"] == "Café 项目"


def test_a_4300_digit_number_is_422_naming_lon_with_a_bounded_echo(client):
    error = assert_error_shape(client.post("/api/check", content=b'{"lon": ' + b"1" * 4300 + b', "lat": 35.6, "industry": "x"}',
                                           headers={"Content-Type": "application/json"}), 422, "lon", "4300 位")
    assert len(error["message"]) < 400


def test_a_chunked_body_over_2_mb_is_413(client):
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b" " * 100_000

    assert_error_shape(client.post("/api/check", content=chunks(), headers={"Content-Type": "application/json"}),
                       413, "body", "2.0 MB")


@pytest.mark.parametrize("raw, says", [
    (b'{"lon": ' + b"1" * 4301 + b', "lat": 35.6, "industry": "x"}', "4300"),
    (b"[" * 100_000 + b"]" * 100_000, "嵌套"),
    (b'{"lon": 111.2, "lat": 35.6, "industry": "\xff\xfe"}', "UTF-8"),
])
def test_unparseable_bodies_are_422_saying_why(client, raw, says):
    assert_error_shape(client.post("/api/check", content=raw, headers={"Content-Type": "application/json"}), 422, "body", says)


def test_a_cross_site_upload_is_refused_and_not_recorded(client, token):
    before = recorded(client)
    files = {"file": ("parcel.geojson", square_parcel().encode())}
    form = {"industry": "造纸", "project": "攻击者的项目"}
    for headers, field in (({"Origin": "http://evil.example"}, "Origin"),
                           ({"Origin": "http://evil.example", "X-CSRF-Token": token}, "Origin"),
                           ({"Origin": "null"}, "Origin"),
                           ({"Referer": "http://evil.example/page.html"}, "Referer"),
                           ({}, "X-CSRF-Token"),
                           ({"X-CSRF-Token": "guessed"}, "X-CSRF-Token")):
        assert_error_shape(client.post("/api/check/file", files=files, data=form, headers=headers), 403, field)
    plain_form = client.post("/api/check", content=b"lon=111.2", headers={"Origin": "http://evil.example",
                                                                           "Content-Type": "text/plain"})
    assert_error_shape(plain_form, 403, "Origin")
    assert recorded(client) == before
    checks = client.get("/api/checks", params={"limit": 50}).json()["checks"]
    assert not any("攻击者" in json.dumps(check, ensure_ascii=False) for check in checks)


def test_the_page_carries_the_token_and_its_own_origin_may_upload(client, server):
    page = client.get("/").text
    token = page.split('<meta name="csrf-token" content="', 1)[1].split('"', 1)[0]
    response = client.post("/api/check/file", files={"file": ("parcel.geojson", square_parcel().encode())},
                           data={"industry": "造纸"}, headers={"Origin": server, "X-CSRF-Token": token})
    assert response.status_code == 200, response.text
    # A non-browser JSON client (no Origin, no Referer) is still served; the same JSON from another site is not.
    assert client.post("/api/check", json=POINT).status_code == 200
    assert_error_shape(client.post("/api/check", json=POINT, headers={"Origin": "http://evil.example"}), 403, "Origin")
