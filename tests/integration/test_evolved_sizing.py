"""The evolved strategies' sizing gene: ``size`` buys that fraction of the sleeve's equity on
each entry (0: the config's position_sizing), in a real backtest on the bundled bars."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from genebot.backtest import run
from genebot.config.loader import load_config
from genebot.evolution.genome import GENES

ROOT = Path(__file__).resolve().parents[2]


def _first_entry_value(size: float) -> Decimal:
    params: dict[str, Any] = {"entry": "crosses_above(SMA(10), SMA(50))",
                              "exit": "crosses_below(SMA(10), SMA(50))", "size": size}  # fmt: skip
    cfg = load_config({
        "backtest": {"data_dir": str(ROOT / "data/sample"), "start_date": "2021-05-01",
                     "end_date": "2021-06-15", "initial_cash": 10_000},
        "risk_management": {"enabled": False},
        "strategies": {"evo": {"type": "evolved", "parameters": params,
                               "symbols": ["BTC/USDT"], "timeframes": ["1h"]}},
    })  # fmt: skip
    first = run(cfg).closed_trades[0]
    return first.entry_price * first.quantity


@pytest.mark.parametrize("size", [0.05, 0.3])
def test_the_size_gene_buys_that_share_of_the_equity(size: float) -> None:
    value = _first_entry_value(size)
    assert abs(value / Decimal(10_000) - Decimal(str(size))) < Decimal("0.002")


def test_size_zero_keeps_the_configs_sizing_and_is_an_evolved_gene() -> None:
    assert abs(_first_entry_value(0.0) / Decimal(10_000) - Decimal("0.1")) < Decimal("0.002")
    assert 0.0 in GENES["size"] and max(GENES["size"]) <= 1.0
