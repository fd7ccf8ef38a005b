"""Portfolio math on strategies' daily returns: correlation, allocation weights, the mix's
expected figures, each strategy's share of the variance, and selection under a correlation cap.

Every function takes a ``pandas.DataFrame`` of daily returns (one column per strategy, one
row per day) and returns plain floats; annualization uses 365 days (crypto trades every day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

DAYS_PER_YEAR = 365
METHODS = ("sharpe_ratio", "risk_parity", "equal_weight", "min_variance")
Floats = npt.NDArray[np.float64]


def correlation(returns: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation of the columns; a flat column (no trades) correlates 0 with the
    others and 1 with itself, so the matrix is always symmetric with a unit diagonal."""
    values = returns.to_numpy(dtype=float)
    n = values.shape[1]
    out = np.eye(n)
    std = values.std(axis=0)
    for i in range(n):
        for j in range(i + 1, n):
            if std[i] > 0 and std[j] > 0 and len(values) > 1:
                c = float(np.corrcoef(values[:, i], values[:, j])[0, 1])
                out[i, j] = out[j, i] = max(-1.0, min(1.0, c))
    return pd.DataFrame(out, index=returns.columns, columns=returns.columns)


def bounds_for(n: int, low: float, high: float) -> tuple[float, float]:
    """``(low, high)`` made feasible for ``n`` weights summing to 1: widened to admit 1/n."""
    if n == 0:
        return low, high
    return min(low, 1.0 / n), max(high, 1.0 / n)


def _clip_to_bounds(w: Floats, low: float, high: float) -> Floats:
    """The nearest weights (summing to 1) within the bounds, by repeated clip-and-rescale."""
    w = np.clip(w, low, high)
    for _ in range(100):
        gap = 1.0 - w.sum()
        if abs(gap) < 1e-12:
            break
        free = (w < high - 1e-15) if gap > 0 else (w > low + 1e-15)
        if not free.any():
            break
        w[free] += gap / free.sum()
        w = np.clip(w, low, high)
    return w


def weights(
    returns: pd.DataFrame, method: str, low: float = 0.0, high: float = 1.0
) -> dict[str, float]:
    """Weights (sum 1, each within ``bounds_for(low, high)``) by ``method``: equal_weight,
    risk_parity (inverse volatility), min_variance or sharpe_ratio (mean-variance max-Sharpe)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; one of {', '.join(METHODS)}")
    names = list(returns.columns)
    n = len(names)
    if n == 0:
        return {}
    low, high = bounds_for(n, low, high)
    values = returns.to_numpy(dtype=float)
    if method == "equal_weight":
        w = np.full(n, 1.0 / n)
    elif method == "risk_parity":
        vol = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros(n)
        inverse = np.where(vol > 0, 1.0 / np.where(vol > 0, vol, 1.0), 0.0)
        w = inverse / inverse.sum() if inverse.sum() > 0 else np.full(n, 1.0 / n)
    else:
        w = _optimized(values, method, low, high)
    w = _clip_to_bounds(w, low, high)
    return {name: float(x) for name, x in zip(names, w, strict=True)}


def _optimized(values: Floats, method: str, low: float, high: float) -> Floats:
    """Max-Sharpe or min-variance weights within the bounds: the best of many feasible
    (seeded, so repeatable) candidates, refined by projected gradient steps."""
    n = values.shape[1]
    mean = values.mean(axis=0)
    cov = np.cov(values, rowvar=False, ddof=1).reshape(n, n) if len(values) > 1 else np.eye(n)
    cov = cov + np.eye(n) * 1e-12
    rng = np.random.default_rng(0)
    samples = np.vstack([np.full(n, 1.0 / n), np.eye(n), rng.dirichlet(np.ones(n), 4000)])
    candidates = np.array([_clip_to_bounds(w, low, high) for w in samples])

    def score(w: Floats) -> Floats:  # rows of weights -> what is maximized
        w2 = np.atleast_2d(w)
        variance = np.einsum("ij,jk,ik->i", w2, cov, w2)
        if method == "min_variance":
            return np.asarray(-variance, dtype=float)
        return np.asarray((w2 @ mean) / np.sqrt(variance), dtype=float)

    best = candidates[int(np.argmax(score(candidates)))].copy()
    step = 0.05
    for _ in range(300):
        grad = np.zeros(n)
        base = float(score(best)[0])
        for i in range(n):
            bumped = best.copy()
            bumped[i] += 1e-6
            grad[i] = (float(score(bumped)[0]) - base) / 1e-6
        trial = _clip_to_bounds(best + step * grad / (np.abs(grad).max() or 1.0), low, high)
        if float(score(trial)[0]) > base:
            best = trial
        else:
            step /= 2
            if step < 1e-9:
                break
    return np.asarray(best, dtype=np.float64)


@dataclass(frozen=True)
class MixFigures:
    expected_return: float  # annualized mean daily return
    volatility: float  # annualized
    sharpe: float


def mix_figures(returns: pd.DataFrame, w: dict[str, float]) -> MixFigures:
    """The weighted mix's annualized expected return, volatility and Sharpe ratio."""
    vector = np.array([w.get(c, 0.0) for c in returns.columns])
    mixed = returns.to_numpy(dtype=float) @ vector
    mean = float(mixed.mean()) if mixed.size else 0.0
    std = float(mixed.std(ddof=1)) if mixed.size > 1 else 0.0
    vol = std * np.sqrt(DAYS_PER_YEAR)
    sharpe = mean / std * np.sqrt(DAYS_PER_YEAR) if std > 0 else 0.0
    return MixFigures(mean * DAYS_PER_YEAR, float(vol), float(sharpe))


def risk_contributions(returns: pd.DataFrame, w: dict[str, float]) -> dict[str, float]:
    """Each strategy's share of the mix's variance (w_i (Σw)_i / wᵀΣw); they sum to 1 unless
    the mix has no variance (then all 0)."""
    names = list(returns.columns)
    vector = np.array([w.get(c, 0.0) for c in names])
    n = len(names)
    if n == 0 or len(returns) < 2:
        return {c: 0.0 for c in names}
    cov = np.cov(returns.to_numpy(dtype=float), rowvar=False, ddof=1).reshape(n, n)
    total = float(vector @ cov @ vector)
    if total <= 0:
        return {c: 0.0 for c in names}
    parts = vector * (cov @ vector) / total
    return {c: float(p) for c, p in zip(names, parts, strict=True)}


@dataclass(frozen=True)
class Selection:
    chosen: list[str]
    skipped: dict[str, str]  # name -> why


def select(
    scores: dict[str, float], corr: pd.DataFrame, max_strategies: int, cap: float
) -> Selection:
    """The best-scored strategies, at most ``max_strategies``, no two of them correlated above
    ``cap`` (absolute daily-return correlation); each one passed over says why."""
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for name in sorted(scores, key=lambda n: (-scores[n], n)):
        if len(chosen) >= max_strategies:
            skipped[name] = f"limit of {max_strategies} strategies reached"
            continue
        values = {
            c: float(corr.to_numpy()[corr.index.get_loc(name), corr.columns.get_loc(c)])
            for c in chosen
        }
        clash = [(c, v) for c, v in values.items() if abs(v) > cap]
        if clash:
            other, value = clash[0]
            skipped[name] = f"correlation {value:.2f} with {other} above the cap {cap:.2f}"
            continue
        chosen.append(name)
    return Selection(chosen, skipped)
