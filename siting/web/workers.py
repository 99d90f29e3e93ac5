"""Checks run in a small pool of worker processes, so that a deadline really stops one.

A GEOS call (an intersection of a 200,000-vertex ring with a province) cannot be
interrupted from Python, and a thread running it cannot be cancelled: only a process can
be stopped. The layers are loaded once (about 2 s, ~300 MB resident) in one spawned,
single-threaded "zygote" process, which then forks each worker: the workers share the
layers' pages copy-on-write instead of holding a copy each (the objects were moved out of
the collector's reach before the fork, so collections do not touch, and copy, them). A
worker caps its own address space and then runs jobs sent over a pipe. A job that overruns
its deadline is answered 504 and its worker is killed and replaced by a new fork; a job
that runs out of memory is refused (413) and its worker replaced. The server process itself
never runs a check, so its memory does not grow with hostile files, and ``/api/health``
never waits behind one.

Every check job calls the one decision path (``siting.audit.audited_check.prepare`` through
``Service.check``) and returns :class:`Unrecorded`: its answer and its audit records. The pool stores
the records through this process's group-commit writer (``siting.audit.writer``), so the records
of concurrent requests share one transaction, and returns the answer only once they are durable.
A worker killed mid-job has answered nothing and stored nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import resource
import signal
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import Connection
from typing import Any

from shapely.errors import GEOSException
from starlette.responses import Response

from siting.audit.log import RESULT_COLUMN, AuditError, AuditLog, CheckRecord, JsonText, SealedRecord, open_audit_log
from siting.web.limits import Limits, timeout_error
from spatial.errors import InputError

_LOG = logging.getLogger(__name__)
_CONTEXT = multiprocessing.get_context("spawn")
_INLINE_BYTES = 32_768  # a fresh interpreter: no locks inherited from the server's threads
_READ_BYTES = 262_144  # a worker's reply is read in pieces of at most this


class RefusedError(InputError):
    """An InputError answered with its own HTTP status (504 deadline, 413 memory, 503 worker lost)."""

    def __init__(self, status: int, field: str, value: object, fix_zh: str, fix_en: str) -> None:
        super().__init__(field, value, fix_zh, fix_en)
        self.status = status


def memory_refusal(limit_bytes: int) -> RefusedError:
    megabytes = limit_bytes // (1024 * 1024)
    return RefusedError(413, "file", f"内存上限 {megabytes} MB",
                        f"该场址的计算超出单个检查的内存上限（{megabytes} MB，siting serve --check-memory-mb），已中止；请简化场址几何（减少顶点或要素）。",
                        f"checking this site needs more than the {megabytes} MB memory limit of one check "
                        "(siting serve --check-memory-mb) and was stopped; simplify the site geometry (fewer vertices or features).")


def _worker_lost() -> RefusedError:
    return RefusedError(503, "worker", None, "检查进程意外退出，本次检查未完成；请稍后重试。",
                        "the check process stopped unexpectedly and the check did not finish; retry later.")


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, MemoryError) or (isinstance(error, GEOSException) and "bad_alloc" in str(error))


def _zygote(control: Connection, limits: Limits, state_factory: Callable[[Limits], Any]) -> None:
    """Load the state once, then fork a worker for each pipe end the server sends, until it hangs up.

    Forks only from this one thread. Its children are reaped by the kernel (SIGCHLD ignored), and the
    server, not this process, kills them. Before each fork the state is brought up to date
    (``refresh``: the layers reloaded if an import replaced them), so new workers start current."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the server stops us
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    state = state_factory(limits)
    control.send(("ready", os.getpid()))
    while True:
        try:
            control.recv()
            descriptor = reduction.recv_handle(control)
        except (EOFError, OSError):
            return  # the server is gone
        refresh = getattr(state, "refresh", None)
        try:
            if refresh is not None:
                refresh()
        except Exception:  # a catalog being rebuilt: the worker starts on the layers it has and reloads them itself
            _LOG.exception("could not bring the layers up to date before starting a check worker")
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _answer_jobs(Connection(descriptor), limits, state)
            finally:
                os._exit(0)
        os.close(descriptor)
        control.send(pid)


