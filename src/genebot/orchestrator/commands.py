"""Interventions are commands on a bus, the same in backtest, paper and live.

An operator (CLI, API, a scheduled entry in a backtest config) puts a command on the
:class:`CommandBus`; the orchestrator takes commands off it at the start of the next engine
step, on the engine's thread, so a command never races the strategies. Every command handled
becomes an :class:`Intervention` record (who, when, why, what happened).
"""

from __future__ import annotations

import queue
from typing import NamedTuple


class PauseStrategy(NamedTuple):
    strategy: str
    reason: str
    who: str = "operator"


class ResumeStrategy(NamedTuple):
    strategy: str
    reason: str
    who: str = "operator"


class ForceRebalance(NamedTuple):
    reason: str
    who: str = "operator"


class EmergencyStop(NamedTuple):
    reason: str
    who: str = "operator"


class SetAllocation(NamedTuple):
    """An operator's weights (strategy → share of capital); they hold until the next
    ``force_rebalance`` hands allocation back to the configured method."""

    weights: tuple[tuple[str, float], ...]
    reason: str
    who: str = "operator"


Command = PauseStrategy | ResumeStrategy | ForceRebalance | EmergencyStop | SetAllocation
COMMAND_NAMES: dict[str, type] = {
    "pause_strategy": PauseStrategy,
    "resume_strategy": ResumeStrategy,
    "force_rebalance": ForceRebalance,
    "emergency_stop": EmergencyStop,
    "set_allocation": SetAllocation,
}


COMMAND_KINDS: dict[type, str] = {cls: name for name, cls in COMMAND_NAMES.items()}


def make_command(
    name: str,
    *,
    strategy: str | None,
    reason: str,
    who: str,
    weights: dict[str, float] | None = None,
) -> Command:
    """A command from its CLI/config name (``pause_strategy`` …)."""
    cls = COMMAND_NAMES.get(name)
    if cls is None:
        raise ValueError(f"unknown command {name!r}; use one of {', '.join(COMMAND_NAMES)}")
    if cls is SetAllocation:
        if not weights:
            raise ValueError("set_allocation needs weights (strategy: share)")
        return SetAllocation(tuple(sorted(weights.items())), reason, who)
    if cls in (PauseStrategy, ResumeStrategy):
        if not strategy:
            raise ValueError(f"{name} needs --strategy")
        return cls(strategy, reason, who)  # type: ignore[no-any-return]
    return cls(reason, who)  # type: ignore[no-any-return]


class Intervention(NamedTuple):
    ts: int
    command: str  # pause_strategy | resume_strategy | force_rebalance | emergency_stop | stop_loss
    strategy: str  # "" for portfolio-wide commands
    reason: str
    who: str  # operator name, or "orchestrator" for its own rules
    outcome: str


class CommandBus:
    """A thread-safe queue of commands (the API thread puts, the engine thread takes)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Command] = queue.SimpleQueue()

    def put(self, command: Command) -> None:
        self._queue.put(command)

    def take_all(self) -> list[Command]:
        taken: list[Command] = []
        while True:
            try:
                taken.append(self._queue.get_nowait())
            except queue.Empty:
                return taken

    def __bool__(self) -> bool:
        return not self._queue.empty()
