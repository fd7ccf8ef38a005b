"""Second review: defects in the risk engine, financing, currency handling and arbitrage.

Each test states what a trader should get; each failed before its fix (regression tests).
"""

from __future__ import annotations

import collections
from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pandas as pd

import genebot.backtest as bt
from genebot.trading.data import F64, BarData, BarView, Signals
from genebot.trading.strategy import Strategy

MOD = "test_review_findings_2"


def flat(closes: list[float], start: str = "2018-03-05", freq: str = "1h") -> pd.DataFrame:
    c = np.asarray(closes, dtype=float)
    idx = pd.date_range(start, periods=len(c), freq=freq, tz="UTC", name="timestamp")
    return pd.DataFrame(
        {"open": c, "high": c, "low": c, "close": c, "volume": np.full(len(c), 1e9)}, index=idx
    )


RELAXED_RISK: dict = {
    "enabled": True,
    "stop_loss": {"enabled": False},
    "take_profit": {"enabled": False},
    "performance": {"enabled": False},
    "limits": {"max_portfolio_heat": 1.0, "volatility_limit": 100.0, "correlation_limit": 1.0},
}


# -- strategies used below ----------------------------------------------------------------
class BuysUsdJpy(Strategy):
    """Bar 2: buys 10,000 USD/JPY (a $10,000 position on a $100,000 USD account)."""

    def on_bar(self, bar: BarView) -> None:
        if bar.symbol == "USD/JPY" and bar.i == 2:
            self.buy("USD/JPY", quantity=10_000)


class EntersOnceAndHolds(Strategy):
    """Signal strategy (fast-mode eligible): one long entry on bar 5, never an exit."""

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals:
        entries = np.zeros(len(data), dtype=bool)
        entries[5] = True
        return Signals(entries, np.zeros(len(data), dtype=bool))


def fx_config(strategy: str, symbols: list[str], risk: dict, **backtest: object) -> dict:
    return {
        "backtest": {"initial_cash": 100_000, "fee": 0.0, "quote_currency": "USD", **backtest},
        "exchanges": {"fx": {"account_type": "margin"}},
        "risk_management": risk,
        "strategies": {
            "s": {
                "type": f"{MOD}:{strategy}",
                "symbols": symbols,
                "timeframes": ["1h"],
                "venue": "fx",
                "position_sizing": {"method": "fixed_quantity", "quantity": 50_000},
            }
        },
    }


def two_pairs(n: int = 40) -> dict[str, pd.DataFrame]:
    return {"USD/JPY": flat([110.0] * n), "EUR/USD": flat([1.2] * n)}


# -- (2) money: instruments quoted in a currency other than the account's ------------------
def test_position_size_limit_is_measured_in_the_account_currency() -> None:
    risk = {**RELAXED_RISK, "position_limits": {"max_position_size": 0.5}}
    result = bt.run(
        fx_config("BuysUsdJpy", ["USD/JPY", "EUR/USD"], risk),
        data=two_pairs(),
        engine_mode="per_bar",
    )
    resized = [e for e in result.risk_events if e.action == "resize"]
    assert resized == []  # $10,000 of USD/JPY is 10 % of equity, within the 50 % limit
    entry = next(o for o in result.order_log if o.tag == "signal")
    assert entry.quantity == Decimal(10_000)


def test_usd_margin_account_can_trade_usd_jpy() -> None:
    result = bt.run(
        fx_config("BuysUsdJpy", ["USD/JPY", "EUR/USD"], {"enabled": False}),
        data=two_pairs(),
        engine_mode="per_bar",
    )
    entry = next(o for o in result.order_log if o.tag == "signal")
    assert entry.status.value == "FILLED", entry.reason


# -- (4) fast mode vs per bar with financing on ---------------------------------------------
def test_fast_mode_books_the_same_rollover_as_per_bar() -> None:
    n = 24 * 10  # ten days of flat hourly EUR/USD, one long entry on bar 5, held to the end
    cfg = fx_config(
        "EntersOnceAndHolds",
        ["EUR/USD"],
        {"enabled": False},
        interest_rates={"EUR": 0.05, "USD": 0.01},
    )
    data = {"EUR/USD": flat([1.2] * n)}
    per_bar = bt.run(cfg, data=data, engine_mode="per_bar")
    fast = bt.run(cfg, data=data, engine_mode="fast")
    assert per_bar.final_equity_exact > Decimal(100_000)  # swaps were earned
    assert fast.final_equity_exact == per_bar.final_equity_exact


