"""Site registers in and result tables out, in chunks of Arrow tables so memory stays flat.

In: CSV (UTF-8, GBK or UTF-16 with its BOM; read by pyarrow's multithreaded streaming reader,
other encodings transcoded block by block), Excel .xlsx (read with calamine, after the
archive checks of ``layers.io.file_guards``) or GeoPackage (a point layer, read as Arrow
batches), each within the agency-file size bounds. A file that cannot be read as a table
(empty, binary, mixed encodings, an unterminated quote, rows of the wrong width, an archive
without a workbook) is refused with the row and the fix, never half-read.

Out: Excel (one sheet per level, xlsxwriter in constant-memory mode), GeoPackage (one layer
per level, pyogrio's Arrow write path), CSV (one file per level, pyarrow's CSV writer,
UTF-8 with BOM for Excel; cells a spreadsheet would run as a formula are prefixed with ')
or GeoParquet 1.1 (one file per level; the summary carries the WGS84 points). The levels:
汇总 (every input row), 量测明细 (every measured finding) and 规划情形 (what each
situation of plans, industry and stage gets).

Results are written into a staging directory beside OUT and put in place only when the run
completes: a single file by one rename; the files of a CSV or GeoParquet result set live in
one directory, ``.OUT.results-*``, that the names OUT, OUT_量测明细… reach through one
symbolic link ``.OUT.current``, switched by one rename. A run killed at any point leaves
either the whole previous result set or the whole new one, never a mix; the next run to the
same OUT deletes what a killed one left.
"""

from __future__ import annotations

import codecs
import csv
import fcntl
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyogrio
import shapely
from numpy.typing import NDArray

from layers.io.file_guards import check_archive, check_size
from siting.batch.rows import REASON, SITUATION_COLUMNS, STATUS, ChunkResult, situation_table
from spatial.errors import InputError
from spatial.limits import LAYER_FILE_LIMITS

_EXCEL_MAX_ROWS = 1_048_576
SUMMARY, DETAILS, SITUATIONS = "汇总", "量测明细", "规划情形"
_BLOCK = 1 << 20
_READ_BLOCK = 1 << 22  # bytes per pyarrow read block: parsed on every core, few held at once
_FORMULA_BYTES = np.frombuffer(b"=+-@\t\r", dtype=np.uint8)  # OWASP: the first characters of a cell a spreadsheet may run as a formula
_WGS84_LON_LAT = ("经度_WGS84", "纬度_WGS84")
# Result columns that repeat a few values (verdicts, situations, rule lists): dictionary pages in GeoParquet, the rest
# plain (a dictionary of names or coordinates costs time and is larger once compressed).
_REPEATED = {STATUS, "结论", "verdict", "理由", "禁止条款", "退出条款", "限制条款", "需复核条款", "示意数据", "规划情形",
             "条款", "说明", *SITUATION_COLUMNS}
