"""The kernel on bars that arrive one at a time: appendable feeds and timeline, each new bar's
indicators and signals from a trailing window, then the same per-bar handler as a backtest.

A :class:`GrowingKernel` takes a kernel that was assembled and prepared on the bars known so
far (a warm-up history, or a first bar) and grows it as bars arrive (:meth:`append`), in the
one replay order every mode uses. Each append:

- appends the bar to its feed's columns, the feed's close times and the timeline (buffers that
  double when full: amortized O(1), the arrays everyone holds are re-sliced views);
- computes the bar's indicators and signals with :class:`~genebot.engine.incremental.
  IncrementalSignals`: the strategy's own vectorized code on the trailing window, O(window)
  whatever the history (equal to the full series: prefix invariance, tested per strategy);
- runs the kernel's per-bar handler on the new step (:meth:`Kernel.run_steps`): matching,
  protective orders, risk, orchestrator, strategies — the code a backtest runs.

So a replay of a file through :meth:`append` gives the backtest's orders and fills exactly (a
test proves it per strategy), and a live data client drives the same path.

Quotes (:class:`~genebot.domain.market.QuoteTick`) grow their quote feed the same way: each
is a step known at its own time (bid and ask, read as a bar: high = ask, low = bid, open =
close = mid), matched at the touch and handed to the strategies' ``on_quote``; no signals are
computed on quotes. Every row stays in memory (rows are absolute indices into the history:
memory grows by the bytes of a bar's columns, ~100 B a bar and feed, plus what strategies and
the order history keep).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from genebot.core.errors import InputError
from genebot.data.feed import BarFeed, QuoteFeed
from genebot.domain.market import Bar, QuoteTick
from genebot.engine.incremental import IncrementalSignals
from genebot.system.kernel import Kernel, StrategySlot
from genebot.trading.data import BarData, BarView, Signals

COLUMNS = ("ts", "open", "high", "low", "close", "volume")
QUOTE_COLUMNS = (*COLUMNS, "bid", "ask")
Event = Bar | QuoteTick
STEP_ARRAYS = ("step_feed", "step_row", "step_ts", "step_known")
ATR_WINDOW_MULTIPLE = 40  # Wilder smoothing forgets its start to below an ulp in ~37 periods


class _Buffer:
    """An append-only column: capacity doubles when full; :attr:`view` is the filled part."""

    __slots__ = ("data", "n")

    def __init__(self, initial: npt.NDArray[Any], capacity: int = 1024) -> None:
        self.n = int(initial.shape[0])
        self.data = np.empty(max(capacity, 2 * self.n, 16), dtype=initial.dtype)
        self.data[: self.n] = initial

    def append(self, value: float) -> None:
        if self.n == self.data.shape[0]:
            grown = np.empty(2 * self.n, dtype=self.data.dtype)
            grown[: self.n] = self.data
            self.data = grown
        self.data[self.n] = value
        self.n += 1

    @property
    def view(self) -> npt.NDArray[Any]:
        out = self.data[: self.n]
        out.flags.writeable = False
        return out


class _Tracked:
    """A strategy's incremental signals on one feed, and its view of that feed."""

    __slots__ = ("flags", "inc", "slot", "view")

    def __init__(self, slot: StrategySlot, view: BarView, inc: IncrementalSignals) -> None:
        self.slot, self.view, self.inc = slot, view, inc
        entry = slot.strategy._signals.get(view.feed_index)
        self.flags = bytearray(entry[0]) if entry is not None else None  # one byte a bar


