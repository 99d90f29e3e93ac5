"""`siting` command line: check a site, build and list layers.

Exit status: 0 when the command ran (whatever the verdict), 2 for bad input (a check
over its ``--timeout`` or ``--memory-mb`` included), with a message that names the field
and the fix, never a traceback.
"""

from __future__ import annotations

import argparse
import codecs
import json
import math
import os
import resource
import selectors
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from layers import catalog
from layers.build import load_layers
from layers.io.site_files import read_site
from layers.sources import SourceError
from siting.audit.audited_check import CheckInput, record_check
from siting.audit.log import AuditError, AuditLog
from siting.cli import batch_command, history_command, layers_command, map_command, serve_command, users_command
from siting.report import report_suffix, write_report
from siting.report.text_report import render
from siting.text_fields import clean_text
from spatial.coordinates import parse_point, point_from_lonlat
from spatial.errors import FieldKey, InputError, mention
from spatial.rules import Stage

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_DATA_ERROR = 3

# The command line's words for the engine's field keys (spatial.errors.FieldKey): its options.
CLI_LABELS = {
    FieldKey.AT: "--at", FieldKey.LON: "--lon", FieldKey.LAT: "--lat", FieldKey.CRS: "--crs", FieldKey.SITE_FILE: "--site",
    FieldKey.INDUSTRY: "--industry", FieldKey.STAGE: "--stage", FieldKey.PROJECT: "--project", FieldKey.LAYER_FILE: "FILE",
    FieldKey.KIND: "--kind", FieldKey.FIELD_MAP: "--field", FieldKey.ACCESS_LIST: "--access-list",
    FieldKey.COVERAGE: "--coverage", FieldKey.RIVER: "--river",
}


def _degrees(axis: FieldKey):
    """An argparse type for a number of degrees; the pair is judged together by the one lon/lat validator
    (spatial.coordinates.lonlat_problems, through point_from_lonlat): --lon 35.5 --lat 111.2 is swapped, not abroad."""

    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                cli_message(InputError(axis, text, "应为十进制度数，例如 111.0。", "must be decimal degrees, e.g. 111.0."))
            ) from None

    return parse


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse would print usage and exit 2 anyway
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="siting", description="山西省环评选址空间管控审查")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check_cmd = commands.add_parser("check", help="检查一个场址是否符合各规划的空间管控要求")
    where = check_cmd.add_argument_group("场址（三选一）")
    where.add_argument("--at", metavar="TEXT", help="任意写法的坐标：111.25,35.6 / 东经111°15′ 北纬35°36′ / X=3938552 Y=37514297")
    where.add_argument("--site", type=Path, metavar="FILE", help="用地红线或线路文件：KML/KMZ、Shapefile(.shp/.zip)、GeoJSON、GPKG、DXF、界址点 CSV/XLSX")
    where.add_argument("--lon", type=_degrees(FieldKey.LON))
    where.add_argument("--lat", type=_degrees(FieldKey.LAT))
    check_cmd.add_argument("--crs", help="输入坐标系：EPSG:NNNN，或 wgs84、cgcs2000、gcj02、bd09")
    check_cmd.add_argument("--industry", required=True, help="行业名称或国民经济行业代码，如 造纸、2221")
    check_cmd.add_argument("--stage", default="new", help="new|rebuild|expand|existing 或 新建|改建|扩建|现有")
    check_cmd.add_argument("--format", choices=["text", "json"], default="text")
    check_cmd.add_argument("--all", action="store_true", dest="show_all",
                           help="列出全部条款（含远处符合的管控区、普遍条件、缺图层条款的编号）")
    check_cmd.add_argument("--map", type=Path, help="写出交互式地图 HTML 文件")
    map_command.add_check_options(check_cmd)
    check_cmd.add_argument("--report", type=Path, metavar="FILE", help="写出审查意见：.docx、.pdf 或 .html")
    check_cmd.add_argument("--project", default="", help="项目名称（写入审查意见与审计日志）")
    check_cmd.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                           help="检查时限（秒，默认 300）：超时即中止检查，退出码 2")
    check_cmd.add_argument("--memory-mb", type=float, default=6144.0, metavar="MB",
                           help="检查进程的内存上限（MB，默认 6144）：超出即中止检查，退出码 2")

    layers_command.add_parser(commands, _Parser)
    rules_cmd = commands.add_parser("rules", help="规划条款目录")
    rule_actions = rules_cmd.add_subparsers(dest="action", required=True, parser_class=_Parser)
    rules_list = rule_actions.add_parser("list", help="列出条款")
    rules_list.add_argument("--plan", help="规划 id 或管辖区代码，如 yuncheng-14th-eco、140800")
    rules_list.add_argument("--format", choices=["text", "json"], default="text")
    rule_actions.add_parser("summary", help="每部规划已编码与记录为不编码的句子数")
    rules_show = rule_actions.add_parser("show", help="显示一条条款的全部内容")
    rules_show.add_argument("id")

    industries_cmd = commands.add_parser("industries", help="行业分类（GB/T 4754-2017）与规划用语")
    industry_actions = industries_cmd.add_subparsers(dest="action", required=True, parser_class=_Parser)
    search_cmd = industry_actions.add_parser("search", help="按名称、代码或描述查找行业")
    search_cmd.add_argument("text")
    history_command.register(commands)
    serve_command.register(commands)
    map_command.register(commands)
    batch_command.register(commands)
    users_command.register(commands)
    return parser


