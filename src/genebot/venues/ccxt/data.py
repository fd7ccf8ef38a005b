"""The ccxt market-data client: closed candles by REST polling, as the data-feed port wants.

Only **closed** candles are handed out, aligned to the timeframe: a candle is known at its close
(open + timeframe), and the forming candle the exchange also returns is dropped. On start the
warm-up window is backfilled; every poll asks from the last candle held, so the bars missed
during a disconnect are backfilled (in pages) before any later bar reaches a strategy.
A feed with no new closed candle for ``stale_after`` intervals is *stale*: :attr:`stale` names
it, so the runtime can pause the deployment and alert, and resume when data returns.

With a :class:`~genebot.venues.ccxt.stream.KlineWatcher` (the exchange's websocket), closed
candles come from the stream as soon as the exchange shows the next one; a candle that does
not follow on from the last one held has its gap backfilled by REST first, and a close the
stream has not delivered ``stream_grace_s`` after it is fetched by REST (a silent or dropped
stream costs latency, never a bar).
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
from genebot.venues.ccxt.stream import KlineWatcher

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

    @property
    def next_open_ns(self) -> int | None:
        """The open time of the candle after the last one held (None: none held yet)."""
        return None if self.last_open_ns is None else self.last_open_ns + self.tf_ns

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
        watcher: KlineWatcher | None = None,
        stream_grace_s: float = 5.0,
    ) -> None:
        self.call = caller
        self.exchange = caller.exchange
        self.streams = list(streams)
        self.clock = clock
        self.delay_ns = int(delay_s * 1e9)
        self.stale_after = stale_after
        self.watcher = watcher
        self.grace_ns = int(stream_grace_s * 1e9)
        self.errors = 0
        self.from_stream = 0  # candles the websocket delivered (the rest came by REST)

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
        streaming = self.watcher is not None and self.watcher.healthy
        return min(s.next_close_ns(now) for s in self.streams) + (0 if streaming else self.delay_ns)

    def poll(self, until_ns: int) -> list[MarketEvent]:
        """Closed candles known at ``until_ns``: from the stream, else by REST once they are
        ``delay_s`` (streaming: ``stream_grace_s``) past their close."""
        out: list[Bar] = []
        streaming = self.watcher is not None and self.watcher.healthy
        rest_until = until_ns - (self.grace_ns if streaming else self.delay_ns)
        for stream in self.streams:
            try:
                if self.watcher is not None:
                    out.extend(self._streamed(stream, until_ns))
                if stream.next_close_ns(rest_until) > rest_until:
                    continue
                since = (
                    stream.last_open_ns + stream.tf_ns if stream.last_open_ns is not None else None
                )
                out.extend(self._closed(stream, since, rest_until))
            except GenebotError as exc:  # retried already: try at the next poll
                self.errors += 1
                log.warning("%s %s: no candles this time: %s", stream.symbol, stream.timeframe, exc)
        return list(_ordered(out, self.streams))

    def _streamed(self, stream: BarStream, until_ns: int) -> list[Bar]:
        """The stream's closed candles that follow on, a gap before one backfilled by REST."""
        assert self.watcher is not None
        out: list[Bar] = []
        for row in self.watcher.take(stream.symbol, stream.timeframe):
            if not self._wanted(stream, row, until_ns):
                continue
            open_ns = int(row[0]) * MS
            if stream.last_open_ns is not None and open_ns != stream.last_open_ns + stream.tf_ns:
                out.extend(self._closed(stream, stream.last_open_ns + stream.tf_ns, open_ns))
            if self._wanted(stream, row, until_ns):
                out.append(_bar(stream, row))
                stream.last_open_ns = open_ns
                self.from_stream += 1
        return out

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
