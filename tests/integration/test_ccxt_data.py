"""The ccxt bar client against the emulator's klines through the real ccxt: only closed and
aligned candles reach a strategy, the warm-up window is backfilled, a gap after a disconnect is
backfilled in pages before any later bar, several streams come in the replay order every mode
uses, a feed that stops updating is reported stale, and a failed poll loses nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from genebot.config.models import ExchangeConfig
from genebot.testkit.binance_emulator import BinanceEmulator, Fault
from genebot.testkit.ccxt_venue import SYMBOL, funded_emulator
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.data import BarStream, CcxtBarClient
from genebot.venues.ccxt.errors import Backoff
from genebot.venues.ccxt.factory import build_exchange

MIN_MS = 60_000
MS = 1_000_000
T0 = 1_699_999_200_000  # an hour boundary (ms)


class Clock:
    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __call__(self) -> int:
        return self.ns


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with funded_emulator() as emulator:
        yield emulator


def candles(first_ms: int, n: int, step_ms: int = MIN_MS) -> list[list[object]]:
    """n candles from ``first_ms``, the close of candle i is 100 + i (easy to check)."""
    return [[first_ms + i * step_ms, 100 + i, 101 + i, 99 + i, 100 + i, 1] for i in range(n)]


def client(
    emu: BinanceEmulator, now_ms: int, *streams: BarStream, attempts: int = 3
) -> tuple[CcxtBarClient, Clock]:
    cfg = ExchangeConfig(api_key=emu.api_key, api_secret=emu.secret, base_url=emu.url, timeout=1)
    exchange = build_exchange("binance", cfg)
    exchange.enableRateLimit = False
    exchange.load_markets()
    clock = Clock(now_ms * MS)
    caller = Caller(exchange, Backoff(0.01, 0.02, attempts=attempts, seed=1))
    picked = streams or (BarStream("BTCUSDT.binance", SYMBOL, "1m"),)
    return CcxtBarClient(caller, picked, clock=clock, delay_s=0), clock


def test_the_forming_candle_is_never_handed_out(emu: BinanceEmulator) -> None:
    emu.add_klines(SYMBOL, "1m", candles(T0, 11))  # the 11th is still forming at T0 + 10.5 min
    bars, clock = client(emu, T0 + 10 * MIN_MS + 30_000)
    warm = bars.warm_up(5)
    assert [b.ts // MS for b in warm] == [T0 + i * MIN_MS for i in range(5, 10)]
    assert bars.poll(clock()) == []  # nothing new has closed
    clock.ns += 30_000 * MS  # the 11th candle closes
    (bar,) = bars.poll(clock())
    assert bar.ts // MS == T0 + 10 * MIN_MS and bar.close == 110.0


def test_a_gap_after_a_disconnect_is_backfilled_in_pages_in_order(emu: BinanceEmulator) -> None:
    emu.add_klines(SYMBOL, "1m", candles(T0, 2600))
    bars, clock = client(emu, T0 + 3 * MIN_MS)
    bars.warm_up(3)
    clock.ns = (T0 + 2600 * MIN_MS) * MS  # 2,597 candles closed while the client was away
    got = bars.poll(clock())
    assert len(got) == 2597
    assert [b.ts // MS for b in got] == [T0 + i * MIN_MS for i in range(3, 2600)]
    klines = [p for m, path, p in emu.requests if path.endswith("/klines")]
    assert len(klines) >= 4  # one for the warm-up, three pages of at most 1,000


def test_misaligned_candles_are_dropped(emu: BinanceEmulator) -> None:
    rows = [*candles(T0, 3), [T0 + 3 * MIN_MS + 7_000, 1, 1, 1, 1, 1]]
    emu.add_klines(SYMBOL, "1m", rows)
    bars, _ = client(emu, T0 + 5 * MIN_MS)
    assert [b.close for b in bars.warm_up(10)] == [100.0, 101.0, 102.0]


def test_two_streams_arrive_in_the_replay_order(emu: BinanceEmulator) -> None:
    emu.add_klines(SYMBOL, "1m", candles(T0 - 5 * MIN_MS, 15))
    emu.add_klines(SYMBOL, "5m", candles(T0 - 5 * MIN_MS, 3, 5 * MIN_MS))
    five = BarStream("BTCUSDT.binance", SYMBOL, "5m")
    one = BarStream("BTCUSDT.binance", SYMBOL, "1m")
    bars, clock = client(emu, T0, five, one)  # listed 5m first: the shorter timeframe wins ties
    assert [b.timeframe_ns // MIN_MS // MS for b in bars.warm_up(1)] == [1, 5]
    clock.ns = (T0 + 10 * MIN_MS) * MS
    got = [(b.ts + b.timeframe_ns) // MS for b in bars.poll(clock())]
    frames = [b.timeframe_ns // MIN_MS // MS for b in bars.poll(clock())]
    assert frames == []  # handed out once
    closes = [(t - T0) // MIN_MS for t in got]
    assert closes == [1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10, 10]


def test_a_feed_that_stops_is_stale_until_data_returns(emu: BinanceEmulator) -> None:
    emu.add_klines(SYMBOL, "1m", candles(T0, 5))
    bars, clock = client(emu, T0 + 5 * MIN_MS)
    bars.warm_up(5)
    assert bars.stale == []
    clock.ns = (T0 + 8 * MIN_MS) * MS
    assert bars.poll(clock()) == []
    assert bars.stale == ["BTC/USDT 1m"]  # three closes missed
    emu.add_klines(SYMBOL, "1m", candles(T0 + 5 * MIN_MS, 3))
    assert len(bars.poll(clock())) == 3
    assert bars.stale == []


def test_a_failed_poll_loses_no_bar(emu: BinanceEmulator) -> None:
    emu.add_klines(SYMBOL, "1m", candles(T0, 6))
    bars, clock = client(emu, T0 + 2 * MIN_MS, attempts=0)  # no retries: each fault shows
    bars.warm_up(2)
    clock.ns = (T0 + 6 * MIN_MS) * MS
    emu.inject(Fault.SERVER_ERROR, path="/api/v3/klines", method="GET", times=2)
    assert bars.poll(clock()) == [] and bars.poll(clock()) == []
    assert bars.errors == 2
    assert [b.close for b in bars.poll(clock())] == [102.0, 103.0, 104.0, 105.0]
    assert bars.poll(clock()) == []
