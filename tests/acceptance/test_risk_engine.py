"""The risk engine through the whole backtest: seed examples, parity, and a property."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genebot.backtest as bt
from genebot.testkit import gbm_bars


def flat_frame(prices: list[float], start: str = "2021-03-01") -> pd.DataFrame:
    """Bars whose open and close are the given prices (high/low span both)."""
    close = np.array(prices, dtype=float)
    open_ = np.concatenate(([close[0]], close[:-1]))
    idx = pd.date_range(start, periods=len(close), freq="1h", tz="UTC", name="timestamp")
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close),
            "low": np.minimum(open_, close),
            "close": close,
            "volume": 1_000.0,
        },
        index=idx,
    )


def scripted(
    qty: float,
    buy_at: list[int],
    close_at: list[int],
    risk: dict,
    cash: float = 10_000,
    fill: str = "close",
) -> dict:
    return {
        "backtest": {"initial_cash": cash, "fee": 0.0, "fill_timing": fill},
        "strategies": {
            "s": {
                "type": "strategies_for_tests:Scripted",
                "parameters": {"buy_at": buy_at, "close_at": close_at},
                "symbols": ["BTC/USDT"],
                "timeframes": ["1h"],
                "position_sizing": {"method": "fixed_quantity", "quantity": qty},
            }
        },
        "risk_management": risk,
    }


QUIET = {  # only the rule under test binds
    "stop_loss": {"enabled": False},
    "take_profit": {"enabled": False},
    "performance": {"enabled": False},
    "limits": {"max_portfolio_heat": 1.0, "volatility_limit": 10.0, "max_consecutive_losses": 99},
    "position_limits": {"max_position_size": 1.0},
    "global": {"max_drawdown": None},
}


def with_quiet(**sections: dict) -> dict:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in QUIET.items()}
    for key, value in sections.items():
        merged[key] = {**merged.get(key, {}), **value}
    return merged


def events(result: bt.BacktestResult, action: str | None = None) -> pd.DataFrame:
    table = result.risk_table
    return table if action is None else table[table["action"] == action]


def test_seed_position_auto_resize() -> None:
    data = {"BTC/USDT": flat_frame([50_000.0] * 6)}
    risk = with_quiet(position_limits={"max_position_size": 0.10})
    result = bt.run(scripted(0.5, [1], [], risk), data)
    entry = result.orders.iloc[0]
    assert entry["quantity"] == "0.02000" and entry["status"] == "FILLED"
    resized = events(result, "resize")
    assert resized["rule"].tolist() == ["max_position_size"]
    assert "resized to 0.02" in resized["detail"].iloc[0]


def test_seed_daily_loss_trips_the_kill_switch_and_lifts_at_the_reset() -> None:
    # 10,000: buy 1 at 3,000, sell at 2,700 (−300); buy at 2,700, sell at 2,450 (−250).
    prices = [3_000, 3_000, 2_700, 2_700, 2_450, 2_450, 2_450, 2_450] + [2_450] * 20
    data = {"BTC/USDT": flat_frame([float(p) for p in prices], start="2021-03-01 01:00")}
    risk = with_quiet(limits={"max_consecutive_losses": 99})
    result = bt.run(scripted(1.0, [1, 3, 6, 25], [2, 4], risk), data)
    halts = events(result, "halt")
    assert halts["rule"].tolist() == ["daily_loss"]
    assert "550.00 = 5.50% of start-of-day equity 10000.00" in halts["detail"].iloc[0]
    denied = events(result, "deny")
    assert denied["rule"].tolist() == ["kill_switch"]  # the bar-6 entry, same day
    assert "daily_loss" in denied["detail"].iloc[0]
    resumed = events(result, "reset")
    assert resumed["timestamp"].tolist() == ["2021-03-02T00:00:00Z"]
    assert len(result.trades) == 2 and result.stats["open_positions"] == 1  # bar 25 traded


@pytest.mark.parametrize(("losses", "halted"), [(2, False), (3, True)], ids=["2", "3"])
def test_seed_consecutive_losses(losses: int, halted: bool) -> None:
    prices: list[float] = [100.0]
    buys, closes = [], []
    for _ in range(losses):
        buys.append(len(prices))
        prices += [100.0]
        closes.append(len(prices))
        prices += [99.0, 100.0]
    buys.append(len(prices))
    prices += [100.0] * 3
    risk = with_quiet(
        limits={"max_consecutive_losses": 3, "max_portfolio_heat": 1.0, "volatility_limit": 10.0}
    )
    result = bt.run(scripted(1.0, buys, closes, risk), {"BTC/USDT": flat_frame(prices)})
    assert (events(result, "halt")["rule"].tolist() == ["consecutive_losses"]) is halted
    assert (result.stats["open_positions"] == 0) is halted


def test_seed_stop_loss_and_take_profit_levels() -> None:
    data = {"BTC/USDT": flat_frame([50_000.0] * 5)}
    risk = with_quiet(
        stop_loss={"enabled": True, "default_percentage": 0.02},
        take_profit={"enabled": True, "default_percentage": 0.05},
        limits={"max_portfolio_heat": 1.0},
    )
    result = bt.run(scripted(0.1, [1], [], risk), data)
    children = result.orders[result.orders["parent_id"] != ""]
    levels = dict(
        zip(
            children["tag"],
            children["trigger_price"].where(children["type"] != "LIMIT", children["price"]),
            strict=True,
        )
    )
    assert levels == {"stop_loss": "49000.00", "take_profit": "52500.00"}


def test_seed_trailing_stop_through_config() -> None:
    prices = [50_000.0, 50_000.0, 52_000.0, 55_000.0, 53_350.0, 53_000.0]
    frame = flat_frame(prices)
    risk = with_quiet(
        stop_loss={"enabled": True, "trailing_stop": True, "trailing_percentage": 0.03}
    )
    result = bt.run(scripted(0.1, [0], [], risk), {"BTC/USDT": frame})
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "trailing_stop" and trade["exit_price"] == 53_350.0


def test_fast_mode_equals_per_bar_with_the_risk_engine_on() -> None:
    data = {"SYN/USDT": gbm_bars(20_000, seed=12)}
    cfg = {
        "backtest": {"initial_cash": 100_000, "fee": 0.001},
        "strategies": {
            "moving_average": {
                "symbols": ["SYN/USDT"],
                "timeframes": ["1m"],
                "position_sizing": {"method": "fixed_fractional", "fraction": 0.01},
            }
        },
        "risk_management": {
            "limits": {"max_consecutive_losses": 99},
            "stop_loss": {"default_percentage": 0.003},
            "take_profit": {"default_percentage": 0.004},
            "performance": {"enabled": False},
            "position_limits": {"max_position_size": 0.5},
        },
    }
    per_bar = bt.run(cfg, data, engine_mode="per_bar")
    fast = bt.run(cfg, data, engine_mode="fast")
    assert len(per_bar.trades) > 10
    assert {"stop_loss", "take_profit"} & set(per_bar.trades["exit_reason"])
    pd.testing.assert_frame_equal(per_bar.trades, fast.trades)
    pd.testing.assert_frame_equal(per_bar.equity, fast.equity)
    pd.testing.assert_frame_equal(per_bar.risk_table, fast.risk_table)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    data_seed=st.integers(0, 100),
    max_positions=st.integers(1, 2),
    size=st.sampled_from([0.05, 0.2, 0.5]),
    heat=st.sampled_from([0.01, 0.05, 0.3]),
)
def test_no_fill_ever_violates_an_active_limit(
    seed: int, data_seed: int, max_positions: int, size: float, heat: float
) -> None:
    data = {
        "AAA/USDT": gbm_bars(400, seed=data_seed, freq="1h"),
        "BBB/USDT": gbm_bars(400, seed=data_seed + 1, freq="1h"),
    }
    cfg = {
        "backtest": {"initial_cash": 10_000, "fee": 0.001, "fill_timing": "close"},
        "strategies": {
            "r": {
                "type": "strategies_for_tests:RandomTrader",
                "parameters": {"seed": seed},
                "symbols": ["AAA/USDT", "BBB/USDT"],
                "timeframes": ["1h"],
            }
        },
        "risk_management": {
            "position_limits": {"max_positions": max_positions, "max_position_size": size},
            "limits": {
                "max_portfolio_heat": heat,
                "max_consecutive_losses": 99,
                "volatility_limit": 10.0,
            },
            "performance": {"enabled": False},
            "global": {"max_drawdown": None},
        },
    }
    result = bt.run(cfg, data, engine_mode="per_bar")
    filled = result.orders[result.orders["status"] == "FILLED"]
    positions: dict[str, float] = {}
    for order in filled.itertuples():
        signed = float(order.quantity) * (1 if order.side == "BUY" else -1)
        positions[order.symbol] = positions.get(order.symbol, 0.0) + signed
        held = {s: q for s, q in positions.items() if abs(q) > 1e-12}
        assert len(held) <= max_positions
        at = pd.Timestamp(order.updated)
        equity = result.equity["equity"].asof(at) if at >= result.equity.index[0] else 10_000
        notional = abs(positions[order.symbol]) * float(order.avg_price)
        if order.parent_id == "" and abs(positions[order.symbol]) > 0:
            assert notional <= size * equity * 1.002 + 1e-6  # fees move equity a hair
            stop = 0.02 * notional
            assert stop <= heat * equity * 1.002 + 1e-6


def test_break_even_moves_the_stop_to_the_entry() -> None:
    # Entry 100 at bar 1; +1 % reached on bar 2 moves the stop from 98 to 100; bar 4 falls
    # through 100 and the position exits at break-even instead of the old 2 % stop.
    prices = [100.0, 100.0, 101.5, 101.0, 99.0, 97.0]
    risk = with_quiet(
        stop_loss={"enabled": True, "default_percentage": 0.02, "break_even_trigger": 0.01}
    )
    result = bt.run(
        scripted(1.0, [0], [], risk, fill="next_open"), {"BTC/USDT": flat_frame(prices)}
    )
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "stop_loss"
    assert trade["entry_price"] == 100.0 and trade["exit_price"] == 100.0


@pytest.mark.parametrize("bars", [1, 3])
def test_time_exit_closes_after_n_bars(bars: int) -> None:
    prices = [100.0 + i * 0.1 for i in range(12)]
    risk = with_quiet(
        stop_loss={"enabled": True, "time_exit_bars": bars, "default_percentage": 0.5}
    )
    result = bt.run(
        scripted(1.0, [0], [], risk, fill="next_open"), {"BTC/USDT": flat_frame(prices)}
    )
    trade = result.trades.iloc[0]
    held = pd.Timestamp(trade["exit_time"]) - pd.Timestamp(trade["entry_time"])
    assert trade["exit_reason"] == "time_exit" and held == pd.Timedelta(hours=bars)
    stop = result.orders[result.orders["tag"] == "stop_loss"].iloc[0]
    assert stop["status"] == "CANCELED" and stop["reason"] == "one-cancels-other"


def test_trailing_by_atr_multiple_fixes_the_distance_at_entry() -> None:
    import talib

    frame = gbm_bars(300, seed=21, freq="1h")
    risk = with_quiet(
        stop_loss={"enabled": True, "trailing_stop": True, "trailing_atr_multiple": 2.0}
    )
    result = bt.run(scripted(1.0, [20], [], risk, fill="next_open"), {"BTC/USDT": frame})
    trail = next(o for o in result.order_log if o.tag == "trailing_stop")
    atr = talib.ATR(frame.high.to_numpy(), frame.low.to_numpy(), frame.close.to_numpy(), 14)
    offset = 2 * atr[20] / frame.close.iloc[20]  # k × ATR at the decision bar, as a fraction
    entry = float(trail.events[0].price)  # the trail starts from the entry fill
    assert float(trail.trailing_offset) == pytest.approx(offset, rel=1e-9)
    assert float(trail.events[0].trigger_price) == pytest.approx(entry * (1 - offset), abs=0.006)


def test_realized_slippage_beyond_tolerance_is_flagged() -> None:
    prices = [100.0, 100.0, 100.0]
    frame = flat_frame(prices)
    frame.loc[frame.index[2], "open"] = 102.0  # the next open gaps 2 % above the decision
    frame["high"] = frame[["open", "close", "high"]].max(axis=1)
    result = bt.run(scripted(1.0, [1], [], with_quiet(), fill="next_open"), {"BTC/USDT": frame})
    flags = events(result, "flag")
    assert flags["rule"].tolist() == ["slippage"]
    assert "slippage 2.00% > tolerance 0.50%" in flags["detail"].iloc[0]


def test_fast_equals_per_bar_with_break_even_time_exit_and_atr_trailing() -> None:
    data = {"SYN/USDT": gbm_bars(15_000, seed=31)}
    for stop in (
        {"default_percentage": 0.004, "break_even_trigger": 0.002, "time_exit_bars": 40},
        {"trailing_stop": True, "trailing_atr_multiple": 3.0, "time_exit_bars": 60},
    ):
        cfg = {
            "backtest": {"initial_cash": 100_000, "fee": 0.001},
            "strategies": {
                "moving_average": {
                    "symbols": ["SYN/USDT"],
                    "timeframes": ["1m"],
                    "position_sizing": {"method": "percent_equity", "fraction": 0.2},
                }
            },
            "risk_management": {
                "stop_loss": {"enabled": True, **stop},
                "take_profit": {"enabled": False},
                "limits": {"max_consecutive_losses": 99},
                "performance": {"enabled": False},
                "position_limits": {"max_position_size": 0.5},
            },
        }
        per_bar = bt.run(cfg, data, engine_mode="per_bar")
        fast = bt.run(cfg, data, engine_mode="fast")
        assert "time_exit" in set(per_bar.trades["exit_reason"])
        pd.testing.assert_frame_equal(per_bar.trades, fast.trades)
        pd.testing.assert_frame_equal(per_bar.equity, fast.equity)
