"""ForexNewsStrategy: stand aside before scheduled news, then trade the breakout it causes.

Trades: reads an economic calendar and keeps the events of the traded pair's two currencies
(``EUR`` and ``USD`` for EUR/USD) whose impact is at least ``impact_threshold``. No entry in the
``blackout_minutes`` before an event. After the event, for ``breakout_minutes``, buys when the
close breaks above the pre-event range: the highest high of the ``breakout_period`` bars that
closed before the event. Closes the long at the end of that window or when the close falls below
the range's low (the opposite side). Long only. Made for major forex pairs on intraday bars,
such as the bundled Oanda EUR/USD 1h data (2018) with the bundled 2018 calendar.

Timing, with bar *i* opening at ``ts`` and closing at ``ts + timeframe`` (its decision time; the
order fills at the next open):

- bar *i* is in the **window** of event *E* when ``E < close time < E + breakout_minutes``, for
  the latest event before its close time;
- bar *i* is in the **blackout** when an event lies in ``[close time, close time +
  blackout_minutes]``: an entry then would be held into the news;
- the **range** of *E* is built from the ``breakout_period`` bars whose close time is ``<= E``.

The calendar is scheduled in advance, so knowing an event's time before it happens is not
lookahead; the prices used are always those of closed bars.

Calendar files are CSV with the header ``timestamp,currency,impact,event``: ISO-8601 UTC time,
three-letter currency code, ``low``/``medium``/``high``, and a description. A missing or bad
file is a :class:`ParameterError` naming the file, the row and what is wrong. Relative paths are
read from the working directory (like ``backtest.data_dir``).

Parameters: ``news_sources`` (list of calendar files, default the bundled 2018 calendar),
``impact_threshold`` (low, medium, high; default high), ``blackout_minutes`` (default 60,
optimize 0-240), ``breakout_minutes`` (default 120, optimize 60-480) and ``breakout_period``
(default 6 bars, optimize 2-24).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from genebot.core.errors import ParameterError
from genebot.trading.data import F64, BarData, Signals
from genebot.trading.params import Param
from genebot.trading.strategy import Strategy

IMPACTS = ("low", "medium", "high")
HEADER = ["timestamp", "currency", "impact", "event"]
MINUTE_NS = 60_000_000_000
DEFAULT_CALENDAR = "data/sample/calendar/economic_calendar_2018.csv"


def read_calendar(path: str, where: str) -> list[tuple[int, str, int]]:
    """Events of one calendar file as ``(ts ns UTC, currency, impact rank 0-2)``."""
    file = Path(path)
    prefix = f"{where}: news_sources file {path}"
    if not file.is_file():
        raise ParameterError(f"{prefix} does not exist (relative paths start at {Path.cwd()})")
    try:
        with file.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ParameterError(f"{prefix} cannot be read: {exc}") from None
    if not rows or [c.strip().lower() for c in rows[0]] != HEADER:
        got = ",".join(rows[0]) if rows else "an empty file"
        raise ParameterError(f"{prefix}: the header must be {','.join(HEADER)}, got {got!r}")
    return [_parse_row(row, n, prefix) for n, row in enumerate(rows[1:], start=2) if row]


def _parse_row(row: list[str], line: int, prefix: str) -> tuple[int, str, int]:
    if len(row) != len(HEADER):
        raise ParameterError(f"{prefix} line {line}: expected 4 fields, got {len(row)}")
    stamp, currency, impact = row[0].strip(), row[1].strip().upper(), row[2].strip().lower()
    try:
        when = pd.Timestamp(stamp)
    except ValueError:
        when = None
    if when is None or pd.isna(when) or when.tzinfo is None:
        raise ParameterError(
            f"{prefix} line {line}: timestamp {stamp!r} is not an ISO-8601 UTC time "
            "such as 2018-01-05T13:30:00Z"
        )
    if len(currency) != 3 or not currency.isalpha():
        raise ParameterError(
            f"{prefix} line {line}: currency {row[1]!r} is not a three-letter code such as USD"
        )
    if impact not in IMPACTS:
        raise ParameterError(
            f"{prefix} line {line}: impact {row[2]!r} is not one of {', '.join(IMPACTS)}"
        )
    return int(when.tz_convert("UTC").value), currency, IMPACTS.index(impact)


def event_times(
    events: list[tuple[int, str, int]], symbol: str, min_impact: int
) -> npt.NDArray[np.int64]:
    """Sorted unique event times (ns) that concern ``symbol``'s currencies at ``min_impact``+."""
    currencies = {part.upper() for part in symbol.replace(":", "/").split("/")}
    chosen = {ts for ts, cur, rank in events if cur in currencies and rank >= min_impact}
    return np.array(sorted(chosen), dtype=np.int64)


