"""Builders shared by genebot's tests and benchmarks (importable by users' tests too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd


def gbm_bars(
    n: int,
    *,
    seed: int = 7,
    start: str = "2021-01-01",
    freq: str = "1min",
    price: float = 100.0,
    sigma: float = 0.0005,
) -> pd.DataFrame:
    """Seeded geometric-Brownian-motion OHLCV bars with consistent high/low."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.concatenate(([price], close[:-1]))
    wiggle = np.abs(rng.normal(0.0, sigma / 2, n))
    high = np.maximum(open_, close) * (1 + wiggle)
    low = np.minimum(open_, close) * (1 - wiggle)
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp")
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.uniform(1.0, 100.0, n),
        },
        index=index,
    )
    return frame.round(2)


def ma_config(
    symbol: str, timeframe: str, quantity: float, *, risk: dict | bool = False, **backtest: object
) -> dict:
    """The reference MovingAverage 10/20 configuration with fixed-quantity sizing. The risk
    engine is off unless ``risk`` is True (seed defaults) or a ``risk_management`` mapping."""
    risk_section = risk if isinstance(risk, dict) else {"enabled": bool(risk)}
    return {
        "risk_management": risk_section,
        "backtest": {"initial_cash": 100_000, "fee": 0.001, **backtest},
        "strategies": {
            "moving_average": {
                "parameters": {"short_period": 10, "long_period": 20},
                "symbols": [symbol],
                "timeframes": [timeframe],
                "position_sizing": {"method": "fixed_quantity", "quantity": quantity},
            }
        },
    }


def run_cli(
    *args: str, cwd: str | Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``genebot ARGS`` as a user would (a real subprocess), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "genebot.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
