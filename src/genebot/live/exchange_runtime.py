"""``genebot run --live``: the kernel on a real exchange, every order journaled before it is
sent, the books checked against the exchange's at the start and every ``reconcile_interval``.

The run (one exchange per process):

1. connect: markets, instruments, and a start-up check — an open order on the exchange with
   genebot's client-id prefix that no running deployment holds (an earlier run's) **refuses
   the start**: genebot does not restore a deployment's orders yet, and will neither forget
   nor duplicate them; cancel them on the exchange (or ``genebot reconcile --show``) first.
   Orders not placed by genebot are reported and left alone.
2. warm-up: ``live.warmup_bars`` closed candles per feed; the kernel is assembled on them
   (indicators warm; no order is placed on history).
3. the loop: at each bar close (+ ``live.poll_delay_s``) the closed candles are fetched and
   handed to the kernel (the backtest's per-bar handler: orders through the risk engine, the
   journal's write barrier, then the exchange); working orders are synced each bar; a feed
   with no candle for ``live.stale_after_bars`` intervals is reported stale (journaled,
   logged) until data returns; every ``live.reconcile_interval`` the balances are compared —
   a difference stops the run with what differs and the command that resolves it.
4. stop (Ctrl-C, SIGTERM, ``max_bars``): what is pending is journaled; working orders stay
   on the exchange (said in the outcome).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from genebot.config.loader import GenebotConfig
from genebot.domain.market import Bar
from genebot.live import control
from genebot.live.alerting import Notifier, RunnerAlerts
from genebot.live.control import Controller
from genebot.live.deployments import FINISHED, DeploymentRef, finish, open_deployment
from genebot.live.exchange_setup import (
    GENEBOT_PREFIX,
    ExchangeParts,
    LiveKernel,
    MarketParts,
    assemble_live,
)
from genebot.live.exchange_setup import connect as connect_exchange
from genebot.live.recovery import BooksDisagree, Recovered, carry, plain, recover
from genebot.live.risk_state import RiskJournal, prior_deployments, restore_risk
from genebot.live.runtime import ERROR, JournalSink, _Flusher, _trading_config
from genebot.live.staged_live import StagedGate, ramp_start_ns
from genebot.live.status_store import KernelFields, StatusWriter
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.lock import RunnerLock
from genebot.venues.ccxt.quotes import BarsAndQuotes
from genebot.venues.ccxt.reconcile import RESOLVE, reconcile

log = logging.getLogger("genebot.live")
STARTED, STALE, FRESH, RECONCILED = (
    "runtime.started", "runtime.stale", "runtime.fresh", "runtime.reconciled",
)  # fmt: skip
SLICE_S = 0.25  # the longest sleep between looks at the stop flag
STALE_PAUSE = "*"  # stale data pauses new entries of every strategy (exits keep working)
NO_CANDLE_WAIT_S = 1.0  # a candle due but not served yet: ask again after this


@dataclass
class LiveOutcome:
    deployment_id: str
    bars: int
    orders: int  # genebot's orders, protective orders held locally included
    sent: int  # orders the exchange took
    fills: int
    stop_reason: str
    working_orders: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)


class LiveRuntime:
    """One live deployment (see the module docstring). ``stop()`` ends it after the bar."""

    mode = "live"  # the deployments' mode (paper on live prices: "paper")

    def __init__(
        self,
        cfg: GenebotConfig,
        db: Database,
        *,
        name: str = "live",
        max_bars: int | None = None,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], None] = time.sleep,
        on_bar: Callable[[LiveKernel], None] | None = None,
    ) -> None:
        self.cfg, self.db, self.name = cfg, db, name
        self.max_bars, self.clock, self.sleep = max_bars, clock, sleep
        self.on_bar = on_bar
        self._stop: str | None = None
        self.live: LiveKernel | None = None
        self.control: Controller | None = None
        self.deployment_id: str | None = None
        self._last_command = 0
        self._paused_for_stale = False
        self._parts: MarketParts | None = None
        self._status: tuple[StatusWriter, KernelFields] | None = None  # what the API reads
        self.alerts: RunnerAlerts | None = None
        self.staged: StagedGate | None = None  # the first weeks' reduced size (live.staged_*)
        self.notifier: Notifier | None = None
        self.alert_hooks: list[Callable[[Mapping[str, Any]], None]] = []
        self._risk: RiskJournal | None = None  # the risk state, journaled when it changes

    def stop(self, reason: str = "stopped by the operator") -> None:
        self._stop = reason

    def run(self) -> LiveOutcome:
        """The whole run, owning the database's runner lock (a second runner is refused)."""
        lock = RunnerLock(self.db)
        lock.acquire(wait_s=1.0)  # (a watcher checking the lock holds it for an instant)
        try:
            return self._run()
        finally:
            lock.release()

    def _open(self) -> DeploymentRef:
        return open_deployment(self.db, self.name, _trading_config(self.cfg), True, "live")

    def _prepare(self, ref: DeploymentRef) -> tuple[LiveKernel, Recovered]:
        """Connect, finish the earlier runs' orders, assemble the kernel on the warm-up."""
        parts = self._parts = connect_exchange(self.cfg, ref.id[:6], self.clock)
        recovered = recover(self.db, parts, self.name, self.clock, skip=ref.id)
        for line in recovered.lines:
            log.warning("restart: %s", line)
        _refuse_earlier_orders(parts)
        return assemble_live(self.cfg, parts), recovered

    def _earlier(self, ref: DeploymentRef) -> list[str]:
        """The earlier deployments whose risk state this one resumes (oldest first)."""
        return prior_deployments(self.db, self.name, "live", ref.id)

    def _run(self) -> LiveOutcome:
        ref = self._open()
        store = TradingStore(self.db, ref.id)
        try:
            live, recovered = self._prepare(ref)
            self.live = live
            outcome = self._trade(ref, store, live, recovered)
        except Exception as exc:  # journaled, then the caller says it to the user
            store.record_runtime(ERROR, self.mode, {"error": f"{type(exc).__name__}: {exc}"})
            finish(self.db, ref.id, "crashed")
            raise
        finally:
            self._close_stream()
        finish(self.db, ref.id)
        outcome.deployment_id = ref.id
        return outcome

    def _trade(
        self, ref: DeploymentRef, store: TradingStore, live: LiveKernel, recovered: Recovered
    ) -> LiveOutcome:
        parts = live.parts
        sink = JournalSink(store, {})
        live.kernel.execution.observe(sink)
        carry(live, recovered.carried)  # re-placed protection is journaled like any order
        sink.flush()
        restored = restore_risk(self.db, live.kernel, self._earlier(ref))  # a halt survives
        if restored is not None:
            log.warning("restart: %s", restored)
            recovered.lines.append(restored)
        self._risk = RiskJournal(live.kernel, store)  # written from the first loop on
        if self.mode == "live" and self.cfg.live.staged_sizing:
            start = ramp_start_ns(self.db, self.name, self.clock())
            self.staged = StagedGate(live.kernel, start, self.cfg.live.staged_weekly)
        flusher = _Flusher(live.kernel, store, ref.journaled)
        self.control = Controller(live.kernel)
        self.control.reparameterize = live.runner.growing.retrack
        self.deployment_id = ref.id
        started = self._started(live)
        header = {
            "deployment_id": ref.id,
            "name": self.name,
            "mode": self.mode,
            "exchange": parts.name,
            "strategies": sorted(live.kernel.portfolio.sleeves),
        }
        self._status = (StatusWriter(self.db, ref.id, header), KernelFields(live.kernel))
        self.alerts = RunnerAlerts(self.cfg, self.db, ref.id, self.name, self.notifier)
        self.alerts.hooks.extend(self.alert_hooks)
        self.alerts.exchange_errors = lambda: parts.caller.error_count + parts.errors
        started["recovered"] = recovered.lines
        started["carried"] = [plain(c) for c in recovered.carried]
        store.record_runtime(STARTED, parts.name, started)
        return self._loop(live, sink, flusher, store)

    def _exchange(self) -> ExchangeParts:
        assert isinstance(self._parts, ExchangeParts)
        return self._parts

    def _started(self, live: LiveKernel) -> dict[str, object]:
        parts = self._exchange()
        return started_payload(parts, live, parts.venue.account.balances)

    def _idle(self) -> None:
        """No candle yet: an unanswered send is asked about (working orders: at each bar)."""
        client = self._exchange().client
        if client.in_flight:
            client.resolve_in_flight()

    def _venue_halt(self) -> str | None:
        halted = self._exchange().client.halted
        return f"the exchange refused access: {halted}" if halted else None

    def _after_flush(self, live: LiveKernel, store: TradingStore) -> None:
        if self._risk is not None:
            self._risk.flush(self.clock())

    def _loop(
        self, live: LiveKernel, sink: JournalSink, flusher: _Flusher, store: TradingStore
    ) -> LiveOutcome:
        parts, runner = live.parts, live.runner
        feed = parts.feed  # the candles (and quotes), in the replay order
        if isinstance(feed, BarsAndQuotes):
            feed.floor_ns = int(live.kernel.timeline.step_known[-1])
        interval_ns = int(self.cfg.live.reconcile_interval * 1e9)
        next_reconcile = self.clock() + interval_ns
        stale: list[str] = []
        bars = 0
        while self._stop is None:
            self._commands(store)
            due = feed.next_known_ns()
            if due is not None and self.clock() < due:
                self.sleep(min(SLICE_S, (due - self.clock()) / 1e9))
                continue
            events = feed.poll(self.clock())
            if events:
                runner.on_events(events)
                bars += sum(1 for e in events if isinstance(e, Bar))
            else:
                self._idle()
            sink.flush()
            flusher.flush()
            self._after_flush(live, store)
            self._write_status(live)
            stale = self._watch_staleness(parts, stale, store)
            if self.on_bar is not None:
                self.on_bar(live)
            if self.clock() >= next_reconcile:
                self._reconcile(live, store)
                next_reconcile = self.clock() + interval_ns
            self._stop = self._why_stop(bars)
            if not events and self._stop is None:
                self.sleep(NO_CANDLE_WAIT_S)
        return self._finish(live, sink, flusher, store, bars)

    def _write_status(self, live: LiveKernel, force: bool = False) -> None:
        if self._status is None:
            return
        writer, fields = self._status
        control = self.control
        paused = control.paused if control is not None else set()
        reason = control.stop_reason if control is not None else None
        values = fields(self.clock(), paused, reason)
        values["exchange_errors"] = live.parts.caller.error_count + live.parts.errors
        stage = self.staged.fraction(self.clock()) if self.staged is not None else None
        values["staged_sizing"] = (
            {"week": stage[0], "share": float(stage[1])} if stage is not None else None
        )
        values["exchange_latency"] = {
            op: {"calls": int(n), "seconds": total, "max_s": slowest}
            for op, (n, total, slowest) in live.parts.caller.latency.items()
        }
        if writer.write(live.kernel, values, force=force) and self.alerts is not None:
            self.alerts.check(live.kernel, values, writer.drawdown)

    def _close_stream(self) -> None:
        parts = self.live.parts if self.live is not None else self._parts
        if parts is not None and parts.bars.watcher is not None:
            parts.bars.watcher.stop()

    def _why_stop(self, bars: int) -> str | None:
        ctl = self.control
        halted = self._venue_halt()
        if halted is not None:
            return halted
        if ctl is not None and ctl.stop_reason is not None and ctl.flat():
            return ctl.stop_reason
        if self.max_bars is not None and bars >= self.max_bars:
            return f"{bars} bars handled (--max-bars)"
        return self._stop

    def _commands(self, store: TradingStore) -> None:
        """Operator commands (genebot pause / resume / stop ...) posted for this deployment."""
        if self.control is None or self.deployment_id is None:
            return
        for command in control.commands_after(self.db, self.deployment_id, self._last_command):
            self._last_command = command.id
            outcome = self.control.apply(command)
            store.record_runtime(
                control.APPLIED, str(command.id),
                {"command": command.id, "kind": command.kind, "who": command.who,
                 "outcome": outcome, "ts_event": self.clock()},
            )  # fmt: skip
            log.warning("operator %s by %s: %s", command.name, command.who, outcome)

    def _watch_staleness(
        self, parts: MarketParts, before: list[str], store: TradingStore
    ) -> list[str]:
        now = parts.bars.stale
        paused = self.control.paused if self.control is not None else set()
        for feed in sorted(set(now) - set(before)):
            log.error("data for %s is stale (no new candle): new entries paused", feed)
            store.record_runtime(STALE, feed, {"feed": feed, "ts_event": self.clock()})
        for feed in sorted(set(before) - set(now)):
            log.warning("data for %s is back", feed)
            store.record_runtime(FRESH, feed, {"feed": feed, "ts_event": self.clock()})
        if now and not before and STALE_PAUSE not in paused:
            paused.add(STALE_PAUSE)
            self._paused_for_stale = True
        elif before and not now and self._paused_for_stale:
            paused.discard(STALE_PAUSE)  # an operator's pause stays
            self._paused_for_stale = False
        return now

    def _reconcile(self, live: LiveKernel, store: TradingStore) -> None:
        parts = self._exchange()
        report = reconcile(parts.client, dict(parts.venue.account.balances))
        lines = report.lines()
        store.record_runtime(RECONCILED, parts.name, {"agrees": report.agrees, "lines": lines})
        for line in lines:
            log.warning("reconcile: %s", line)
        if not report.agrees:
            raise BooksDisagree("; ".join(lines))

    def _finish(
        self,
        live: LiveKernel,
        sink: JournalSink,
        flusher: _Flusher,
        store: TradingStore,
        bars: int,
    ) -> LiveOutcome:
        sink.flush()
        flusher.flush()
        self._after_flush(live, store)
        self._write_status(live, force=True)
        reason = self._stop or "stopped"
        store.record_runtime(FINISHED, self.mode, {"why": reason, "bars": bars, "ts_event": 0})
        orders = live.kernel.execution.order_log
        working = [
            f"{o.client_order_id} {o.side} {o.quantity} {o.instrument_id} ({o.status.value})"
            for o in orders
            if o.is_open
        ]
        sent, fills = self._counts(live)
        return LiveOutcome("", bars, len(orders), sent, fills, reason, working)

    def _counts(self, live: LiveKernel) -> tuple[int, int]:
        """Orders the venue took, and fills."""
        client = self._exchange().client
        return len(client.venue_ids), len(client.seen_trades)


