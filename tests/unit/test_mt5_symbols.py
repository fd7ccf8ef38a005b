"""MT5 symbol info as genebot instruments, the timeframe map and the server clock."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from genebot.core.errors import InputError
from genebot.testkit.mt5_standin import TIMEFRAMES, eurusd_info
from genebot.venues.mt5.symbols import (
    ORDER_FILLING_FOK,
    ORDER_FILLING_IOC,
    ORDER_FILLING_RETURN,
    ServerClock,
    instrument_of,
    mt5_symbol,
    mt5_timeframe,
    spec_of,
)

D = Decimal


def test_symbol_info_maps_to_an_instrument_in_base_units() -> None:
    spec = spec_of(eurusd_info(volume_min=0.01, volume_step=0.01, trade_stops_level=15))
    inst = instrument_of("EUR/USD", "mt5", spec)
    assert (inst.symbol, inst.base, inst.quote, inst.id) == ("EUR/USD", "EUR", "USD", "EUR/USD@mt5")
    assert inst.tick_size == D("0.00001") and inst.quote_decimals == 5
    assert inst.lot_size == D("1000") and inst.min_quantity == D("1000")
    assert spec.contract_size == D("100000") and spec.volume_max == D("100")
    assert spec.min_stop_distance == D("0.00015")
    assert (spec.swap_long, spec.swap_short, spec.triple_swap_weekday) == (
        D("-6.5"), D("1.2"), "Wednesday",
    )  # fmt: skip


def test_lots_and_units_round_down_to_the_volume_step() -> None:
    spec = spec_of(eurusd_info())
    assert spec.lots(D("12345")) == 0.12
    assert spec.units(0.12) == D("12000")
    assert str(spec.units(1.0)) == "100000"


@pytest.mark.parametrize(
    ("flags", "filling"), [(1, ORDER_FILLING_FOK), (2, ORDER_FILLING_IOC), (3, ORDER_FILLING_FOK),
                           (0, ORDER_FILLING_RETURN)],
)  # fmt: skip
def test_filling_mode_comes_from_the_symbol(flags: int, filling: int) -> None:
    assert spec_of(eurusd_info(filling_mode=flags)).filling() == filling


def test_timeframes_map_to_the_official_constants() -> None:
    for genebot, mt5 in [("1m", "M1"), ("5m", "M5"), ("15m", "M15"), ("30m", "M30"),
                         ("1h", "H1"), ("4h", "H4"), ("1d", "D1")]:  # fmt: skip
        assert mt5_timeframe(genebot) == TIMEFRAMES[f"TIMEFRAME_{mt5}"]
    with pytest.raises(InputError, match="no MT5 equivalent"):
        mt5_timeframe("7m")


def test_symbol_names() -> None:
    assert mt5_symbol("EUR/USD") == "EURUSD" and mt5_symbol("USD/JPY", ".m") == "USDJPY.m"


def test_server_time_to_utc_fixed_offset() -> None:
    clock = ServerClock("+2")
    utc = int(pd.Timestamp("2018-03-06T10:00:00Z").timestamp())
    assert clock.to_utc_ns(utc + 7200) == utc * 1_000_000_000
    assert clock.to_server_s(utc * 1_000_000_000) == utc + 7200
    assert ServerClock("-5:30").offset_s(0) == -(5 * 3600 + 1800)


def test_server_time_zone_name_follows_daylight_saving() -> None:
    clock = ServerClock("Europe/Athens")  # EET/EEST: +2 in winter, +3 in summer
    winter = int(pd.Timestamp("2018-01-10T12:00:00").timestamp())  # server wall time
    summer = int(pd.Timestamp("2018-07-10T12:00:00").timestamp())
    assert clock.to_utc_ns(winter) == (winter - 7200) * 1_000_000_000
    assert clock.to_utc_ns(summer) == (summer - 10800) * 1_000_000_000
    assert clock.to_server_s(clock.to_utc_ns(summer)) == summer


def test_a_bad_time_zone_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="server_timezone"):
        ServerClock("Mars/Olympus")
