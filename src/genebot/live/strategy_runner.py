"""StrategyRunner: the strategies on bars that arrive from a data client, one at a time.

The run is assembled by the backtest's code (:func:`~genebot.backtest.runner.assemble`) on the
bars known at the start — a warm-up history, at least one bar of every feed — and then grown
by :class:`~genebot.system.growing.GrowingKernel` as the :class:`~genebot.data.ports.
DataClient` hands out bars: each bar's indicators and signals from the trailing window, then
the kernel's per-bar handler. Replaying a file this way gives the backtest's orders and fills
exactly (tested per strategy), which is what makes paper trading on a replay clock and live
trading on a live feed the same code.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from genebot.backtest.orchestration import SleeveRecorder
from genebot.backtest.recorder import EquityRecorder
from genebot.backtest.result import BacktestResult
from genebot.backtest.runner import assemble, result_of
from genebot.backtest.setup import DataInput, RunSetup, build
from genebot.config.loader import ConfigInput, GenebotConfig, load_config
from genebot.data.feed import BarFeed, QuoteFeed, build_timeline
from genebot.data.ports import MarketEvent, ReplayDataClient
from genebot.domain.market import Bar
from genebot.system.growing import GrowingKernel
from genebot.system.kernel import Kernel
from genebot.venues.sim.bars import BarColumns

MODE = "incremental"


class StrategyRunner:
    """One run's strategies fed bar by bar (see the module docstring)."""

    def __init__(
        self,
        cfg: GenebotConfig,
        setup: RunSetup,
        kernel: Kernel,
        recorder: EquityRecorder,
    ) -> None:
        self.cfg, self.setup, self.kernel, self.recorder = cfg, setup, kernel, recorder
        orchestrator = kernel.orchestrator
        self.sleeves = SleeveRecorder(kernel, orchestrator.names) if orchestrator else None
        self.growing = GrowingKernel(kernel, self.sleeves)
        self.bars_seen = 0

    def warm_up(self) -> None:
        """Handle the bars the run was assembled on (the first steps), as a backtest does."""
        self.kernel.run_steps(0, len(self.kernel.timeline), self.sleeves)

    def on_events(self, events: Iterable[MarketEvent]) -> None:
        """Handle market events (bars, quotes) in arrival order: one step each."""
        arrived = list(events)
        self.growing.extend(arrived)
        self.bars_seen += sum(1 for e in arrived if isinstance(e, Bar))

    def finish(self) -> BacktestResult:
        """Call the strategies' ``on_stop`` and build the run's result (the backtest's)."""
        self.kernel.finish()
        return result_of(self.cfg, self.setup, self.kernel, self.recorder, MODE, self.sleeves)


def replay(
    config: ConfigInput, data: DataInput | None = None, warm_steps: int = 1
) -> tuple[StrategyRunner, ReplayDataClient]:
    """A runner on the first ``warm_steps`` bars of the configured data (at least one of every
    feed) and a replay client holding the rest, in the timeline's order."""
    cfg = load_config(config)
    setup = build(cfg, data)
    full = [dataclasses.replace(f, _lists={}) for f in setup.feeds]
    client = ReplayDataClient(full)
    known = client.timeline.step_known
    firsts = [int(f.ts[0] + f.timeframe_ns) for f in setup.feeds if len(f)]
    cut = max(int(known[max(1, min(warm_steps, len(known))) - 1]), *firsts)
    _truncate(setup, cut)
    client.poll(cut)  # the warm-up bars: the kernel starts with them
    kernel, recorder = assemble(cfg, setup)
    runner = StrategyRunner(cfg, setup, kernel, recorder)
    return runner, client


def run_incremental(
    config: ConfigInput, data: DataInput | None = None, warm_steps: int = 1
) -> BacktestResult:
    """Replay the configured data bar by bar through a :class:`StrategyRunner` at full speed."""
    runner, client = replay(config, data, warm_steps)
    runner.warm_up()
    runner.on_events(client.poll(np.iinfo(np.int64).max))
    return runner.finish()


def _truncate(setup: RunSetup, known_ns: int) -> None:
    """Keep each feed's bars known by ``known_ns`` (copies), and the venues' columns too."""
    for feed in setup.feeds:
        keep = int(np.searchsorted(feed.ts + feed.timeframe_ns, known_ns, side="right"))
        quotes = ("bid", "ask") if isinstance(feed, QuoteFeed) else ()
        for name in ("ts", "open", "high", "low", "close", "volume", *quotes):
            setattr(feed, name, np.array(getattr(feed, name)[:keep]))
        feed._lists.clear()
    build_timeline(setup.feeds)  # indexes as the kernel's timeline will give them
    finest: dict[str, BarFeed] = {}
    for feed in setup.feeds:
        iid = feed.instrument.id
        if iid not in finest or feed.timeframe_ns < finest[iid].timeframe_ns:
            finest[iid] = feed
    for venue in setup.venues:
        for iid in list(venue._bars):
            feed = finest[iid]
            bid, ask = (feed.bid, feed.ask) if isinstance(feed, QuoteFeed) else (None, None)
            columns = (feed.ts, feed.open, feed.high, feed.low, feed.close, feed.volume)
            venue.attach_bars(iid, BarColumns(*columns, bid, ask))
