"""The lookahead check: a strategy must decide bar *k* the same whether or not later bars exist.

1. The whole run twice: if the two differ the strategy is not deterministic (an unseeded random
   number), which the check says instead of calling it lookahead.
2. The whole run once more, watched: any attempt to read a future bar in a callback fails the
   check, and so does code that raises (the check cannot vouch for code that fails).
3. Indicators and signals of every feed on prefixes of many lengths — tiny ones inside the
   warm-up, and lengths off the hour and day grid — must equal the full run's up to the cut
   (cheap: no engine run). A negative shift, a centered window, a fit or a normalization over
   the whole series, a daily or hourly resample that sees the current day fails here, with the
   indicator (or signal), the feed and the bar where the two first differ.
4. At a few cut-offs the engine runs on the bars closed by the cut (each feed cut by close
   time: an hourly bar still open at the cut is not in the prefix; quotes cut too), and the
   orders created up to the cut must be identical.

Inherent limit: a callback that reaches the data through private attributes or the engine's
objects is only caught where a cut-off makes the difference show (the bar before each cut).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from genebot.backtest.result import BacktestResult
from genebot.backtest.runner import ConfigInput, assemble, run
from genebot.backtest.setup import DataInput, RunSetup, build
from genebot.config.loader import GenebotConfig, apply_overrides, load_config
from genebot.core.time import ns_to_timeframe
from genebot.data.feed import BarFeed, QuoteFeed
from genebot.data.timeindex import utc_index
from genebot.system.kernel import SETTING_UP, USER_ERRORS, StrategySlot
from genebot.trading.data import BarData, Signals

DEFAULT_CUTS = (0.25, 0.5, 0.75, 0.9)  # engine runs (the expensive part)
_WARMUP_CUTS = (3, 7, 15, 31, 63, 127, 255, 511, 1023, 2047)  # bars: inside warm-ups and fits
_SPREAD_CUTS = tuple(f / 20 for f in range(1, 20))  # 5 % .. 95 % of the bars
_OFF_GRID = 7  # bars past a round fraction: cuts away from the hour and day boundaries
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
    frames = dict(_frames(setup))
    names = ", ".join(s.strategy.strategy_id for s in setup.slots)
    report = LookaheadReport(names, max(len(f) for f in setup.feeds))
    full = run(cfg, frames)
    _deterministic(full, run(cfg, frames), report)
    _clean_run(full, report)
    if not report.problems:
        _compare_vectorized(setup, report)
    first = setup.feeds[0]
    for cut in cuts if not report.problems else ():
        k = min(len(first) - 1, max(2, int(len(first) * cut)))
        cut_ts = int(first.ts[k])  # the open of bar k of the first feed
        report.cutoffs.append(pd.Timestamp(cut_ts, tz="UTC").isoformat())
        part = run(cfg, dict(_frames(setup, cut_ts)), call_on_stop=False)
        if _set_up_failed(part):  # too few bars for its indicators: no verdict at this cut
            report.cutoffs[-1] += " (skipped: too few bars for the strategy's set-up)"
            continue
        _clean_run(part, report, prefix=True)
        _compare_orders(full.orders, part.orders, cut_ts, report)
        if report.problems:
            break
    return report


def _frames(setup: RunSetup, cut_ts: int | None = None) -> Iterator[tuple[str, pd.DataFrame]]:
    """Each feed's data under its most specific key (``SYMBOL@venue:TF``, ``...:quotes``),
    only the bars (quotes) known by ``cut_ts`` when one is given: closed by then."""
    for (venue, symbol, tf), feed in zip(setup.feed_keys, setup.feeds, strict=True):
        keep = slice(None)
        if cut_ts is not None:
            keep = slice(0, int(np.searchsorted(feed.ts + feed.timeframe_ns, cut_ts, "right")))
        index = utc_index(feed.ts[keep], name="timestamp")
        if isinstance(feed, QuoteFeed):
            columns = {"bid": feed.bid, "bid_size": feed.volume, "ask": feed.ask}
            frame = pd.DataFrame({k: v[keep] for k, v in columns.items()}, index=index)
            frame["ask_size"] = 0.0  # the feed keeps the sum of both sizes (its volume)
            yield f"{symbol}@{venue}:quotes", frame
            continue
        arrays = {c: getattr(feed, c)[keep] for c in ("open", "high", "low", "close", "volume")}
        yield f"{symbol}@{venue}:{tf}", pd.DataFrame(arrays, index=index)


def _deterministic(a: BacktestResult, b: BacktestResult, report: LookaheadReport) -> None:
    if not a.orders.equals(b.orders):
        where = _first_difference(a.orders, b.orders)
        report.problems.append(
            f"two runs on the same data give different orders ({where}): the strategy is not "
            "deterministic (seed its random numbers); lookahead cannot be checked"
        )


def _set_up_failed(result: BacktestResult) -> bool:
    """Whether a strategy's set-up raised (errors read "<strategy>.<where>: ...")."""
    return any(
        message.split(":", 1)[0].rsplit(".", 1)[-1] in SETTING_UP
        for messages in result.strategy_errors.values()
        for message in messages
    )


