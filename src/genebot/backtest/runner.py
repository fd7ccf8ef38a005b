"""``genebot.backtest.run``: the public Python API behind ``genebot backtest``."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

import pandas as pd

from genebot.backtest.orchestration import (
    SleeveRecorder,
    attach_orchestrator,
    orchestration_result,
)
from genebot.backtest.recorder import EquityCurve, EquityRecorder, exact_equity
from genebot.backtest.result import (
    BacktestResult,
    open_trades_frame,
    trade_figures,
    trades_frame,
)
from genebot.backtest.setup import DataInput, RunSetup, build
from genebot.config.loader import GenebotConfig, apply_overrides, load_config
from genebot.core.calendar import DailyBoundary
from genebot.core.errors import ConfigError
from genebot.core.precision import split_evenly, to_decimal
from genebot.data.feed import Timeline, build_timeline
from genebot.data.rates import RatesTable
from genebot.domain.orders import OrderStatus
from genebot.reporting.statistics import (
    TradeFigures,
    stats_of_arrays,
    trading_days_per_year_ns,
)
from genebot.risk.checks import default_checks
from genebot.risk.engine import RiskEngine
from genebot.system.financing import Rollover
from genebot.system.kernel import Kernel
from genebot.system.loops import run_fast, run_per_bar
from genebot.system.risk_view import KernelRiskView
from genebot.system.schedule import ScheduleGate, scheduler_for

log = logging.getLogger("genebot.backtest")
ConfigInput = GenebotConfig | Mapping[str, Any] | str | Path
EngineMode = Literal["auto", "per_bar", "fast"]
_T = TypeVar("_T")


def run(
    config: ConfigInput,
    data: DataInput | None = None,
    *,
    engine_mode: EngineMode | None = None,
    progress: Callable[[int, int], None] | None = None,
    call_on_stop: bool = True,
) -> BacktestResult:
    """Run one backtest and return its :class:`BacktestResult`.

    ``config`` is a validated :class:`GenebotConfig`, a mapping in the YAML layout, or a path to
    a YAML file. ``data`` optionally maps symbol → OHLCV DataFrame (UTC DatetimeIndex) to use
    instead of files. ``engine_mode`` overrides ``backtest.engine_mode``: ``per_bar`` sends every
    bar through ``on_bar``; ``fast`` visits only bars where a signal or a working order can act
    (signal strategies only); ``auto`` picks fast where the strategies allow it. Both give
    identical trades, fills and equity. ``progress(done, total)`` is called as bars are processed.
    ``call_on_stop=False`` skips the strategies' ``on_stop`` (the lookahead check's runs on a
    prefix of the data: it does not end there).
    """
    cfg = load_config(config)
    if engine_mode is not None:
        cfg = apply_overrides(cfg, engine_mode=engine_mode)
    return execute(cfg, build(cfg, data), result_of, progress=progress, call_on_stop=call_on_stop)


Finish = Callable[[GenebotConfig, RunSetup, Kernel, EquityRecorder, str, SleeveRecorder | None], _T]


def execute(
    cfg: GenebotConfig,
    setup: RunSetup,
    finish: Finish[_T],
    *,
    progress: Callable[[int, int], None] | None = None,
    call_on_stop: bool = True,
) -> _T:
    """Assemble and run a built setup, then ``finish(cfg, setup, kernel, recorder, mode
    label, sleeves)`` (:func:`result_of`; a study: only the statistics) with the collector
    still paused."""
    kernel, recorder = assemble(cfg, setup)
    mode, label = _choose_mode(cfg.backtest.engine_mode, kernel)
    total = len(kernel.timeline)
    tick = (lambda done: progress(done, total)) if progress else None
    orchestrator = kernel.orchestrator
    sleeves = SleeveRecorder(kernel, orchestrator.names) if orchestrator else None
    with gc_paused():
        if mode == "fast":
            run_fast(kernel, tick)
        else:
            run_per_bar(kernel, tick, sleeves)
        if call_on_stop:
            kernel.finish()
        return finish(cfg, setup, kernel, recorder, label, sleeves)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The engine allocates many short-lived objects and no garbage cycles; the cyclic
    collector's full passes over the growing order history cost a third of the run."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def assemble(cfg: GenebotConfig, setup: RunSetup) -> tuple[Kernel, EquityRecorder]:
    timeline = build_timeline(setup.feeds)
    kernel = Kernel(timeline, setup.venues, setup.instruments, setup.slots)
    currency = _account_currency(cfg.backtest.quote_currency.upper(), setup)
    kernel.account_currency = currency
    cash = to_decimal(cfg.backtest.initial_cash)
    for venue in setup.venues:
        venue.mark = kernel.mark
        venue.clock = kernel.now
        venue.rate = kernel.currency_rate
    setup.venues[0].account.deposit(0, currency, cash)
    if len(setup.venues) > 1:
        _split_cash(setup, currency, cash)
    recorder = EquityRecorder(kernel, setup.venues, currency)
    recorder.snapshot_initial()
    _attach_rollover(cfg, setup, kernel, recorder, timeline)
    kernel.execution.emulated_venues = {
        name for name, ex in cfg.exchanges.items() if not ex.native_stops
    }
    if cfg.risk_management.enabled:
        view = KernelRiskView(kernel, currency)
        risk = RiskEngine(cfg.risk_management, view, default_checks(cfg.risk_management))
        kernel.attach_risk(risk)
        risk.roll_day(int(timeline.step_ts[0]))
    kernel.prepare()
    attach_orchestrator(cfg, kernel, int(timeline.step_ts[0]))
    sched = cfg.schedule
    if sched.enabled:
        windows = [(list(w.days), w.start, w.end, w.timezone) for w in sched.windows]
        scheduler = scheduler_for(
            sched.market, sched.exchange, windows, sched.flatten_before_close_minutes
        )
        kernel.schedule = ScheduleGate(kernel, scheduler)
    return kernel, recorder


def rates_for(cfg: GenebotConfig, setup: RunSetup) -> RatesTable | None:
    """The configured rates; else the bundled file a strategy asks for (``default_rates``)."""
    bt = cfg.backtest
    if bt.rates_file:
        return RatesTable.from_csv(bt.rates_file)
    if bt.interest_rates:
        return RatesTable.constant(bt.interest_rates)
    for slot in setup.slots:
        path = getattr(slot.strategy, "default_rates", None)
        if path:
            return RatesTable.from_csv(path)
    return None


def _attach_rollover(
    cfg: GenebotConfig,
    setup: RunSetup,
    kernel: Kernel,
    recorder: EquityRecorder,
    timeline: Timeline,
) -> None:
    rates = rates_for(cfg, setup)
    kernel.ctx.rates = rates
    if rates is None:
        return
    ro = cfg.backtest.rollover
    rollover = Rollover(kernel, rates, DailyBoundary(ro.time, ro.timezone), ro.markup)
    rollover.start(int(timeline.step_ts[0]))
    rollover.listeners.append(recorder.on_financing)
    kernel.rollover = rollover


def _account_currency(configured: str, setup: RunSetup) -> str:
    """The configured account currency, or — when no instrument is quoted in it and all share
    one quote currency (EUR/USD, GBP/USD ...) — that quote currency."""
    quotes = {i.quote for i in setup.instruments.values()}
    if configured in quotes or len(quotes) != 1:
        return configured
    (quote,) = quotes
    log.info("account currency %s (no instrument is quoted in %s)", quote, configured)
    return quote


def _split_cash(setup: RunSetup, currency: str, cash: Decimal) -> None:
    """Several venues: the initial cash is split evenly between their accounts."""
    setup.venues[0].account.clear()
    for venue, share in zip(setup.venues, split_evenly(cash, len(setup.venues)), strict=True):
        venue.account.deposit(0, currency, share)


# Share of bars with a signal above which skipping costs more than it saves: with every
# visited bar dearer in fast mode (the next working order is looked up), fast only pays on
# sparse signals (measured in benchmarks/README.md: SMA 10/20 on 1m bars, 5.5 % of bars, runs
# 3 % slower skipping; SMA 20/40, 2.8 %, 8 % faster).
FAST_BREAK_EVEN = 0.04


def _choose_mode(requested: str, kernel: Kernel) -> tuple[str, str]:
    """The loop to run and how the stats name it. ``fast`` and ``auto`` skip bars only where
    that pays; otherwise the per-bar loop runs (same results) and the stats say why."""
    allowed = kernel.fast_mode_allowed()
    if requested == "fast" and kernel.orchestrator is not None:
        raise ConfigError(
            "engine_mode fast is not available with the orchestrator (it acts between "
            "signals); use engine_mode per_bar or auto"
        )
    if requested == "fast" and not allowed:
        raise ConfigError(
            "engine_mode fast needs strategies that trade vectorized signals with the default "
            "on_bar; use engine_mode per_bar or auto"
        )
    if requested == "per_bar" or not allowed:
        return "per_bar", "per_bar"
    n = len(kernel.timeline)
    density = len(kernel.signal_steps()) / n if n else 0.0
    if density > FAST_BREAK_EVEN:
        why = (
            f"per_bar ({requested}: {density:.1%} of bars have a signal; skipping pays under "
            f"{FAST_BREAK_EVEN:.0%})"
        )
        return "per_bar", why
    return "fast", "fast"


class RunStats(NamedTuple):
    """A finished run's statistics and what they were computed from: the equity curve, and
    the trades table and equity frame when they were asked for (None otherwise)."""

    stats: dict[str, Any]
    curve: EquityCurve
    fees: Decimal
    trades: pd.DataFrame | None
    equity: pd.DataFrame | None


def run_stats(
    cfg: GenebotConfig,
    setup: RunSetup,
    kernel: Kernel,
    recorder: EquityRecorder,
    mode: str,
    until_step: int | None = None,
    *,
    frames: bool = True,
) -> RunStats:
    """The run's statistics (``BacktestResult.stats``); ``frames``: also the trades table and
    the equity frame (a study scoring the statistics needs neither: same numbers without)."""
    curve = recorder.curve(float(cfg.backtest.initial_cash))
    if until_step is not None:
        curve = curve.until(until_step)
    portfolio = kernel.portfolio
    trades = trades_frame(portfolio.trades, setup.names, portfolio.trade_rates) if frames else None
    figures = (  # the same floats and durations either way (the frame is built from them)
        TradeFigures.of_frame(trades)
        if trades is not None
        else trade_figures(portfolio.trades, portfolio.trade_rates)
    )
    fees = sum((s.fees for s in portfolio.sleeves.values()), Decimal(0))
    stats: dict[str, Any] = stats_of_arrays(
        curve.ts,
        curve.equity,
        figures,
        initial_equity=float(cfg.backtest.initial_cash),
        fees=float(fees),
        in_market=curve.in_market,
        periods_per_year=trading_days_per_year_ns(curve.ts),
    )
    order_log = kernel.execution.order_log
    stats.update(
        {
            "engine_mode": mode,
            "orders": len(order_log),
            "rejected_orders": sum(
                o.status in (OrderStatus.REJECTED, OrderStatus.DENIED) for o in order_log
            ),
            "strategy_errors": sum(s.errors for s in setup.slots),
            "open_positions": len(portfolio.open_positions()),
        }
    )
    if kernel.schedule is not None:
        stats["schedule_denied"] = sum(kernel.schedule.denied.values())
        stats["schedule_flattened"] = kernel.schedule.flattened
    return RunStats(stats, curve, fees, trades, curve.frame() if frames else None)


def result_of(
    cfg: GenebotConfig,
    setup: RunSetup,
    kernel: Kernel,
    recorder: EquityRecorder,
    mode: str,
    sleeves: SleeveRecorder | None = None,
    until_step: int | None = None,
) -> BacktestResult:
    """The run's result; ``until_step``: a run stopped there (equity up to that step)."""
    stats, curve, fees, trades, equity = run_stats(cfg, setup, kernel, recorder, mode, until_step)
    assert trades is not None and equity is not None
    names = setup.names
    errors = {s.strategy.strategy_id: s.error_messages for s in setup.slots if s.errors}
    return BacktestResult(
        stats=stats,
        trades=trades,
        open_trades=open_trades_frame(_open_trades(kernel), names),
        closed_trades=list(kernel.portfolio.trades),
        order_log=kernel.execution.order_log,
        equity=equity,
        bars=setup.bars,
        final_equity_exact=exact_equity(setup.venues, recorder.currency, kernel),
        strategy_errors=errors,
        lookahead_reads={s.strategy.strategy_id: s.lookahead for s in setup.slots if s.lookahead},
        risk_events=list(kernel.risk.events) if kernel.risk else [],
        risk_summary=kernel.risk.summary() if kernel.risk else {},
        fees_exact=fees,
        warnings=setup.warnings + (kernel.risk.tally.warnings() if kernel.risk else []),
        title=f"genebot backtest: {', '.join(s.strategy.strategy_id for s in setup.slots)}",
        orchestration=(
            orchestration_result(
                kernel.orchestrator, kernel, sleeves.frame(curve.kept, equity.index)
            )
            if kernel.orchestrator is not None and sleeves is not None
            else None
        ),
    )


def _open_trades(kernel: Kernel) -> list[tuple[str, str, str, int, Decimal, Decimal]]:
    rows = []
    for sid, sleeve in kernel.portfolio.sleeves.items():
        for iid, position in sleeve.positions.items():
            trade = position.open_trade()
            if trade is not None:
                rows.append((sid, iid, trade[3], trade[0], trade[1], trade[2]))
    return rows
