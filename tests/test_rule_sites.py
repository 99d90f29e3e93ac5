"""Every rule of the catalog has a site that triggers it and one that does not.

Sites are placed on the built layers per rule: inside the zone at half its buffer
distance (or anywhere in the plan area for zone-wide rules) and well outside it.
"""

import pytest
import shapely

from layers import catalog
from spatial.checker import check
from spatial.rules import Action, Verdict, ZoneKind
from tests.sites import farthest_from, site_clear_of_zone, site_in_zone, site_near, site_near_or_in

RULES = catalog.rules()
FAR_SITE = shapely.Point(108.9, 34.3)  # 西安: outside every Shanxi plan


def _industry(rule):
    """A code the rule names; a rule whose terms are all narrower than their classes (洗煤 in
    0610) can only be reached by a code more coarsely, and says 需复核."""
    return catalog.taxonomy().resolve(sorted(rule.industry_codes or rule.finer_codes)[0])


def _verdict_inside(rule):
    """What the sentence gives a project of that code well inside the zone."""
    if rule.action is Action.ENCOURAGE:
        return Verdict.COMPLIANT
    return Verdict.REVIEW if rule.condition or not rule.industry_codes else rule.action.verdict


def _stage(rule):
    return sorted(rule.stages, key=lambda s: s.name)[0]


def _result(layers, rule, site):
    project = rule.enterprises[0] if rule.enterprises else ""  # a measure on a named firm binds that firm
    return check(site, _industry(rule), _stage(rule), [rule], layers, project=project)


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_is_triggered_inside_its_zone(layers, rule):
    zone = rule.zone
    area = zone.section or rule.jurisdictions[0]
    if zone.layer in layers.missing:
        bounding = layers.missing[zone.layer].bounded_by
        site = (site_near(layers, bounding, area, 100) if bounding in layers.layers
                else shapely.point_on_surface(layers.admin_area(area)))
        result = _result(layers, rule, site)
        assert [n.rule.id for n in result.not_evaluated] == [rule.id]
        return
    if zone.kind is ZoneKind.BUFFER:
        accuracy = layers.layers[zone.layer].provenance.accuracy_m
        clear_of_edge = zone.distance_m - accuracy - 100  # deeper than the layer's accuracy, where the band allows it
        site = site_near_or_in(layers, zone.layer, area, clear_of_edge if 0 < clear_of_edge < zone.distance_m / 2 else zone.distance_m / 2)
    elif zone.kind is ZoneKind.WITHIN:
        site = site_in_zone(layers, zone.layer, area)
    else:
        site = shapely.point_on_surface(layers.admin_area(area))
    result = _result(layers, rule, site)
    if rule.general:
        assert result.findings == [] and [c.rule.id for c in result.conditions] == [rule.id]
        return
    (finding,) = result.findings
    if zone.kind is ZoneKind.UNDEFINED:
        assert finding.inside is None
        assert finding.verdict is (Verdict.COMPLIANT if rule.action is Action.ENCOURAGE else Verdict.REVIEW)
    else:
        near_edge = finding.boundary_case and rule.action is not Action.ENCOURAGE  # within the layer's accuracy: 需复核
        assert finding.inside and finding.verdict is (Verdict.REVIEW if near_edge else _verdict_inside(rule))


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_is_silent_outside_its_zone(layers, rule):
    zone = rule.zone
    if zone.kind is ZoneKind.BUFFER and zone.layer in layers.layers:
        layer = layers.layers[zone.layer]
        clear = zone.distance_m + layer.provenance.accuracy_m + layer.provenance.widest_bank_m + 1000
        area = zone.section or rule.jurisdictions[0]
        if farthest_from(layers, zone.layer, area) < clear:
            return  # the buffer spans the whole plan area (城区 lies within 20 km of 市区): nowhere to be clear of it
        (finding,) = _result(layers, rule, site_near(layers, zone.layer, area, clear)).findings
        assert not finding.inside and not finding.boundary_case and finding.verdict is Verdict.COMPLIANT
    if zone.kind is ZoneKind.WITHIN and zone.layer in layers.layers:
        (finding,) = _result(layers, rule, site_clear_of_zone(layers, zone.layer, rule.jurisdictions[0])).findings
        assert not finding.inside and not finding.boundary_case and finding.verdict is Verdict.COMPLIANT
    result = _result(layers, rule, FAR_SITE)
    assert result.findings == [] and result.not_evaluated == [] and result.conditions == []
