"""The 审查意见 as a Word document (python-docx), the form reviewers file and edit.

Laid out for a permit file: A4, real Heading 1/2 styles (Word's navigation pane and
table of contents work), the check id and page numbers in the footer, table header rows
repeated on every page and rows that never split across pages.
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.document import Document as DocumentType
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from siting.report.content import (
    DECISION_HEADER,
    DECISION_WIDTHS,
    FINDING_HEADER,
    FINDING_WIDTHS,
    HASH_HEADER,
    HASH_WIDTHS,
    MISSING_HEADER,
    MISSING_TITLE,
    MISSING_WIDTHS,
    NO_DECISIONS,
    PROVENANCE_HEADER,
    PROVENANCE_WIDTHS,
    SECTION_NUMBERS,
    ReportContent,
    decision_rows,
    issue_lines,
)

BODY_FONT = "宋体"  # present on every reviewer's Windows Word; WPS and LibreOffice map it to a CJK serif
HEADING_FONT = "黑体"
_WARNING_RED = RGBColor(0xB0, 0x1E, 0x1E)
_A4 = (Mm(210), Mm(297))
_MARGIN = Cm(2.0)
_TEXT_WIDTH_CM = 21.0 - 2 * 2.0


def _font(run: Run, name: str, size: float, bold: bool = False, colour: RGBColor | None = None) -> Run:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if colour is not None:
        run.font.color.rgb = colour
    return run


def _paragraph(document: DocumentType, text: str, size: float = 10.5, bold: bool = False, colour: RGBColor | None = None,
               font: str = BODY_FONT, centre: bool = False) -> Paragraph:
    paragraph = document.add_paragraph()
    if centre:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run(text), font, size, bold, colour)
    return paragraph


def _heading_styles(document: DocumentType) -> None:
    """Word's own Heading 1/2 in black 黑体, so the navigation pane lists the sections."""
    for name, size in (("Heading 1", 14), ("Heading 2", 11.5)):
        style = document.styles[name]
        style.font.name = HEADING_FONT
        style.font.size = Pt(size)
        style.font.bold = True
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), HEADING_FONT)
        style.paragraph_format.keep_with_next = True
        style.paragraph_format.space_before = Pt(10 if name == "Heading 1" else 6)
        style.paragraph_format.space_after = Pt(4)


def _heading(document: DocumentType, text: str, level: int = 1) -> None:
    document.add_heading(text, level=level)


def _field(paragraph: Paragraph, code: str, size: float) -> None:
    """A Word field (PAGE, NUMPAGES) Word fills in when it lays the page out."""
    run = _font(paragraph.add_run(), BODY_FONT, size)
    for kind, text in (("begin", None), (None, code), ("separate", None), (None, "1"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        elif text == code:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = f" {code} "
        else:
            element = OxmlElement("w:t")
            element.text = text
        run._element.append(element)


def _footer(document: DocumentType, check_id: str) -> None:
    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run(f"审查编号 {check_id}　第 "), BODY_FONT, 8)
    _field(paragraph, "PAGE", 8)
    _font(paragraph.add_run(" 页 / 共 "), BODY_FONT, 8)
    _field(paragraph, "NUMPAGES", 8)
    _font(paragraph.add_run(" 页"), BODY_FONT, 8)


def _row_flags(row, header: bool) -> None:
    """Rows never split across pages; the header row repeats on each page the table runs onto."""
    properties = row._tr.get_or_add_trPr()
    properties.append(OxmlElement("w:cantSplit"))
    if header:
        properties.append(OxmlElement("w:tblHeader"))


def _keep_with_next(row) -> None:
    for cell in row.cells:
        for paragraph in cell.paragraphs:
            paragraph.paragraph_format.keep_with_next = True


def _table(document: DocumentType, header: tuple[str, ...] | None, rows: list[tuple[str, ...]], widths: tuple[float, ...],
           size: float = 9, keep_first: int = 2) -> Table:
    """A grid table with columns sized by ``widths`` (shares of the text width); the header is
    kept with the first ``keep_first`` rows so it is never left alone at the foot of a page."""
    columns = len(widths)
    table = document.add_table(rows=0, cols=columns)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    lengths = [Cm(_TEXT_WIDTH_CM * share) for share in widths]
    for column, length in zip(table.columns, lengths, strict=True):
        column.width = length
    if header is not None:
        row = table.add_row()
        _row_flags(row, header=True)
        for cell, text in zip(row.cells, header, strict=True):
            _font(cell.paragraphs[0].add_run(text), HEADING_FONT, size, bold=True)
            _shade(cell, "EEEEEE")
        _keep_with_next(row)
    for index, values in enumerate(rows):
        row = table.add_row()
        _row_flags(row, header=False)
        for cell, text in zip(row.cells, values, strict=True):
            _font(cell.paragraphs[0].add_run(text), BODY_FONT, size)
        if header is not None and index < keep_first - 1 and index < len(rows) - 1:
            _keep_with_next(row)
    for row in table.rows:
        for cell, length in zip(row.cells, lengths, strict=True):
            cell.width = length
    return table


def _shade(cell, fill: str) -> None:
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shading)


