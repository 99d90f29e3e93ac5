"""`siting history`: list audited checks, replay one, verify the log's hash chain."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from layers.build import load_layers
from siting.audit import AuditLog, CheckRecord
from siting.audited_check import replay
from spatial.errors import InputError


def register(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help="审查记录（审计日志）：列出、复现、校验")
    history.add_argument("--id", help="复现该编号的审查，并与记录的结果比对")
    history.add_argument("--limit", type=int, default=20, help="列出最近多少条（默认 20）")
    history.add_argument("--report", type=Path, metavar="FILE", help="与 --id 同用：由复现结果写出审查意见（.docx/.pdf/.html）")
    history.add_argument("--verify", action="store_true", help="校验审计日志的哈希链是否完整")
    history.add_argument("--format", choices=["text", "json"], default="text")


def _listing_line(record: CheckRecord) -> str:
    row = record.summary()
    where = f"{row['lon']:.6f},{row['lat']:.6f}" if row["lon"] is not None else "—"
    project = f"  {row['project']}" if row["project"] else ""
    return (f"{row['id']}  {row['created_at']}  {row['channel']:<4} {row['overall_label'] or row['overall']:<4} "
            f"{row['industry']}（{row['stage']}）  {row['geometry_type']} {where}{project}")


def run(args: argparse.Namespace) -> int:
    audit = AuditLog()
    if args.verify:
        broken = audit.verify()
        if args.format == "json":
            print(json.dumps({"path": str(audit.path), "records": audit.count(), "broken": broken}, ensure_ascii=False))
        else:
            print(f"审计日志 {audit.path}：{audit.count()} 条记录，" + (f"哈希链断裂：{'、'.join(broken)}" if broken else "哈希链完整"))
        return 0 if not broken else 1
    if args.id is None:
        if args.report:
            raise InputError("--report", str(args.report), "写出审查意见须同时给出 --id。", "--report needs --id.")
        records = audit.recent(args.limit)
        if args.format == "json":
            print(json.dumps({"path": str(audit.path), "checks": [r.summary() for r in records]}, ensure_ascii=False, indent=2))
        elif not records:
            print(f"审计日志 {audit.path} 中还没有审查记录。")
        else:
            print("\n".join(_listing_line(r) for r in records))
        return 0
    record = audit.get(args.id)
    if record is None:
        raise InputError("--id", args.id, "没有该编号的审查记录；用 siting history 列出最近的记录。",
                         "no check with this id; list recent checks with siting history.")
    layers = load_layers(log=lambda m: print(m, file=sys.stderr))
    again = replay(record, layers)
    if args.report:
        if not again.identical:
            raise InputError("--report", str(args.report), "复现结果与记录不一致（数据或规则版本已变），不能据此出具审查意见。",
                             "the replay differs from the record (data or rule versions changed); no report can be filed from it.")
        from siting.report import write_report

        write_report(args.report, record, again.result, layers)
        print(f"审查意见已写出：{args.report}", file=sys.stderr)
    if args.format == "json":
        print(json.dumps(again.to_dict() | {"record": record.to_dict()}, ensure_ascii=False, indent=2))
        return 0
    print(_listing_line(record))
    print(f"审查日期 {record.checked_on}；规则目录版本 {record.catalog_version[:12]}")
    if again.identical:
        print("复现结果：与记录完全一致。")
    else:
        print("复现结果：与记录不一致。差异：" + "、".join(again.differences()))
        if not again.versions_match:
            print("规则目录或图层版本已变化，结果不同属预期；原结论以记录为准。")
    return 0
