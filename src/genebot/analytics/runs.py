"""Fresh backtests of the configured strategies, each alone on the same data, cut to the last
N days of that data: daily returns, window stats, trade distribution, P&L decomposition and
efficiency."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from genebot.backtest.result import BacktestResult
from genebot.backtest.runner import run
from genebot.config.loader import GenebotConfig, apply_overrides
from genebot.core.errors import InputError, ParameterError

MIN_DAYS = 3


@dataclass
class StrategyWindow:
    """One strategy's backtest cut to the window."""

    name: str
    equity: pd.Series  # equity over the window (with the last point before it as base)
    trades: pd.DataFrame  # round trips that closed in the window
    result: BacktestResult | None  # None: from a deployment's history (genebot.analytics.history)

    @property
    def daily_returns(self) -> pd.Series:
        daily = self.equity.resample("1D").last().dropna()
        base = self.equity.iloc[:1]
        returns: pd.Series = pd.concat([base, daily]).pct_change().dropna()
        return returns.iloc[-self.days :]

    @property
    def days(self) -> int:
        span = self.equity.index[-1] - self.equity.index[0]
        return max(1, int(np.ceil(span / pd.Timedelta(days=1))))


def strategy_names(cfg: GenebotConfig) -> list[str]:
    return [n for n, s in cfg.strategies.items() if s.enabled]


def check_names(cfg: GenebotConfig, names: Sequence[str]) -> None:
    known = strategy_names(cfg)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(
            f"unknown strategy {', '.join(unknown)}; the config has {', '.join(known)}"
        )


def run_alone(cfg: GenebotConfig, name: str) -> BacktestResult:
    """``name`` backtested by itself on the config's data (no orchestrator)."""
    alone = apply_overrides(cfg, strategy=name).model_copy(update={"orchestrator": None})
    try:
        return run(alone)
    except ParameterError as exc:
        raise InputError(f"{name}: cannot run: {exc}") from None


def cut(result: BacktestResult, name: str, days: int) -> StrategyWindow:
    """The result's last ``days`` days (from its last bar back)."""
    if days < MIN_DAYS:
        raise InputError(f"--days {days}: at least {MIN_DAYS} days are needed")
    equity = result.equity["equity"].astype(float)
    if equity.empty:
        raise InputError(f"{name}: the backtest has no bars")
    end = equity.index[-1]
    start = end - pd.Timedelta(days=days)
    have = (end - equity.index[0]) / pd.Timedelta(days=1)
    if have < MIN_DAYS:
        raise InputError(f"{name}: only {have:.1f} days of data, at least {MIN_DAYS} needed")
    before = equity[equity.index <= start]
    window = equity[equity.index > start]
    if not before.empty:
        window = pd.concat([before.iloc[-1:], window])
    trades = result.trades
    if not trades.empty:
        trades = trades[trades["exit_time"] > start]
    return StrategyWindow(name, window, trades.copy(), result)


def windows(cfg: GenebotConfig, names: Sequence[str], days: int) -> dict[str, StrategyWindow]:
    """Each strategy backtested alone and cut to the last ``days`` days."""
    check_names(cfg, names)
    return {n: cut(run_alone(cfg, n), n, days) for n in names}


def returns_frame(runs: dict[str, StrategyWindow]) -> pd.DataFrame:
    """Daily returns, one column per strategy, on the days every strategy has."""
    frame = pd.DataFrame({n: w.daily_returns for n, w in runs.items()}).dropna()
    if len(frame) < 2:
        raise InputError("too few days of data: fewer than 2 daily returns in the window")
    return frame


