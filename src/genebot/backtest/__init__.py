"""Backtesting: ``genebot.backtest.run(config, data=None) -> BacktestResult``."""

from __future__ import annotations

from genebot.backtest.result import BacktestResult
from genebot.backtest.runner import run

__all__ = ["BacktestResult", "run"]
