"""The reviewer's desk in headless Debian chromium (network cut, 1366×768): decisions and the history list.

A decision recorded in the page is appended to the audit log, listed under the check, shown in the
history list, printed in the DOCX and PDF downloaded from there, and carried through a replay.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pypdfium2
import shapely
from docx import Document

from tests.browser import OfflinePage
from tests.webapp import open_page

FEN_RULE = "YC21-3.1-fen-2km"
PROJECT = "某纸业年产5万吨生活用纸项目（审查决定）"
OVERALL_NOTE = "建设单位须补充河堤实测资料"
RULE_NOTE = "此处实测距河堤 2.3 公里，图层偏差"


def check_mill(session: OfflinePage, site: shapely.Point) -> str:
    """Check the paper mill 400 m from the 汾河; the check id once its desk is shown."""
    page = session.page
    page.fill("#at", f"{site.x:.7f}, {site.y:.7f}")
    page.fill("#industry", "造纸")
    page.fill("#project", PROJECT)
    page.click("#submit")
    page.wait_for_selector("#desk:not([hidden])", timeout=60_000)
    return re.search(r"C\d{8}T\d{6}-[0-9a-f]{12}", page.inner_text("#check-id")).group(0)


def decide(form, decision: str, note: str) -> None:
    form.get_by_label(decision, exact=True).check()
    form.locator("textarea").fill(note)
    form.get_by_role("button", name="记录审查决定").click()


def docx_text(path: Path) -> str:
    document = Document(str(path))
    return "\n".join([p.text for p in document.paragraphs]
                     + [cell.text for table in document.tables for row in table.rows for cell in row.cells])


def pdf_text(path: Path) -> str:
    """All pages' text with whitespace removed: CJK lines wrap anywhere in a table cell."""
    document = pypdfium2.PdfDocument(str(path))
    return re.sub(r"\s+", "", "".join(page.get_textpage().get_text_range() for page in document))


def test_decisions_are_listed_kept_in_history_and_printed_in_the_reports(session, app_url, mill_site, tmp_path):
    open_page(session, app_url)
    page = session.page
    check_id = check_mill(session, mill_site)

    decide(page.locator("#desk-overall form"), "需补充材料", OVERALL_NOTE)
    page.wait_for_selector("#desk-decisions tbody tr")
    row = page.locator(f'#findings tbody tr[data-rule="{FEN_RULE}"]')
    row.get_by_role("button", name="审查决定").click()
    decide(page.locator(f'#findings form[data-rule="{FEN_RULE}"]'), "不采纳", RULE_NOTE)
    page.wait_for_function("() => document.querySelectorAll('#desk-decisions tbody tr').length === 2")
    listed = [page.locator("#desk-decisions tbody tr").nth(i).inner_text() for i in range(2)]
    assert "需补充材料" in listed[0] and "总体结论" in listed[0] and OVERALL_NOTE in listed[0]
    assert "不采纳" in listed[1] and FEN_RULE in listed[1] and RULE_NOTE in listed[1]
    assert row.locator(".desk-badge").inner_text() == "已决定：不采纳"

    stored = httpx.get(f"{app_url}/api/checks/{check_id}").json()["decisions"]
    assert [(d["decision"], d["rule_id"], d["note"]) for d in stored] == [
        ("需补充材料", None, OVERALL_NOTE), ("不采纳", FEN_RULE, RULE_NOTE)]
    recorded = stored[1]["recorded_at"]  # UTC; the page shows China Standard Time, eight hours later
    hour = (int(recorded[11:13]) + 8) % 24
    assert f" {hour:02d}:{recorded[14:16]}:" in listed[1]

    history = page.locator(f'#history-table tbody tr[data-check-id="{check_id}"]')
    history.wait_for()
    page.wait_for_function(
        "id => document.querySelector(`#history-table tr[data-check-id='${id}'] .desk-latest`).textContent.includes('不采纳')",
        arg=check_id)
    assert PROJECT in history.inner_text() and "禁止" in history.inner_text()
    page.screenshot(path=str(tmp_path / "decision-form.png"))  # looked at before each change to the desk
    page.locator("#history").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "desk-and-history.png"))

    # A fresh page: the check is opened from the history list with its answer, decisions and map.
    open_page(session, app_url)
    history.locator("button.history-open").click()
    page.wait_for_selector("#desk:not([hidden])")
    assert page.get_attribute("#verdict", "data-verdict") == "prohibited"
    assert check_id in page.inner_text("#check-id") and FEN_RULE in page.inner_text("#findings")
    assert page.locator("#desk-decisions tbody tr").count() == 2
    page.wait_for_function("id => document.querySelector('#map').src.includes(id)", arg=check_id)
    page.frame_locator("#map").locator(".leaflet-control-layers").wait_for()

    with page.expect_download(timeout=120_000) as download:
        history.locator("a.history-docx").click()
    docx = tmp_path / "审查意见.docx"
    download.value.save_as(docx)
    text = docx_text(docx)
    assert check_id in text and "需补充材料" in text and OVERALL_NOTE in text and RULE_NOTE in text and "不采纳" in text

    with page.expect_download(timeout=120_000) as download:
        history.locator("a.history-pdf").click()
    pdf = tmp_path / "审查意见.pdf"
    download.value.save_as(pdf)
    text = pdf_text(pdf)
    assert "需补充材料" in text and re.sub(r"\s+", "", RULE_NOTE) in text and OVERALL_NOTE in text

    history.locator("button.history-replay").click()
    replayed = page.locator(f'#history-table tr.history-replayed[data-check-id="{check_id}"]')
    page.wait_for_selector(f'#history-table tr.history-replayed[data-check-id="{check_id}"][data-identical]')
    assert replayed.get_attribute("data-identical") == "true"
    assert "与记录一致，无变化" in replayed.inner_text() and "审查决定 2 条" in replayed.inner_text()
    assert session.console_errors == [], session.console_errors
    assert session.failed_requests == [] and session.blocked_requests == [], session.failed_requests


def test_a_refused_decision_is_shown_beside_the_field_it_names(session, app_url, mill_site):
    open_page(session, app_url)
    page = session.page
    check_id = check_mill(session, mill_site)
    form = page.locator("#desk-overall form")

    form.get_by_role("button", name="记录审查决定").click()  # no decision chosen
    assert "请选择审查决定" in form.locator('[data-field="decision"] .field-error').inner_text()

    form.get_by_label("采纳", exact=True).check()
    form.locator("textarea").evaluate("(box, n) => { box.value = '长'.repeat(n); }", 2001)  # past the box's maxlength
    form.get_by_role("button", name="记录审查决定").click()
    error = form.locator('[data-field="note"] .field-error')
    error.wait_for()
    assert error.get_attribute("data-field") == "note" and "过长" in error.inner_text()
    assert form.locator("textarea").get_attribute("aria-invalid") == "true"
    assert httpx.get(f"{app_url}/api/checks/{check_id}").json()["decisions"] == []  # refused, nothing appended

    # A new check takes the desk with the old result.
    page.fill("#at", "111.2, 91")
    page.click("#submit")
    page.wait_for_selector('[data-field="at"] .field-error')
    assert page.locator("#desk").is_hidden()
