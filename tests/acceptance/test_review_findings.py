"""Regression tests for defects found in code review (each failed before its fix)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.domain.instrument import Instrument
from genebot.domain.orders import OrderStatus
from genebot.execution.engine import Protection
from genebot.trading.data import F64, BarData, BarView, Signals
from genebot.trading.strategy import Strategy

MOD = "test_review_findings"


def frame(closes: list[float], *, highs=None, lows=None, opens=None, volume=1000.0, freq="1min"):
    n = len(closes)
    close = np.asarray(closes, dtype=float)
    open_ = np.asarray(opens if opens is not None else np.concatenate(([close[0]], close[:-1])))
    high = np.asarray(highs if highs is not None else np.maximum(open_, close) + 0.1)
    low = np.asarray(lows if lows is not None else np.minimum(open_, close) - 0.1)
    idx = pd.date_range("2021-01-01", periods=n, freq=freq, tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": np.full(n, volume)},
        index=idx,
    )


def config(strategies: dict, **backtest: object) -> dict:
    # These findings are about the engine itself: the risk engine is off.
    return {
        "risk_management": {"enabled": False},
        "backtest": {"initial_cash": 100_000, "fee": 0.001, **backtest},
        "strategies": strategies,
    }


def strat(cls: str, symbols: list[str], tf: str = "1m", **extra: object) -> dict:
    return {
        "type": f"{MOD}:{cls}",
        "symbols": symbols,
        "timeframes": [tf],
        "position_sizing": {"method": "fixed_quantity", "quantity": 1},
        **extra,
    }


# -- strategies used below ----------------------------------------------------------------
class Idle(Strategy):
    """Never trades."""


class IocEntryWithStop(Strategy):
    """Bar 5: an IOC market buy of 10 with a 1 % stop-loss (partially filled by participation)."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i == 5:
            self.buy(quantity=10, tif="IOC", stop_loss=0.01)


class BuysEthOnBtcBar(Strategy):
    """On BTC bar 10 (BTC feed is handled first), buys 1 ETH."""

    def on_bar(self, bar: BarView) -> None:
        if bar.symbol == "BTC/USDT" and bar.i == 10:
            self.buy("ETH/USDT", quantity=1)


class EnterOnceTrailing(Strategy):
    """Signal strategy (fast-mode eligible): one entry on bar 30, a 5 % trailing stop."""

    def on_start(self) -> None:
        self.protection = Protection(trailing=Decimal("0.05"))

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        entries = np.zeros(len(data), dtype=bool)
        entries[30] = True
        return Signals(entries, np.zeros(len(data), dtype=bool))


