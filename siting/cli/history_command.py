"""`siting history`: list audited checks, replay one, record a reviewer's decision, verify the log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from layers.build import data_dir, load_layers
from siting.audit.audited_check import as_issued, record_decision, replay
from siting.audit.log import DECISIONS, TIME_NOTE, AuditError, AuditLog, CheckRecord, DecisionRecord, open_audit_log, shown_time
from siting.audit.signing import PublicKey, SigningKey, key_path
from siting.audit.store import SqliteStore, store_for
from siting.audit.verify import Verification, verify_log
from spatial.errors import InputError

EXIT_TAMPERED = 1
EXIT_DAMAGED = 2


def register(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser("history", help="审查记录（审计日志）：列出、复现、记录审查决定、校验")
    history.add_argument("--id", help="复现该编号的审查，并与记录的结果比对")
    history.add_argument("--replay", metavar="ID", help="同 --id：以当前规则和图层复现该审查，列出变化")
    history.add_argument("--limit", type=int, default=20, help="列出最近多少条（默认 20）")
    history.add_argument("--report", type=Path, metavar="FILE",
                         help="与 --id 同用：按签发时的记录写出审查意见（.docx/.pdf/.html）")
    history.add_argument("--decide", metavar="ID", help="为该编号的审查记录审查决定（追加到审计日志，不修改原记录）")
    history.add_argument("--decision", choices=DECISIONS, help="与 --decide 同用：采纳、不采纳或需补充材料")
    history.add_argument("--note", default="", help="与 --decide 同用：审查备注（最多 2000 字）")
    history.add_argument("--rule", metavar="RULE_ID", help="与 --decide 同用：针对的规则编号；不给则针对总体结论")
    history.add_argument("--export", type=Path, metavar="FILE",
                         help="把全部审查记录导出为 GIS 图层（.gpkg、.geojson 或 .fgb）：每条记录一个要素，含场址、结论、审查人与最新决定")
    history.add_argument("--verify", action="store_true", help="校验审计日志：哈希链、签名与检查点")
    history.add_argument("--checkpoints", type=Path, metavar="FILE", help="与 --verify 同用：以导出的检查点文件校验")
    history.add_argument("--public-key", metavar="BASE64", help="与 --verify 同用：以记下的公钥（审查意见中所印）校验")
    history.add_argument("--database", metavar="PATH|URL",
                         help="审计日志所在：SQLite 文件路径，或 postgresql://… （默认数据目录下的 audit.sqlite3）")
    history.add_argument("--format", choices=["text", "json"], default="text")


def _decision_line(decision: DecisionRecord) -> str:
    scope = f"规则 {decision.rule_id}" if decision.rule_id else "总体结论"
    note = f"：{decision.note}" if decision.note else ""
    who = f" {decision.user}" if decision.user else ""
    return f"    审查决定 {shown_time(decision.recorded_at)}{who} {decision.decision}（{scope}）{note}"


def _listing_line(record: CheckRecord) -> str:
    row = record.summary()
    where = f"{row['lon']:.6f},{row['lat']:.6f}" if row["lon"] is not None else "—"
    project = f"  {row['project']}" if row["project"] else ""
    who = f"  审查人 {row['user']}" if row["user"] else ""
    return (f"{row['id']}  {shown_time(row['created_at'])}  {row['channel']:<4} {row['overall_label'] or row['overall']:<4} "
            f"{row['industry']}（{row['stage']}）  {row['geometry_type']} {where}{project}{who}")


def _verify(args: argparse.Namespace) -> int:
    """0 intact, 1 tampered (named, with since when), 2 damaged: never a traceback."""
    store = store_for(args.database)
    key_file = key_path(store.key_directory())
    checkpoints = args.checkpoints or store.default_checkpoints()
    if (isinstance(store, SqliteStore) and not args.public_key and not key_file.exists() and not store.path.exists()
            and not checkpoints.exists()):
        print(f"审计日志 {store.path} 还没有任何记录，无需校验。")
        return 0
    try:
        if args.public_key:
            public = PublicKey.from_base64(args.public_key)
        elif key_file.is_file():
            public = SigningKey.load_or_create(key_file).public
        else:
            raise AuditError(f"{key_file} does not exist")
    except AuditError as error:
        raise InputError("--public-key" if args.public_key else "SITING_AUDIT_KEY", args.public_key or str(key_file),
                         f"无法读取审计签名公钥：{error}。请给出审查意见中所印的公钥（--public-key）。",
                         f"cannot read the audit signing key: {error}. Give the public key printed in the reports (--public-key).") from None
    found = verify_log(store.path if isinstance(store, SqliteStore) else store.url, checkpoints, public)
    if args.format == "json":
        print(json.dumps(found.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(_verify_text(found))
    if found.damaged is not None:
        return EXIT_DAMAGED
    return 0 if found.intact else EXIT_TAMPERED


def _verify_text(found: Verification) -> str:
    lines = [f"审计日志 {found.path}：{found.records} 条检查记录，{found.decisions} 条审查决定，{found.layer_changes} 条图层变更，"
             f"{found.checkpoints} 个检查点；"
             f"签名公钥 {found.key_fingerprint}"]
    if found.damaged is not None:
        lines.append(f"审计日志文件已损坏，无法校验（{found.damaged}）。请从备份恢复该文件，并以导出的检查点校验恢复后的日志。\n"
                     f"The audit log file is damaged and cannot be verified ({found.damaged}); restore it from a backup.")
        return "\n".join(lines)
    lines += [f"发现问题：{p.zh}\n  {p.en}" for p in found.problems]
    lines += [f"说明：{note}" for note in found.notes]
    lines.append("哈希链、签名与检查点均完好。" if found.intact else f"审计日志未通过校验：{len(found.problems)} 类问题。")
    return "\n".join(lines)


def _decide(args: argparse.Namespace, audit: AuditLog) -> int:
    if args.decision is None:
        raise InputError("--decision", None, f"记录审查决定须给出 --decision（{'、'.join(DECISIONS)}）。",
                         "--decide needs --decision (采纳, 不采纳 or 需补充材料).")
    record = _record(audit, args.decide, "--decide")
    stored = record_decision(audit, record, args.decision, args.note, args.rule)
    if args.format == "json":
        print(json.dumps(stored.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(f"审查决定已记入审计日志：{stored.id}\n{_decision_line(stored)}")
    return 0


def _record(audit: AuditLog, check_id: str, field: str) -> CheckRecord:
    record = audit.get(check_id)
    if record is None:
        raise InputError(field, check_id, "没有该编号的审查记录；用 siting history 列出最近的记录。",
                         "no check with this id; list recent checks with siting history.")
    return record


def run(args: argparse.Namespace) -> int:
    if args.verify:
        return _verify(args)
    audit = open_audit_log(args.database)
    if args.decide is not None:
        return _decide(args, audit)
    if args.export is not None:
        from siting.audit.export import export_checks, export_suffix  # fiona: only for an export

        export_suffix(args.export)
        written = export_checks(audit.records(), args.export)
        print(f"已导出 {written} 条审查记录：{args.export}（WGS84，图层 checks）", file=sys.stderr)
        return 0
    check_id = args.id or args.replay
    if check_id is None:
        if args.report:
            raise InputError("--report", str(args.report), "写出审查意见须同时给出 --id。", "--report needs --id.")
        records = audit.recent(args.limit)
        latest = audit.latest_decisions([r.id for r in records])
        if args.format == "json":
            checks = [r.summary() | {"latest_decision": latest[r.id].to_dict() if r.id in latest else None} for r in records]
            print(json.dumps({"path": audit.location, "checks": checks}, ensure_ascii=False, indent=2))
        elif not records:
            print(f"审计日志 {audit.location} 中还没有审查记录。")
        else:
            print(TIME_NOTE)
            for record in records:
                print(_listing_line(record))
                if record.id in latest:
                    print(_decision_line(latest[record.id]))
        return 0
    record = _record(audit, check_id, "--id" if args.id else "--replay")
    layers = load_layers(log=lambda m: print(m, file=sys.stderr))
    if args.report:
        issued = as_issued(record, layers, data_dir())
        if issued is None:
            raise InputError("--report", str(args.report), "签发时所用的图层或规则已不在本机（默认图层已重建或规则已更新），无法按签发时的版本重绘审查意见。",
                             "the layers or rules this check was issued on are no longer on this machine; it cannot be drawn as issued.")
        from siting.report import write_report

        write_report(args.report, record, *issued)
        print(f"审查意见已写出（按 {shown_time(record.created_at)} 签发时的记录）：{args.report}", file=sys.stderr)
    again = replay(record, layers)
    if args.format == "json":
        print(json.dumps(again.to_dict() | {"record": record.to_dict()}, ensure_ascii=False, indent=2))
        return 0
    print(TIME_NOTE)
    print(_listing_line(record))
    print(f"审查日期 {record.checked_on}；规则目录版本 {record.catalog_version[:12]}")
    for decision in record.decisions:
        print(_decision_line(decision))
    if again.identical:
        print("复现结果：与记录完全一致。")
    else:
        print("复现结果：与记录不一致。差异：" + "、".join(again.differences()))
        if not again.versions_match:
            print("规则目录或图层版本已变化，结果不同属预期；原结论以记录为准。")
    return 0
