"""Read an agency's layer file, exactly as it arrives, into catalog layers.

The file is read through GDAL (Shapefile zipped or loose with GBK/UTF-8 DBF, GeoPackage,
GeoJSON, FileGDB, KML/KMZ), its CRS taken from the file or named by the importer (never
guessed: an agency layer without a .prj is refused), agency columns mapped to the
kind's fields, invalid geometries repaired and counted, and the features split into
the layer ids the rules use. Nothing is written here; see ``layers.user_catalog``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers import catalog
from layers.io.file_guards import check_archive, check_size
from layers.io.vector_files import dataset_path, file_error, read_frame, shift_geographic
from spatial.coordinates import describe_crs, is_obfuscated, resolve_crs
from spatial.crs import SHANXI_BOUNDS, STORAGE_CRS
from spatial.errors import FieldKey, InputError, mention
from spatial.limits import LAYER_FILE_LIMITS
from spatial.units import ACCESS_DIMENSIONS, class_of_code

FIELD = FieldKey.LAYER_FILE
_CRS = mention(FieldKey.CRS)
_FIELD_MAP = mention(FieldKey.FIELD_MAP)
# A layer read more than this far outside Shanxi was read in the wrong CRS.
_SHANXI_MARGIN_DEG = 1.0
_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")


@dataclass
class ImportedLayers:
    """What an import read: frames per layer id, and what was done to get them."""

    kind: str
    frames: dict[str, gpd.GeoDataFrame]
    files: list[dict]
    crs: str
    field_map: dict[str, str]
    features: int
    repaired: int = 0
    dropped: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KindField:
    """A catalog field of a layer kind: its Chinese label, whether an import must fill it, the agency column names it goes by."""

    label: str
    required: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerKind:
    """A kind of agency layer (kinds.yaml, or a declared layer id as a kind of its own): its fields, geometry,
    default accuracy and the layer ids it fills, all of them with every feature (``layers`` a tuple) or one
    per value of ``split_by`` (``layers`` maps the value to the layer id)."""

    name: str
    geometry: str
    accuracy_m: float
    accuracy_note: str
    fields: Mapping[str, KindField]
    layers: tuple[str, ...] | Mapping[str, str]
    split_by: str | None = None
    optional_split: bool = False  # features without a split value go only to all_features
    split_aliases: Mapping[str, str] = field(default_factory=dict)
    all_features: str | None = None

    @classmethod
    def from_yaml(cls, spec: dict) -> LayerKind:
        targets = spec["layers"]
        return cls(
            name=spec["name"], geometry=spec["geometry"], accuracy_m=float(spec["accuracy_m"]),
            accuracy_note=spec.get("accuracy_note", ""),
            fields={name: KindField(f["label"], bool(f.get("required")), tuple(f.get("aliases", ()))) for name, f in spec["fields"].items()},
            layers=tuple(targets) if isinstance(targets, list) else dict(targets), split_by=spec.get("split_by"),
            optional_split=bool(spec.get("optional_split")), split_aliases={str(k): v for k, v in spec.get("split_aliases", {}).items()},
            all_features=spec.get("all_features"),
        )


def kinds() -> dict[str, LayerKind]:
    """Declared kinds plus every declared layer id as a kind of its own."""
    declared = {name: LayerKind.from_yaml(spec) for name, spec in catalog.read_yaml("kinds.yaml").items() if name != "osm_rivers"}
    for layer_id, decl in catalog.layer_declarations().items():
        if layer_id not in declared and layer_id != "admin":
            declared[layer_id] = LayerKind(
                name=decl["name"], geometry=decl["geometry"], accuracy_m=float(decl.get("accuracy_m", 10)),
                accuracy_note="未给出精度，按1:5万比例尺成图精度计" if "accuracy_m" not in decl else "",
                fields={"name": KindField("名称", aliases=("名称", "NAME", "MC"))}, layers=(layer_id,),
            )
    return declared


def kind_of(name: str) -> LayerKind:
    known = kinds()
    if name not in known:
        main = [k for k in known if k in catalog.read_yaml("kinds.yaml")]
        raise InputError(FieldKey.KIND, name, f"没有该图层类型。常用：{'、'.join(main)}；也可用图层列表中的任一图层 id。",
                         f"no such layer kind; common kinds: {', '.join(main)}, or any layer id from the layer list.")
    return known[name]


def file_hashes(path: Path) -> list[dict]:
    """sha256 of every file the import reads: a shapefile's sidecars, a .gdb folder's files."""
    if path.is_dir():
        members = sorted(p for p in path.rglob("*") if p.is_file())
    elif path.suffix.lower() == ".shp":
        members = [p for p in (path.with_suffix(s) for s in _SIDECARS) if p.exists()]
    else:
        members = [path]
    return [{"name": p.name if not path.is_dir() else str(p.relative_to(path.parent)),
             "sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "bytes": p.stat().st_size} for p in members]


def read_layer_file(path: Path, kind_name: str, crs: str | None = None, field_map: dict[str, str] | None = None,
                    layer: str | None = None) -> ImportedLayers:
    """An agency file as catalog layers of ``kind_name``, validated; raises InputError otherwise."""
    kind = kind_of(kind_name)
    if not path.exists():
        raise file_error(FIELD, path, "文件不存在。", "the file does not exist.")
    dataset, notes = dataset_path(path, FIELD, LAYER_FILE_LIMITS, layer if path.suffix.lower() == ".zip" else None)
    frame = read_frame(path, dataset, FIELD, LAYER_FILE_LIMITS, None if path.suffix.lower() == ".zip" else layer)
    if frame.empty:
        raise file_error(FIELD, path, "文件中没有任何要素。", "the file holds no features.")
    frame, crs_text = _to_wgs84(path, frame, crs)
    mapping = _field_mapping(kind, list(frame.columns.drop("geometry")), field_map or {})
    table = pd.DataFrame({name: frame[column] for name, column in mapping.items()}, index=frame.index)
    present = frame.loc[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if present.empty:
        raise file_error(FIELD, path, "文件中没有有效的几何要素。", "the file holds no valid geometry.")
    _inside_shanxi(path, present, crs_text)  # before repair: a layer in the wrong CRS is refused, not "repaired"
    geometries, repaired, dropped = _clean_geometries(path, frame.geometry.values, kind.geometry)
    keep = ~shapely.is_empty(geometries)
    table = gpd.GeoDataFrame(table.loc[keep].reset_index(drop=True), geometry=geometries[keep], crs=STORAGE_CRS)
    if table.empty:
        raise file_error(FIELD, path, "文件中没有有效的几何要素。", "the file holds no valid geometry.")
    frames = _split(kind, table, notes)
    if repaired:
        notes.append(f"{repaired} 个要素几何无效（自相交等），已用 make_valid 修复，请核对面积。")
    if dropped:
        notes.append(f"{dropped} 个要素几何为空或修复后为空，未导入。")
    return ImportedLayers(kind=kind_name, frames=frames, files=file_hashes(path), crs=crs_text, field_map=mapping,
                          features=len(frame), repaired=repaired, dropped=dropped, notes=notes)


def _to_wgs84(path: Path, frame: gpd.GeoDataFrame, crs: str | None) -> tuple[gpd.GeoDataFrame, str]:
    if crs:
        system = resolve_crs(crs)
        if is_obfuscated(system):
            return shift_geographic(path, frame, system, FIELD), f"{describe_crs(system)}（指定）"
        return frame.set_crs(system, allow_override=True).to_crs(STORAGE_CRS), f"{describe_crs(system)}（指定）"
    if frame.crs is None:
        raise file_error(
            FIELD, path,
            f"文件没有坐标系（缺 .prj）。正式图层不按坐标值猜测坐标系：请补上 .prj，或用 {_CRS} 指明，"
            f"例如 {_CRS} EPSG:4525（CGCS2000 3度带第37带，带号在横坐标前）或 {_CRS} EPSG:4490（CGCS2000 经纬度）。",
            f"the file has no CRS (.prj missing). An official layer's CRS is never guessed: add the .prj or name it with {_CRS}, "
            f"e.g. {_CRS} EPSG:4525 (CGCS2000 3-degree GK zone 37, zone prefix in the easting) or {_CRS} EPSG:4490.",
        )
    epsg = frame.crs.to_epsg()
    described = f"EPSG:{epsg} {frame.crs.name}（文件自带）" if epsg else f"{frame.crs.name}（文件自带）"
    return frame.to_crs(STORAGE_CRS), described


def _field_mapping(kind: LayerKind, columns: list[str], given: dict[str, str]) -> dict[str, str]:
    """Catalog field → agency column, from the importer's mapping first, then by label and alias."""
    fields = kind.fields
    unknown = sorted(set(given) - set(fields))
    if unknown:
        raise InputError(FieldKey.FIELD_MAP, f"{unknown[0]}={given[unknown[0]]}",
                         f"该图层类型没有字段 {unknown[0]}；可映射的字段：{_describe(fields)}。",
                         f"this kind has no field {unknown[0]}; fields: {', '.join(fields)}.")
    absent = [f"{k}={v}" for k, v in given.items() if v not in columns]
    if absent:
        raise InputError(FieldKey.FIELD_MAP, absent[0], f"文件中没有该列；文件的列有：{'、'.join(columns)}。",
                         f"the file has no such column; its columns are: {', '.join(columns)}.")
    lowered = {c.lower(): c for c in columns}
    mapping = dict(given)
    for name, spec in fields.items():
        if name in mapping:
            continue
        for candidate in (name, spec.label, *spec.aliases):
            if candidate.lower() in lowered:
                mapping[name] = lowered[candidate.lower()]
                break
    missing = [name for name, spec in fields.items() if spec.required and name not in mapping]
    if missing and not (missing == ["class"] and "code" in mapping):
        name = missing[0]
        raise InputError(FieldKey.FIELD_MAP, f"{name}（{fields[name].label}）",
                         f"缺少必填字段 {name}（{fields[name].label}）；文件的列有：{'、'.join(columns)}。"
                         f"请用 {_FIELD_MAP} {name}=列名 指明。",
                         f"required field {name} is not mapped; the file's columns are: {', '.join(columns)}. "
                         f"Map it with {_FIELD_MAP} {name}=COLUMN.")
    return mapping


