"""Group commit: the records that arrive while the previous batch is being committed share the next
transaction and its one fsync (or one PostgreSQL commit).

One writer thread per process and log. Callers hand it their records and wait on a future that is
resolved only after the transaction holding them has committed, so no answer is given for a record
that is not durable. There is no deliberate wait: a lone record is committed at once; under load the
batch is whatever queued during the last commit (a few milliseconds' worth). Across processes and
servers the batches still form one chain: each commit takes the database's append lock
(:mod:`siting.audit.store`) and chains onto the head it finds there.

After each commit the writer signs one checkpoint for the whole batch, and only then answers: a
record returned is durable and covered by a signed checkpoint. A checkpoint that cannot be written
fails its batch (its records are stored but not confirmed); later batches are refused, unstored, until
the checkpoint can be written again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from siting.audit.signing import AuditError

_LOG = logging.getLogger(__name__)
IDLE_S = 1.0


class GroupWriter:
    """``commit(items)`` stores a list of items in one transaction and returns what was stored, in order;
    ``checkpoint()`` signs the heads after it; ``idle()`` runs after a second without records (the log
    closes its connection, so a log at rest is one complete file). All run only on the writer's thread."""

    def __init__(self, commit: Callable[[list[Any]], list[Any]], checkpoint: Callable[[], None], name: str,
                 idle: Callable[[], None] = lambda: None) -> None:
        self._commit = commit
        self._checkpoint = checkpoint
        self._idle = idle
        self._pending: list[tuple[list[Any], Future]] = []
        self._ready = threading.Condition()
        self._checkpoint_failed = False
        self.batches = 0
        self.records = 0
        self._thread = threading.Thread(target=self._run, name=f"audit-writer {name}", daemon=True)
        self._thread.start()

    def submit(self, items: list[Any]) -> Future:
        """Queue ``items`` for the next batch; the future gives them as stored, or raises AuditError."""
        future: Future = Future()
        with self._ready:
            self._pending.append((items, future))
            self._ready.notify()
        return future

    def write(self, items: list[Any]) -> list[Any]:
        """Store ``items`` and wait until they are durable."""
        return self.submit(items).result()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._pending:
                    if not self._ready.wait(IDLE_S) and not self._pending:
                        self._idle()
                        self._ready.wait_for(lambda: self._pending)
                batch, self._pending = self._pending, []
            self._write(batch)

    def _write(self, batch: list[tuple[list[Any], Future]]) -> None:
        batch = [(items, future) for items, future in batch if future.set_running_or_notify_cancel()]
        try:
            if self._checkpoint_failed:
                self._checkpoint()  # the last batch's checkpoint first: refused again if it still fails
                self._checkpoint_failed = False
            stored = self._commit([item for items, _ in batch for item in items])
            self.batches += 1
            self.records += len(stored)
            try:
                self._checkpoint()
            except Exception:
                self._checkpoint_failed = True
                raise
        except Exception as error:
            failure = error if isinstance(error, AuditError) else AuditError(f"{type(error).__name__}: {error}")
            _LOG.error("audit batch of %d request(s) failed: %s", len(batch), failure)
            for _, future in batch:
                future.set_exception(failure)
            return
        start = 0
        for items, future in batch:
            future.set_result(stored[start:start + len(items)])
            start += len(items)


_WRITERS: dict[tuple, GroupWriter] = {}
_WRITERS_LOCK = threading.Lock()


def shared_writer(key: tuple, make: Callable[[], GroupWriter]) -> GroupWriter:
    """The one writer of this process for ``key`` (a log and its signing key): every AuditLog opened on
    the same log in a process batches with the others. A forked child makes its own."""
    with _WRITERS_LOCK:
        full = (os.getpid(), *key)
        writer = _WRITERS.get(full)
        if writer is None:
            writer = _WRITERS[full] = make()
        return writer
