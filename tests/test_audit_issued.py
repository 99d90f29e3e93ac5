"""Issued reports stay issued, and the reviewer keeps a record: through `siting serve` on a loopback port and the
real CLI. An older check's 审查意见 and map still download after a layer import, drawn on the layers it was
issued on and marked with its issue time and versions; replay stays the separate action that shows what
changed. A reviewer's decision is appended to the log and shows in the API, the listing, history and the DOCX."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import shapely
from docx import Document

from siting.audit.log import shown_time
from tests.webapp import running_server

DECISION_KEYS = {"decision_id", "check_id", "decision", "note", "rule_id", "recorded_at", "user", "role"}


def docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def siting(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=300,
                          env=os.environ | {"SITING_DATA_DIR": str(root)})


@pytest.fixture(scope="module")
def root(data_dir, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("issued")
    for shared in ("layers", "sources"):
        (path / shared).symlink_to(data_dir / shared)
    return path


@pytest.fixture(scope="module")
def server(root) -> str:
    with running_server(root) as base:
        yield base


@pytest.fixture(scope="module")
def site(layers) -> shapely.Point:
    return layers.admin_area("140100").representative_point()


def test_an_older_report_downloads_after_a_layer_import_marked_as_issued(server, root, site, tmp_path):
    red_line = tmp_path / "红线.geojson"
    red_line.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "测试红线"},
        "geometry": shapely.geometry.mapping(shapely.box(site.x - 0.02, site.y - 0.02, site.x + 0.02, site.y + 0.02))}]}),
        encoding="utf-8")
    with httpx.Client(base_url=server, timeout=300) as client:
        before = client.post("/api/check", json={"lon": site.x, "lat": site.y, "industry": "造纸", "project": "签发测试"}).json()
        check_id = before["audit"]["check_id"]
        record = client.get(f"/api/checks/{check_id}").json()
        imported = siting(root, "layers", "import", str(red_line), "--kind", "redline", "--source", "测试红线", "--version", "1")
        assert imported.returncode == 0, imported.stderr
        after = client.post("/api/check", json={"lon": site.x, "lat": site.y, "industry": "造纸"}).json()
        assert after["overall"] == "prohibited" and before["overall"] != "prohibited"

        report = client.get(f"/api/checks/{check_id}/report", params={"format": "docx"})
        assert report.status_code == 200, report.text
        text = docx_text(report.content)
        assert f"签发于 {shown_time(record['created_at'])}（北京时间）" in text
        assert record["catalog_version"][:12] in text and "测试红线" not in text
        assert before["overall_label"] in text
        page = client.get(f"/api/checks/{check_id}/map")
        assert page.status_code == 200 and "测试红线" not in page.text
        html = client.get(f"/api/checks/{check_id}/report", params={"format": "html"})
        assert html.status_code == 200 and "测试红线" not in html.text

        again = client.post(f"/api/checks/{check_id}/replay").json()
        assert again["identical"] is False and "layer:eco_redline" in again["differences"]
    cli_report = tmp_path / "签发.docx"
    run = siting(root, "history", "--id", check_id, "--report", str(cli_report))
    assert run.returncode == 0, run.stderr
    assert "与记录不一致" in run.stdout and f"签发于 {shown_time(record['created_at'])}" in docx_text(cli_report.read_bytes())


def test_a_reviewer_decision_is_appended_and_shown_everywhere(server, root, site):
    with httpx.Client(base_url=server, timeout=300) as client:
        answer = client.post("/api/check", json={"lon": site.x + 0.1, "lat": site.y, "industry": "焦化"}).json()
        check_id = answer["audit"]["check_id"]
        rule = answer["findings"][0]["rule"]
        note = "此处实测距河堤 2.3 公里，\n图层偏差"
        first = client.post(f"/api/checks/{check_id}/decisions", json={"decision": "需补充材料", "note": note, "rule_id": rule})
        assert first.status_code == 201, first.text
        stored = first.json()
        assert set(stored) == DECISION_KEYS and stored["note"] == note and stored["rule_id"] == rule
        assert (stored["user"], stored["role"]) == ("本机", "local"), "the desktop mode decides as the local user"
        second = client.post(f"/api/checks/{check_id}/decisions", json={"decision": "采纳", "note": "", "rule_id": None}).json()

        record = client.get(f"/api/checks/{check_id}").json()
        assert [d["decision_id"] for d in record["decisions"]] == [stored["decision_id"], second["decision_id"]]
        assert record["public_key"] and record["signature"]
        listing = {row["id"]: row for row in client.get("/api/checks", params={"limit": 10}).json()["checks"]}
        assert listing[check_id]["latest_decision"] == second

        refused = {
            "decision": {"decision": "同意", "note": ""},
            "note": {"decision": "采纳", "note": "bad\u0000note"},
            "rule_id": {"decision": "采纳", "note": "", "rule_id": "NO-SUCH-RULE"},
        }
        for field, body in refused.items():
            response = client.post(f"/api/checks/{check_id}/decisions", json=body)
            assert response.status_code == 422 and response.json()["error"]["field"] == field, response.text
        assert client.post("/api/checks/C20000101T000000-000000000000/decisions",
                           json={"decision": "采纳", "note": ""}).status_code == 404
        assert len(client.get(f"/api/checks/{check_id}").json()["decisions"]) == 2, "refused decisions are not recorded"

        docx = docx_text(client.get(f"/api/checks/{check_id}/report", params={"format": "docx"}).content)
        assert "需补充材料" in docx and "此处实测距河堤 2.3 公里" in docx and f"（{rule}）" in docx
        assert record["public_key"] in docx
        replayed = client.post(f"/api/checks/{check_id}/replay").json()
        assert [d["decision"] for d in replayed["decisions"]] == ["需补充材料", "采纳"]

    decided = siting(root, "history", "--decide", check_id, "--decision", "不采纳", "--note", "复核后不采纳", "--format", "json")
    assert decided.returncode == 0, decided.stderr
    assert set(json.loads(decided.stdout)) == DECISION_KEYS
    listing = siting(root, "history", "--limit", "5")
    assert "不采纳" in listing.stdout and "复核后不采纳" in listing.stdout and "北京时间" in listing.stdout
    history = siting(root, "history", "--id", check_id)
    assert history.stdout.count("审查决定") == 3 and "此处实测距河堤" in history.stdout
    bad = siting(root, "history", "--decide", check_id, "--decision", "采纳", "--note", "x\u001by")
    assert bad.returncode == 2 and "note" in bad.stderr and "Traceback" not in bad.stderr
    verify = siting(root, "history", "--verify", "--format", "json")
    assert verify.returncode == 0 and json.loads(verify.stdout)["decisions"] == 3, verify.stdout