def _answer_jobs(connection: Connection, limits: Limits, state: Any) -> None:
    """A worker's life: cap memory, then answer jobs until the pipe closes."""
    loaded = _address_space()
    if loaded is not None:
        cap = loaded + limits.check_memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    connection.send(("ready", os.getpid()))
    while True:
        try:
            job, args = connection.recv()
        except (EOFError, OSError):
            return  # the server is gone
        try:
            reply = ("ok", job(state, *args))
        except RefusedError as error:
            reply = ("refused", (error.status, error.field, error.value, error.fix_zh, error.fix_en))
        except InputError as error:
            reply = ("input", (error.field, error.value, error.fix_zh, error.fix_en))
        except AuditError as error:
            reply = ("audit", str(error))
        except Exception as error:
            if not _is_out_of_memory(error):
                _LOG.exception("check job failed")
            reply = ("memory", None) if _is_out_of_memory(error) else ("error", type(error).__name__)
        try:
            connection.send(reply)
        except MemoryError:
            connection.send(("memory", None))
        if reply[0] == "memory":
            return  # a heap that hit its cap is not trusted with the next job: the pool replaces this worker


def _address_space() -> int | None:
    """This process's virtual memory size in bytes (what RLIMIT_AS limits), from /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class Unrecorded:
    """A job's JSON answer, not to be sent before ``records`` are stored in the log ``database`` names.

    Made in the worker: the records sealed (serialised, their digest input ready: :meth:`CheckRecord.sealed`)
    and the answer as the bytes of the HTTP body, so that the server neither encodes nor decodes a 20 kB
    result per check and its writer only links and signs. A single check's answer is its result and the
    audit echo: then ``body`` holds only the echo, and the result is taken from the sealed record's stored
    text, so the result crosses the pipe once."""

    body: bytes
    records: tuple[SealedRecord, ...]
    database: str | None
    echo_only: bool = False

    @classmethod
    def of(cls, answer: dict, records: tuple[CheckRecord, ...], database: str | None) -> Unrecorded:
        body = json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        return cls(body, tuple(record.sealed() for record in records), database)

    @classmethod
    def check(cls, record: CheckRecord, database: str | None) -> Unrecorded:
        """One check's answer, its result and the audit echo (``{..., "audit": {...}}``)."""
        result = record.result
        if (not isinstance(result, JsonText) or not result or "audit" in result
                or "NaN" in result.text or "Infinity" in result.text):  # JSON has no NaN: ``of`` refuses one, as before
            shown = result.read_back() if isinstance(result, JsonText) else result  # its keys in the stored order
            return cls.of(shown | {"audit": record.echo()}, (record,), database)
        echo = json.dumps(record.echo(), ensure_ascii=False, separators=(",", ":")).encode()
        return cls(echo, (record.sealed(),), database, echo_only=True)

    def answer(self) -> bytes:
        """The HTTP body."""
        if not self.echo_only:
            return self.body
        return self.records[0].value(RESULT_COLUMN)[:-1] + b', "audit": ' + self.body + b"}"


@dataclass(eq=False)  # each worker is itself: hashed and compared by identity
class _Worker:
    pid: int  # a child of the zygote, which reaps it
    connection: Connection

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.connection.close()


async def _readable(connection: Connection) -> None:
    """Wait, without a thread, until the pipe has data or is closed.

    The pipe is left blocking, as ``Connection`` needs: uvloop (libuv) makes a watched descriptor non-blocking."""
    descriptor = connection.fileno()
    try:
        await _watch(descriptor)
    finally:
        with contextlib.suppress(OSError):  # closed meanwhile (a worker replaced)
            os.set_blocking(descriptor, True)


