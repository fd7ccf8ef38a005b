"""Seed 001's red flag "performance more than 20 % worse than paper trading": a strategy's
closed trades in a running deployment against its baseline's (a paper deployment or a stored
backtest of the same strategy settings).

Pure: the figures of a list of round trips (anything with ``pnl``, ``entry_price`` and
``quantity``) and their comparison. A metric is *worse* when it is below its baseline by more
than ``max_degradation`` of the baseline's magnitude (``live < base - d * |base|``); nothing is
compared before both sides have ``min_trades`` trades; the live side is judged by its
one-sided upper confidence bound (a short unlucky streak is no red flag), and when the
baseline covers the live trades' period only that part of it is compared. The flag fires
once per strategy (on the rising edge) and names every metric that is worse.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from genebot.monitoring.alerts import Fired

ZERO = Decimal(0)
PF_CAP = 100.0  # a profit factor without a loss counts as this (keeps the comparison finite)
LABELS = {
    "win_rate": "win rate",
    "profit_factor": "profit factor",
    "avg_trade_return": "average trade return",
}


class TradeLike(Protocol):
    @property
    def pnl(self) -> Decimal: ...
    @property
    def entry_price(self) -> Decimal: ...
    @property
    def quantity(self) -> Decimal: ...


def figures(trades: Sequence[TradeLike]) -> dict[str, float]:
    """Win rate, profit factor and average return per trade (of its cost) of round trips."""
    if not trades:
        return {}
    wins = sum(1 for t in trades if t.pnl > 0)
    gross_win = sum((t.pnl for t in trades if t.pnl > 0), ZERO)
    gross_loss = -sum((t.pnl for t in trades if t.pnl < 0), ZERO)
    pf = float(gross_win / gross_loss) if gross_loss > 0 else (PF_CAP if gross_win > 0 else 0.0)
    returns = _returns(trades)
    return {
        "win_rate": wins / len(trades),
        "profit_factor": min(pf, PF_CAP),
        "avg_trade_return": sum(returns) / len(returns) if returns else 0.0,
        "trades": float(len(trades)),
    }


def _returns(trades: Sequence[TradeLike]) -> list[float]:
    return [float(t.pnl / (t.entry_price * t.quantity)) for t in trades if t.entry_price]


def optimistic(metric: str, trades: Sequence[TradeLike], z: float) -> float:
    """The metric's one-sided upper confidence bound (z = 0: the point estimate): the live side
    is flagged only when even this is worse, so a short unlucky streak is not a red flag.
    Win rate: Wilson's bound; average return: mean + z·sd/√n; profit factor: the estimate."""
    point = figures(trades)[metric]
    n = len(trades)
    if z <= 0 or n < 2 or metric == "profit_factor":
        return point
    if metric == "win_rate":
        centre = point + z * z / (2 * n)
        spread = z * math.sqrt(point * (1 - point) / n + z * z / (4 * n * n))
        return (centre + spread) / (1 + z * z / n)
    returns = _returns(trades)
    mean = sum(returns) / len(returns)
    sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
    return point + z * sd / math.sqrt(len(returns))


def worse(live: float, base: float, max_degradation: float) -> bool:
    return live < base - max_degradation * abs(base)


def aligned(base: Sequence[Any], live: Sequence[Any]) -> Sequence[Any]:
    """The baseline's trades over the live trades' period when the two overlap (a paper run
    over a backtest's data compares like with like); else all of them (another period)."""
    if not live:
        return base
    first, last = min(t.entry_ts for t in live), max(t.exit_ts for t in live)
    inside = [t for t in base if first <= t.entry_ts and t.exit_ts <= last]
    return inside if inside else base


@dataclass
class Baseline:
    """One strategy's baseline round trips (``entry_ts``/``exit_ts`` in ns, ``pnl``,
    ``entry_price``, ``quantity``) and where they come from (``source``: shown)."""

    strategy: str
    trades: Sequence[Any]
    source: str  # e.g. "paper deployment 3f2a…" / "backtest run 12"

    @property
    def figures(self) -> dict[str, float]:
        return figures(self.trades)


@dataclass
class BaselineFlag:
    """Compares each strategy's live figures with its baseline after every status write."""

    baselines: Mapping[str, Baseline]
    metrics: tuple[str, ...]
    max_degradation: float
    min_trades: int
    action: str | None  # an alert action (stop_deployment ...) or None
    z: float = 0.0  # one-sided confidence of the live side's bound (0: point estimates)
    raised: set[str] = field(default_factory=set)
    last: dict[str, dict[str, Any]] = field(default_factory=dict)  # the latest comparison

    def check(self, trades: Iterable[Any]) -> list[Fired]:
        by_strategy: dict[str, list[Any]] = {}
        for t in trades:
            by_strategy.setdefault(t.strategy_id, []).append(t)
        fired = []
        for sid, base in self.baselines.items():
            mine = by_strategy.get(sid, [])
            found = self._compare(base, mine)
            if found is not None and sid not in self.raised:
                self.raised.add(sid)
                fired.append(found)
        return fired

    def _compare(self, base: Baseline, trades: list[Any]) -> Fired | None:
        ref = aligned(base.trades, trades)
        enough = len(trades) >= self.min_trades and len(ref) >= self.min_trades
        have, want = figures(trades), figures(ref)
        bound = {m: optimistic(m, trades, self.z) for m in self.metrics} if enough else {}
        bad = [m for m in bound if worse(bound[m], want[m], self.max_degradation)]
        self.last[base.strategy] = {"live": have, "baseline": want, "source": base.source,
                                    "compared": enough, "worse": bad}  # fmt: skip
        if not bad:
            return None
        parts = [f"{LABELS[m]} {have[m]:.4g} vs {want[m]:.4g}" for m in bad]
        message = (
            f"{base.strategy}: performance more than {self.max_degradation:.0%} worse than its "
            f"baseline ({base.source}) after {len(trades)} trades: {'; '.join(parts)}"
        )
        values: dict[str, float | None] = {m: have[m] for m in bad}
        values |= {f"baseline_{m}": want[m] for m in bad}
        return Fired("baseline_degradation", "critical", message, self.action, (), values, True)
