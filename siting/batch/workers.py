"""Chunks screened in worker processes forked once the layers are loaded (or, for one chunk, on a thread).

Screening a chunk is about half Python (situations, result tables), so two screening threads in
one process wait on each other for the interpreter: on the 2-core machine a second thread gained
0.5–0.9 s of 6.4–7.0 s on 1,000,000 rows. Worker processes forked after the layers are loaded, the
rules read and every target prepared (``spatial.screening.prime``) share all of that copy on
write, and each screens whole chunks with ``siting.batch.rows.screen_chunk``, the function the
single-process path and the dask engine call. A chunk goes out as an Arrow table and comes back
as a ``ChunkResult`` without the input columns (this process has them) and with only the
situations that worker has not sent before; its long texts are dictionary arrays, a few MB a chunk.

Workers ignore Ctrl-C (the parent stops them) and die with the parent (``PR_SET_PDEATHSIG``),
so a killed batch leaves no process behind.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import TracebackType

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from siting.batch.rows import ChunkResult, Columns, Options, screen_chunk, with_input
from spatial.errors import InputError
from spatial.layer import LayerSet
from spatial.rules import Rule

_PR_SET_PDEATHSIG = 1

# In a worker: what every chunk is screened with (inherited from the parent at the fork, never pickled),
# and the keys of the situations already sent to the parent.
_WORK: tuple[Columns, Options, list[Rule], LayerSet] | None = None
_SENT: set[str] = set()


class ChunkProcesses:
    """``processes`` forked workers screening chunks, in the order they are submitted; a context manager.

    Made in the main thread before this process starts its reader, writer and progress-bar threads: a
    fork copies only the thread that calls it, and a lock another thread held would stay held in the
    worker. (Arrow's own thread pools, idle then, are made anew in a forked process by Arrow.)
    """

    def __init__(self, processes: int, columns: Columns, options: Options, rules: list[Rule], layers: LayerSet) -> None:
        self._pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork"), initializer=_start,
                                         initargs=((columns, options, rules, layers), os.getpid()))
        self._pool.submit(int).result()  # every worker is forked now, from this thread

    def __enter__(self) -> ChunkProcesses:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._pool.shutdown(wait=kind is None, cancel_futures=True)

    def submit(self, table: pa.Table, first_row: int, xy: NDArray | None) -> Future[ChunkResult]:
        """Screen a chunk whose first row is row ``first_row`` of the input."""
        done: Future[ChunkResult] = Future()

        def joined(screened: Future[ChunkResult]) -> None:
            try:
                result = screened.result()
            except BaseException as error:  # the worker's error, or the pool's: handed on to whoever waits
                done.set_exception(error)
                return
            done.set_result(ChunkResult(with_input(table, result.summary), result.details, result.situations))

        self._pool.submit(_screen, _stream(table), first_row, xy).add_done_callback(joined)
        return done


class ChunkThreads:
    """The same as ``ChunkProcesses`` on threads of this process: for an input of one chunk, where a fork
    would buy nothing."""

    def __init__(self, threads: int, columns: Columns, options: Options, rules: list[Rule], layers: LayerSet) -> None:
        self._pool = ThreadPoolExecutor(threads)
        self._work = (columns, options, rules, layers)

    def __enter__(self) -> ChunkThreads:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, table: pa.Table, first_row: int, xy: NDArray | None) -> Future[ChunkResult]:
        rows = np.arange(first_row, first_row + table.num_rows, dtype=np.int64)
        return self._pool.submit(screen_chunk, table, rows, *self._work, xy)


def result_of(future: Future[ChunkResult], chunk_rows: int) -> ChunkResult:
    """A chunk's result; a worker that died (killed, or out of memory) is said in words, not as a pool's traceback."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise InputError("--chunk-rows", chunk_rows, "审查工作进程意外退出（可能内存不足），未写出结果；请减小 --chunk-rows 或 --processes 后重试。",
                         "a screening worker process ended unexpectedly (out of memory?) and nothing was written; "
                         "lower --chunk-rows or --processes and run again.") from None


def _start(work: tuple[Columns, Options, list[Rule], LayerSet], parent: int) -> None:
    global _WORK
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    _WORK = work


def _stream(table: pa.Table) -> pa.Buffer:
    """A chunk as an Arrow IPC stream: only its rows (a pickled slice of a read block carries the whole block)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _screen(stream: pa.Buffer, first_row: int, xy: NDArray | None) -> ChunkResult:
    columns, options, rules, layers = _WORK
    table = pa.ipc.open_stream(stream).read_all()
    rows = np.arange(first_row, first_row + table.num_rows, dtype=np.int64)
    result = screen_chunk(table, rows, columns, options, rules, layers, xy)
    new = {key: situation for key, situation in result.situations.items() if key not in _SENT}
    _SENT.update(new)
    added = result.summary.select(range(table.num_columns, result.summary.num_columns))
    return ChunkResult(added, result.details, new)
