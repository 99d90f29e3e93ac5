"""`siting map` (region zone maps) and the map outputs of `siting check` (--map/--png/--pdf)."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from layers import catalog
from layers.build import load_layers
from maps.basemap import Basemap, parse_basemap
from spatial.errors import InputError
from spatial.findings import CheckResult
from spatial.industry import Industry
from spatial.layer import LayerSet
from spatial.rules import Stage
from spatial.siting_classes import SitingClasses

_SUFFIXES = {"--map": (".html", ".htm"), "--out": (".html", ".htm"), "--png": (".png",), "--pdf": (".pdf",),
             "--tif": (".tif", ".tiff"), "--gpkg": (".gpkg",), "--matrix": (".csv", ".xlsx"), "--table": (".csv", ".xlsx")}
DEFAULT_INDUSTRIES = "焦化,钢铁,化工,造纸,电镀,水泥,火力发电,有色金属冶炼,铸造,平板玻璃"


def _basemap_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--basemap", metavar="SPEC",
                        help="底图（默认无）：none、tianditu、tianditu-img、osm、xyz:瓦片地址模板、mbtiles:本地文件")
    parser.add_argument("--tianditu-key", metavar="KEY", help="天地图密钥（亦可用环境变量 TIANDITU_KEY）")


def add_check_options(check_cmd: argparse.ArgumentParser) -> None:
    """The check command's figure and basemap options (its --map is declared in siting/cli/main.py)."""
    check_cmd.add_argument("--png", type=Path, metavar="FILE", help="写出 A4 横版 PNG 审查图（300 dpi）")
    check_cmd.add_argument("--pdf", type=Path, metavar="FILE", help="写出 A4 横版 PDF 审查图")
    _basemap_options(check_cmd)


def register(commands: argparse._SubParsersAction) -> None:
    map_cmd = commands.add_parser("map", help="区域管控分区图：某市、县（区）内各规划的全部管控分区")
    map_cmd.add_argument("--region", required=True, help="市、县（区）名称或代码，如 运城市、绛县、晋城市城区、140826")
    map_cmd.add_argument("--layers", action="append", metavar="IDS",
                         help="只画这些图层（逗号分隔的图层 id，可重复），如 eco_redline,units_priority,fen_river")
    map_cmd.add_argument("--out", type=Path, metavar="FILE.html", help="写出交互式地图 HTML 文件")
    map_cmd.add_argument("--png", type=Path, metavar="FILE", help="写出 A4 横版 PNG 分区图（300 dpi）")
    map_cmd.add_argument("--pdf", type=Path, metavar="FILE", help="写出 A4 横版 PDF 分区图")
    map_cmd.add_argument("--full-resolution", action="store_true", help="HTML 不按缩放级别简化几何（文件更大）")
    map_cmd.add_argument("--industry", help="行业选址分类图：按该行业（名称或代码）给出全域每处的审查结论类别，如 焦化")
    map_cmd.add_argument("--stage", default="新建", help="项目阶段：新建（默认）、改建、扩建、现有")
    map_cmd.add_argument("--tif", type=Path, metavar="FILE.tif", help="写出分类 GeoTIFF（uint8 类别码，调色板）")
    map_cmd.add_argument("--gpkg", type=Path, metavar="FILE.gpkg", help="写出分类 GeoPackage（每类一个多面要素，含条款与规划）")
    map_cmd.add_argument("--res", type=float, default=50.0, metavar="M", help="GeoTIFF 像元大小（米，默认 50）")
    map_cmd.add_argument("--table", type=Path, metavar="FILE", help="写出分县分类面积表（.csv 或 .xlsx）")
    map_cmd.add_argument("--matrix", type=Path, metavar="FILE", help="写出各行业、阶段的分类占比矩阵（.csv 或 .xlsx；图用 --png/--pdf）")
    map_cmd.add_argument("--industries", default=DEFAULT_INDUSTRIES, metavar="LIST",
                         help=f"矩阵的行业（逗号分隔，默认 {DEFAULT_INDUSTRIES}）")
    _basemap_options(map_cmd)


