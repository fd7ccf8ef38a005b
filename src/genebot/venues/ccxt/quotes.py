"""Top-of-book quotes from an exchange, for strategies with ``quotes: true`` on a live feed.

:class:`CcxtQuoteClient` asks the exchange's ticker (best bid and ask, their sizes) every
``live.quote_interval_s`` and hands out each new quote as a
:class:`~genebot.domain.market.QuoteTick`. :class:`BarsAndQuotes` merges them with the closed
candles in the one replay order every mode uses (known time, then the shorter timeframe): a
quote is held back until every candle that closes before it has arrived, so a kernel fed
live sees what a backtest of the same bars and quotes sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from genebot.core.errors import GenebotError
from genebot.data.ports import MarketEvent
from genebot.domain.market import Bar, QuoteTick
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.data import CcxtBarClient

log = logging.getLogger("genebot.venues.ccxt")
MS = 1_000_000


@dataclass
class QuoteStream:
    """One instrument's ticker."""

    instrument_id: str
    symbol: str
    last_ts: int | None = None  # the newest quote handed out


class CcxtQuoteClient:
    """The exchange's best bid and ask per instrument, asked every ``interval_s``."""

    def __init__(
        self,
        caller: Caller,
        streams: Sequence[QuoteStream],
        *,
        clock: Callable[[], int],
        interval_s: float = 1.0,
    ) -> None:
        self.call, self.exchange = caller, caller.exchange
        self.streams = list(streams)
        self.clock = clock
        self.interval_ns = int(interval_s * 1e9)
        self._next = 0
        self.errors = 0

    def next_known_ns(self) -> int:
        return self._next

    def poll(self, until_ns: int) -> list[QuoteTick]:
        """A new quote of each instrument, when the interval has passed (else nothing)."""
        if until_ns < self._next:
            return []
        self._next = until_ns + self.interval_ns
        out = []
        for stream in self.streams:
            try:
                quote = self._ask(stream)
            except GenebotError as exc:  # retried already: try at the next poll
                self.errors += 1
                log.warning("%s: no quote this time: %s", stream.symbol, exc)
                continue
            if quote is not None:
                out.append(quote)
        return sorted(out, key=lambda q: q.ts)

    def _ask(self, stream: QuoteStream) -> QuoteTick | None:
        ticker = self.call("read", self.exchange.fetch_ticker, stream.symbol)
        bid, ask = ticker.get("bid"), ticker.get("ask")
        if not bid or not ask or float(bid) > float(ask):
            return None  # no book (or a crossed one): no quote
        stamp = ticker.get("timestamp")
        ts = int(stamp) * MS if stamp else self.clock()
        if stream.last_ts is not None:
            ts = max(ts, stream.last_ts)  # the exchange's clock never runs the feed backwards
        stream.last_ts = ts
        sizes = (float(ticker.get("bidVolume") or 0), float(ticker.get("askVolume") or 0))
        return QuoteTick(stream.instrument_id, ts, float(bid), float(ask), *sizes)

    def first(self) -> list[QuoteTick]:
        """One quote of every instrument, to start the run on (it must have a book)."""
        quotes = [self._ask(s) for s in self.streams]
        missing = [s.symbol for s, q in zip(self.streams, quotes, strict=True) if q is None]
        if missing:
            raise GenebotError(f"no bid and ask for {', '.join(missing)}: nothing to start from")
        return [q for q in quotes if q is not None]


class BarsAndQuotes:
    """Closed candles and quotes in the replay order (see the module docstring)."""

    def __init__(self, bars: CcxtBarClient, quotes: CcxtQuoteClient) -> None:
        self.bars, self.quotes = bars, quotes
        self._held: list[QuoteTick] = []
        self.floor_ns = 0  # nothing is handed out as known before this (the last step's)

    def next_known_ns(self) -> int | None:
        due = [self.quotes.next_known_ns()]
        bars = self.bars.next_known_ns() if self.bars.streams else None
        return min(due) if bars is None else min(*due, bars)

    def poll(self, until_ns: int) -> list[MarketEvent]:
        bars = self.bars.poll(until_ns) if self.bars.streams else []
        self._held.extend(self.quotes.poll(until_ns))
        streams = self.bars.streams
        bound = min((s.next_close_ns(until_ns) for s in streams), default=None)
        ready = [q for q in self._held if bound is None or q.ts < bound]
        self._held = [q for q in self._held if not (bound is None or q.ts < bound)]
        # a ticker stamped before what the kernel already holds (the exchange's ticker lags
        # its candles): known now, so stamped with the last step's time, never before it
        ready = [q if q.ts >= self.floor_ns else q._replace(ts=self.floor_ns) for q in ready]
        events = sorted([*bars, *ready], key=_order)
        if events:
            self.floor_ns = max(self.floor_ns, _order(events[-1])[0])
        return events


def _order(event: MarketEvent) -> tuple[int, int]:
    if isinstance(event, Bar):
        return event.ts + event.timeframe_ns, event.timeframe_ns
    return event.ts, 0
