"""`siting layers …`: build the defaults, and list, inspect, import, validate and remove layers."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import shapely

from layers import catalog, user_catalog
from layers.build import build_layers, data_dir, load_layers
from layers.imports import (
    ImportedLayers,
    LayerKind,
    coverage_codes,
    field_options,
    file_hashes,
    infer_coverage,
    kind_of,
    read_access_list,
    read_layer_file,
    with_access_list,
)
from layers.osm import read_osm_rivers
from spatial.crs import gk3_zone_for_longitude
from spatial.errors import InputError
from spatial.layer import LayerSet, project
from spatial.rules import ZoneKind

EXIT_OK = 0
EXIT_PROBLEMS = 3
_OSM_WINDOW_M = 5000  # rivers are kept this far beyond the province: the Yellow River is its border


def add_parser(commands: argparse._SubParsersAction, parser_class: type) -> None:
    layers_cmd = commands.add_parser("layers", help="图层：构建默认图层，导入、查看、校验、移除主管部门图层")
    actions = layers_cmd.add_subparsers(dest="action", required=True, parser_class=parser_class)
    build_cmd = actions.add_parser("build", help="从锁定的数据源构建默认图层")
    build_cmd.add_argument("--force", action="store_true", help="即使缓存最新也重新构建")
    list_cmd = actions.add_parser("list", help="列出图层及其类型、来源")
    list_cmd.add_argument("--format", choices=["text", "json"], default="text")
    info_cmd = actions.add_parser("info", help="一个图层的来源、导入记录、字段与范围")
    info_cmd.add_argument("id")
    import_cmd = actions.add_parser("import", help="导入主管部门提供的图层文件，替换默认或示意图层")
    import_cmd.add_argument("file", type=Path, metavar="FILE", help="Shapefile(.shp/.zip)、GPKG、GeoJSON、FileGDB(.gdb)、KML/KMZ")
    import_cmd.add_argument("--kind", required=True, help="图层类型：units、redline、water_source、nature_reserves … 或任一图层 id")
    import_cmd.add_argument("--crs", help="文件没有 .prj 时的坐标系：EPSG:NNNN，或 cgcs2000、wgs84、gcj02、bd09")
    import_cmd.add_argument("--field", action="append", default=[], metavar="FIELD=COLUMN",
                            help="把机关文件的列映射到目录字段，如 --field code=HJGKDYBM --field name=DYMC")
    import_cmd.add_argument("--layer", help="文件含多个图层（或压缩包含多个数据集）时要读的那一个")
    import_cmd.add_argument("--access-list", type=Path, metavar="XLSX", help="按单元编码对应的生态环境准入清单（Excel/CSV）")
    import_cmd.add_argument("--accuracy", type=float, metavar="METRES", help="位置精度（米），用于边界情形判断")
    import_cmd.add_argument("--coverage", help="图层所覆盖的行政区代码（逗号分隔）；默认取要素所涉及的县级行政区")
    import_cmd.add_argument("--source", help="来源说明，如“运城市生态环境局，2021年三线一单成果”")
    import_cmd.add_argument("--version", help="数据版本或发布日期")
    import_cmd.add_argument("--authoritative", action="store_true", help="标记为主管部门正式发布的权威数据")
    osm_cmd = actions.add_parser("import-osm", help="从用户下载的 OpenStreetMap 摘录（.osm.pbf）生成河流中心线")
    osm_cmd.add_argument("file", type=Path, metavar="FILE.osm.pbf")
    osm_cmd.add_argument("--river", action="append", required=True, metavar="NAME[=LAYER]",
                         help="河流名称，如 汾河；可写 汾河=fen_river 指明替换的图层")
    osm_cmd.add_argument("--accuracy", type=float, metavar="METRES")
    validate_cmd = actions.add_parser("validate", help="校验：规则引用的每个图层都已载入或声明缺失，导入文件未被改动")
    validate_cmd.add_argument("--format", choices=["text", "json"], default="text")
    remove_cmd = actions.add_parser("remove", help="移除一次导入（按导入 id 或图层 id），恢复默认图层")
    remove_cmd.add_argument("id")


def run(args: argparse.Namespace) -> int:
    actions = {"build": _build, "list": _list, "info": _info, "import": _import, "import-osm": _import_osm,
               "validate": _validate, "remove": _remove}
    return actions[args.action](args)


def _log(message: str) -> None:
    print(message, file=sys.stderr)


def _build(args: argparse.Namespace) -> int:
    print(f"图层就绪：{build_layers(force=args.force, log=print).parent}")
    return EXIT_OK


def _status(layer_id: str, layers: LayerSet) -> str:
    if layer_id in layers.missing:
        return "missing"
    provenance = layers.layers[layer_id].provenance
    if provenance.imported:
        return "imported"
    return "demonstration" if provenance.demonstration else "built"


_STATUS_ZH = {"built": "默认", "demonstration": "示意数据", "imported": "已导入", "missing": "缺失"}


def _list(args: argparse.Namespace) -> int:
    layers = load_layers(log=_log)
    declared = catalog.layer_declarations()
    kinds = {layer_id: kind for kind, spec in catalog.read_yaml("kinds.yaml").items() if kind != "osm_rivers"
             for layer_id in ([*spec["layers"].values()] if isinstance(spec["layers"], dict) else spec["layers"])
             + ([spec["all_features"]] if spec.get("all_features") else [])}
    rows = []
    for layer_id in declared:
        status = _status(layer_id, layers)
        row = {"id": layer_id, "kind": kinds.get(layer_id, layer_id), "name": declared[layer_id]["name"],
               "geometry": declared[layer_id]["geometry"], "status": status}
        if status == "missing":
            row["reason"] = layers.missing[layer_id].reason
        else:
            layer = layers.layers[layer_id]
            row |= {"features": len(layer.frame), "provenance": layer.provenance.to_dict()}
        rows.append(row)
    if args.format == "json":
        print(json.dumps({"data_dir": str(data_dir()), "layers": rows}, ensure_ascii=False, indent=2))
        return EXIT_OK
    for row in rows:
        if row["status"] == "missing":
            detail = row["reason"]
        else:
            provenance = row["provenance"]
            detail = f"{row['features']} 个要素，精度 ±{provenance['accuracy_m']:g} 米，{provenance['source']}"
        print(f"{row['id']:<30} {row['name']}：{_STATUS_ZH[row['status']]}；{detail}")
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    layers = load_layers(log=_log)
    if args.id in layers.missing:
        missing = layers.missing[args.id]
        print(json.dumps({"id": missing.id, "name": missing.name, "status": "missing", "reason": missing.reason},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    if args.id not in layers.layers:
        raise InputError("id", args.id, "没有该图层；用 siting layers list 查看全部图层。", "no such layer; see siting layers list.")
    layer = layers.layers[args.id]
    frame = layer.frame
    print(json.dumps({
        "id": layer.id, "name": layer.name, "status": _status(layer.id, layers), "features": len(frame),
        "columns": [c for c in frame.columns if c != "geometry"], "bounds_wgs84": [round(v, 6) for v in frame.total_bounds],
        "rules": sorted(r.id for r in catalog.rules() if r.zone.layer == layer.id),
        "provenance": layer.provenance.to_dict(),
    }, ensure_ascii=False, indent=2))
    return EXIT_OK


def _import(args: argparse.Namespace) -> int:
    kind = kind_of(args.kind)
    layers = load_layers(log=_log)
    imported = read_layer_file(args.file, args.kind, args.crs, field_options(args.field), args.layer)
    access = []
    if args.access_list is not None:
        if args.kind != "units":
            raise InputError("--access-list", str(args.access_list), "准入清单只用于 --kind units。",
                             "an access list goes only with --kind units.")
        imported = with_access_list(imported, read_access_list(args.access_list))
        access = file_hashes(args.access_list)
    _store(imported, args.accuracy, kind, coverage=coverage_codes(args.coverage, layers.admin.frame, imported.frames), source=args.source,
           version=args.version, authoritative=args.authoritative, access_list=access)
    return EXIT_OK


def _store(imported: ImportedLayers, accuracy_given: float | None, kind: LayerKind, **record: object) -> None:
    """Record an import in the user's catalog and report it."""
    _report_import(user_catalog.add_import(data_dir(), imported, accuracy_given, kind, **record), imported.frames)


