"""Operator commands to a running deployment, through the database's journal.

A command (``genebot pause ID``, ``stop``, ``emergency-stop``, ``risk reset`` ...) is an
``operator.*`` journal entry naming the deployment, who and why. The runner polls the journal a
few times a second, applies each new command between two bars and journals
``runtime.applied`` with the step it applied it at and the outcome; the command line waits for
that answer. The journal is the channel because it is where an operator's action must be
recorded anyway, it works for a foreground run and a daemon alike, for SQLite and PostgreSQL,
and a restarted runner re-applies each command at the very step it was applied before (the
re-execution stays identical to the run that crashed).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from genebot.core.errors import GenebotError
from genebot.persistence.database import Database
from genebot.persistence.journal import TradingStore
from genebot.persistence.tables import JournalEntry
from genebot.risk.types import OrderIntent, TradingState, Verdict
from genebot.system.kernel import Kernel, StrategySlot
from genebot.system.reparam import reprepare, set_parameters, slot_of

APPLIED = "runtime.applied"
COMMANDS = (
    "pause",
    "resume",
    "stop",
    "emergency_stop",
    "intervention",
    "set_parameters",
    "close_position",
)
CLOSE_TAGS = frozenset({"stop_loss", "take_profit", "trailing_stop", "manual"})
KINDS = frozenset({*(f"operator.{c}" for c in COMMANDS), "kill_switch.reset"})
ZERO = Decimal(0)


@dataclass(frozen=True)
class Command:
    id: int
    kind: str  # operator.pause | ... | kill_switch.reset
    who: str
    payload: dict[str, Any]

    @property
    def name(self) -> str:
        return "risk_reset" if self.kind == "kill_switch.reset" else self.kind.split(".", 1)[1]


def post(db: Database, deployment_id: str, what: str, who: str, **detail: object) -> int:
    """Journal the command ``what`` for the deployment's runner; the entry's id."""
    if what not in COMMANDS:
        raise ValueError(f"unknown command {what!r}")
    command = what
    TradingStore(db, deployment_id).operator_action(who, command, deployment_id, dict(detail))
    with db.reader() as session:
        found = session.scalar(
            select(JournalEntry.id)
            .where(JournalEntry.deployment_id == deployment_id)
            .where(JournalEntry.kind == f"operator.{command}")
            .order_by(JournalEntry.id.desc())
        )
    assert found is not None
    return int(found)


def commands_after(db: Database, deployment_id: str, after_id: int) -> list[Command]:
    with db.reader() as session:
        rows = session.execute(
            select(JournalEntry.id, JournalEntry.kind, JournalEntry.actor, JournalEntry.payload)
            .where(JournalEntry.deployment_id == deployment_id, JournalEntry.id > after_id)
            .where(JournalEntry.kind.in_(sorted(KINDS)))
            .order_by(JournalEntry.id)
        ).all()
    return [
        Command(i, kind, actor.removeprefix("operator:"), json.loads(payload))
        for i, kind, actor, payload in rows
    ]


def applied(db: Database, deployment_id: str) -> list[tuple[int, int, str]]:
    """(step, command id, outcome) of each command a runner applied, in order."""
    with db.reader() as session:
        rows = session.scalars(
            select(JournalEntry.payload)
            .where(JournalEntry.deployment_id == deployment_id, JournalEntry.kind == APPLIED)
            .order_by(JournalEntry.id)
        ).all()
    out = []
    for text in rows:
        data = json.loads(text)
        out.append((int(data["step"]), int(data["command"]), str(data["outcome"])))
    return out


def wait_applied(db: Database, deployment_id: str, command_id: int, timeout_s: float) -> str | None:
    """The outcome once the runner applied the command, or None after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        for _step, cid, outcome in applied(db, deployment_id):
            if cid == command_id:
                return outcome
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


