"""Per-strategy figures of a stored run's (or deployment's) last N days: ``report strategy
--days N`` and ``orchestrator attribution --days N``.

"The last N days" of a backtest run end at its last bar (the run's simulated clock); of a
paper or live deployment, now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.table import Table

from genebot.cli.common import console, guarded, refuse

if TYPE_CHECKING:
    from genebot.persistence.database import Database


@dataclass
class StrategyFigures:
    trades: int = 0
    wins: int = 0
    pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    pnls: list[Decimal] = field(default_factory=list)


def check_days(days: int) -> None:
    if days < 1:
        refuse(f"--days {days}: must be a whole number of days, 1 or more")


def run_window(db: Database, run_id: int | None, days: int) -> tuple[int, datetime, list[object]]:
    """(run id, window start, trades closed in the run's last ``days`` days)."""
    from genebot.persistence.repositories import BacktestRunRepository, TradeRepository

    repo = BacktestRunRepository(db)
    run = guarded(lambda: repo.get(run_id)) if run_id is not None else None
    if run is None:
        recent = guarded(lambda: repo.recent(1))
        if not recent:
            refuse("no backtest runs stored yet: run `genebot backtest` first")
        run = recent[0]
    trades = guarded(lambda: TradeRepository(db).for_run(run.id))
    end = run.end or max((t.exit_time for t in trades), default=datetime.now(UTC))
    start = end - timedelta(days=days)
    return run.id, start, [t for t in trades if t.exit_time >= start]


def by_strategy(trades: list[object]) -> dict[str, StrategyFigures]:
    out: dict[str, StrategyFigures] = {}
    for t in trades:
        fig = out.setdefault(t.strategy_id, StrategyFigures())  # type: ignore[attr-defined]
        fig.trades += 1
        fig.wins += t.pnl > 0  # type: ignore[attr-defined]
        fig.pnl += t.pnl  # type: ignore[attr-defined]
        fig.fees += t.fees  # type: ignore[attr-defined]
        fig.pnls.append(t.pnl)  # type: ignore[attr-defined]
    return out


def print_figures(title: str, figures: dict[str, StrategyFigures]) -> None:
    table = Table(title=title)
    for column in ("strategy", "trades", "win rate", "net pnl", "avg pnl", "best", "worst", "fees"):
        table.add_column(column, justify="left" if column == "strategy" else "right")
    for name, f in sorted(figures.items()):
        table.add_row(
            name,
            str(f.trades),
            f"{f.wins / f.trades:.1%}",
            f"{f.pnl:,.2f}",
            f"{f.pnl / f.trades:,.2f}",
            f"{max(f.pnls):,.2f}",
            f"{min(f.pnls):,.2f}",
            f"{f.fees:,.2f}",
        )
    console.print(table if figures else "no trades closed in that window", highlight=False)
