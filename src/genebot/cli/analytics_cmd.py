"""Selection and analytics on fresh backtests of the configured strategies over the last N
days of their data: ``orchestration auto-select | optimize-allocation | test-combination``,
``strategy analyze`` and ``analytics correlation | risk-attribution | decompose-performance |
efficiency``."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich.table import Table

from genebot.cli.common import DatabaseOpt, console, err, guarded, refuse, say

if TYPE_CHECKING:
    import pandas as pd

    from genebot.analytics.history import Traded
    from genebot.analytics.runs import StrategyWindow
    from genebot.config.loader import GenebotConfig

analytics_app = typer.Typer(
    no_args_is_help=True,
    help="correlation | risk-attribution | decompose-performance | efficiency",
)
DEFAULT_CONFIG = Path("config/orchestrator.yaml")
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: config/orchestrator.yaml)"),
]
FormatOpt = Annotated[str, typer.Option("--format", help="table | json")]


DaysOpt = Annotated[int, typer.Option("--days", help="the last N days of the data")]
RunOpt = Annotated[
    int | None, typer.Option("--run", help="a stored backtest run (genebot report runs) instead")
]
HistoryOpt = Annotated[
    str | None,
    typer.Option(
        "--deployment", help="a paper/live deployment's history (id or prefix) instead of backtests"
    ),
]


def _load(path: Path | None, fmt: str) -> GenebotConfig:
    from genebot.config.loader import load_config

    if fmt not in ("table", "json"):
        refuse(f"--format {fmt}: one of table, json")
    path = path if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        refuse(f"--config {path}: file not found")
    logging.basicConfig(level=logging.CRITICAL)
    return guarded(lambda: load_config(path))


def _windows(cfg: GenebotConfig, names: list[str] | None, days: int) -> dict[str, StrategyWindow]:
    from genebot.analytics import runs

    chosen = names if names is not None else runs.strategy_names(cfg)
    result = guarded(lambda: runs.windows(cfg, chosen, days))
    shortest = min(w.days for w in result.values()) if result else days
    if shortest < days:
        say(err, "note:", "yellow", f"the data covers only {shortest} of the {days} days asked")
    return result


class _Source:
    """Where the windows come from: fresh backtests of the config, or what a paper or live
    deployment traded (``--deployment``), or a stored backtest run (``--run``)."""

    def __init__(self, cfg: GenebotConfig, traded: Traded | None = None) -> None:
        self.cfg, self.traded = cfg, traded

    def windows(self, names: list[str] | None, days: int) -> dict[str, StrategyWindow]:
        if self.traded is None:
            return _windows(self.cfg, names, days)
        from genebot.analytics.history import windows_of

        traded = self.traded
        return guarded(lambda: windows_of(traded, names, days))


def _source(
    path: Path | None,
    fmt: str,
    deployment: str | None,
    database_url: str | None,
    run: int | None = None,
) -> _Source:
    if deployment is None and run is None:
        return _Source(_load(path, fmt))
    from genebot.analytics import history
    from genebot.cli.db import open_current
    from genebot.config.loader import load_config

    if fmt not in ("table", "json"):
        refuse(f"--format {fmt}: one of table, json")
    if deployment is not None and run is not None:
        refuse("--deployment and --run: give one of them")
    logging.basicConfig(level=logging.CRITICAL)
    db = open_current(database_url)
    wanted = str(deployment)
    traded = guarded(
        lambda: history.of_run(db, run) if run is not None else history.of_deployment(db, wanted)
    )
    return _Source(guarded(lambda: load_config(traded.config)), traded)


def _returns(found: dict[str, StrategyWindow]) -> pd.DataFrame:
    from genebot.analytics.runs import returns_frame

    return guarded(lambda: returns_frame(found))


def _emit(fmt: str, data: object, title: str, columns: list[str], rows: list[list[str]]) -> None:
    if fmt == "json":
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _pct(x: float) -> str:
    return f"{x:.2%}"


def auto_select(
    lookback_days: Annotated[int, typer.Option(help="window: the data's last N days")] = 90,
    max_strategies: Annotated[int, typer.Option(help="pick at most this many")] = 5,
    metric: Annotated[str, typer.Option(help="sharpe | total_return | calmar")] = "sharpe",
    max_correlation: Annotated[float, typer.Option(help="cap on |daily correlation|")] = 0.7,
    config: ConfigOpt = None,
    deployment: HistoryOpt = None,
    run: RunOpt = None,
    database_url: DatabaseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Rank the configured strategies on the window and pick the best under a correlation cap."""
    from genebot.analytics import portfolio, runs

    if metric not in ("sharpe", "total_return", "calmar"):
        refuse(f"--metric {metric}: one of sharpe, total_return, calmar")
    if max_strategies < 1:
        refuse(f"--max-strategies {max_strategies}: at least 1")
    src = _source(config, fmt, deployment, database_url, run)
    cfg = src.cfg
    found = src.windows(None, lookback_days)
    stats = {n: runs.window_stats(w) for n, w in found.items()}
    for s in stats.values():
        s["calmar"] = s["total_return"] / s["max_drawdown"] if s["max_drawdown"] > 0 else 0.0
    corr = portfolio.correlation(_returns(found))
    pick = portfolio.select(
        {n: s[metric] for n, s in stats.items()}, corr, max_strategies, max_correlation
    )
    snippet = {
        "orchestrator": {
            "strategies": [{"name": n, **_strategy_entry(cfg, n)} for n in pick.chosen]
        }
    }
    ranked = sorted(stats, key=lambda n: (-stats[n][metric], n))
    rows = [
        [
            n,
            f"{stats[n][metric]:.3f}",
            _pct(stats[n]["total_return"]),
            _pct(stats[n]["max_drawdown"]),
            "selected" if n in pick.chosen else pick.skipped[n],
        ]
        for n in ranked
    ]
    data = {
        "metric": metric,
        "stats": stats,
        "selected": pick.chosen,
        "skipped": pick.skipped,
        "correlation": corr.to_dict(),
        "yaml": snippet,
    }
    _emit(fmt, data, f"Ranking by {metric}", ["strategy", metric, "return", "max dd", "pick"], rows)
    if fmt == "table":
        console.print(yaml.safe_dump(snippet, sort_keys=False), highlight=False)