async def _watch(descriptor: int) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(descriptor, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(descriptor)


def _frame(data: bytearray) -> tuple[int, int] | None:
    """(header length, message length) of a ``Connection.send`` message once its header has arrived."""
    if len(data) < 4:
        return None
    (size,) = struct.unpack_from("!i", data)
    if size != -1:
        return 4, size
    return (12, struct.unpack_from("!Q", data, 4)[0]) if len(data) >= 12 else None


async def _received(connection: Connection) -> Any:
    """The worker's next message, read by the event loop as it arrives.

    No thread per reply, and a reply the worker writes in pieces (``Connection`` writes one over 16 kB as two)
    never blocks the loop between them."""
    descriptor = connection.fileno()
    data = bytearray()
    frame = None
    os.set_blocking(descriptor, False)
    try:
        while frame is None or len(data) < sum(frame):
            try:
                chunk = os.read(descriptor, _READ_BYTES)
            except BlockingIOError:
                await _watch(descriptor)
                continue
            if not chunk:
                raise EOFError
            data += chunk
            frame = frame or _frame(data)
    finally:
        with contextlib.suppress(OSError):  # closed meanwhile (a worker replaced)
            os.set_blocking(descriptor, True)
    return reduction.ForkingPickler.loads(memoryview(data)[frame[0]:sum(frame)])


class WorkerPool:
    """``size`` worker processes; at most ``size - 1`` run file checks, so a point check always finds one."""

    def __init__(self, limits: Limits, state_factory: Callable[[Limits], Any]) -> None:
        self.limits = limits
        self.size = max(1, limits.check_threads)
        self._state_factory = state_factory
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._heavy = asyncio.Semaphore(max(1, self.size - 1))
        self._all: set[_Worker] = set()
        self._spawning: set[asyncio.Task] = set()
        self._closed = False
        self._logs: dict[str | None, AuditLog] = {}
        self._zygote: tuple[multiprocessing.process.BaseProcess, Connection] | None = None
        self._forking = asyncio.Lock()

    async def start(self) -> None:
        """Start the zygote (it loads the layers) and fork every worker from it."""
        await self._start_zygote()
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        for worker in workers:
            self._idle.put_nowait(worker)

    async def _start_zygote(self) -> None:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_zygote, args=(child, self.limits, self._state_factory), daemon=True,
                                   name="siting-check-zygote")
        await asyncio.to_thread(process.start)
        child.close()
        try:
            await _readable(parent)
            kind, _ = parent.recv()
        except (EOFError, OSError):
            kind = "died"
        if kind != "ready":
            parent.close()
            process.kill()
            process.join(5)
            raise RuntimeError(f"the check workers failed to start (exit code {process.exitcode}); see the log above")
        self._zygote = (process, parent)

    def _fork(self) -> _Worker:
        """A new worker forked by the zygote, connected to us by a fresh pipe (its end passed over)."""
        _, control = self._zygote
        parent, child = _CONTEXT.Pipe()
        try:
            control.send("fork")
            reduction.send_handle(control, child.fileno(), self._zygote[0].pid)
            pid = control.recv()
        finally:
            child.close()
        return _Worker(pid, parent)

    async def _spawn(self) -> _Worker:
        async with self._forking:
            if self._zygote is None or not self._zygote[0].is_alive():
                if self._zygote is not None:
                    self._zygote[1].close()
                    self._zygote = None
                await self._start_zygote()
            try:
                worker = await asyncio.to_thread(self._fork)
            except (EOFError, OSError) as error:
                raise RuntimeError(f"the check worker zygote failed to fork: {error}") from error
        self._all.add(worker)
        try:
            await _readable(worker.connection)
            kind, _ = worker.connection.recv()
        except (EOFError, OSError):
            kind = "died"
        if kind != "ready":
            self._all.discard(worker)
            worker.kill()
            raise RuntimeError("a check worker failed to start; see the log above")
        return worker

    def _replace(self, worker: _Worker) -> None:
        """Kill a worker and start another in the background; it joins the idle queue when loaded."""
        self._all.discard(worker)
        worker.kill()
        if self._closed:
            return

        async def respawn() -> None:
            delay = 1.0
            while not self._closed:  # a worker that cannot start now (layers being rebuilt) may start later
                try:
                    self._idle.put_nowait(await self._spawn())
                    return
                except Exception:
                    _LOG.exception("could not replace a check worker; retrying in %.0f s", delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 60.0)

        task = asyncio.get_running_loop().create_task(respawn())
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    async def run(self, job: Callable, *args: Any, heavy: bool = False, path: str = "", started: float | None = None) -> Any:
        """``job(state, *args)`` in a worker, within the deadline counted from ``started`` (the request's arrival,
        default now); the job's errors are raised here."""
        seconds = self.limits.request_timeout_s
        deadline = (started or time.monotonic()) + seconds
        try:
            # One timer over the waits (a worker, its answer), not a task per wait as ``wait_for`` makes.
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                if heavy:
                    await self._heavy.acquire()
                try:
                    result = await self._on(await self._idle.get(), job, args)
                finally:
                    if heavy:
                        self._heavy.release()
        except TimeoutError:
            raise RefusedError(504, *_timeout_fields(seconds, path)) from None
        return await self._recorded(result) if isinstance(result, Unrecorded) else result

    async def _recorded(self, pending: Unrecorded) -> Response:
        """The answer, once its records are durable (committed with the other requests' records).

        Shielded: a client that leaves while its records are being committed does not take them out."""
        log = self._logs.get(pending.database)
        if log is None:
            log = self._logs[pending.database] = await asyncio.to_thread(open_audit_log, pending.database)
        if pending.records:
            await asyncio.shield(asyncio.wrap_future(log.submit_sealed(list(pending.records))))
        return Response(pending.answer(), media_type="application/json")

    async def _on(self, worker: _Worker, job: Callable, args: tuple) -> Any:
        healthy = False
        try:
            message = reduction.ForkingPickler.dumps((job, args))
            if len(message) <= _INLINE_BYTES:  # fits the idle worker's socket buffer: sent without blocking the loop
                worker.connection.send_bytes(message)
            else:  # an uploaded file: sent from a thread
                await asyncio.to_thread(worker.connection.send_bytes, message)
            kind, payload = await _received(worker.connection)
            healthy = kind != "memory"
        except (EOFError, OSError):
            raise _worker_lost() from None
        finally:
            # A timeout, a cancelled request (client gone) or a dead pipe: the worker may be mid-job; stop it.
            if healthy:
                self._idle.put_nowait(worker)
            else:
                self._replace(worker)
        return _unpack(kind, payload, self.limits)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._spawning):
            task.cancel()
        for worker in list(self._all):
            worker.kill()
        self._all.clear()
        if self._zygote is not None:
            process, control = self._zygote
            control.close()
            process.kill()
            await asyncio.to_thread(process.join, 5)
            self._zygote = None


def _timeout_fields(seconds: float, path: str) -> tuple:
    error = timeout_error(seconds, path)
    return error.field, error.value, error.fix_zh, error.fix_en


def _unpack(kind: str, payload: Any, limits: Limits) -> Any:
    if kind == "ok":
        return payload
    if kind == "input":
        raise InputError(*payload)
    if kind == "refused":
        raise RefusedError(*payload)
    if kind == "audit":
        raise AuditError(payload)
    if kind == "memory":
        raise memory_refusal(limits.check_memory_bytes)
    _LOG.error("check job failed in a worker: %s", payload)
    raise RefusedError(500, "request", None, f"检查时发生内部错误（{payload}），已记录日志。",
                       f"an internal error occurred during the check ({payload}); it has been logged.")
