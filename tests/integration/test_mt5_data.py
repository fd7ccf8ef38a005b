"""The MT5 bar client against the stand-in: closed bars only, in UTC (the broker's server time
converted), caught up after a gap, merged in replay order; ticks as quotes."""

from __future__ import annotations

import pandas as pd
from mt5_harness import standin

from genebot.domain.market import Bar
from genebot.testkit.mt5_standin import load_bars
from genebot.venues.mt5.data import Mt5BarClient, Mt5Stream
from genebot.venues.mt5.symbols import ServerClock

NS = 1_000_000_000
IID = "EUR/USD@mt5"


def client(mt5, *timeframes: str, zone: str = "+2") -> Mt5BarClient:  # type: ignore[no-untyped-def]
    streams = [Mt5Stream(IID, "EURUSD", tf) for tf in timeframes or ("1h",)]
    return Mt5BarClient(
        mt5, streams, clock=lambda: mt5.now * NS, server=ServerClock(zone), delay_s=0
    )


def ts(text: str) -> int:
    return int(pd.Timestamp(text).value)


def test_warm_up_is_the_closed_bars_in_utc_matching_the_file() -> None:
    mt5 = standin("2018-03-06T10:30:00Z")
    bars = client(mt5).warm_up(3)
    assert [b.ts for b in bars] == [ts(f"2018-03-06T0{h}:00Z") for h in (7, 8, 9)]
    frame = load_bars()
    row = frame.loc[pd.Timestamp("2018-03-06T09:00:00Z")]
    assert (bars[-1].open, bars[-1].close) == (row["open"], row["close"])
    assert all(b.ts + b.timeframe_ns <= mt5.now * NS for b in bars)  # the forming one dropped


def test_a_wrong_server_zone_would_shift_bars_so_it_is_explicit() -> None:
    mt5 = standin("2018-03-06T10:30:00Z")
    (shifted,) = client(mt5, zone="UTC").warm_up(3)  # server time taken for UTC: 2h late
    row = load_bars().loc[pd.Timestamp("2018-03-06T07:00:00Z")]
    assert (shifted.ts, shifted.open) == (ts("2018-03-06T09:00:00Z"), row["open"])


def test_poll_hands_out_each_closed_bar_once_and_catches_up_after_a_gap() -> None:
    mt5 = standin("2018-03-06T10:30:00Z")
    c = client(mt5)
    c.warm_up(2)
    mt5.set_time("2018-03-06T10:59:00Z")
    assert c.poll(mt5.now * NS) == []
    assert c.next_known_ns() == ts("2018-03-06T11:00:00Z")
    mt5.set_time("2018-03-06T14:00:01Z")  # three closes missed
    got = c.poll(mt5.now * NS)
    assert [b.ts for b in got] == [ts(f"2018-03-06T{h}:00:00Z") for h in (10, 11, 12, 13)]
    assert c.poll(mt5.now * NS) == []


def test_timeframes_merge_in_replay_order() -> None:
    mt5 = standin("2018-03-06T07:30:00Z")
    c = client(mt5, "1h", "4h")
    c.warm_up(1)
    mt5.set_time("2018-03-06T12:00:01Z")
    got: list[Bar] = [b for b in c.poll(mt5.now * NS) if isinstance(b, Bar)]
    closes = [(b.ts + b.timeframe_ns, b.timeframe_ns) for b in got]
    assert closes == sorted(closes)
    assert [b.timeframe_ns for b in got][-2:] == [3600 * NS, 4 * 3600 * NS]  # 1h first at 12:00


def test_the_weekend_is_stale_and_quotes_are_utc() -> None:
    mt5 = standin("2018-03-09T20:30:00Z")
    c = client(mt5)
    c.warm_up(2)
    mt5.set_time("2018-03-10T12:00:00Z")  # Saturday: no bars
    c.poll(mt5.now * NS)
    assert c.stale == ["EURUSD 1h"]
    mt5.set_time("2018-03-06T10:30:00Z")
    quote = c.quote(IID)
    assert quote is not None and quote.ts == ts("2018-03-06T10:30:00Z")
    assert quote.ask > quote.bid