# -- (1)+(3) triangular arbitrage under the kill switch -------------------------------------
def _holdings(result: bt.BacktestResult) -> dict[str, Decimal]:
    held: dict[str, Decimal] = collections.defaultdict(Decimal)
    for order in result.order_log:
        base, quote = order.instrument_id.split("@")[0].split("/")
        for event in order.events:
            if type(event).__name__ == "OrderFilled":
                sign = 1 if event.side == "BUY" else -1
                held[base] += sign * event.last_qty
                held[quote] += -sign * event.last_qty * event.last_px - event.fee
    return held


def test_halted_triangular_arbitrage_can_still_unwind_to_usdt() -> None:
    cfg = {
        "backtest": {"initial_cash": 100_000, "fee": 0.001, "fill_timing": "close"},
        # Defaults, except what has no meaning for hedged legs; a tiny daily-loss limit makes
        # the kill switch trip as soon as fees dent equity, mid-cycle.
        "risk_management": {
            "enabled": True,
            "global": {"max_daily_loss": 0.0001, "max_drawdown": 0.00001},
            "stop_loss": {"enabled": False},
            "take_profit": {"enabled": False},
            "performance": {"enabled": False},
            "limits": {"volatility_limit": 100.0, "correlation_limit": 1.0},
        },
        "strategies": {
            "tri": {
                "type": "TriangularArbitrageStrategy",
                "symbols": ["BTC/USDT", "ETH/USDT", "ETH/BTC"],
                "timeframes": ["1m"],
                "parameters": {"min_profit_threshold": 0.0},
                "position_sizing": {"method": "fixed_amount", "amount": 10_000.0},
            }
        },
    }
    result = bt.run(cfg)
    assert any(e.action == "halt" for e in result.risk_events)  # the kill switch did trip
    unwinds = result.orders[result.orders.tag == "unwind"]
    assert (unwinds.status == "FILLED").all(), unwinds.reason.unique().tolist()
    held = _holdings(result)
    assert abs(held["BTC"]) < Decimal("0.001") and abs(held["ETH"]) < Decimal("0.01"), held


# -- (1) HALTED lets a new short through as two "reducing" sells -----------------------------
class SellsTwiceWhenHalted(Strategy):
    """Bar 2: buys 100. Bar 10 (after a loss has halted trading): sends two sells of 100 in
    the same bar, each of which looks like it only reduces the long."""

    allow_short = True

    def on_bar(self, bar: BarView) -> None:
        if bar.i == 2:
            self.buy(quantity=100)
        elif bar.i == 10:
            self.sell(quantity=100, tag="exit_a")
            self.sell(quantity=100, tag="exit_b")


def test_halted_engine_does_not_let_working_sells_flip_into_a_short() -> None:
    closes = [100.0] * 5 + [90.0] * 25  # 10 % drop on the 100-unit long: daily-loss halt
    cfg = {
        "backtest": {"initial_cash": 100_000, "fee": 0.0},
        "exchanges": {"m": {"account_type": "margin"}},
        "risk_management": {
            **RELAXED_RISK,
            "position_limits": {"max_position_size": 1.0},
            "global": {"max_daily_loss": 0.005, "max_drawdown": None},
        },
        "strategies": {
            "s": {
                "type": f"{MOD}:SellsTwiceWhenHalted",
                "symbols": ["XYZ/USD"],
                "timeframes": ["1h"],
                "venue": "m",
                "position_sizing": {"method": "fixed_quantity", "quantity": 1},
            }
        },
    }
    result = bt.run(cfg, data={"XYZ/USD": flat(closes)}, engine_mode="per_bar")
    assert any(e.action == "halt" for e in result.risk_events)
    held = _holdings(result)
    assert held["XYZ"] >= 0, f"short {held['XYZ']} opened while halted"
