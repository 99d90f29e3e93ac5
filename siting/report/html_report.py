"""The 审查意见 as one self-contained HTML file (figure inlined), also the source of the PDF."""

from __future__ import annotations

import base64
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from siting.report.content import FINDING_HEADER, PROVENANCE_HEADER, SECTION_NUMBERS, ReportContent

_ENVIRONMENT = Environment(loader=PackageLoader("siting.report", "templates"), autoescape=select_autoescape(["j2"]))


def render_html(content: ReportContent, figure: Path) -> str:
    return _ENVIRONMENT.get_template("report.html.j2").render(
        c=content, numbers=SECTION_NUMBERS, extras=content.extras, finding_header=FINDING_HEADER,
        provenance_header=PROVENANCE_HEADER, figure_base64=base64.b64encode(figure.read_bytes()).decode("ascii"),
    )
