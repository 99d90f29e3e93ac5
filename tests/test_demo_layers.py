"""Demonstration layers: the sizes the plans state, units that tile each county, and
checks that name the unit, apply the red-line rules and say the data is only a demonstration."""

import numpy as np
import pytest
import shapely
from pyproj import Geod

from layers import catalog
from spatial.checker import check
from spatial.rules import Stage, Verdict
from spatial.units import UnitClass, class_of_code
from tests.sites import site_in_zone

GEOD = Geod(ellps="GRS80")
JIANGXIAN, WENXI, CHENGQU = "140826", "140823", "140502"


def geodesic_km2(geometry: shapely.Geometry) -> float:
    return abs(GEOD.geometry_area_perimeter(geometry)[0]) / 1e6


def run(layers, site, industry, stage=Stage.NEW):
    return check(site, catalog.taxonomy().resolve(industry), stage, list(catalog.rules()), layers)


def test_jiangxian_red_line_has_the_area_the_plan_states(layers):
    red_line = layers.layers["eco_redline"]
    area = geodesic_km2(shapely.union_all(red_line.frame.geometry.values))
    assert area == pytest.approx(catalog.demo_parameters()["red_line"]["area_km2"], abs=0.05)
    share = area / geodesic_km2(layers.admin_area(JIANGXIAN))
    assert share == pytest.approx(0.3966, abs=0.01)  # the plan's 39.66 %, on a cartographic county outline
    assert red_line.provenance.demonstration and not red_line.provenance.authoritative
    assert red_line.provenance.coverage == (JIANGXIAN,)


@pytest.mark.parametrize("county", list(catalog.demo_parameters()["seats"]))
def test_units_tile_each_county_without_gaps_or_overlaps(layers, county):
    frames = [layers.layers[c.layer].frame for c in UnitClass]
    parts = np.concatenate([f.loc[f["county"] == county].geometry.values for f in frames])
    union = shapely.union_all(parts)
    county_area = geodesic_km2(layers.admin_area(county))
    assert geodesic_km2(union) == pytest.approx(county_area, rel=1e-3)
    assert sum(geodesic_km2(p) for p in parts) == pytest.approx(geodesic_km2(union), rel=1e-3)
    assert all(shapely.is_valid(parts))


def test_unit_codes_follow_the_official_format_and_state_their_class(layers):
    for unit_class in UnitClass:
        frame = layers.layers[unit_class.layer].frame
        assert frame["code"].str.fullmatch(r"ZH\d{6}[123]\d{4}").all()
        assert all(class_of_code(code) is unit_class for code in frame["code"])
        assert (frame["code"].str[2:8] == frame["county"]).all()


def test_a_chemical_plant_in_the_red_line_is_prohibited_and_names_its_unit(layers):
    site = site_in_zone(layers, "eco_redline", JIANGXIAN)
    result = run(layers, site, "化学原料和化学制品制造业")
    hit = next(f for f in result.findings if f.rule.id == "NAT19-redline-no-development")
    assert hit.inside and hit.verdict is Verdict.PROHIBITED and result.overall is Verdict.PROHIBITED
    (unit,) = result.units
    assert unit["class"] == "优先保护" and unit["code"].startswith(f"ZH{JIANGXIAN}1")
    # 运城市's plans quote no unit access list; the demo unit must not borrow 晋城城区's words.
    layout = unit["access_list"]["空间布局约束"]
    assert "运城市的规划未给出" in layout and "晋城" not in layout
    assert "生态保护红线" in result.demonstration and any("示意数据" in w for w in result.warnings)


@pytest.mark.parametrize("industry, expected", [
    ("4812", Verdict.RESTRICTED),  # a highway: an allowed linear infrastructure, under conditions
    ("生态修复", Verdict.RESTRICTED),
    ("48", Verdict.REVIEW),  # 土木工程建筑业 holds highways but also other works: cannot tell
])
def test_red_line_allows_the_listed_activities_only_under_conditions(layers, industry, expected):
    result = run(layers, site_in_zone(layers, "eco_redline", JIANGXIAN), industry)
    national = [f for f in result.findings if f.rule.plan.id == "national-three-control-lines-2019"]
    assert max((f.verdict for f in national), key=lambda v: v.severity) is expected
    assert all(f.verdict is not Verdict.PROHIBITED for f in national)


def test_outside_the_demonstration_red_line_coverage_nothing_is_passed(layers):
    result = run(layers, shapely.point_on_surface(layers.admin_area(WENXI)), "化学原料和化学制品制造业")
    skipped = {n.rule.id: n.reason for n in result.not_evaluated}
    assert "NAT19-redline-no-development" in skipped and "绛县" in skipped["NAT19-redline-no-development"]
    assert result.overall.severity >= Verdict.REVIEW.severity


def test_a_steel_plant_in_a_chengqu_key_unit_is_prohibited_by_the_unit_rule(layers):
    frame = layers.layers["units_key"].frame
    town = frame.loc[(frame["county"] == CHENGQU) & frame["name"].str.contains("城镇")].geometry.iloc[0]
    result = run(layers, shapely.point_on_surface(town), "钢铁")
    hit = next(f for f in result.findings if f.rule.id == "CQ23-3.1-key-units-capacity")
    assert hit.inside and hit.verdict is Verdict.PROHIBITED
    (unit,) = result.units
    assert unit["class"] == "重点管控" and "CQ23-3.1-key-units-capacity" in unit["rules"]
