"""How a paper run's bars reach the kernel: the replay's steps handled from the precomputed
timeline, or arriving one at a time from a data client through the StrategyRunner.

Both give the same orders and fills (tested), with the same step numbers, so the journal,
checkpoints and restart of :mod:`genebot.live.runtime` work on either. ``schedule`` is the
timeline of the whole replay (known ahead: its length, bar times and close times pace the
run); the kernel's own timeline is what it has been handed so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from genebot.backtest.orchestration import SleeveRecorder
from genebot.backtest.recorder import EquityRecorder
from genebot.backtest.runner import assemble
from genebot.backtest.setup import DataInput, RunSetup, build
from genebot.config.loader import GenebotConfig
from genebot.data.feed import Timeline
from genebot.data.ports import ReplayDataClient
from genebot.live.strategy_runner import StrategyRunner, replay
from genebot.system.kernel import Kernel

PRECOMPUTED, ARRIVING = "precomputed", "bar_by_bar"
FEEDS = (PRECOMPUTED, ARRIVING)
WARM_STEPS = 1  # bar by bar: the kernel starts on the first bar of every feed


class Source(Protocol):
    schedule: Timeline
    sleeves: SleeveRecorder | None

    def advance(self, start: int, stop: int) -> int:
        """Handle steps ``start`` .. at least ``stop - 1``; the step after the last handled."""


@dataclass
class Opened:
    setup: RunSetup
    kernel: Kernel
    recorder: EquityRecorder
    source: Source


class Precomputed:
    """Every step's bar is in the kernel's timeline from the start (prefix invariance makes
    that the same as bars arriving: see :class:`Arriving`)."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.schedule = kernel.timeline
        orchestrator = kernel.orchestrator
        self.sleeves = SleeveRecorder(kernel, orchestrator.names) if orchestrator else None

    def advance(self, start: int, stop: int) -> int:
        self.kernel.run_steps(start, stop, self.sleeves)
        return stop


class Arriving:
    """Bars handed to the kernel one close time at a time by a replay data client."""

    def __init__(self, runner: StrategyRunner, client: ReplayDataClient) -> None:
        self.runner, self.client = runner, client
        self.schedule = client.timeline
        self.sleeves = runner.sleeves
        self.warm = len(runner.kernel.timeline)

    def advance(self, start: int, stop: int) -> int:
        if start < self.warm:  # the bars the kernel was assembled on
            stop = min(stop, self.warm)
            self.runner.kernel.run_steps(start, stop, self.sleeves)
            return stop
        known = self.schedule.step_known
        n = len(known)
        while stop < n and known[stop] == known[stop - 1]:
            stop += 1  # bars closing together arrive together
        self.runner.on_events(self.client.poll(int(known[stop - 1])))
        return stop


def open_run(cfg: GenebotConfig, data: DataInput | None, feed: str) -> Opened:
    """Assemble the run's kernel and the source of its bars."""
    if feed == ARRIVING:
        runner, client = replay(cfg, data, WARM_STEPS)
        return Opened(runner.setup, runner.kernel, runner.recorder, Arriving(runner, client))
    if feed != PRECOMPUTED:
        raise ValueError(f"feed {feed!r}: allowed {', '.join(FEEDS)}")
    setup = build(cfg, data)
    kernel, recorder = assemble(cfg, setup)
    return Opened(setup, kernel, recorder, Precomputed(kernel))