def _output(option: str, path: Path | None) -> Path | None:
    if path is None:
        return None
    if path.suffix.lower() not in _SUFFIXES[option]:
        raise InputError(option, str(path), f"文件名应以 {'、'.join(_SUFFIXES[option])} 结尾。",
                         f"the file name must end in {', '.join(_SUFFIXES[option])}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class MapOutputs:
    """The map files a command was asked to write, validated before any work is done."""

    html: Path | None
    png: Path | None
    pdf: Path | None
    basemap: Basemap | None

    @classmethod
    def from_args(cls, args: argparse.Namespace, html_option: str) -> MapOutputs:
        return cls(html=_output(html_option, getattr(args, html_option.lstrip("-"))),
                   png=_output("--png", args.png), pdf=_output("--pdf", args.pdf),
                   basemap=parse_basemap(args.basemap, args.tianditu_key))

    @property
    def figures(self) -> list[Path]:
        return [p for p in (self.png, self.pdf) if p is not None]

    def write_check(self, result: CheckResult, layers: LayerSet) -> None:
        if self.html:
            from maps.check_map import write_check_map

            write_check_map(result, layers, self.html, self.basemap)
            print(f"地图已写出：{self.html}", file=sys.stderr)
        if self.figures:
            from maps.figure import render_check_figure

            for path in self.figures:
                print(f"审查图已写出：{render_check_figure(result, layers, path)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.matrix is not None or args.industry is not None:
        return _run_industry(args)
    for option in ("--tif", "--gpkg", "--table"):
        if getattr(args, option.lstrip("-")) is not None:
            raise InputError(option, str(getattr(args, option.lstrip("-"))), f"{option} 只用于行业选址分类图：请同时给出 --industry。",
                             f"{option} is for industry siting maps: give --industry as well.")
    outputs = MapOutputs.from_args(args, "--out")
    if outputs.html is None and not outputs.figures:
        raise InputError("--out", "（未给出）", "请至少给出一个输出：--out 文件.html、--png 或 --pdf。",
                         "give at least one output: --out FILE.html, --png or --pdf.")
    only = sorted({part.strip() for text in args.layers or () for part in text.split(",") if part.strip()}) or None
    layers = load_layers(log=lambda m: print(m, file=sys.stderr))
    from maps.region import region_zones

    zones = region_zones(args.region, layers, list(catalog.rules()), only)
    print(f"{zones.region.name}（{zones.region.code}）：{len(zones.zones)} 类管控分区"
          + (f"，{len(zones.missing)} 类尚无图层" if zones.missing else ""))
    for zone in zones.zones:
        print(f"  {zone.label}{'（示意）' if zone.demonstration else ''}：{zone.area_km2:,.2f} 平方千米")
    if outputs.html:
        from maps.region_map import write_region_map

        write_region_map(zones, layers, outputs.html, outputs.basemap, simplify=not args.full_resolution)
        print(f"地图已写出：{outputs.html}（{outputs.html.stat().st_size / 1e6:.2f} MB）", file=sys.stderr)
    if outputs.figures:
        from maps.figure import render_region_figure

        for path in outputs.figures:
            print(f"分区图已写出：{render_region_figure(zones, layers, path)}", file=sys.stderr)
    return 0


def _industries(text: str) -> list[Industry]:
    names = [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]
    if not names:
        raise InputError("--industries", text, "请给出至少一个行业，逗号分隔，如 焦化,钢铁。", "name at least one industry, comma-separated.")
    taxonomy = catalog.taxonomy()
    return [taxonomy.resolve(name) for name in names]


def _run_industry(args: argparse.Namespace) -> int:
    """`siting map --industry` (a region classified for one project kind) and `--matrix` (all kinds at once)."""
    outputs = MapOutputs.from_args(args, "--out")
    tif, gpkg = _output("--tif", args.tif), _output("--gpkg", args.gpkg)
    table, matrix_path = _output("--table", args.table), _output("--matrix", args.matrix)
    if matrix_path is not None and args.industry is not None:
        raise InputError("--matrix", str(matrix_path), "--matrix 汇总多个行业，不与 --industry 同用；行业用 --industries 给出。",
                         "--matrix covers several industries; give them with --industries, not --industry.")
    if matrix_path is None:
        industries = [catalog.taxonomy().resolve(args.industry)]
        if not any((outputs.html, outputs.figures, tif, gpkg, table)):
            raise InputError("--out", "（未给出）", "请至少给出一个输出：--out、--png、--pdf、--tif、--gpkg 或 --table。",
                             "give at least one output: --out, --png, --pdf, --tif, --gpkg or --table.")
    else:
        for option, value in (("--out", outputs.html), ("--tif", tif), ("--gpkg", gpkg), ("--table", table)):
            if value is not None:
                raise InputError(option, str(value), f"--matrix 只写出表格（及 --png/--pdf 图）；{option} 用于单个行业的分类图（--industry）。",
                                 f"--matrix writes the table (and a --png/--pdf figure); {option} is for one industry's map (--industry).")
        industries = _industries(args.industries)
    stage = Stage.parse(args.stage)
    if tif is not None and not (math.isfinite(args.res) and args.res > 0):
        raise InputError("--res", str(args.res), "栅格分辨率应为正数（米），如 50。", "the cell size must be a positive number of metres, e.g. 50.")
    layers = load_layers(log=lambda m: print(m, file=sys.stderr))
    from maps.region import resolve_region
    from siting.report import class_exports
    from spatial.siting_classes import CLASS_NAMES, CLASSES, RegionClassifier, matrix

    region = resolve_region(args.region, layers)
    classifier = RegionClassifier(region.code, region.geometry, list(catalog.rules()), layers)
    if matrix_path is not None:
        from maps.industry_map import render_matrix_figure

        rows = matrix(classifier, industries, sorted({Stage.NEW, Stage.EXISTING, stage}, key=list(Stage).index))
        print(f"{region.name}（{region.code}）各行业选址管控分类占比：")
        print("  行业（阶段）" + "".join(f"\t{CLASS_NAMES[v]}" for v in CLASSES))
        for row in rows:
            print(f"  {row['industry']}（{row['stage']}）" + "".join(f"\t{100 * row[CLASS_NAMES[v]]:.1f}%" for v in CLASSES))
        print(f"矩阵已写出：{class_exports.write_matrix(rows, matrix_path)}", file=sys.stderr)
        for path in outputs.figures:
            print(f"矩阵图已写出：{render_matrix_figure(rows, region.name, path)}", file=sys.stderr)
        return 0

    result = classifier.classify(industries[0], stage)
    admin = layers.admin.frame
    inside = admin.loc[admin["parent"] == region.code]
    subdivisions = (inside if len(inside) else admin.loc[admin["code"] == region.code]).reset_index(drop=True)
    county_rows = result.county_table(list(subdivisions["name"]), subdivisions.geometry.values)
    largest = result.largest()
    _print_classes(result, region.name, county_rows, largest)
    if gpkg:
        print(f"GeoPackage 已写出：{class_exports.write_gpkg(result, layers, gpkg)}", file=sys.stderr)
    if tif:
        print(f"GeoTIFF 已写出：{class_exports.write_tif(result, layers, tif, args.res)}", file=sys.stderr)
    if table:
        print(f"面积表已写出：{class_exports.write_table(county_rows, table)}", file=sys.stderr)
    if outputs.html:
        from maps.industry_map import write_industry_map

        write_industry_map(result, region, subdivisions, layers, county_rows, largest, outputs.html, outputs.basemap)
        print(f"地图已写出：{outputs.html}（{outputs.html.stat().st_size / 1e6:.2f} MB）", file=sys.stderr)
    if outputs.figures:
        from maps.industry_map import render_industry_figure

        for path in outputs.figures:
            print(f"分类图已写出：{render_industry_figure(result, region, subdivisions, layers, largest, path)}", file=sys.stderr)
    return 0


def _print_classes(result: SitingClasses, region_name: str, county_rows: list[dict], largest: list[dict]) -> None:
    """The numbers a report needs, as text: classes, areas per county, largest open areas, rules behind each class."""
    print(f"{region_name}（{result.region_code}）{result.industry.label}（{result.stage.value}）选址管控分类"
          f"（面积按 EPSG:{result.epsg} 计算）：")
    for cls in result.classes:
        if not cls.geometry.is_empty:
            print(f"  {cls.name}：{cls.area_km2:,.2f} 平方千米（{100 * cls.area_km2 / result.region_km2:.1f}%），"
                  f"{len(cls.rules)} 条条款" + (f"；示意数据：{'、'.join(cls.demonstration)}" if cls.demonstration else ""))
    print("分县面积：")
    for row in county_rows:
        print(f"  {row['county']}\t{row['class']}\t{row['area_km2']:,.2f} 平方千米\t{100 * row['share']:.1f}%")
    print("最大的未发现限制连片区域：" + ("无" if not largest else ""))
    for place in largest:
        print(f"  {place['rank']}. {place['area_km2']:,.3f} 平方千米，中心 {place['lon']:.5f}°E {place['lat']:.5f}°N"
              f"（X {place['x']:,.0f}，Y {place['y']:,.0f}）")
    print("各类别依据条款：")
    for cls in result.classes:
        for rule_id in cls.rules:
            rule = result.rules[rule_id]
            print(f"  [{cls.name}] {rule_id}（{rule.plan.title}{rule.section}）：{rule.quote}")
    for missing in result.not_evaluated:
        print(f"  [未评价] {missing.layer_name}（{len(missing.rules)} 条条款，{float(missing.geometry.area) / 1e6:,.1f} 平方千米）："
              f"{missing.reason}")
