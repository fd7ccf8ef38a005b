"""The MT5 market-data client: closed bars and ticks, as the data-feed port wants.

Bars come from ``copy_rates_range`` (catching up after the last bar held) and, for the warm-up,
``copy_rates_from_pos`` (the newest N bars). Only **closed** bars are handed out: the bar at
position 0 is the forming one, and a bar is known at its close (open + timeframe), in UTC —
every bar time is converted from the broker's server time by the :class:`ServerClock`. The
merged order is the replay order every mode uses (close time, shorter timeframe, feed order).

:meth:`Mt5BarClient.quote` is the symbol's last tick (``symbol_info_tick``), bid/ask in UTC,
for the protective-order monitor.

A stream is stale when the market was *open* for ``stale_after`` intervals since its newest
bar closed, by the symbol's broker sessions (:mod:`genebot.venues.mt5.sessions`): the
weekend close is no missing data, and neither alerts nor pauses entries.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genebot.core.time import timeframe_to_ns
from genebot.data.ports import MarketEvent
from genebot.domain.market import Bar, QuoteTick
from genebot.venues.mt5.sessions import BrokerSessions
from genebot.venues.mt5.symbols import ServerClock, mt5_symbol, mt5_timeframe

log = logging.getLogger("genebot.venues.mt5")


@dataclass
class Mt5Stream:
    """One (instrument, timeframe) read from the terminal."""

    instrument_id: str
    symbol: str  # genebot's (EUR/USD)
    timeframe: str  # genebot's (5m, 1h)
    last_open_ns: int | None = None  # UTC open of the newest closed bar handed out
    native: str = ""  # the terminal's name (EURUSD); default: the symbol without its slash

    def __post_init__(self) -> None:
        if not self.native:
            self.native = mt5_symbol(self.symbol)

    @property
    def tf_ns(self) -> int:
        return timeframe_to_ns(self.timeframe)

    def next_close_ns(self, now_ns: int) -> int:
        tf = self.tf_ns
        if self.last_open_ns is None:
            return (now_ns // tf + 1) * tf
        return self.last_open_ns + 2 * tf


class Mt5BarClient:
    """Closed bars of several streams from one terminal, merged in replay order."""

    def __init__(
        self,
        mt5: Any,
        streams: Sequence[Mt5Stream],
        *,
        clock: Callable[[], int],
        server: ServerClock | None = None,
        delay_s: float = 1.0,
        stale_after: int = 3,
        sessions: Mapping[str, BrokerSessions] | None = None,
    ) -> None:
        self.mt5 = mt5
        self.streams = list(streams)
        self.clock = clock
        self.server = server or ServerClock("UTC")
        self.delay_ns = int(delay_s * 1e9)
        self.stale_after = stale_after
        self.errors = 0
        self.watcher = None  # the ccxt runtime's hook for a websocket (none here)
        self.sessions: dict[str, BrokerSessions] = dict(sessions or {})  # by instrument id

    def warm_up(self, bars: int) -> list[Bar]:
        """The last ``bars`` closed bars of every stream (replay order), before trading."""
        now = self.clock()
        out: list[Bar] = []
        for s in self.streams:
            rates = self.mt5.copy_rates_from_pos(s.native, mt5_timeframe(s.timeframe), 0, bars + 1)
            out.extend(self._take(s, rates, now))
        return _ordered(out, self.streams)

    def next_known_ns(self) -> int | None:
        if not self.streams:
            return None
        return min(s.next_close_ns(self.clock()) for s in self.streams) + self.delay_ns

    def poll(self, until_ns: int) -> list[MarketEvent]:
        """Closed bars known ``delay_s`` before ``until_ns`` that were not handed out yet."""
        until = until_ns - self.delay_ns
        out: list[Bar] = []
        for s in self.streams:
            if s.next_close_ns(until) > until:
                continue
            start_ns = s.last_open_ns + s.tf_ns if s.last_open_ns is not None else until - s.tf_ns
            rates = self.mt5.copy_rates_range(
                s.native,
                mt5_timeframe(s.timeframe),
                self.server.to_server_s(start_ns),
                self.server.to_server_s(until),
            )
            if rates is None:
                self.errors += 1
                log.warning("%s %s: no bars this time: %s", s.symbol, s.timeframe,
                            self.mt5.last_error())  # fmt: skip
                continue
            out.extend(self._take(s, rates, until))
        return list(_ordered(out, self.streams))

    def _take(self, s: Mt5Stream, rates: Any, until_ns: int) -> list[Bar]:
        out: list[Bar] = []
        tf = s.tf_ns
        for row in [] if rates is None else rates:
            open_ns = self.server.to_utc_ns(int(row["time"]))
            if open_ns % tf or open_ns + tf > until_ns:  # misaligned, or still forming
                continue
            if s.last_open_ns is not None and open_ns <= s.last_open_ns:
                continue
            volume = float(row["real_volume"]) or float(row["tick_volume"])
            out.append(
                Bar(s.instrument_id, tf, open_ns, float(row["open"]), float(row["high"]),
                    float(row["low"]), float(row["close"]), volume)
            )  # fmt: skip
            s.last_open_ns = open_ns
        return out

    @property
    def stale(self) -> list[str]:
        """Streams whose newest closed bar is ``stale_after`` intervals of *open market* late
        (a stream without sessions: of any time)."""
        now = self.clock()
        late = []
        for s in self.streams:
            if s.last_open_ns is None:
                continue
            due = now // s.tf_ns * s.tf_ns  # the close of the newest bar closed by now
            since = s.last_open_ns + s.tf_ns
            hours = self.sessions.get(s.instrument_id)
            missed = due - since if hours is None else hours.open_ns_between(since, due)
            if missed >= self.stale_after * s.tf_ns:
                late.append(f"{s.symbol} {s.timeframe}")
        return late

    def market_open(self, instrument_id: str) -> bool:
        """Whether the instrument's market trades now (no sessions: always)."""
        hours = self.sessions.get(instrument_id)
        return hours is None or hours.is_open(self.clock())

    def quote(self, instrument_id: str) -> QuoteTick | None:
        """The symbol's last tick as a quote (UTC), or None when the terminal has none."""
        stream = next((s for s in self.streams if s.instrument_id == instrument_id), None)
        if stream is None:
            return None
        tick = self.mt5.symbol_info_tick(stream.native)
        if tick is None:
            return None
        msc = int(getattr(tick, "time_msc", 0) or 0)
        ts = self.server.to_utc_ns(msc // 1000) + (msc % 1000) * 1_000_000 if msc else (
            self.server.to_utc_ns(int(tick.time))
        )  # fmt: skip
        size = float(getattr(tick, "volume_real", 0.0) or 0.0)
        return QuoteTick(instrument_id, ts, float(tick.bid), float(tick.ask), size, size)


def _ordered(bars: list[Bar], streams: Sequence[Mt5Stream]) -> list[Bar]:
    rank = {(s.instrument_id, s.tf_ns): i for i, s in enumerate(streams)}
    return sorted(
        bars, key=lambda b: (b.ts + b.timeframe_ns, b.timeframe_ns,
                             rank[(b.instrument_id, b.timeframe_ns)])
    )  # fmt: skip
