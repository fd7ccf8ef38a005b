"""The lookahead check: a strategy must decide bar *k* the same whether or not later bars exist.

For several cut-off points the strategy runs on the first *k* bars and on all bars; the orders it
creates before the cut-off, and every indicator value before it, must be identical. A strategy
that reads the future (a negative shift, a centered window, a fit on the whole series) fails with
the indicator and bar where the two runs first differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genebot.backtest.config import GenebotConfig, apply_overrides, load_config
from genebot.backtest.runner import ConfigInput, assemble, run
from genebot.backtest.setup import DataInput, build
from genebot.data.feed import BarFeed
from genebot.trading.data import BarData

DEFAULT_CUTS = (0.25, 0.5, 0.75, 0.9)
_ORDER_KEYS = [
    "client_order_id",
    "strategy",
    "symbol",
    "side",
    "type",
    "quantity",
    "price",
    "trigger_price",
    "tag",
    "created",
]


@dataclass
class LookaheadReport:
    strategy: str
    bars: int
    cutoffs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def check_lookahead(
    config: ConfigInput, data: DataInput | None = None, *, cuts: tuple[float, ...] = DEFAULT_CUTS
) -> LookaheadReport:
    """Run the prefix-invariance check for the enabled strategies of ``config``."""
    cfg = apply_overrides(load_config(config), engine_mode="per_bar")
    setup = build(cfg, data)
    assemble(cfg, setup)  # strategies get their context (rates, marks) as in a real run
    frames = {sym: frame for sym, frame in setup.bars.items()}
    names = ", ".join(s.strategy.strategy_id for s in setup.slots)
    report = LookaheadReport(names, max(len(f) for f in setup.feeds))
    full = run(cfg, frames)
    _strategy_errors(full.strategy_errors, report)
    first = setup.feeds[0]
    for cut in cuts:
        k = max(2, int(len(first) * cut))
        cut_ts = int(first.ts[k])
        report.cutoffs.append(pd.Timestamp(cut_ts, tz="UTC").isoformat())
        prefix = {s: f[f.index.asi8 < cut_ts] for s, f in frames.items()}
        _compare_indicators(setup.slots, setup.feeds, cut_ts, report)
        part = run(cfg, prefix)
        _compare_orders(full.orders, part.orders, cut_ts, report)
        if report.problems:
            break
    return report


def _strategy_errors(errors: dict[str, list[str]], report: LookaheadReport) -> None:
    for sid, messages in errors.items():
        for message in messages:
            if "LookaheadError" in message:
                report.problems.append(f"{sid} read a future bar: {message}")


def _compare_indicators(
    slots: list,
    feeds: list[BarFeed],
    cut_ts: int,  # type: ignore[type-arg]
    report: LookaheadReport,
) -> None:
    for slot in slots:
        for feed in slot.feeds:
            k = int(np.searchsorted(feed.ts, cut_ts, side="left"))
            full = slot.strategy.indicators(_data(feed, len(feed)))
            part = slot.strategy.indicators(_data(feed, k))
            for name, values in full.items():
                a = np.asarray(values, dtype=float)[:k]
                b = np.asarray(part[name], dtype=float)
                same = (a == b) | (np.isnan(a) & np.isnan(b))
                if not np.all(same):
                    bar = int(np.flatnonzero(~same)[0])
                    when = pd.Timestamp(int(feed.ts[bar]), tz="UTC").isoformat()
                    report.problems.append(
                        f"{slot.strategy.strategy_id}: indicator {name!r} on "
                        f"{feed.instrument.symbol} changes at bar {bar} ({when}) when later "
                        "bars are added: it reads the future"
                    )


def _data(feed: BarFeed, k: int) -> BarData:
    return BarData(
        feed.instrument.symbol,
        feed.timeframe_ns,
        feed.ts[:k],
        feed.open[:k],
        feed.high[:k],
        feed.low[:k],
        feed.close[:k],
        feed.volume[:k],
    )


def _compare_orders(
    full: pd.DataFrame, part: pd.DataFrame, cut_ts: int, report: LookaheadReport
) -> None:
    cut_iso = pd.Timestamp(cut_ts, tz="UTC")

    def before(frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame.reindex(columns=_ORDER_KEYS)
        created = pd.to_datetime(frame["created"], utc=True)
        chosen = frame.loc[created <= cut_iso, _ORDER_KEYS].reset_index(drop=True)
        # A trailing stop's trigger moves after creation; its creation is fixed by ``price``.
        chosen.loc[chosen["type"] == "TRAILING_STOP_MARKET", "trigger_price"] = ""
        return chosen

    a, b = before(full), before(part)
    if len(a) != len(b) or not a.equals(b):
        n = min(len(a), len(b))
        diff = next((i for i in range(n) if not a.iloc[i].equals(b.iloc[i])), n)
        report.problems.append(
            f"orders before {cut_iso.isoformat()} differ when later bars are added: "
            f"{len(a)} with all bars vs {len(b)} with the prefix; first difference at order "
            f"#{diff + 1}"
        )


def config_for(strategy: str, base: GenebotConfig | None = None) -> GenebotConfig:
    return apply_overrides(base or load_config({}), strategy=strategy)
