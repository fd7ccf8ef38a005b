"""Deterministic identifiers (the same run gives the same ids)."""

from __future__ import annotations

import itertools


class IdGenerator:
    """Sequential ids with a prefix: ``O-00000001``, ``O-00000002`` ..."""

    __slots__ = ("_counter", "_format")

    def __init__(self, prefix: str) -> None:
        self._format = prefix.replace("%", "%%") + "-%08d"  # %-formatting: the fastest here
        self._counter = itertools.count(1)

    def peek(self) -> str:
        """The id the next call to :meth:`next` returns, without using it up."""
        upcoming = next(self._counter)
        self._counter = itertools.count(upcoming)
        return self._format % upcoming

    def next(self) -> str:
        return self._format % next(self._counter)
