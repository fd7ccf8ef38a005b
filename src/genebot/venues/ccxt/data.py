"""The ccxt market-data client: closed candles by REST polling, as the data-feed port wants.

Only **closed** candles are handed out, aligned to the timeframe: a candle is known at its close
(open + timeframe), and the forming candle the exchange also returns is dropped. On start the
warm-up window is backfilled; every poll asks from the last candle held, so the bars missed
during a disconnect are backfilled (in pages) before any later bar reaches a strategy.
A feed with no new closed candle for ``stale_after`` intervals is *stale*: :attr:`stale` names
it, so the runtime can pause the deployment and alert, and resume when data returns.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from genebot.core.errors import GenebotError
from genebot.core.time import timeframe_to_ns
from genebot.data.ports import MarketEvent
from genebot.domain.market import Bar
from genebot.venues.ccxt.calls import Caller

log = logging.getLogger("genebot.venues.ccxt")
MS = 1_000_000
PAGE = 1000  # candles per request (Binance's maximum)


@dataclass
class BarStream:
    """One (instrument, timeframe) polled from the exchange."""

    instrument_id: str
    symbol: str
    timeframe: str
    last_open_ns: int | None = None  # the newest closed candle handed out (or backfilled)

    @property
    def tf_ns(self) -> int:
        return timeframe_to_ns(self.timeframe)

    def next_close_ns(self, now_ns: int) -> int:
        tf = self.tf_ns
        if self.last_open_ns is None:
            return (now_ns // tf + 1) * tf
        return self.last_open_ns + 2 * tf


class CcxtBarClient:
    """Closed candles of several streams, merged in the replay order every mode uses."""

    def __init__(
        self,
        caller: Caller,
        streams: Sequence[BarStream],
        *,
        clock: Callable[[], int],
        delay_s: float = 2.0,
        stale_after: int = 3,
    ) -> None:
        self.call = caller
        self.exchange = caller.exchange
        self.streams = list(streams)
        self.clock = clock
        self.delay_ns = int(delay_s * 1e9)
        self.stale_after = stale_after
        self.errors = 0

    def warm_up(self, bars: int) -> list[Bar]:
        """The last ``bars`` closed candles of every stream (replay order), before trading."""
        now = self.clock()
        out: list[Bar] = []
        for stream in self.streams:
            first = (now // stream.tf_ns - bars) * stream.tf_ns
            out.extend(self._closed(stream, first, now))
        return _ordered(out, self.streams)

    def next_known_ns(self) -> int | None:
        now = self.clock()
        return min(s.next_close_ns(now) for s in self.streams) + self.delay_ns

    def poll(self, until_ns: int) -> list[MarketEvent]:
        out: list[Bar] = []
        for stream in self.streams:
            due = stream.next_close_ns(until_ns)
            if due > until_ns:
                continue
            since = stream.last_open_ns + stream.tf_ns if stream.last_open_ns is not None else None
            try:
                out.extend(self._closed(stream, since, until_ns))
            except GenebotError as exc:  # retried already: try at the next poll
                self.errors += 1
                log.warning("%s %s: no candles this time: %s", stream.symbol, stream.timeframe, exc)
        return list(_ordered(out, self.streams))

    @property
    def stale(self) -> list[str]:
        """Streams whose newest closed candle is ``stale_after`` intervals late."""
        now = self.clock()
        late = []
        for s in self.streams:
            if s.last_open_ns is None:
                continue
            expected = (now // s.tf_ns - 1) * s.tf_ns  # the newest candle that has closed
            if expected - s.last_open_ns >= self.stale_after * s.tf_ns:
                late.append(f"{s.symbol} {s.timeframe}")
        return late

    def _closed(self, stream: BarStream, since_ns: int | None, until_ns: int) -> list[Bar]:
        """Closed, aligned candles after the last one held, paging until caught up."""
        tf = stream.tf_ns
        out: list[Bar] = []
        since_ms = None if since_ns is None else since_ns // MS
        while True:
            rows = self.call(
                "read", self.exchange.fetch_ohlcv, stream.symbol, stream.timeframe, since_ms, PAGE
            )
            fresh = [r for r in rows if self._wanted(stream, r, until_ns)]
            for r in fresh:
                out.append(_bar(stream, r))
                stream.last_open_ns = int(r[0]) * MS
            if len(rows) < PAGE or not fresh:
                return out
            since_ms = (stream.last_open_ns + tf) // MS  # type: ignore[operator]

    @staticmethod
    def _wanted(stream: BarStream, row: Sequence[float], until_ns: int) -> bool:
        open_ns, tf = int(row[0]) * MS, stream.tf_ns
        if open_ns % tf or open_ns + tf > until_ns:  # misaligned, or still forming
            return False
        return stream.last_open_ns is None or open_ns > stream.last_open_ns


def _bar(stream: BarStream, row: Sequence[float]) -> Bar:
    o, h, low, c, v = (float(x) for x in row[1:6])
    return Bar(stream.instrument_id, stream.tf_ns, int(row[0]) * MS, o, h, low, c, v)


def _ordered(bars: list[Bar], streams: Sequence[BarStream]) -> list[Bar]:
    """Close time, then the shorter timeframe, then the streams' order (the replay order)."""
    rank = {(s.instrument_id, s.tf_ns): i for i, s in enumerate(streams)}
    return sorted(
        bars,
        key=lambda b: (
            b.ts + b.timeframe_ns,
            b.timeframe_ns,
            rank[(b.instrument_id, b.timeframe_ns)],
        ),
    )
