"""An orchestrated backtest: the orchestrator wired into the kernel, each sleeve's equity
recorded at every bar, and the outputs it adds (allocations, attribution, sleeves, correlation,
interventions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from genebot.backtest.result import iso_times
from genebot.config.loader import GenebotConfig
from genebot.orchestrator import allocation as alloc
from genebot.orchestrator.runtime import Orchestrator
from genebot.system.kernel import Kernel
from genebot.system.risk_view import KernelRiskView

ZERO = Decimal(0)
ALLOCATION_COLUMNS = ["timestamp", "strategy", "weight", "capital", "trigger", "target_capital"]
ATTRIBUTION_COLUMNS = [
    "strategy",
    "initial_capital",
    "net_transfers",
    "final_capital",
    "pnl",
    "contribution",
    "return_on_capital",
    "sharpe",
    "max_drawdown",
    "trades",
    "final_weight",
]


def attach_orchestrator(cfg: GenebotConfig, kernel: Kernel, start_ns: int) -> Orchestrator | None:
    """The configured orchestrator over the strategies that run, given its first allocation."""
    if cfg.orchestrator is None or not cfg.orchestrator.enabled:
        return None
    running = [slot.strategy.strategy_id for slot in kernel.slots if slot.enabled]
    priors = {n: cfg.orchestrator.priors.get(n, 1.0) for n in running}
    view = KernelRiskView(kernel, kernel.account_currency or cfg.backtest.quote_currency)
    orchestrator = Orchestrator(
        cfg.orchestrator,
        priors,
        kernel.portfolio,
        kernel.execution,
        kernel.instruments,
        view=view,
        reduces=view.reduces,
    )
    orchestrator.start(start_ns)
    kernel.attach_orchestrator(orchestrator)
    return orchestrator


class SleeveRecorder:
    """Each sleeve's equity (account currency) after every step."""

    def __init__(self, kernel: Kernel, names: list[str]) -> None:
        self.kernel = kernel
        self.names = names
        self.sleeves = [kernel.portfolio.sleeves[n] for n in names]
        self.values = np.zeros((len(kernel.timeline), len(names)))

    def __call__(self, step: int) -> None:
        mark = self.kernel.mark
        if step >= len(self.values):  # bars arriving one at a time: room doubles
            grown = np.zeros((max(2 * len(self.values), step + 1), len(self.names)))
            grown[: len(self.values)] = self.values
            self.values = grown
        row = self.values[step]
        for i, sleeve in enumerate(self.sleeves):
            row[i] = float(sleeve.equity(mark))

    def frame(self, kept: npt.NDArray[np.int64], index: pd.Index) -> pd.DataFrame:
        return pd.DataFrame(self.values[kept], index=index, columns=self.names)


@dataclass
class OrchestrationResult:
    allocations: pd.DataFrame
    attribution: pd.DataFrame
    sleeves: pd.DataFrame
    correlation: pd.DataFrame
    interventions: pd.DataFrame
    denials: dict[str, int] = field(default_factory=dict)


def orchestration_result(
    orchestrator: Orchestrator, kernel: Kernel, sleeves: pd.DataFrame
) -> OrchestrationResult:
    names = orchestrator.names
    returns = orchestrator.returns
    corr = alloc.correlation(returns, names) if names else np.empty((0, 0))
    return OrchestrationResult(
        allocations=_allocations(orchestrator),
        attribution=attribution(orchestrator, kernel),
        sleeves=sleeves,
        correlation=pd.DataFrame(corr, index=names, columns=names),
        interventions=pd.DataFrame(
            [{**i._asdict(), "ts": iso_times([i.ts])[0]} for i in orchestrator.interventions],
            columns=["ts", "command", "strategy", "reason", "who", "outcome"],
        ).rename(columns={"ts": "timestamp"}),
        denials=dict(orchestrator.denials),
    )


def _allocations(orchestrator: Orchestrator) -> pd.DataFrame:
    history = orchestrator.history
    return pd.DataFrame(
        {
            "timestamp": iso_times([c.ts for c in history]),
            "strategy": [c.strategy for c in history],
            "weight": [round(c.weight, 10) for c in history],
            "capital": [f"{c.capital:f}" for c in history],
            "target_capital": [f"{c.target_capital:f}" for c in history],
            "trigger": [c.trigger for c in history],
        },
        columns=ALLOCATION_COLUMNS,
    )


def attribution(orchestrator: Orchestrator, kernel: Kernel) -> pd.DataFrame:
    """Each strategy's part of the portfolio's return: its PnL (final capital less what it was
    given and moved in) over the initial capital. The contributions add up to the total
    return exactly."""
    mark = kernel.portfolio.mark
    names = orchestrator.names
    final = {n: kernel.portfolio.sleeves[n].equity(mark) for n in names}
    start_total = sum(orchestrator.initial.values(), ZERO)
    end_total = sum(final.values(), ZERO)
    trades: dict[str, int] = {}
    for trade in kernel.portfolio.trades:
        trades[trade.strategy_id] = trades.get(trade.strategy_id, 0) + 1
    rows = []
    for n in names:
        given = orchestrator.initial[n] + orchestrator.transfers[n]
        pnl = final[n] - given
        index = np.cumprod(1 + np.asarray(orchestrator.returns[n], dtype=float))
        peak = np.maximum.accumulate(np.concatenate([[1.0], index]))
        drawdown = float(np.max(1 - np.concatenate([[1.0], index]) / peak)) if index.size else 0.0
        average = _average_capital(orchestrator, n)
        rows.append(
            {
                "strategy": n,
                "initial_capital": f"{orchestrator.initial[n]:f}",
                "net_transfers": f"{orchestrator.transfers[n]:f}",
                "final_capital": f"{final[n]:f}",
                "pnl": f"{pnl:f}",
                "contribution": float(pnl / start_total) if start_total else 0.0,
                "return_on_capital": float(pnl / average) if average > 0 else 0.0,
                "sharpe": alloc.sharpe(orchestrator.returns[n]),
                "max_drawdown": drawdown,
                "trades": trades.get(n, 0),
                "final_weight": float(final[n] / end_total) if end_total else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)


def _average_capital(orchestrator: Orchestrator, name: str) -> Decimal:
    days = [equities[name] for _, equities in orchestrator.daily]
    if not days:
        return orchestrator.initial.get(name, ZERO)
    return sum(days, ZERO) / len(days)
