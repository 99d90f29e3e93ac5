"""What the web app's requests share, and the jobs its check workers run.

The :class:`Service` holds the layers (reloaded when an import replaces them), the audit log and
recently computed results; the ``*_job`` functions run inside a check worker
(:mod:`siting.web.workers`) and call the one decision path,
:func:`siting.audit.audited_check.prepare`. A job returns its answer with the records it needs
stored (:class:`Unrecorded`); the server process stores them through its group-commit writer
(:mod:`siting.audit.writer`), with the records of every concurrent request, and only then answers.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from layers import catalog
from layers.build import data_dir, load_layers
from siting.audit.audited_check import CheckInput, as_issued, prepare, replay
from siting.audit.log import LOCAL_ACTOR, Actor, AuditLog, CheckRecord, open_audit_log
from siting.memory import freeze_long_lived
from siting.web.limits import Limits, error_body
from siting.web.schemas import CheckRequest, api_error, parse_row
from siting.web.uploads import read_upload
from siting.web.workers import Unrecorded
from spatial.checker import check
from spatial.errors import InputError
from spatial.findings import CheckResult
from spatial.industry import Industry
from spatial.layer import LayerSet
from spatial.rules import Stage

_LOG = logging.getLogger(__name__)
_ISSUED_LAYER_SETS = 4  # earlier layer sets kept for drawing issued checks (each about as large as today's)
CHECK_ID = re.compile(r"^C\d{8}T\d{6}-[0-9a-f]{12}$")


class Service:
    """What requests share: the layers, the audit log, the limits, and recently computed results."""

    def __init__(self, limits: Limits, audit: AuditLog | None, layers_loader: Callable[[], LayerSet],
                 database: str | Path | None = None) -> None:
        self.limits = limits
        self._audit = audit
        self.database = str(audit.database) if audit is not None else (str(database) if database else None)
        self._layers_loader = layers_loader
        self._layers: LayerSet | None = None
        self.limiter = anyio.CapacityLimiter(limits.check_threads)
        self._recent: OrderedDict[str, CheckResult] = OrderedDict()
        self._issued_layers: OrderedDict[str, LayerSet] = OrderedDict()  # earlier layer sets, by record versions
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._fingerprint: tuple = ()

    def start(self) -> None:
        """Open the audit log (the server writes it) and load the layers."""
        _ = self.audit
        self.load()

    def load(self) -> None:
        """Load and warm the layers (a check worker: it never writes the log, the server does)."""
        self._fingerprint = layers_fingerprint()
        self._layers = warmed(self._layers_loader())

    def refresh(self) -> None:
        """Bring the layers up to date (the check workers' zygote, before it forks a worker)."""
        _ = self.layers

    @property
    def audit(self) -> AuditLog:
        """The log ``database`` names, opened on first use."""
        if self._audit is None:
            with self._lock:
                if self._audit is None:
                    self._audit = open_audit_log(self.database)
        return self._audit

    @property
    def layers(self) -> LayerSet:
        """The current layers: reloaded when a layer import or rebuild has replaced the catalog."""
        assert self._layers is not None, "the service is not started"
        if layers_fingerprint() != self._fingerprint:
            with self._reload_lock:
                fingerprint = layers_fingerprint()
                if fingerprint != self._fingerprint:
                    _LOG.info("layer catalog changed; reloading layers")
                    self._layers = warmed(self._layers_loader())
                    self._fingerprint = fingerprint
                    with self._lock:
                        self._recent.clear()
        return self._layers

    def check(self, request: CheckRequest, site: Any, given: dict, channel: str,
              actor: Actor = LOCAL_ACTOR, sealed_at_once: bool = False) -> tuple[CheckResult, CheckRecord]:
        """The one decision path, run inside a check worker (``siting.web.workers``): the result and its
        record, which the server stores before it answers (:class:`Unrecorded`); ``sealed_at_once`` as
        :func:`prepare` takes it."""
        try:
            inputs = CheckInput.parse(site, given, request.industry, request.stage, request.project)
            return prepare(inputs, self.layers, channel, actor=actor, sealed_at_once=sealed_at_once)
        except InputError as error:
            raise api_error(error) from None

    def record(self, check_id: str) -> CheckRecord:
        record = self.audit.get(check_id) if CHECK_ID.match(check_id) else None
        if record is None:
            raise NotFound(check_id)
        return record

    def issued(self, record: CheckRecord) -> tuple[CheckResult, LayerSet]:
        """The check's result objects (for its report figure and map) as issued, and the layers to draw them on:
        cached, or replayed on today's layers or on the layers it was issued on, and proven identical."""
        layers = self.layers
        with self._lock:
            cached = self._recent.get(record.id)
            if cached is not None:
                return cached, layers
            historical = self._issued_layers.get(_versions_key(record))
        found = as_issued(record, historical or layers, data_dir())
        if found is None and historical is not None:
            found = as_issued(record, layers, data_dir())
        if found is None:
            raise Conflict(record.id, replay(record, layers).differences())
        if found[1] is not layers:
            with self._lock:
                self._issued_layers[_versions_key(record)] = found[1]
                while len(self._issued_layers) > _ISSUED_LAYER_SETS:
                    self._issued_layers.popitem(last=False)
        return found


def worker_service(database: str | Path | None, limits: Limits) -> Service:
    """The check workers' state, built once in their zygote and shared by every worker forked from it: the layers
    (warmed, then kept out of the collector's reach). ``database`` (the server's ``AuditLog.database``: file or
    URL) names the log the workers' records go to and their reports are read from."""
    service = Service(limits, None, load_layers, database)
    service.load()
    freeze_long_lived()
    return service


def point_job(service: Service, request: CheckRequest, actor: Actor = LOCAL_ACTOR) -> Unrecorded:
    """POST /api/check, in a worker."""
    site, given = request.site()
    record = service.check(request, site, given, "api", actor, sealed_at_once=True)[1]
    return Unrecorded.check(record, service.database)


def file_job(service: Service, filename: str | None, data: bytes, request: CheckRequest,
             actor: Actor = LOCAL_ACTOR) -> Unrecorded:
    """POST /api/check/file, in a worker: the upload is read (file guards, GDAL) under the worker's caps too."""
    site, given = read_upload(filename, data, request.crs, service.limits)
    record = service.check(request, site, given, "api-file", actor, sealed_at_once=True)[1]
    return Unrecorded.check(record, service.database)


def batch_job(service: Service, raw_rows: list, actor: Actor = LOCAL_ACTOR) -> Unrecorded:
    """POST /api/batch, in one worker: a bad row is reported and the others still checked."""
    rows, records = [], []
    for index, raw in enumerate(raw_rows):
        try:
            request = parse_row(raw)
            site, given = request.site()
            result, record = service.check(request, site, given, "api-batch", actor)
            records.append(record)
            rows.append({"row": index, "status": "checked", "check_id": record.id, "overall": record.overall,
                         "overall_label": result.overall.label, "result": _answer(record)})
        except InputError as error:
            failure = api_error(error)
            field = f"rows.{index}" if failure.field == "body" else f"rows.{index}.{failure.field}"
            rows.append({"row": index, "status": "error"}
                        | error_body(InputError(field, failure.value, failure.fix_zh, failure.fix_en)))
    checked = sum(row["status"] == "checked" for row in rows)
    return Unrecorded.of({"count": len(rows), "checked": checked, "failed": len(rows) - checked, "rows": rows},
                         tuple(records), service.database)


def warmed(layers: LayerSet) -> LayerSet:
    """The layers with their projected zones cached: one unrecorded check of every industry at every county.

    The first check near a zone projects and clips it (about a second); doing that for all zones
    at start-up (about two seconds) keeps the first reviewers and a load burst from paying for it.
    """
    frame = layers.admin.frame
    everything = Industry("全部行业", "全部行业", tuple(sorted(catalog.taxonomy().classes)))
    rules = list(catalog.rules())
    for point in frame.loc[frame["level"] == "county"].geometry.representative_point():
        check(point, everything, Stage.NEW, rules, layers)
    return layers


def layers_fingerprint() -> tuple:
    """Identity of the two files that say which layers a check uses: the default-layer manifest and
    the user's import catalog. Both are replaced by atomic rename, so a change of inode or mtime
    means a new set of layers."""
    root = data_dir()
    marks = []
    for path in (root / "layers" / "manifest.json", root / "catalog" / "catalog.json"):
        try:
            status = path.stat()
            marks.append((status.st_ino, status.st_mtime_ns, status.st_size))
        except OSError:  # absent, or damaged into something that cannot be stat'ed: user_catalog names it
            marks.append(None)
    return tuple(marks)


class NotFound(Exception):
    def __init__(self, check_id: str) -> None:
        self.check_id = check_id


def _versions_key(record: CheckRecord) -> str:
    return json.dumps(record.layer_versions, sort_keys=True)


class Conflict(Exception):
    def __init__(self, check_id: str, differences: list[str]) -> None:
        self.check_id = check_id
        self.differences = differences


def _answer(record: CheckRecord) -> dict:
    return record.result | {"audit": record.echo()}
