"""The 审查意见 as a Word document (python-docx), the form reviewers file and edit."""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.text.run import Run

from siting.report.content import FINDING_HEADER, PROVENANCE_HEADER, SECTION_NUMBERS, ReportContent

BODY_FONT = "宋体"  # present on every reviewer's Windows Word; WPS and LibreOffice map it to a CJK serif
HEADING_FONT = "黑体"
_WARNING_RED = RGBColor(0xB0, 0x1E, 0x1E)


def _font(run: Run, name: str, size: float, bold: bool = False, colour: RGBColor | None = None) -> Run:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)
    if colour is not None:
        run.font.color.rgb = colour
    return run


def _paragraph(document: Document, text: str, size: float = 10.5, bold: bool = False, colour: RGBColor | None = None,
               font: str = BODY_FONT, centre: bool = False) -> None:
    paragraph = document.add_paragraph()
    if centre:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run(text), font, size, bold, colour)


def _heading(document: Document, text: str) -> None:
    _paragraph(document, text, size=14, bold=True, font=HEADING_FONT)


def _table(document: Document, header: tuple[str, ...], rows: list[tuple[str, ...]], size: float = 9) -> None:
    table = document.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        _font(cell.paragraphs[0].add_run(text), HEADING_FONT, size, bold=True)
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            _font(cell.paragraphs[0].add_run(text), BODY_FONT, size)


def _colour(hex_colour: str) -> RGBColor:
    return RGBColor.from_string(hex_colour.lstrip("#").upper())


def write_docx(content: ReportContent, figure: Path, out: Path) -> Path:
    document = Document()
    section = document.sections[0]
    section.left_margin = section.right_margin = Cm(2.2)
    for notice in content.notices:
        _paragraph(document, notice, size=11, bold=True, colour=_WARNING_RED)
    _paragraph(document, content.title, size=20, bold=True, font=HEADING_FONT, centre=True)
    _paragraph(document, f"审查编号：{content.check_id}    审查日期：{content.checked_on}", centre=True)

    numbers = iter(SECTION_NUMBERS)
    _heading(document, f"{next(numbers)}、审查结论")
    _paragraph(document, f"结论：{content.overall_label}（{content.overall}）", size=16, bold=True, colour=_colour(content.colour))
    _paragraph(document, content.conclusion)

    _heading(document, f"{next(numbers)}、项目与场址")
    _table(document, ("项目", "内容"), content.meta, size=10)

    _heading(document, f"{next(numbers)}、审查意见明细")
    if content.findings:
        _table(document, FINDING_HEADER, content.findings)
        _paragraph(document, "条款依据：", bold=True)
        for citation in content.citations:
            _paragraph(document, citation, size=10)
    else:
        _paragraph(document, "没有适用于该行业和阶段的规划空间管控条款。")
    if content.units:
        _heading(document, f"{next(numbers)}、所在环境管控单元及生态环境准入清单（三线一单）")
        for unit in content.units:
            label = f"{unit.code} {unit.name}（{unit.unit_class}）" + ("【示意数据】" if unit.demonstration else "")
            _paragraph(document, label, bold=True)
            for dimension, text in unit.access:
                _paragraph(document, f"{dimension}：{text}", size=10)
    for title, items in content.extras:
        if items:
            _paragraph(document, title + "：", bold=True)
            for item in items:
                _paragraph(document, f"· {item}", size=10)

    _heading(document, f"{next(numbers)}、位置示意图")
    document.add_picture(str(figure), width=Cm(16.5))
    _heading(document, f"{next(numbers)}、数据来源与版本")
    _table(document, PROVENANCE_HEADER, content.provenance, size=8)
    _paragraph(document, f"规则目录版本（sha256）：{content.catalog_version}", size=9)
    for notice in content.notices:
        _paragraph(document, notice, size=10, bold=True, colour=_WARNING_RED)
    _paragraph(document, f"本意见由山西省环评选址空间管控审查系统生成（{content.channel}，{content.created_at}），"
                         f"可凭审查编号在审计日志中复现：siting history --id {content.check_id}", size=9)
    _paragraph(document, "审查人：____________    复核人：____________    日期：____________")
    document.core_properties.title = f"{content.title} {content.check_id}"
    document.core_properties.identifier = content.check_id
    document.save(str(out))
    return out
