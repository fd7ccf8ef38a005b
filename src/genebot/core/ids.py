"""Deterministic identifiers (the same run gives the same ids)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable


class IdGenerator:
    """Sequential ids with a prefix: ``O-00000001``, ``O-00000002`` ..."""

    __slots__ = ("_counter", "_format", "_prefix")

    def __init__(self, prefix: str, after: int = 0) -> None:
        """Ids numbered from ``after + 1``: a resumed deployment continues its journal's."""
        self._prefix = prefix
        self._format = prefix.replace("%", "%%") + "-%08d"  # %-formatting: the fastest here
        self._counter = itertools.count(after + 1)

    def number(self, ident: str) -> int | None:
        """The sequence number of an id this generator's prefix made, else None."""
        head, sep, digits = ident.rpartition("-")
        return int(digits) if sep and head == self._prefix and digits.isdigit() else None

    def continue_after(self, ids: Iterable[str]) -> None:
        """Go on after the highest of ``ids`` made with this prefix (e.g. from the journal)."""
        numbers = [n for n in map(self.number, ids) if n is not None]
        if numbers:
            self._counter = itertools.count(max(max(numbers) + 1, next(self._counter)))

    def peek(self) -> str:
        """The id the next call to :meth:`next` returns, without using it up."""
        upcoming = next(self._counter)
        self._counter = itertools.count(upcoming)
        return self._format % upcoming

    def next(self) -> str:
        return self._format % next(self._counter)
