"""Keeping the garbage collector off the data a process loads once and keeps.

The layers, rules and imported modules are a few hundred thousand tracked objects that
live as long as the process. Every full collection re-scans them (about 75 ms each),
and bulk screening allocates enough to trigger several per million sites: frozen, they
are never scanned again. Only long-lived processes that loaded everything should call it.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect what is garbage now, then move every surviving object out of the collector's reach."""
    gc.collect()
    gc.freeze()
