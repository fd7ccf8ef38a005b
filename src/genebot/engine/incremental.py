"""Indicators and signals of live bars, one bar at a time, from a trailing window.

When bars arrive one at a time, each new bar's indicator and signal values are computed by
calling the strategy's own vectorized ``indicators(data)`` and ``signals(data, ind)`` on the
last ``W`` bars (the window, built into the same ``BarData`` the kernel passes) and keeping
the last row. The work per bar is O(W), however long the history grows, and the values are the
ones the kernel computes once over the whole series, as long as the window holds everything a
bar's values depend on:

- finite lookbacks (SMA, rolling max/min, a training window) need their length;
- recursive smoothing (EMA, Wilder's RSI/ATR/ADX) forgets its start geometrically, and the
  floating-point state becomes *bit-identical* once the start's influence is below half an
  ulp: about ``36.7 / alpha`` bars, i.e. ~18.4 × (p + 1) bars for an EMA of period p
  (alpha = 2/(p+1)) and ~37 × p for Wilder's smoothing (alpha = 1/p): RSI(14) ~520 bars;
- running sums never forget their rounding: TA-Lib's SMA, STDDEV and BBANDS keep a running
  total whose rounding depends on the whole history, so over a window they differ from the
  full series by a few ulps (relative ~1e-15; ~1e-10 for a z-score divided by a tiny
  deviation), whatever W is. Those are equal only to a tiny tolerance.

The window rule (:func:`window_for`): a strategy attribute ``warmup_bars`` (a class attribute,
a property or a parameter of that name) gives W itself. Otherwise W = max(2,000 bars,
25 × H), H the largest period-like integer parameter in bars of the feed: names with a part
``period``, ``lookback``, ``window``, ``length``, ``span``, ``horizon`` or ``bars``;
``*_minutes`` / ``*_hours`` / ``*_days`` converted to bars of the timeframe; and a ``bars per
coarser bar`` parameter (``*timeframe_bars``, ``bars_per_*``) multiplies the others, as they
may count coarser bars. The floor covers the periods strategies hard-code (RSI 14, MACD
12/26/9) and Wilder smoothing up to a period of ~50; 25 × H covers an EMA of period H.

Schedules counted from the first bar (``*_every`` parameters: a model refitted every N bars)
make a bar's values depend on where the series starts. The window's start is then aligned to
a multiple of them (their lcm, in absolute rows), so a window always holds the same schedule
points as the full series: the window spans W to W + align - 1 bars.

This module is exchange-agnostic and below the trading layer: it takes the strategy and the
data type (``BarData``) as arguments and imports neither.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from numbers import Integral
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_T = TypeVar("_T", bound=np.generic)

FLOOR_BARS = 2_000  # the smallest window: hard-coded periods, Wilder smoothing up to ~50
PERIOD_MULTIPLE = 25  # W >= this × the largest period-like parameter (an EMA of it converges)
# The fields of ``genebot.trading.data.Signals``, in its order (this layer cannot import it).
SIGNAL_FIELDS = ("entries", "exits", "short_entries", "short_exits")
COLUMNS = ("open", "high", "low", "close", "volume")

_PERIOD_PARTS = frozenset({"period", "periods", "lookback", "window", "length", "span"})
_PERIOD_PARTS |= {"horizon", "bars"}
_UNIT_SECONDS = {"minutes": 60, "hours": 3_600, "days": 86_400}
_MULTIPLIER = re.compile(r"(^|_)timeframe_bars$|^bars_per_")
_SCHEDULE = re.compile(r"(^|_)every$")


class StrategyLike(Protocol):
    """What is used of a strategy: its resolved parameters and its vectorized steps."""

    params: dict[str, Any]

    def indicators(self, data: Any) -> Mapping[str, Any]: ...

    def signals(self, data: Any, ind: Mapping[str, Any]) -> Any: ...


class BarLike(Protocol):
    """A closed bar (``genebot.domain.market.Bar`` or anything with these fields)."""

    @property
    def ts(self) -> int: ...

    @property
    def open(self) -> float: ...

    @property
    def high(self) -> float: ...

    @property
    def low(self) -> float: ...

    @property
    def close(self) -> float: ...

    @property
    def volume(self) -> float: ...


# ``BarData(symbol, timeframe_ns, ts, open, high, low, close, volume)``
DataFactory = Callable[[str, int, I64, F64, F64, F64, F64, F64], Any]


class Window(NamedTuple):
    """The trailing window of a strategy: its length, the alignment of its start, and why."""

    bars: int
    align: int
    reason: str


class IncrementalRow(NamedTuple):
    """The values of one bar: its row, its open time, its indicators and its signals (None
    for a strategy without vectorized signals)."""

    row: int
    ts: int
    indicators: dict[str, float]
    signals: dict[str, bool] | None


def checked_signal(
    name: str, values: object, size: int, offset: int = 0, base: int = 0
) -> npt.NDArray[Any]:
    """``values`` as an array of one boolean-like per bar, or a ValueError naming the signal:
    the wrong shape, a non-numeric dtype, or a NaN in rows ``offset ..`` (the error names the
    bar as ``base + row``, so a window starting at bar ``base`` reports the series' bar)."""
    arr = np.asarray(values)
    if arr.shape != (size,):
        raise ValueError(f"{name} has shape {arr.shape}, expected ({size},): one per bar")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be booleans, not {arr.dtype}")
    if arr.dtype.kind == "f" and np.isnan(arr[offset:]).any():
        bar = base + offset + int(np.flatnonzero(np.isnan(arr[offset:]))[0])
        raise ValueError(f"{name} is NaN at bar {bar}; signals are true or false")
    return arr


def _integer(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        return None
    return int(value)


def window_for(strategy: object, timeframe_ns: int = 0) -> Window:
    """The trailing window the strategy needs on bars of ``timeframe_ns`` (see the module
    docstring for the rule)."""
    params: Mapping[str, Any] = getattr(strategy, "params", None) or {}
    align = 1
    for name, value in params.items():
        every = _integer(value)
        if every is not None and every > 0 and _SCHEDULE.search(name.lower()):
            align = math.lcm(align, every)
    override = getattr(strategy, "warmup_bars", None)
    if override is not None:
        bars = _integer(override)
        if bars is None or bars < 1:
            raise ValueError(f"warmup_bars must be a whole number of bars >= 1, not {override!r}")
        return Window(bars, align, f"warmup_bars = {bars}")
    periods: list[tuple[int, str]] = []
    multiplier, multiplied_by = 1, ""
    for name, value in params.items():
        number = _integer(value)
        if number is None or number <= 0:
            continue
        key = name.lower()
        parts = set(key.split("_"))
        if _MULTIPLIER.search(key):
            multiplier *= number
            multiplied_by += f" × {name} {number}"
        elif parts & _PERIOD_PARTS:
            periods.append((number, f"{name} {number}"))
        elif timeframe_ns > 0 and (unit := key.rsplit("_", 1)[-1]) in _UNIT_SECONDS:
            bars = math.ceil(number * _UNIT_SECONDS[unit] * 1_000_000_000 / timeframe_ns)
            periods.append((bars, f"{name} {number} = {bars} bars"))
    if not periods:
        return Window(FLOOR_BARS, align, f"floor {FLOOR_BARS} (no period-like parameter)")
    longest, named = max(periods)
    horizon = longest * multiplier
    wanted = PERIOD_MULTIPLE * horizon
    if wanted <= FLOOR_BARS:
        return Window(FLOOR_BARS, align, f"floor {FLOOR_BARS} (≥ {PERIOD_MULTIPLE} × {named})")
    return Window(wanted, align, f"{PERIOD_MULTIPLE} × {named}{multiplied_by}")


class IncrementalSignals:
    """One feed's bars, appended as they close, with each bar's indicators and signals.

    ``append(bar)`` stores the bar, computes its row from the trailing window and returns it
    (also kept as :attr:`latest`); every row stays readable in full-length arrays
    (:meth:`indicator`, :meth:`signal`), so a consumer can read row *i* later. ``extend(bars)``
    appends many (a history to start from) and computes them in one call over the new bars and
    their window. Rows are final: a later bar never changes them.

    ``make_data`` builds the strategy's data from columns: pass ``genebot.trading.data.BarData``.
    Exceptions of the strategy's code propagate; the bar stays appended and its row keeps NaN
    indicators and false signals. Views returned by the readers are read-only and valid until
    the next append (the arrays grow by reallocation).
    """

    def __init__(
        self,
        strategy: StrategyLike,
        make_data: DataFactory,
        *,
        symbol: str,
        timeframe_ns: int,
        window: int | None = None,
        align: int | None = None,
        capacity: int = 1024,
    ) -> None:
        rule = window_for(strategy, timeframe_ns)
        if window is not None and (_integer(window) is None or window < 1):
            raise ValueError(f"window must be a whole number of bars >= 1, not {window!r}")
        if align is not None and (_integer(align) is None or align < 1):
            raise ValueError(f"align must be a whole number of bars >= 1, not {align!r}")
        self.strategy = strategy
        self.make_data = make_data
        self.symbol = symbol
        self.timeframe_ns = int(timeframe_ns)
        self.window = rule.bars if window is None else int(window)
        self.align = rule.align if align is None else int(align)
        self.reason = rule.reason if window is None else f"given: {window}"
        self.has_signals = False  # whether signals() returned entries/exits (not None)
        self.latest: IncrementalRow | None = None
        self._n = 0
        capacity = max(int(capacity), 16)
        self._ts: I64 = np.zeros(capacity, dtype=np.int64)
        self._cols: dict[str, F64] = {c: np.zeros(capacity) for c in COLUMNS}
        self._ind: dict[str, F64] = {}
        self._sig: dict[str, BoolArray] = {}

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return int(self._ts.shape[0])

    # -- feeding ----------------------------------------------------------------------------
    def append(self, bar: BarLike) -> IncrementalRow:
        """Add one closed bar and compute its row from the trailing window."""
        self.extend((bar,))
        assert self.latest is not None
        return self.latest

    def extend(self, bars: Iterable[BarLike]) -> IncrementalRow | None:
        """Add closed bars (oldest first) and compute their rows with one call over them and
        the window before the first: each new row sees at least ``window`` bars of history."""
        new = list(bars)
        last = int(self._ts[self._n - 1]) if self._n else None
        for bar in new:
            ts = int(bar.ts)
            if last is not None and ts <= last:
                raise ValueError(f"bar at {ts} is not after the last one ({last})")
            last = ts
        if not new:
            return self.latest
        first = self._n
        self._reserve(first + len(new))
        for i, bar in enumerate(new, start=first):
            self._ts[i] = bar.ts
            for name in COLUMNS:
                self._cols[name][i] = getattr(bar, name)
        self._n = first + len(new)
        try:
            self._compute(first)
        finally:
            self.latest = self.row(self._n - 1)
        return self.latest

    def window_start(self, first: int) -> int:
        """The first row of the window that computes rows ``first ..``: ``window - 1`` bars
        before ``first``, moved back to a multiple of ``align``."""
        start = max(0, first - self.window + 1)
        return start - start % self.align

    def _compute(self, first: int) -> None:
        n = self._n
        start = self.window_start(first)
        size, keep = n - start, slice(first - start, None)
        data = self.make_data(
            self.symbol,
            self.timeframe_ns,
            _frozen(self._ts[start:n]),
            *(_frozen(self._cols[name][start:n]) for name in COLUMNS),
        )
        strategy = self.strategy
        ind = dict(strategy.indicators(data))
        for name, values in ind.items():
            if np.shape(values) != (size,):
                raise ValueError(
                    f"indicator {name!r} has shape {np.shape(values)}, expected ({size},)"
                )
            self._indicator_buffer(name)[first:n] = np.asarray(values, dtype=np.float64)[keep]
        sig = strategy.signals(data, ind)
        if sig is None:
            return
        self.has_signals = True
        for name, values in zip(SIGNAL_FIELDS, sig, strict=True):
            if values is not None:
                rows = checked_signal(name, values, size, first - start, start)[keep]
                self._signal_buffer(name)[first:n] = rows.astype(bool)

    # -- storage ----------------------------------------------------------------------------
    def _reserve(self, rows: int) -> None:
        size = self.capacity
        if rows <= size:
            return
        while size < rows:
            size *= 2
        self._ts = _grown(self._ts, size, 0)
        self._cols = {name: _grown(col, size, 0.0) for name, col in self._cols.items()}
        self._ind = {name: _grown(col, size, np.nan) for name, col in self._ind.items()}
        self._sig = {name: _grown(col, size, False) for name, col in self._sig.items()}

    def _indicator_buffer(self, name: str) -> F64:
        buf = self._ind.get(name)
        if buf is None:
            buf = self._ind[name] = np.full(self.capacity, np.nan)
        return buf

    def _signal_buffer(self, name: str) -> BoolArray:
        buf = self._sig.get(name)
        if buf is None:
            buf = self._sig[name] = np.zeros(self.capacity, dtype=bool)
        return buf

    # -- reading ----------------------------------------------------------------------------
    def row(self, i: int) -> IncrementalRow:
        """The values of row ``i`` (negative: from the end)."""
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"row {i} is not one of the {self._n} bars appended")
        indicators = {name: float(col[i]) for name, col in self._ind.items()}
        signals = (
            {name: bool(self._sig[name][i]) for name in SIGNAL_FIELDS if name in self._sig}
            if self.has_signals
            else None
        )
        return IncrementalRow(i, int(self._ts[i]), indicators, signals)

    @property
    def indicator_names(self) -> list[str]:
        return list(self._ind)

    @property
    def signal_names(self) -> list[str]:
        """The signal fields the strategy has produced (entries, exits, ...), in their order."""
        return [name for name in SIGNAL_FIELDS if name in self._sig]

    def indicator(self, name: str) -> F64:
        """Indicator ``name`` of every row so far (NaN before it was first produced)."""
        if name not in self._ind:
            raise KeyError(f"no indicator {name!r}; produced: {', '.join(self._ind) or 'none'}")
        return _frozen(self._ind[name][: self._n])

    def signal(self, name: str) -> BoolArray:
        """Signal ``name`` (entries, exits, short_entries, short_exits) of every row so far."""
        if name not in self._sig:
            produced = ", ".join(self.signal_names) or "none"
            raise KeyError(f"no signal {name!r}; produced: {produced}")
        return _frozen(self._sig[name][: self._n])

    def signal_arrays(self) -> tuple[BoolArray | None, ...] | None:
        """Every row's signals in ``Signals`` field order (``Signals(*feed.signal_arrays())``),
        or None for a strategy without vectorized signals."""
        if not self.has_signals:
            return None
        return tuple(self.signal(n) if n in self._sig else None for n in SIGNAL_FIELDS)

    def column(self, name: str) -> Any:
        """A price column (open, high, low, close, volume) or ``ts`` of every row so far."""
        if name == "ts":
            return _frozen(self._ts[: self._n])
        return _frozen(self._cols[name][: self._n])

    def data(self) -> Any:
        """All the bars so far in the strategy's data type (what the kernel would pass)."""
        cols = (self.column(name) for name in COLUMNS)
        return self.make_data(self.symbol, self.timeframe_ns, self.column("ts"), *cols)


def _frozen(array: npt.NDArray[_T]) -> npt.NDArray[_T]:
    """A read-only view: the strategy (or a reader) cannot write into the buffers."""
    view = array.view()
    view.flags.writeable = False
    return view


def _grown(array: npt.NDArray[_T], size: int, fill: object) -> npt.NDArray[_T]:
    out: npt.NDArray[_T] = np.full(size, fill, dtype=array.dtype)
    out[: array.shape[0]] = array
    return out
