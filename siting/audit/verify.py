"""`siting history --verify`: does the audit log still hold every record as it was written?

Read-only. Each chain (checks, decisions, layer changes) is walked in order: a record whose content no
longer gives its digest was rewritten; a gap in the sequence or a broken link means rows
were deleted; a digest whose signature fails was recomputed (the chain re-hashed) or signed
by another key. The signed checkpoints then say what the chains held at each moment: a log
shorter than a checkpoint was truncated (from which record, since when), a head that differs
from a checkpoint's was changed. A file SQLite cannot read is reported as damaged, not
verified.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siting.audit.log import FROM_ROW, shown_time
from siting.audit.signing import AuditError, PublicKey, checkpoint_signed_by
from siting.audit.store import PostgresStore, is_postgres

_CHAINS = {
    "checks": ("检查记录", "check records"),
    "decisions": ("审查决定", "decision records"),
    "layer_changes": ("图层变更记录", "layer change records"),
}
_REQUIRED = ("checks", "decisions")  # in every checkpoint; layer changes since schema 3 (size 0 before)


@dataclass(frozen=True)
class Problem:
    """One kind of tampering found in one chain, from its first record (or time) on."""

    kind: str  # truncated, deleted, rewritten, rehashed, unsigned, checkpoints
    chain: str
    records: list[str]
    since: str  # the first record affected (id or "#seq"), and when it was written where known
    zh: str
    en: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "chain": self.chain, "count": len(self.records), "since": self.since,
                "records": self.records[:100], "message_zh": self.zh, "message_en": self.en}


@dataclass
class Verification:
    """What ``verify_log`` found: counts, problems, notes, or that the file is damaged."""

    path: Path | str  # the SQLite file, or the PostgreSQL URL without its password
    checkpoints_path: Path
    key_fingerprint: str
    records: int = 0
    decisions: int = 0
    layer_changes: int = 0
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    damaged: str | None = None

    @property
    def broken(self) -> list[str]:
        """Ids (or ``#seq``) of records any problem names, in order found."""
        seen: dict[str, None] = {}
        for problem in self.problems:
            seen.update(dict.fromkeys(problem.records))
        return list(seen)

    @property
    def intact(self) -> bool:
        return self.damaged is None and not self.problems

    def to_dict(self) -> dict:
        return {"path": str(self.path), "checkpoints_path": str(self.checkpoints_path), "key": self.key_fingerprint,
                "records": self.records, "decisions": self.decisions, "layer_changes": self.layer_changes,
                "checkpoints": self.checkpoints,
                "intact": self.intact, "damaged": self.damaged, "broken": self.broken,
                "problems": [p.to_dict() for p in self.problems], "notes": self.notes}


@dataclass
class _Row:
    seq: int
    id: str
    at: str
    valid_digest: bool
    linked: bool
    signature: str
    digest: str
    signed_ok: bool


def _rows(connection: Any, names: list[str], chain: str, public: PublicKey) -> list[_Row]:
    if not names:
        return []
    rows, prev = [], ""
    for row in connection.execute(f"SELECT * FROM {chain} ORDER BY seq"):
        record = FROM_ROW[chain](row)
        at = record.created_at if chain == "checks" else record.recorded_at
        signature = row["signature"] if "signature" in names else ""
        rows.append(_Row(row["seq"], record.id, at, record.compute_digest(record.prev_digest) == record.digest,
                         record.prev_digest == prev, signature, record.digest,
                         bool(signature) and public.verify(signature, record.digest.encode())))
        prev = record.digest
    return rows


def _when(stored: object) -> str:
    """A stored UTC time in China Standard Time, or the text as stored if it is not a time."""
    try:
        return f"{shown_time(str(stored))} 北京时间"
    except ValueError:
        return str(stored)


def _numbers(first: int, last: int) -> str:
    return f"第 {first} 条" if first == last else f"第 {first}–{last} 条"


def _since(row: _Row) -> str:
    return f"{row.id}（#{row.seq}，{_when(row.at)}）"


def _chain_problems(chain: str, rows: list[_Row]) -> list[Problem]:
    zh_name, en_name = _CHAINS[chain]
    deleted, rewritten, rehashed, unsigned = [], [], [], []
    expected, signed_seen = 1, False
    for row in rows:
        if row.seq != expected or not row.linked:
            deleted.append((row, expected))
        expected = row.seq + 1
        if not row.valid_digest:
            rewritten.append(row)
        elif row.signature and not row.signed_ok:
            rehashed.append(row)
        elif not row.signature and signed_seen:
            unsigned.append(row)
        signed_seen = signed_seen or bool(row.signature)
    problems = []
    if deleted:
        row, expected = deleted[0]
        gap = _numbers(expected, row.seq - 1) if row.seq > expected else "其前一条"
        problems.append(Problem(
            "deleted", chain, [r.id for r, _ in deleted], _since(row),
            f"{zh_name}被删除：{gap}记录缺失或被替换，链在 {_since(row)} 处断开（共 {len(deleted)} 处）。",
            f"{en_name} deleted: the chain breaks before {row.id} (#{row.seq}), {len(deleted)} break(s)."))
    if rewritten:
        problems.append(Problem(
            "rewritten", chain, [r.id for r in rewritten], _since(rewritten[0]),
            f"{zh_name}被改写：{len(rewritten)} 条记录的内容与其哈希不符，自 {_since(rewritten[0])}起。",
            f"{en_name} rewritten: {len(rewritten)} record(s) no longer match their digest, from {rewritten[0].id}."))
    if rehashed:
        problems.append(Problem(
            "rehashed", chain, [r.id for r in rehashed], _since(rehashed[0]),
            f"{zh_name}的哈希被重新计算（或以其他密钥签名）：{len(rehashed)} 条记录的签名不符，自 {_since(rehashed[0])}起。",
            f"{en_name} re-hashed or signed by another key: {len(rehashed)} signature(s) fail, from {rehashed[0].id}."))
    if unsigned:
        problems.append(Problem(
            "unsigned", chain, [r.id for r in unsigned], _since(unsigned[0]),
            f"{zh_name}中有 {len(unsigned)} 条在签名启用后写入却没有签名，自 {_since(unsigned[0])}起。",
            f"{len(unsigned)} {en_name} written after signing began carry no signature, from {unsigned[0].id}."))
    return problems


def _read_checkpoints(path: Path, public: PublicKey) -> tuple[list[dict], list[Problem]]:
    if not path.exists():
        return [], []
    good, bad = [], []
    try:
        lines = path.read_bytes().splitlines()
    except OSError as error:
        return [], [Problem("checkpoints", "checkpoints", [], str(path), f"检查点文件无法读取：{error}。",
                            f"the checkpoint file cannot be read: {error}.")]
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            checkpoint = json.loads(line)
        except ValueError:
            checkpoint = None
        if isinstance(checkpoint, dict) and checkpoint_signed_by(checkpoint, public) and all(
                isinstance(checkpoint.get(c), dict) and isinstance(checkpoint[c].get("size"), int)
                for c in _CHAINS if c in _REQUIRED or c in checkpoint):
            good.append({c: {"size": 0, "head": ""} for c in _CHAINS} | checkpoint)
        else:
            bad.append(f"line {number}")
    problems = []
    if bad:
        problems.append(Problem(
            "checkpoints", "checkpoints", bad, bad[0],
            f"检查点文件中有 {len(bad)} 行无法读取或签名不符（自第 {bad[0][5:]} 行起）：检查点被改动，或由其他密钥签名。",
            f"{len(bad)} checkpoint line(s) unreadable or not signed by this key, from {bad[0]}."))
    for earlier, later in itertools.pairwise(good):
        if any(later[c]["size"] < earlier[c]["size"] for c in _CHAINS):
            problems.append(Problem("checkpoints", "checkpoints", [], later.get("time", ""),
                                    f"检查点倒退：{_when(later.get('time'))} 的检查点比此前的记录少，检查点文件被改动。",
                                    f"checkpoints go backwards at {later.get('time')}: the checkpoint file was edited."))
            break
    return good, problems


def _against_checkpoints(chain: str, rows: list[_Row], checkpoints: list[dict]) -> list[Problem]:
    zh_name, en_name = _CHAINS[chain]
    by_seq = {row.seq: row for row in rows}
    last_seq = rows[-1].seq if rows else 0
    problems = []
    beyond = [c for c in checkpoints if c[chain]["size"] > last_seq]
    if beyond:
        claimed = max(c[chain]["size"] for c in beyond)
        first = beyond[0]
        whole = "全部记录" if not rows else _numbers(last_seq + 1, claimed)
        problems.append(Problem(
            "truncated", chain, [f"#{n}" for n in range(last_seq + 1, claimed + 1)], f"#{last_seq + 1}（{_when(first.get('time'))}）",
            f"{zh_name}被截断：检查点（最近一次 {_when(beyond[-1].get('time'))}）记录了 {claimed} 条，日志只到第 {last_seq} 条；"
            f"{whole}缺失，自 {_when(first.get('time'))} 写入的第 {last_seq + 1} 条起。",
            f"{en_name} truncated: checkpoints record {claimed}, the log ends at #{last_seq}; "
            f"#{last_seq + 1}–{claimed} missing, written since {first.get('time')}."))
    changed = [c for c in checkpoints if 0 < c[chain]["size"] <= last_seq
               and (c[chain]["size"] not in by_seq or by_seq[c[chain]["size"]].digest != c[chain]["head"])]
    if changed:
        first = changed[0]
        size = first[chain]["size"]
        problems.append(Problem(
            "rewritten", chain, [f"#{size}"], f"#{size}（{_when(first.get('time'))}）",
            f"{zh_name}与检查点不符：{_when(first.get('time'))} 的检查点记下的第 {size} 条的哈希已不同（共 {len(changed)} 个检查点不符），"
            f"第 {size} 条及以前的记录被改写、删除或整链重算。",
            f"{en_name} differ from the checkpoints: the head at #{size} signed at {first.get('time')} has changed "
            f"({len(changed)} checkpoint(s)); records up to #{size} were rewritten, deleted or re-hashed."))
    return problems


def damaged(path: Path | str, detail: str, public: PublicKey, checkpoints_path: Path) -> Verification:
    return Verification(path, checkpoints_path, public.fingerprint, damaged=detail)


def _sqlite_rows(path: Path, public: PublicKey) -> dict[str, list[_Row]] | str:
    """Every chain's rows read from the file opened read-only, or what is damaged in it."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.row_factory = sqlite3.Row
    try:
        status = connection.execute("PRAGMA quick_check").fetchone()[0]
        if status != "ok":
            return status
        connection.execute("BEGIN")
        return {chain: _rows(connection, [row["name"] for row in connection.execute(f"PRAGMA table_info({chain})")],
                             chain, public) for chain in _CHAINS}
    finally:
        connection.close()


def _postgres_rows(url: str, public: PublicKey) -> dict[str, list[_Row]]:
    """Every chain's rows read in one read-only snapshot."""
    store = PostgresStore(url)
    with store.connect() as connection:
        store.begin_snapshot(connection)
        return {chain: _rows(connection, store.columns(connection, chain), chain, public) for chain in _CHAINS}


def verify_log(path: Path | str, checkpoints_path: Path, public: PublicKey) -> Verification:
    """Check every chain, their signatures and the checkpoints; never raises on a damaged file.

    ``path`` is the SQLite file, or a ``postgresql://`` URL."""
    shown = PostgresStore(path).location if is_postgres(path) else Path(path)
    found = Verification(shown, checkpoints_path, public.fingerprint)
    rows: dict[str, list[_Row]] = {chain: [] for chain in _CHAINS}
    # Checkpoints first: each is written after its records commit, so the rows read next hold every record a
    # checkpoint read here covers, even while a server is still writing (the other order sees a checkpoint
    # of a record committed after the rows were read, and calls the log truncated).
    checkpoints, problems = _read_checkpoints(checkpoints_path, public)
    try:
        if is_postgres(path):
            rows = _postgres_rows(str(path), public)
        elif Path(path).exists() and Path(path).stat().st_size > 0:
            read = _sqlite_rows(Path(path), public)
            if isinstance(read, str):
                return damaged(shown, read, public, checkpoints_path)
            rows = read
    except (sqlite3.Error, AuditError, ValueError, KeyError, TypeError, IndexError) as error:
        return damaged(shown, f"{type(error).__name__}: {error}", public, checkpoints_path)
    found.records, found.decisions, found.layer_changes = (len(rows[chain]) for chain in _CHAINS)
    found.checkpoints = len(checkpoints)
    for chain in _CHAINS:
        problems += _chain_problems(chain, rows[chain])
        problems += _against_checkpoints(chain, rows[chain], checkpoints)
    if not checkpoints and any(rows.values()):
        problems.append(Problem("checkpoints", "checkpoints", [], str(checkpoints_path),
                                f"检查点文件 {checkpoints_path} 不存在或为空，而日志中有记录：检查点被删除，截断无法排除。",
                                f"the checkpoint file {checkpoints_path} is missing or empty while the log has records."))
    legacy = next((i for i, row in enumerate(rows["checks"]) if row.signature), len(rows["checks"]))
    if legacy:
        found.notes.append(f"{legacy} 条记录早于签名启用（只有哈希链，由其后的检查点覆盖）。")
    for chain in _CHAINS:
        covered = max((c[chain]["size"] for c in checkpoints), default=0)
        pending = sum(1 for row in rows[chain] if row.seq > covered)
        if pending and checkpoints:
            found.notes.append(f"{_CHAINS[chain][0]}有 {pending} 条在最后一个检查点之后（写入时进程中断；下一条记录会补记检查点）。")
    found.problems = problems
    return found
