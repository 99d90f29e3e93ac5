"""The rule files: schema, vocabulary and verbatim quotes."""

import re

import pytest

from layers import catalog
from spatial.errors import InputError
from spatial.rules import ZoneKind
from tests.conftest import SEEDS


def normalised(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the plan texts (../shared/seeds) are not beside this checkout")
def test_every_quote_occurs_verbatim_in_its_plan(rules):
    for rule in rules:
        source = SEEDS / rule.plan.seed if rule.plan.seed else catalog.DATA / rule.plan.reference
        assert source.is_file(), rule.id
        assert normalised(rule.quote) in normalised(source.read_text(encoding="utf-8")), rule.id


@pytest.mark.skipif(not SEEDS.is_dir(), reason="the plan texts (../shared/seeds) are not beside this checkout")
def test_every_sentence_recorded_as_not_encoded_is_quoted_verbatim_with_a_reason():
    for item in catalog.not_encoded():
        text = (SEEDS / item.plan.seed).read_text(encoding="utf-8")
        assert normalised(item.quote) in normalised(text), item.quote[:30]
        assert len(item.reason) >= 4


def test_the_catalog_counts_encoded_and_not_encoded_sentences_per_plan(rules):
    counts = catalog.sentence_counts()
    assert set(counts) == {rule.plan.id for rule in rules}
    for plan_id, count in counts.items():
        quotes = {rule.quote for rule in rules if rule.plan.id == plan_id}
        assert count["encoded"] == len(quotes) and count["rules"] >= count["encoded"]
        assert count["not_encoded"] == sum(1 for item in catalog.not_encoded() if item.plan.id == plan_id)


def test_a_rule_never_carries_a_deadline_its_quote_does_not_state(rules):
    # "No deadline that the text does not state": the year of every deadline is in the sentence.
    for rule in rules:
        if rule.deadline:
            year = rule.deadline[:4]
            assert year in normalised(rule.quote), rule.id


def test_every_rule_names_a_declared_layer_or_says_why_it_has_none(rules):
    declared = catalog.layer_declarations()
    for rule in rules:
        if rule.zone.kind in (ZoneKind.BUFFER, ZoneKind.WITHIN):
            assert rule.zone.layer in declared, rule.id
        if rule.zone.kind is ZoneKind.UNDEFINED:
            assert rule.zone.undefined, rule.id


def test_every_missing_layer_gives_a_reason():
    for layer_id, decl in catalog.layer_declarations().items():
        if decl.get("status") == "missing":
            assert decl["reason"].strip(), layer_id


def test_plan_terms_map_to_gbt4754_codes():
    taxonomy = catalog.taxonomy()
    assert taxonomy.codes_of("炼焦") == {"2521"}
    assert taxonomy.codes_of("造纸") == {"221", "222"}
    assert {"311", "312", "314", "321", "322", "323"} == taxonomy.codes_of("冶炼")
    assert taxonomy.codes_of("两高一剩") >= taxonomy.codes_of("两高") >= {"26", "31", "2521", "4411"}
    assert taxonomy.codes_of("两高一资") >= {"06", "08", "09", "10"}
    divisions = [code for code in taxonomy.classes if len(code) == 2]
    assert len(divisions) == 97


@pytest.mark.parametrize("text, codes", [("造纸", ("221", "222")), ("2221", ("2221",)), ("C2521", ("2521",)),
                                         ("炼焦", ("2521",)), ("软件开发", ("651",))])
def test_industry_resolves_from_term_or_code(text, codes):
    assert catalog.taxonomy().resolve(text).codes == codes


def test_unknown_industry_suggests_neighbours():
    with pytest.raises(InputError) as error:
        catalog.taxonomy().resolve("造只厂")
    assert "造纸" in error.value.fix_zh


@pytest.mark.parametrize("text, codes", [("年产60万吨焦炭项目", ("2521",)), ("电镀加工", ("3360",)),
                                         ("新建年产10万吨纸浆项目", ("221", "222")), ("钢压延加工", ("313",))])
def test_free_text_descriptions_resolve_to_their_class(text, codes):
    industry = catalog.taxonomy().resolve(text)
    assert industry.codes == codes and text in industry.label


def test_a_description_naming_two_industries_lists_the_candidates():
    with pytest.raises(InputError) as error:
        catalog.taxonomy().resolve("焦化和电镀综合项目")
    assert "焦化" in error.value.fix_zh and "电镀" in error.value.fix_zh

