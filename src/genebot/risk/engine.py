"""The risk engine: every order a strategy wants passes here before any venue sees it.

It approves, resizes or denies; each decision is a :class:`RiskEvent` with the rule and the
numbers. Automatic triggers move the trading state (ACTIVE → REDUCING → HALTED). Each halting
rule declares how its halt ends (``risk_management.halts``): ``daily`` lifts at the daily reset
(the kill switch: daily loss, consecutive losses), ``manual`` waits for :meth:`RiskEngine.reset`
with a reason (the admin override, also available for daily ones). Exits that only reduce a
position (protective stops, targets, closes) always pass. :attr:`RiskEngine.tally` counts what
each rule did, for the run's risk summary.

State is evaluated at decision points — before every order, after every fill, and at each daily
boundary — never per bar, so a backtest gives the same decisions whether it visits every bar or
only the eventful ones. Equity peaks between decision points are still seen: the view reports
the highest marked equity over the bars in between.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from decimal import Decimal

from genebot.core.calendar import DailyBoundary
from genebot.core.time import ns_to_iso
from genebot.domain.events import OrderFilled
from genebot.domain.instrument import Instrument
from genebot.domain.position import ClosedTrade
from genebot.risk.config import HALTING_RULES, RiskManagementConfig
from genebot.risk.monitors import Monitor, default_monitors
from genebot.risk.summary import RiskTally
from genebot.risk.types import (
    OrderIntent,
    PreTradeCheck,
    RiskEvent,
    RiskView,
    TradingState,
    Verdict,
)

ZERO = Decimal(0)
NS_PER_MINUTE = 60_000_000_000
_SEVERITY = {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}


class RiskEngine:
    """Trading state, counters and the pre-trade pipeline for one account."""

    def __init__(
        self,
        config: RiskManagementConfig,
        view: RiskView,
        checks: Sequence[PreTradeCheck],
        monitors: Sequence[Monitor] | None = None,
    ) -> None:
        self.config = config
        self.view = view
        self.checks = list(checks)
        self.monitors = list(monitors) if monitors is not None else default_monitors(config)
        self.state = TradingState.ACTIVE
        self.halt_rule = ""
        self.halt_detail = ""
        self.active: dict[str, tuple[TradingState, str]] = {}  # rule → (state, detail)
        self._reset_index = 0
        self.events: list[RiskEvent] = []
        self.start_of_day_equity: Decimal | None = None
        self.peak_equity: Decimal | None = None
        self.consecutive_losses = 0
        self.errors: deque[int] = deque()
        self._exits: list[tuple[int, str, str, Decimal]] = []
        self._orders: deque[tuple[int, str]] = deque()
        self._trades: list[ClosedTrade] = []
        self._next_boundary: int | None = None
        self._last_seen_ns: int | None = None
        self._days = DailyBoundary(config.daily_reset.time, config.daily_reset.timezone)
        self.tally = RiskTally(self.reset_policy)

    def reset_policy(self, rule: str) -> str:
        """``daily`` or ``manual`` for a halting rule (``risk_management.halts``), else none."""
        return self.config.halts.policy(rule) if rule in HALTING_RULES else "none"

    # -- views for checks ------------------------------------------------------------------
    @property
    def recent_exits(self) -> Sequence[tuple[int, str, str, Decimal]]:
        return self._exits

    @property
    def order_times(self) -> Sequence[tuple[int, str]]:
        return self._orders

    @property
    def trades(self) -> Sequence[ClosedTrade]:
        return self._trades

    @property
    def trades_since_reset(self) -> Sequence[ClosedTrade]:
        """Closed trades since the last admin reset (the performance monitor's window)."""
        return self._trades[self._reset_index :]

    @property
    def next_boundary(self) -> int | None:
        """When the current trading day ends (ns), once the engine has seen its first day."""
        return self._next_boundary

    # -- the pipeline ----------------------------------------------------------------------
    def evaluate(self, intent: OrderIntent) -> Verdict | None:
        """Approve (None), resize or deny one intended order. Every decision on an order that
        adds exposure is recorded; exits (which always pass) are not, to keep the log useful."""
        now = self.view.now_ns
        self.refresh(now)
        judge = getattr(self.view, "reduces", None)
        if judge is not None:
            exiting = judge(intent)
        else:
            exiting = intent.reduces(
                self.view.position_qty(intent.strategy_id, intent.instrument.id)
            )
        if exiting:  # exits always pass, even when halted
            return None
        if self.state is TradingState.HALTED:
            return self._deny(
                intent,
                Verdict.deny(
                    "kill_switch", f"trading is halted by {self.halt_rule}: {self.halt_detail}"
                ),
                blame=self.halt_rule,
            )
        if self.state is TradingState.REDUCING:
            return self._deny(
                intent,
                Verdict.deny("reducing", f"only exposure-reducing orders pass ({self.halt_rule})"),
                blame=self.halt_rule,
            )
        final: Verdict | None = None
        for check in self.checks:
            verdict = check.check(intent, self.view, self)
            if verdict is None:
                continue
            if verdict.action == "deny":
                return self._deny(intent, verdict)
            if verdict.action == "resize":
                self._record(intent, verdict.rule, "resize", verdict.detail)
                intent = intent.with_quantity(verdict.quantity)
                final = verdict
            elif verdict.as_limit is not None:
                self._record(intent, verdict.rule, "limit", verdict.detail)
                final = Verdict(
                    verdict.action, verdict.rule, verdict.detail, intent.quantity, verdict.as_limit
                )
        self._orders.append((now, intent.strategy_id))
        self._record(intent, "all", "approve", f"quantity {intent.quantity}")
        if final is not None and final.quantity != intent.quantity:
            final = Verdict(final.action, final.rule, final.detail, intent.quantity, final.as_limit)
        return final

    def _deny(self, intent: OrderIntent, verdict: Verdict, blame: str = "") -> Verdict:
        """Record a denial; ``blame`` names the rule whose halt denied it (for the summary)."""
        self._record(intent, verdict.rule, "deny", verdict.detail, blame)
        return verdict

    def _record(
        self, intent: OrderIntent | None, rule: str, action: str, detail: str, blame: str = ""
    ) -> None:
        strategy = intent.strategy_id if intent else ""
        symbol = intent.instrument.symbol if intent else ""
        now = self.view.now_ns
        self.events.append(RiskEvent(now, strategy, symbol, rule, action, detail))
        self.tally.decided(now, blame or rule, action)

    # -- state ------------------------------------------------------------------------------
    def refresh(self, now: int | None = None) -> None:
        """Roll the trading day if a boundary passed, then run the state monitors."""
        now = self.view.now_ns if now is None else now
        self.roll_day(now)
        equity = self.view.equity()
        peak = self.view.peak_equity_since(self._last_seen_ns, now)
        self._last_seen_ns = now
        for value in (peak, equity):
            if value is not None and (self.peak_equity is None or value > self.peak_equity):
                self.peak_equity = value
        for monitor in self.monitors:
            outcome = monitor.evaluate(self, equity)
            if outcome is not None:
                target, rule, detail = outcome
                self.move_to(target, rule, detail)

    def roll_day(self, now: int) -> None:
        """At each daily boundary: new start-of-day equity; a daily-loss halt lifts."""
        if self._next_boundary is None:
            start = self._boundary_at_or_before(now)
            self.start_of_day_equity = self.view.equity_at(start)
            self._next_boundary = self._next_after(start)
            return
        if now < self._next_boundary:
            return
        start = self._boundary_at_or_before(now)
        self.start_of_day_equity = self.view.equity_at(start)
        self._next_boundary = self._next_after(start)
        lifted = [r for r in self.active if self.reset_policy(r) == "daily"]
        for rule in lifted:  # the halts whose reset is daily (the kill switch's, by default)
            del self.active[rule]
            self._clear(rule, self.start_of_day_equity)
            self.events.append(
                RiskEvent(start, "", "", rule, "reset", f"daily: the {rule} halt lifts")
            )
            self.tally.reset(rule, "daily")
        if lifted:
            self._settle_state(start)

    def _clear(self, rule: str, equity: Decimal) -> None:
        """Start the counter behind ``rule`` afresh, so a lifted halt does not trip again on
        the same evidence."""
        if rule == "consecutive_losses":
            self.consecutive_losses = 0
        elif rule == "max_drawdown":
            self.peak_equity = equity
        elif rule == "performance":
            self._reset_index = len(self._trades)  # the performance window starts afresh
        elif rule == "error_circuit_breaker":
            self.errors.clear()

    def _boundary_at_or_before(self, now: int) -> int:
        return self._days.at_or_before(now)

    def _next_after(self, boundary_ns: int) -> int:
        return self._days.after(boundary_ns)

    def move_to(self, target: TradingState, rule: str, detail: str) -> None:
        """Add an active trigger. The state is the most severe trigger still active; each one
        is recorded once, and only :meth:`reset` (or, for daily loss, the daily reset) clears
        it — so a daily-loss lift never clears a halt that needs an admin reset."""
        if rule in self.active and _SEVERITY[self.active[rule][0]] >= _SEVERITY[target]:
            return
        self.active[rule] = (target, detail)
        action = "halt" if target is TradingState.HALTED else "reducing"
        now = self.view.now_ns
        self.events.append(RiskEvent(now, "", "", rule, action, detail))
        self.tally.fired(now, rule)
        self._settle_state(now)

    def _settle_state(self, now: int) -> None:
        self._derive_state()
        self.tally.state_changed(now, self.state.value.lower(), self.halt_rule)

    def _derive_state(self) -> None:
        """The state is the most severe trigger still active."""
        if not self.active:
            self.state, self.halt_rule, self.halt_detail = TradingState.ACTIVE, "", ""
        else:
            rule, (state, detail) = max(self.active.items(), key=lambda kv: _SEVERITY[kv[1][0]])
            self.state, self.halt_rule, self.halt_detail = state, rule, detail

    def reset(self, reason: str, who: str = "admin") -> None:
        """Explicit admin reset out of HALTED or REDUCING, with a reason (recorded)."""
        if not reason.strip():
            raise ValueError("a reset needs a reason")
        previous = self.state
        now = self.view.now_ns
        rules = list(self.active) or ["kill_switch"]
        self.active.clear()
        equity = self.view.equity()
        for rule in ("consecutive_losses", "max_drawdown", "performance", "error_circuit_breaker"):
            self._clear(rule, equity)  # an admin reset starts every counter afresh
        by = "" if who == "admin" else f" by {who}"
        for rule in rules:
            how = f"admin: {reason.strip()}"
            self.events.append(
                RiskEvent(now, "", "", rule, "reset", f"{how}{by} (was {previous.value})")
            )
            if rule in self.tally.rules:
                self.tally.reset(rule, how)
        self._settle_state(now)

    # -- restart ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, object]:
        """The engine's state as JSON-able values (Decimals as text), journaled after each
        change so a restarted runtime resumes halted, with its counters, not afresh. The closed
        trades are not in it: they are journaled on their own and given back to
        :meth:`restore`."""
        return {
            "state": self.state.value,
            "active": {rule: [st.value, detail] for rule, (st, detail) in self.active.items()},
            "reset_index": self._reset_index,
            "start_of_day_equity": _text(self.start_of_day_equity),
            "peak_equity": _text(self.peak_equity),
            "consecutive_losses": self.consecutive_losses,
            "errors": list(self.errors),
            "orders": [list(o) for o in self._orders],
            "next_boundary": self._next_boundary,
            "last_seen_ns": self._last_seen_ns,
        }

    def restore(self, snapshot: dict[str, object], trades: Sequence[ClosedTrade]) -> None:
        """Resume from :meth:`snapshot` and the closed trades journaled up to it."""
        self._trades = list(trades)
        self._exits = [(t.exit_ts, t.instrument_id, t.exit_reason, t.pnl_pct) for t in trades]
        active = snapshot["active"]
        assert isinstance(active, dict)
        self.active = {r: (TradingState(v[0]), v[1]) for r, v in active.items()}
        self._reset_index = int(snapshot["reset_index"])  # type: ignore[call-overload]
        self.start_of_day_equity = _decimal(snapshot["start_of_day_equity"])
        self.peak_equity = _decimal(snapshot["peak_equity"])
        self.consecutive_losses = int(snapshot["consecutive_losses"])  # type: ignore[call-overload]
        self.errors = deque(snapshot["errors"])  # type: ignore[call-overload]
        self._orders = deque((int(t), sid) for t, sid in snapshot["orders"])  # type: ignore[attr-defined]
        self._next_boundary = snapshot["next_boundary"]  # type: ignore[assignment]
        self._last_seen_ns = snapshot["last_seen_ns"]  # type: ignore[assignment]
        self._derive_state()

    def summary(self) -> dict[str, object]:
        """The run's ``risk_summary``: per rule, when it first fired, how often, what it denied
        or resized and how it reset; the halted periods; warnings."""
        return self.tally.summary(ns_to_iso)

    # -- inputs from the engine ---------------------------------------------------------
    def on_trade_closed(self, trade: ClosedTrade) -> None:
        self._trades.append(trade)
        self._exits.append((trade.exit_ts, trade.instrument_id, trade.exit_reason, trade.pnl_pct))
        self.consecutive_losses = self.consecutive_losses + 1 if trade.pnl < 0 else 0

    def on_fill(self) -> None:
        self.refresh()

    def on_fill_slippage(self, instrument: Instrument, fill: OrderFilled, decided: Decimal) -> None:
        """Record the realized slippage of a market fill against the decision price when it is
        beyond the tolerance (a gap, thin liquidity, a slow venue)."""
        if decided <= 0:
            return
        sign = 1 if fill.side == "BUY" else -1
        slip = sign * (fill.last_px - decided) / decided
        tolerance = Decimal(str(self.config.limits.slippage_tolerance))
        if slip > tolerance:
            strategy = fill.client_order_id  # the order id ties it to its strategy in orders.csv
            self.events.append(
                RiskEvent(
                    self.view.now_ns,
                    "",
                    instrument.symbol,
                    "slippage",
                    "flag",
                    f"order {strategy} filled at {fill.last_px} vs decision {decided}: slippage "
                    f"{float(slip):.2%} > tolerance {float(tolerance):.2%}",
                )
            )

    def on_error(self, source: str, detail: str) -> None:
        """A strategy exception or a rejected order: counted by the circuit breaker."""
        now = self.view.now_ns
        self.errors.append(now)
        window = int(self.config.circuit_breaker.window_minutes * NS_PER_MINUTE)
        while self.errors and self.errors[0] < now - window:
            self.errors.popleft()
        limit = self.config.circuit_breaker.max_errors
        if len(self.errors) >= limit:
            self.move_to(
                TradingState.HALTED,
                "error_circuit_breaker",
                f"{len(self.errors)} errors in {self.config.circuit_breaker.window_minutes:g}"
                f" min (limit {limit}); last: {source}: {detail}",
            )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))