def _strategy_entry(cfg: GenebotConfig, name: str) -> dict[str, object]:
    s = cfg.strategies[name]
    return {"type": s.type, "symbols": list(s.symbols), "timeframes": list(s.timeframes)}


def optimize_allocation(
    method: Annotated[
        str, typer.Option(help="sharpe_ratio | risk_parity | equal_weight | min_variance")
    ] = "sharpe_ratio",
    days: DaysOpt = 60,
    config: ConfigOpt = None,
    deployment: HistoryOpt = None,
    run: RunOpt = None,
    database_url: DatabaseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """Weights from the strategies' daily returns, within the config's min/max_allocation."""
    from genebot.analytics import portfolio

    if method not in portfolio.METHODS:
        refuse(f"--method {method}: one of {', '.join(portfolio.METHODS)}")
    src = _source(config, fmt, deployment, database_url, run)
    cfg = src.cfg
    low, high = (0.0, 1.0)
    if cfg.orchestrator is not None:
        low, high = cfg.orchestrator.min_allocation, cfg.orchestrator.max_allocation
    frame = _returns(src.windows(None, days))
    weights = portfolio.weights(frame, method, low, high)
    mix = portfolio.mix_figures(frame, weights)
    low, high = portfolio.bounds_for(len(weights), low, high)
    data = {
        "method": method,
        "days": len(frame),
        "bounds": [low, high],
        "weights": weights,
        "expected_return": mix.expected_return,
        "volatility": mix.volatility,
        "sharpe": mix.sharpe,
    }
    rows = [[n, _pct(w)] for n, w in weights.items()]
    rows.append(["expected return (annual)", _pct(mix.expected_return)])
    rows.append(["volatility (annual)", _pct(mix.volatility)])
    rows.append(["sharpe", f"{mix.sharpe:.2f}"])
    _emit(
        fmt,
        data,
        f"Allocation: {method} over {len(frame)} days, bounds [{low:.0%}, {high:.0%}]",
        ["strategy", "weight"],
        rows,
    )


TEST_METHODS = ("equal_weight", "risk_parity", "performance_based")


def test_combination(
    strategies: Annotated[str, typer.Option(help="comma-separated strategy names")],
    allocation: Annotated[
        str, typer.Option(help="equal_weight | risk_parity | performance_based")
    ] = "equal_weight",
    days: DaysOpt = 30,
    config: ConfigOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """The orchestrated backtest of just these strategies with this allocation method."""
    from genebot.analytics import combination

    if allocation not in TEST_METHODS:
        refuse(f"--allocation {allocation}: one of {', '.join(TEST_METHODS)}")
    names = [n.strip() for n in strategies.split(",") if n.strip()]
    if not names:
        refuse("--strategies: name at least one strategy")
    cfg = _load(config, fmt)
    outcome = guarded(lambda: combination.run_combination(cfg, names, allocation, days))
    keys = ("total_return", "sharpe", "max_drawdown", "trades", "win_rate", "final_equity")
    data = {
        "strategies": names,
        "allocation": allocation,
        "start": outcome.start,
        "stats": {k: outcome.stats.get(k) for k in keys},
        "attribution": outcome.attribution,
    }
    rows = [[k, str(outcome.stats.get(k))] for k in keys]
    rows += [[f"pnl {r['strategy']}", f"{float(str(r['pnl'])):,.2f}"] for r in outcome.attribution]
    _emit(
        fmt,
        data,
        f"{', '.join(names)} ({allocation}) from {outcome.start}",
        ["stat", "value"],
        rows,
    )


def strategy_analyze(
    name: Annotated[str, typer.Argument(help="a strategy of the config")],
    days: DaysOpt = 30,
    config: ConfigOpt = None,
    deployment: HistoryOpt = None,
    run: RunOpt = None,
    database_url: DatabaseOpt = None,
    fmt: FormatOpt = "table",
) -> None:
    """One strategy's stats over the window and how its trades are distributed."""
    from genebot.analytics import runs

    src = _source(config, fmt, deployment, database_url, run)
    window = src.windows([name], days)[name]
    stats = runs.window_stats(window)
    dist = runs.trade_distribution(window.trades)
    data = {"strategy": name, "stats": stats, "distribution": dist}
    rows = [[k, f"{v:.4f}"] for k, v in stats.items()]
    for key in ("wins", "losses", "avg_win", "avg_loss", "best", "worst"):
        if key in dist:
            rows.append([key, f"{float(dist[key]):,.2f}"])  # type: ignore[arg-type]
    for group in ("by_hour", "by_weekday"):
        for k, (count, pnl) in dist[group].items():  # type: ignore[attr-defined]
            rows.append([f"{group} {k}", f"{count} trades, {pnl:,.2f}"])
    _emit(fmt, data, f"{name}: last {days} days", ["stat", "value"], rows)


@analytics_app.command("correlation")
def correlation(
    days: DaysOpt = 30, config: ConfigOpt = None, fmt: FormatOpt = "table",
    deployment: HistoryOpt = None, run: RunOpt = None, database_url: DatabaseOpt = None,
) -> None:  # fmt: skip
    """Correlation matrix of the strategies' daily returns."""
    from genebot.analytics import portfolio

    src = _source(config, fmt, deployment, database_url, run)
    corr = portfolio.correlation(_returns(src.windows(None, days)))
    names = list(corr.columns)
    matrix = corr.to_numpy(dtype=float)
    rows = [[str(a), *(f"{x:.2f}" for x in matrix[i])] for i, a in enumerate(names)]
    _emit(fmt, corr.to_dict(), f"Daily-return correlation, last {days} days", ["", *names], rows)


@analytics_app.command("risk-attribution")
def risk_attribution(
    days: DaysOpt = 30, config: ConfigOpt = None, fmt: FormatOpt = "table",
    deployment: HistoryOpt = None, run: RunOpt = None, database_url: DatabaseOpt = None,
) -> None:  # fmt: skip
    """Each strategy's share of the equal-weight portfolio's variance."""
    from genebot.analytics import portfolio

    src = _source(config, fmt, deployment, database_url, run)
    frame = _returns(src.windows(None, days))
    weights = portfolio.weights(frame, "equal_weight")
    shares = portfolio.risk_contributions(frame, weights)
    data = {"weights": weights, "variance_share": shares}
    rows = [[n, _pct(weights[n]), _pct(s)] for n, s in shares.items()]
    _emit(
        fmt,
        data,
        "Risk attribution (equal weights)",
        ["strategy", "weight", "variance share"],
        rows,
    )


@analytics_app.command("decompose-performance")
def decompose_performance(
    days: DaysOpt = 30, config: ConfigOpt = None, fmt: FormatOpt = "table",
    deployment: HistoryOpt = None, run: RunOpt = None, database_url: DatabaseOpt = None,
) -> None:  # fmt: skip
    """Closed-trade P&L per strategy, symbol and long/short."""
    from genebot.analytics import runs

    src = _source(config, fmt, deployment, database_url, run)
    parts = runs.decompose(src.windows(None, days))
    rows = [
        [
            str(r["strategy"]),
            str(r["symbol"]),
            str(r["side"]),
            str(r["trades"]),
            f"{float(str(r['pnl'])):,.2f}",
        ]
        for r in parts
    ]
    _emit(
        fmt,
        parts,
        f"P&L decomposition, last {days} days",
        ["strategy", "symbol", "side", "trades", "pnl"],
        rows,
    )


@analytics_app.command("efficiency")
def efficiency(
    days: DaysOpt = 30, config: ConfigOpt = None, fmt: FormatOpt = "table",
    deployment: HistoryOpt = None, run: RunOpt = None, database_url: DatabaseOpt = None,
) -> None:  # fmt: skip
    """Return per unit of drawdown, of volatility and of time in the market."""
    from genebot.analytics import runs

    src = _source(config, fmt, deployment, database_url, run)
    figures = {n: runs.efficiency(w) for n, w in src.windows(None, days).items()}
    keys = [
        "total_return",
        "return_per_drawdown",
        "return_per_volatility",
        "exposure",
        "return_per_exposure",
    ]
    rows = [[n, *(f"{f[k]:.4f}" for k in keys)] for n, f in figures.items()]
    _emit(fmt, figures, f"Efficiency, last {days} days", ["strategy", *keys], rows)


TRIGGERS = ("performance_degradation", "correlation_spike", "drawdown", "manual")


def rebalance(
    trigger: Annotated[str, typer.Option(help=" | ".join(TRIGGERS))] = "manual",
    reason: Annotated[str, typer.Option(help="why (journaled)")] = "",
    who: Annotated[str, typer.Option(help="operator name")] = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """Ask the running orchestrator to rebalance now (a journaled force_rebalance)."""
    from genebot.cli.db import open_current
    from genebot.cli.deploy_cmds import runner_up, send
    from genebot.cli.orchestrator_live import NAME
    from genebot.persistence.repositories import DeploymentRepository

    if trigger not in TRIGGERS:
        refuse(f"--trigger {trigger}: one of {', '.join(TRIGGERS)}")
    db = open_current(database_url)
    found = [d for d in DeploymentRepository(db).recent() if d.name == NAME]
    if not found or not runner_up(db, found[-1].id):
        say(
            err,
            "error:",
            "red",
            "no running orchestrator deployment: start one with `genebot orchestrator start`",
        )
        raise typer.Exit(1)
    why = f"{trigger}: {reason}" if reason else trigger
    send(db, found[-1].id, "intervention", who, command="force_rebalance", strategy=None,
         reason=why)  # fmt: skip