class GrowingKernel:
    """Grow a prepared kernel bar by bar (see the module docstring)."""

    def __init__(self, kernel: Kernel, after_step: Callable[[int], None] | None = None) -> None:
        tl = kernel.timeline
        self.kernel = kernel
        self.after_step = after_step
        self.feeds = {(f.instrument.id, f.timeframe_ns): f for f in tl.feeds}
        self._cols = {f.index: {c: _Buffer(getattr(f, c)) for c in _names(f)} for f in tl.feeds}
        self._known = {f.index: _Buffer(f.ts + f.timeframe_ns) for f in tl.feeds}
        self._to_step = {f.index: _Buffer(f.row_to_step) for f in tl.feeds}
        self._steps = {name: _Buffer(np.asarray(getattr(tl, name))) for name in STEP_ARRAYS}
        self._venue_bars = self._venue_columns()
        self._quote_views = {
            f.index: [view for _, view in kernel.subscribers[f.index]]
            for f in tl.feeds
            if isinstance(f, QuoteFeed)
        }
        self._tracked = self._track(kernel)
        kernel.atr_window = ATR_WINDOW_MULTIPLE
        self._refresh_all()

    def _venue_columns(self) -> dict[str, Any]:
        """The columns each simulated venue matches an instrument against (its finest feed)."""
        out: dict[str, Any] = {}
        for venue in self.kernel.venues.values():
            out.update(getattr(venue, "_bars", {}))
        return out

    def _track(self, kernel: Kernel) -> dict[int, list[_Tracked]]:
        """Per feed, each enabled strategy reading it: its view and its incremental signals,
        started from the bars the kernel was prepared on."""
        out: dict[int, list[_Tracked]] = {f.index: [] for f in kernel.timeline.feeds}
        for slot in kernel.slots:
            if not slot.enabled:
                continue
            for feed in slot.feeds:
                view = kernel._views.get((id(slot), feed.index))
                if view is None or isinstance(feed, QuoteFeed):  # quotes: on_quote, no signals
                    continue
                inc = IncrementalSignals(
                    slot.strategy,
                    BarData,
                    symbol=feed.instrument.symbol,
                    timeframe_ns=feed.timeframe_ns,
                )
                inc.extend(_bars_of(feed))
                out[feed.index].append(_Tracked(slot, view, inc))
        return out

    def retrack(self, slot: StrategySlot) -> None:
        """Restart ``slot``'s incremental signals from the bars held (new parameters: see
        :mod:`genebot.system.reparam`); the rows already traded keep their flags."""
        for index, tracked_list in self._tracked.items():
            for i, tracked in enumerate(tracked_list):
                if tracked.slot is not slot:
                    continue
                feed = self.kernel.timeline.feeds[index]
                inc = IncrementalSignals(
                    slot.strategy, BarData, symbol=feed.instrument.symbol,
                    timeframe_ns=feed.timeframe_ns,
                )  # fmt: skip
                inc.extend(_bars_of(feed))
                fresh = _Tracked(slot, tracked.view, inc)
                fresh.flags = tracked.flags
                tracked.view._ind = {n: inc.indicator(n) for n in inc.indicator_names}
                tracked_list[i] = fresh

    @property
    def steps(self) -> int:
        return len(self.kernel.timeline)

    def feed_of(self, event: Event) -> BarFeed:
        tf = event.timeframe_ns if isinstance(event, Bar) else 0
        feed = self.feeds.get((event.instrument_id, tf))
        if feed is None:
            known = ", ".join(f"{i}@{t // 10**9}s" if t else f"{i} quotes" for i, t in self.feeds)
            what = f"a bar of {event.instrument_id} every {tf // 10**9}s" if tf else (
                f"a quote of {event.instrument_id}"
            )  # fmt: skip
            raise InputError(f"{what} arrived; this run trades {known}")
        return feed

    def append(self, bar: Event) -> int:
        """Add one closed bar (or a quote) as the next step and handle it; returns the step."""
        self.extend((bar,))
        return self.steps - 1

    def extend(self, bars: Iterable[Event]) -> None:
        """Add closed bars (in arrival order) and handle them. Bars that close at the same
        moment are all added before the first of them is handled: an instrument's mark at a
        bar close is its bar closing then, as in a backtest, whichever arrived first."""
        group: list[int] = []
        group_known = None
        for bar in bars:
            known = bar.ts + self.feed_of(bar).timeframe_ns
            if group and known != group_known:
                self._handle(group)
                group = []
            group.append(self._add(bar))
            group_known = known
        if group:
            self._handle(group)

    def _handle(self, steps: list[int]) -> None:
        self.kernel.run_steps(steps[0], steps[-1] + 1, self.after_step)

    def _add(self, bar: Event) -> int:
        """Append one bar (or quote) to its feed and the timeline, with its signals; returns
        its step."""
        feed = self.feed_of(bar)
        f = feed.index
        cols = self._cols[f]
        last = cols["ts"].data[cols["ts"].n - 1] if cols["ts"].n else None
        if last is not None and (bar.ts < last or (bar.ts == last and isinstance(bar, Bar))):
            raise InputError(
                f"{feed.instrument.id}: a bar at {bar.ts} arrived after the one at "
                f"{int(cols['ts'].data[cols['ts'].n - 1])}; bars must arrive in time order"
            )
        known = bar.ts + feed.timeframe_ns
        steps = self._steps
        last_known = steps["step_known"]
        if last_known.n and known < last_known.data[last_known.n - 1]:
            raise InputError(
                f"{feed.instrument.id}: a bar known at {known} arrived after a step known at "
                f"{int(last_known.data[last_known.n - 1])}"
            )
        row, step = cols["ts"].n, steps["step_feed"].n
        values = _values(bar)
        for name in cols:
            cols[name].append(values[name])
        self._known[f].append(known)
        self._to_step[f].append(step)
        for name, value in zip(STEP_ARRAYS, (f, row, bar.ts, known), strict=True):
            steps[name].append(value)
        self._refresh(feed, values)
        if isinstance(bar, Bar):
            for tracked in self._tracked[f]:
                self._signals(tracked, feed, bar)
        self.kernel.step_appended(step, f, row)
        return step

    # -- keeping every holder's arrays current --------------------------------------------
    def _refresh_all(self) -> None:
        for feed in self.kernel.timeline.feeds:
            self._refresh(feed, None)

    def _refresh(self, feed: BarFeed, bar: dict[str, float] | None) -> None:
        cols, f = self._cols[feed.index], feed.index
        for name in cols:
            setattr(feed, name, cols[name].view)
        feed.row_to_step = self._to_step[f].view
        kernel, tl = self.kernel, self.kernel.timeline
        for name in STEP_ARRAYS:
            setattr(tl, name, self._steps[name].view)
        iid = feed.instrument.id
        if kernel.exec_feed.get(iid) is feed:
            kernel.known_ns[iid] = self._known[f].view
            columns = self._venue_bars.get(iid)
            if columns is not None:
                for name in cols:
                    setattr(columns, name, getattr(feed, name))
        for view in self._quote_views.get(f, ()):
            view._data = BarData.of(feed)
            view._bid, view._ask = feed.bid, feed.ask  # type: ignore[attr-defined]
        lists = feed._lists
        for name, values in list(lists.items()):
            if not isinstance(values, list):  # first growth: the tuple becomes a list, once
                values = lists[name] = list(values)  # type: ignore[assignment]
                for _, view in kernel.subscribers[f]:
                    if name in view._cols:
                        view._cols[name] = values
            if bar is not None:
                values.append(bar[name])  # type: ignore[attr-defined]

    def _signals(self, tracked: _Tracked, feed: BarFeed, bar: Bar) -> None:
        """The new bar's indicators and signals into the strategy's view and signal table."""
        kernel, slot, view, inc = self.kernel, tracked.slot, tracked.view, tracked.inc
        if not slot.enabled:
            return
        try:
            inc.append(bar)
        except Exception as exc:  # the strategy's own code: an error, not a crash
            kernel.strategy_error(slot, "signals", exc)
        view._data = BarData.of(feed)
        view._ind = {name: inc.indicator(name) for name in inc.indicator_names}
        if not inc.has_signals:
            return
        arrays = inc.signal_arrays()
        assert arrays is not None
        entries, exits, short_entries, short_exits = arrays
        if entries is None or exits is None:  # the kernel's set-up refuses such signals
            return
        strategy = slot.strategy
        sig = Signals(entries, exits, short_entries, short_exits)
        active = bool(sig.entries[-1]) or bool(sig.exits[-1])
        if strategy.allow_short:
            for extra in (sig.short_entries, sig.short_exits):
                active = active or (extra is not None and bool(extra[-1]))
        if tracked.flags is None:  # signals from this bar on: none before
            tracked.flags = bytearray(len(feed) - 1)
        tracked.flags.append(1 if active else 0)
        strategy._signals[feed.index] = (tracked.flags, sig)  # type: ignore[assignment]


def _names(feed: BarFeed) -> tuple[str, ...]:
    return QUOTE_COLUMNS if isinstance(feed, QuoteFeed) else COLUMNS


def _values(event: Event) -> dict[str, float]:
    """The columns one event appends: a bar's own; a quote's as its feed reads it."""
    if isinstance(event, Bar):
        return {name: getattr(event, name) for name in COLUMNS}
    mid = (event.bid + event.ask) / 2
    return {
        "ts": event.ts, "open": mid, "high": event.ask, "low": event.bid, "close": mid,
        "volume": event.bid_size + event.ask_size, "bid": event.bid, "ask": event.ask,
    }  # fmt: skip


def _bars_of(feed: BarFeed) -> list[Bar]:
    """The feed's bars as :class:`Bar` values (to start incremental signals from)."""
    cols = [getattr(feed, c).tolist() for c in COLUMNS]
    iid, tf = feed.instrument.id, feed.timeframe_ns
    return [Bar(iid, tf, int(t), o, h, lo, c, v) for t, o, h, lo, c, v in zip(*cols, strict=True)]