# Long texts no reader filters by range: GeoParquet keeps no min/max statistics for them (5 ms a chunk of 50,000 rows).
_UNRANGED = {REASON, "理由", "禁止条款", "退出条款", "限制条款", "需复核条款", "量测距离_米", "说明"}
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class SiteTable:
    """An input register, read one chunk of rows at a time."""

    def __init__(self, path: Path, chunk_rows: int, layer: str | None = None) -> None:
        if not path.is_file():
            raise InputError("IN", str(path), "输入文件不存在。", "the input file does not exist.")
        self.path = path
        self.chunk_rows = chunk_rows
        self.layer = layer
        self.kind = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".gpkg": "gpkg"}.get(path.suffix.lower())
        if self.kind is None:
            raise InputError("IN", path.name, "批量审查支持 CSV、Excel（.xlsx）和 GeoPackage（.gpkg）。",
                             "batches read CSV, Excel (.xlsx) or GeoPackage (.gpkg).")
        self.crs: str | None = None
        check_size(path, "IN", LAYER_FILE_LIMITS)
        if self.kind == "xlsx":  # inflated and parsed by the hardened checks before calamine reads it
            check_archive(path, "IN", LAYER_FILE_LIMITS)
        if self.kind == "csv":
            self._csv = _CsvFormat.sniff(path)
            self.headers = self._csv.names
            self.total = self._csv.lines
        elif self.kind == "xlsx":
            from python_calamine import CalamineWorkbook

            try:
                sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
                self._rows = sheet.iter_rows()
                self.headers = _unique_names([str(h).strip() for h in next(self._rows, [])])
            except Exception as error:  # calamine's own error types: the file is not a workbook it can read
                raise InputError("IN", path.name, f"无法读取 Excel 工作簿（{type(error).__name__}: {error}）；请用 Excel 另存为 .xlsx 后重试。",
                                 f"cannot read the Excel workbook ({type(error).__name__}: {error}); save it again as .xlsx.") from None
            if not self.headers:
                raise InputError("IN", path.name, "第一个工作表为空：第一行应为列名。", "the first sheet is empty: its first row must hold the column names.")
            self.total = max(sheet.height - 1, 0)
        else:
            try:
                info = pyogrio.read_info(path, layer=layer)
            except pyogrio.errors.DataSourceError as error:
                raise InputError("IN", path.name, f"无法读取 GeoPackage：{error}", f"cannot read the GeoPackage: {error}") from None
            self.headers = [str(f) for f in info["fields"]]
            self.total = int(info["features"])
            self.crs = info["crs"]
        self.has_geometry = self.kind == "gpkg"

    def chunks(self) -> Iterator[tuple[pa.Table, NDArray | None]]:
        """(rows, point x/y or None) per chunk of ``chunk_rows`` rows, in file order; one empty
        chunk for a file without rows, so that every level is written with its columns."""
        empty = True
        for chunk in self._chunks():
            empty = False
            yield chunk
        if empty:
            yield pa.table({name: pa.array([], pa.string()) for name in self.headers}), np.empty((0, 2))

    def _chunks(self) -> Iterator[tuple[pa.Table, NDArray | None]]:
        if self.kind == "csv":
            yield from ((table, None) for table in _rechunk(self._csv.batches(), self.chunk_rows))
        elif self.kind == "xlsx":
            width = len(self.headers)
            while True:
                try:
                    block = [row for _, row in zip(range(self.chunk_rows), self._rows, strict=False)]
                except Exception as error:  # a damaged sheet part found while reading it
                    raise InputError("IN", self.path.name, f"Excel 工作表读取失败（{error}）；请用 Excel 另存为 .xlsx 后重试。",
                                     f"reading the sheet failed ({error}); save it again as .xlsx.") from None
                if not block:
                    return
                cells = [(list(r) + [""] * width)[:width] for r in block]
                yield pa.table([_cell_text([r[k] for r in cells]) for k in range(width)], names=self.headers), None
        else:
            with pyogrio.open_arrow(self.path, layer=self.layer, batch_size=self.chunk_rows, use_pyarrow=True) as (meta, reader):
                geometry_name = meta["geometry_name"] or "wkb_geometry"
                for batch in reader:
                    table = pa.Table.from_batches([batch])
                    geometry = shapely.from_wkb(table.column(geometry_name).to_numpy(zero_copy_only=False))
                    yield table.drop_columns([geometry_name]), point_xy(geometry)


def _cell_text(values: list) -> pa.Array:
    """Excel cells as text, as pandas reads an object column as strings (112.0, 2521, "" for empty)."""
    return pa.array(pd.Series(values, dtype=object).astype("string").to_numpy(dtype=object, na_value=""), pa.string())


def _rechunk(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """Record batches of any size as tables of exactly ``rows`` rows (the last one shorter)."""
    pending: list[pa.RecordBatch] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending)


def point_xy(geometry: NDArray) -> NDArray:
    """x, y of point geometries (single-point multipoints too); NaN for anything else."""
    xy = np.full((len(geometry), 2), np.nan)
    kinds = shapely.get_type_id(geometry)
    single = (kinds == shapely.GeometryType.POINT) | ((kinds == shapely.GeometryType.MULTIPOINT) & (shapely.get_num_geometries(geometry) == 1))
    single &= ~shapely.is_empty(geometry)
    if single.any():
        xy[single] = shapely.get_coordinates(shapely.get_geometry(geometry[single], 0))[:, :2]
    return xy