def _describe(fields: Mapping[str, KindField]) -> str:
    return "、".join(f"{name}（{spec.label}）" for name, spec in fields.items())


def _clean_geometries(path: Path, geometries, geometry_type: str):
    """2-D, valid, of the kind's dimension; returns (geometries, repaired count, dropped count)."""
    geometries = np.array(shapely.force_2d(geometries), dtype=object)
    geometries[pd.isna(geometries)] = shapely.Point()  # a feature without geometry: empty, dropped below
    dimension = {"Polygon": 2, "LineString": 1, "Point": 0}[geometry_type]
    present = ~shapely.is_empty(geometries)
    wrong = present & (shapely.get_dimensions(geometries) != dimension)
    if wrong.any():
        found = sorted(set(shapely.get_dimensions(geometries[wrong]).tolist()))
        names_zh = "、".join(_DIMENSION_ZH[d] for d in found)
        names_en = ", ".join(("point", "line", "polygon")[d] for d in found)
        raise file_error(FIELD, path, f"该图层类型应为{_DIMENSION_ZH[dimension]}，但文件中有 {int(wrong.sum())} 个{names_zh}要素；请导出正确的图层。",
                         f"this kind holds {geometry_type} features, but the file has {int(wrong.sum())} {names_en} features.")
    invalid = present & ~shapely.is_valid(geometries)
    try:
        repaired = shapely.make_valid(geometries[invalid], method="structure", keep_collapsed=False)
    except shapely.errors.GEOSException as error:
        raise file_error(FIELD, path, f"有要素几何损坏到无法修复（{error}）；请在 GIS 软件中检查几何后重新导出。",
                         f"a feature's geometry is damaged beyond repair ({error}); check geometries in a GIS and export again.") from None
    geometries[invalid] = _of_dimension(repaired, dimension)
    emptied = ~shapely.is_empty(geometries) | ~present
    return geometries, int(invalid.sum()), int((~present).sum() + (~emptied).sum())