class Controller:
    """Inside the runner: pauses (no new entries; exits and protective orders keep working),
    stops (close every position, then end) and the risk engine's admin reset."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.paused: set[str] = set()  # strategy ids; "*" = every strategy
        self.stop_reason: str | None = None
        # how a strategy's signals are rebuilt after new parameters (a growing kernel's own)
        self.reparameterize: Callable[[StrategySlot], None] = lambda s: reprepare(kernel, s)
        inner = kernel.execution.risk_gate

        def gate(intent: OrderIntent) -> Verdict | None:
            if self._held(intent):
                why = self.stop_reason or "deployment paused by an operator"
                return Verdict.deny("operator", why)
            return inner(intent) if inner is not None else None

        kernel.execution.risk_gate = gate

    def _held(self, intent: OrderIntent) -> bool:
        if "*" not in self.paused and intent.strategy_id not in self.paused:
            return False
        position = self.kernel.portfolio.position(intent.strategy_id, intent.instrument.id)
        return not intent.reduces(position.quantity)

    def apply(self, command: Command) -> str:
        handler: Callable[[Command], str] = getattr(self, f"_{command.name}")
        return handler(command)

    def _pause(self, command: Command) -> str:
        strategy = str(command.payload.get("strategy") or "*")
        self.paused.add(strategy)
        return f"paused {'every strategy' if strategy == '*' else strategy}: no new entries"

    def _resume(self, command: Command) -> str:
        if self.stop_reason is not None:
            return "refused: the deployment is stopping"
        strategy = str(command.payload.get("strategy") or "*")
        if strategy == "*":
            self.paused.clear()
        else:
            self.paused.discard(strategy)
        return f"resumed {'every strategy' if strategy == '*' else strategy}"

    def _stop(self, command: Command) -> str:
        return self._wind_down(command, halt=False)

    def _emergency_stop(self, command: Command) -> str:
        return self._wind_down(command, halt=True)

    def _wind_down(self, command: Command, *, halt: bool) -> str:
        reason = str(command.payload.get("reason") or command.name)
        self.stop_reason = f"{command.name} by {command.who}: {reason}"
        self.paused.add("*")
        if halt and self.kernel.risk is not None:
            self.kernel.risk.move_to(TradingState.HALTED, "emergency_stop", self.stop_reason)
        canceled, closed = self.flatten(self.stop_reason)
        return f"{canceled} order(s) canceled, {closed} position(s) sent to close; stopping"

    def _intervention(self, command: Command) -> str:
        """An orchestrator command (pause_strategy, resume_strategy, force_rebalance,
        emergency_stop) onto its bus: the orchestrator takes it before the next bar."""
        from genebot.orchestrator.commands import make_command

        orchestrator = self.kernel.orchestrator
        if orchestrator is None:
            return "refused: this deployment runs no orchestrator"
        payload = command.payload
        try:
            made = make_command(
                str(payload.get("command")),
                strategy=payload.get("strategy") or None,
                reason=str(payload.get("reason") or ""),
                who=command.who,
                weights=payload.get("weights") or None,
            )
        except ValueError as exc:
            return f"refused: {exc}"
        orchestrator.bus.put(made)
        return f"{payload.get('command')} queued for the orchestrator (handled before the next bar)"

    def _set_parameters(self, command: Command) -> str:
        """New parameters for one strategy, in force from the next bar."""
        name = str(command.payload.get("strategy") or "")
        slot = slot_of(self.kernel, name)
        if slot is None:
            return f"refused: this deployment runs no strategy {name!r}"
        given = command.payload.get("parameters")
        if not isinstance(given, dict) or not given:
            return "refused: no parameters given"
        try:
            now = set_parameters(slot, given)
        except GenebotError as exc:
            return f"refused: {exc}"
        self.reparameterize(slot)
        shown = ", ".join(f"{k}={v}" for k, v in sorted(now.items()))
        return f"{slot.strategy.strategy_id}: parameters {shown} from the next bar"

    def _close_position(self, command: Command) -> str:
        """Close (up to ``quantity`` of) the open positions in ``symbol`` at market: those of
        ``strategy`` if named, on the ``side`` (long/short) if named. A reduce-only order, so
        it can only shrink the position; tagged with the trigger (``stop_loss`` ...)."""
        p = command.payload
        symbol, strategy, side = str(p.get("symbol") or ""), p.get("strategy"), p.get("side")
        tag = str(p.get("tag") or "manual")
        tag = tag if tag in CLOSE_TAGS else "manual"
        try:
            left = Decimal(str(p["quantity"])) if p.get("quantity") is not None else None
        except ArithmeticError:
            return f"refused: quantity {p.get('quantity')!r} is not a number"
        closed: list[str] = []
        for sid, iid, qty in self._positions_in(symbol, strategy, side):
            amount = abs(qty) if left is None else min(abs(qty), left)
            if amount <= 0:
                break
            self.kernel.execution.create(
                sid,
                self.kernel.instruments[iid],
                "SELL" if qty > 0 else "BUY",
                amount,
                reduce_only=True,
                tag=tag,
            )
            closed.append(f"{amount} {symbol} of {sid}")
            left = None if left is None else left - amount
        if not closed:
            return f"no open {side or ''} position in {symbol!r} to close".replace("  ", " ")
        return f"{tag}: closing {', '.join(closed)} at market"

    def _positions_in(
        self, symbol: str, strategy: object, side: object
    ) -> list[tuple[str, str, Decimal]]:
        out = []
        for sid, sleeve in self.kernel.portfolio.sleeves.items():
            if strategy and sid != strategy:
                continue
            for iid, position in sleeve.positions.items():
                instrument = self.kernel.instruments.get(iid)
                if instrument is None or instrument.symbol != symbol or position.quantity == 0:
                    continue
                if side and (side == "long") != (position.quantity > 0):
                    continue
                out.append((sid, iid, position.quantity))
        return out

    def _risk_reset(self, command: Command) -> str:
        risk = self.kernel.risk
        if risk is None:
            return "no risk engine: nothing to reset"
        before = risk.state.value
        risk.reset(str(command.payload.get("reason") or "admin reset"), command.who)
        return f"risk reset ({before} -> {risk.state.value})"

    def flatten(self, reason: str) -> tuple[int, int]:
        """Cancel every working order, then close every open position at market."""
        execution = self.kernel.execution
        orders = execution.open_orders()
        for order in orders:
            execution.cancel(order, reason)
        closed = 0
        for sid, sleeve in self.kernel.portfolio.sleeves.items():
            for iid, position in list(sleeve.positions.items()):
                if position.quantity == 0 or iid not in self.kernel.instruments:
                    continue
                side = "SELL" if position.quantity > 0 else "BUY"
                execution.create(
                    sid,
                    self.kernel.instruments[iid],
                    side,
                    abs(position.quantity),
                    reduce_only=True,
                    tag="operator_exit",
                )
                closed += 1
        return len(orders), closed

    def flat(self) -> bool:
        return (
            not self.kernel.execution.open_orders() and not self.kernel.portfolio.open_positions()
        )
