"""Fuzz the HTTP API with hypothesis: requests generated from /openapi.json plus the hostile shapes of issue 19.

    python scripts/fuzz_http.py --examples 20000 --seed 19            # starts its own server (2 check workers)
    python scripts/fuzz_http.py --url http://127.0.0.1:8000 --examples 500

Two sources of requests, drawn from one hypothesis strategy:

* every operation of the server's own OpenAPI document (schemathesis's generators: valid and
  invalid bodies, queries and paths), sent with the page's same-origin token;
* hostile shapes the schema cannot describe: longitudes outside China's zones, text fields with
  control characters, lone surrogates and U+FFFE/U+FFFF, integers of 4,300+ digits, nesting
  thousands deep, invalid UTF-8, chunked bodies over the 2 MB limit, cross-origin and token-less
  form posts, random bytes as site files.

Every answer must be one of the documented statuses, never a 500 and never a dropped connection,
and every error must have the documented shape (``error.field``, ``message_zh``, ``message_en``).
The summary line printed last is what the README quotes; the exit status is 1 on any failure.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {200, 400, 403, 404, 405, 409, 413, 422, 503, 504}
_HOSTILE_TEXT = st.text(alphabet=st.one_of(
    st.characters(codec="utf-8"), st.sampled_from(["\x00", "\x0b", "\x1b", "\r", "\n", "\t", "\ufffe", "\uffff", "\u202e"]),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)), max_size=300)
_LONGITUDES = st.one_of(st.sampled_from([-111.2, 0, 180, -180, 73.0, 136.0, 1e308, -0.0, True, False, None, "111.2", [], {}]),
                        st.floats(allow_nan=False), st.integers())


def _json(value: object) -> bytes:
    """JSON as a hostile client writes it: lone surrogates as \\ud800 escapes (valid JSON, invalid text)."""
    return json.dumps(value, ensure_ascii=True).encode("ascii")


@st.composite
def hostile_requests(draw: st.DrawFn) -> dict:
    """One raw request (method, path, headers, body) the OpenAPI schema cannot generate."""
    kind = draw(st.sampled_from(["coordinates", "text", "digits", "nesting", "utf8", "chunked", "cross_site", "no_token",
                                 "random_file", "batch"]))
    json_headers = {"Content-Type": "application/json"}
    if kind == "coordinates":
        body = {"lon": draw(_LONGITUDES), "lat": draw(st.one_of(_LONGITUDES, st.just(35.6))), "industry": "造纸"}
        return {"kind": kind, "path": "/api/check", "headers": json_headers, "content": _json(body)}
    if kind == "text":
        field = draw(st.sampled_from(["project", "industry", "at", "crs"]))
        body = {"lon": 111.2, "lat": 35.6, "industry": "造纸"} | {field: draw(_HOSTILE_TEXT)}
        if field == "at":
            body.pop("lon"), body.pop("lat")
        return {"kind": kind, "path": "/api/check", "headers": json_headers, "content": _json(body)}
    if kind == "digits":
        digits = "1" * draw(st.integers(4_000, 20_000))
        return {"kind": kind, "path": draw(st.sampled_from(["/api/check", "/api/batch"])), "headers": json_headers,
                "content": f'{{"lon": {digits}, "lat": 35.6, "industry": "造纸"}}'.encode()}
    if kind == "nesting":
        depth = draw(st.integers(50, 300_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return {"kind": kind, "path": draw(st.sampled_from(["/api/check", "/api/batch"])), "headers": json_headers,
                "content": (opener * depth + "1" + closer * depth).encode()}
    if kind == "utf8":
        return {"kind": kind, "path": "/api/check", "headers": json_headers,
                "content": b'{"lon": 111.2, "lat": 35.6, "industry": "' + draw(st.binary(min_size=1, max_size=64)) + b'\xff"}'}
    if kind == "chunked":
        chunks, size = draw(st.integers(3, 40)), draw(st.integers(60_000, 200_000))
        return {"kind": kind, "path": "/api/check", "headers": json_headers, "chunks": (chunks, size)}
    if kind in ("cross_site", "no_token", "random_file"):
        suffix = draw(st.sampled_from([".kml", ".kmz", ".zip", ".geojson", ".json", ".gpkg", ".dxf", ".csv", ".xlsx", ".exe", ""]))
        files = {"file": (f"site{suffix}", draw(st.binary(max_size=4096)))}
        data = {"industry": draw(st.sampled_from(["造纸", "2221", "焦化"])), "project": draw(_HOSTILE_TEXT).encode("utf-8", "surrogatepass")}
        headers = {"Origin": draw(st.sampled_from(["http://evil.example", "null", "http://127.0.0.1.evil.example"]))} \
            if kind == "cross_site" else {}
        return {"kind": kind, "path": "/api/check/file", "headers": headers, "files": files, "data": data,
                "token": kind != "no_token" and kind != "cross_site"}
    rows = draw(st.lists(st.fixed_dictionaries({"lon": _LONGITUDES, "lat": _LONGITUDES, "industry": st.just("造纸"),
                                                "project": _HOSTILE_TEXT}), max_size=5))
    return {"kind": kind, "path": "/api/batch", "headers": json_headers, "content": _json({"rows": rows})}


def _chunks(count: int, size: int) -> Iterator[bytes]:
    for _ in range(count):
        yield b" " * size


class Tally:
    """What came back: statuses per source, and every failure with its request."""

    def __init__(self, progress_every: int = 0) -> None:
        self.statuses: collections.Counter = collections.Counter()
        self.failures: list[str] = []
        self.sent = 0
        self.progress_every = progress_every
        self.started = time.monotonic()

    def record(self, label: str, response: httpx.Response | None, error: str = "") -> None:
        self.sent += 1
        if self.progress_every and self.sent % self.progress_every == 0:
            print(f"  … {self.sent} requests, {len(self.failures)} failures, {time.monotonic() - self.started:.0f} s", flush=True)
        if response is None:
            self.failures.append(f"{label}: no answer ({error})")
            self.statuses[(label.split(" ")[0], "dropped")] += 1
            return
        self.statuses[(label.split(" ")[0], response.status_code)] += 1
        if response.status_code not in ALLOWED:
            self.failures.append(f"{label}: status {response.status_code} {response.text[:300]}")
            return
        if response.status_code >= 400:
            try:
                detail = response.json()["error"]
                assert {"field", "message_zh", "message_en"} <= set(detail) and detail["message_zh"] and detail["message_en"]
            except (ValueError, KeyError, TypeError, AssertionError):
                self.failures.append(f"{label}: {response.status_code} without the error shape: {response.text[:300]}")


def run(url: str, examples: int, seed_value: int, hostile_share: float = 0.5, progress_every: int = 0) -> Tally:
    """``examples`` requests against a running server at ``url``; returns the tally."""
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    tally = Tally(progress_every)
    client = httpx.Client(base_url=url, timeout=180)
    token = client.get("/api/csrf-token").json()["token"]
    from_schema = st.one_of(*(operation.as_strategy() for operation in operations)).map(lambda case: ("schema", case))
    hostile = hostile_requests().map(lambda request: ("hostile", request))
    weight = min(10, max(0, round(hostile_share * 10)))
    requests = st.sampled_from([True] * weight + [False] * (10 - weight)).flatmap(lambda bad: hostile if bad else from_schema)

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(requests)
    def probe(item: tuple[str, object]) -> None:
        source, request = item
        try:
            if source == "schema":
                kwargs = request.as_transport_kwargs(base_url=url)
                kwargs["headers"] = {**kwargs.get("headers", {}), "X-CSRF-Token": token}
                kwargs.pop("cookies", None)
                label = f"schema {request.method} {request.formatted_path}"
                response = client.request(kwargs.pop("method"), kwargs.pop("url"), **_httpx_arguments(kwargs))
            else:
                label = f"hostile {request['kind']} {request['path']}"
                headers = dict(request["headers"]) | ({"X-CSRF-Token": token} if request.get("token") else {})
                if "chunks" in request:
                    response = client.post(request["path"], content=_chunks(*request["chunks"]), headers=headers)
                elif "files" in request:
                    response = client.post(request["path"], files=request["files"], data=request["data"], headers=headers)
                else:
                    response = client.post(request["path"], content=request["content"], headers=headers)
            tally.record(label, response)
        except httpx.TransportError as error:
            tally.record(label, None, f"{type(error).__name__}: {error}")

    probe()
    return tally


def _httpx_arguments(kwargs: dict) -> dict:
    """schemathesis's requests-style keyword arguments as httpx takes them."""
    arguments = {"headers": kwargs.get("headers"), "params": kwargs.get("params")}
    if "json" in kwargs:
        arguments["json"] = kwargs["json"]
    if "data" in kwargs:
        data = kwargs["data"]
        arguments["content" if isinstance(data, bytes | str) else "data"] = data
    if kwargs.get("files"):  # requests-style: (None, value) is a form field, (name, content) a file
        fields: dict[str, list[str]] = collections.defaultdict(list)
        files = []
        for name, (filename, value) in kwargs["files"]:
            content = value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")
            if filename is None:
                fields[name].append(content.decode("utf-8", "replace"))
            else:
                files.append((name, (str(filename), content)))
        arguments["data"] = dict(fields)
        arguments["files"] = files or None
    return arguments


