"""The `siting` command as a reviewer runs it: a real subprocess, real layers."""

import json
import subprocess
import sys

import pytest


def siting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=300)


def test_json_output_is_the_stable_contract(mill_site):
    done = siting("check", "--lon", str(mill_site.x), "--lat", str(mill_site.y), "--industry", "造纸",
                  "--stage", "new", "--format", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["overall"] == "prohibited"
    assert set(result) >= {"overall", "findings", "not_evaluated", "layers", "site"}
    hit = next(f for f in result["findings"] if f["rule"] == "YC21-3.1-fen-2km")
    assert set(hit) >= {"rule", "plan", "section", "quote", "action", "layer", "inside", "distance_m", "margin_m",
                        "boundary_case"}
    assert hit["action"] == "禁止" and hit["inside"] is True and 395 < hit["distance_m"] < 405
    assert all({"source", "sha256", "crs", "accuracy_m", "authoritative"} <= set(layer) for layer in result["layers"])


def test_text_output_leads_with_the_verdict_and_its_reason_then_citations_and_sources(mill_site):
    done = siting("check", "--lon", str(mill_site.x), "--lat", str(mill_site.y), "--industry", "2221")
    assert done.returncode == 0, done.stderr
    first, reason = done.stdout.splitlines()[:2]
    assert first.startswith("选址审查结论：禁止")
    assert reason.startswith("理由：禁止：") and "YC21-3.1-fen-2km" in reason and "汾河" in reason
    assert "1. 【禁止】" in done.stdout and "运城市 YC21-3.1-fen-2km（禁止）" in done.stdout
    assert "“禁止在汾河（运城段）河岸两侧2公里范围内" in done.stdout
    assert "非权威公开数据" in done.stdout and "EPSG:4546" in done.stdout


def test_map_shows_site_zone_river_and_citation(mill_site, tmp_path):
    page = tmp_path / "check.html"
    done = siting("check", "--lon", str(mill_site.x), "--lat", str(mill_site.y), "--industry", "造纸",
                  "--map", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    for expected in ("YC21-3.1-fen-2km", "非权威公开图层", "禁止在汾河（运城段）河岸两侧2公里", "L.marker"):
        assert expected in html
    # Layer-control names are written as JSON string literals.
    for overlay in ("汾河干流", "汾河（运城段）沿岸2000米（YC21-3.1-fen-2km）"):
        assert json.dumps(overlay)[1:-1] in html


@pytest.mark.parametrize(
    "args, field, hint",
    [
        (["--lon", "abc", "--lat", "35.5", "--industry", "造纸"], "--lon", "十进制度数"),
        (["--lon", "111.2", "--lat", "91", "--industry", "造纸"], "--lat", "-90"),
        (["--lon", "35.5", "--lat", "111.2", "--industry", "造纸"], "--lat", "写反"),
        (["--lon", "111.2", "--lat", "35.5", "--industry", "造只厂"], "--industry", "相近的名称"),
        (["--lon", "111.2", "--lat", "35.5", "--industry", "9999"], "--industry", "行业代码"),
        (["--lon", "111.2", "--lat", "35.5", "--industry", "造纸", "--stage", "later"], "--stage", "新建"),
        (["--lon", "200", "--lat", "35.5", "--industry", "造纸"], "--lon", "-180 到 180"),
        (["--lon", "10", "--lat", "35.5", "--industry", "造纸"], "--lon", "不在中国境内"),
    ],
)
def test_bad_input_names_the_field_and_the_fix_without_a_traceback(args, field, hint, layers):
    done = siting("check", *args)
    assert done.returncode == 2
    assert f"输入错误：{field} = " in done.stderr and hint in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_industry_lists_the_nearest_terms(layers):
    done = siting("check", "--lon", "111.2", "--lat", "35.5", "--industry", "造只厂")
    assert done.returncode == 2
    assert "造纸" in done.stderr and "Input error" in done.stderr


def test_layers_list_json_shows_built_and_missing_layers(layers):
    done = siting("layers", "list", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {row["id"]: row for row in json.loads(done.stdout)["layers"]}
    assert rows["fen_river"]["status"] == "built" and rows["fen_river"]["provenance"]["accuracy_m"] == 1000
    assert rows["sushui_tributaries"]["status"] == "missing"


def test_rules_list_json_lists_every_rule_with_its_citation():
    from layers import catalog

    done = siting("rules", "list", "--format", "json")
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["count"] == len(catalog.rules()) == len(listing["rules"])
    for rule in listing["rules"]:
        assert rule["plan"] and rule["section"] and rule["quote"] and rule["zone"]["kind"]
        assert rule["action"] in {"禁止", "限制", "退出", "鼓励"} and rule["industries"] and rule["stages"]


def test_rules_show_and_industries_search():
    shown = siting("rules", "show", "YC21-3.1-fen-2km")
    assert shown.returncode == 0 and json.loads(shown.stdout)["zone"]["distance_m"] == 2000
    assert siting("rules", "show", "NO-SUCH-RULE").returncode == 2
    found = siting("industries", "search", "年产60万吨焦炭项目")
    assert found.returncode == 0 and "焦化：2521" in found.stdout
