"""The audit log: every check (CLI, API, page) as one row, replayable later; who made it; layer changes.

A verdict in a permit file must be reproducible, so each row keeps the exact site
geometry (WKB), what the reviewer typed, the result JSON, the date deadlines were
judged against, the versions of the rule catalog and of every layer, and (schema 3)
the user, role and unit that asked. Rows are chained by hash (each row's digest covers
the previous one) and each digest is signed with a key held outside the database; after
every committed batch a signed checkpoint of the chain heads goes to a separate
append-only file (:mod:`siting.audit.signing`). The reviewer's decisions on a check are
a second chain, each bound to the check's digest: appended, never edited; layers
imported, replaced or removed through the web are a third. :mod:`siting.audit.verify`
checks all of it.

Where: an SQLite file (default) or PostgreSQL (:mod:`siting.audit.store`). How: every
append goes through the process's group-commit writer (:mod:`siting.audit.writer`), so
concurrent records share one transaction; a caller gets its record back only once the
transaction holding it has committed (SQLite WAL with ``synchronous=FULL``; PostgreSQL
commit) and its checkpoint is written. A process killed mid-write leaves whole batches
or none of them, never a torn row or a corrupt file.

Time: stored in UTC (check ids, ``created_at``); shown in China Standard Time (UTC+8, no
daylight saving), and the 审查日期 is the CST date of the same instant.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator, Mapping
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

from layers import catalog
from layers.build import data_dir
from siting.audit.signing import AuditError, SigningKey, append_checkpoint, key_path
from siting.audit.store import ACTOR_COLUMNS, CHAINS, SCHEMA_VERSION, PostgresStore, SqliteStore, store_for
from siting.audit.writer import GroupWriter, shared_writer
from spatial.layer import LayerSet

CST = timezone(timedelta(hours=8), "CST")
TIME_NOTE = "时间均为北京时间（UTC+8）；审查编号中的时间为协调世界时（UTC）。"
DECISIONS = ("采纳", "不采纳", "需补充材料")
NOTE_MAX_CHARS = 2000
LAYER_ACTIONS = ("import", "replace", "remove")
# Who made a record (schema 3): in the digest of every row that names anyone; rows written before name no one.
_ACTOR_FIELDS = ACTOR_COLUMNS
_FIELDS = ("id", "created_at", "checked_on", "channel", "project", "inputs", "site_wkb", "overall", "result",
           "catalog_version", "layer_versions", "prev_digest", "digest")
_COLUMNS = (*_FIELDS, "signature", *_ACTOR_FIELDS)
RESULT_COLUMN = _COLUMNS.index("result")
_DECISION_FIELDS = ("id", "check_id", "check_digest", "recorded_at", "decision", "note", "rule_id", "prev_digest", "digest")
_DECISION_COLUMNS = (*_DECISION_FIELDS, "signature", *_ACTOR_FIELDS)
_LAYER_CHANGE_FIELDS = ("id", "recorded_at", *_ACTOR_FIELDS, "action", "layer_id", "detail", "prev_digest", "digest")
_LAYER_CHANGE_COLUMNS = (*_LAYER_CHANGE_FIELDS, "signature")


@dataclass(frozen=True)
class Actor:
    """Who asks: the account, its role and its unit (科室). ``LOCAL_ACTOR`` is the CLI and the desktop mode."""

    user: str
    role: str  # "reviewer" | "data-admin" | "auditor" | "local"
    unit: str = ""

    def __post_init__(self) -> None:
        if not self.user.strip() or not self.role.strip():
            raise ValueError(f"an actor needs a user and a role, got {self!r}")


LOCAL_ACTOR = Actor("本机", "local")


def _quoted(columns: tuple[str, ...]) -> str:
    """Column names for SQL, quoted: ``user`` is a reserved word in PostgreSQL."""
    return ", ".join(f'"{name}"' for name in columns)


def _digest_input(values: list[tuple[str, object]]) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """What a row's digest hashes after the previous digest (each field's name and value), and where in it
    each value lies."""
    parts, spans, at = [], {}, 0
    for name, value in values:
        label = f"\0{name}\0".encode()
        data = value if isinstance(value, bytes) else str(value).encode()
        parts += [label, data]
        at += len(label)
        spans[name] = (at, at + len(data))
        at += len(data)
    return b"".join(parts), spans


def _digest_of(prev_digest: str, values: list[tuple[str, object]]) -> str:
    return hashlib.sha256(prev_digest.encode() + _digest_input(values)[0]).hexdigest()


# A result is a tree (no cycles to look for); built once, not per call as ``json.dumps(**options)`` builds one.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, check_circular=False)


class JsonText(dict):
    """A JSON object that keeps its canonical text (sorted keys, as a row stores it), read back from that text.

    A check's result (~20 kB) is then serialised once where it is computed: the row, its digest and the
    HTTP answer reuse the text instead of encoding the object again. Only for objects whose keys are all
    strings (the result's JSON contract); other keys would sort differently once read back as strings."""

    __slots__ = ("text",)

    @classmethod
    def of(cls, value: dict) -> JsonText:
        text = _CANONICAL.encode(value)
        made = cls(json.loads(text))
        made.text = text
        return made

    @classmethod
    def written(cls, value: dict) -> JsonText:
        """The canonical text, with ``value`` as written (its key order, tuples as tuples), not read back:
        for a record sealed as soon as it is made (a check worker's), whose object is only tested, never
        shown or compared, so decoding the 20 kB text again would be wasted. :meth:`read_back` gives the
        object as :meth:`of` holds it."""
        made = cls(value)
        made.text = _CANONICAL.encode(value)
        return made

    def read_back(self) -> dict:
        """The object as its text reads back (keys sorted, lists), as a stored row gives it."""
        return json.loads(self.text)


def _stored_json(value: dict) -> str:
    return value.text if isinstance(value, JsonText) else _CANONICAL.encode(value)


def default_path() -> Path:
    return data_dir() / "audit.sqlite3"


def now_utc() -> datetime:
    return datetime.now(UTC)


def shown_time(stored: str) -> str:
    """A stored UTC time as a reviewer reads it: China Standard Time, to the second."""
    return datetime.fromisoformat(stored).astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


def review_date(now: datetime) -> date:
    """The 审查日期 of an instant: its date in China Standard Time (the id keeps the UTC time)."""
    return now.astimezone(CST).date()


def new_check_id(now: datetime) -> str:
    """Sortable and unguessable: UTC time to the second plus 48 random bits."""
    return f"C{now:%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"


@lru_cache(maxsize=1)
def catalog_version() -> str:
    """sha256 over every file a verdict depends on besides layers: rules, taxonomy, layer declarations.

    Computed once per process, like ``catalog.rules()``, so it names the rules actually loaded.
    """
    digest = hashlib.sha256()
    for path in [*catalog.rule_files(), catalog.DATA / "industries.yaml", catalog.DATA / "layers.yaml"]:
        digest.update(f"{path.relative_to(catalog.DATA).as_posix()}\0".encode())
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def layer_versions(layers: LayerSet) -> JsonText:
    """Per layer: source digest, version and the demonstration flag; plus the ids of missing layers.

    With its stored text, encoded once per set of versions: every check of a worker stores the same ~4 kB.
    Shared between records, so read only."""
    return _layer_versions(tuple((layer_id, layer.provenance.sha256, layer.provenance.version, layer.provenance.demonstration)
                                 for layer_id, layer in sorted(layers.layers.items())), tuple(sorted(layers.missing)))


@lru_cache(maxsize=16)
def _layer_versions(entries: tuple[tuple[str, str, str, bool], ...], missing: tuple[str, ...]) -> JsonText:
    return JsonText.written({
        "layers": {layer_id: {"sha256": sha256, "version": version, "demonstration": demonstration}
                   for layer_id, sha256, version, demonstration in entries},
        "missing": list(missing),
    })


@dataclass(frozen=True)
class DecisionRecord:
    """A reviewer's decision on a check (overall, or on one rule's finding), bound to the check's digest."""

    id: str
    check_id: str
    check_digest: str
    recorded_at: str
    decision: str
    note: str
    rule_id: str | None
    prev_digest: str = ""
    digest: str = ""
    signature: str = ""
    user: str = ""
    role: str = ""
    unit: str = ""

    def to_dict(self) -> dict:
        """The stored decision as the API returns it."""
        return {"decision_id": self.id, "check_id": self.check_id, "decision": self.decision, "note": self.note,
                "rule_id": self.rule_id, "recorded_at": self.recorded_at, "user": self.user, "role": self.role}

    def compute_digest(self, prev_digest: str, columns: tuple | None = None) -> str:
        names = [*_DECISION_FIELDS[:-2], *(_ACTOR_FIELDS if self.user or self.role or self.unit else ())]
        return _digest_of(prev_digest, [(name, _tagged(getattr(self, name))) for name in names])

    def _columns(self) -> tuple:
        return tuple(getattr(self, name) for name in _DECISION_COLUMNS)


@dataclass(frozen=True)
class CheckRecord:
    """One audited check. ``inputs`` holds what the reviewer gave (industry and stage as typed, the site echo)."""

    id: str
    created_at: str
    checked_on: str
    channel: str
    project: str
    inputs: dict
    site_wkb: bytes
    overall: str
    result: dict
    catalog_version: str
    layer_versions: dict
    prev_digest: str = ""
    digest: str = ""
    signature: str = ""
    user: str = ""
    role: str = ""
    unit: str = ""
    # Not part of the row or its digest: filled in when read, for answers and reports.
    decisions: tuple[DecisionRecord, ...] = ()
    public_key: str = ""  # base64 of the Ed25519 key that signs this log

    @property
    def on(self) -> date:
        return date.fromisoformat(self.checked_on)

    def echo(self) -> dict:
        """What an answer carries beside the result so the reviewer can cite and replay it."""
        return {"check_id": self.id, "checked_on": self.checked_on, "catalog_version": self.catalog_version}

    def summary(self) -> dict:
        """The listing row: no geometry, no full result."""
        site = self.result.get("site", {})
        return {
            "id": self.id, "created_at": self.created_at, "channel": self.channel, "user": self.user, "role": self.role,
            "unit": self.unit, "project": self.project,
            "industry": self.inputs.get("industry"), "stage": self.result.get("stage"), "overall": self.overall,
            "overall_label": self.result.get("overall_label"), "lon": site.get("wgs84", {}).get("lon"),
            "lat": site.get("wgs84", {}).get("lat"), "geometry_type": site.get("geometry_type"),
        }

    def to_dict(self) -> dict:
        """Everything but the geometry bytes (given as hex), for JSON; decisions in the API's shape."""
        values = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in asdict(self).items() if k != "decisions"}
        return values | {"decisions": [d.to_dict() for d in self.decisions]}

    def _columns(self) -> tuple:
        return tuple(_stored_json(value) if isinstance(value, dict) else value for value in (getattr(self, name) for name in _COLUMNS))

    def _digested(self, columns: tuple) -> list[tuple[str, object]]:
        values = dict(zip(_COLUMNS, columns, strict=True))
        names = [*_FIELDS[:-2], *(_ACTOR_FIELDS if self.user or self.role or self.unit else ())]
        return [(name, values[name]) for name in names]

    def compute_digest(self, prev_digest: str, columns: tuple | None = None) -> str:
        """The digest chained onto ``prev_digest``; ``columns`` (this record's ``_columns()``) spares serialising twice."""
        return _digest_of(prev_digest, self._digested(columns or self._columns()))

    def sealed(self) -> SealedRecord:
        """This check as the writer stores it, serialised here: a check worker seals its record so that the
        server's writer only links and signs it (:class:`SealedRecord`)."""
        clean = stored_form(self)
        columns = clean._columns()
        tail, spans = _digest_input(clean._digested(columns))
        layout = tuple(("bytes" if isinstance(value, bytes) else "text", *spans[name])
                       if name in spans and isinstance(value, bytes | str) else ("value", value)
                       for name, value in zip(_COLUMNS, columns, strict=True))
        return SealedRecord("checks", clean.id, tail, layout)


