"""Backtesting: ``genebot.backtest.run(config, data=None) -> BacktestResult``; many at once over
data loaded once: ``genebot.backtest.run_many(configs, data=None) -> list[BacktestResult]``.

``run`` and ``BacktestResult`` load on first use, so a command that only needs the config
(``genebot db``, ``genebot config``) starts without pandas and plotly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genebot.backtest.batch import run_many
    from genebot.backtest.result import BacktestResult
    from genebot.backtest.runner import run

__all__ = ["BacktestResult", "run", "run_many"]


def __getattr__(name: str) -> Any:
    if name == "run":
        from genebot.backtest.runner import run

        return run
    if name == "run_many":
        from genebot.backtest.batch import run_many

        return run_many
    if name == "BacktestResult":
        from genebot.backtest.result import BacktestResult

        return BacktestResult
    raise AttributeError(f"module 'genebot.backtest' has no attribute {name!r}")
