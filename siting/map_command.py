"""`siting map` (region zone maps) and the map outputs of `siting check` (--map/--png/--pdf)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from layers import catalog
from layers.build import load_layers
from maps.basemap import Basemap, parse_basemap
from spatial.checker import CheckResult
from spatial.errors import InputError
from spatial.layer import LayerSet

_SUFFIXES = {"--map": (".html", ".htm"), "--out": (".html", ".htm"), "--png": (".png",), "--pdf": (".pdf",)}


def _basemap_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--basemap", metavar="SPEC",
                        help="底图（默认无）：none、tianditu、tianditu-img、osm、xyz:瓦片地址模板、mbtiles:本地文件")
    parser.add_argument("--tianditu-key", metavar="KEY", help="天地图密钥（亦可用环境变量 TIANDITU_KEY）")


def add_check_options(check_cmd: argparse.ArgumentParser) -> None:
    """The check command's figure and basemap options (its --map is declared in siting/cli.py)."""
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
        print(f"  {zone.name}{'（示意）' if zone.demonstration else ''}：{zone.area_km2:,.2f} 平方千米")
    if outputs.html:
        from maps.region_map import write_region_map

        write_region_map(zones, layers, outputs.html, outputs.basemap, simplify=not args.full_resolution)
        print(f"地图已写出：{outputs.html}（{outputs.html.stat().st_size / 1e6:.2f} MB）", file=sys.stderr)
    if outputs.figures:
        from maps.figure import render_region_figure

        for path in outputs.figures:
            print(f"分区图已写出：{render_region_figure(zones, layers, path)}", file=sys.stderr)
    return 0
