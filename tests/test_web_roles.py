"""Roles that mean something, on a real server: reviewers see their own checks (and, with --share-unit,
their unit's), data administrators change layers through the API and every change is an audit record
the next check follows, auditors read everything and verify the chain; a refusal names the role needed."""

from __future__ import annotations

import json

import geopandas as gpd
import httpx
import pytest
import shapely

from siting.accounts import open_store
from spatial.layer import project
from tests.accounts import add_users, logged_in, module_data_dir
from tests.webapp import running_server

JIANGXIAN = "140826"


@pytest.fixture(scope="module")
def base(data_dir, layers, tmp_path_factory) -> str:
    root = module_data_dir(data_dir, tmp_path_factory.mktemp("roles") / "data")
    store = open_store(root / "accounts.sqlite")
    add_users(store, ("r1", "reviewer", "环评科"), ("r2", "reviewer", "监察科"), ("r3", "reviewer", "环评科"),
              ("admin", "data-admin", ""), ("audit", "auditor", ""))
    store.close()
    with running_server(root, "--check-threads", "2", "--share-unit", "--trusted-proxy", "10.9.9.9",
                        "--sso-header", "X-Remote-User") as url:
        yield url


@pytest.fixture(scope="module")
def water_source(layers, tmp_path_factory) -> tuple[shapely.Point, bytes]:
    """A drinking-water source zone (level 1 within 300 m) around the middle of 绛县, as an agency GeoPackage."""
    centre = project(shapely.point_on_surface(layers.admin_area(JIANGXIAN)), 4326, 4546)
    disks = [shapely.Point(centre.x, centre.y).buffer(r) for r in (300, 1500, 4000)]
    rings = [disks[0], disks[1].difference(disks[0]), disks[2].difference(disks[1])]
    frame = gpd.GeoDataFrame({"SYDMC": ["测试水源地"] * 3, "BHQJB": ["一级保护区", "二级保护区", "准保护区"]}, geometry=rings, crs=4546)
    path = tmp_path_factory.mktemp("water") / "水源保护区.gpkg"
    frame.to_file(path)
    return project(shapely.Point(centre.x + 100, centre.y), 4546, 4326), path.read_bytes()


def check(session, point: shapely.Point, industry: str = "化工") -> dict:
    answer = session.post("/api/check", json={"lon": point.x, "lat": point.y, "industry": industry})
    assert answer.status_code == 200, answer.text
    return answer.json()


def refused_for(answer: httpx.Response, role_zh: str, role_en: str) -> None:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["field"] == "role" and role_zh in error["message_zh"] and role_en in error["message_en"], error


def test_reviewers_read_their_own_checks_and_their_units_auditors_all(base, mill_site):
    with logged_in(base, "r1") as r1:
        check_id = check(r1, mill_site, "造纸")["audit"]["check_id"]
        mine = r1.client.get("/api/checks").json()["checks"]
        assert check_id in [c["id"] for c in mine] and {c["user"] for c in mine} == {"r1"}
        assert r1.client.get(f"/api/checks/{check_id}/report", params={"format": "html"}).status_code == 200
    with logged_in(base, "r2") as r2:
        refused_for(r2.client.get(f"/api/checks/{check_id}"), "审计员（auditor）", "auditor")
        refused_for(r2.client.get(f"/api/checks/{check_id}/report"), "审计员", "auditor")
        refused_for(r2.client.get(f"/api/checks/{check_id}/map"), "审计员", "auditor")
        refused_for(r2.post(f"/api/checks/{check_id}/decisions", json={"decision": "采纳"}), "审计员", "auditor")
        assert check_id not in [c["id"] for c in r2.client.get("/api/checks").json()["checks"]]
    with logged_in(base, "r3") as r3:  # same unit as r1, and the server shares units
        assert r3.client.get(f"/api/checks/{check_id}").json()["user"] == "r1"
        assert check_id in [c["id"] for c in r3.client.get("/api/checks").json()["checks"]]
    with logged_in(base, "audit") as auditor:
        assert auditor.client.get(f"/api/checks/{check_id}").status_code == 200
        assert check_id in [c["id"] for c in auditor.client.get("/api/checks?limit=500").json()["checks"]]
        refused_for(auditor.post("/api/check", json={"lon": mill_site.x, "lat": mill_site.y, "industry": "造纸"}), "审查人员（reviewer）", "reviewer")
    with logged_in(base, "admin") as admin:
        refused_for(admin.client.get("/api/checks"), "审计员", "auditor")