class _CsvFormat:
    """Encoding, delimiter and header of a CSV file, found in one pass over its bytes."""

    def __init__(self, path: Path, encoding: str, delimiter: str, quotes: bool, lines: int, names: list[str]) -> None:
        self.path, self.encoding, self.delimiter, self.quotes, self.lines, self.names = path, encoding, delimiter, quotes, lines, names

    @classmethod
    def sniff(cls, path: Path) -> _CsvFormat:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
        encoding = next((name for bom, name in _BOMS if head.startswith(bom)), None)
        if encoding is None and b"\x00" in head:
            raise InputError("IN", path.name, "文件含有空字节（NUL），不是 UTF-8 或 GBK 文本：可能是不带 BOM 的 UTF-16（“Unicode 文本”）"
                             "或根本不是表格；请用 Excel 另存为“CSV UTF-8”后重试。",
                             "the file holds NUL bytes, so it is not UTF-8 or GBK text: UTF-16 without its BOM, or not a table at all; "
                             "save it from Excel as “CSV UTF-8”.")
        lines, quotes, bad = _scan(path, encoding or "utf-8")
        if encoding is None and bad is not None:
            line, offset, seen_multibyte = bad
            if seen_multibyte:  # UTF-8 text before the bad byte: two encodings in one file
                raise InputError("IN", f"{path.name} 第{line}行", f"文件前面是 UTF-8 编码，从第{line}行（第{offset}字节）起不是；"
                                 "请把整个文件另存为同一种编码（UTF-8 或 GBK）。",
                                 f"the file is UTF-8 up to line {line} (byte {offset}) and not after it; save the whole file in one encoding (UTF-8 or GBK).")
            encoding = "gbk"
            lines, quotes, bad = _scan(path, encoding)
        encoding = encoding or "utf-8"
        if bad is not None:
            line, offset, _ = bad
            raise InputError("IN", f"{path.name} 第{line}行", f"第{line}行（第{offset}字节）既不是 UTF-8 也不是 GBK 文本，"
                             "文件可能不是 CSV 或已损坏；请用 Excel 另存为“CSV UTF-8”后重试。",
                             f"line {line} (byte {offset}) is neither UTF-8 nor GBK text: the file is not a CSV or is damaged; "
                             "save it from Excel as “CSV UTF-8”.")
        with path.open(encoding=encoding, newline="") as handle:
            first = handle.readline().lstrip("\ufeff")
        if not first.strip():
            raise InputError("IN", path.name, "文件为空，或第一行不是列名；第一行应为列名（如 名称,经度,纬度,行业,阶段）。",
                             "the file is empty or its first line holds no column names (e.g. name,lon,lat,industry,stage).")
        delimiter = "\t" if "\t" in first and "," not in first else ","
        names = _unique_names([name.strip() for name in next(csv.reader([first], delimiter=delimiter))])
        return cls(path, encoding, delimiter, quotes, max(lines - 1, 0), names)

    def batches(self) -> Iterator[pa.RecordBatch]:
        """The rows as record batches of strings ("" for an empty cell), in file order."""
        options = (pa_csv.ReadOptions(encoding=self.encoding, block_size=_READ_BLOCK, column_names=self.names, skip_rows=1),
                   pa_csv.ParseOptions(delimiter=self.delimiter, newlines_in_values=self.quotes),
                   pa_csv.ConvertOptions(column_types=dict.fromkeys(self.names, pa.string()), strings_can_be_null=False,
                                         quoted_strings_can_be_null=False))
        try:
            reader = pa_csv.open_csv(self.path, *options)
            yield from reader
        except (pa.ArrowInvalid, UnicodeDecodeError) as error:
            raise self.diagnose(error) from None

    def diagnose(self, error: Exception) -> InputError:
        """The row at which the file stops being a table, found by re-reading it with Python's csv module."""
        width = len(self.names)
        with self.path.open(encoding=self.encoding, errors="replace", newline="") as handle:
            reader = csv.reader(handle, delimiter=self.delimiter, strict=True)
            start = 1
            try:
                for row in reader:
                    if row and len(row) != width and start > 1:
                        return InputError(
                            "IN", f"{self.path.name} 第{start}行", f"该行有 {len(row)} 个单元格，表头有 {width} 列；"
                            "请补齐或删去多余的分隔符（含逗号的单元格请加英文双引号）。",
                            f"the row has {len(row)} cells and the header {width} columns; fill it in or remove the extra "
                            "delimiters (quote cells that hold commas).")
                    start = reader.line_num + 1
            except csv.Error:
                return InputError("IN", f"{self.path.name} 第{start}行", "从该行起有未闭合的英文双引号，文件其余部分无法分行；请补上缺失的引号。",
                                  "a double quote opened on this line is never closed, so the rest of the file cannot be split "
                                  "into rows; add the missing quote.")
        return InputError("IN", self.path.name, f"无法按 CSV 读取：{error}；请用 Excel 另存为“CSV UTF-8”后重试。",
                          f"cannot be read as CSV: {error}; save it from Excel as “CSV UTF-8”.")


