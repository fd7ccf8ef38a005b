"""The data-feed port: market data that arrives one bar (or quote) at a time.

A :class:`DataClient` hands out what is *known* by a given time (a bar is known at its close:
open time + timeframe), in the one replay order every mode uses (close time, then the shorter
timeframe, then feed order — the backtest timeline's order). :class:`ReplayDataClient` plays
files through it, so a paper session on a file sees exactly what a backtest sees;
live clients (ccxt, MT5) implement the same two calls.

:class:`GrowingBars` is the appendable column store a live feed fills: amortized O(1) appends,
and with ``keep`` set, memory that stays flat over a long run (only the last rows are kept).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from genebot.data.feed import F64, I64, BarFeed, QuoteFeed, build_timeline
from genebot.domain.market import Bar, QuoteTick

MarketEvent = Bar | QuoteTick
_COLUMNS = ("open", "high", "low", "close", "volume")


class DataClient(Protocol):
    def next_known_ns(self) -> int | None:
        """When the next event becomes known (None: nothing more is coming for now)."""

    def poll(self, until_ns: int) -> list[MarketEvent]:
        """Every event known at or before ``until_ns`` not handed out yet, in replay order."""


class ReplayDataClient:
    """Files (as feeds) played as if they arrived live."""

    def __init__(self, feeds: list[BarFeed]) -> None:
        self.timeline = build_timeline(list(feeds))
        self._cursor = 0

    def next_known_ns(self) -> int | None:
        tl = self.timeline
        return int(tl.step_known[self._cursor]) if self._cursor < len(tl) else None

    def poll(self, until_ns: int) -> list[MarketEvent]:
        tl, start = self.timeline, self._cursor
        end = int(np.searchsorted(tl.step_known, until_ns, side="right"))
        self._cursor = max(start, end)
        return [self._event(k) for k in range(start, self._cursor)]

    def _event(self, step: int) -> MarketEvent:
        tl = self.timeline
        feed, row = tl.feeds[int(tl.step_feed[step])], int(tl.step_row[step])
        if isinstance(feed, QuoteFeed):
            half = float(feed.volume[row]) / 2  # the feed holds bid + ask size: halves, exact
            return QuoteTick(
                feed.instrument.id, int(feed.ts[row]), float(feed.bid[row]),
                float(feed.ask[row]), half, half,
            )  # fmt: skip
        return Bar(
            feed.instrument.id,
            feed.timeframe_ns,
            int(feed.ts[row]),
            float(feed.open[row]),
            float(feed.high[row]),
            float(feed.low[row]),
            float(feed.close[row]),
            float(feed.volume[row]),
        )


class GrowingBars:
    """Columns one instrument's bars are appended to as they close. ``keep``: at most that
    many recent rows stay (older ones are dropped in one compaction when twice as many have
    built up), so a year of minutes costs the memory of ``2 × keep`` rows."""

    def __init__(self, timeframe_ns: int, keep: int | None = None, capacity: int = 1024) -> None:
        if keep is not None and keep < 1:
            raise ValueError("keep must be >= 1")
        self.timeframe_ns = timeframe_ns
        self.keep = keep
        self._n = 0
        self.dropped = 0  # rows dropped from the front so far (row numbers stay absolute)
        self._ts: I64 = np.empty(capacity, dtype=np.int64)
        self._cols: dict[str, F64] = {c: np.empty(capacity) for c in _COLUMNS}

    def __len__(self) -> int:
        return self._n

    def append(self, bar: Bar) -> None:
        if self._n and bar.ts <= self._ts[self._n - 1]:
            raise ValueError(
                f"bar at {bar.ts} is not after the last one ({int(self._ts[self._n - 1])})"
            )
        if self._n == len(self._ts):
            self._make_room()
        i = self._n
        self._ts[i] = bar.ts
        for name in _COLUMNS:
            self._cols[name][i] = getattr(bar, name)
        self._n += 1

    def _make_room(self) -> None:
        if self.keep is not None and self._n >= 2 * self.keep:
            cut = self._n - self.keep
            self._ts[: self.keep] = self._ts[cut : self._n]
            for col in self._cols.values():
                col[: self.keep] = col[cut : self._n]
            self._n, self.dropped = self.keep, self.dropped + cut
            return
        size = max(2 * len(self._ts), 16)
        self._ts = np.resize(self._ts, size)
        self._cols = {name: np.resize(col, size) for name, col in self._cols.items()}

    @property
    def ts(self) -> I64:
        return self._ts[: self._n]

    def column(self, name: str) -> F64:
        """A read-only view of the kept rows of one column (oldest first)."""
        view = self._cols[name][: self._n]
        view.flags.writeable = False
        return view

    def tail(self, name: str, rows: int) -> F64:
        """The last ``rows`` values of a column (fewer at the start): a strategy's window."""
        return self.column(name)[max(0, self._n - rows) :]

    @property
    def capacity(self) -> int:
        return len(self._ts)
