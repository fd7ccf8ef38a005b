"""What a strategy sees of market data.

- :class:`BarData` holds a feed's full columns for the vectorized indicator step. Indicators must
  be causal (value *i* uses bars ``<= i``); the lookahead check proves it by prefix invariance.
- :class:`BarView` is the bar a callback is handed. It reads only the current and past bars;
  asking for a future one raises :class:`LookaheadError`. It is valid during the callback only
  (the engine moves it on); keep ``bar.freeze()`` to hold on to a bar.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from genebot.core.errors import LookaheadError
from genebot.domain.instrument import Instrument
from genebot.domain.market import Bar

if TYPE_CHECKING:
    from genebot.data.feed import BarFeed

F64 = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class BarData:
    """Full OHLCV columns of one feed (float64), for vectorized indicators."""

    symbol: str
    timeframe_ns: int
    ts: npt.NDArray[np.int64]
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64

    def __len__(self) -> int:
        return int(self.close.shape[0])

    @classmethod
    def of(cls, feed: BarFeed) -> BarData:
        """A feed's bars as the strategy's data (its arrays, no copy)."""
        f = feed
        symbol, tf = f.instrument.symbol, f.timeframe_ns
        return cls(symbol, tf, f.ts, f.open, f.high, f.low, f.close, f.volume)


class Signals(NamedTuple):
    """Vectorized entries and exits (one bool per bar). A strategy that returns these can run in
    fast mode: the engine visits only the bars where a signal or a working order can act."""

    entries: BoolArray
    exits: BoolArray
    short_entries: BoolArray | None = None
    short_exits: BoolArray | None = None


class BarView:
    """The current bar of one feed, with causal access to history and indicators."""

    __slots__ = (
        "_cols",
        "_data",
        "_i",
        "_ind",
        "_lists",
        "feed_index",
        "instrument",
        "symbol",
        "timeframe_ns",
    )

    def __init__(
        self,
        feed_index: int,
        instrument: Instrument,
        timeframe_ns: int,
        data: BarData,
        indicators: Mapping[str, F64],
        lists: Callable[[str], Sequence[float]] | None = None,
    ) -> None:
        self.feed_index = feed_index
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.timeframe_ns = timeframe_ns
        self._i = -1  # set by the engine as the bars go; read-only for strategies (``i``)
        self._data = data
        self._lists = lists or (lambda name: tuple(getattr(data, name).tolist()))
        self._cols: dict[str, Sequence[float]] = {}
        self._ind = {k: np.asarray(v, dtype=np.float64) for k, v in indicators.items()}

    @property
    def i(self) -> int:
        """This bar's row in its feed (0 = the first bar)."""
        return self._i

    def _col(self, name: str) -> Sequence[float]:
        # Columns become Python lists on first use: fast per-bar access for strategies that
        # read prices, no memory for those that trade vectorized signals.
        col = self._cols.get(name)
        if col is None:
            col = self._cols[name] = self._lists(name)
        return col

    @property
    def ts(self) -> int:
        return int(self._col("ts")[self._i])

    @property
    def open(self) -> float:
        return self._col("open")[self._i]

    @property
    def high(self) -> float:
        return self._col("high")[self._i]

    @property
    def low(self) -> float:
        return self._col("low")[self._i]

    @property
    def close(self) -> float:
        return self._col("close")[self._i]

    @property
    def volume(self) -> float:
        return self._col("volume")[self._i]

    def indicator(self, name: str, ago: int = 0) -> float:
        """Value of indicator ``name`` ``ago`` bars back (0 = this bar). Never the future."""
        if ago < 0:
            raise LookaheadError(
                f"indicator {name!r} asked {-ago} bar(s) into the future; use ago >= 0"
            )
        if name not in self._ind:
            raise KeyError(f"no indicator {name!r}; defined: {', '.join(self._ind)}")
        j = self._i - ago
        return float(self._ind[name][j]) if j >= 0 else float("nan")

    def history(self, field: str, n: int) -> F64:
        """The last ``n`` values of ``field`` (a price column or an indicator), this bar last."""
        if n <= 0:
            raise ValueError("n must be positive")
        start = max(0, self._i - n + 1)
        if field in self._ind:
            return self._ind[field][start : self._i + 1].copy()
        if field not in ("open", "high", "low", "close", "volume"):
            raise KeyError(
                f"no field {field!r}; use open, high, low, close, volume or an indicator"
            )
        column: F64 = getattr(self._data, field)
        return column[start : self._i + 1].copy()

    def freeze(self) -> Bar:
        """An immutable copy of this bar."""
        return Bar(
            self.instrument.id,
            self.timeframe_ns,
            self.ts,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
        )


class QuoteView(BarView):
    """The current quote of one instrument (``on_quote``): bid, ask, sizes, mid, spread; the
    price columns read as for bars (high = ask, low = bid, open = close = mid)."""

    __slots__ = ("_ask", "_bid")

    def __init__(
        self,
        feed_index: int,
        instrument: Instrument,
        data: BarData,
        bid: F64,
        ask: F64,
        lists: Callable[[str], Sequence[float]] | None = None,
    ) -> None:
        super().__init__(feed_index, instrument, 0, data, {}, lists)
        self._bid = bid
        self._ask = ask

    @property
    def bid(self) -> float:
        return float(self._bid[self._i])

    @property
    def ask(self) -> float:
        return float(self._ask[self._i])

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> float:
        return self.ask - self.bid
