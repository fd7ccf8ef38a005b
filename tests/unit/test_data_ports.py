"""The data-feed port: a replayed file hands out bars when they close, in the backtest
timeline's order; appendable bars grow in amortized O(1) and stay flat with ``keep``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genebot.data.feed import BarFeed, build_timeline
from genebot.data.ports import GrowingBars, ReplayDataClient
from genebot.domain.instrument import Instrument
from genebot.domain.market import Bar
from genebot.testkit import gbm_bars

MIN = 60 * 10**9
BTC = Instrument.create("BTC/USDT", "sim")


def feed(freq: str, n: int, tf_min: int) -> BarFeed:
    f = gbm_bars(n, freq=freq)
    return BarFeed(
        BTC, tf_min * MIN, f.index.as_unit("ns").asi8.astype(np.int64), *(f[c].to_numpy() for c in
        ("open", "high", "low", "close", "volume")),
    )  # fmt: skip


def test_bars_come_when_they_close_in_the_timeline_order() -> None:
    five, hour = feed("5min", 36, 5), feed("1h", 3, 60)
    client = ReplayDataClient([hour, five])
    start = int(five.ts[0])
    assert client.next_known_ns() == start + 5 * MIN
    assert client.poll(start + 5 * MIN - 1) == []  # the first bar is not closed yet
    first_hour = client.poll(start + 60 * MIN)
    assert [b.timeframe_ns // MIN for b in first_hour] == [5] * 12 + [60]  # 5m first at 1h
    assert first_hour[-1].close == hour.close[0] and first_hour[0].open == five.open[0]
    rest = client.poll(start + 10**6 * MIN)
    assert len(first_hour) + len(rest) == 39 and client.next_known_ns() is None
    timeline = build_timeline([feed("1h", 3, 60), feed("5min", 36, 5)])
    known = [b.ts + b.timeframe_ns for b in first_hour + rest]
    assert known == timeline.step_known.tolist()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 400 * MIN), max_size=30))
def test_polling_at_any_times_hands_out_every_bar_once_in_order(times: list[int]) -> None:
    client = ReplayDataClient([feed("5min", 60, 5), feed("15min", 20, 15)])
    start = int(client.timeline.step_ts[0])
    got: list[Bar] = []
    for t in sorted(times):
        batch = client.poll(start + t)
        assert all(b.ts + b.timeframe_ns <= start + t for b in batch)
        got += batch  # type: ignore[arg-type]
    got += client.poll(start + 10**9 * MIN)  # type: ignore[arg-type]
    assert [b.ts + b.timeframe_ns for b in got] == client.timeline.step_known.tolist()


def bar(i: int, close: float = 1.0) -> Bar:
    return Bar(BTC.id, MIN, i * MIN, close, close, close, close, 1.0)


def test_growing_bars_append_and_read_windows() -> None:
    bars = GrowingBars(MIN, capacity=4)
    for i in range(100):
        bars.append(bar(i, float(i)))
    assert len(bars) == 100 and bars.capacity >= 100
    assert bars.tail("close", 3).tolist() == [97.0, 98.0, 99.0]
    assert bars.ts[0] == 0
    with pytest.raises(ValueError, match="not after the last"):
        bars.append(bar(99))
    with pytest.raises(ValueError, match="read-only"):
        bars.column("close")[0] = 5.0


def test_memory_stays_flat_with_keep() -> None:
    bars = GrowingBars(MIN, keep=500, capacity=16)
    for i in range(100_000):
        bars.append(bar(i, float(i)))
    assert bars.capacity <= 1024  # 2 × keep rounded up: not 100,000 rows
    assert 500 <= len(bars) <= 1000 and bars.dropped + len(bars) == 100_000
    assert bars.tail("close", 500).tolist() == [float(i) for i in range(99_500, 100_000)]
