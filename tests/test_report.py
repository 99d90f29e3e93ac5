"""Filed reports (审查意见) written by `siting check --report` and `siting history --report`, read back."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pypdfium2
import pytest
from docx import Document

FEN_QUOTE = "禁止在汾河（运城段）河岸两侧2公里"
DEMO = "示意数据（demonstration data）"


def siting(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "siting", *args], capture_output=True, text=True, timeout=300)


def checked_with_report(site, out, *extra: str) -> dict:
    done = siting("check", "--lon", str(site.x), "--lat", str(site.y), "--industry", "造纸", "--format", "json",
                  "--project", "某纸业年产5万吨生活用纸项目", "--report", str(out), *extra)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and f"审查意见已写出：{out}" in done.stderr
    return json.loads(done.stdout)


def docx_text(path) -> tuple[str, list[bytes]]:
    document = Document(str(path))
    text = "\n".join([p.text for p in document.paragraphs]
                     + [cell.text for table in document.tables for row in table.rows for cell in row.cells])
    images = [part.blob for part in document.part.package.parts if part.content_type == "image/png"]
    assert len(document.inline_shapes) == len(images)
    return text, images


def test_docx_report_states_verdict_citations_map_provenance_and_versions(mill_site, tmp_path):
    answer = checked_with_report(mill_site, tmp_path / "审查意见.docx")
    text, images = docx_text(tmp_path / "审查意见.docx")
    audit = answer["audit"]
    assert "建设项目选址空间管控审查意见" in text and "某纸业年产5万吨生活用纸项目" in text
    assert "结论：禁止（prohibited）" in text and answer["overall"] == "prohibited"
    assert FEN_QUOTE in text and "YC21-3.1-fen-2km" in text
    assert audit["check_id"] in text and audit["catalog_version"] in text and audit["checked_on"] in text
    for layer in answer["layers"]:
        assert layer["sha256"] in text and layer["source"] in text
    assert "非权威公开" in text
    assert (DEMO in text) == any(layer["demonstration"] for layer in answer["layers"])
    for unit in answer.get("units", []):
        assert unit["code"] in text and all(t in text for t in unit["access_list"].values())
    assert len(images) == 1 and images[0].startswith(b"\x89PNG") and len(images[0]) > 20_000


def test_pdf_report_has_the_same_text_and_the_map(mill_site, tmp_path):
    answer = checked_with_report(mill_site, tmp_path / "审查意见.pdf")
    pdf = pypdfium2.PdfDocument(str(tmp_path / "审查意见.pdf"))
    text = re.sub(r"\s+", "", "".join(page.get_textpage().get_text_range() for page in pdf))
    assert "结论：禁止" in text and FEN_QUOTE in text and answer["audit"]["check_id"] in text
    assert "数据来源与版本" in text and answer["audit"]["catalog_version"][:32] in text
    images = sum(len(list(page.get_objects(filter=[pypdfium2.raw.FPDF_PAGEOBJ_IMAGE]))) for page in pdf)
    assert images == 1


def test_html_report_is_self_contained(mill_site, tmp_path):
    answer = checked_with_report(mill_site, tmp_path / "审查意见.html")
    page = (tmp_path / "审查意见.html").read_text(encoding="utf-8")
    assert 'data-verdict="prohibited"' in page and FEN_QUOTE in page and answer["audit"]["check_id"] in page
    assert page.count("data:image/png;base64,") == 1
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page), "the report must load nothing from the network"


def test_demonstration_data_is_labelled_wherever_it_is_used(layers, tmp_path):
    demo_ids = {i for i, layer in layers.layers.items() if layer.provenance.demonstration}
    if not demo_ids:
        pytest.skip("no demonstration layer is built")
    inside = layers.layers[sorted(demo_ids)[0]].frame.geometry.iloc[0].representative_point()
    answer = checked_with_report(inside, tmp_path / "demo.docx")
    assert any(layer["demonstration"] for layer in answer["layers"]) or any(u["demonstration"] for u in answer.get("units", []))
    text, _ = docx_text(tmp_path / "demo.docx")
    assert text.count(DEMO) >= 2  # at the top and beside the sources


def test_history_replays_a_check_into_a_report(mill_site, tmp_path):
    answer = checked_with_report(mill_site, tmp_path / "first.docx")
    done = siting("history", "--id", answer["audit"]["check_id"], "--report", str(tmp_path / "again.docx"))
    assert done.returncode == 0, done.stderr
    assert "复现结果：与记录完全一致" in done.stdout
    first, _ = docx_text(tmp_path / "first.docx")
    again, _ = docx_text(tmp_path / "again.docx")
    assert first == again


def test_a_report_name_without_a_known_suffix_is_refused_before_checking(mill_site, tmp_path):
    before = siting("history", "--format", "json")
    done = siting("check", "--lon", str(mill_site.x), "--lat", str(mill_site.y), "--industry", "造纸",
                  "--report", str(tmp_path / "report.odt"))
    assert done.returncode == 2 and "--report" in done.stderr and ".docx" in done.stderr and "Traceback" not in done.stderr
    assert siting("history", "--format", "json").stdout == before.stdout
