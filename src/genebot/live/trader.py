"""LiveTrader: the seed's Python API around one paper deployment.

``LiveTrader(config).start()`` runs the deployment in a background thread — the paper runtime
with bars arriving one at a time (:mod:`genebot.live.feeding`), every order journaled before
it acts, a restart resuming it — and returns whether it is running. ``pause()``, ``resume()``
and ``stop()`` go through the same journaled operator commands as ``genebot pause`` (so the
journal says who did what). Its components are the run's real objects:

========================  ==================================================================
``execution_engine``      the kernel's :class:`~genebot.execution.engine.ExecutionEngine`
``strategy_runner``       :class:`~genebot.live.strategy_runner.StrategyRunner` (bars → signals)
``position_manager``      the :class:`~genebot.portfolio.portfolio.Portfolio` (positions, ledger)
``risk_monitor``          the :class:`~genebot.risk.engine.RiskEngine` (None when disabled)
``system_monitor``        :class:`~genebot.live.system_monitor.SystemMonitor` (psutil)
``performance_tracker``   :class:`~genebot.live.performance_tracker.PerformanceTracker`
``trading_scheduler``     the schedule gate's :class:`~genebot.live.scheduler.TradingScheduler`
========================  ==================================================================

``mode = DEMO`` with a broker account (``config.mt5``, or MT5_LOGIN / MT5_PASSWORD /
MT5_SERVER in the environment) trades that demo account through the live runtime — the same
kernel, journal and reconciliation as ``genebot run --live`` — once the terminal confirms it is
a demo account (:mod:`genebot.live.trader_account`); without an account DEMO is a paper replay.
``mode = LIVE`` (real money) is refused by ``start()`` (False, :attr:`last_error` says why):
real money goes through ``genebot run --live`` and its typed confirmation.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from genebot.config.loader import GenebotConfig, load_config
from genebot.live import control
from genebot.live.exchange_runtime import LiveOutcome, LiveRuntime
from genebot.live.feeding import ARRIVING, Arriving
from genebot.live.performance_tracker import PerformanceTracker
from genebot.live.runtime import PaperRuntime, RunOutcome, Status
from genebot.live.status_store import KernelFields
from genebot.live.system_monitor import SystemMonitor
from genebot.live.trader_account import account_of, demo_refusal
from genebot.live.trading_config import LiveTradingConfig, TradingMode
from genebot.persistence.database import Database
from genebot.persistence.migrate import ensure_current
from genebot.persistence.settings import DEFAULT_DATABASE_URL

log = logging.getLogger("genebot.live.trader")
WHO = "python-api"
START_TIMEOUT_S = 60.0
COMMAND_TIMEOUT_S = 10.0


class TradingStatus(Enum):
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    ERROR = "error"


@dataclass(frozen=True)
class TradingStatistics:
    status: TradingStatus
    total_pnl: float
    daily_pnl: float
    trades: int
    win_rate: float | None
    open_positions: int
    uptime: float  # seconds since start()
    equity: float = 0.0
    orders: int = 0
    risk_state: str = "OFF"
    metrics: dict[str, Any] = field(default_factory=dict)  # PerformanceTracker's statistics
    alerts: tuple[str, ...] = ()  # SystemMonitor's, newest last


class LiveTrader:
    def __init__(
        self,
        config: LiveTradingConfig | GenebotConfig | str | Path | Mapping[str, Any],
        *,
        name: str = "live-trader",
        database_url: str | None = None,
        fresh: bool = False,
        speed: float | None = None,
        **live_options: Any,
    ) -> None:
        """``live_options`` go to the live runtime of a DEMO account run (``max_bars``,
        ``clock``, ``sleep``)."""
        self.config = config
        self.name, self.fresh = name, fresh
        seed = config if isinstance(config, LiveTradingConfig) else None
        self.mode = seed.mode if seed is not None else TradingMode.PAPER
        self.speed = speed if speed is not None or seed is None else seed.speed
        url = database_url or (seed.database_url if seed is not None else None)
        self.database_url = url or os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        monitoring = seed.monitoring if seed is not None else None
        self.system_monitor = SystemMonitor(
            *(
                (monitoring.max_cpu_usage, monitoring.max_memory_usage, monitoring.max_disk_usage)
                if monitoring is not None
                else ()
            ),
            interval_s=monitoring.health_check_interval if monitoring is not None else 60.0,
            on_alert=self._alert,
        )
        self._performance_every = (
            monitoring.performance_update_interval if monitoring is not None else 300.0
        )
        self.performance_tracker: PerformanceTracker | None = None
        self.alerts: list[str] = []
        self.last_error: str | None = None
        self.outcome: RunOutcome | LiveOutcome | None = None
        self.runtime: PaperRuntime | LiveRuntime | None = None
        self.live_options = live_options
        self.dispatcher: Any = None  # the notifications' (config.notifications.enabled)
        self.db: Database | None = None
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._latest: Status | None = None
        self._fields: KernelFields | None = None  # a live run's status figures
        self._bars = 0

    # -- the seed's calls ---------------------------------------------------------------------
    def start(self) -> bool:
        """Start trading in the background; True once the deployment runs."""
        if self._thread is not None and self._thread.is_alive():
            return True
        if self.mode is TradingMode.LIVE:
            self.last_error = (
                "LiveTrader runs DEMO and PAPER; trade live with `genebot run --live` "
                "(dry_run: false, and a typed confirmation)"
            )
            return False
        try:
            cfg = self._genebot_config()
            self.db = Database(self.database_url)
            ensure_current(self.db)
            self.runtime = self._runtime(cfg, self.db)
        except Exception as exc:  # bad config, database or account: say so, do not raise
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("live trader not started: %s", self.last_error)
            return False
        if self.runtime is None:
            return False
        self.dispatcher = _notifications(cfg, self.runtime)
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"genebot-{self.name}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and self._thread.is_alive():
            if self._kernel() is not None:
                return True
            time.sleep(0.01)
        return self._kernel() is not None and self.last_error is None

    def _runtime(self, cfg: GenebotConfig, db: Database) -> PaperRuntime | LiveRuntime | None:
        """The paper replay, or (DEMO with an account) the live runtime on that demo account."""
        account = account_of(cfg)
        if account is None:
            return PaperRuntime(
                cfg, db, name=self.name, speed=self.speed, fresh=self.fresh,
                on_status=self._on_status, feed=ARRIVING,
            )  # fmt: skip
        refusal = demo_refusal(cfg, account)
        if refusal is not None:
            self.last_error = refusal
            log.error("live trader not started: %s", refusal)
            return None
        return LiveRuntime(cfg, db, name=self.name, on_bar=self._on_bar, **self.live_options)

    def get_status(self) -> TradingStatus:
        if self.last_error is not None:
            return TradingStatus.ERROR
        if self._thread is None or self.runtime is None:
            return TradingStatus.STOPPED
        if not self._thread.is_alive():
            return TradingStatus.STOPPED
        control = self._control()
        if control is None:
            return TradingStatus.STARTING
        if "*" in control.paused:
            return TradingStatus.PAUSED
        return TradingStatus.RUNNING

    def get_statistics(self) -> TradingStatistics:
        status, latest = self.get_status(), self._latest
        uptime = time.monotonic() - self._started if self._started else 0.0
        metrics = dict(self.performance_tracker.metrics) if self.performance_tracker else {}
        if latest is None:
            return TradingStatistics(status, 0.0, 0.0, 0, None, 0, uptime, metrics=metrics)
        return TradingStatistics(
            status=status,
            total_pnl=float(latest.total_pnl),
            daily_pnl=float(latest.daily_pnl),
            trades=latest.trades,
            win_rate=latest.win_rate,
            open_positions=latest.open_positions,
            uptime=uptime,
            equity=float(latest.equity),
            orders=latest.orders,
            risk_state=latest.risk_state,
            metrics=metrics,
            alerts=tuple(self.alerts),
        )

    def pause(self, reason: str = "paused from the Python API") -> bool:
        """No new entries (exits and protective orders keep working); journaled."""
        return self._command("pause", reason=reason)

    def resume(self, reason: str = "resumed from the Python API") -> bool:
        return self._command("resume", reason=reason)

    def stop(self, timeout_s: float | None = 60.0) -> bool:
        """Stop after the bar being handled: the journal is flushed, the deployment can be
        resumed by starting again with the same name and database."""
        if self.runtime is None or self._thread is None:
            return True
        self.runtime.stop()
        self._thread.join(timeout_s)
        if self.dispatcher is not None and not self._thread.is_alive():
            self.dispatcher.close(5.0)  # a bounded wait for what is queued
        return not self._thread.is_alive()

    def wait(self, timeout_s: float | None = None) -> RunOutcome | LiveOutcome | None:
        """Block until the run ends (a replay reaches the end of its data) or ``timeout_s``."""
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.outcome

    # -- the components -----------------------------------------------------------------------
    @property
    def execution_engine(self) -> Any:
        return self._kernel_part("execution")

    @property
    def position_manager(self) -> Any:
        return self._kernel_part("portfolio")

    @property
    def risk_monitor(self) -> Any:
        return self._kernel_part("risk")

    @property
    def trading_scheduler(self) -> Any:
        gate = self._kernel_part("schedule")
        return getattr(gate, "scheduler", None)

    @property
    def strategy_runner(self) -> Any:
        if not isinstance(self.runtime, PaperRuntime):
            return None
        opened = self.runtime.opened if self.runtime is not None else None
        source = opened.source if opened is not None else None
        return source.runner if isinstance(source, Arriving) else None

    # -- inside -------------------------------------------------------------------------------
    def _genebot_config(self) -> GenebotConfig:
        if isinstance(self.config, LiveTradingConfig):
            skipped = self.config.unmapped()
            if skipped:
                log.warning("not acted on yet: %s", ", ".join(skipped))
            return self.config.to_config()
        return load_config(self.config)

    def _run(self) -> None:
        assert self.runtime is not None
        try:
            self.outcome = self.runtime.run()
            tracker, latest = self.performance_tracker, self._latest
            if tracker is not None and latest is not None:
                tracker.update(latest.step)  # the statistics of the whole run
        except Exception as exc:  # the run's own error: the status says ERROR, with why
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("live trader stopped on an error: %s", self.last_error)

    def _on_status(self, status: Status) -> None:
        """In the runner's thread, a few times a second: keep the latest status, look at the
        machine and refresh the statistics when their intervals have passed."""
        self._latest = status
        self.system_monitor.maybe_check()
        runtime = self.runtime
        if (
            self.performance_tracker is None
            and isinstance(runtime, PaperRuntime)
            and runtime.opened
        ):
            opened = runtime.opened
            initial = float(runtime.cfg.backtest.initial_cash)
            self.performance_tracker = PerformanceTracker(
                opened.kernel, opened.recorder, initial, self._performance_every
            )
        if self.performance_tracker is not None and not status.recovering:
            self.performance_tracker.maybe_update(status.step)

    def _alert(self, message: str) -> None:
        self.alerts.append(message)
        del self.alerts[:-100]

    def _kernel(self) -> Any:
        runtime = self.runtime
        if isinstance(runtime, LiveRuntime):
            return runtime.live.kernel if runtime.live is not None else None
        opened = runtime.opened if runtime is not None and runtime.context is not None else None
        return opened.kernel if opened is not None else None

    def _control(self) -> Any:
        runtime = self.runtime
        if isinstance(runtime, LiveRuntime):
            return runtime.control
        return runtime.context.control if runtime is not None and runtime.context else None

    def _kernel_part(self, name: str) -> Any:
        kernel = self._kernel()
        return getattr(kernel, name) if kernel is not None else None

    def _on_bar(self, live: Any) -> None:
        """The live runtime's hook after each bar: the status the statistics read."""
        if self._fields is None:
            self._fields = KernelFields(live.kernel)
        control = self._control()
        paused = set(control.paused) if control is not None else set()
        f = self._fields(int(live.kernel.now()), paused, None)
        risk = live.kernel.risk
        self._bars += 1
        self._latest = Status(
            self.runtime.deployment_id or "", self._bars, 0, f["ts_ns"], f["equity"],  # type: ignore[union-attr]
            f["open_positions"], f["orders"], f["trades"],
            risk.state.value if risk is not None else "OFF", False,
            initial_equity=f["initial_equity"], daily_pnl=f["daily_pnl"],
            win_rate=f["win_rate"], paused=tuple(sorted(paused)),
        )  # fmt: skip
        self.system_monitor.maybe_check()

    def _command(self, what: str, **detail: object) -> bool:
        runtime = self.runtime
        if runtime is None or runtime.deployment_id is None or self.db is None:
            return False
        if self._thread is None or not self._thread.is_alive():
            return False
        command = control.post(self.db, runtime.deployment_id, what, WHO, **detail)
        outcome = control.wait_applied(self.db, runtime.deployment_id, command, COMMAND_TIMEOUT_S)
        return outcome is not None and not outcome.startswith("refused")


def _notifications(cfg: GenebotConfig, runtime: PaperRuntime | LiveRuntime) -> Any:
    """The runner's alerts to the configured channels (None: off, or no channel)."""
    if not cfg.notifications.enabled:
        return None
    from genebot.notify.dispatcher import alert_notifier

    try:
        dispatcher = cfg.notifications.dispatcher()
    except Exception as exc:  # a channel that cannot be built costs notifications, not the run
        log.warning("notifications off: %s", exc)
        return None
    if not dispatcher.channels:
        dispatcher.close(0)
        return None
    runtime.notifier = alert_notifier(dispatcher)
    return dispatcher