def stored_form(record: CheckRecord) -> CheckRecord:
    """A check as stored: without what is filled in when read; one without a role is the local user's
    (callers from before accounts existed)."""
    clean = replace(record, decisions=(), public_key="")
    if not clean.role:
        clean = replace(clean, user=LOCAL_ACTOR.user, role=LOCAL_ACTOR.role, unit=LOCAL_ACTOR.unit)
    return clean


@dataclass(frozen=True)
class SealedRecord:
    """A row serialised where its record was made, waiting for its place in the chain.

    ``tail`` is what the digest hashes after the previous digest, so the writer, which must run in one place
    for the whole chain, does per record only what needs the chain: one SHA-256 over the previous digest and
    ``tail``, and the signature. The row's values are read out of ``tail`` (``layout``: per column ``("text",
    start, end)``, ``("bytes", start, end)`` or ``("value", value)`` for one outside the digest), so a 20 kB
    result crosses from the worker once, not once for the row and again for the digest."""

    table: str
    id: str
    tail: bytes
    layout: tuple[tuple, ...]
    prev_digest: str = ""
    digest: str = ""
    signature: str = ""

    def value(self, index: int) -> bytes:
        """The stored bytes of column ``index`` (UTF-8 for text)."""
        _, start, end = self.layout[index]
        return self.tail[start:end]

    def _columns(self) -> tuple:
        return tuple(self.tail[entry[1]:entry[2]].decode() if entry[0] == "text" else
                     self.tail[entry[1]:entry[2]] if entry[0] == "bytes" else entry[1] for entry in self.layout)

    def compute_digest(self, prev_digest: str, columns: tuple | None = None) -> str:
        return hashlib.sha256(prev_digest.encode() + self.tail).hexdigest()