def summary(tally: Tally, seconds: float, seed_value: int) -> str:
    by_status = collections.Counter()
    for (_, status), count in tally.statuses.items():
        by_status[status] += count
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(by_status.items(), key=lambda item: str(item[0])))
    return (f"fuzz_http: {tally.sent} requests (seed {seed_value}) in {seconds:.0f} s, {len(tally.failures)} failures, "
            f"{by_status.get(500, 0)} answers 500, {by_status.get('dropped', 0)} dropped; statuses {statuses}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", help="a running server (default: start `siting serve` on a free loopback port)")
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--hostile-share", type=float, default=0.5, help="share of hostile requests (the rest from the schema)")
    parser.add_argument("--progress", type=int, default=1000, help="print a progress line every N requests (0: never)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    if args.url:
        tally = run(args.url.rstrip("/"), args.examples, args.seed, args.hostile_share, args.progress)
    else:
        sys.path.insert(0, str(ROOT))
        from tests.webapp import running_server

        data_dir = Path(os.environ.get("SITING_DATA_DIR", Path.home() / ".local" / "share" / "siting"))
        with running_server(data_dir, "--check-threads", "2") as base:
            tally = run(base, args.examples, args.seed, args.hostile_share, args.progress)
    for failure in tally.failures[:20]:
        print(failure)
    print(summary(tally, time.monotonic() - started, args.seed))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
