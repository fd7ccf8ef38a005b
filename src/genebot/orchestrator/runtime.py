"""The orchestrator: one account's capital split across strategies, kept in their sleeves.

It runs on the engine's thread and clock, the same object in backtest, paper and live:

- ``start`` gives every sleeve its first allocation (weights from the priors, bounds applied);
- ``on_time`` is called by the kernel when ``next_ns`` is reached (every ``check_ns``): it
  takes commands off the bus, checks portfolio risk, records each sleeve's equity once a day,
  and rebalances on schedule (daily, weekly on Mondays, monthly on the 1st, 00:00 UTC) or on a
  trigger (performance degradation, correlation spike, a resumed strategy, force_rebalance);
- ``gate`` sits before the risk engine on every new order: a paused or stopped strategy may
  only reduce; the position-size limit resizes an order to a share of the account's equity.

A rebalance moves capital between sleeves (``Sleeve.allocated``) and never trades: a sleeve
gives at most its free capital (equity not held in positions), so no sleeve is overdrawn and no
position is forced shut; what it could not give moves at a later rebalance.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import NamedTuple

from genebot.core.time import ns_to_datetime, ns_to_iso
from genebot.domain.instrument import Instrument
from genebot.execution.engine import ExecutionEngine
from genebot.orchestrator import allocation as alloc
from genebot.orchestrator.commands import (
    COMMAND_KINDS,
    Command,
    CommandBus,
    EmergencyStop,
    ForceRebalance,
    Intervention,
    PauseStrategy,
    ResumeStrategy,
    SetAllocation,
    make_command,
)
from genebot.orchestrator.settings import OrchestratorSettings
from genebot.portfolio.portfolio import Portfolio, Sleeve
from genebot.risk.checks.exposure import PositionSizeCheck
from genebot.risk.types import OrderIntent, RiskStateView, RiskView, Verdict

log = logging.getLogger("genebot.orchestrator")
ZERO = Decimal(0)
QUANTUM = Decimal("0.00000001")
HOUR_NS = 3_600 * 10**9
DAY_NS = 24 * HOUR_NS
_NO_STATE: RiskStateView = None  # type: ignore[assignment]  # the size check reads no counters


class AllocationChange(NamedTuple):
    ts: int
    strategy: str
    weight: float  # the target weight
    capital: Decimal  # the sleeve's equity after the move
    target_capital: Decimal
    trigger: str


class Orchestrator:
    """Allocates capital across the strategies of one account (see the module doc)."""

    def __init__(
        self,
        settings: OrchestratorSettings,
        priors: Mapping[str, float],
        portfolio: Portfolio,
        execution: ExecutionEngine,
        instruments: Mapping[str, Instrument],
        *,
        check_ns: int = HOUR_NS,
        view: RiskView | None = None,
        reduces: Callable[[OrderIntent], bool] | None = None,
    ) -> None:
        self.settings = settings
        self.priors = dict(priors)
        self.names = list(priors)
        self.portfolio = portfolio
        self.execution = execution
        self.instruments = instruments
        self.check_ns = check_ns
        self.view = view  # the account as the risk engine sees it (position-size limit)
        self._reduces = reduces  # counts working orders (two exits of a long are one short)
        limit = settings.risk.position_size_limit
        if limit is not None and view is None:
            raise ValueError("position_size_limit needs the account view (equity, positions)")
        self._size_check = PositionSizeCheck(limit) if limit is not None else None
        self.bus = CommandBus()
        self.paused: set[str] = set()
        self.stopped = False
        self.next_ns: int | None = None
        self.history: list[AllocationChange] = []
        self.interventions: list[Intervention] = []
        self.daily: list[tuple[int, dict[str, Decimal]]] = []  # day start → sleeve equity
        self.returns: dict[str, list[float]] = {n: [] for n in self.names}
        self._base: dict[str, Decimal] = {}  # equity after the last moves (return base)
        self._index: dict[str, float] = {n: 1.0 for n in self.names}  # growth of 1
        self._peak_index: dict[str, float] = {n: 1.0 for n in self.names}
        self._flagged: set[str] = set()  # degradation already acted on since last rebalance
        self._given: dict[str, Decimal] = {}  # capital at the last allocation (stop loss)
        self._peak_equity = ZERO
        self._next_day: int | None = None
        self._scheduled = sorted(settings.interventions, key=lambda i: i.at)
        self._corr_high = False
        self._last_period: tuple[int, ...] | None = None  # of the last scheduled rebalance
        self.initial: dict[str, Decimal] = {}  # first allocation
        self.transfers: dict[str, Decimal] = {n: ZERO for n in self.names}  # net moved in
        self.denials: dict[str, int] = {}  # orders the gate refused, by reason
        self.manual: dict[str, float] | None = None  # an operator's set_allocation weights

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, ts_ns: int) -> None:
        """First allocation, before any order: the whole account split by the priors."""
        sleeves = self._sleeves()
        total = sum((s.allocated for s in sleeves.values()), ZERO)
        weights = self._bounded(alloc.normalized(self.priors))
        amounts = _split(total, weights)
        for name, sleeve in sleeves.items():
            sleeve.allocated = amounts[name]
        self._record(ts_ns, weights, amounts, "initial")
        self.initial = dict(amounts)
        self._base = dict(amounts)
        self._given = dict(amounts)
        self._peak_equity = total
        self._next_day = _day_start(ts_ns) + DAY_NS
        self._last_period = self._period(_day_start(ts_ns))
        self.next_ns = ts_ns - ts_ns % self.check_ns + self.check_ns

    def on_time(self, ts_ns: int) -> None:
        """The kernel's call when ``next_ns`` is due (or a command waits on the bus)."""
        while self._scheduled and _ns(self._scheduled[0].at) <= ts_ns:
            s = self._scheduled.pop(0)
            self.bus.put(make_command(s.command, strategy=s.strategy, reason=s.reason, who=s.who))
        for command in self.bus.take_all():
            self._handle(command, ts_ns)
        if self.next_ns is not None and ts_ns >= self.next_ns:
            self.next_ns = ts_ns - ts_ns % self.check_ns + self.check_ns
            if not self.stopped:
                self._check_risk(ts_ns)
        if self._next_day is not None and ts_ns >= self._next_day:
            self._on_new_day(ts_ns)

    @property
    def due_ns(self) -> int | None:
        """When the kernel must call :meth:`on_time` next (commands make it due at once)."""
        if self.bus:
            return 0
        candidates = [t for t in (self.next_ns, self._next_day) if t is not None]
        if self._scheduled:
            candidates.append(_ns(self._scheduled[0].at))
        return min(candidates) if candidates else None

    # -- the gate on new orders -------------------------------------------------------------
    def gate(self, intent: OrderIntent) -> Verdict | None:
        """Paused or stopped strategies may only reduce; entries obey the position-size limit
        (the resulting position, in the account's terms, as the risk engine's check)."""
        if self._reducing(intent):
            return None
        if self.stopped or intent.strategy_id in self.paused:
            why = "emergency stop" if self.stopped else "strategy paused"
            self.denials[why] = self.denials.get(why, 0) + 1
            return Verdict.deny("orchestrator", f"{why}: only exits are allowed")
        if self._size_check is None or self.view is None:
            return None
        # The resulting position, valued in the order's quote currency against equity
        # converted to it (USD/JPY, ETH/BTC), resized to fit and to the venue's minimums.
        verdict = self._size_check.check(intent, self.view, _NO_STATE)
        return None if verdict is None else replace(verdict, rule="position_size_limit")

    def _reducing(self, intent: OrderIntent) -> bool:
        if self._reduces is not None:
            return self._reduces(intent)
        iid, sid = intent.instrument.id, intent.strategy_id
        position = self.portfolio.position(sid, iid).quantity
        working = sum(  # two exits of a long of 1 are one exit and one new short
            (
                o.leaves_qty if o.is_buy else -o.leaves_qty
                for o in self.execution.open_orders(sid)
                if o.instrument_id == iid and o.parent_id is None
            ),
            ZERO,
        )
        return intent.reduces(position + working)

    # -- commands ---------------------------------------------------------------------------
    def _handle(self, command: Command, ts_ns: int) -> None:
        if isinstance(command, PauseStrategy):
            outcome = self._pause(command.strategy)
        elif isinstance(command, ResumeStrategy):
            outcome = self._resume(command.strategy, ts_ns)
        elif isinstance(command, ForceRebalance):
            self.manual = None
            outcome = (
                "refused: the emergency stop holds every strategy"
                if self.stopped
                else self.rebalance(ts_ns, f"force_rebalance: {command.reason}")
            )
        elif isinstance(command, EmergencyStop):
            outcome = self._emergency_stop(command.reason)
        elif isinstance(command, SetAllocation):
            outcome = self._set_allocation(dict(command.weights), command.reason, ts_ns)
        else:  # pragma: no cover - the Command union is closed
            raise TypeError(command)
        strategy = getattr(command, "strategy", "")
        kind = COMMAND_KINDS[type(command)]
        self._intervene(ts_ns, kind, strategy, command.reason, command.who, outcome)

    def _set_allocation(self, weights: dict[str, float], reason: str, ts_ns: int) -> str:
        unknown = sorted(set(weights) - set(self.names))
        if unknown:
            return f"refused: unknown strategies {', '.join(unknown)}"
        if self.stopped:
            return "refused: the emergency stop holds every strategy"
        self.manual = {n: float(weights.get(n, 0.0)) for n in self.names}
        return self.rebalance(ts_ns, f"manual_allocation: {reason}")

    def _pause(self, strategy: str) -> str:
        if strategy not in self.priors:
            return f"unknown strategy {strategy!r}: nothing done"
        self.paused.add(strategy)
        canceled = self._cancel_entries(strategy, "strategy paused")
        return (
            f"paused: no new entries ({canceled} working entry order(s) canceled); exits and "
            "protective orders keep working"
        )

    def _cancel_entries(self, strategy: str, reason: str) -> int:
        """Cancel working orders that would add exposure (not exits, not protective orders)."""
        entries = [
            o
            for o in self.execution.open_orders(strategy)
            if not o.reduce_only and o.parent_id is None
        ]
        for order in entries:
            self.execution.cancel(order, reason)
        return len(entries)

    def _resume(self, strategy: str, ts_ns: int) -> str:
        if strategy not in self.paused:
            return "was not paused"
        if self.stopped:
            return "refused: the emergency stop holds every strategy"
        self.paused.discard(strategy)
        self.rebalance(ts_ns, f"resume: {strategy}")
        return "resumed and rebalanced"

    def _emergency_stop(self, reason: str) -> str:
        self.stopped = True
        closed = self._flatten(self.names, f"emergency_stop: {reason}")
        return f"stopped all strategies; {closed} position(s) sent to close"

    def _flatten(self, strategies: list[str], reason: str) -> int:
        """Cancel working orders and close the open positions of ``strategies``."""
        closed = 0
        for name in strategies:
            for order in self.execution.open_orders(name):
                self.execution.cancel(order, reason)
            for iid, position in list(self._sleeves()[name].positions.items()):
                if position.quantity == 0 or iid not in self.instruments:
                    continue
                side = "SELL" if position.quantity > 0 else "BUY"
                self.execution.create(
                    name,
                    self.instruments[iid],
                    side,
                    abs(position.quantity),
                    reduce_only=True,
                    tag="orchestrator_exit",
                )
                closed += 1
        return closed

    def _intervene(
        self, ts: int, command: str, strategy: str, reason: str, who: str, outcome: str
    ) -> None:
        record = Intervention(ts, command, strategy, reason, who, outcome)
        self.interventions.append(record)
        log.warning(
            "INTERVENTION %s",
            json.dumps({**record._asdict(), "ts": ns_to_iso(ts)}, sort_keys=True),
        )

    # -- risk -------------------------------------------------------------------------------
    def _check_risk(self, ts_ns: int) -> None:
        equities = self._equities()
        total = sum(equities.values(), ZERO)
        self._peak_equity = max(self._peak_equity, total)
        limit = self.settings.risk.max_portfolio_drawdown
        if limit is not None and self._peak_equity > 0:
            drawdown = 1 - total / self._peak_equity
            if drawdown >= Decimal(str(limit)):
                reason = f"portfolio drawdown {drawdown:.2%} ≥ {limit:.2%}"
                outcome = self._emergency_stop(reason)
                self._intervene(ts_ns, "emergency_stop", "", reason, "orchestrator", outcome)
                return
        stop = self.settings.risk.stop_loss_threshold
        if stop is None:
            return
        for name, equity in equities.items():
            given = self._given.get(name, ZERO)
            if name in self.paused or given <= 0:
                continue
            loss = 1 - equity / given
            if loss >= Decimal(str(stop)):
                self.paused.add(name)
                closed = self._flatten([name], "strategy stop loss")
                reason = f"sleeve lost {loss:.2%} of its {given:.2f} ≥ {stop:.2%}"
                self._intervene(
                    ts_ns, "stop_loss", name, reason, "orchestrator", f"paused, {closed} closed"
                )

    # -- daily bookkeeping and triggers -----------------------------------------------------
    def _on_new_day(self, ts_ns: int) -> None:
        day = _day_start(ts_ns)
        self._next_day = day + DAY_NS
        equities = self._equities()
        self.daily.append((day, equities))
        for name, equity in equities.items():
            base = self._base.get(name, ZERO)
            r = float(equity / base - 1) if base > 0 else 0.0
            self.returns[name].append(r)
            self._index[name] *= 1 + r
            self._peak_index[name] = max(self._peak_index[name], self._index[name])
        self._base = dict(equities)
        if self.stopped:
            return
        trigger = self._scheduled_trigger(day) or self._degradation() or self._correlation()
        if trigger:
            self.rebalance(ts_ns, trigger)

    def _scheduled_trigger(self, day_ns: int) -> str | None:
        """Due on the first day of a new period (day, ISO week, month): a week whose Monday
        has no bar (a holiday, a data gap) still rebalances on its first day with one."""
        period = self._period(day_ns)
        if period is None or period == self._last_period:
            return None
        self._last_period = period
        return f"schedule: {self.settings.rebalance_frequency}"

    def _period(self, day_ns: int) -> tuple[int, ...] | None:
        when = ns_to_datetime(day_ns)
        freq = self.settings.rebalance_frequency
        if freq == "daily":
            return (when.year, when.month, when.day)
        if freq == "weekly":
            year, week, _ = when.isocalendar()
            return (year, week)
        if freq == "monthly":
            return (when.year, when.month)
        return None

    def _degradation(self) -> str | None:
        limit = self.settings.triggers.performance_degradation
        if limit is None:
            return None
        for name in self.names:
            drawdown = 1 - self._index[name] / self._peak_index[name]
            if drawdown > limit and name not in self._flagged:
                self._flagged.add(name)
                return f"performance_degradation: {name} down {drawdown:.2%} from its peak"
        return None

    def _correlation(self) -> str | None:
        threshold = self.settings.triggers.correlation_spike
        if threshold is None:
            return None
        highest = self._max_correlation()
        was_high, self._corr_high = self._corr_high, highest > threshold
        if self._corr_high and not was_high:
            return f"correlation_spike: {highest:.2f} > {threshold:.2f}"
        return None

    def _max_correlation(self) -> float:
        active = [n for n in self.names if n not in self.paused]
        matrix = alloc.correlation(self._window(active), active)
        upper = [matrix[i][j] for i in range(len(active)) for j in range(i + 1, len(active))]
        return max(upper, default=0.0)

    # -- rebalancing ------------------------------------------------------------------------
    def target_weights(self) -> dict[str, float]:
        """Weights the method gives now (paused and de-selected strategies get none)."""
        active = [n for n in self.names if n not in self.paused]
        if not active:
            return {n: 0.0 for n in self.names}
        history = self._window(active)
        priors = {n: self.priors[n] for n in active}
        method = self.settings.allocation_method
        if self.manual is not None:  # an operator's weights hold until force_rebalance
            weights = self._bounded({n: self.manual[n] for n in active if self.manual[n] > 0})
            return {n: weights.get(n, 0.0) for n in self.names}
        if method == "performance_based":
            raw = alloc.performance_based(history, priors)
        elif method == "risk_parity" and self.settings.risk_parity_mode == "inverse_volatility":
            raw = alloc.inverse_volatility(history, priors)
        elif method == "risk_parity":
            raw = alloc.equal_risk_contribution(history, priors)
        else:
            raw = alloc.equal_weight(active)
        raw = self._select(raw, history)
        raw = self._decorrelate(raw, history)
        weights = self._bounded({n: w for n, w in raw.items() if w > 0})
        return {n: weights.get(n, 0.0) for n in self.names}

    def _select(self, raw: dict[str, float], history: alloc.Returns) -> dict[str, float]:
        auto = self.settings.auto_select
        if not auto.enabled or alloc._too_short(history) or auto.top_n >= len(raw):
            return raw
        if auto.metric == "sharpe":
            scores = {n: alloc.sharpe(history[n]) for n in raw}
        else:
            scores = {n: float(sum(history[n])) for n in raw}
        keep = set(alloc.top_n(scores, auto.top_n))
        return {n: (w if n in keep else 0.0) for n, w in raw.items()}

    def _decorrelate(self, raw: dict[str, float], history: alloc.Returns) -> dict[str, float]:
        limit = self.settings.risk.max_strategy_correlation
        names = [n for n, w in raw.items() if w > 0]
        if limit is None or len(names) < 2:
            return raw
        matrix = alloc.correlation(history, names)
        out = dict(raw)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if matrix[i][j] <= limit:
                    continue
                a, b = names[i], names[j]
                worse = a if alloc.sharpe(history[a]) < alloc.sharpe(history[b]) else b
                if self.settings.risk.correlation_action == "pause" and worse not in self.paused:
                    self.paused.add(worse)
                    out[worse] = 0.0
                    self._intervene(
                        self._now(), "pause_strategy", worse,
                        f"correlation {matrix[i][j]:.2f} with {b if worse == a else a} > {limit}",
                        "orchestrator", "paused (the weaker of a correlated pair)",
                    )  # fmt: skip
                else:
                    out[worse] *= 0.5
        return out

    def _bounded(self, weights: dict[str, float]) -> dict[str, float]:
        if not weights:
            return weights
        low, high = self.settings.min_allocation, self.settings.max_allocation
        n = len(weights)
        low, high = min(low, 1.0 / n), max(high, 1.0 / n)  # bounds loosen if they cannot hold
        return alloc.apply_bounds(weights, low, high)

    def rebalance(self, ts_ns: int, trigger: str) -> str:
        """Move sleeve capital toward the target weights (free capital only; no trades)."""
        weights = self.target_weights()
        if self.stopped or not any(w > 0 for w in weights.values()):
            return "nothing moved: no strategy may take capital"
        sleeves = self._sleeves()
        equities = self._equities()
        total = sum(equities.values(), ZERO)
        targets = _split(total, weights)
        moves = _moves(equities, targets, self._free(equities))
        for name, delta in moves.items():
            sleeves[name].allocated += delta
            self.transfers[name] += delta
        after = {n: equities[n] + moves[n] for n in self.names}
        self._base = after
        self._given = after
        self._flagged.clear()
        self._record(ts_ns, weights, after, trigger, targets)
        moved = sum((d for d in moves.values() if d > 0), ZERO)
        return f"moved {moved:.2f} between sleeves"

    def _free(self, equities: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """Capital a sleeve can give: its equity less what its open positions hold."""
        mark = self.portfolio.mark
        free: dict[str, Decimal] = {}
        for name, sleeve in self._sleeves().items():
            held = ZERO
            for iid, position in sleeve.positions.items():
                px = mark(iid)
                if position.quantity and px is not None:
                    notional = abs(position.quantity) * Decimal(str(px))
                    held += self.portfolio.to_account(iid, notional)
            held += self._working_entries(name)
            free[name] = max(ZERO, equities[name] - held)
        return free

    def _working_entries(self, strategy: str) -> Decimal:
        """What the strategy's working entry orders would cost if they filled."""
        total = ZERO
        for order in self.execution.open_orders(strategy):
            if order.reduce_only or order.parent_id is not None:
                continue
            px = order.price or order.trigger_price
            if px is None:
                mark = self.portfolio.mark(order.instrument_id)
                px = Decimal(str(mark)) if mark is not None else ZERO
            total += self.portfolio.to_account(order.instrument_id, order.leaves_qty * px)
        return total

    def _record(
        self,
        ts_ns: int,
        weights: Mapping[str, float],
        capital: Mapping[str, Decimal],
        trigger: str,
        targets: Mapping[str, Decimal] | None = None,
    ) -> None:
        targets = targets or capital
        for name in self.names:
            change = AllocationChange(
                ts_ns, name, weights.get(name, 0.0), capital[name], targets[name], trigger
            )
            self.history.append(change)
        log.info(
            "ALLOCATION_CHANGE %s",
            json.dumps(
                {
                    "ts": ns_to_iso(ts_ns),
                    "trigger": trigger,
                    "weights": {n: round(weights.get(n, 0.0), 6) for n in self.names},
                    "capital": {n: str(capital[n]) for n in self.names},
                },
                sort_keys=True,
            ),
        )

    # -- helpers ----------------------------------------------------------------------------
    def _sleeves(self) -> dict[str, Sleeve]:
        return {n: self.portfolio.sleeves[n] for n in self.names}

    def _equities(self) -> dict[str, Decimal]:
        mark = self.portfolio.mark
        return {n: s.equity(mark) for n, s in self._sleeves().items()}

    def _equity_total(self) -> Decimal:
        return sum(self._equities().values(), ZERO)

    def _window(self, names: list[str]) -> dict[str, list[float]]:
        days = self.settings.lookback_days
        return {n: self.returns[n][-days:] for n in names}

    def _now(self) -> int:
        return self.execution.now_ns


def _split(total: Decimal, weights: Mapping[str, float]) -> dict[str, Decimal]:
    """``total`` in exact amounts by ``weights``: rounded down, the remainder to the largest."""
    amounts = {
        n: (total * Decimal(str(w))).quantize(QUANTUM, rounding=ROUND_DOWN)
        for n, w in weights.items()
    }
    if amounts:
        largest = max(weights, key=lambda n: (weights[n], n))
        amounts[largest] += total - sum(amounts.values(), ZERO)
    return amounts


def _moves(
    equities: Mapping[str, Decimal], targets: Mapping[str, Decimal], free: Mapping[str, Decimal]
) -> dict[str, Decimal]:
    """Transfers that sum to exactly zero: givers give at most their free capital, takers get
    the given total in proportion to what they asked for."""
    gives = {
        n: min(equities[n] - targets[n], free[n]) for n in equities if targets[n] < equities[n]
    }
    gives = {n: max(g, ZERO).quantize(QUANTUM, rounding=ROUND_DOWN) for n, g in gives.items()}
    given = sum(gives.values(), ZERO)
    asks = {n: targets[n] - equities[n] for n in equities if targets[n] > equities[n]}
    asked = sum(asks.values(), ZERO)
    moves = {n: ZERO for n in equities}
    for n, g in gives.items():
        moves[n] = -g
    if asked <= 0 or given <= 0:
        for n in gives:
            moves[n] = ZERO
        return moves
    share = {n: (given * a / asked).quantize(QUANTUM, rounding=ROUND_DOWN) for n, a in asks.items()}
    largest = max(asks, key=lambda n: (asks[n], n))
    share[largest] += given - sum(share.values(), ZERO)
    moves.update(share)
    return moves


def _day_start(ts_ns: int) -> int:
    return ts_ns - ts_ns % DAY_NS


def _ns(when: datetime) -> int:
    return int(when.astimezone(UTC).timestamp()) * 10**9 + when.microsecond * 1000