_DIMENSION_ZH = {0: "点", 1: "线", 2: "面"}


def _of_dimension(geometries, dimension: int):
    """Keep only the parts of the kind's dimension (make_valid may add lines to polygons)."""
    parts, index = shapely.get_parts(geometries, return_index=True)
    keep = shapely.get_dimensions(parts) == dimension
    out = np.full(len(geometries), shapely.Point(), dtype=object)
    if keep.any():
        grouped = pd.Series(list(parts[keep])).groupby(index[keep]).agg(lambda g: shapely.union_all(list(g)))
        out[grouped.index.to_numpy()] = grouped.to_numpy()
    return out


def _inside_shanxi(path: Path, frame: gpd.GeoDataFrame, crs_text: str) -> None:
    x0, y0, x1, y1 = frame.total_bounds
    bx0, by0, bx1, by1 = np.add(SHANXI_BOUNDS, [-_SHANXI_MARGIN_DEG, -_SHANXI_MARGIN_DEG, _SHANXI_MARGIN_DEG, _SHANXI_MARGIN_DEG])
    if bx0 <= x0 and x1 <= bx1 and by0 <= y0 and y1 <= by1:
        return
    raise file_error(
        FIELD, path,
        f"按 {crs_text} 读取后，要素落在经度 {x0:.3f}–{x1:.3f}、纬度 {y0:.3f}–{y1:.3f}，不在山西省附近："
        f"坐标系可能有误（3度带/6度带、有无带号、经纬度顺序）。请核对 .prj 或用 {_CRS} 指明。",
        f"read as {crs_text}, the features lie at longitude {x0:.3f}..{x1:.3f}, latitude {y0:.3f}..{y1:.3f}, not near Shanxi: "
        f"the CRS is probably wrong (3- vs 6-degree zone, zone prefix, axis order). Check the .prj or name it with {_CRS}.",
    )


