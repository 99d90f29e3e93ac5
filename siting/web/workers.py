"""Checks run in a small pool of worker processes, so that a deadline really stops one.

A GEOS call (an intersection of a 200,000-vertex ring with a province) cannot be
interrupted from Python, and a thread running it cannot be cancelled: only a process can
be stopped. Each worker is a spawned process that loads the layers once (about 2 s,
~300 MB resident), caps its own address space, and then runs jobs sent over a pipe. A job
that overruns its deadline is answered 504 and its worker is killed and replaced; a job
that runs out of memory is refused (413) and its worker replaced. The server process itself
never runs a check, so its memory does not grow with hostile files, and ``/api/health``
never waits behind one.

Every job calls the one decision path (``siting.audited_check.run_check`` through
``Service.check``), so the audit record is written by the worker before the answer is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from shapely.errors import GEOSException

from siting.audit import AuditError
from siting.web.limits import Limits, timeout_error
from spatial.errors import InputError

_LOG = logging.getLogger(__name__)
_CONTEXT = multiprocessing.get_context("spawn")  # a fresh interpreter: no locks inherited from the server's threads


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


def _serve(connection: Connection, limits: Limits, state_factory: Callable[[Limits], Any]) -> None:
    """A worker's life: load once, cap memory, then answer jobs until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the server stops us
    state = state_factory(limits)
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


@dataclass(eq=False)  # each worker is itself: hashed and compared by identity
class _Worker:
    process: multiprocessing.process.BaseProcess
    connection: Connection

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, AttributeError, ValueError):
            self.process.kill()
        self.connection.close()
        self.process.join(5)


async def _readable(connection: Connection) -> None:
    """Wait, without a thread, until the pipe has data or is closed."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    descriptor = connection.fileno()
    loop.add_reader(descriptor, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_reader(descriptor)


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

    async def start(self) -> None:
        """Start every worker and wait until each has loaded the layers."""
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        for worker in workers:
            self._idle.put_nowait(worker)

    async def _spawn(self) -> _Worker:
        parent, child = _CONTEXT.Pipe()
        process = _CONTEXT.Process(target=_serve, args=(child, self.limits, self._state_factory), daemon=True,
                                   name="siting-check-worker")
        await asyncio.to_thread(process.start)
        child.close()
        worker = _Worker(process, parent)
        self._all.add(worker)
        try:
            await _readable(parent)
            kind, _ = parent.recv()
        except (EOFError, OSError):
            kind = "died"
        if kind != "ready":
            self._all.discard(worker)
            worker.kill()
            raise RuntimeError(f"a check worker failed to start (exit code {process.exitcode}); see the log above")
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
            if heavy:
                await asyncio.wait_for(self._heavy.acquire(), max(0.0, deadline - time.monotonic()))
            try:
                worker = await asyncio.wait_for(self._idle.get(), max(0.0, deadline - time.monotonic()))
                return await self._on(worker, job, args, deadline)
            finally:
                if heavy:
                    self._heavy.release()
        except TimeoutError:
            raise RefusedError(504, *_timeout_fields(seconds, path)) from None

    async def _on(self, worker: _Worker, job: Callable, args: tuple, deadline: float) -> Any:
        healthy = False
        try:
            await asyncio.to_thread(worker.connection.send, (job, args))
            await asyncio.wait_for(_readable(worker.connection), max(0.0, deadline - time.monotonic()))
            kind, payload = await asyncio.to_thread(worker.connection.recv)
            healthy = kind != "memory"
        except TimeoutError:
            raise  # (a subclass of OSError) the deadline: answered 504 by ``run``
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
