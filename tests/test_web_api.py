"""The JSON API over real HTTP: uvicorn on a loopback port, real layers, real audit log."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator

import httpx
import pytest
import shapely
from pyproj import Transformer

from layers import catalog
from spatial.layer import project
from spatial.limits import SITE_FILE_LIMITS
from tests.sites import site_near
from tests.test_site_files import write_ovi_kmz
from tests.webapp import running_server

UPLOAD_LIMIT_MB = 2


@pytest.fixture(scope="module")
def api(data_dir, layers) -> Iterator[httpx.Client]:
    with running_server(data_dir, "--max-upload-mb", str(UPLOAD_LIMIT_MB)) as base, httpx.Client(base_url=base, timeout=120) as client:
        client.headers["X-CSRF-Token"] = client.get("/api/csrf-token").json()["token"]  # as the page sends it on uploads
        yield client


@pytest.fixture(scope="module")
def parcel(layers) -> shapely.Polygon:
    """A 300 m square parcel centred 400 m from the Fen in 新绛."""
    centre = project(site_near(layers, "fen_river", "140825", 400), 4326, 4546)
    return project(shapely.box(centre.x - 150, centre.y - 150, centre.x + 150, centre.y + 150), 4546, 4326)


def without_audit(answer: dict) -> dict:
    return {k: v for k, v in answer.items() if k != "audit"}


def fen_finding(answer: dict) -> dict:
    return next(f for f in answer["findings"] if f["rule"] == "YC21-3.1-fen-2km")


def test_check_answers_the_cli_json_contract(api, mill_site):
    response = api.post("/api/check", json={"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸", "stage": "new"})
    assert response.status_code == 200, response.text
    answer = response.json()
    cli = subprocess.run([sys.executable, "-m", "siting", "check", "--lon", str(mill_site.x), "--lat", str(mill_site.y),
                          "--industry", "造纸", "--stage", "new", "--format", "json"], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert without_audit(answer) == without_audit(json.loads(cli.stdout))
    assert answer["overall"] == "prohibited" and 395 < fen_finding(answer)["distance_m"] < 405
    assert answer["audit"]["check_id"] != json.loads(cli.stdout)["audit"]["check_id"]


def test_at_text_in_gauss_kruger_lands_on_the_same_site(api, mill_site):
    easting, northing = Transformer.from_crs(4326, 4525, always_xy=True).transform(mill_site.x, mill_site.y)
    by_text = api.post("/api/check", json={"at": f"X={northing:.3f} Y={easting:.3f}", "industry": "造纸"}).json()
    by_crs = api.post("/api/check", json={"at": f"{northing:.3f} {easting - 37_000_000:.3f}", "crs": "EPSG:4546",
                                          "industry": "造纸"}).json()
    by_degrees = api.post("/api/check", json={"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸"}).json()
    for answer in (by_text, by_crs):
        assert answer["overall"] == by_degrees["overall"]
        assert abs(fen_finding(answer)["distance_m"] - fen_finding(by_degrees)["distance_m"]) < 1.0
    assert "EPSG:4525" in by_text["site"]["input"]["crs"] and by_text["site"]["input"]["inferred"] is True


@pytest.mark.parametrize(
    "body, field, says",
    [
        ({"lon": "abc", "lat": 35.5, "industry": "造纸"}, "lon", "十进制度数"),
        ({"lon": 111.2, "lat": 91, "industry": "造纸"}, "lat", "-90 到 90"),
        ({"lon": 35.5, "lat": 111.2, "industry": "造纸"}, "lat", "写反"),
        ({"lon": 181, "lat": 35.5, "industry": "造纸"}, "lon", "-180 到 180"),
        ({"lon": 111.2, "industry": "造纸"}, "lat", "同时给出"),
        ({"at": "111.2, 3x5.5", "industry": "造纸"}, "at", "无法识别"),
        ({"at": "111.2, 91", "industry": "造纸"}, "at", "纬度"),
        ({"at": "3938552 514297", "industry": "造纸"}, "at", "带号"),
        ({"at": "111°75′ 35°36′", "industry": "造纸"}, "at", "小于60"),
        ({"at": "111.2, 35.5", "lon": 111.2, "lat": 35.5, "industry": "造纸"}, "at", "只给出一种场址"),
        ({"industry": "造纸"}, "at", "只给出一种场址"),
        ({"at": "111.2, 35.5", "crs": "EPSG:99999", "industry": "造纸"}, "crs", "EPSG"),
        ({"at": "111.2, 35.5", "crs": "EPSG:4546", "industry": "造纸"}, "crs", "平面坐标系"),
        ({"lon": 111.2, "lat": 35.5, "industry": "造只厂"}, "industry", "相近的名称"),
        ({"lon": 111.2, "lat": 35.5, "industry": "9999"}, "industry", "行业代码"),
        ({"lon": 111.2, "lat": 35.5, "industry": "造纸", "stage": "later"}, "stage", "新建"),
        ({"lon": 111.2, "lat": 35.5}, "industry", "缺少该字段"),
        ({"lon": 111.2, "lat": 35.5, "industry": "造纸", "height": 3}, "height", "不认识该字段"),
    ],
)
def test_each_bad_input_is_422_naming_the_field_in_chinese_and_english(api, body, field, says):
    response = api.post("/api/check", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert says in error["message_zh"] and error["message_zh"].startswith("输入错误：")
    assert error["message_en"].startswith("Input error:") and field in error["message_en"]


@pytest.mark.parametrize("raw, field", [(b"{not json", "body"), (b'{"lon": NaN, "lat": 35.5, "industry": "\xe9\x80\xa0\xe7\xba\xb8"}', "lon"),
                                        (b"[1, 2]", "body")])
def test_malformed_bodies_are_422_too(api, raw, field):
    response = api.post("/api/check", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_kmz_upload_checks_the_polygon_under_the_clients_name_only(api, parcel, tmp_path):
    path = tmp_path / "parcel.kmz"
    write_ovi_kmz(path, parcel)
    response = api.post("/api/check/file", files={"file": ("../../用地红线.kmz", path.read_bytes())},
                        data={"industry": "造纸", "stage": "new", "project": "某纸业项目"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["site"]["geometry_type"] == "Polygon" and answer["site"]["input"]["file"] == "用地红线.kmz"
    assert abs(answer["site"]["size"]["area_m2"] - 90_000) < 500
    finding = fen_finding(answer)
    assert finding["verdict"] == "prohibited" and finding["overlap"]["share"] == 1.0
    record = api.get(f"/api/checks/{answer['audit']['check_id']}").json()
    assert record["project"] == "某纸业项目" and record["channel"] == "api-file"
    assert api.post(f"/api/checks/{answer['audit']['check_id']}/replay").json()["identical"] is True


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _bad_files(parcel: shapely.Polygon) -> list[tuple[str, bytes, str]]:
    empty_kml = b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document/></kml>'
    unclosed = json.dumps({"type": "Polygon", "coordinates": [[[111.15, 35.57], [111.16, 35.57], [111.16, 35.58]]]}).encode()
    return [
        ("空.kml", empty_kml, "没有任何几何要素"),
        ("no_shp.zip", _zip({"readme.txt": b"nothing here"}), "没有 .shp"),
        ("unclosed.geojson", unclosed, "未闭合"),
        ("site.exe", b"MZ", "不支持的文件类型"),
        ("empty.kml", b"", "文件为空"),
        ("broken.kmz", b"PK\x03\x04 not really a zip", "压缩包"),
        ("traversal.kmz", _zip({"../doc.kml": empty_kml}), "不安全的路径"),
        ("many.kmz", _zip({f"f{i}.kml": b"" for i in range(SITE_FILE_LIMITS.max_archive_members + 1)}), "文件过多"),
        ("bomb.kmz", _zip({"files/overlay.dat": b"\0" * (SITE_FILE_LIMITS.max_unpacked_bytes + 1)}), "压缩炸弹"),
    ]


def test_bad_and_hostile_uploads_are_422_naming_the_file(api, parcel):
    for name, data, says in _bad_files(parcel):
        response = api.post("/api/check/file", files={"file": (name, data)}, data={"industry": "造纸"})
        assert response.status_code == 422, (name, response.text)
        error = response.json()["error"]
        assert error["field"] == "file" and error["value"] == name, name
        assert says in error["message_zh"] and error["message_en"].startswith("Input error:"), (name, error)


def test_oversized_upload_is_refused_with_413(api):
    response = api.post("/api/check/file", files={"file": ("big.geojson", b" " * ((UPLOAD_LIMIT_MB + 1) * 1024 * 1024))},
                        data={"industry": "造纸"})
    assert response.status_code == 413
    assert "大小上限" in response.json()["error"]["message_zh"]


def test_batch_keeps_every_row_and_names_each_failure(api, mill_site):
    rows = [{"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸"}, {"lon": "abc", "lat": 35.5, "industry": "造纸"},
            {"lon": 111.2, "lat": 35.5, "industry": "造只厂"}, "not an object", {"at": "111.2, 35.5", "industry": "钢铁"}]
    response = api.post("/api/batch", json={"rows": rows})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["count"] == len(rows) == len(answer["rows"]) and [r["row"] for r in answer["rows"]] == list(range(len(rows)))
    assert [r["status"] for r in answer["rows"]] == ["checked", "error", "error", "error", "checked"]
    assert answer["rows"][0]["overall"] == "prohibited" and answer["rows"][0]["result"]["audit"]["check_id"]
    assert [answer["rows"][i]["error"]["field"] for i in (1, 2, 3)] == ["rows.1.lon", "rows.2.industry", "rows.3"]
    too_many = api.post("/api/batch", json={"rows": rows * 30})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "rows"


def test_catalog_endpoints(api):
    rules = api.get("/api/rules").json()
    assert rules["count"] == len(catalog.rules()) and {"id", "quote", "zone", "action"} <= set(rules["rules"][0])
    yuncheng = api.get("/api/rules", params={"plan": "140800"}).json()
    assert 0 < yuncheng["count"] < rules["count"] and all(r["jurisdiction"] == "140800" for r in yuncheng["rules"])
    layers = {row["id"]: row for row in api.get("/api/layers").json()["layers"]}
    assert layers["fen_river"]["status"] == "built" and layers["fen_river"]["sha256"]
    assert any(row["status"] == "missing" for row in layers.values())
    found = api.get("/api/industries", params={"q": "焦炭"}).json()["industries"]
    assert any(row["name"] == "焦化" and "2521" in row["codes"] for row in found)
    schema = api.get("/openapi.json").json()
    assert {"/api/check", "/api/batch", "/api/rules", "/api/layers", "/api/industries"} <= set(schema["paths"])


def test_every_check_is_recorded_and_replays_to_the_same_json(api, mill_site, data_dir):
    answer = api.post("/api/check", json={"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸", "project": "回放"}).json()
    check_id = answer["audit"]["check_id"]
    record = api.get(f"/api/checks/{check_id}").json()
    assert record["result"] == without_audit(answer) and record["channel"] == "api"
    assert record["catalog_version"] == answer["audit"]["catalog_version"] and record["layer_versions"]["layers"]["fen_river"]
    again = api.post(f"/api/checks/{check_id}/replay").json()
    assert again["identical"] is True and again["versions_match"] is True and again["result"] == record["result"]
    cli = subprocess.run([sys.executable, "-m", "siting", "history", "--id", check_id, "--format", "json"],
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    replayed = json.loads(cli.stdout)
    assert replayed["identical"] is True and replayed["result"] == without_audit(answer)
    assert check_id in [row["id"] for row in api.get("/api/checks", params={"limit": 50}).json()["checks"]]
    assert api.get("/api/checks/C20000101T000000-000000000000").status_code == 404
    assert api.get("/api/checks/..%2F..%2Fetc").status_code == 404


def test_security_headers_and_loopback_host_only(api):
    page = api.get("/")
    assert page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    assert "http" not in page.text.replace("http-equiv", "")  # nothing from the network
    assert api.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_a_layer_import_reaches_the_running_app_and_replay_names_the_change(data_dir, layers, tmp_path):
    private = tmp_path / "data"
    for name in ("layers", "sources"):
        shutil.copytree(data_dir / name, private / name)
    site = layers.admin_area("140100").representative_point()
    red_line = tmp_path / "红线.geojson"
    red_line.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "测试红线"},
        "geometry": shapely.geometry.mapping(shapely.box(site.x - 0.02, site.y - 0.02, site.x + 0.02, site.y + 0.02))}]}),
        encoding="utf-8")
    body = {"lon": site.x, "lat": site.y, "industry": "造纸"}
    with running_server(private) as base, httpx.Client(base_url=base, timeout=120) as client:
        before = client.post("/api/check", json=body).json()
        assert not any(f["layer"] == "eco_redline" and f["inside"] for f in before["findings"])
        imported = subprocess.run([sys.executable, "-m", "siting", "layers", "import", str(red_line), "--kind", "redline",
                                   "--source", "测试红线", "--version", "1"], capture_output=True, text=True, timeout=300,
                                  env=os.environ | {"SITING_DATA_DIR": str(private)})
        assert imported.returncode == 0, imported.stderr
        after = client.post("/api/check", json=body).json()
        assert after["overall"] == "prohibited"
        assert any(f["layer"] == "eco_redline" and f["inside"] for f in after["findings"])
        assert "测试红线" in [layer["source"] for layer in after["layers"]]
        again = client.post(f"/api/checks/{before['audit']['check_id']}/replay").json()
        assert again["identical"] is False and again["versions_match"] is False
        assert "layer:eco_redline" in again["differences"] and "result.overall" in again["differences"]
        assert client.get(f"/api/checks/{before['audit']['check_id']}/report").status_code == 200  # drawn as issued
