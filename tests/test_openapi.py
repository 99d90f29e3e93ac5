"""The API's schema is its behaviour: /openapi.json states every status and media type, and an
independent OpenAPI client (schemathesis, all its checks) finds nothing against a real server.

The longer run is `python scripts/openapi_fuzz.py` (README, "Reviewer web app").
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from siting.web.app import create_app
from tests.webapp import running_server

ROOT = Path(__file__).resolve().parents[1]
# Bounded for CI (2 cores): about 600 generated requests over every operation in 40–70 s.
CI_MAX_EXAMPLES = 18
CI_SEED = 21
CI_BUDGET_S = 150
METHODS = {"get", "post", "put", "patch", "delete"}


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("openapi_fuzz", ROOT / "scripts" / "openapi_fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def schema() -> dict:
    return create_app().openapi()


@pytest.fixture(scope="module")
def server(data_dir, layers) -> Iterator[str]:
    with running_server(data_dir) as base:
        yield base


def operations(schema: dict) -> Iterator[tuple[str, str, dict]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def test_every_error_status_has_the_one_error_body(schema):
    error_ref = "#/components/schemas/ErrorAnswer"
    assert {"field", "message_zh", "message_en"} <= set(schema["components"]["schemas"]["ErrorDetail"]["required"])
    for path, method, operation in operations(schema):
        statuses = set(operation["responses"])
        assert {"500", "504"} <= statuses and statuses & {"200", "201"}, (method, path)  # 201: a decision recorded
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in statuses, (method, path)
        if "{check_id}" in path:
            assert "404" in statuses, (method, path)
        for status, response in operation["responses"].items():
            if status not in ("200", "201"):
                assert response["content"] == {"application/json": {"schema": {"$ref": error_ref}}}, (method, path, status)


def test_sites_formats_stages_and_uploads_are_stated_exactly(schema):
    request = schema["components"]["schemas"]["CheckRequest"]
    assert [sorted(way["required"]) for way in request["oneOf"]] == [["at"], ["lat", "lon"]]
    assert request["additionalProperties"] is False and request["required"] == ["industry"]
    assert set(request["properties"]["stage"]["enum"]) == {"new", "rebuild", "expand", "existing", "新建", "改建", "扩建", "现有"}
    upload_ref = schema["paths"]["/api/check/file"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
    upload = schema["components"]["schemas"][upload_ref.rsplit("/", 1)[1]]
    assert set(upload["required"]) == {"file", "industry"} and upload["properties"]["industry"]["minLength"] == 1
    report = schema["paths"]["/api/checks/{check_id}/report"]["get"]
    assert next(p for p in report["parameters"] if p["name"] == "format")["schema"]["enum"] == ["docx", "pdf", "html"]
    assert set(report["responses"]["200"]["content"]) == {
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/pdf", "text/html"}
    assert set(schema["paths"]["/api/checks/{check_id}/map"]["get"]["responses"]["200"]["content"]) == {"text/html"}
    assert schema["paths"]["/api/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema["components"]["schemas"]["BatchRequest"]["properties"]["rows"]["maxItems"] == 100


def test_the_schemas_examples_run(schema, server):
    examples = schema["paths"]["/api/check"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert len(examples) == 2
    for example in examples.values():
        response = httpx.post(f"{server}/api/check", json=example["value"], timeout=120)
        assert response.status_code == 200, response.text
        assert response.json()["overall"] in schema["components"]["schemas"]["CheckAnswer"]["properties"]["overall"]["enum"]


def test_framework_refusals_use_the_error_body(server):
    wrong_method = httpx.delete(f"{server}/api/check", timeout=30)
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["allow"]
    assert wrong_method.json()["error"]["field"] == "method"
    unknown = httpx.get(f"{server}/api/nothing-here", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["error"]["message_en"]
    garbage = httpx.post(f"{server}/api/batch", content=b"\x19\xff", headers={"Content-Type": "application/json"}, timeout=30)
    assert garbage.status_code == 422 and garbage.json()["error"]["field"] == "body"
    null_site = httpx.post(f"{server}/api/check", json={"at": "111.2, 35.5", "lon": None, "industry": "造纸"}, timeout=30)
    assert null_site.status_code == 422 and null_site.json()["error"]["field"] == "lon"
    boolean = httpx.post(f"{server}/api/check", json={"lon": 111.2, "lat": False, "industry": "造纸"}, timeout=30)
    assert boolean.status_code == 422 and boolean.json()["error"]["field"] == "lat"


def test_schemathesis_with_all_checks_finds_nothing(schema, server, tmp_path):
    fuzz = _fuzz_module()
    started = time.monotonic()
    result = fuzz.run(server, CI_MAX_EXAMPLES, CI_SEED, tmp_path / "schemathesis.json", workers=2)
    elapsed = time.monotonic() - started
    log = (tmp_path / "schemathesis.log").read_text(errors="replace")
    print(fuzz.summary(result))
    assert result["complete"] and not result["errors"], log[-6000:]
    assert result["failures"] == [], log[-6000:]
    total = sum(1 for _ in operations(schema))
    assert result["operations"]["tested"] == result["operations"]["total"] == total, "every route is covered by the run"
    assert result["test_cases"]["generated"] >= 300
    assert elapsed < CI_BUDGET_S, f"the bounded run took {elapsed:.0f} s"