class ForexNewsStrategy(Strategy):
    """Pre-news blackout and post-news range breakout, long only."""

    name = "forex_news"
    default_data = ("EUR/USD", "1h")
    news_sources = Param([DEFAULT_CALENDAR], doc="economic calendar CSV files")
    impact_threshold = Param("high", choices=IMPACTS, doc="lowest impact that counts")
    blackout_minutes = Param(60, min=0, max=10_080, opt=(0, 240, 30), doc="no entries before")
    breakout_minutes = Param(120, min=1, max=10_080, opt=(60, 480, 60), doc="window after")
    breakout_period = Param(6, min=1, max=1_000, opt=(2, 24, 2), doc="bars of the pre-event range")

    def validate_parameters(self) -> None:
        where = f"strategy {self.strategy_id}"
        sources = self.news_sources
        if not sources:
            raise ParameterError(f"{where}: news_sources must list at least one calendar file")
        events: list[tuple[int, str, int]] = []
        for source in sources:
            if not isinstance(source, str) or not source.strip():
                raise ParameterError(f"{where}: news_sources: {source!r} is not a file path")
            events.extend(read_calendar(source, where))
        self._events = events

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        n = len(data)
        tf = int(data.timeframe_ns)
        events = event_times(self._events, data.symbol, IMPACTS.index(self.impact_threshold))
        decided = data.ts + tf  # a bar's close time: when its signal is decided
        in_window, range_high, range_low = self._windows(data, events, decided)
        blackout = np.zeros(n, dtype=bool)
        if events.size:
            nxt = np.searchsorted(events, decided, side="left")
            has_next = nxt < events.size
            gap = events[np.minimum(nxt, events.size - 1)] - decided
            blackout = has_next & (gap <= self.blackout_minutes * MINUTE_NS)
        return {
            "in_window": in_window.astype(np.float64),
            "blackout": blackout.astype(np.float64),
            "range_high": range_high,
            "range_low": range_low,
        }

    def _windows(
        self, data: BarData, events: npt.NDArray[np.int64], decided: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.bool_], F64, F64]:
        n = len(data)
        in_window = np.zeros(n, dtype=bool)
        high, low = np.full(n, np.nan), np.full(n, np.nan)
        if events.size == 0 or n == 0:
            return in_window, high, low
        last = np.searchsorted(events, decided, side="left") - 1  # latest event < close time
        ok = last >= 0
        since = decided - events[np.maximum(last, 0)]
        in_window = ok & (since < self.breakout_minutes * MINUTE_NS)
        # Range of each event: the breakout_period bars closed at or before it.
        closed_before = np.searchsorted(decided, events, side="right")  # bars with close <= E
        period = self.breakout_period
        for e in np.unique(last[in_window]):
            stop = int(closed_before[e])
            if stop < period:
                continue
            rows = in_window & (last == e)
            high[rows] = data.high[stop - period : stop].max()
            low[rows] = data.low[stop - period : stop].min()
        return in_window, high, low

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        close = data.close
        with np.errstate(invalid="ignore"):
            exits = (ind["in_window"] == 0.0) | (close < ind["range_low"])
            entries = (close > ind["range_high"]) & (ind["blackout"] == 0.0) & ~exits
        return Signals(entries=entries, exits=exits)
