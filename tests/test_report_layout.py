"""The filed 审查意见 laid out for a permit file: A4, headings, footers, tables that survive page
breaks, the answer first, one line per missing layer, and no command-line syntax.

Reports are written by the real CLI on the real layers and read back: the DOCX through its
XML (what Word lays out), the PDF through pypdfium2 text extraction page by page.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pypdfium2
import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

from siting.report.content import FINDING_HEADER, MISSING_TITLE

# A 100 km line across 运城市 (河津 → 芮城): it meets enough zones for the findings table to run over pages.
LONG_LINE = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {
    "type": "LineString", "coordinates": [[110.60, 35.65], [110.75, 35.45], [110.95, 35.20], [111.05, 35.0], [111.2, 34.85]]}}]}
HEADER_TEXT = "".join(FINDING_HEADER)
CLI_SYNTAX = re.compile(r"(?<![\w-])--[a-z]|\bsiting (?:check|history|layers|map|serve)\b")


def siting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=300)


def report(out, *site: str, industry: str = "造纸") -> dict:
    done = siting("check", *site, "--industry", industry, "--format", "json", "--report", str(out))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def flat(text: str) -> str:
    """Page text without the line breaks the PDF layout put in (pdfium reports a hyphen the line
    broke at as U+FFFE)."""
    return re.sub(r"\s+", "", text.replace("\ufffe", "-"))


def pdf_pages(path) -> list[str]:
    return [flat(page.get_textpage().get_text_range()) for page in pypdfium2.PdfDocument(str(path))]


def listed_rules(answer: dict) -> list[str]:
    """Rule ids of the findings the report's table lists, in order (as the check groups them)."""
    groups = answer["groups"]
    listed = groups["site"] + [f for f in groups["area"] if f["verdict"] != "compliant"] + groups["undetermined"]["undefined"]
    return [f["rule"] for f in listed]


@pytest.fixture(scope="module")
def mill_docx(mill_site, tmp_path_factory):
    out = tmp_path_factory.mktemp("docx") / "审查意见.docx"
    answer = report(out, "--lon", str(mill_site.x), "--lat", str(mill_site.y))
    return answer, Document(str(out))


