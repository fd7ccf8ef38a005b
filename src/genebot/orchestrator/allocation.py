"""Allocation maths: pure functions from strategy return histories to target weights.

Weights are floats that sum to 1 (capital itself stays exact: the orchestrator turns weights
into Decimal amounts). Every method falls back to the priors when it has too little history to
say anything (fewer than ``MIN_HISTORY`` daily returns): a new strategy is not judged on noise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

MIN_HISTORY = 5
DAYS_PER_YEAR = 365.0
Returns = Mapping[str, Sequence[float]]


def normalized(raw: Mapping[str, float]) -> dict[str, float]:
    """``raw`` scaled to sum to 1; all-zero (or empty) input gives equal weights."""
    total = sum(max(v, 0.0) for v in raw.values())
    if total <= 0:
        return {k: 1.0 / len(raw) for k in raw} if raw else {}
    return {k: max(v, 0.0) / total for k, v in raw.items()}


def equal_weight(names: Sequence[str]) -> dict[str, float]:
    return {n: 1.0 / len(names) for n in names} if names else {}


def sharpe(returns: Sequence[float]) -> float:
    """Annualized Sharpe ratio of daily returns (0 for a flat or too-short history)."""
    r = np.asarray(returns, dtype=float)
    if r.size < 2:
        return 0.0
    sd = float(r.std(ddof=1))
    return float(r.mean()) / sd * math.sqrt(DAYS_PER_YEAR) if sd > 1e-15 else 0.0


def volatility(returns: Sequence[float]) -> float:
    r = np.asarray(returns, dtype=float)
    return float(r.std(ddof=1)) if r.size >= 2 else 0.0


def performance_based(returns: Returns, priors: Mapping[str, float]) -> dict[str, float]:
    """Weight ∝ prior × max(Sharpe, 0) over the lookback; the priors alone when no strategy
    has a positive Sharpe or the history is too short."""
    if _too_short(returns):
        return normalized(priors)
    raw = {n: priors[n] * max(sharpe(returns[n]), 0.0) for n in priors}
    return normalized(raw) if sum(raw.values()) > 0 else normalized(priors)


def inverse_volatility(returns: Returns, priors: Mapping[str, float]) -> dict[str, float]:
    """Weight ∝ 1 / volatility of daily returns. A strategy with no volatility at all (it has
    not traded) gets the weight of the calmest one that has."""
    if _too_short(returns):
        return normalized(priors)
    vols = {n: volatility(returns[n]) for n in priors}
    positive = [v for v in vols.values() if v > 0]
    if not positive:
        return normalized(priors)
    floor = min(positive)
    return normalized({n: 1.0 / (v if v > 0 else floor) for n, v in vols.items()})


def equal_risk_contribution(
    returns: Returns, priors: Mapping[str, float], *, iterations: int = 500
) -> dict[str, float]:
    """Long-only weights whose risk contributions ``w_i (Σw)_i`` are all equal (Σ: covariance
    of daily returns), by cyclical coordinate descent. Equals inverse volatility when the
    strategies are uncorrelated."""
    names = list(priors)
    if _too_short(returns) or len(names) < 2:
        return normalized(priors)
    cov = covariance(returns, names)
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
        return inverse_volatility(returns, priors)
    w = _erc_weights(cov, iterations)
    return dict(zip(names, (float(x) for x in w), strict=True))


def _erc_weights(cov: npt.NDArray[np.float64], iterations: int) -> npt.NDArray[np.float64]:
    n = cov.shape[0]
    w = 1.0 / np.sqrt(np.diag(cov))
    w /= w.sum()
    for _ in range(iterations):
        previous = w.copy()
        for i in range(n):
            # Solve cov_ii w_i² + (Σ_{j≠i} cov_ij w_j) w_i − 1/n = 0 for w_i > 0 (risk budget 1/n
            # on the unnormalized problem; normalized at the end).
            b = float(cov[i] @ w - cov[i, i] * w[i])
            a = float(cov[i, i])
            w[i] = (-b + math.sqrt(b * b + 4 * a / n)) / (2 * a)
        if np.max(np.abs(w / w.sum() - previous / previous.sum())) < 1e-12:
            break
    return w / w.sum()


def risk_contributions(weights: Sequence[float], cov: npt.NDArray[np.float64]) -> list[float]:
    """Each strategy's share of portfolio variance (sums to 1)."""
    w = np.asarray(weights, dtype=float)
    total = float(w @ cov @ w)
    return [float(x) for x in (w * (cov @ w)) / total]


def covariance(returns: Returns, names: Sequence[str]) -> npt.NDArray[np.float64]:
    matrix = np.array([np.asarray(returns[n], dtype=float) for n in names])
    return np.atleast_2d(np.cov(matrix, ddof=1))


def correlation(returns: Returns, names: Sequence[str]) -> npt.NDArray[np.float64]:
    """Pairwise correlation of daily returns; 0 where a strategy's returns are constant."""
    n = len(names)
    out = np.eye(n)
    if n < 2 or _too_short(returns):
        return out
    matrix = np.array([np.asarray(returns[k], dtype=float) for k in names])
    sd = matrix.std(axis=1, ddof=1)
    for i in range(n):
        for j in range(i + 1, n):
            if sd[i] > 1e-15 and sd[j] > 1e-15:
                c = float(np.corrcoef(matrix[i], matrix[j])[0, 1])
                out[i, j] = out[j, i] = c
            else:
                out[i, j] = out[j, i] = 0.0
    return out


def apply_bounds(weights: Mapping[str, float], low: float, high: float) -> dict[str, float]:
    """Weights clipped into [low, high] that still sum to 1: ``w_i = clip(λ·r_i, low, high)``
    with λ chosen so they add up, so the free weights keep their proportions. Needs
    n·low ≤ 1 ≤ n·high."""
    n = len(weights)
    if n == 0:
        return {}
    if n * low > 1 + 1e-12 or n * high < 1 - 1e-12:
        raise ValueError(
            f"bounds [{low}, {high}] cannot hold for {n} strategies: need "
            f"{n} × min_allocation ≤ 1 ≤ {n} × max_allocation"
        )
    r = normalized(weights)
    r = {k: (v if v > 1e-12 else 0.0) for k, v in r.items()}  # dust counts as nothing
    positive = [k for k, v in r.items() if v > 0]
    if len(positive) * high + (n - len(positive)) * low < 1 - 1e-12:  # capped; rest shared
        rest = (1 - len(positive) * high) / (n - len(positive))
        return {k: high if k in positive else rest for k in weights}

    def clipped(lam: float) -> dict[str, float]:
        return {k: min(max(lam * v, low), high) for k, v in r.items()}

    lo, hi = 0.0, 1.0
    while sum(clipped(hi).values()) < 1 - 1e-12 and hi < 1e300:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(clipped(mid).values()) < 1 else (lo, mid)
    out = clipped(hi)
    free = [k for k in out if low < hi * r[k] < high]
    if free:  # finish exactly: the free weights take what the bounded ones leave
        mass = 1 - sum(v for k, v in out.items() if k not in free)
        scale = sum(r[k] for k in free)
        for k in free:
            out[k] = r[k] / scale * mass
    return {k: out[k] for k in weights}


def top_n(scores: Mapping[str, float], n: int) -> list[str]:
    """The ``n`` best by score (ties by name, for determinism)."""
    return [k for k, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def _too_short(returns: Returns) -> bool:
    return not returns or min(len(r) for r in returns.values()) < MIN_HISTORY
