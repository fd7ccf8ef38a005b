"""The live merge of candles and quotes (``BarsAndQuotes``): whatever the moments the two
clients answer, what reaches the kernel is in the replay order — a quote waits for every
candle that closes before it, and a ticker stamped before what was handed out already is
stamped at that time, never before."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.domain.market import Bar, QuoteTick
from genebot.venues.ccxt.data import BarStream
from genebot.venues.ccxt.quotes import BarsAndQuotes, _order

S = 1_000_000_000
IID = "BTC/USDT@binance"


@dataclass
class Candles:
    """The candle client's two calls over a fixed list of 1 s candles, each handed out
    ``delay`` after its close (as the REST poll does)."""

    closes: list[int]
    delay: int
    streams: list[BarStream] = field(  # warmed up: the candle opened at 0 is held
        default_factory=lambda: [BarStream(IID, "BTC/USDT", "1s", last_open_ns=0)]
    )

    def next_known_ns(self) -> int | None:
        return None

    def poll(self, until: int) -> list[Bar]:
        stream, out = self.streams[0], []
        for close in self.closes:
            new = stream.last_open_ns is None or close - S > stream.last_open_ns
            if new and close + self.delay <= until:
                out.append(Bar(IID, S, close - S, 1, 1, 1, 1, 1))
                stream.last_open_ns = close - S
        return out


@dataclass
class Tickers:
    stamps: list[tuple[int, int]]  # (asked at, stamped at)
    asked: int = 0

    def next_known_ns(self) -> int:
        return 0

    def poll(self, until: int) -> list[QuoteTick]:
        out = [
            QuoteTick(IID, ts, 1.0, 1.1, 1, 1) for at, ts in self.stamps if self.asked < at <= until
        ]
        self.asked = until
        return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 20_000), min_size=1, max_size=30),  # poll moments (ms)
    st.lists(st.tuples(st.integers(0, 20_000), st.integers(-500, 500)), max_size=30),
    st.integers(0, 900),  # the candles' REST delay (ms)
)
def test_the_merge_is_in_the_replay_order(
    polls: list[int], tickers: list[tuple[int, int]], delay_ms: int
) -> None:
    closes = [k * S for k in range(2, 22)]
    stamps = [(at * 1_000_000, at * 1_000_000 + skew * 1_000_000) for at, skew in tickers]
    feed = BarsAndQuotes(Candles(closes, delay_ms * 1_000_000), Tickers(stamps))  # type: ignore[arg-type]
    seen: list[tuple[int, int]] = []
    for until in [*sorted(p * 1_000_000 for p in polls), 10**12]:
        seen += [_order(e) for e in feed.poll(until)]
    known = [k for k, _ in seen]
    assert known == sorted(known)  # known time never goes back: the kernel accepts each
    bars = [known for known, tf in seen if tf]
    assert bars == sorted(set(bars))  # each candle once
