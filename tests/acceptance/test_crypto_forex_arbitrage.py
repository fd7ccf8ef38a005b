"""Crypto-forex arbitrage: BTC/USD vs BTC/EUR × EUR/USD (synthetic: no bundled BTC/EUR)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt
from genebot.core.errors import ParameterError
from genebot.strategies.crypto_forex_arbitrage import CryptoForexArbitrageStrategy
from genebot.testkit import gbm_bars


def market(lag_every: int = 200, n: int = 2_000) -> dict[str, pd.DataFrame]:
    """BTC/EUR follows BTC/USD ÷ EUR/USD, except that every ``lag_every`` bars it is 1 % cheap
    for 10 bars (a lagging fiat leg)."""
    btc_usd = gbm_bars(n, seed=5, price=40_000.0)
    eur_usd = gbm_bars(n, seed=6, price=1.2, sigma=0.0001)
    eur_usd = eur_usd.assign(**{c: eur_usd[c].round(5) for c in ("open", "high", "low", "close")})
    gap = np.ones(n)
    for start in range(100, n, lag_every):
        gap[start : start + 10] = 0.99
    btc_eur = btc_usd.copy()
    for col in ("open", "high", "low", "close"):
        btc_eur[col] = (btc_usd[col] / eur_usd["close"] * gap).round(2)
    btc_eur["high"] = btc_eur[["open", "high", "close"]].max(axis=1)
    btc_eur["low"] = btc_eur[["open", "low", "close"]].min(axis=1)
    return {"BTC/USD": btc_usd, "BTC/EUR": btc_eur, "EUR/USD": eur_usd}


def config(threshold: float = 0.002) -> dict:
    return {
        "backtest": {
            "initial_cash": 100_000,
            "fee": 0.001,
            "fill_timing": "close",
            "quote_currency": "USD",
        },
        "risk_management": {"enabled": False},
        "strategies": {
            "cfx": {
                "type": "crypto_forex_arbitrage",
                "symbols": ["BTC/USD", "BTC/EUR", "EUR/USD"],
                "timeframes": ["1m"],
                "parameters": {"spread_threshold": threshold},
                "position_sizing": {"method": "fixed_amount", "amount": 10_000},
            }
        },
    }


def test_a_lagging_fiat_leg_is_arbitraged_at_a_profit() -> None:
    result = bt.run(config(), market())
    legs = result.orders.tag.value_counts()
    assert legs["leg1"] == legs["leg2"] == legs["leg3"] >= 5
    assert (result.orders.status == "FILLED").all()
    assert result.stats["final_equity"] > 100_000


def test_no_cycle_when_the_gap_is_smaller_than_fees_plus_threshold() -> None:
    result = bt.run(config(threshold=0.01), market())  # 1 % gap − 0.3 % fees < 1 %
    assert result.stats["orders"] == 0


def test_pairs_must_form_the_triangle() -> None:
    with pytest.raises(ParameterError, match="one coin in the two currencies"):
        CryptoForexArbitrageStrategy({"crypto_pairs": ["BTC/USD", "ETH/EUR"]})