def _split(kind: LayerKind, table: gpd.GeoDataFrame, notes: list[str]) -> dict[str, gpd.GeoDataFrame]:
    """Features into the layer ids the rules use: all into each, or one layer per split value."""
    targets = kind.layers
    if isinstance(targets, tuple):
        return {layer_id: table for layer_id in targets}
    split_by = kind.split_by
    if split_by not in table.columns and split_by == "class" and "code" in table.columns:
        table[split_by] = [class_of_code(code, field="code").value for code in table["code"]]
    if split_by not in table.columns:
        label = kind.fields[split_by].label
        if not kind.optional_split:
            raise InputError(FieldKey.FIELD_MAP, f"{split_by}（{label}）",
                             f"缺少字段 {split_by}（{label}），无法分到各图层；请用 {_FIELD_MAP} {split_by}=列名 指明。",
                             f"field {split_by} is needed to split the features into layers; map it with {_FIELD_MAP} {split_by}=COLUMN.")
        notes.append(f"文件没有{label}字段，只导入为“{kind.name}”整体，分区图层未导入。")
        return {kind.all_features: table}
    values = table[split_by].astype(str)
    keys = values.map(lambda v: next((k for k in targets if k in v), kind.split_aliases.get(v.strip().lower())))
    unmatched = keys.isna()
    if unmatched.any() and not kind.optional_split:
        bad = values[unmatched].iloc[0]
        raise InputError(split_by, bad, f"无法识别该值；应含 {'、'.join(targets)} 之一。",
                         f"unrecognised value; it should contain one of {', '.join(targets)}.")
    table[split_by] = keys
    frames = {layer_id: table.loc[keys == key].reset_index(drop=True) for key, layer_id in targets.items()}
    if kind.all_features:
        frames[kind.all_features] = table
    return frames


