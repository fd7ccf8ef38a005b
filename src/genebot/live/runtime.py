"""The paper runtime: the backtest's kernel, fed one bar at a time on a replay clock, with
every order event journaled before it acts and the run resumable after a crash.

One kernel: the strategies, risk engine, execution engine, simulated venue (the paper
execution client: same fees, slippage, latency and fill rules), ledger, protective orders and
orchestrator are assembled by the same code as a backtest (:func:`genebot.backtest.runner.
assemble`), and the result is built by the same code (:func:`~genebot.backtest.runner.
result_of`), so a replay at ``--speed max`` gives the backtest's orders and fills exactly.

Restart: the journal holds every order event (written before the engine applies it), the
round trips, the risk events and a checkpoint (the last step handled) every few hundred bars.
A restarted replay re-executes the deterministic kernel from the first bar at full speed —
indicators re-warmed from data, never from pickles — checks every regenerated order event
against the journal (a difference means the config or data changed: it stops and says so),
writes only what the journal does not hold yet, and goes on at the requested speed from the
checkpoint. Nothing is lost or written twice (the SIGKILL test proves it).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from genebot.backtest.result import BacktestResult
from genebot.backtest.runner import result_of
from genebot.backtest.setup import DataInput
from genebot.config.loader import GenebotConfig, redacted_dict
from genebot.core.errors import StopError
from genebot.data.feed import Timeline
from genebot.domain.events import OrderEvent, OrderFilled, OrderSubmitted
from genebot.live import control
from genebot.live.alerting import Notifier, RunnerAlerts
from genebot.live.control import Command, Controller
from genebot.live.deployments import (
    ALLOCATION,
    CHECKPOINT,
    FINISHED,
    INTERVENTION,
    RESTARTED,
    DeploymentRef,
    Journaled,
    finish,
    open_deployment,
)
from genebot.live.feeding import PRECOMPUTED, Opened, Source, open_run
from genebot.live.paper_wallet import fund_others, with_starting_balances
from genebot.live.status_store import StatusWriter
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.lock import RunnerLock, scope_of
from genebot.system.kernel import Kernel

log = logging.getLogger("genebot.live")
trades_log = logging.getLogger("genebot.trades")  # logs/trades.log
risk_log = logging.getLogger("genebot.risk")
ZERO = Decimal(0)
CHECKPOINT_EVERY = 250  # steps between checkpoints (and trade / risk-event flushes), or
# sooner once a trade closed (so it reaches the history within a second) ...
CHECKPOINT_WALL_S = 1.0  # ... and at most one a second (each is a durable commit)
ERROR = "runtime.error"
STATS = "runtime.stats"  # a finished paper run's statistics
LOCK_WAIT_S = 1.0  # a watcher checking the lock holds it for an instant
CHUNK = 2048  # steps handled between looks at the stop flag when not pacing (one commit each)
POLL_S = 0.25  # seconds between looks at the journal for operator commands
DAY_NS = 86_400 * 10**9
STOP_WITHIN = 100  # bars an operator's stop waits for the closing orders to fill


class JournalMismatch(StopError):
    """Re-executing a resumed deployment produced an order event its journal does not hold."""


class JournalSink:
    """The execution engine's observer: each order event to the journal, once (events the
    journal already holds from before a restart are checked, not written again).

    Group commit with a write barrier: events are buffered and committed together, and the
    buffer is always committed when an order is submitted — before the engine hands it to
    the venue — so an order is in the journal before it is sent. Denials, acknowledgements
    and fills of a bar go in one transaction at the end of the bar (:meth:`flush`)."""

    def __init__(self, store: TradingStore, journaled: Mapping[str, list[str]]) -> None:
        self.store = store
        self.journaled = journaled
        self.seen: Counter[str] = Counter()
        self.written = 0
        self.pending: list[OrderEvent] = []

    def __call__(self, event: OrderEvent) -> None:
        coid = event.client_order_id
        n = self.seen[coid]
        self.seen[coid] = n + 1
        before = self.journaled.get(coid, ())
        if n < len(before):
            kind = type(event).__name__
            if before[n] != kind:
                raise JournalMismatch(
                    f"order {coid}: the journal holds {before[n]} as its event {n + 1}, the "
                    f"replay gives {kind}: the config, the data or genebot changed since the "
                    "deployment started; run with --fresh to start a new one"
                )
            return
        self.pending.append(event)
        if type(event) is OrderSubmitted:  # the barrier: durable before it is sent
            self.flush()

    def check_complete(self) -> None:
        """Every event the journal held was regenerated (else the journal knows of something
        this replay does not: stop)."""
        for coid, kinds in self.journaled.items():
            if self.seen[coid] < len(kinds):
                raise JournalMismatch(
                    f"order {coid}: the journal holds {len(kinds)} events ({kinds[-1]} last), "
                    f"the replay gives {self.seen[coid]}: the config, the data or genebot "
                    "changed since the deployment started; run with --fresh to start a new one"
                )

    def flush(self) -> None:
        if self.pending:
            events, self.pending = self.pending, []
            self.store.on_order_events(events)
            self.written += len(events)
            if trades_log.isEnabledFor(logging.INFO):
                _log_fills(events)


@dataclass
class Status:
    """What the status view shows, refreshed as the run goes."""

    deployment_id: str
    step: int
    total: int
    ts_ns: int
    equity: Decimal
    open_positions: int
    orders: int
    trades: int
    risk_state: str
    recovering: bool
    last_orders: list[str] = field(default_factory=list)
    initial_equity: Decimal = ZERO
    daily_pnl: Decimal = ZERO  # since the start of the (data) UTC day
    win_rate: float | None = None  # of the closed round trips
    paused: tuple[str, ...] = ()  # strategies an operator paused ("*": all)
    stop_reason: str | None = None

    @property
    def total_pnl(self) -> Decimal:
        return self.equity - self.initial_equity


@dataclass
class RunOutcome:
    result: BacktestResult
    deployment_id: str
    resumed: bool
    resumed_at_step: int
    finished: bool
    events_written: int
    stop_reason: str | None = None


class PaperRuntime:
    """One paper deployment replaying the config's data at ``speed`` × real time (None: as
    fast as possible). ``stop()`` (from a signal handler) ends it after the current bar."""

    def __init__(
        self,
        cfg: GenebotConfig,
        db: Database,
        *,
        name: str = "paper",
        speed: float | None = None,
        duration_s: float | None = None,
        fresh: bool = False,
        data: DataInput | None = None,
        on_status: Callable[[Status], None] | None = None,
        status_every_s: float = 0.25,
        cancel_open_orders_on_stop: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.monotonic,
        feed: str = PRECOMPUTED,
    ) -> None:
        self.cfg, self.db, self.name = cfg, db, name
        self.speed, self.fresh, self.data = speed, fresh, data
        self.duration_s = duration_s  # no speed given: play the whole file in about this long
        self.on_status, self.status_every_s = on_status, status_every_s
        self.cancel_open_orders_on_stop = cancel_open_orders_on_stop
        self._sleep, self._wall = sleep, wall
        self.feed = feed  # how bars reach the kernel (genebot.live.feeding)
        self._stop_requested = False
        self.deployment_id: str | None = None  # once the deployment is open
        self.latest: Status | None = None  # the last status published (4 times a second)
        self._day: tuple[int, Decimal] | None = None
        self.context: _Run | None = None  # the run's parts, once it has started
        self.opened: Opened | None = None
        self.writer: StatusWriter | None = None  # the status row the API reads
        self.alerts: RunnerAlerts | None = None  # alerting.rules and the built-in alerts
        self.notifier: Notifier | None = None  # where alerts go (notifications)
        self.alert_hooks: list[Callable[[Mapping[str, Any]], None]] = []  # see RunnerAlerts

    def stop(self) -> None:
        self._stop_requested = True

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        """The whole run, owning its deployment's runner lock (the same deployment is never
        traded by two processes; other paper deployments run beside it)."""
        lock = RunnerLock(self.db, scope_of("paper", self.name))
        lock.acquire(wait_s=LOCK_WAIT_S)
        try:
            return self._run()
        finally:
            lock.release()

    def _run(self) -> RunOutcome:
        self.cfg = with_starting_balances(self.cfg)  # paper.starting_balances: the capital
        opened = self.opened = open_run(self.cfg, self.data, self.feed)
        setup, kernel, source = opened.setup, opened.kernel, opened.source
        fund_others(self.cfg, setup, opened.recorder)
        config = {"config": _trading_config(self.cfg), "data": _data_fingerprint(source)}
        ref = open_deployment(self.db, self.name, config, self.fresh)
        store = TradingStore(self.db, ref.id)
        journaled = ref.journaled
        if ref.resumed:
            store.record_runtime(
                RESTARTED, "replay",
                {"after_crash": journaled.crashed, "checkpoint": journaled.checkpoint_step},
            )  # fmt: skip
            log.warning(
                "resuming deployment %s from step %d%s",
                ref.id[:12],
                journaled.checkpoint_step + 1,
                " after a crash" if journaled.crashed else "",
            )
        sink = JournalSink(store, journaled.order_events)
        kernel.execution.observe(sink)
        ctx = _Run(
            kernel, source, self.db, ref, sink, store,
            _Flusher(kernel, store, journaled),
            Controller(kernel), journaled.checkpoint_step + 1,
            sum((sl.allocated for sl in kernel.portfolio.sleeves.values()), ZERO),
            journaled.last_event_ns,
        )  # fmt: skip
        growing = getattr(getattr(source, "runner", None), "growing", None)
        if growing is not None:  # bars arriving: the strategy's incremental signals restart
            ctx.control.reparameterize = growing.retrack
        self.deployment_id = ref.id
        self.context = ctx
        header = {"deployment_id": ref.id, "name": self.name, "mode": "paper",
                  "speed": self.speed, "strategies": sorted(kernel.portfolio.sleeves)}  # fmt: skip
        self.writer = StatusWriter(self.db, ref.id, header)
        self.alerts = RunnerAlerts(self.cfg, self.db, ref.id, self.name, self.notifier)
        self.alerts.hooks.extend(self.alert_hooks)
        try:
            return self._trade(ctx, setup, opened.recorder)
        except Exception as exc:  # the run cannot go on: say so in the journal, then raise
            sink.pending.clear()  # what was not committed was not acted on outside
            store.record_runtime(ERROR, "replay", {"error": f"{type(exc).__name__}: {exc}"})
            finish(self.db, ref.id, "crashed")
            raise

    def _trade(self, ctx: _Run, setup: Any, recorder: Any) -> RunOutcome:
        kernel, store, sink, ref = ctx.kernel, ctx.store, ctx.sink, ctx.ref
        schedule = ctx.source.schedule
        n = len(schedule)
        if self.speed is None and self.duration_s and n > 1:
            span_s = (int(schedule.step_ts[-1]) - int(schedule.step_ts[0])) / 1e9
            self.speed = max(span_s / self.duration_s, 1.0)
        last = self._loop(ctx)
        done = last == n - 1 or ctx.stopped_by_operator
        if last == n - 1:
            kernel.finish()
        elif self.cancel_open_orders_on_stop and not done:
            for order in kernel.execution.open_orders():
                kernel.execution.cancel(order, "canceled on stop")
            done = True  # what a re-execution would not do: this deployment cannot resume
        sink.flush()
        ctx.flusher.flush()
        if last >= 0:
            store.record_runtime(CHECKPOINT, "replay", _checkpoint(schedule, last))
        if done:
            why = ctx.control.stop_reason or "the replay reached the end of its data"
            store.record_runtime(FINISHED, "replay", {"step": last, "ts_event": 0, "why": why})
        finish(self.db, ref.id)
        resume_at = ctx.resume_at
        result = result_of(  # stopped before its first bar: that bar's flat equity
            self.cfg, setup, kernel, recorder, "paper replay", ctx.source.sleeves,
            until_step=None if last == n - 1 else max(last, 0),
        )  # fmt: skip
        result.title = f"genebot paper: {', '.join(s.strategy.strategy_id for s in setup.slots)}"
        if done:  # the run's statistics by the backtests' definitions, every bar (readiness)
            store.record_runtime(STATS, "replay", {"stats": result.stats})
        return RunOutcome(
            result, ref.id, ref.resumed, resume_at, done, sink.written, ctx.control.stop_reason
        )

    def _loop(self, ctx: _Run) -> int:
        """Handle steps until the end, a stop or an operator's stop; the last step handled."""
        schedule = ctx.source.schedule
        n = len(schedule)
        ts = schedule.step_ts
        step = 0
        next_checkpoint, next_status, next_poll = CHECKPOINT_EVERY, 0.0, 0.0
        next_checkpoint_wall = 0.0
        origin_wall = self._wall()
        origin_ts = int(ts[min(ctx.resume_at, n - 1)]) if n else 0
        stop_by = n
        while step < n and not self._stop_requested:
            ctx.replay_commands(step)
            if step >= ctx.resume_at and self._wall() >= next_poll:
                ctx.poll_commands(step)
                next_poll = self._wall() + POLL_S
            if ctx.control.stop_reason is not None:
                stop_by = min(stop_by, step + STOP_WITHIN)
                if ctx.control.flat() or step >= stop_by:
                    ctx.stopped_by_operator = True
                    break
            pacing = self.speed is not None and step >= ctx.resume_at
            if pacing:
                due = origin_wall + (int(ts[step]) - origin_ts) / 1e9 / self.speed  # type: ignore[operator]
                wait = due - self._wall()
                if wait > 0:
                    self._sleep(min(wait, POLL_S))
                    if self._wall() < due:
                        continue  # look at the stop flag and the commands a few times a second
            stop = step + 1 if pacing else ctx.chunk_end(step, min(n, step + CHUNK))
            step = ctx.source.advance(step, stop)
            ctx.sink.flush()
            if not ctx.verified and int(schedule.step_known[step - 1]) > ctx.last_event_ns:
                ctx.sink.check_complete()  # the replay has passed every journaled event
                ctx.verified = True
            due = step >= next_checkpoint or ctx.flusher.pending()  # a closed trade: soon
            if due and self._wall() >= next_checkpoint_wall:
                ctx.checkpoint(step - 1)
                next_checkpoint = step + CHECKPOINT_EVERY
                next_checkpoint_wall = self._wall() + CHECKPOINT_WALL_S
            if self._wall() >= next_status:
                self._publish(ctx, step - 1, step < ctx.resume_at)
                next_status = self._wall() + self.status_every_s
        if step:
            self._publish(ctx, step - 1, False, final=True)
        return step - 1

    def _publish(self, ctx: _Run, step: int, recovering: bool, final: bool = False) -> None:
        status = _status(ctx.kernel, ctx.source.schedule, ctx.ref.id, step, recovering)
        day = status.ts_ns // DAY_NS
        if self._day is None or self._day[0] != day:
            self._day = (day, status.equity)
        status.daily_pnl = status.equity - self._day[1]
        status.initial_equity = ctx.initial_equity
        status.paused = tuple(sorted(ctx.control.paused))
        status.stop_reason = ctx.control.stop_reason
        self.latest = status
        if self.writer is not None:
            fields = {**asdict(status), "total_pnl": status.total_pnl, "status": "running"}
            written = self.writer.write(ctx.kernel, fields, force=final)
            if written and self.alerts is not None and not recovering:
                self.alerts.check(ctx.kernel, fields, self.writer.drawdown, 0.0)
        if self.on_status is not None:
            self.on_status(status)