def _tagged(value: object) -> bytes:
    return b"\x01" if value is None else b"\x02" + str(value).encode()


@dataclass(frozen=True)
class LayerChangeRecord:
    """A layer imported, replaced or removed through the web, by whom: its own chain in the log."""

    id: str
    recorded_at: str
    user: str
    role: str
    unit: str
    action: str
    layer_id: str
    detail: dict
    prev_digest: str = ""
    digest: str = ""
    signature: str = ""

    def to_dict(self) -> dict:
        return {"change_id": self.id, "recorded_at": self.recorded_at, "user": self.user, "role": self.role,
                "unit": self.unit, "action": self.action, "layer_id": self.layer_id, "detail": self.detail}

    def _columns(self) -> tuple:
        return tuple(json.dumps(value, ensure_ascii=False, sort_keys=True) if isinstance(value, dict) else value
                     for value in (getattr(self, name) for name in _LAYER_CHANGE_COLUMNS))

    def compute_digest(self, prev_digest: str, columns: tuple | None = None) -> str:
        values = dict(zip(_LAYER_CHANGE_COLUMNS, columns or self._columns(), strict=True))
        return _digest_of(prev_digest, [(name, values[name]) for name in _LAYER_CHANGE_FIELDS[:-2]])


def new_decision_id(now: datetime) -> str:
    return f"D{now:%Y%m%dT%H%M%S}-{secrets.token_hex(6)}"


