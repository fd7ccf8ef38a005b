"""Bar feeds as column arrays, and the merged timeline that replays many feeds in time order.

A feed is one instrument at one timeframe. The timeline orders every bar of every feed by the
time it becomes known (its close: open time + timeframe), then by feed order, so that a 1h bar
and the last 5m bar of the same hour are seen in a fixed, documented order (shorter timeframe
first, because feeds are sorted by timeframe before merging).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from genebot.domain.instrument import Instrument

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(eq=False)
class BarFeed:
    """One instrument at one timeframe, as float64 columns and int64 open times (ns, UTC)."""

    instrument: Instrument
    timeframe_ns: int
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    source: str = ""
    index: int = 0  # position in the timeline's feed list
    row_to_step: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    _lists: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)

    def column_list(self, name: str) -> tuple[float, ...]:
        """One column as a Python tuple (fast scalar access), built on first use only; a tuple,
        so no strategy can change the prices another strategy reads."""
        cached = self._lists.get(name)
        if cached is None:
            cached = self._lists[name] = tuple(getattr(self, name).tolist())
        return cached

    @property
    def key(self) -> str:
        return f"{self.instrument.id}:{self.timeframe_ns}"

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(eq=False)
class QuoteFeed(BarFeed):
    """Top-of-book quotes of one instrument, replayed in the same timeline as bars.

    Each quote is known at its own timestamp (``timeframe_ns`` 0). As a bar it reads: high = ask,
    low = bid, open = close = mid, so marks are mids and scans stay conservative; matching uses
    the ask for buys and the bid for sells (``bid``/``ask``)."""

    bid: F64 = field(default_factory=lambda: np.empty(0))
    ask: F64 = field(default_factory=lambda: np.empty(0))

    @classmethod
    def from_arrays(
        cls, instrument: Instrument, ts: I64, bid: F64, ask: F64, size: F64, source: str = ""
    ) -> QuoteFeed:
        mid = (bid + ask) / 2
        return cls(instrument, 0, ts, mid, ask, bid, mid, size, source=source, bid=bid, ask=ask)


@dataclass(eq=False)
class Timeline:
    """Every bar of every feed, in replay order. Step ``k`` is bar ``step_row[k]`` of feed
    ``step_feed[k]``; ``step_ts[k]`` is that bar's open time."""

    feeds: list[BarFeed]
    step_feed: I64
    step_row: I64
    step_ts: I64
    step_known: I64  # when the bar is known: its close time

    def __len__(self) -> int:
        return int(self.step_feed.shape[0])

    @property
    def single(self) -> bool:
        return len(self.feeds) == 1


def build_timeline(feeds: list[BarFeed]) -> Timeline:
    """Merge feeds into one replay order: by close time, then by timeframe, then by given order."""
    ordered = sorted(feeds, key=lambda f: f.timeframe_ns)
    for idx, feed in enumerate(ordered):
        feed.index = idx
    if len(ordered) == 1:
        feed = ordered[0]
        n = len(feed)
        steps = np.arange(n, dtype=np.int64)
        feed.row_to_step = steps
        every_bar_feed_0 = np.broadcast_to(np.int64(0), (n,))  # read-only, no memory
        return Timeline(ordered, every_bar_feed_0, steps, feed.ts, feed.ts + feed.timeframe_ns)
    known = np.concatenate([f.ts + f.timeframe_ns for f in ordered])
    feed_ids = np.concatenate([np.full(len(f), f.index, np.int64) for f in ordered])
    rows = np.concatenate([np.arange(len(f), dtype=np.int64) for f in ordered])
    order = np.lexsort((feed_ids, known))
    step_feed, step_row = feed_ids[order], rows[order]
    for feed in ordered:
        mask = step_feed == feed.index
        feed.row_to_step = np.flatnonzero(mask).astype(np.int64)
    step_ts = np.concatenate([f.ts for f in ordered])[order]
    return Timeline(ordered, step_feed, step_row, step_ts, known[order])


def forward_fill_on_steps(feed: BarFeed, values: F64, n_steps: int) -> F64:
    """``values`` (one per row of ``feed``) as seen at every timeline step: the last known value,
    NaN before the feed's first bar."""
    if len(feed.row_to_step) == n_steps and not np.isnan(values).any():
        return np.array(values, dtype=np.float64)  # every step is a bar of it: nothing to fill
    out = np.full(n_steps, np.nan)
    out[feed.row_to_step] = values
    idx = np.where(np.isnan(out), 0, np.arange(n_steps))
    np.maximum.accumulate(idx, out=idx)
    filled = out[idx]
    if len(feed.row_to_step):
        filled[: feed.row_to_step[0]] = np.nan
    return filled