@dataclass
class _Run:
    """One run's parts and its bookkeeping: checkpoints, operator commands (applied live, or
    re-applied at their recorded step while a restart re-executes)."""

    kernel: Kernel
    source: Source
    db: Database
    ref: DeploymentRef
    sink: JournalSink
    store: TradingStore
    flusher: _Flusher
    control: Controller
    resume_at: int
    initial_equity: Decimal = ZERO
    last_event_ns: int = -1
    verified: bool = False
    stopped_by_operator: bool = False
    _replays: list[tuple[int, Command]] = field(default_factory=list)
    _known: set[int] = field(default_factory=set)
    _last_seen: int = 0

    def __post_init__(self) -> None:
        done = control.applied(self.db, self.ref.id)
        by_id = {c.id: c for c in control.commands_after(self.db, self.ref.id, 0)}
        self._replays = [(step, by_id[cid]) for step, cid, _ in done if cid in by_id]
        self._known = {cid for _, cid, _ in done}

    def chunk_end(self, step: int, end: int) -> int:
        """``end``, or earlier: the restart point, or a step where a command is re-applied."""
        if step < self.resume_at:
            end = min(end, self.resume_at)
        for at, _ in self._replays:
            if step < at < end:
                return at
        return end

    def replay_commands(self, step: int) -> None:
        while self._replays and self._replays[0][0] <= step:
            self.control.apply(self._replays.pop(0)[1])

    def poll_commands(self, step: int) -> None:
        for command in control.commands_after(self.db, self.ref.id, self._last_seen):
            self._last_seen = command.id
            if command.id in self._known:
                continue
            outcome = self.control.apply(command)
            self._known.add(command.id)
            ts = int(self.source.schedule.step_ts[max(step - 1, 0)])
            self.store.record_runtime(
                control.APPLIED, str(command.id),
                {"command": command.id, "kind": command.kind, "who": command.who,
                 "step": step, "outcome": outcome, "ts_event": ts},
            )  # fmt: skip
            log.warning("operator %s by %s: %s", command.name, command.who, outcome)

    def checkpoint(self, step: int) -> None:
        self.flusher.flush()
        if step >= self.resume_at:
            self.store.record_runtime(CHECKPOINT, "replay", _checkpoint(self.source.schedule, step))


