"""Property-based fuzzing (a fast sample; scripts/fuzz.py runs 100,000): the coordinate parser,
the KML and 界址点 readers and the rule-file loader never crash, hang or leak a traceback, and
every refusal names its field."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from tests.fuzz_cases import (
    boundary_tables,
    coordinate_texts,
    crs_names,
    kml_case,
    kml_documents,
    parse_case,
    rule_case,
    rule_edits,
    table_case,
)

FAST = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
FILES = settings(max_examples=60, deadline=5000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@FAST
@given(coordinate_texts, crs_names)
def test_coordinate_parser_answers_or_names_the_field(text, crs):
    assert not parse_case(text, crs).startswith("crash"), parse_case(text, crs)


@FILES
@given(kml_documents)
def test_kml_reader_answers_or_names_the_field(document):
    result = kml_case(document)
    assert not result.startswith("crash"), result


@FILES
@given(boundary_tables)
def test_boundary_table_reader_answers_or_names_the_field(table):
    result = table_case(table)
    assert not result.startswith("crash"), result


@FILES
@given(rule_edits)
def test_rule_loader_answers_or_names_the_field(edits):
    result = rule_case(edits)
    assert not result.startswith("crash"), result