def window_stats(w: StrategyWindow) -> dict[str, float]:
    """Return, annualized volatility and Sharpe, max drawdown, trades and win rate."""
    equity = w.equity
    daily = w.daily_returns
    std = float(daily.std(ddof=1)) if len(daily) > 1 else 0.0
    peak = equity.cummax()
    drawdown = float((1 - equity / peak).max()) if len(equity) else 0.0
    pnl = w.trades["pnl"].astype(float) if not w.trades.empty else pd.Series(dtype=float)
    return {
        "total_return": float(equity.iloc[-1] / equity.iloc[0] - 1),
        "volatility": std * float(np.sqrt(365)),
        "sharpe": float(daily.mean()) / std * float(np.sqrt(365)) if std > 0 else 0.0,
        "max_drawdown": drawdown,
        "trades": float(len(pnl)),
        "win_rate": float((pnl > 0).mean()) if len(pnl) else 0.0,
        "pnl": float(pnl.sum()),
    }


def trade_distribution(trades: pd.DataFrame) -> dict[str, object]:
    """Wins and losses, average win/loss, best/worst, and P&L by exit hour and weekday."""
    if trades.empty:
        return {"trades": 0, "wins": 0, "losses": 0, "by_hour": {}, "by_weekday": {}}
    pnl = trades["pnl"].astype(float)
    wins, losses = pnl[pnl > 0], pnl[pnl < 0]
    times = pd.to_datetime(trades["exit_time"], utc=True)
    by_hour = pnl.groupby(times.dt.hour.to_numpy()).agg(["count", "sum"])
    by_day = pnl.groupby(times.dt.day_name().to_numpy()).agg(["count", "sum"])
    return {
        "trades": len(pnl),
        "wins": len(wins),
        "losses": len(losses),
        "avg_win": float(wins.mean()) if len(wins) else 0.0,
        "avg_loss": float(losses.mean()) if len(losses) else 0.0,
        "best": float(pnl.max()),
        "worst": float(pnl.min()),
        "by_hour": {int(str(h)): [int(r["count"]), float(r["sum"])] for h, r in by_hour.iterrows()},
        "by_weekday": {str(d): [int(r["count"]), float(r["sum"])] for d, r in by_day.iterrows()},
    }


def decompose(runs: dict[str, StrategyWindow]) -> list[dict[str, object]]:
    """Closed-trade P&L in the window per strategy, symbol and side (long/short)."""
    rows: list[dict[str, object]] = []
    for name, w in runs.items():
        if w.trades.empty:
            continue
        groups = w.trades.groupby(["symbol", "side"])["pnl"]
        for (symbol, side), pnl in groups:
            values = pnl.astype(float)
            rows.append(
                {
                    "strategy": name,
                    "symbol": str(symbol),
                    "side": str(side),
                    "trades": len(values),
                    "pnl": float(values.sum()),
                }
            )
    return rows


def efficiency(w: StrategyWindow) -> dict[str, float]:
    """Return per unit of max drawdown and of volatility, and per unit of exposure time."""
    stats = window_stats(w)
    exposure = _exposure(w)
    ret = stats["total_return"]
    return {
        "total_return": ret,
        "return_per_drawdown": ret / stats["max_drawdown"] if stats["max_drawdown"] > 0 else 0.0,
        "return_per_volatility": ret / stats["volatility"] if stats["volatility"] > 0 else 0.0,
        "exposure": exposure,
        "return_per_exposure": ret / exposure if exposure > 0 else 0.0,
    }


def _exposure(w: StrategyWindow) -> float:
    """Share of the window with a position open (round trips' durations, clipped to it)."""
    if w.trades.empty or len(w.equity) < 2:
        return 0.0
    start, end = w.equity.index[0], w.equity.index[-1]
    entry = pd.to_datetime(w.trades["entry_time"], utc=True).clip(lower=start)
    exit_ = pd.to_datetime(w.trades["exit_time"], utc=True).clip(upper=end)
    seconds = (exit_ - entry).dt.total_seconds().to_numpy(dtype=float)
    held = float(np.clip(seconds, 0.0, None).sum())
    span = float((end - start).total_seconds())
    return min(1.0, held / span) if span > 0 else 0.0