def _value(row: Mapping, name: str) -> object:
    """A column of a row; the actor columns of a log not yet upgraded to schema 3 read as empty."""
    return row[name] if name in row.keys() or name not in _ACTOR_FIELDS else ""


def record_from_row(row: Mapping) -> CheckRecord:
    values = {name: _value(row, name) for name in _COLUMNS}
    for name in ("inputs", "result", "layer_versions"):
        values[name] = json.loads(values[name])
    values["site_wkb"] = bytes(values["site_wkb"])
    return CheckRecord(**values)


def decision_from_row(row: Mapping) -> DecisionRecord:
    return DecisionRecord(**{name: _value(row, name) for name in _DECISION_COLUMNS})


def layer_change_from_row(row: Mapping) -> LayerChangeRecord:
    values = {name: row[name] for name in _LAYER_CHANGE_COLUMNS}
    values["detail"] = json.loads(values["detail"])
    return LayerChangeRecord(**values)


FROM_ROW = {"checks": record_from_row, "decisions": decision_from_row, "layer_changes": layer_change_from_row}
_TABLE_COLUMNS = {"checks": _COLUMNS, "decisions": _DECISION_COLUMNS, "layer_changes": _LAYER_CHANGE_COLUMNS}


class AuditLog:
    """The audit database (:mod:`siting.audit.store`: an SQLite file, or PostgreSQL); short-lived connections
    for reading, and appends through the process's one group-commit writer (:mod:`siting.audit.writer`).

    ``key`` is the signing key file (default: ``$SITING_AUDIT_KEY``, else beside the SQLite file or in the
    data directory); checkpoints go to ``<name>-checkpoints.jsonl`` beside the file (PostgreSQL: in the
    data directory, one file per database).
    """

    def __init__(self, path: Path | None = None, key: Path | None = None, store: SqliteStore | PostgresStore | None = None) -> None:
        self.store = store or SqliteStore(path or default_path())
        self.path: Path | None = self.store.path if isinstance(self.store, SqliteStore) else None
        self.location = self.store.location
        self.key_path = key or key_path(self.store.key_directory())
        self.checkpoints_path = self.store.default_checkpoints()
        version = self.store.create()
        self.key = SigningKey.load_or_create(self.key_path)
        self._writer_connection = None  # the writer thread's own, kept open between batches
        self._writer = shared_writer((self.store.identity, str(self.key_path)),
                                     lambda: GroupWriter(self._commit, self._checkpoint, self.location, self._close_writer))
        if version < SCHEMA_VERSION and self.count():
            self._checkpoint()

    @property
    def writer(self) -> GroupWriter:
        return self._writer

    @property
    def database(self) -> Path | str:
        """What :func:`open_audit_log` and :func:`siting.audit.verify.verify_log` take: the file, or the URL."""
        return self.store.path if isinstance(self.store, SqliteStore) else self.store.url

    def _connect(self):
        return self.store.connect()

    def _heads(self, connection) -> dict:
        """Each chain's size (its last seq) and head digest, read in one snapshot."""
        self.store.begin_snapshot(connection)
        heads = {}
        for chain in CHAINS:
            last = connection.execute(f"SELECT seq, digest FROM {chain} ORDER BY seq DESC LIMIT 1").fetchone()
            heads[chain] = {"size": last["seq"] if last else 0, "head": last["digest"] if last else ""}
        connection.execute("COMMIT")
        return heads

    def _checkpoint(self) -> None:
        """Sign the current heads into the checkpoint file (after a commit; on the writer's thread, its connection)."""
        connection = self._writer_connection
        try:
            if connection is not None:
                append_checkpoint(self.checkpoints_path, self.key, lambda: self._heads(connection))
                return
            with self._connect() as own:
                append_checkpoint(self.checkpoints_path, self.key, lambda: self._heads(own))
        except AuditError:
            raise
        except Exception as error:  # the database failed under the heads' read: a fresh connection next time
            self._close_writer()
            raise AuditError(f"cannot read the audit log {self.location} for its checkpoint: {error}") from error

    def _commit(self, items: list[tuple[str, object]]) -> list:
        """One transaction: each ``(table, record)`` chained onto its table's head, signed and inserted.

        Called only by the writer thread. The append lock makes the heads read here the heads at commit.
        """
        connection = self._writer_connection = self._writer_connection or self.store.open()
        try:
            self.store.begin_append(connection)
            try:
                heads: dict[str, tuple[int, str]] = {}
                rows: dict[str, list[tuple]] = {}
                stored = []
                for table, record in items:
                    if table not in heads:
                        last = connection.execute(f"SELECT seq, digest FROM {table} ORDER BY seq DESC LIMIT 1").fetchone()
                        heads[table] = (last["seq"], last["digest"]) if last else (0, "")
                    seq, prev = heads[table]
                    values = record._columns()  # serialised once, for the digest and for the row
                    digest = record.compute_digest(prev, values)
                    signed = replace(record, prev_digest=prev, digest=digest, signature=self.key.sign(digest.encode()))
                    links = {"prev_digest": prev, "digest": digest, "signature": signed.signature}
                    rows.setdefault(table, []).append(
                        (seq + 1, *(links.get(name, value) for name, value in zip(_TABLE_COLUMNS[table], values, strict=True))))
                    heads[table] = (seq + 1, digest)
                    stored.append(signed)
                for table, values in rows.items():
                    columns = ("seq", *_TABLE_COLUMNS[table])
                    connection.executemany(f"INSERT INTO {table} ({_quoted(columns)}) VALUES ({', '.join('?' * len(columns))})",
                                           values)
                connection.execute("COMMIT")
            except BaseException:
                with suppress(Exception):
                    connection.execute("ROLLBACK")
                raise
        except Exception as error:
            self._writer_connection = None
            with suppress(Exception):
                connection.close()
            if isinstance(error, AuditError):
                raise
            raise AuditError(f"cannot write the audit log {self.location}: {error}") from error
        return stored

    def _close_writer(self) -> None:
        connection, self._writer_connection = self._writer_connection, None
        if connection is not None:
            with suppress(Exception):
                connection.close()

    def submit(self, records: list[CheckRecord]) -> Future:
        """Queue checks for the next group commit; the future gives them as stored once durable."""
        return self._writer.submit([("checks", stored_form(record)) for record in records])

    def submit_sealed(self, records: list[SealedRecord]) -> Future:
        """Queue records sealed elsewhere (a check worker) for the next group commit; the future gives them
        linked and signed once durable."""
        return self._writer.submit([(record.table, record) for record in records])

    def stored(self, records: list[CheckRecord]) -> list[CheckRecord]:
        """Checks as the writer returned them, with the public key a report prints."""
        return [replace(record, public_key=self.key.public.base64) for record in records]

    def append(self, record: CheckRecord) -> CheckRecord:
        """Store one check, chained to the last one and signed; return it as stored once it is durable."""
        return self.stored(self.submit([record]).result())[0]

    def decide(self, check: CheckRecord, decision: str, note: str, rule_id: str | None,
               actor: Actor = LOCAL_ACTOR) -> DecisionRecord:
        """Append ``actor``'s decision on ``check`` (validated by the caller) to the decisions chain."""
        now = now_utc()
        record = DecisionRecord(id=new_decision_id(now), check_id=check.id, check_digest=check.digest,
                                recorded_at=now.isoformat(timespec="seconds"), decision=decision, note=note, rule_id=rule_id,
                                user=actor.user, role=actor.role, unit=actor.unit)
        return self._writer.write([("decisions", record)])[0]

    def record_layer_change(self, actor: Actor, action: str, layer_id: str, detail: dict) -> LayerChangeRecord:
        """Append a layer import, replacement or removal by ``actor`` to the layer-changes chain."""
        if action not in LAYER_ACTIONS:
            raise ValueError(f"a layer change is one of {LAYER_ACTIONS}, not {action!r}")
        now = now_utc()
        record = LayerChangeRecord(id=f"L{now:%Y%m%dT%H%M%S}-{secrets.token_hex(6)}", recorded_at=now.isoformat(timespec="seconds"),
                                   user=actor.user, role=actor.role, unit=actor.unit, action=action, layer_id=layer_id,
                                   detail=json.loads(json.dumps(detail, ensure_ascii=False)))
        return self._writer.write([("layer_changes", record)])[0]

    def get(self, check_id: str) -> CheckRecord | None:
        with self._connect() as connection:
            row = connection.execute(f"SELECT {_quoted(_COLUMNS)} FROM checks WHERE id = ?", (check_id,)).fetchone()
        if row is None:
            return None
        return replace(record_from_row(row), decisions=tuple(self.decisions(check_id)), public_key=self.key.public.base64)

    def recent(self, limit: int = 20, user: str | None = None, unit: str | None = None) -> list[CheckRecord]:
        """The latest records, newest first: everyone's, or those of ``user``, of ``unit``, or (both given) of either."""
        where, args = [], []
        if user is not None:
            where.append('"user" = ?')
            args.append(user)
        if unit is not None:
            where.append("unit = ?")
            args.append(unit)
        condition = f"WHERE {' OR '.join(where)}" if where else ""
        with self._connect() as connection:
            rows = connection.execute(f"SELECT {_quoted(_COLUMNS)} FROM checks {condition} ORDER BY seq DESC LIMIT ?",
                                      (*args, limit)).fetchall()
        return [replace(record_from_row(row), public_key=self.key.public.base64) for row in rows]

    def records(self, batch: int = 1000) -> Iterator[CheckRecord]:
        """Every check, oldest first, each with its latest decision: read a batch at a time by ``seq``, so an
        export of any size holds one batch and no transaction stays open while the caller writes."""
        after = 0
        while True:
            with self._connect() as connection:
                rows = connection.execute(f"SELECT seq, {_quoted(_COLUMNS)} FROM checks WHERE seq > ? ORDER BY seq LIMIT ?",
                                          (after, batch)).fetchall()
            if not rows:
                return
            after = rows[-1]["seq"]
            chunk = [record_from_row(row) for row in rows]
            latest = self.latest_decisions([r.id for r in chunk])
            for record in chunk:
                yield replace(record, decisions=(latest[record.id],) if record.id in latest else (),
                              public_key=self.key.public.base64)

    def layer_changes(self, limit: int = 100) -> list[LayerChangeRecord]:
        """The latest layer changes, newest first."""
        with self._connect() as connection:
            rows = connection.execute(f"SELECT {_quoted(_LAYER_CHANGE_COLUMNS)} FROM layer_changes ORDER BY seq DESC LIMIT ?",
                                      (limit,)).fetchall()
        return [layer_change_from_row(row) for row in rows]

    def decisions(self, check_id: str) -> list[DecisionRecord]:
        """The decisions on one check, in the order they were recorded."""
        with self._connect() as connection:
            rows = connection.execute(f"SELECT {_quoted(_DECISION_COLUMNS)} FROM decisions WHERE check_id = ? ORDER BY seq",
                                      (check_id,)).fetchall()
        return [decision_from_row(row) for row in rows]

    def latest_decisions(self, check_ids: list[str]) -> dict[str, DecisionRecord]:
        """For each of these checks that has decisions, the last one recorded."""
        if not check_ids:
            return {}
        marks = ", ".join("?" * len(check_ids))
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT {_quoted(_DECISION_COLUMNS)} FROM decisions WHERE seq IN "
                f"(SELECT MAX(seq) FROM decisions WHERE check_id IN ({marks}) GROUP BY check_id)", check_ids).fetchall()
        return {row["check_id"]: decision_from_row(row) for row in rows}

    def count(self) -> int:
        with self._connect() as connection:
            return int(connection.execute("SELECT COUNT(*) AS n FROM checks").fetchone()["n"])


def open_audit_log(database: str | Path | None) -> AuditLog:
    """The audit log named by ``--database``: None the default SQLite file, a path that SQLite file,
    ``postgresql://…`` that PostgreSQL database."""
    return AuditLog(store=store_for(database))