def _refuse_earlier_orders(parts: ExchangeParts) -> None:
    """An open genebot order on the exchange that this start does not hold: refuse."""
    ours = [
        f"{reply.get('symbol')} {reply.get('side')} {reply.get('amount')} @ "
        f"{reply.get('price')} (exchange id {reply.get('id')}, client id {cid})"
        for reply in parts.client.open_orders()
        if (cid := str(reply.get("clientOrderId") or "")).startswith(GENEBOT_PREFIX)
    ]
    if ours:
        raise BooksDisagree(
            f"{parts.name} holds {len(ours)} open order(s) a genebot run placed: "
            + "; ".join(ours)
            + ". No journal in this database holds them (another database, or a lost one): "
            f"cancel them on the exchange, then start again (see `{RESOLVE}`)"
        )


def started_payload(
    parts: MarketParts, live: LiveKernel, held: Mapping[str, Decimal]
) -> dict[str, object]:
    balances = {k: str(v) for k, v in sorted(held.items())}
    return {
        "exchange": parts.name,
        "sandbox": parts.entry.sandbox,
        "instruments": sorted(parts.instruments),
        "balances": balances,
        "warmup_bars": len(live.kernel.timeline),
        "ts_event": int(live.kernel.timeline.step_ts[-1]),
    }


__all__ = ["BooksDisagree", "LiveOutcome", "LiveRuntime"]
