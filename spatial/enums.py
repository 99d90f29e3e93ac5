"""Enumerations hashed by identity, in C.

``Enum.__hash__`` is Python code, run on every dict lookup and set test keyed by a member; the
screen makes hundreds of thousands of them (verdict labels, severities, dispositions) when it
first meets a register's situations. Members are singletons compared by identity, so hashing
them by identity is as correct and a C slot. (Not for str or int mixins, which must hash as their value.)
"""

from __future__ import annotations

from enum import Enum


class IdentityEnum(Enum):
    """An ``Enum`` whose members hash by identity."""

    __hash__ = object.__hash__