def _colour(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def write_docx(content: ReportContent, figure: Path, out: Path) -> Path:
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = _A4
    section.left_margin = section.right_margin = _MARGIN
    section.top_margin = section.bottom_margin = Cm(2.0)
    _heading_styles(document)
    _footer(document, content.check_id)
    _paragraph(document, content.title, size=20, bold=True, font=HEADING_FONT, centre=True)
    _paragraph(document, f"审查编号：{content.check_id}    审查日期：{content.checked_on}", centre=True)
    for notice in content.notices:
        _paragraph(document, notice, size=10.5, bold=True, colour=_WARNING_RED)

    numbers = iter(SECTION_NUMBERS)
    _heading(document, f"{next(numbers)}、审查结论")
    _paragraph(document, f"结论：{content.overall_label}（{content.overall}）", size=16, bold=True, colour=_colour(content.colour))
    if content.headline:
        _paragraph(document, f"理由：{content.headline}", bold=True)
    if content.decisive:
        _paragraph(document, f"决定性条款：{content.decisive}")
    _paragraph(document, content.conclusion)

    _heading(document, f"{next(numbers)}、项目与场址")
    _table(document, None, content.meta, (0.2, 0.8), size=10)

    _heading(document, f"{next(numbers)}、审查意见明细")
    if content.findings:
        _table(document, FINDING_HEADER, content.findings, FINDING_WIDTHS)
        _heading(document, "条款依据", level=2)
        for citation in content.citations:
            _paragraph(document, citation, size=10)
    else:
        _paragraph(document, "没有适用于该行业和阶段的规划空间管控条款。")
    if content.not_evaluated:
        _heading(document, MISSING_TITLE, level=2)
        _table(document, MISSING_HEADER, content.not_evaluated, MISSING_WIDTHS, size=9)
    if content.units:
        _heading(document, f"{next(numbers)}、所在环境管控单元及生态环境准入清单（三线一单）")
        for unit in content.units:
            label = f"{unit.code} {unit.name}（{unit.unit_class}）" + ("【示意数据，非正式准入清单】" if unit.demonstration else "")
            _heading(document, label, level=2)
            _table(document, None, unit.access, (0.2, 0.8), size=9.5)
    for title, items in content.extras:
        if items:
            _heading(document, title, level=2)
            for item in items:
                _paragraph(document, f"· {item}", size=10)

    _heading(document, f"{next(numbers)}、位置示意图")
    document.add_picture(str(figure), width=Cm(_TEXT_WIDTH_CM))
    _heading(document, f"{next(numbers)}、数据来源与版本")
    _table(document, PROVENANCE_HEADER, content.provenance, PROVENANCE_WIDTHS, size=8)
    _paragraph(document, f"规则目录版本（sha256）：{content.catalog_version}", size=9)
    for notice in content.notices:
        _paragraph(document, notice, size=10, bold=True, colour=_WARNING_RED)

    _heading(document, f"{next(numbers)}、审查人意见")
    if content.decisions:
        _table(document, DECISION_HEADER, decision_rows(content), DECISION_WIDTHS, size=9)
    else:
        _paragraph(document, NO_DECISIONS, size=10)
    _heading(document, "出具信息", level=2)
    for line in issue_lines(content):
        _paragraph(document, line, size=9)
    _paragraph(document, "审查人：____________    复核人：____________    日期：____________")

    if content.not_evaluated_detail:
        _heading(document, "附录一　未能判定的条款及所缺图层")
        _table(document, ("所缺图层", "条款", "原因"), content.not_evaluated_detail, (0.22, 0.33, 0.45), size=8)
    _heading(document, f"附录{'二' if content.not_evaluated_detail else '一'}　图层数据校验值")
    _table(document, HASH_HEADER, content.hashes, HASH_WIDTHS, size=8)
    document.core_properties.title = f"{content.title} {content.check_id}"
    document.core_properties.identifier = content.check_id
    document.save(str(out))
    return out
