"""Site registers in and result tables out, in chunks so memory stays flat.

In: CSV (UTF-8 or GBK), Excel .xlsx (read with calamine, after the archive checks of
``spatial.file_guards``) or GeoPackage (a point layer, read as Arrow batches), each
within the agency-file size bounds. Out: Excel (one sheet per detail level, written with
xlsxwriter in constant-memory mode), GeoPackage (one layer per level) or CSV (one file
per level). The levels: 汇总 (every input row), 量测明细 (every measured finding) and
规划情形 (what each situation of plans, industry and stage gets).

Results are written into a staging directory beside OUT and moved into place by rename
only when the run completes, so a run killed partway never leaves a half-written file
under OUT's name (nor removes the previous result); the next run to the same OUT deletes
what the killed one staged.
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.typing import NDArray

from siting.batch_rows import SITUATION_COLUMNS, ChunkResult
from spatial.errors import InputError
from spatial.file_guards import check_archive, check_size
from spatial.limits import LAYER_FILE_LIMITS

_EXCEL_MAX_ROWS = 1_048_576
SUMMARY, DETAILS, SITUATIONS = "汇总", "量测明细", "规划情形"


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
            self._encoding = _csv_encoding(path)
            header = pd.read_csv(path, dtype=str, nrows=0, encoding=self._encoding)
            self.headers = [str(c) for c in header.columns]
            with path.open("rb") as handle:
                self.total = max(sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)
        elif self.kind == "xlsx":
            from python_calamine import CalamineWorkbook

            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            self._rows = sheet.iter_rows()
            self.headers = [str(h).strip() for h in next(self._rows, [])]
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

    def chunks(self) -> Iterator[tuple[pd.DataFrame, NDArray | None]]:
        """(rows, point x/y or None) per chunk, in file order."""
        if self.kind == "csv":
            reader = pd.read_csv(self.path, dtype=str, keep_default_na=False, encoding=self._encoding, chunksize=self.chunk_rows)
            for frame in reader:
                yield frame, None
        elif self.kind == "xlsx":
            while True:
                block = [row for _, row in zip(range(self.chunk_rows), self._rows, strict=False)]
                if not block:
                    return
                width = len(self.headers)
                yield pd.DataFrame([(list(r) + [""] * width)[:width] for r in block], columns=self.headers, dtype=object), None
        else:
            with pyogrio.open_arrow(self.path, layer=self.layer, batch_size=self.chunk_rows, use_pyarrow=True) as (meta, reader):
                geometry_name = meta["geometry_name"] or "wkb_geometry"
                for batch in reader:
                    frame = batch.to_pandas()
                    geometry = shapely.from_wkb(frame.pop(geometry_name).to_numpy())
                    yield frame, point_xy(geometry)


def point_xy(geometry: NDArray) -> NDArray:
    """x, y of point geometries (single-point multipoints too); NaN for anything else."""
    xy = np.full((len(geometry), 2), np.nan)
    kinds = shapely.get_type_id(geometry)
    single = (kinds == shapely.GeometryType.POINT) | ((kinds == shapely.GeometryType.MULTIPOINT) & (shapely.get_num_geometries(geometry) == 1))
    single &= ~shapely.is_empty(geometry)
    if single.any():
        xy[single] = shapely.get_coordinates(shapely.get_geometry(geometry[single], 0))[:, :2]
    return xy


def _csv_encoding(path: Path) -> str:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            handle.read(1 << 20)
        return "utf-8-sig"
    except UnicodeDecodeError:
        return "gbk"


class ResultWriter:
    """Writes the three levels to OUT; the format follows OUT's suffix.

    Use as a context manager: leaving the block normally puts the files in place, an
    exception discards them and leaves any previous OUT untouched.
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        self.kind = {".csv": "csv", ".xlsx": "xlsx", ".gpkg": "gpkg"}.get(out.suffix.lower())
        if self.kind is None:
            raise InputError("--out", out.name, "输出文件应为 .xlsx、.gpkg 或 .csv。", "the output must be .xlsx, .gpkg or .csv.")
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(out)
        self._staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(out), dir=out.parent))
        self._lock = (self._staging / ".lock").open("w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # held until the run ends, by exit or by death
        self.situations: dict[str, pd.DataFrame] = {}
        self._started: set[str] = set()
        if self.kind == "xlsx":
            import xlsxwriter

            self._book = xlsxwriter.Workbook(str(self._staged(out)), {
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
        if self.kind == "csv":
            return [self.out, *(self.out.with_name(f"{self.out.stem}_{level}.csv") for level in (DETAILS, SITUATIONS))]
        return [self.out]

    def _staged(self, path: Path) -> Path:
        return self._staging / path.name

    def write(self, result: ChunkResult) -> None:
        self._level(SUMMARY, result.summary, geometry=True)
        self._level(DETAILS, result.details)
        self.situations.update(result.situations)

    def close(self) -> None:
        """Finish the files and move them into place, OUT last: an OUT from this run means all its files are."""
        situations = (pd.concat([self.situations[k] for k in sorted(self.situations)], ignore_index=True)
                      if self.situations else pd.DataFrame(columns=SITUATION_COLUMNS))
        self._level(SITUATIONS, situations)
        if self.kind == "xlsx":
            self._book.close()
        for path in [*self.paths()[1:], self.out]:
            with self._staged(path).open("rb") as staged:
                os.fsync(staged.fileno())
            os.replace(self._staged(path), path)
        _fsync_directory(self.out.parent)
        self._discard()

    def _discard(self) -> None:
        shutil.rmtree(self._staging, ignore_errors=True)
        self._lock.close()

    def _level(self, level: str, frame: pd.DataFrame, geometry: bool = False) -> None:
        first = level not in self._started
        self._started.add(level)
        if self.kind == "csv":
            path = self.out if level == SUMMARY else self.out.with_name(f"{self.out.stem}_{level}.csv")
            frame.to_csv(self._staged(path), mode="w" if first else "a", header=first, index=False,
                         encoding="utf-8-sig" if first else "utf-8")
        elif self.kind == "gpkg":
            if geometry:
                points = shapely.points(frame["经度_WGS84"].to_numpy(dtype=float), frame["纬度_WGS84"].to_numpy(dtype=float))
                points = np.where(shapely.is_empty(points) | pd.isna(frame["经度_WGS84"]).to_numpy(), None, points)
                frame = gpd.GeoDataFrame(_gpkg_safe(frame), geometry=points, crs=4326)
            else:
                frame = _gpkg_safe(frame)
            pyogrio.write_dataframe(frame, self._staged(self.out), layer=level, append=not first)
        else:
            self._excel(level, frame)

    def _excel(self, level: str, frame: pd.DataFrame) -> None:
        """Rows appended to a sheet; past Excel's row limit a level continues on 量测明细2 …"""
        if level not in self._sheets:
            self._sheets[level] = [self._new_sheet(level, frame.columns), 1]
        for row in zip(*(_excel_column(frame[c]) for c in frame.columns), strict=True):
            sheet, at = self._sheets[level]
            if at >= _EXCEL_MAX_ROWS:
                count = sum(1 for name in self._book.sheetnames if name.startswith(level)) + 1
                sheet, at = self._new_sheet(f"{level}{count}", frame.columns), 1
            sheet.write_row(at, 0, row)
            self._sheets[level] = [sheet, at + 1]

    def _new_sheet(self, name: str, columns: pd.Index):
        sheet = self._book.add_worksheet(name)
        sheet.write_row(0, 0, [str(c) for c in columns])
        return sheet


def _staging_prefix(out: Path) -> str:
    return f".{out.name}.partial-"


def _remove_abandoned(out: Path) -> list[Path]:
    """Delete what runs writing ``out`` staged and did not finish (killed); a live run holds its lock and is left alone."""
    prefix = _staging_prefix(out)
    removed = []
    for path in out.parent.iterdir():
        if not (path.name.startswith(prefix) and path.is_dir()):
            continue
        try:
            with (path / ".lock").open("a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
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


def _excel_column(column: pd.Series) -> list:
    """Cell values of a column as Python scalars: 是/否 for flags, None for missing."""
    if column.dtype == bool:
        return np.where(column.to_numpy(), "是", "否").tolist()
    missing = column.isna().to_numpy()
    values = column.to_numpy(dtype=object if column.dtype == object else None).tolist()
    return [None if gone else value for value, gone in zip(values, missing, strict=True)] if missing.any() else values


def _gpkg_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns of mixed types as text, so every chunk gets the same field types."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
    return frame


def read_result(path: Path, level: str = SUMMARY) -> pd.DataFrame:
    """One level of a written result, as text (for tests and scripts that read results back)."""
    if path.suffix.lower() == ".csv":
        target = path if level == SUMMARY else path.with_name(f"{path.stem}_{level}.csv")
        return pd.read_csv(io.StringIO(target.read_text(encoding="utf-8-sig")), dtype=str, keep_default_na=False)
    if path.suffix.lower() == ".gpkg":
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
