"""Deterministic identifiers (the same run gives the same ids)."""

from __future__ import annotations

import itertools


class IdGenerator:
    """Sequential ids with a prefix: ``O-00000001``, ``O-00000002`` ..."""

    __slots__ = ("_counter", "_prefix")

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}-{next(self._counter):08d}"