class _Flusher:
    """Round trips, risk events and the orchestrator's allocation changes and interventions
    that the journal does not hold yet, written in order."""

    def __init__(self, kernel: Kernel, store: TradingStore, journaled: Journaled) -> None:
        self.kernel, self.store = kernel, store
        self.trades, self.risk = journaled.trades, journaled.risk_events
        self.allocations = journaled.counts.get(ALLOCATION, 0)
        self.interventions = journaled.counts.get(INTERVENTION, 0)

    def pending(self) -> bool:
        """Whether a round trip closed that the journal does not hold yet."""
        return len(self.kernel.portfolio.trades) > self.trades

    def flush(self) -> None:
        trades = self.kernel.portfolio.trades
        self.store.record_trades(trades[self.trades :])
        for t in trades[self.trades :]:
            trades_log.info(
                "TRADE_CLOSED %s %s %s pnl %s (%s)",
                t.strategy_id,
                t.side,
                t.instrument_id,
                t.pnl,
                t.exit_reason,
                extra={"strategy": t.strategy_id},
            )
        self.trades = max(self.trades, len(trades))
        risk = self.kernel.risk
        events = risk.events if risk is not None else []
        new = events[self.risk :]
        if new:
            self.store.record_risk_events(
                [(e.ts, e.strategy, e.symbol, e.rule, e.action, e.detail) for e in new]
            )
            for e in new:
                if e.action != "approve":
                    risk_log.warning(
                        "RISK_LIMIT %s %s %s: %s",
                        e.rule,
                        e.action,
                        e.symbol,
                        e.detail,
                        extra={"strategy": e.strategy},
                    )
        self.risk = max(self.risk, len(events))
        orchestrator = self.kernel.orchestrator
        if orchestrator is None:
            return
        for change in orchestrator.history[self.allocations :]:
            row = {**change._asdict(), "ts_event": change.ts, "capital": str(change.capital),
                   "target_capital": str(change.target_capital)}  # fmt: skip
            self.store.record_runtime(ALLOCATION, change.strategy, row)
        self.allocations = max(self.allocations, len(orchestrator.history))
        for record in orchestrator.interventions[self.interventions :]:
            row = {**record._asdict(), "ts_event": record.ts}
            self.store.record_runtime(INTERVENTION, record.strategy or "*", row)
        self.interventions = max(self.interventions, len(orchestrator.interventions))


