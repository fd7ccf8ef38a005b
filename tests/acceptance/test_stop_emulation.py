"""Venues without native stops: protective orders are held and released by the emulator."""

from __future__ import annotations

import pandas as pd
import pytest
from test_risk_engine import flat_frame, scripted, with_quiet

import genebot.backtest as bt
from genebot.testkit import gbm_bars


def run(
    frame: pd.DataFrame,
    stop: dict,
    take: dict | None = None,
    native: bool = False,
    mode: str = "per_bar",
) -> bt.BacktestResult:
    risk = with_quiet(stop_loss={"enabled": True, **stop}, take_profit=take or {"enabled": False})
    cfg = scripted(0.1, [0], [], risk, fill="next_open")
    cfg["exchanges"] = {"sim": {"native_stops": native}}
    cfg["strategies"]["s"]["venue"] = "sim"
    return bt.run(cfg, {"BTC/USDT": frame}, engine_mode=mode)


def bars(rows: list[tuple[float, float, float, float]]) -> pd.DataFrame:
    frame = flat_frame([r[3] for r in rows])
    frame[["open", "high", "low", "close"]] = rows
    return frame


# entry at bar 1's open (50,000); bar 2 trades down through the 2 % stop (49,000); bar 3 opens
# at 48,500. Native: fills at the stop. Emulated: the monitor sees bar 2 close, sends a market
# order, which fills at bar 3's open.
CRASH = bars(
    [
        (50_000, 50_000, 50_000, 50_000),
        (50_000, 50_100, 49_900, 50_000),
        (50_000, 50_000, 48_800, 48_900),
        (48_500, 48_600, 48_400, 48_500),
        (48_500, 48_500, 48_500, 48_500),
    ]
)


@pytest.mark.parametrize(
    ("native", "exit_price"), [(True, 49_000.0), (False, 48_500.0)], ids=["native", "emulated"]
)
def test_stop_loss_exit_price_native_vs_emulated(native: bool, exit_price: float) -> None:
    result = run(CRASH, {"default_percentage": 0.02}, native=native)
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "stop_loss" and trade["exit_price"] == exit_price
    stop = result.orders[result.orders["tag"] == "stop_loss"].iloc[0]
    if native:
        assert stop["status"] == "FILLED"
    else:
        released = result.orders[result.orders["tag"] == "stop_loss"]
        assert list(released["status"]) == ["RELEASED", "FILLED"]
        assert list(released["type"]) == ["STOP_MARKET", "MARKET"]
        assert released.iloc[0]["reason"] == f"released as {released.iloc[1]['client_order_id']}"


def test_emulated_stop_wins_when_one_bar_touches_stop_and_target() -> None:
    wild = bars(
        [
            (100, 100, 100, 100),
            (100, 100, 100, 100),
            (100, 106, 97, 100),
            (99, 99, 99, 99),
            (99, 99, 99, 99),
        ]
    )
    result = run(
        wild, {"default_percentage": 0.02}, take={"enabled": True, "default_percentage": 0.05}
    )
    assert result.trades.iloc[0]["exit_reason"] == "stop_loss"
    target = result.orders[result.orders["tag"] == "take_profit"].iloc[0]
    assert target["status"] == "CANCELED" and target["reason"] == "one-cancels-other"


@pytest.mark.parametrize("native", [True, False], ids=["native", "emulated"])
def test_a_gap_through_the_target_takes_the_target_either_way(native: bool) -> None:
    """Entry at 100 (stop 98, target 105); bar 2 opens at 106, then falls to 97: the open
    already reached the target, so the target wins, on the venue or in the emulator."""
    gap = bars([(100, 100, 100, 100), (100, 100, 100, 100), (106, 107, 97, 98), (98, 98, 98, 98)])
    take = {"enabled": True, "default_percentage": 0.05}
    result = run(gap, {"default_percentage": 0.02}, take=take, native=native)
    assert result.trades.iloc[0]["exit_reason"] == "take_profit"
    stop = result.orders[result.orders["tag"] == "stop_loss"].iloc[0]
    assert stop["reason"] == "one-cancels-other"


def test_emulated_trailing_stop_seed_example() -> None:
    path = bars(
        [
            (50_000, 50_000, 50_000, 50_000),
            (50_000, 52_000, 50_000, 52_000),
            (52_000, 55_000, 52_000, 55_000),
            (55_000, 55_000, 53_350, 53_500),
            (53_400, 53_400, 53_400, 53_400),
        ]
    )
    result = run(path, {"trailing_stop": True, "trailing_percentage": 0.03})
    trail = next(o for o in result.order_log if o.tag == "trailing_stop" and o.parent_id)
    stops = [e.trigger_price for e in trail.events if type(e).__name__ == "OrderUpdated"]
    assert [str(s) for s in stops] == ["50440.00", "53350.00"]
    trade = result.trades.iloc[0]
    assert trade["exit_reason"] == "trailing_stop" and trade["exit_price"] == 53_400.0


def test_fast_equals_per_bar_with_emulated_protection() -> None:
    frame = gbm_bars(12_000, seed=41)
    cfg = {
        "exchanges": {"sim": {"native_stops": False}},
        "backtest": {"initial_cash": 100_000, "fee": 0.001},
        "strategies": {
            "moving_average": {"venue": "sim", "symbols": ["SYN/USDT"], "timeframes": ["1m"]}
        },
        "risk_management": {
            "stop_loss": {"default_percentage": 0.003},
            "take_profit": {"default_percentage": 0.004},
            "limits": {"max_consecutive_losses": 99},
            "performance": {"enabled": False},
            "position_limits": {"max_position_size": 0.5},
        },
    }
    per_bar = bt.run(cfg, {"SYN/USDT": frame}, engine_mode="per_bar")
    fast = bt.run(cfg, {"SYN/USDT": frame}, engine_mode="fast")
    assert {"stop_loss", "take_profit"} <= set(per_bar.trades["exit_reason"])
    assert (per_bar.orders["status"] == "RELEASED").any()
    pd.testing.assert_frame_equal(per_bar.trades, fast.trades)
    pd.testing.assert_frame_equal(per_bar.equity, fast.equity)
