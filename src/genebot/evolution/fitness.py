"""Fitness: a candidate's backtests on walk-forward folds of the in-sample bars.

The bars are split once: the in-sample part (cut into consecutive folds; evolution sees only
these) and a held-out tail that only the final scoring reads. Every backtest is a plain
:func:`genebot.backtest.run` of the strategy config with the bars passed in memory (``data=``):
nothing is read from files during a search.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from genebot.backtest import run
from genebot.core.errors import GenebotError

EULER_GAMMA = 0.5772156649015329
Spec = dict[str, Any]  # {"type": strategy key, "parameters": {...}}: what a worker evaluates


@dataclass(frozen=True)
class FoldScore:
    sharpe: float
    max_drawdown: float  # <= 0
    trades: int
    total_return: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "sharpe": self.sharpe,
            "max_drawdown": self.max_drawdown,
            "trades": self.trades,
            "total_return": self.total_return,
        }


FAILED = FoldScore(-10.0, -1.0, 0, -1.0)  # a candidate whose parameters or run fail


@dataclass(frozen=True)
class Split:
    """Where the bars are cut: fold i is rows [bounds[i], bounds[i+1]); held-out rows start at
    ``holdout_start``."""

    bounds: tuple[int, ...]
    holdout_start: int
    rows: int

    @classmethod
    def of(cls, rows: int, folds: int, holdout: float) -> Split:
        if not 0 < holdout < 1:
            raise GenebotError(f"held-out share {holdout} must be between 0 and 1")
        start = int(rows * (1 - holdout))
        if folds < 1 or start < folds * 100 or rows - start < 100:
            raise GenebotError(
                f"{rows} bars are too few for {folds} folds of at least 100 bars and a held-out "
                f"tail of {holdout:.0%} (at least 100 bars)"
            )
        bounds = tuple(int(start * k / folds) for k in range(folds + 1))
        return cls(bounds, start, rows)


def run_config(base: Mapping[str, Any], spec: Spec, symbol: str, timeframe: str) -> dict[str, Any]:
    """The backtest config of one candidate: ``base`` (backtest, risk, exchanges sections) with
    the candidate as its only strategy."""
    cfg = {k: v for k, v in base.items() if k != "strategies"}
    entry: dict[str, Any] = {
        "type": spec["type"],
        "parameters": spec["parameters"],
        "symbols": [symbol],
        "timeframes": [timeframe],
    }
    entry.update(spec.get("strategy", {}))
    cfg["strategies"] = {"candidate": entry}
    return cfg


def score(result_stats: Mapping[str, Any]) -> FoldScore:
    sharpe = result_stats.get("sharpe")
    dd = result_stats.get("max_drawdown")
    return FoldScore(
        float(sharpe) if sharpe is not None and math.isfinite(sharpe) else 0.0,
        float(dd) if dd is not None else 0.0,
        int(result_stats.get("trades") or 0),
        float(result_stats.get("total_return") or 0.0),
    )


@dataclass
class Evaluator:
    """Backtests candidates on the folds. Picklable: sent once to each worker."""

    base: dict[str, Any]
    symbol: str
    timeframe: str
    folds: list[pd.DataFrame]
    seen_until: pd.Timestamp | None = field(default=None)  # the last bar evolution can see

    @classmethod
    def of(
        cls, base: dict[str, Any], symbol: str, timeframe: str, bars: pd.DataFrame, split: Split
    ) -> Evaluator:
        b = split.bounds
        folds = [bars.iloc[b[i] : b[i + 1]] for i in range(len(b) - 1)]
        return cls(base, symbol, timeframe, folds, folds[-1].index[-1])

    def evaluate(self, spec: Spec) -> list[FoldScore]:
        return [self.backtest(spec, fold) for fold in self.folds]

    def backtest(self, spec: Spec, bars: pd.DataFrame) -> FoldScore:
        cfg = run_config(self.base, spec, self.symbol, self.timeframe)
        try:
            result = run(cfg, data={self.symbol: bars})
        except GenebotError:
            return FAILED
        if result.strategy_errors:
            return FAILED
        return score(result.stats)


def objectives(
    scores: Sequence[FoldScore], size: int, min_trades: int, parsimony: float
) -> tuple[float, float, float]:
    """(mean fold Sharpe - parsimony x size, worst fold drawdown, trades): all maximized. Too
    few trades sink the candidate below every one that has enough."""
    trades = sum(s.trades for s in scores)
    sharpe = float(np.mean([s.sharpe for s in scores])) - parsimony * size
    drawdown = min(s.max_drawdown for s in scores)
    if trades < min_trades:
        return (-10.0 + trades / max(min_trades, 1), -1.0, float(trades))
    return (sharpe, drawdown, float(trades))


# -- multiple testing ---------------------------------------------------------------------------
def deflated_sharpe(
    returns: np.ndarray, trial_sharpes: Sequence[float], periods_per_year: float
) -> float | None:
    """Bailey & López de Prado's deflated Sharpe ratio: the probability that the true Sharpe of
    ``returns`` exceeds the best one expected among ``len(trial_sharpes)`` unskilled trials.

    ``trial_sharpes`` are the annualized Sharpe ratios of every candidate tried; ``returns`` are
    the chosen candidate's per-period returns (held-out). None when it cannot be computed."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n_trials = len(trial_sharpes)
    if r.shape[0] < 3 or n_trials < 2 or float(np.std(r)) == 0.0:
        return None
    sr = float(np.mean(r) / np.std(r, ddof=1))
    trials = np.asarray(trial_sharpes, dtype=float) / math.sqrt(periods_per_year)
    var_trials = float(np.var(trials, ddof=1))
    norm = NormalDist()
    expected_max = math.sqrt(max(var_trials, 0.0)) * (
        (1 - EULER_GAMMA) * norm.inv_cdf(1 - 1 / n_trials)
        + EULER_GAMMA * norm.inv_cdf(1 - 1 / (n_trials * math.e))
    )
    centered = r - r.mean()
    std = float(np.sqrt(np.mean(centered**2)))
    skew = float(np.mean(centered**3) / std**3)
    kurt = float(np.mean(centered**4) / std**4)
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr**2
    if denom <= 0:
        return None
    z = (sr - expected_max) * math.sqrt(r.shape[0] - 1) / math.sqrt(denom)
    return float(norm.cdf(z))
