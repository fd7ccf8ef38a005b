"""Candles over the emulator's kline websocket through the real ccxt.pro: a closed candle comes
from the stream with no REST request; a gap in the stream is backfilled by REST before the
next candle; a dropped connection is re-subscribed; a close the stream does not deliver in
time is fetched by REST."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from genebot.config.models import ExchangeConfig
from genebot.testkit.binance_emulator import BinanceEmulator
from genebot.testkit.ccxt_venue import SYMBOL, funded_emulator
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.data import BarStream, CcxtBarClient
from genebot.venues.ccxt.errors import Backoff
from genebot.venues.ccxt.factory import build_exchange
from genebot.venues.ccxt.stream import KlineWatcher

MIN_MS = 60_000
MS = 1_000_000
T0 = 1_699_999_200_000  # an hour boundary (ms)
STREAM = "btcusdt@kline_1m"


class Clock:
    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __call__(self) -> int:
        return self.ns


def row(i: int) -> list[object]:
    return [T0 + i * MIN_MS, 100 + i, 101 + i, 99 + i, 100 + i, 1]


def wait_for(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with funded_emulator() as emulator:
        emulator.add_klines(SYMBOL, "1m", [row(i) for i in range(5)])
        yield emulator


@pytest.fixture
def parts(emu: BinanceEmulator) -> Iterator[tuple[CcxtBarClient, KlineWatcher, Clock]]:
    cfg = ExchangeConfig(api_key=emu.api_key, api_secret=emu.secret, base_url=emu.url, timeout=2)
    exchange = build_exchange("binance", cfg)
    exchange.enableRateLimit = False
    exchange.load_markets()
    watcher = KlineWatcher(
        lambda: build_exchange("binance", cfg, pro=True), [(SYMBOL, "1m")], reconnect_s=0.1
    ).start()
    clock = Clock((T0 + 5 * MIN_MS) * MS)
    caller = Caller(exchange, Backoff(0.01, 0.02, attempts=1, seed=1))
    bars = CcxtBarClient(
        caller, [BarStream(f"{SYMBOL}@binance", SYMBOL, "1m")], clock=clock, delay_s=2,
        watcher=watcher, stream_grace_s=5,
    )  # fmt: skip
    bars.warm_up(5)
    wait_for(lambda: STREAM in emu.streams.subscriptions())
    yield bars, watcher, clock
    watcher.stop()


def klines_asked(emu: BinanceEmulator) -> int:
    return sum(1 for _, path, _ in emu.requests if path.endswith("/klines"))


def push_until_taken(emu: BinanceEmulator, watcher: KlineWatcher, *rows: list[object]) -> None:
    for r in rows:
        emu.push_kline(SYMBOL, "1m", r)
    wait_for(lambda: watcher._forming.get((SYMBOL, "1m"), [0])[0] == rows[-1][0])


def test_a_closed_candle_comes_from_the_stream(emu: BinanceEmulator, parts) -> None:
    bars, watcher, clock = parts
    asked = klines_asked(emu)
    push_until_taken(emu, watcher, row(5), row(6))  # the next candle: the 5th is final
    assert watcher.healthy
    clock.ns = (T0 + 6 * MIN_MS) * MS + 1
    assert bars.next_known_ns() == (T0 + 6 * MIN_MS) * MS  # no REST delay while streaming
    (bar,) = bars.poll(clock())
    assert bar.ts // MS == T0 + 5 * MIN_MS and bar.close == 105.0
    assert klines_asked(emu) == asked and bars.from_stream == 1


def test_a_gap_in_the_stream_is_backfilled_first(emu: BinanceEmulator, parts) -> None:
    bars, watcher, clock = parts
    emu.add_klines(SYMBOL, "1m", [row(6), row(7)])  # on REST only: the stream skips them
    push_until_taken(emu, watcher, row(5), row(8), row(9))
    clock.ns = (T0 + 9 * MIN_MS) * MS + 1
    got = [b.ts // MS for b in bars.poll(clock())]
    assert got == [T0 + i * MIN_MS for i in (5, 6, 7, 8)]  # 6 and 7 by REST, in order
    assert bars.from_stream == 2


def test_a_dropped_stream_is_subscribed_again(emu: BinanceEmulator, parts) -> None:
    bars, watcher, clock = parts
    emu.drop_streams()
    wait_for(lambda: emu.streams.connections >= 2 and STREAM in emu.streams.subscriptions())
    push_until_taken(emu, watcher, row(5), row(6))
    clock.ns = (T0 + 6 * MIN_MS) * MS + 1
    assert [b.close for b in bars.poll(clock())] == [105.0]


def test_a_close_the_stream_misses_is_fetched_by_rest(emu: BinanceEmulator, parts) -> None:
    bars, watcher, clock = parts
    push_until_taken(emu, watcher, row(5))  # healthy, but the 5th never shows as final
    clock.ns = (T0 + 6 * MIN_MS) * MS + 1
    assert bars.poll(clock()) == []  # within the grace: wait for the stream
    clock.ns += 6 * 10**9
    asked = klines_asked(emu)
    assert [b.close for b in bars.poll(clock())] == [105.0]
    assert klines_asked(emu) == asked + 1 and bars.from_stream == 0
