"""Turn a validated config (and optional in-memory data) into feeds, venues and strategies."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from genebot.backtest.instruments import FIAT, make_instrument
from genebot.backtest.result import display_names
from genebot.config.loader import GenebotConfig
from genebot.core.errors import ConfigError, DataError
from genebot.core.precision import split_evenly, to_decimal
from genebot.core.time import timeframe_to_ns
from genebot.data.catalog import find_data_file
from genebot.data.feed import BarFeed, QuoteFeed
from genebot.data.quotes import quotes_from_frame, read_quotes
from genebot.data.readers import OhlcvData, ohlcv_from_frame, read_ohlcv
from genebot.data.validation import warning_line
from genebot.domain.instrument import AccountType, Instrument
from genebot.execution.engine import Protection
from genebot.strategies.registry import strategy_class, user_catalog
from genebot.system.kernel import StrategySlot
from genebot.trading.sizing import (
    AtrRisk,
    FixedAmount,
    FixedFractional,
    FixedQuantity,
    PercentEquity,
    PositionSizer,
)
from genebot.trading.staged import StagedRamp
from genebot.trading.strategy import Strategy
from genebot.venues.sim.bars import BarColumns
from genebot.venues.sim.exchange import SimulatedExchange
from genebot.venues.sim.models import (
    FixedBpsSlippage,
    MakerTakerFee,
    NoSlippage,
    SlippageModel,
    VolumeParticipation,
    VolumeShareSlippage,
)

log = logging.getLogger("genebot.backtest")
DataInput = Mapping[str, pd.DataFrame]
OHLCV = ("open", "high", "low", "close", "volume")


@dataclass
class RunSetup:
    feeds: list[BarFeed]
    venues: list[SimulatedExchange]
    instruments: dict[str, Instrument]
    slots: list[StrategySlot]
    bars: dict[str, pd.DataFrame]  # display name (result.display_names) → frame, for the report
    warnings: list[str]
    # Per feed, what it is: (venue, symbol, timeframe as configured, or "quotes").
    feed_keys: list[tuple[str, str, str]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # instrument id → name in the results


def _enabled(cfg: GenebotConfig) -> dict[str, object]:
    chosen = {k: s for k, s in cfg.strategies.items() if s.enabled}
    if not chosen:
        raise ConfigError("no strategy is enabled: enable one under strategies: or pass --strategy")
    return chosen  # type: ignore[return-value]


def _load(
    cfg: GenebotConfig, symbol: str, timeframe: str, data: DataInput | None, venue: str
) -> OhlcvData:
    """Data for one feed: the in-memory mapping (keys ``SYMBOL@venue:TF``, ``SYMBOL:TF``,
    ``SYMBOL@venue``, ``SYMBOL``, the first found), the configured files (matching venue first),
    else the data folder."""
    broken, gaps = cfg.backtest.on_broken, cfg.backtest.on_gap
    if data is not None:  # the most specific key first: a timeframe, a venue, the symbol
        for key in (
            f"{symbol}@{venue}:{timeframe}",
            f"{symbol}:{timeframe}",
            f"{symbol}@{venue}",
            symbol,
        ):
            if key in data:  # (a frame the batch path loaded from a file names the file)
                given = data[key]
                source = given.attrs.get("source") if isinstance(given, pd.DataFrame) else None
                name = str(source or f"data[{key!r}]")
                return ohlcv_from_frame(
                    data[key], name=name, timeframe=timeframe, on_broken=broken, on_gap=gaps
                )
    entries = sorted(cfg.backtest.data, key=lambda e: e.venue != venue)
    for entry in entries:
        if entry.venue not in (None, venue):
            continue
        if entry.symbol == symbol and _same_timeframe(entry.timeframe, timeframe):
            loaded = read_ohlcv(
                entry.file, timeframe=entry.timeframe, on_broken=broken, on_gap=gaps
            )
            if not _same_timeframe(loaded.timeframe, timeframe):  # not these bars at all
                raise DataError(
                    f"{entry.file}: its bars are {loaded.timeframe} (inferred from the data) "
                    f"but {symbol} is traded on {timeframe}: set the strategy's timeframes to "
                    f"[{loaded.timeframe}] (--timeframe {loaded.timeframe}), or give "
                    f"{timeframe} bars"
                )
            return loaded
    if data is not None:
        raise DataError(f"no data for {symbol}: the data mapping has {', '.join(data) or 'none'}")
    path = find_data_file(cfg.backtest.data_dir, symbol, timeframe)  # named for its timeframe
    return read_ohlcv(path, timeframe=timeframe, on_broken=broken, on_gap=gaps)


def _same_timeframe(given: str | None, wanted: str) -> bool:
    """A file's timeframe (None: any) against a strategy's, by length: 60m is 1h."""
    return given is None or timeframe_to_ns(given) == timeframe_to_ns(wanted)


def _clip(frame: pd.DataFrame, cfg: GenebotConfig, source: str) -> pd.DataFrame:
    start, end = cfg.backtest.start_ns, cfg.backtest.end_ns
    if start is None and end is None:
        return frame
    ts = frame.index.asi8
    mask = np.ones(len(frame), dtype=bool)
    if start is not None:
        mask &= ts >= start
    if end is not None:
        mask &= ts < end
    clipped = frame[mask]
    if clipped.empty:
        raise DataError(
            f"{source}: no bars between {cfg.backtest.start_date or 'the start'} and "
            f"{cfg.backtest.end_date or 'the end'} (the file covers {frame.index[0]} to "
            f"{frame.index[-1]})"
        )
    return clipped


def _venue_for(cfg: GenebotConfig, name: str, instruments: list[Instrument]) -> SimulatedExchange:
    ex = cfg.exchanges.get(name)
    bt = cfg.backtest
    if ex is not None:
        account = AccountType(ex.account_type)
    else:  # no config: currency pairs trade on margin (forex), everything else spot
        fiat = all(i.base in FIAT and i.quote in FIAT for i in instruments)
        account = AccountType.MARGIN if fiat else AccountType.SPOT
    slippage: SlippageModel = NoSlippage()
    if bt.slippage_model == "volume_share":
        slippage = VolumeShareSlippage(price_impact=to_decimal(bt.price_impact))
    elif bt.slippage_bps:
        slippage = FixedBpsSlippage(to_decimal(bt.slippage_bps))
    participation = VolumeParticipation(
        to_decimal(bt.volume_participation) if bt.volume_participation else None
    )
    margin = to_decimal(ex.margin_requirement) if ex else Decimal(1)
    if ex and ex.leverage > 1:
        margin = min(margin, Decimal(1) / to_decimal(ex.leverage))
    return SimulatedExchange(
        name,
        account,
        instruments,
        fee_model=MakerTakerFee(),
        slippage=slippage,
        participation=participation,
        fill_timing=bt.fill_timing,
        latency_ns=int(bt.latency_ms * 1_000_000),
        margin_requirement=margin,
    )


def _fees(cfg: GenebotConfig, venue: str) -> tuple[Decimal, Decimal]:
    if cfg.backtest.fee is not None:
        fee = to_decimal(cfg.backtest.fee)
        return fee, fee
    ex = cfg.exchanges.get(venue)
    if ex is None:
        return Decimal("0.001"), Decimal("0.001")
    return to_decimal(ex.maker_fee), to_decimal(ex.taker_fee)


def sizer_for(method: str, value: float, atr_multiple: float | None = None) -> PositionSizer:
    amount = to_decimal(value)
    if method == "fixed_quantity":
        return FixedQuantity(amount)
    if method == "fixed_amount":
        return FixedAmount(amount)
    if method == "fixed_fractional":
        return FixedFractional(amount)
    if method == "atr":
        return AtrRisk(amount, to_decimal(atr_multiple or 2))
    if method == "staged":
        return StagedRamp()
    return PercentEquity(amount)


def _protection(cfg: GenebotConfig) -> Protection:
    """Protective exits attached to every entry, from ``risk_management`` (when it is on)."""
    rm = cfg.risk_management
    if not rm.enabled:
        return Protection()
    sl, tp = rm.stop_loss, rm.take_profit
    return Protection(
        stop_loss=to_decimal(sl.default_percentage)
        if sl.enabled and not sl.trailing_stop
        else None,
        take_profit=to_decimal(tp.default_percentage) if tp.enabled else None,
        trailing=to_decimal(sl.trailing_percentage) if sl.enabled and sl.trailing_stop else None,
        break_even=to_decimal(sl.break_even_trigger)
        if sl.enabled and sl.break_even_trigger and not sl.trailing_stop
        else None,
        time_exit_bars=sl.time_exit_bars,
    )


@dataclass(frozen=True)
class _Feed:
    """One loaded, validated and clipped feed: what does not change between runs that read the
    same bars over the same dates with the same fees."""

    feed: BarFeed
    frame: pd.DataFrame
    warnings: tuple[str, ...]

    def fresh(self) -> BarFeed:
        """A new feed over the same (read-only) arrays: its place in a timeline is per run;
        the column tuples it builds on demand are shared."""
        f = self.feed
        return BarFeed(
            f.instrument,
            f.timeframe_ns,
            f.ts,
            f.open,
            f.high,
            f.low,
            f.close,
            f.volume,
            source=f.source,
            _lists=f._lists,
        )


FeedCache = dict[tuple[object, ...], _Feed]
"""Loaded feeds kept between runs over the same data (``genebot.backtest.run_many``): keyed
by venue, symbol, timeframe, dates and fees; the caller keys it by everything else that decides
the bars (files, data folder, data policies, the in-memory mapping)."""


def _bar_feed(
    cfg: GenebotConfig,
    key: tuple[str, str, str],
    data: DataInput | None,
    instruments: Mapping[str, Instrument] | None,
) -> _Feed:
    venue_name, symbol, tf = key
    loaded = _load(cfg, symbol, tf, data, venue_name)
    frame = _clip(loaded.frame, cfg, loaded.source)
    maker, taker = _fees(cfg, venue_name)
    inst = (instruments or {}).get(f"{symbol}@{venue_name}") or make_instrument(
        symbol, venue_name, frame["close"].to_numpy(), maker, taker
    )
    o, h, lo, c, v = (frame[k].to_numpy(dtype=np.float64) for k in OHLCV)
    ts = np.asarray(pd.DatetimeIndex(frame.index).asi8, dtype=np.int64)
    tf_ns = timeframe_to_ns(loaded.timeframe if tf is None else tf)
    feed = BarFeed(inst, tf_ns, ts, o, h, lo, c, v, source=loaded.source)
    return _Feed(feed, frame, tuple(warning_line(i, loaded.source) for i in loaded.issues))


def _cached_feed(
    cfg: GenebotConfig,
    key: tuple[str, str, str],
    data: DataInput | None,
    instruments: Mapping[str, Instrument] | None,
    cache: FeedCache | None,
) -> _Feed:
    if cache is None or instruments:
        return _bar_feed(cfg, key, data, instruments)
    bt = cfg.backtest
    full = (*key, bt.start_ns, bt.end_ns, _fees(cfg, key[0]))
    found = cache.get(full)
    if found is None:
        found = cache[full] = _bar_feed(cfg, key, data, instruments)
    # each run's own frame object over the shared columns: under pandas' copy-on-write a
    # change to one result's bars never reaches the cache or another result
    return _Feed(found.fresh(), found.frame.copy(deep=False), found.warnings)


def build(
    cfg: GenebotConfig,
    data: DataInput | None,
    instruments: Mapping[str, Instrument] | None = None,
    cache: FeedCache | None = None,
) -> RunSetup:
    """Load data, create instruments, venues and strategy slots. ``instruments``: the venues'
    own (an exchange's steps, minimums and fees), by id; the others are inferred from data.
    ``cache``: feeds loaded by an earlier run over the same data, reused (and filled)."""
    if data is not None and not isinstance(data, Mapping):
        raise DataError(
            f"data: a {type(data).__name__} is not a mapping; allowed: {{symbol: DataFrame}}, "
            "e.g. {'BTC/USDT': bars}"
        )
    strategies = _enabled(cfg)
    feeds: dict[tuple[str, str, str], BarFeed] = {}
    bars: dict[str, pd.DataFrame] = {}
    warnings: list[str] = []
    plan: list[tuple[str, object, list[tuple[str, str, str]]]] = []
    for key, scfg in strategies.items():
        venues = scfg.venues or (scfg.venue or "sim",)  # type: ignore[attr-defined]
        wanted = [
            (v, s, tf)
            for v in venues
            for s in scfg.symbols  # type: ignore[attr-defined]
            for tf in scfg.timeframes  # type: ignore[attr-defined]
        ]
        plan.append((key, scfg, wanted))
        for feed_key in wanted:
            if feed_key in feeds:
                continue
            loaded = _cached_feed(cfg, feed_key, data, instruments, cache)
            warnings.extend(loaded.warnings)
            bars.setdefault(loaded.feed.instrument.id, loaded.frame)  # the report's candles
            feeds[feed_key] = loaded.feed
    warnings.extend(_unused_files(cfg, feeds))
    _add_quote_feeds(cfg, plan, feeds, data)
    instruments = {f.instrument.id: f.instrument for f in feeds.values()}
    names = display_names(instruments)
    bars = {names[iid]: frame for iid, frame in bars.items()}
    venues = _venues(cfg, feeds, instruments)
    slots = _slots(cfg, plan, feeds)
    return RunSetup(
        list(feeds.values()), venues, instruments, slots, bars, warnings, list(feeds), names
    )


def _unused_files(cfg: GenebotConfig, feeds: Mapping[tuple[str, str, str], BarFeed]) -> list[str]:
    """``backtest.data`` entries no enabled strategy reads (a typo in a symbol, a timeframe
    nothing trades): said, not silently skipped."""
    wanted = {(symbol, tf) for _, symbol, tf in feeds}
    return [
        f"backtest.data[{i}] {entry.file}: no enabled strategy trades {entry.symbol}"
        + (f" on {entry.timeframe}" if entry.timeframe else "")
        + "; the file is not used"
        for i, entry in enumerate(cfg.backtest.data)
        if not any(s == entry.symbol and _same_timeframe(entry.timeframe, tf) for s, tf in wanted)
    ]


def _add_quote_feeds(
    cfg: GenebotConfig,
    plan: list[tuple[str, object, list[tuple[str, str, str]]]],
    feeds: dict[tuple[str, str, str], BarFeed],
    data: DataInput | None,
) -> None:
    """Quote feeds for strategies with ``quotes: true`` (key ``(venue, symbol, "quotes")``)."""
    for _key, scfg, wanted in plan:
        if not scfg.quotes:  # type: ignore[attr-defined]
            continue
        venues = scfg.venues or (scfg.venue or "sim",)  # type: ignore[attr-defined]
        for venue in venues:
            for symbol in scfg.symbols:  # type: ignore[attr-defined]
                key = (venue, symbol, "quotes")
                if key not in feeds:
                    feeds[key] = _quote_feed(cfg, symbol, venue, data, feeds)
                wanted.append(key)


def _quote_feed(
    cfg: GenebotConfig,
    symbol: str,
    venue: str,
    data: DataInput | None,
    feeds: dict[tuple[str, str, str], BarFeed],
) -> QuoteFeed:
    loaded = None
    if data is not None:
        for name in (f"{symbol}@{venue}:quotes", f"{symbol}:quotes"):
            if name in data:
                loaded = quotes_from_frame(data[name].reset_index(), name=f"data[{name!r}]")
    if loaded is None:
        entry = next(
            (e for e in cfg.backtest.quotes if e.symbol == symbol and e.venue in (None, venue)),
            None,
        )
        if entry is None:
            raise DataError(
                f"no quotes for {symbol} on {venue}: add backtest.quotes "
                f"[{{file: ..., symbol: {symbol}}}] or data['{symbol}:quotes']"
            )
        loaded = read_quotes(entry.file)
    frame = _clip(loaded.frame, cfg, loaded.source)
    same = [f for (v, s, _), f in feeds.items() if v == venue and s == symbol]
    bid, ask = frame["bid"].to_numpy(), frame["ask"].to_numpy()
    inst = same[0].instrument if same else make_instrument(symbol, venue, bid, *_fees(cfg, venue))
    size = (frame["bid_size"] + frame["ask_size"]).to_numpy()
    return QuoteFeed.from_arrays(
        inst, frame.index.asi8.astype(np.int64), bid, ask, size, loaded.source
    )


def _venues(
    cfg: GenebotConfig,
    feeds: dict[tuple[str, str, str], BarFeed],
    instruments: dict[str, Instrument],
) -> list[SimulatedExchange]:
    names = sorted({v for v, _, _ in feeds})
    venues = []
    for name in names:
        insts = [i for i in instruments.values() if i.venue == name]
        venue = _venue_for(cfg, name, insts)
        for inst in insts:
            finest = min(
                (f for (v, _, _), f in feeds.items() if f.instrument.id == inst.id),
                key=lambda f: f.timeframe_ns,
            )
            venue.attach_bars(
                inst.id,
                BarColumns(
                    finest.ts,
                    finest.open,
                    finest.high,
                    finest.low,
                    finest.close,
                    finest.volume,
                    getattr(finest, "bid", None),
                    getattr(finest, "ask", None),
                ),
            )
        venues.append(venue)
    return venues


def _slots(
    cfg: GenebotConfig,
    plan: list[tuple[str, object, list[tuple[str, str, str]]]],
    feeds: dict[tuple[str, str, str], BarFeed],
) -> list[StrategySlot]:
    protection = _protection(cfg)
    catalog = user_catalog(cfg.strategies_path)  # built-ins load lazily, one by one
    for problem in catalog.problems:
        log.warning("%s", problem)
    shares = split_evenly(to_decimal(cfg.backtest.initial_cash), len(plan))
    slots = []
    for (key, scfg, wanted), share in zip(plan, shares, strict=True):
        cls = strategy_class(scfg.type or key, catalog)  # type: ignore[attr-defined]
        strategy: Strategy = cls(scfg.parameters, strategy_id=key)  # type: ignore[attr-defined]
        sizing = scfg.position_sizing  # type: ignore[attr-defined]
        strategy.sizer = sizer_for(sizing.method, sizing.value, sizing.atr_multiple)
        strategy.sizing_atr_period = sizing.atr_period or 14
        strategy.protection = protection
        if cfg.risk_management.enabled:
            strategy.trailing_atr_multiple = cfg.risk_management.stop_loss.trailing_atr_multiple
        slots.append(StrategySlot(strategy, [feeds[w] for w in wanted], share))
    return slots


def data_dir_exists(path: str) -> bool:
    return Path(path).is_dir()
