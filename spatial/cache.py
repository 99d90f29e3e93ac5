"""A bounded, locked cache: what the engine's long-lived objects keep of work already done.

Check threads (web requests) and batch chunks share one prepared layer set, so every cache
they touch is read and written under its own lock and holds at most a fixed number of
entries, the least recently used going first. A value is made outside the lock (making one
can take seconds: a layer's union); two threads may both make it, and the first one kept is
the one every caller gets.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Cache(Generic[K, V]):
    """At most ``size`` values by key, least recently used evicted first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value kept for ``key``, made by ``make`` and kept on first use."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = make()
        with self._lock:
            if key in self._entries:
                return self._entries[key]
            self._entries[key] = value
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
