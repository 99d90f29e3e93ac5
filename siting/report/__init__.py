"""Filed reports (审查意见) of an audited check: DOCX, PDF and HTML from one content model.

PDF is rendered by WeasyPrint from the same HTML, so the two can never disagree; it lays
out CJK text through Pango/HarfBuzz with the system's fontconfig (Debian fonts-noto-cjk),
needs no browser or office suite, and installs from PyPI. The renderers are imported
only when a report is written, so a plain ``siting check`` starts fast. ``text_report`` is the plain-text
answer for a memo; ``class_exports`` the GeoPackage, GeoTIFF and tables of an industry siting map.
May import ``siting.audit`` and every room below; never ``siting.cli`` or ``siting.web``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from siting.audit.log import CheckRecord
from spatial.errors import InputError
from spatial.findings import CheckResult
from spatial.layer import LayerSet

__all__ = ["REPORT_FORMATS", "report_suffix", "write_report"]

REPORT_FORMATS = {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                  ".pdf": "application/pdf", ".html": "text/html; charset=utf-8"}


def report_suffix(path: Path, field: str = "--report") -> str:
    """The report format named by a file suffix, or a bilingual refusal."""
    suffix = path.suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise InputError(field, str(path), "审查意见文件应以 .docx、.pdf 或 .html 结尾。", "the report file must end in .docx, .pdf or .html.")
    return suffix


def write_report(out: Path, record: CheckRecord, result: CheckResult, layers: LayerSet) -> Path:
    """Write the 审查意见 of ``record`` to ``out``; ``result`` is the same check, for the map figure."""
    from siting.report.content import build_content
    from siting.report.figure import map_figure

    suffix = report_suffix(out)
    content = build_content(record)
    with tempfile.TemporaryDirectory(prefix="siting-report-") as work:
        figure = map_figure(result, layers, Path(work) / "figure.png")
        if suffix == ".docx":
            from siting.report.docx_report import write_docx

            return write_docx(content, figure, out)
        from siting.report.html_report import render_html

        html = render_html(content, figure)
        if suffix == ".html":
            out.write_text(html, encoding="utf-8")
            return out
        from weasyprint import HTML

        HTML(string=html).write_pdf(str(out))
        return out