def _scan(path: Path, encoding: str) -> tuple[int, bool, tuple[int, int, bool] | None]:
    """Line count, whether any double quote occurs, and where the text stops decoding
    (line, byte offset, whether multibyte text decoded before it) or None."""
    if encoding == "utf-8" and (counted := _scan_utf8(path)) is not None:
        return counted
    decoder = codecs.getincrementaldecoder(encoding)()
    lines, offset, quotes, multibyte = 0, 0, False, False
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            pending = len(decoder.getstate()[0])  # bytes of a character split by the previous block
            try:
                decoder.decode(block)
            except UnicodeDecodeError as error:
                at = max(error.start - pending, 0)
                return lines, quotes, (lines + block[:at].count(b"\n") + 1, offset + at, multibyte or not block[:at].isascii())
            lines += block.count(b"\n")
            quotes = quotes or b'"' in block
            multibyte = multibyte or not block.isascii()
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return lines, quotes, (lines + 1, offset, multibyte)
    return lines, quotes, None


def _scan_utf8(path: Path) -> tuple[int, bool, None] | None:
    """``_scan`` of a file that is valid UTF-8, checked by Arrow's validator (a tenth of the decoder's time);
    None if it is not (the decoder then finds where)."""
    lines, quotes, carry = 0, False, b""
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            lines += block.count(b"\n")
            quotes = quotes or b'"' in block
            text = carry + block
            whole = _whole_characters(text)
            carry = text[whole:]
            try:
                pa.Array.from_buffers(pa.string(), 1, [None, pa.py_buffer(np.array([0, whole], np.int32)), pa.py_buffer(text)]).validate(full=True)
            except pa.ArrowInvalid:
                return None
    return None if carry else (lines, quotes, None)


def _whole_characters(data: bytes) -> int:
    """Where the last UTF-8 character that ``data`` holds whole ends (a block may end inside one)."""
    start = len(data) - 1
    while start > len(data) - 4 and start >= 0 and data[start] & 0xC0 == 0x80:
        start -= 1
    if start < 0:
        return len(data)
    lead = data[start]
    width = 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4 if lead >> 3 == 0b11110 else 1
    return len(data) if len(data) - start >= width else start


def _unique_names(names: list[str]) -> list[str]:
    """Column names as pandas makes them: 'Unnamed: k' for a blank one, 'a.1' for a second 'a'."""
    out: list[str] = []
    for k, name in enumerate(names):
        name = name or f"Unnamed: {k}"
        base, count = name, 0
        while name in out:
            count += 1
            name = f"{base}.{count}"
        out.append(name)
    return out


