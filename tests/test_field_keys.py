"""One bad input, three channels: the engine names a neutral field key (spatial.errors.FieldKey); the command
line renders it as its option (--lon), the JSON API as its field (lon), the page as its form label (经度)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely

from siting.audit.audited_check import CheckInput
from siting.cli.main import CLI_LABELS
from siting.web.schemas import API_FIELDS, API_MENTIONS
from spatial.coordinates import LonLatProblem, lonlat_problems, parse_point, point_from_lonlat, resolve_crs
from spatial.crs import BD09, GCJ02
from spatial.errors import FieldKey, InputError
from tests.test_cli import siting
from tests.webapp import open_page, running_server

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "siting" / "web" / "static"
# The page's form labels for the API's fields, as app.js declares them.
PAGE_LABELS = dict(re.findall(r'(\w+): "([^"]+)"', re.search(r"const FIELD_LABELS = \{([^}]*)\}", (STATIC / "app.js").read_text()).group(1)))

# (what the reviewer got wrong, how the engine is called, the key it names, CLI arguments, API body)
BAD_INPUTS = [
    ("a longitude of 200", lambda: point_from_lonlat(200.0, 35.6), FieldKey.LON,
     ["--lon", "200", "--lat", "35.6", "--industry", "造纸"], {"lon": 200, "lat": 35.6, "industry": "造纸"}),
    ("a coordinate system pyproj does not know", lambda: parse_point("111.2, 35.5", "EPSG:99999"), FieldKey.CRS,
     ["--at", "111.2, 35.5", "--crs", "EPSG:99999", "--industry", "造纸"], {"at": "111.2, 35.5", "crs": "EPSG:99999", "industry": "造纸"}),
    ("an industry no plan or code names", lambda: CheckInput.parse(shapely.Point(111.2, 35.5), {}, "造只厂", "new"), FieldKey.INDUSTRY,
     ["--lon", "111.2", "--lat", "35.5", "--industry", "造只厂"], {"lon": 111.2, "lat": 35.5, "industry": "造只厂"}),
]
CASES = [pytest.param(*case[1:], id=case[0]) for case in BAD_INPUTS]


@pytest.fixture(scope="module")
def api(data_dir, layers):
    with running_server(data_dir) as base, httpx.Client(base_url=base, timeout=120) as client:
        yield client


def test_no_engine_or_reader_error_names_a_command_line_option():
    readers = ["spatial/", "layers/io/", "layers/imports.py", "layers/user_catalog.py", "layers/osm.py"]
    found = subprocess.run(["grep", "-rn", '"--', *readers], cwd=ROOT, capture_output=True, text=True).stdout
    options = [line for line in found.splitlines() if "InputError" in line or "file_error" in line or "_fail" in line]
    assert options == [], options


@pytest.mark.parametrize("engine, key, cli_args, body", CASES)
def test_the_engine_names_the_key(engine, key, cli_args, body):
    with pytest.raises(InputError) as refused:
        engine()
    assert refused.value.field == key and str(refused.value.field) == key.value


@pytest.mark.parametrize("engine, key, cli_args, body", CASES)
def test_the_command_line_names_its_option(engine, key, cli_args, body, layers):
    done = siting("check", *cli_args)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"输入错误：{CLI_LABELS[key]} = " in done.stderr and f"Input error: {CLI_LABELS[key]} = " in done.stderr


@pytest.mark.parametrize("engine, key, cli_args, body", CASES)
def test_the_json_api_names_its_field(engine, key, cli_args, body, api):
    response = api.post("/api/check", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == key.value and error["message_zh"].startswith(f"输入错误：{key.value} = ")
    assert "--" not in error["message_zh"] + error["message_en"]


def test_the_page_names_its_form_label(app_url, session):
    open_page(session, app_url)
    page = session.page

    def refused(place: str) -> str:
        page.click("#submit")
        return page.locator(f'[data-field="{place}"] .field-error p.zh').inner_text(timeout=60_000)

    page.fill("#industry", "造纸")
    page.fill("#at", "111.2, 35.5")
    page.select_option("#crs", "custom")
    page.fill("#crs-custom", "EPSG:99999")
    assert refused("crs").startswith(f"输入错误：{PAGE_LABELS['crs']} = ")  # 坐标系, not crs or --crs
    page.select_option("#crs", "")
    page.fill("#industry", "造只厂")
    assert refused("industry").startswith(f"输入错误：{PAGE_LABELS['industry']} = ")  # 行业
    page.fill("#industry", "造纸")
    page.fill("#at", "200, 35.6")  # the page takes coordinates as text: its field is 坐标
    assert refused("at").startswith(f"输入错误：{PAGE_LABELS['at']} = ")
    assert PAGE_LABELS["lon"] == "经度" and PAGE_LABELS["lat"] == "纬度"


def test_every_key_has_a_word_in_each_channel():
    api_words = {key: API_FIELDS.get(key, key.value) for key in FieldKey}
    assert set(CLI_LABELS) == set(FieldKey) and all(label.startswith("--") or label == "FILE" for label in CLI_LABELS.values())
    assert set(API_MENTIONS) | {FieldKey.RIVER} == set(FieldKey)  # a river is named only on the command line (OSM import)
    assert {api_words[key] for key in (FieldKey.LON, FieldKey.LAT, FieldKey.AT, FieldKey.CRS, FieldKey.INDUSTRY, FieldKey.STAGE,
                                      FieldKey.PROJECT, FieldKey.SITE_FILE)} <= set(PAGE_LABELS)


def test_a_fix_mentioning_another_field_is_rendered_per_channel():
    error = InputError(FieldKey.SITE_FILE, "红线.shp", "请用 ⟦crs⟧ 指明。", "name it with ⟦crs⟧.")
    assert error.rendered(CLI_LABELS).message.startswith("输入错误：--site = '红线.shp'。请用 --crs 指明。")
    api_error = error.rendered(API_FIELDS, API_MENTIONS)
    assert api_error.field == "file" and api_error.fix_zh == "请用 坐标系（crs） 指明。"


def test_one_validator_for_scalars_and_arrays():
    lon = np.array([111.2, 200.0, 111.2, 35.5, 10.5, np.nan, 111.2])
    lat = np.array([35.6, 35.6, 95.0, 111.2, 50.0, 35.6, 200.0])
    expected = [LonLatProblem.NONE, LonLatProblem.LON_RANGE, LonLatProblem.LAT_RANGE, LonLatProblem.LAT_LOOKS_LIKE_LON,
                LonLatProblem.OUTSIDE_CHINA, LonLatProblem.LON_NOT_FINITE, LonLatProblem.LAT_RANGE]
    assert lonlat_problems(lon, lat).tolist() == expected
    assert [int(lonlat_problems(x, y)) for x, y in zip(lon, lat, strict=True)] == expected
    assert int(lonlat_problems(None, 95.0)) == LonLatProblem.LAT_LOOKS_LIKE_LON  # one field checked as it arrives
    with pytest.raises(InputError) as swapped:
        point_from_lonlat(35.5, 111.2)
    assert swapped.value.field == FieldKey.LAT and "写反" in swapped.value.fix_zh
    with pytest.raises(InputError) as from_text:
        parse_point("E10.5 N50")
    assert from_text.value.field == FieldKey.AT and "不在中国境内" in from_text.value.fix_zh


def test_resolve_crs_returns_one_type():
    assert resolve_crs("gcj02") is GCJ02 and resolve_crs("BD-09") is BD09
    assert resolve_crs("wgs84").to_epsg() == 4326 and resolve_crs("cgcs2000").to_epsg() == 4490
    assert resolve_crs("EPSG:4546").to_epsg() == 4546
    gcj = parse_point("111.2, 35.5", "gcj02")
    bd = parse_point("111.2, 35.5", "bd09")
    assert (gcj.crs, bd.crs) == ("GCJ-02", "BD-09") and (gcj.lon, gcj.lat) != (bd.lon, bd.lat)  # GCJ-02 and BD-09 equal to pyproj
