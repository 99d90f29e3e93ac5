"""The 审查意见 as one self-contained HTML file (figure inlined), also the source of the PDF."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

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

_ENVIRONMENT = Environment(loader=PackageLoader("siting.report", "templates"), autoescape=select_autoescape(["j2"]))


def render_html(content: ReportContent, figure: Path) -> str:
    """The report page; column widths and headers come from the content model, shared with the DOCX."""
    return _ENVIRONMENT.get_template("report.html.j2").render(
        c=content, numbers=SECTION_NUMBERS, extras=content.extras, finding_header=FINDING_HEADER,
        finding_widths=FINDING_WIDTHS, provenance_header=PROVENANCE_HEADER, provenance_widths=PROVENANCE_WIDTHS,
        missing_header=MISSING_HEADER, missing_widths=MISSING_WIDTHS, missing_title=MISSING_TITLE,
        hash_header=HASH_HEADER, hash_widths=HASH_WIDTHS, decision_header=DECISION_HEADER,
        decision_widths=DECISION_WIDTHS, decisions=decision_rows(content), no_decisions=NO_DECISIONS,
        issue_lines=issue_lines(content),
        figure_base64=base64.b64encode(figure.read_bytes()).decode("ascii"),
    )
