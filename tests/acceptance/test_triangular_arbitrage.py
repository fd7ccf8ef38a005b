"""Triangular arbitrage on the bundled ETH triangle (BTC/USDT, ETH/USDT, ETH/BTC, 1m)."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.backtest.lookahead import check_lookahead

NOTIONAL = 10_000.0


def config(threshold: float = 0.0, risk: dict | None = None, fill: str = "close") -> dict:
    return {
        "backtest": {"initial_cash": 100_000, "fee": 0.001, "fill_timing": fill},
        "risk_management": risk or {"enabled": False},
        "strategies": {
            "tri": {
                "type": "TriangularArbitrageStrategy",
                "symbols": ["BTC/USDT", "ETH/USDT", "ETH/BTC"],
                "timeframes": ["1m"],
                "parameters": {"min_profit_threshold": threshold},
                "position_sizing": {"method": "fixed_amount", "amount": NOTIONAL},
            }
        },
    }


@pytest.fixture(scope="module")
def result() -> bt.BacktestResult:
    return bt.run(config())


def test_cycles_trade_all_three_legs_with_a_fee_on_each(result: bt.BacktestResult) -> None:
    orders = result.orders
    legs = orders.groupby("tag")["status"].agg(lambda s: set(s))
    assert set(legs.index) == {"leg1", "leg2", "leg3"}
    assert all(statuses == {"FILLED"} for statuses in legs)
    counts = orders.tag.value_counts()
    assert counts["leg1"] == counts["leg2"] == counts["leg3"] >= 10
    assert set(orders.symbol) == {"BTC/USDT", "ETH/USDT", "ETH/BTC"}
    fills = [e for o in result.order_log for e in o.events if type(e).__name__ == "OrderFilled"]
    assert len(fills) == len(orders)
    for fill in fills:  # 0.1 % of each leg's notional, in that pair's quote currency
        expected = (fill.last_qty * fill.last_px * Decimal("0.001")).quantize(Decimal("1e-8"))
        assert fill.fee == expected and fill.fee > 0


def test_each_cycle_started_only_when_its_net_return_beat_the_threshold() -> None:
    frames = {
        s: pd.read_csv(
            f"data/sample/crypto/binance_{s.replace('/', '-')}_1m.csv",
            index_col=0,
            parse_dates=True,
        )["close"]
        for s in ("BTC/USDT", "ETH/USDT", "ETH/BTC")
    }
    closes = pd.DataFrame(frames)
    keep = 0.999**3
    forward = closes["ETH/USDT"] / (closes["BTC/USDT"] * closes["ETH/BTC"]) * keep - 1
    reverse = closes["BTC/USDT"] * closes["ETH/BTC"] / closes["ETH/USDT"] * keep - 1
    best = pd.concat([forward, reverse], axis=1).max(axis=1)
    threshold = 0.002
    run = bt.run(config(threshold=threshold))
    starts = pd.to_datetime(run.orders[run.orders.tag == "leg1"].created, utc=True)
    decided_on = starts - pd.Timedelta(minutes=1)  # decided at the close of this bar
    assert len(starts) > 0
    assert (best.reindex(decided_on).to_numpy() > threshold).all()
    assert len(starts) < (best > threshold).sum() + 1  # never more cycles than chances


def test_profit_matches_the_priced_returns(result: bt.BacktestResult) -> None:
    gained = result.stats["final_equity"] - 100_000
    assert gained > 0
    cycles = result.orders.tag.value_counts()["leg1"]
    per_cycle = gained / cycles / NOTIONAL
    assert 0 < per_cycle < 0.05  # small, positive edges after three fees


def test_a_refused_leg_is_unwound_back_to_usdt() -> None:
    # The risk engine allows one open position: leg 2 (a second pair) is denied.
    risk = {
        "position_limits": {"max_positions": 1, "max_position_size": 1.0},
        "stop_loss": {"enabled": False},
        "take_profit": {"enabled": False},
        "limits": {
            "max_portfolio_heat": 1.0,
            "volatility_limit": 100.0,
            "correlation_limit": 1.0,
            "max_consecutive_losses": 1000,
        },
        "performance": {"enabled": False},
        "global": {"max_drawdown": None, "max_daily_loss": 1.0},
        "protections": {"stoploss_guard": {"enabled": False}},
    }
    cfg = config(risk=risk)
    # From just before the first forward opportunity (00:07): leg 2 opens a second pair.
    cfg["backtest"].update(start_date="2021-05-13T00:05:00Z", end_date="2021-05-13T06:00:00Z")
    run = bt.run(cfg)
    denied = run.orders[run.orders.status == "DENIED"]
    leg2 = denied[denied.tag == "leg2"]
    assert len(leg2) > 0 and leg2.reason.str.startswith("max_positions").all()
    assert set(denied.tag) <= {"leg1", "leg2"}  # a refused first leg leaves nothing to unwind
    unwinds = run.orders[run.orders.tag == "unwind"]
    assert len(unwinds) == len(leg2) and (unwinds.status == "FILLED").all()
    # Each unwind sells exactly what its refused cycle's first leg bought.
    bought = run.orders[(run.orders.tag == "leg1") & (run.orders.status == "FILLED")]
    for unwind in unwinds.itertuples():
        assert unwind.quantity in set(bought.filled_qty)


def test_lookahead_free() -> None:
    assert check_lookahead(config()).passed


def test_pinned_fingerprint(result: bt.BacktestResult) -> None:
    # Golden master on the bundled ETH triangle, 13–19 May 2021: re-pin only with a reason.
    assert result.stats["orders"] == 105
    assert str(result.final_equity_exact) == "101465.1535729717"