def _report_import(record: dict, frames: dict) -> None:
    print(f"已导入 {record['id']}：{record['features']} 个要素，坐标系 {record['crs']}")
    for layer_id, frame in frames.items():
        print(f"  {layer_id}：{len(frame)} 个要素")
    for entry in record["files"] + record["access_list"]:
        print(f"  文件 {entry['name']}  sha256 {entry['sha256']}")
    print(f"  字段映射：{'，'.join(f'{k}←{v}' for k, v in record['field_map'].items()) or '无'}")
    print(f"  覆盖范围：{'、'.join(record['coverage'])}；位置精度 ±{record['accuracy_m']:g} 米")
    for note in record["notes"]:
        print(f"  说明：{note}")


def _import_osm(args: argparse.Namespace) -> int:
    rivers = catalog.read_yaml("kinds.yaml")["osm_rivers"]
    layers = load_layers(log=_log)
    wanted = {}
    for option in args.river:
        name, _, layer_id = option.partition("=")
        layer_id = layer_id.strip() or rivers["names"].get(name.strip())
        if catalog.layer_declarations().get(layer_id, {}).get("geometry") != "LineString":
            raise InputError("--river", option, f"不知道该河流对应哪个图层；已知：{'、'.join(rivers['names'])}，或写成 名称=图层id。",
                             f"no layer is known for this river; known: {', '.join(rivers['names'])}, or write NAME=LAYER_ID.")
        wanted[name.strip()] = layer_id
    province = layers.admin_area("140000")
    epsg = gk3_zone_for_longitude(province.centroid.x).epsg
    window = project(shapely.buffer(project(province, 4326, epsg), _OSM_WINDOW_M), epsg, 4326)
    imported = read_osm_rivers(args.file, wanted, clip=window)
    kind = LayerKind(name="OpenStreetMap 河流", geometry="LineString", accuracy_m=float(rivers["accuracy_m"]),
                     accuracy_note=rivers["accuracy_note"], fields={}, layers=tuple(wanted.values()))
    _store(imported, args.accuracy, kind, coverage=infer_coverage(imported.frames, layers.admin.frame),
           source=f"OpenStreetMap 贡献者（ODbL），摘录 {args.file.name}", version=None, authoritative=False)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    layers = load_layers(log=_log)
    rules = catalog.rules()
    referenced = sorted({r.zone.layer for r in rules if r.zone.kind in (ZoneKind.BUFFER, ZoneKind.WITHIN)})
    unknown = [layer_id for layer_id in referenced if layer_id not in layers.layers and layer_id not in layers.missing]
    missing = {layer_id: [r.id for r in rules if r.zone.layer == layer_id] for layer_id in referenced if layer_id in layers.missing}
    problems = user_catalog.verify(data_dir()) + [f"{layer_id}：规则引用了该图层，但它既未载入也未声明缺失" for layer_id in unknown]
    demonstration = sorted(layer_id for layer_id, layer in layers.layers.items() if layer.provenance.demonstration)
    report = {
        "referenced": len(referenced), "loaded": len([i for i in referenced if i in layers.layers]),
        "missing": [{"id": i, "name": layers.missing[i].name, "reason": layers.missing[i].reason, "rules": ids}
                    for i, ids in missing.items()],
        "demonstration": demonstration, "problems": problems,
    }
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"规则引用的图层 {report['referenced']} 个：已载入 {report['loaded']} 个，缺失 {len(missing)} 个。")
        if demonstration:
            print(f"其中示意数据图层：{'、'.join(demonstration)}（不得作为审批依据）")
        for entry in report["missing"]:
            print(f"缺失 {entry['id']}（{entry['name']}）：{entry['reason']}；影响条款 {len(entry['rules'])} 条：{'、'.join(entry['rules'])}")
        for problem in problems:
            print(f"问题：{problem}")
    return EXIT_PROBLEMS if problems else EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    removed = user_catalog.remove(data_dir(), args.id)
    if not removed:
        raise InputError("id", args.id, "没有该导入或导入的图层；用 siting layers list 查看。", "no such import or imported layer; see siting layers list.")
    print(f"已移除导入图层：{'、'.join(removed)}；恢复为默认图层（或缺失）。")
    return EXIT_OK