def _clean_run(result: BacktestResult, report: LookaheadReport, prefix: bool = False) -> None:
    for sid, message in result.lookahead_reads.items():
        report.problems.append(f"{sid} read a future bar: {message}")
    for sid, messages in result.strategy_errors.items():
        if sid in result.lookahead_reads or not messages:
            continue
        if prefix:  # it ran cleanly on all the bars: it fails only where later bars are missing
            report.problems.append(
                f"{sid} raised errors only without the later bars (first: {messages[0]}): it "
                "reads the future"
            )
        else:
            report.problems.append(
                f"{sid} raised errors (first: {messages[0]}); code that fails cannot be checked"
            )


def _compare_vectorized(setup: RunSetup, report: LookaheadReport) -> None:
    """Indicators and signals of every bar feed on many prefixes against the full data."""
    for slot in setup.slots:
        for feed in slot.feeds:
            if isinstance(feed, QuoteFeed):
                continue
            full = _vectorized(slot, feed, len(feed))
            if full is None:
                report.problems.append(
                    f"{slot.strategy.strategy_id}: indicators or signals raise on the whole of "
                    f"{feed.instrument.symbol}; code that fails cannot be checked"
                )
                return
            for k in _prefix_lengths(len(feed)):
                part = _vectorized(slot, feed, k)
                if part is not None and _differs(slot, feed, full, part, k, report):
                    return


def _prefix_lengths(n: int) -> list[int]:
    spread = (int(n * f) + _OFF_GRID for f in _SPREAD_CUTS)
    return sorted({k for k in (*_WARMUP_CUTS, *spread) if 2 <= k < n})


def _vectorized(slot: StrategySlot, feed: BarFeed, k: int) -> dict[str, np.ndarray] | None:
    """Indicators and signals of the first ``k`` bars, by name; None if the code raises (on a
    short prefix that is no lookahead: the prefix is only skipped)."""
    data = BarData(
        feed.instrument.symbol,
        feed.timeframe_ns,
        *(getattr(feed, c)[:k] for c in ("ts", "open", "high", "low", "close", "volume")),
    )
    strategy = slot.strategy
    try:
        ind = dict(strategy.indicators(data))
        sig = strategy.signals(data, ind)
    except USER_ERRORS:
        return None
    out = {f"indicator {name!r}": np.asarray(v, dtype=float) for name, v in ind.items()}
    if sig is not None:
        for name, values in zip(Signals._fields, sig, strict=True):
            if values is not None:
                out[f"signal {name!r}"] = np.asarray(values, dtype=float)
    return out


def _differs(
    slot: StrategySlot,
    feed: BarFeed,
    full: dict[str, np.ndarray],
    part: dict[str, np.ndarray],
    k: int,
    report: LookaheadReport,
) -> bool:
    for name, values in full.items():
        a, b = values[:k], part.get(name, np.empty(0))
        if b.shape != a.shape:
            problem = f"has {b.shape[0]} values on the first {k} bars"
        else:
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            if np.all(same):
                continue
            bar = int(np.flatnonzero(~same)[0])
            when = pd.Timestamp(int(feed.ts[bar]), tz="UTC").isoformat()
            problem = f"changes at bar {bar} ({when}) when bars after bar {k - 1} are added"
        report.problems.append(
            f"{slot.strategy.strategy_id}: {name} on {feed.instrument.symbol} "
            f"{_timeframe(feed)} {problem}: it reads the future"
        )
        return True
    return False


def _timeframe(feed: BarFeed) -> str:
    return f"({ns_to_timeframe(feed.timeframe_ns)} bars)" if feed.timeframe_ns else ""


def _compare_orders(
    full: pd.DataFrame, part: pd.DataFrame, cut_ts: int, report: LookaheadReport
) -> None:
    cut = pd.Timestamp(cut_ts, tz="UTC")
    a, b = _orders_by(full, cut), _orders_by(part, cut)
    if len(a) != len(b) or not a.equals(b):
        report.problems.append(
            f"orders created by {cut.isoformat()} differ when later bars are added "
            f"({len(a)} with all bars, {len(b)} with the bars closed by then; "
            f"{_first_difference(a, b)}): a decision reads the future"
        )


def _orders_by(frame: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    if frame.empty:
        return frame.reindex(columns=_ORDER_KEYS)
    created = pd.to_datetime(frame["created"], utc=True)
    chosen = frame.loc[created <= cut, _ORDER_KEYS].reset_index(drop=True)
    # A trailing stop's trigger moves after creation; its creation is fixed by ``price``.
    chosen.loc[chosen["type"] == "TRAILING_STOP_MARKET", "trigger_price"] = ""
    return chosen


def _first_difference(a: pd.DataFrame, b: pd.DataFrame) -> str:
    n = min(len(a), len(b))
    i = next((i for i in range(n) if not a.iloc[i].equals(b.iloc[i])), n)
    if i == n:
        extra = a if len(a) > n else b
        row = extra.iloc[n] if len(extra) > n else None
        return "one run has more orders" + (
            f", the first created {row['created']}" if row is not None else ""
        )
    fields = [c for c in a.columns if a.iloc[i][c] != b.iloc[i][c]]
    return f"first at order #{i + 1}, created {a.iloc[i]['created']}: " + ", ".join(
        f"{c} {a.iloc[i][c]!s} vs {b.iloc[i][c]!s}" for c in fields
    )


def config_for(strategy: str, base: GenebotConfig | None = None) -> GenebotConfig:
    return apply_overrides(base or load_config({}), strategy=strategy)
