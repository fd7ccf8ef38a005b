"""An exit signal ends the whole position: an entry still filling (volume participation) or
not yet live (latency) is canceled with it, in both engine modes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import genebot.backtest as bt


def flat_bars(n: int = 30, volume: float = 20.0) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="1min", tz="UTC")
    price = np.full(n, 100.0)
    return pd.DataFrame(
        {"open": price, "high": price + 0.5, "low": price - 0.5, "close": price, "volume": volume},
        index=index,
    )


def config(**backtest: object) -> dict:
    return {
        "backtest": backtest,
        "risk_management": {"enabled": False},
        "strategies": {
            "scripted": {
                "type": "strategies_for_tests:ScriptedSignals",
                "parameters": {"entry_at": [5], "exit_at": [7]},
                "symbols": ["SYN/USDT"],
                "timeframes": ["1m"],
                "position_sizing": {"method": "fixed_quantity", "quantity": 10},
            }
        },
    }


@pytest.mark.parametrize("mode", ["per_bar", "fast"])
def test_an_exit_cancels_the_rest_of_an_entry_filling_in_parts(mode: str) -> None:
    """2 units a bar may trade (10 % of 20): the entry of 10 has 4 when the exit comes."""
    result = bt.run(config(volume_participation=0.1), {"SYN/USDT": flat_bars()}, engine_mode=mode)
    orders = result.orders.set_index("tag")
    entry = result.orders.iloc[0]
    assert (entry["status"], entry["filled_qty"], entry["reason"]) == (
        "CANCELED",
        "4.00000000",
        "exit signal",
    )
    assert list(result.trades["quantity"]) == [4.0]
    assert result.stats["open_positions"] == 0
    assert set(orders.index) == {"signal"}