def test_a_decision_names_the_reviewer_who_made_it(base, mill_site):
    with logged_in(base, "r1") as r1:
        check_id = check(r1, mill_site, "造纸")["audit"]["check_id"]
        decided = r1.post(f"/api/checks/{check_id}/decisions", json={"decision": "需补充材料", "note": "补充取水口位置"})
        assert decided.status_code == 201, decided.text
        assert (decided.json()["user"], decided.json()["role"]) == ("r1", "reviewer")
        record = r1.client.get(f"/api/checks/{check_id}").json()
        assert (record["user"], record["role"], record["unit"]) == ("r1", "reviewer", "环评科")
        assert record["decisions"][-1]["user"] == "r1"


def test_a_reviewer_cannot_import_layers_nor_verify_the_chain(base, water_source):
    _, gpkg = water_source
    with logged_in(base, "r1") as r1:
        refused_for(r1.post("/api/layers/import", data={"kind": "water_source"}, files={"file": ("水源保护区.gpkg", gpkg)}),
                    "数据管理员（data-admin）", "data-admin")
        refused_for(r1.client.request("DELETE", "/api/layers/dw_source_level1", headers={"X-CSRF-Token": r1.csrf}),
                    "数据管理员", "data-admin")
        refused_for(r1.client.get("/api/audit/verify"), "审计员（auditor）", "auditor")


def inside(answer: dict) -> set[str]:
    return {finding["layer"] for finding in answer["findings"] if finding["inside"]}


def test_a_data_admins_import_is_audited_and_the_next_check_uses_it(base, water_source):
    site, gpkg = water_source
    with logged_in(base, "r1") as r1, logged_in(base, "admin") as admin, logged_in(base, "audit") as auditor:
        assert "dw_source_level1" not in inside(check(r1, site))

        imported = admin.post("/api/layers/import", data={"kind": "water_source", "source": "绛县水源地（测试）", "accuracy": "5"},
                              files={"file": ("水源保护区.gpkg", gpkg)})
        assert imported.status_code == 201, imported.text
        record = imported.json()["import"]
        assert {"dw_source_level1", "dw_source_level2", "dw_source_quasi"} <= set(record["layers"])
        changes = imported.json()["audit"]
        assert {(c["action"], c["user"], c["role"]) for c in changes} == {("import", "admin", "data-admin")}

        after = check(r1, site)  # the very next check uses the imported layer
        assert {"dw_source_level1", "drinking_water_zones"} <= inside(after)
        assert "绛县水源地（测试）" in json.dumps(after["layers"], ensure_ascii=False)  # and cites its source

        again = admin.post("/api/layers/import", data={"kind": "water_source"}, files={"file": ("水源保护区.gpkg", gpkg)})
        assert again.status_code == 201 and {c["action"] for c in again.json()["audit"]} == {"replace"}

        removed = admin.client.request("DELETE", f"/api/layers/{again.json()['import']['id']}", headers={"X-CSRF-Token": admin.csrf})
        assert removed.status_code == 200, removed.text
        assert {c["action"] for c in removed.json()["audit"]} == {"remove"}
        assert "dw_source_level1" not in inside(check(r1, site))

        listed = auditor.client.get("/api/layer-changes").json()["changes"]
        assert [c["action"] for c in listed[:len(removed.json()["audit"]) + 1]][-1] == "replace"
        assert {c["user"] for c in listed} == {"admin"}
        verified = auditor.client.get("/api/audit/verify")
        assert verified.status_code == 200, verified.text
        assert verified.json()["intact"] and verified.json()["layer_changes"] >= 3 and verified.json()["records"] >= 3

        bad = admin.post("/api/layers/import", data={"kind": "water_source"}, files={"file": ("水源保护区.shp", b"not a shapefile")})
        assert bad.status_code == 422 and "zip" in bad.json()["error"]["message_zh"]
        unknown = admin.client.request("DELETE", "/api/layers/no_such_import", headers={"X-CSRF-Token": admin.csrf})
        assert unknown.status_code == 404


def test_the_single_sign_on_header_is_ignored_from_an_untrusted_address(base):
    answer = httpx.get(f"{base}/api/me", headers={"X-Remote-User": "audit"})
    assert answer.status_code == 401  # 127.0.0.1 is not the configured proxy (10.9.9.9)