def cli_message(error: InputError) -> str:
    """An error in the command line's words: a field key as its option (``lon`` → ``--lon``), and a fix that asks
    for the coordinate system without naming the field, with the option that gives it."""
    message = error.rendered(CLI_LABELS).message
    if "坐标系" not in error.fix_zh or error.field == FieldKey.CRS or mention(FieldKey.CRS) in error.fix_zh:
        return message
    return (f"{message}\n命令行：用 --crs 指明坐标系，如 --crs EPSG:4546、--crs gcj02。"
            "\nOn the command line: name it with --crs, e.g. --crs EPSG:4546 or --crs gcj02.")


def _run_rules(args: argparse.Namespace) -> int:
    rules = catalog.rules()
    if args.action == "summary":
        for plan_id, count in catalog.sentence_counts().items():
            print(f"{plan_id}：{count['title']}\n  已编码句子 {count['encoded']}（条款 {count['rules']} 条），"
                  f"记录为不编码 {count['not_encoded']} 句")
        return EXIT_OK
    if args.action == "show":
        match = [r for r in rules if r.id == args.id]
        if not match:
            raise InputError("id", args.id, "没有该条款；用 siting rules list 查看全部条款 id。", "no such rule; see siting rules list.")
        print(json.dumps(match[0].to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    selected = [r for r in rules if args.plan in (None, r.plan.id, r.plan.jurisdiction)]
    if args.plan and not selected:
        plans = sorted({f"{r.plan.id}（{r.plan.jurisdiction}）" for r in rules})
        raise InputError("--plan", args.plan, f"没有该规划。现有：{'、'.join(plans)}。", f"no such plan; known: {', '.join(plans)}.")
    if args.format == "json":
        print(json.dumps({"count": len(selected), "rules": [r.to_dict() for r in selected]}, ensure_ascii=False, indent=2))
        return EXIT_OK
    layer_names = {layer_id: decl["name"] for layer_id, decl in catalog.layer_declarations().items()}
    for rule in selected:
        print(f"{rule.id:<34} {rule.action.value} {rule.zone.describe(layer_names.get(rule.zone.layer, ''))}："
              f"{'、'.join(rule.industries)}（{'、'.join(s.value for s in Stage if s in rule.stages)}）")
    print(f"共 {len(selected)} 条")
    return EXIT_OK


def _run_industries(args: argparse.Namespace) -> int:
    rows = catalog.taxonomy().search(args.text)
    if not rows:
        print(f"没有找到与“{args.text}”相符的行业。")
    for name, codes, note in rows:
        print(f"{name}：{'、'.join(codes)}" + (f"（{note}）" if note else ""))
    return EXIT_OK


def read_site_argument(args: argparse.Namespace) -> tuple[BaseGeometry, dict]:
    """The site geometry (WGS84) and its echo from exactly one of --at, --site, --lon/--lat."""
    given = [name for name, value in (("--at", args.at), ("--site", args.site), ("--lon/--lat", args.lon)) if value is not None]
    if len(given) != 1 or (args.lon is None) != (args.lat is None):
        raise InputError(
            "场址", " ".join(given) or "（未给出）", "请给出且只给出一种场址：--at 坐标文本、--site 文件，或 --lon 与 --lat。",
            "give exactly one site: --at TEXT, --site FILE, or both --lon and --lat.",
        )
    if args.site is not None:
        site_file = read_site(args.site, args.crs)
        return site_file.geometry, site_file.to_dict()
    point = parse_point(args.at, args.crs) if args.at is not None else point_from_lonlat(args.lon, args.lat, args.crs)
    return shapely.Point(point.lon, point.lat), point.to_dict()


def _run_check(args: argparse.Namespace) -> int:
    """The check in a child process that is killed at ``--timeout``: GEOS work cannot be interrupted in-process."""
    for option, value, low in (("--timeout", args.timeout, 0.1), ("--memory-mb", args.memory_mb, 256)):
        if not (math.isfinite(value) and value >= low):
            raise InputError(option, value, f"应为不小于 {low:g} 的数。", f"must be a number of at least {low:g}.")
    sys.stdout.flush()
    sys.stderr.flush()
    pipes = [os.pipe(), os.pipe()]  # the child's stdout and stderr, relayed to whatever ours are
    child = os.fork()
    if child == 0:  # the child does all the work; the parent only relays its output and keeps the time
        code = EXIT_DATA_ERROR
        try:
            for read, _ in pipes:
                os.close(read)
            sys.stdout = open(pipes[0][1], "w", encoding="utf-8", errors="backslashreplace", closefd=True)
            sys.stderr = open(pipes[1][1], "w", encoding="utf-8", errors="backslashreplace", closefd=True)
            _cap_memory(int(args.memory_mb * 1024 * 1024))
            code = _handled(_check_now, args)
        except BaseException as error:  # a bug, not bad input: one line, not a traceback, and a non-zero exit
            print(f"内部错误，检查未完成：{type(error).__name__}: {error}\nInternal error, the check did not finish: "
                  f"{type(error).__name__}: {error}", file=sys.stderr)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    for _, write in pipes:
        os.close(write)
    finished = _relay({pipes[0][0]: sys.stdout, pipes[1][0]: sys.stderr}, time.monotonic() + args.timeout)
    if not finished:
        os.kill(child, signal.SIGKILL)
    _, status = os.waitpid(child, 0)
    if not finished:
        raise InputError("--timeout", f"{args.timeout:g} 秒", f"检查超过时限 {args.timeout:g} 秒，已中止；请简化场址文件，或放宽 --timeout。",
                         f"the check took longer than {args.timeout:g} s and was stopped; "
                         "simplify the site file or raise --timeout.")
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal (the kernel's out-of-memory killer, or a crash in a library)
        raise InputError("--memory-mb", f"{args.memory_mb:g} MB",
                         f"检查进程被信号 {-code} 中止（多为内存不足）；请简化场址文件，或调低 --memory-mb 以便及早拒绝。",
                         f"the check process was stopped by signal {-code} (usually out of memory); simplify the site file, "
                         "or lower --memory-mb so it is refused early.")
    return code


def _relay(streams: dict[int, TextIO], deadline: float) -> bool:
    """Copy the child's output to our streams until it closes them (True) or the deadline passes (False)."""
    decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in streams}
    with selectors.DefaultSelector() as selector:
        for fd in streams:
            selector.register(fd, selectors.EVENT_READ)
        try:
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                for key, _ in selector.select(remaining):
                    data = os.read(key.fd, 65536)
                    if not data:
                        selector.unregister(key.fd)
                        continue
                    streams[key.fd].write(decoders[key.fd].decode(data))
                    streams[key.fd].flush()
            return True
        finally:
            for fd in streams:
                os.close(fd)


def _cap_memory(limit: int) -> None:
    """Cap this process's address space (never above a cap it already has, e.g. from ulimit)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _check_now(args: argparse.Namespace) -> int:
    try:
        return _check_body(args)
    except (MemoryError, GEOSException) as error:
        if isinstance(error, GEOSException) and "bad_alloc" not in str(error):
            raise
        raise InputError("--memory-mb", f"{args.memory_mb:g} MB",
                         "该场址的计算超出内存上限，已中止（未记录）；请简化场址几何（减少顶点或要素），或放宽 --memory-mb。",
                         "checking this site needs more memory than the limit and was stopped (not recorded); "
                         "simplify the site geometry (fewer vertices or features) or raise --memory-mb.") from None


def _check_body(args: argparse.Namespace) -> int:
    project = clean_text(args.project, FieldKey.PROJECT, max_len=200)
    industry = clean_text(args.industry, FieldKey.INDUSTRY, max_len=200)
    if args.at is not None:
        args.at = clean_text(args.at, FieldKey.AT, max_len=500)
    site, given = read_site_argument(args)
    inputs = CheckInput.parse(site, given, industry, args.stage, project)  # bad input fails before layers load
    outputs = map_command.MapOutputs.from_args(args, "--map")
    if args.report:
        report_suffix(args.report)
    layers = load_layers(log=lambda m: print(m, file=sys.stderr))
    result, record = record_check(inputs, layers, AuditLog(), "cli")
    if args.format == "json":
        print(json.dumps(result.to_dict(args.show_all) | {"audit": record.echo()}, ensure_ascii=False, indent=2))
    else:
        print(render(result, args.show_all))
        print(f"\n审查编号：{record.id}（规则目录版本 {record.catalog_version[:12]}；复现：siting history --id {record.id}）")
    outputs.write_check(result, layers)
    if args.report:
        write_report(args.report, record, result, layers)
        print(f"审查意见已写出：{args.report}", file=sys.stderr)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"check": _run_check, "layers": layers_command.run, "rules": _run_rules, "industries": _run_industries,
               "history": history_command.run, "serve": serve_command.run, "map": map_command.run,
               "batch": batch_command.run, "users": users_command.run}
    return _handled(handler[args.command], args)


def _handled(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command; every error a user can cause becomes a bilingual message and an exit status."""
    try:
        return handler(args)
    except InputError as error:
        print(cli_message(error), file=sys.stderr)
        return EXIT_BAD_INPUT
    except SourceError as error:
        print(f"数据源错误：{error}\nSource error: {error}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except AuditError as error:
        print(f"审计日志错误，审查未记录：{error}\nAudit log error, the check was not recorded: {error}", file=sys.stderr)
        return EXIT_DATA_ERROR


if __name__ == "__main__":
    sys.exit(main())