def read_access_list(path: Path) -> pd.DataFrame:
    """An Excel 准入清单 keyed by unit code: one row per unit with a column per dimension,
    or one row per unit and dimension (columns 管控维度 and 管控要求)."""
    check_size(path, FieldKey.ACCESS_LIST, LAYER_FILE_LIMITS)
    if path.suffix.lower() == ".xlsx":
        check_archive(path, FieldKey.ACCESS_LIST, LAYER_FILE_LIMITS)
    try:
        sheet = pyogrio.read_dataframe(path, read_geometry=False, HEADERS="FORCE").astype(str) if path.suffix.lower() != ".csv" \
            else pd.read_csv(path, dtype=str)
    except (pyogrio.errors.DataSourceError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise file_error(FieldKey.ACCESS_LIST, path, f"无法读取准入清单：{error}", f"cannot read the access list: {error}") from None
    code = kind_of("units").fields["code"]
    code_column = next((c for c in sheet.columns if c in (code.label, *code.aliases, "code")), None)
    if code_column is None:
        raise file_error(FieldKey.ACCESS_LIST, path, f"准入清单中没有单元编码列（{code.label}）；现有列：{'、'.join(sheet.columns)}。",
                         f"the access list has no unit-code column; its columns are: {', '.join(sheet.columns)}.")
    labels = {label: key for key, label in ACCESS_DIMENSIONS.items()}
    if {"管控维度", "管控要求"} <= set(sheet.columns):
        sheet = sheet.assign(dimension=sheet["管控维度"].str.strip().map(labels)).dropna(subset=["dimension"])
        wide = sheet.pivot_table(index=code_column, columns="dimension", values="管控要求", aggfunc="\n".join)
    else:
        renamed = sheet.rename(columns=labels)
        wide = renamed.set_index(code_column)[[k for k in ACCESS_DIMENSIONS if k in renamed.columns]]
    if wide.columns.empty:
        raise file_error(FieldKey.ACCESS_LIST, path, f"准入清单中没有 {'、'.join(ACCESS_DIMENSIONS.values())} 任一列。",
                         "the access list has none of the four dimension columns.")
    wide.index = wide.index.str.strip()
    return wide.rename_axis("code").reset_index()


def with_access_list(imported: ImportedLayers, access: pd.DataFrame) -> ImportedLayers:
    """Unit layers with access-list text joined on unit code (the list wins over the layer's own text)."""
    for layer_id, frame in imported.frames.items():
        codes = frame["code"].astype(str).str.strip()
        joined = access.set_index("code").reindex(codes)
        for dimension in joined.columns:
            listed = pd.Series(joined[dimension].to_numpy(), index=frame.index)
            frame[dimension] = listed.fillna(frame[dimension]) if dimension in frame else listed
        imported.frames[layer_id] = frame
    listed = set(access["code"])
    codes = set().union(*(set(f["code"].astype(str).str.strip()) for f in imported.frames.values()))
    if codes - listed:
        imported.notes.append(f"{len(codes - listed)} 个单元在准入清单中没有对应条目。")
    if listed - codes:
        imported.notes.append(f"准入清单中有 {len(listed - codes)} 个单元编码不在图层中。")
    return imported


def infer_coverage(frames: dict[str, gpd.GeoDataFrame], admin: gpd.GeoDataFrame) -> tuple[str, ...]:
    """The counties an imported layer touches: outside them it is not taken to speak."""
    counties = admin.loc[admin["level"] == "county"]
    features = pd.concat([f.geometry for f in frames.values()], ignore_index=True)
    _, hit = counties.sindex.query(features.values, predicate="intersects")
    return tuple(sorted(counties["code"].iloc[sorted(set(hit.tolist()))]))


def field_options(options: list[str]) -> dict[str, str]:
    """``FIELD=COLUMN`` pairs (the catalog field each file column fills) as a mapping."""
    mapping = {}
    for option in options:
        name, sep, column = option.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise InputError(FieldKey.FIELD_MAP, option, f"应写成 目录字段=文件列名，例如 {_FIELD_MAP} code=HJGKDYBM。",
                             f"write it as FIELD=COLUMN, e.g. {_FIELD_MAP} code=HJGKDYBM.")
        mapping[name.strip()] = column.strip()
    return mapping


def coverage_codes(text: str | None, admin: gpd.GeoDataFrame, frames: dict[str, gpd.GeoDataFrame]) -> tuple[str, ...]:
    """The admin codes a layer covers: as given (comma-separated, each a known code), else inferred from its features."""
    if not text:
        return infer_coverage(frames, admin)
    codes = tuple(c.strip() for c in text.split(",") if c.strip())
    known = set(admin["code"])
    unknown = [c for c in codes if c not in known]
    if unknown or not codes:
        raise InputError(FieldKey.COVERAGE, text, "应为逗号分隔的行政区代码，如 140826 或 140800,140502（山西全省为 140000）。",
                         "give comma-separated admin codes, e.g. 140826 or 140800,140502 (all of Shanxi: 140000).")
    return codes