def _log_fills(events: Sequence[OrderEvent]) -> None:
    for e in events:
        if isinstance(e, OrderFilled):
            trades_log.info(
                "TRADE_EXECUTED %s %s %s @ %s (order %s, fee %s %s)",
                e.side,
                e.last_qty,
                e.instrument_id,
                e.last_px,
                e.client_order_id,
                e.fee,
                e.fee_currency,
            )


def _checkpoint(schedule: Timeline, step: int) -> dict[str, object]:
    return {"step": step, "ts_event": int(schedule.step_ts[step])}


def _trading_config(cfg: GenebotConfig) -> dict[str, Any]:
    """What decides the trading (not where files go or how much is logged), secrets hidden."""
    data = redacted_dict(cfg)
    data.pop("logging", None)
    backtest = data.get("backtest")
    if isinstance(backtest, dict):
        backtest.pop("output_dir", None)
    return data


def _data_fingerprint(source: Source) -> list[list[Any]]:
    """Per feed: instrument, timeframe, bars, first and last bar time (a changed file shows)."""
    return [
        [f.instrument.id, int(f.timeframe_ns), len(f), int(f.ts[0]), int(f.ts[-1])]
        for f in source.schedule.feeds
        if len(f)
    ]


def _status(
    kernel: Kernel, schedule: Timeline, deployment_id: str, step: int, recovering: bool
) -> Status:
    risk = kernel.risk
    state = "OFF" if risk is None else risk.state.value
    if risk is not None and risk.halt_rule:
        state += f" ({risk.halt_rule})"
    orders = kernel.execution.order_log
    return Status(
        deployment_id=deployment_id,
        step=step,
        total=len(schedule),
        ts_ns=int(schedule.step_ts[step]) if step >= 0 else 0,
        equity=sum((sl.equity(kernel.mark) for sl in kernel.portfolio.sleeves.values()), ZERO),
        open_positions=len(kernel.portfolio.open_positions()),
        orders=len(orders),
        trades=len(kernel.portfolio.trades),
        risk_state=state,
        recovering=recovering,
        last_orders=[_order_line(o) for o in orders[-5:]],
        win_rate=_win_rate(kernel.portfolio.trades),
    )


def _win_rate(trades: Sequence[Any]) -> float | None:
    if not trades:
        return None
    return sum(1 for t in trades if t.pnl > 0) / len(trades)


def _order_line(order: Any) -> str:
    return (
        f"{order.client_order_id} {order.side} {order.quantity} {order.instrument_id} "
        f"{order.status.value}"
    )


__all__ = [
    "CHECKPOINT",
    "FINISHED",
    "JournalMismatch",
    "JournalSink",
    "PaperRuntime",
    "RunOutcome",
    "Status",
]
