"""Generated site registers for fuzzing the batch readers (tests/test_batch_hostile.py runs a
sample, scripts/fuzz.py many): CSV text in several encodings with hostile cells, quotes,
ragged rows and truncation, raw bytes, and archives named .xlsx."""

from __future__ import annotations

import functools
import io
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from siting.batch.files import ResultWriter, SiteTable
from siting.batch.rows import Options, resolve_columns, screen_chunk
from tests.fuzz_cases import outcome

_HEADERS = ["名称", "经度", "纬度", "行业", "阶段", "name", "lon", "lat", "industry", "stage", "", "经度", "x"]
_CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["111.25", "35.6", "112°30′", "东经112.5", "-0", "1e308", "nan", "inf", "", " ", "造纸", "焦化", "2521",
                     "新建", "existing", "=HYPERLINK(\"http://x\",\"y\")", "+1", "@SUM(A1)", "\t1", "a\rb", "a\nb", '"', '""',
                     "\ud800", "\x00", "\x1b", "\uffff"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
_ENCODINGS = st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "gbk", "utf-16", "utf-16-le", "latin-1"])


def _csv_text(header: list[str], rows: list[list[str]], quote: bool, delimiter: str) -> str:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote else value

    return "\n".join(delimiter.join(cell(v) for v in row) for row in [header, *rows]) + "\n"


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


csv_registers = st.one_of(
    st.builds(lambda header, rows, quote, delimiter, encoding, cut: _encoded(_csv_text(header, rows, quote, delimiter), encoding, cut),
              st.lists(st.sampled_from(_HEADERS), min_size=1, max_size=6),
              st.lists(st.lists(_CELLS, max_size=7), max_size=8), st.booleans(), st.sampled_from([",", "\t", ";"]),
              _ENCODINGS, st.one_of(st.none(), st.integers(0, 400))),
    st.builds(lambda rows, encoding: _encoded(_csv_text(["名称", "经度", "纬度", "行业", "阶段"], rows, False, ","), encoding, None),
              st.lists(st.tuples(_CELLS, st.floats(110, 115).map(str), st.floats(34.5, 40.7).map(str),
                                 st.sampled_from(["造纸", "焦化", "", "x"]), st.sampled_from(["新建", "现有", "", "?"])).map(list),
                       max_size=10), _ENCODINGS),
    st.binary(max_size=400),
)
_MEMBERS = ["a.txt", "xl/workbook.xml", "[Content_Types].xml", "xl/worksheets/sheet1.xml"]
xlsx_files = st.one_of(st.binary(max_size=300),
                       st.lists(st.tuples(st.sampled_from(_MEMBERS), st.binary(max_size=100)), max_size=3,
                                unique_by=lambda member: member[0]).map(_zip))


def _encoded(text: str, encoding: str, cut: int | None) -> bytes:
    data = text.encode(encoding, errors="replace") if encoding not in ("utf-8", "utf-8-sig") else text.encode(encoding, errors="surrogatepass")
    return data if cut is None else data[:cut]


def batch_case(data: bytes, suffix: str) -> str:
    """"ok", "refused" or a crash, by the oracle of tests.fuzz_cases."""
    return outcome(run_batch, data, suffix, *stack())


@functools.cache
def stack() -> tuple[list, object]:
    """The rules and the default layers, loaded once per process and prepared by one screened row."""
    from layers import catalog
    from layers.build import load_layers

    loaded = list(catalog.rules()), load_layers()
    run_batch("名称,经度,纬度,行业,阶段\n甲,112.5,37.8,造纸,新建\n".encode(), ".csv", *loaded)
    return loaded


def run_batch(data: bytes, suffix: str, rules: list, layers) -> None:
    """Read a register the way `siting batch` does, screen every chunk and write CSV results."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / f"register{suffix}"
        path.write_bytes(data)
        table = SiteTable(path, 4)
        columns = resolve_columns(table.headers, {}, table.has_geometry)
        start = 1
        with ResultWriter(Path(work) / "out" / "r.csv") as writer:
            for chunk, xy in table.chunks():
                rows = np.arange(start, start + chunk.num_rows)
                start += chunk.num_rows
                writer.write(screen_chunk(chunk, rows, columns, Options(), rules, layers, xy))
