"""Cross-market arbitrage: one symbol on two venues, opened on a net spread, unwound on failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.core.errors import ParameterError
from genebot.testkit import gbm_bars


def venues_data(seed: int = 3, n: int = 3_000) -> dict[str, pd.DataFrame]:
    """Venue beta tracks alpha, but every 300 bars it runs 1 % rich for 20 bars."""
    alpha = gbm_bars(n, seed=seed)
    premium = np.zeros(n)
    for start in range(150, n, 300):
        premium[start : start + 20] = 0.01
    beta = alpha.copy()
    for col in ("open", "high", "low", "close"):
        beta[col] = (alpha[col] * (1 + premium)).round(2)
    return {"SYN/USDT@alpha": alpha, "SYN/USDT@beta": beta}


def config(beta_account: str = "margin", threshold: float = 0.002) -> dict:
    return {
        "exchanges": {
            "alpha": {"account_type": "margin", "taker_fee": 0.0005},
            "beta": {"account_type": beta_account, "taker_fee": 0.0005},
        },
        "backtest": {"initial_cash": 100_000},
        "risk_management": {"enabled": False},
        "strategies": {
            "arb": {
                "type": "CrossMarketArbitrageStrategy",
                "venues": ["alpha", "beta"],
                "symbols": ["SYN/USDT"],
                "timeframes": ["1m"],
                "parameters": {"price_threshold": threshold},
                "position_sizing": {"method": "fixed_quantity", "quantity": 100},
            }
        },
    }


def test_opens_on_the_net_spread_and_closes_on_convergence() -> None:
    result = bt.run(config(), venues_data())
    trades = result.trades
    assert len(trades) == 2 * 10  # ten premium episodes, two legs each
    buys = trades[trades.side == "long"]
    sells = trades[trades.side == "short"]
    assert len(buys) == len(sells) == 10  # a symbol on two venues is named with its venue:
    assert set(trades.symbol) == {"SYN/USDT@alpha", "SYN/USDT@beta"}
    assert set(trades.exit_reason) == {"converged"}
    assert (buys.quantity.to_numpy() == sells.quantity.to_numpy()).all()
    venues = result.orders.groupby("side")["venue"].agg(set)
    assert venues["BUY"] == {"alpha", "beta"} and venues["SELL"] == {"alpha", "beta"}
    assert result.stats["final_equity"] > 100_000  # 1 % spreads beat 0.2 % of fees


def test_spread_under_fees_plus_threshold_never_trades() -> None:
    result = bt.run(config(threshold=0.009), venues_data())  # 1 % − 0.2 % fees < 0.9 %
    assert result.stats["trades"] == 0 and result.stats["orders"] == 0


def test_a_refused_leg_is_unwound() -> None:
    result = bt.run(config(beta_account="spot"), venues_data())
    denied = result.orders[result.orders.status == "DENIED"]
    assert len(denied) > 0 and denied.venue.eq("beta").all()
    assert set(result.trades.exit_reason) == {"unwind"}
    assert result.stats["open_positions"] == 0


def test_it_needs_one_symbol_on_two_venues() -> None:
    cfg = config()
    cfg["strategies"]["arb"]["venues"] = ["alpha"]
    with pytest.raises(ParameterError, match="needs exactly one symbol on two venues"):
        bt.run(cfg, venues_data())  # the user's to fix: the run stops with the reason


@pytest.mark.parametrize("speed", ["market", "limit"])
def test_lookahead_free(speed: str) -> None:
    from genebot.backtest.lookahead import check_lookahead

    cfg = config()
    cfg["strategies"]["arb"]["parameters"]["execution_speed"] = speed
    assert check_lookahead(cfg, venues_data(n=1_200)).passed


def test_each_venues_candles_carry_their_own_trade_markers(tmp_path: Path) -> None:
    result = bt.run(config(), venues_data())
    result.write(tmp_path)
    html = (tmp_path / "report.html").read_text()
    for venue in ("alpha", "beta"):
        assert f"<h2>Candles SYN/USDT@{venue}</h2>" in html
    assert html.count('"name":"Exits (10)"') == 2  # ten exits on each venue's chart
