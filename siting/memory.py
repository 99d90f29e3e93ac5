"""Keeping a long-lived process's memory in check: the garbage collector off the data it loads once, and
Arrow's buffers in the allocator that hands freed memory back soonest.

The layers, rules and imported modules are a few hundred thousand tracked objects that
live as long as the process. Every full collection re-scans them (about 75 ms each),
and bulk screening allocates enough to trigger several per million sites: frozen, they
are never scanned again. Only long-lived processes that loaded everything should call it.
"""

from __future__ import annotations

import gc
import os

import pyarrow as pa


def freeze_long_lived() -> None:
    """Collect what is garbage now, then move every surviving object out of the collector's reach."""
    gc.collect()
    gc.freeze()


def arrow_pool_returning_memory() -> None:
    """Allocate Arrow buffers from jemalloc (if this pyarrow has it and ARROW_DEFAULT_MEMORY_POOL does not name a pool).

    A batch frees a chunk's tables as the next ones are made; Arrow's default mimalloc keeps much of that memory,
    jemalloc returns it: on 1,000,000 rows the peak is about 130 MB lower (714 → 586 MB) at the same CPU time.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    try:
        pa.set_memory_pool(pa.jemalloc_memory_pool())
    except NotImplementedError:  # built without jemalloc: the default pool stays
        return