class HolderA(Strategy):
    """Buys 1 BTC on bar 5, closes it on bar 15."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i == 5:
            self.buy(quantity=1)
        elif bar.i == 15:
            self.close()


class SellerB(Strategy):
    """Holds nothing; tries to sell 1 BTC on bar 10 (spot: must be refused)."""

    def on_bar(self, bar: BarView) -> None:
        if bar.i == 10:
            self.sell(quantity=1)


class BadTif(Strategy):
    def on_bar(self, bar: BarView) -> None:
        if bar.i == 5:
            self.buy(quantity=1, limit=bar.close * 0.5, tif="ioc")  # far below: never fills


# -- findings -----------------------------------------------------------------------------
def test_bar_history_of_price_column_works() -> None:
    inst = Instrument.create("BTC/USDT", "sim")
    a = np.arange(1.0, 6.0)
    data = BarData("BTC/USDT", 60, np.arange(5, dtype=np.int64), a, a, a, a, a)
    view = BarView(0, inst, 60, data, {})
    view._i = 3  # the engine's move to bar 3
    assert list(view.history("close", 2)) == [3.0, 4.0]
    with pytest.raises(AttributeError):
        view.i = 4  # type: ignore[misc]  # a strategy cannot move itself to a later bar


def test_initial_cash_split_over_three_venues_is_exact() -> None:
    df = frame([100.0] * 40)
    cfg = config(
        {
            "a": strat("Idle", ["XYZ/USDT"], venue="va"),
            "b": strat("Idle", ["XYZ/USDT"], venue="vb"),
            "c": strat("Idle", ["XYZ/USDT"], venue="vc"),
        }
    )
    cfg["exchanges"] = {v: {"account_type": "spot"} for v in ("va", "vb", "vc")}
    result = bt.run(cfg, data={"XYZ/USDT": df}, engine_mode="per_bar")
    assert result.final_equity_exact == Decimal(100_000)
    assert result.final_equity_exact.as_tuple().exponent >= -8


def test_partially_filled_ioc_entry_is_protected() -> None:
    closes = [100.0] * 8 + [50.0] * 8  # crash after the entry: the stop must fire
    df = frame(closes, volume=50.0)  # participation 0.1 -> 5 of the 10 fill
    cfg = config({"s": strat("IocEntryWithStop", ["XYZ/USDT"])}, volume_participation=0.1)
    result = bt.run(cfg, data={"XYZ/USDT": df}, engine_mode="per_bar")
    entry = next(o for o in result.order_log if o.tag == "signal")
    assert entry.filled_qty == Decimal(5)  # the partial fill happened
    stops = [o for o in result.order_log if o.tag == "stop_loss"]
    assert stops, "a 5-unit long position was left with no stop-loss"


def test_close_fill_uses_same_time_close_of_other_instrument() -> None:
    n = 20
    btc = frame([1000.0 + i for i in range(n)])
    eth = frame([100.0 + i for i in range(n)])  # close of bar i = 100 + i
    cfg = config({"s": strat("BuysEthOnBtcBar", ["BTC/USDT", "ETH/USDT"])}, fill_timing="close")
    result = bt.run(cfg, data={"BTC/USDT": btc, "ETH/USDT": eth}, engine_mode="per_bar")
    order = next(o for o in result.order_log if o.instrument_id.startswith("ETH/USDT"))
    assert order.status is OrderStatus.FILLED
    # decided at the close of bar 10 (same close time for both feeds): ETH close then = 110
    assert order.avg_px == Decimal("110")  # actually 109: ETH's close one bar earlier


def test_fast_equals_per_bar_trailing_with_close_fills() -> None:
    closes = [100.0] * 31 + [108.0, 106.0, 104.0] + [104.0] * 6
    opens = [100.0] * 31 + [100.0, 108.0, 106.0] + [104.0] * 6
    highs = [100.1] * 31 + [110.0, 108.5, 106.0] + [104.1] * 6
    lows = [99.9] * 31 + [99.5, 105.0, 103.0] + [103.9] * 6
    df = frame(closes, opens=opens, highs=highs, lows=lows)
    cfg = config({"s": strat("EnterOnceTrailing", ["XYZ/USDT"])}, fill_timing="close")
    runs = {
        mode: bt.run(cfg, data={"XYZ/USDT": df}, engine_mode=mode) for mode in ("per_bar", "fast")
    }
    per_bar, fast = (runs[m].trades for m in ("per_bar", "fast"))
    assert len(per_bar) == 1
    assert per_bar["exit_price"].tolist() == fast["exit_price"].tolist()  # 104 vs 103


def test_spot_strategy_cannot_sell_coins_of_another_strategy() -> None:
    df = frame([100.0] * 30)
    cfg = config({"a": strat("HolderA", ["XYZ/USDT"]), "b": strat("SellerB", ["XYZ/USDT"])})
    result = bt.run(cfg, data={"XYZ/USDT": df}, engine_mode="per_bar")
    sell_b = next(o for o in result.order_log if o.strategy_id == "b")
    close_a = [o for o in result.order_log if o.strategy_id == "a" and o.side == "SELL"]
    assert sell_b.status is not OrderStatus.FILLED  # b held no coins
    assert close_a[0].status is OrderStatus.FILLED


def test_unknown_time_in_force_is_refused() -> None:
    df = frame([100.0] * 30)
    result = bt.run(
        config({"s": strat("BadTif", ["XYZ/USDT"])}), data={"XYZ/USDT": df}, engine_mode="per_bar"
    )
    order = result.order_log[0]
    assert order.status in (OrderStatus.DENIED, OrderStatus.REJECTED, OrderStatus.EXPIRED)