class ResultWriter:
    """Writes the three levels to OUT; the format follows OUT's suffix.

    Use as a context manager: leaving the block normally puts the files in place, an
    exception discards them and leaves any previous OUT untouched.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.kind = {".csv": "csv", ".xlsx": "xlsx", ".gpkg": "gpkg", ".parquet": "parquet"}.get(out.suffix.lower())
        if self.kind is None:
            raise InputError("--out", out.name, "输出文件应为 .xlsx、.gpkg、.csv 或 .parquet。",
                             "the output must be .xlsx, .gpkg, .csv or .parquet.")
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(out)
        self._staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(out), dir=out.parent))
        self._lock = (self._staging / ".lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # held until the run ends, by exit or by death
        self._situation_keys: set[str] = set()
        self._situation_parts: list[pa.Table] = []  # each situation once, as Arrow (compact as the file)
        self._writers: dict[str, object] = {}
        self._schemas: dict[str, pa.Schema] = {}  # of the first chunk: every later chunk is cast to it
        self._files: list = []
        if self.kind == "xlsx":
            import xlsxwriter

            self._book = xlsxwriter.Workbook(str(self._staging / out.name), {
                "constant_memory": True, "tmpdir": str(self._staging), "strings_to_numbers": False,
                "strings_to_formulas": False, "strings_to_urls": False})
            self._sheets: dict[str, list] = {}

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self._discard()

    def paths(self) -> list[Path]:
        if self.kind in ("csv", "parquet"):
            return [self.out, *(level_path(self.out, level) for level in (DETAILS, SITUATIONS))]
        return [self.out]

    def write(self, result: ChunkResult) -> None:
        self._level(SUMMARY, result.summary)
        self._level(DETAILS, result.details)
        new = {key: situation for key, situation in result.situations.items() if key not in self._situation_keys}
        if new:
            self._situation_keys.update(new)
            self._situation_parts.append(situation_table(new))
        if self.kind in ("csv", "parquet"):
            self._written_back()

    def _written_back(self) -> None:
        """Hand what the staged files hold so far to the kernel's writeback (POSIX_FADV_DONTNEED starts it and
        does not wait), so that the fsync in ``close`` waits for the last chunks, not for the whole result.
        Only for files written once from start to end (a workbook's parts and a GeoPackage are read back)."""
        for handle in self._files:
            handle.flush()
        for path in self._staging.iterdir():
            if path.is_file() and path.name != ".lock":
                descriptor = os.open(path, os.O_RDONLY)
                try:
                    os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
                finally:
                    os.close(descriptor)

    def close(self) -> None:
        """Finish the files and put them in place all at once (see the module docstring)."""
        situations = pa.concat_tables([situation_table({}), *self._situation_parts])
        self._level(SITUATIONS, situations.take(pc.sort_indices(situations, [("规划情形", "ascending")])))
        if self.kind == "xlsx":
            self._book.close()
        for writer in self._writers.values():
            writer.close()
        for handle in self._files:
            handle.close()
        for path in self._staging.iterdir():
            if path.is_file() and path.name != ".lock":
                with path.open("rb") as staged:
                    os.fsync(staged.fileno())
        if self.kind in ("csv", "parquet"):
            _switch_result_set(self.out, self._staging, [p.name for p in self.paths()])
            self._lock.close()  # only now may another run's cleanup look at this set (and find it current)
        else:
            os.replace(self._staging / self.out.name, self.out)
            _fsync_directory(self.out.parent)
            self._discard()

    def _discard(self) -> None:
        for handle in self._files:
            handle.close()
        shutil.rmtree(self._staging, ignore_errors=True)
        self._lock.close()

    def _level(self, level: str, table: pa.Table) -> None:
        if self.kind == "csv":
            self._csv(level, table)
        elif self.kind == "parquet":
            self._parquet(level, table)
        elif self.kind == "gpkg":
            self._gpkg(level, table)
        else:
            self._excel(level, table)

    def _csv(self, level: str, table: pa.Table) -> None:
        table = _plain_columns(_neutralised(_plain_columns(table, dictionaries=False)))
        table = pa.table([pc.if_else(c, "True", "False") if pa.types.is_boolean(c.type) else c for c in table.columns],
                         names=table.column_names)  # flags as pandas writes them
        if level not in self._writers:
            handle = (self._staging / level_path(self.out, level).name).open("wb")
            handle.write(codecs.BOM_UTF8)  # so that Excel reads the file as UTF-8
            self._files.append(handle)
            self._writers[level] = pa_csv.CSVWriter(handle, table.schema, write_options=pa_csv.WriteOptions(quoting_style="needed"))
            self._schemas[level] = table.schema
        self._writers[level].write_table(table.cast(self._schemas[level]))

    def _parquet(self, level: str, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        table = _plain_columns(table)
        if level == SUMMARY:
            table = table.append_column(pa.field("geometry", pa.binary()), _wkb_points(table))
        if level not in self._writers:
            schema = table.schema.with_metadata({b"geo": json.dumps(_geo_metadata()).encode()}) if level == SUMMARY else table.schema
            self._writers[level] = pq.ParquetWriter(self._staging / level_path(self.out, level).name, schema, compression="zstd",
                                                    use_dictionary=[name for name in schema.names if name in _REPEATED],
                                                    write_statistics=[name for name in schema.names if name not in _UNRANGED])
            self._schemas[level] = schema
        self._writers[level].write_table(table.cast(self._schemas[level]))

    def _gpkg(self, level: str, table: pa.Table) -> None:
        table = _plain_columns(table)
        first = level not in self._writers
        self._writers.setdefault(level, _Closed())
        options = {"layer": level, "append": not first, "driver": "GPKG"}
        if level == SUMMARY:
            table = table.append_column(pa.field("geometry", pa.binary()), _wkb_points(table))
            options |= {"geometry_name": "geometry", "geometry_type": "Point", "crs": "EPSG:4326"}
        pyogrio.write_arrow(table, self._staging / self.out.name, **options)

    def _excel(self, level: str, table: pa.Table) -> None:
        """Rows appended to a sheet; past Excel's row limit a level continues on 量测明细2 …"""
        if level not in self._sheets:
            self._sheets[level] = [self._new_sheet(level, table.column_names), 1]
        for row in zip(*(_excel_column(column) for column in table.columns), strict=True):
            sheet, at = self._sheets[level]
            if at >= _EXCEL_MAX_ROWS:
                count = sum(1 for name in self._book.sheetnames if name.startswith(level)) + 1
                sheet, at = self._new_sheet(f"{level}{count}", table.column_names), 1
            sheet.write_row(at, 0, row)
            self._sheets[level] = [sheet, at + 1]

    def _new_sheet(self, name: str, columns: list[str]):
        sheet = self._book.add_worksheet(name)
        sheet.write_row(0, 0, [str(c) for c in columns])
        return sheet


class _Closed:
    """A level already started (GeoPackage layers are appended to by path, nothing to close)."""

    def close(self) -> None:
        return None


def level_path(out: Path, level: str) -> Path:
    """The file of one level of a CSV or GeoParquet result: OUT itself for 汇总, else OUT_<level>.<suffix>."""
    return out if level == SUMMARY else out.with_name(f"{out.stem}_{level}{out.suffix}")


def _plain_columns(table: pa.Table, dictionaries: bool = True) -> pa.Table:
    """Dictionary (unless ``dictionaries`` is false) and large-string columns as plain strings, and input
    columns that are not text, numbers or flags as text, so that every chunk of a level has the same schema."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type) if dictionaries else column
        elif pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        elif not (pa.types.is_string(column.type) or pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
                  or pa.types.is_boolean(column.type)):
            column = pa.array(pd.Series(column.to_pandas()).astype("string").to_numpy(dtype=object, na_value=None), pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _neutralised(table: pa.Table) -> pa.Table:
    """Text cells a spreadsheet would run as a formula (=, +, -, @, tab, CR first) prefixed with ' (OWASP); a
    dictionary column's values are prefixed, not its million cells."""
    columns = []
    for column in table.columns:
        if pa.types.is_dictionary(column.type) and pa.types.is_string(column.type.value_type):
            chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
            column = pa.chunked_array([pa.DictionaryArray.from_arrays(chunk.indices, _neutral_texts(chunk.dictionary)) for chunk in chunks],
                                      column.type)
        elif pa.types.is_string(column.type):
            column = _neutral_texts(column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _neutral_texts(column: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    risky = _formula_cells(column)
    return pc.if_else(pa.array(risky), pc.binary_join_element_wise("'", column, ""), column) if risky.any() else column


def _formula_cells(column: pa.Array | pa.ChunkedArray) -> NDArray:
    """Which cells of a text column start with one of ``_FORMULA_BYTES`` (all ASCII, so one byte of
    UTF-8): the first byte of each value, read from the Arrow buffers, not a regular expression per cell."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = []
    for chunk in chunks:
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32, count=len(chunk) + 1, offset=4 * chunk.offset)
        data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8) if chunk.buffers()[2] is not None else np.empty(0, np.uint8)
        nonempty = offsets[1:] > offsets[:-1]
        first = np.zeros(len(chunk), dtype=np.uint8)
        first[nonempty] = data[offsets[:-1][nonempty]]
        parts.append(np.isin(first, _FORMULA_BYTES) & chunk.is_valid().to_numpy(zero_copy_only=False))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)


def _wkb_points(table: pa.Table) -> pa.Array:
    """The WGS84 point of each checked row as WKB (null for a row not checked), built without Python per row."""
    lon, lat = (table.column(name).to_numpy().astype(float) for name in _WGS84_LON_LAT)
    missing = ~(np.isfinite(lon) & np.isfinite(lat))
    record = np.zeros(len(lon), dtype=[("order", "u1"), ("kind", "<u4"), ("x", "<f8"), ("y", "<f8")])
    record["order"], record["kind"], record["x"], record["y"] = 1, 1, lon, lat
    offsets = pa.array(np.arange(len(lon) + 1, dtype=np.int32) * 21, pa.int32())
    wkb = pa.Array.from_buffers(pa.binary(), len(lon), [None, offsets.buffers()[1], pa.py_buffer(record.tobytes())])
    return pc.if_else(pa.array(missing), pa.scalar(None, pa.binary()), wkb)


def _geo_metadata() -> dict:
    """GeoParquet 1.1 file metadata: one WKB point column in OGC:CRS84 (longitude, latitude)."""
    from pyproj import CRS

    return {"version": "1.1.0", "primary_column": "geometry",
            "columns": {"geometry": {"encoding": "WKB", "geometry_types": ["Point"], "crs": CRS("OGC:CRS84").to_json_dict()}}}


def _staging_prefix(out: Path) -> str:
    return f".{out.name}.partial-"


def _results_prefix(out: Path) -> str:
    return f".{out.name}.results-"


def _current_link(out: Path) -> Path:
    return out.with_name(f".{out.name}.current")


def _switch_result_set(out: Path, staging: Path, names: list[str]) -> None:
    """Make the staged files OUT's result set with one atomic rename of the ``.OUT.current`` link.

    OUT and its sibling files are links through ``.OUT.current``; they are made once (plain
    files left by an older version are replaced the first time). The previous set is removed after the switch.
    """
    results = staging.with_name(_results_prefix(out) + staging.name[len(_staging_prefix(out)):])
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # readable as the files themselves are (mkdtemp made it private)
    os.rename(staging, results)
    current = _current_link(out)
    previous = current.resolve() if current.is_symlink() else None
    fresh = current.with_name(current.name + ".new")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(results.name)
    os.replace(fresh, current)  # the switch: every name below now reaches the new set
    _fsync_directory(out.parent)
    for name in names:
        link = out.with_name(name)
        target = Path(current.name) / name
        if not (link.is_symlink() and Path(os.readlink(link)) == target):
            fresh = link.with_name(f".{name}.link")
            fresh.unlink(missing_ok=True)
            fresh.symlink_to(target)
            os.replace(fresh, link)
    _fsync_directory(out.parent)
    if previous is not None and previous != results.resolve() and previous.name.startswith(_results_prefix(out)):
        shutil.rmtree(previous, ignore_errors=True)


def _remove_abandoned(out: Path) -> list[Path]:
    """Delete what runs writing ``out`` staged and did not finish (killed), and result sets no
    longer current; a live run holds its lock and is left alone."""
    staging, results = _staging_prefix(out), _results_prefix(out)
    current = _current_link(out)
    live = current.resolve() if current.is_symlink() else None
    removed = []
    for path in out.parent.iterdir():
        if not path.is_dir() or path.is_symlink() or not (path.name.startswith(staging) or path.name.startswith(results)):
            continue
        if path.name.startswith(results) and (live is None or path.resolve() == live):
            continue
        try:
            with (path / ".lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                if current.is_symlink() and current.resolve() == path.resolve():
                    continue  # made current by a run that finished after ``live`` was read
                shutil.rmtree(path)
                removed.append(path)
        except OSError:  # locked by a running batch, or already gone
            continue
    return removed


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _excel_column(column: pa.ChunkedArray | pa.Array) -> list:
    """Cell values of a column as Python scalars: 是/否 for flags, None for missing."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_boolean(column.type):
        return ["是" if v else "否" for v in column.to_pylist()]
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), None, column)
    return column.to_pylist()


def read_result(path: Path, level: str = SUMMARY) -> pd.DataFrame:
    """One level of a written result, as text (for tests and scripts that read results back)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(io.StringIO(level_path(path, level).read_text(encoding="utf-8-sig")), dtype=str, keep_default_na=False)
    if suffix == ".parquet":
        return pd.read_parquet(level_path(path, level)).drop(columns=["geometry"], errors="ignore")
    if suffix == ".gpkg":
        return pyogrio.read_dataframe(path, layer=level, read_geometry=False)
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    rows: list[list] = []
    header: list[str] = []
    for name in book.sheet_names:
        if name == level or (name.startswith(level) and name[len(level):].isdigit()):
            data = book.get_sheet_by_name(name).to_python()
            header = [str(h) for h in data[0]]
            rows.extend(data[1:])
    return pd.DataFrame(rows, columns=header)