@pytest.fixture(scope="module")
def long_pdf(layers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdf")
    (folder / "line.geojson").write_text(json.dumps(LONG_LINE), encoding="utf-8")
    answer = report(folder / "审查意见.pdf", "--site", str(folder / "line.geojson"), industry="化学原料和化学制品制造业")
    return answer, pdf_pages(folder / "审查意见.pdf")


def test_docx_is_a4_with_word_headings(mill_docx):
    _, document = mill_docx
    for section in document.sections:
        assert abs(section.page_width - Mm(210)) < Mm(0.5) and abs(section.page_height - Mm(297)) < Mm(0.5)
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert ("Heading 1", "一、审查结论") in headings and any(t.endswith("审查意见明细") for _, t in headings)
    assert any(name == "Heading 2" and t.startswith("未能判定的条款") for name, t in headings)


def test_docx_footer_has_page_number_fields_and_the_check_id(mill_docx):
    answer, document = mill_docx
    footer = document.sections[0].footer._element
    codes = [node.text.strip() for node in footer.iter(qn("w:instrText"))]
    assert codes == ["PAGE", "NUMPAGES"]
    text = "".join(node.text for node in footer.iter(qn("w:t")))
    assert answer["audit"]["check_id"] in text and "页" in text


def test_docx_findings_header_repeats_rows_do_not_split_and_columns_fit_their_content(mill_docx):
    answer, document = mill_docx
    table = next(t for t in document.tables if tuple(c.text for c in t.rows[0].cells) == FINDING_HEADER)
    first = table.rows[0]._tr.trPr
    assert first is not None and first.find(qn("w:tblHeader")) is not None
    assert all(row._tr.trPr.find(qn("w:cantSplit")) is not None for row in table.rows)
    assert all(row._tr.trPr.find(qn("w:tblHeader")) is None for row in table.rows[1:])
    # The header is kept with the first row: its paragraphs keep with the next.
    assert all(p.paragraph_format.keep_with_next for c in table.rows[0].cells for p in c.paragraphs)
    widths = [cell.width for cell in table.rows[1].cells]
    assert len(set(widths)) > 3 and widths[2] > 3 * widths[0]  # the plan column is wide, the index narrow
    assert [row.cells[2].text.split("（")[-1].split("，")[0] for row in table.rows[1:]] == listed_rules(answer)


def test_docx_answers_first_and_lists_one_row_per_missing_layer(mill_docx):
    answer, document = mill_docx
    texts = [p.text for p in document.paragraphs]
    conclusion = texts.index("一、审查结论")
    assert texts[conclusion + 1].startswith(f"结论：{answer['overall_label']}")
    assert texts[conclusion + 2] == f"理由：{answer['headline']}"
    assert texts[conclusion + 3].startswith("决定性条款：【禁止】汾河（运城段）沿岸2000米")
    missing = answer["groups"]["undetermined"]["missing_layers"]
    table = next(t for t in document.tables if t.rows[0].cells[0].text == "所缺图层" and len(t.columns) == 2)
    assert [row.cells[0].text for row in table.rows[1:]] == [g["layer_name"] for g in missing]
    # Every held-back rule is still named, in the appendix.
    appendix = next(t for t in document.tables if tuple(c.text for c in t.rows[0].cells) == ("所缺图层", "条款", "原因"))
    named = " ".join(row.cells[1].text for row in appendix.rows[1:])
    assert all(rule in named for g in missing for rule in g["rules"])


def test_no_report_format_speaks_command_line(mill_site, mill_docx, tmp_path):
    _, document = mill_docx
    text = "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for r in t.rows for c in r.cells])
    assert not CLI_SYNTAX.search(text), CLI_SYNTAX.search(text)
    report(tmp_path / "r.html", "--lon", str(mill_site.x), "--lat", str(mill_site.y))
    page = re.sub(r"<style>.*?</style>", "", (tmp_path / "r.html").read_text(encoding="utf-8"), flags=re.S)
    assert not CLI_SYNTAX.search(page), CLI_SYNTAX.search(page)


def test_pdf_findings_header_is_on_every_page_of_the_table_and_never_stranded(long_pdf):
    answer, pages = long_pdf
    rules = listed_rules(answer)
    assert len(rules) > 20
    first = next(i for i, page in enumerate(pages) if HEADER_TEXT in page)
    last = max(i for i, page in enumerate(pages) if f"（{rules[-1]}，" in page)
    assert last > first, "the long line's table must run over pages for this test to mean anything"
    for index in range(first, last + 1):
        page = pages[index]
        assert HEADER_TEXT in page, f"page {index + 1} of the findings table has no header"
        after = page.rsplit(HEADER_TEXT, 1)[1]
        assert any(f"（{rule}，" in after for rule in rules), f"page {index + 1} ends on the table header"
    for index, page in enumerate(pages):
        if HEADER_TEXT in page:
            assert any(f"（{rule}，" in page.rsplit(HEADER_TEXT, 1)[1] for rule in rules), f"header stranded on page {index + 1}"


def test_pdf_not_evaluated_block_for_a_yuncheng_site_fits_on_one_page(mill_site, tmp_path):
    answer = report(tmp_path / "r.pdf", "--lon", str(mill_site.x), "--lat", str(mill_site.y))
    assert answer["site"]["admin"]["city"].startswith("运城市")
    missing = answer["groups"]["undetermined"]["missing_layers"]
    assert len(missing) > 20
    pages = pdf_pages(tmp_path / "r.pdf")
    (page,) = [p for p in pages if flat(MISSING_TITLE) in p]
    block = page.split(flat(MISSING_TITLE), 1)[1]
    assert all(flat(g["layer_name"]) in block for g in missing)
    # One row per layer: no rule ids in the block itself (they are in the appendix).
    assert not any(rule in block.split("四、")[0] for g in missing for rule in g["rules"])


def test_reviewer_decisions_and_issue_block_are_printed_in_docx_and_pdf(mill_site, tmp_path):
    answer = report(tmp_path / "first.docx", "--lon", str(mill_site.x), "--lat", str(mill_site.y))
    check_id = answer["audit"]["check_id"]
    decided = siting("history", "--decide", check_id, "--decision", "需补充材料", "--note", "此处实测距河堤 2.3 公里，图层偏差",
                     "--rule", "YC21-3.1-fen-2km")
    assert decided.returncode == 0, decided.stderr
    for suffix in ("docx", "pdf"):
        out = tmp_path / f"issued.{suffix}"
        done = siting("history", "--id", check_id, "--report", str(out))
        assert done.returncode == 0, done.stderr
        if suffix == "docx":
            document = Document(str(out))
            table = next(t for t in document.tables if len(t.columns) == 4 and t.rows[0].cells[2].text == "意见")
            (row,) = table.rows[1:]
            assert [c.text for c in row.cells[1:3]] == ["条款（YC21-3.1-fen-2km）", "需补充材料"]
            assert row.cells[3].text.startswith("此处实测距河堤 2.3 公里，图层偏差")
            text = "\n".join(p.text for p in document.paragraphs)
        else:
            text = "".join(pdf_pages(out))
            assert flat("条款（YC21-3.1-fen-2km）需补充材料此处实测距河堤2.3公里，图层偏差") in text
        assert "审查人意见" in text and "出具信息" in text and check_id in text and "北京时间" in text
