"""The parts of a run on a real exchange: the ccxt exchange, its instruments, the execution
client and venue, the bar client, and the kernel assembled on the warm-up candles.

The kernel is the backtest's (:func:`~genebot.backtest.runner.assemble`) with one change: the
venue of the exchange is an :class:`~genebot.venues.ccxt.venue.ExchangeVenue` (orders go to
the exchange, the account holds the exchange's balances) instead of the simulated exchange.
Instruments come from the exchange's markets (steps, minimums, fees), the first bars from the
exchange's closed candles (``live.warmup_bars`` per feed). Protective orders rest on the
exchange where it holds them and ``native_stops`` is on (the default; Binance spot: a stop as
STOP_LOSS, a stop and a target as one OCO), else the kernel's stop emulator holds and triggers
them, as in paper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from genebot.backtest.recorder import EquityRecorder
from genebot.backtest.runner import assemble
from genebot.backtest.setup import RunSetup, build
from genebot.config.loader import GenebotConfig
from genebot.config.models import ExchangeConfig
from genebot.core.errors import ConfigError
from genebot.domain.instrument import Instrument
from genebot.domain.market import Bar
from genebot.live.mt5_setup import connect_mt5_parts
from genebot.live.strategy_runner import StrategyRunner
from genebot.system.kernel import Kernel
from genebot.venues.ccxt.calls import Caller
from genebot.venues.ccxt.data import BarStream, CcxtBarClient
from genebot.venues.ccxt.errors import Backoff
from genebot.venues.ccxt.execution import CcxtExecutionClient, native_protection
from genebot.venues.ccxt.factory import build_exchange, instrument_of, streams_klines
from genebot.venues.ccxt.quotes import BarsAndQuotes, CcxtQuoteClient, QuoteStream
from genebot.venues.ccxt.stream import KlineWatcher
from genebot.venues.ccxt.venue import ExchangeVenue
from genebot.venues.mt5.factory import is_mt5

log = logging.getLogger("genebot.live")
GENEBOT_PREFIX = "gb-"  # every genebot client order id starts so (then the deployment's tag)


@dataclass
class MarketParts:
    """An exchange's market side: its markets, genebot's instruments on them and the candle
    client (public data: no account is needed; what paper trading on live prices uses)."""

    name: str
    entry: ExchangeConfig
    exchange: Any
    caller: Caller
    instruments: dict[str, Instrument]
    bars: CcxtBarClient
    quotes: CcxtQuoteClient | None = field(default=None, kw_only=True)  # quotes: true

    @property
    def feed(self) -> CcxtBarClient | BarsAndQuotes:
        """What the run polls: the candles, merged with the quotes when a strategy reads them."""
        return self.bars if self.quotes is None else BarsAndQuotes(self.bars, self.quotes)

    @property
    def errors(self) -> int:
        """Failed market-data calls (after their retries)."""
        return self.bars.errors + (self.quotes.errors if self.quotes is not None else 0)


@dataclass
class ExchangeParts(MarketParts):
    """The market side and the account: the execution client and the exchange's venue."""

    client: CcxtExecutionClient
    venue: ExchangeVenue


@dataclass
class LiveKernel:
    parts: MarketParts
    setup: RunSetup
    kernel: Kernel
    recorder: EquityRecorder
    runner: StrategyRunner


def traded(cfg: GenebotConfig) -> tuple[str, list[tuple[str, str]]]:
    """The one exchange the enabled strategies trade on, and its (symbol, timeframe) feeds."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    for key, s in cfg.strategies.items():
        if not s.enabled:
            continue
        for venue in s.venues or (s.venue or "sim",):
            if venue == "sim" and venue not in cfg.exchanges:
                raise ConfigError(
                    f"strategies.{key}: trades on no exchange (the simulated venue): add an "
                    "exchanges: entry (e.g. binance) to trade on that exchange's prices"
                )
            if venue not in cfg.exchanges:
                raise ConfigError(
                    f"strategies.{key}: trades on {venue!r}, which is not under exchanges: "
                    f"add exchanges.{venue} (live trading with its api_key and api_secret; "
                    "paper trading on its live prices needs no key)"
                )
            feeds = wanted.setdefault(venue, [])
            for pair in ((sym, tf) for sym in s.symbols or () for tf in s.timeframes):
                if pair not in feeds:
                    feeds.append(pair)
    if not wanted:
        raise ConfigError("no strategy is enabled: enable one under strategies:")
    if len(wanted) > 1:
        raise ConfigError(
            f"the strategies trade on {', '.join(wanted)}: live trading runs one exchange per "
            "process yet (start one genebot per exchange)"
        )
    name = next(iter(wanted))
    return name, wanted[name]


def connect(
    cfg: GenebotConfig, tag: str, clock: Callable[[], int] = time.time_ns, *, stream: bool = True
) -> ExchangeParts:
    """The exchange, its markets and genebot's clients on it (nothing is sent yet);
    ``stream``: subscribe to the candle websocket (``live.websocket``)."""
    name, feeds = traded(cfg)
    entry = cfg.exchanges[name]
    if is_mt5(name, entry):  # MetaTrader 5: the same parts through genebot.venues.mt5
        return connect_mt5_parts(
            name, entry, feeds, tag, clock, resolve_after_s=cfg.live.resolve_after_s,
            poll_delay_s=cfg.live.poll_delay_s, stale_after=cfg.live.stale_after_bars,
            prefix=GENEBOT_PREFIX,
        )  # fmt: skip
    market = connect_market(cfg, clock, stream=stream)
    exchange, caller, instruments = market.exchange, market.caller, market.instruments
    client = CcxtExecutionClient(
        name, caller, instruments, id_prefix=f"{GENEBOT_PREFIX}{tag}-", clock=clock,
        resolve_after_s=cfg.live.resolve_after_s,
    )  # fmt: skip
    if entry.native_stops:
        symbols = [i.symbol for i in instruments.values()]
        client.native_types, client.oco = native_protection(exchange, symbols)
        if not client.native_types:
            log.warning(
                "%s: genebot does not place native stop orders there yet; stops and targets "
                "are held by genebot's emulator (they rest only while genebot runs)", name,
            )  # fmt: skip
    venue = ExchangeVenue(client, instruments)
    return ExchangeParts(**vars(market), client=client, venue=venue)


def connect_market(
    cfg: GenebotConfig, clock: Callable[[], int] = time.time_ns, *, stream: bool = True
) -> MarketParts:
    """The exchange's markets, the instruments traded and the candle client (no account)."""
    name, feeds = traded(cfg)
    entry = cfg.exchanges[name]
    if is_mt5(name, entry):  # the terminal's bars (it logs in: MT5 serves data to an account)
        mt5 = connect(cfg, "paper", clock, stream=False)
        return MarketParts(name, entry, mt5.exchange, mt5.caller, mt5.instruments, mt5.bars)
    exchange = build_exchange(name, entry)
    caller = Caller(exchange, Backoff())
    markets = caller("read", exchange.load_markets)
    quoted = quoted_symbols(cfg, name)
    missing = sorted({sym for sym, _ in feeds if sym not in markets} | set(quoted) - set(markets))
    if missing:
        raise ConfigError(f"{name} has no market {', '.join(missing)} (check the spelling)")
    instruments = {
        f"{sym}@{name}": instrument_of(markets[sym], name, exchange.precisionMode)
        for sym in sorted({sym for sym, _ in feeds} | set(quoted))
    }
    streams = [BarStream(f"{sym}@{name}", sym, tf) for sym, tf in feeds]
    quotes = None
    if quoted:
        quote_streams = [QuoteStream(f"{sym}@{name}", sym) for sym in quoted]
        quotes = CcxtQuoteClient(
            caller, quote_streams, clock=clock, interval_s=cfg.live.quote_interval_s
        )
    watcher = None
    if stream and cfg.live.websocket and streams_klines(name, entry):
        watcher = KlineWatcher(lambda: build_exchange(name, entry, pro=True), feeds).start()
    bars = CcxtBarClient(
        caller, streams, clock=clock, delay_s=cfg.live.poll_delay_s,
        stale_after=cfg.live.stale_after_bars, watcher=watcher,
    )  # fmt: skip
    return MarketParts(name, entry, exchange, caller, instruments, bars, quotes=quotes)


def quoted_symbols(cfg: GenebotConfig, exchange: str) -> list[str]:
    """The symbols whose quotes an enabled strategy on ``exchange`` reads (``quotes: true``)."""
    out: set[str] = set()
    for s in cfg.strategies.values():
        if s.enabled and s.quotes and exchange in (s.venues or (s.venue or "sim",)):
            out.update(s.symbols or ())
    return sorted(out)


def exchange_totals(parts: ExchangeParts) -> dict[str, Decimal]:
    """The account's balances on the exchange (free + locked), the assets it holds."""
    balance = parts.caller("read", parts.exchange.fetch_balance)
    return {k: Decimal(str(v)) for k, v in (balance.get("total") or {}).items() if v}


def _frames(bars: list[Bar], streams: list[BarStream], venue: str) -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    for s in streams:
        rows = [b for b in bars if b.instrument_id == s.instrument_id and b.timeframe_ns == s.tf_ns]
        index = pd.to_datetime([b.ts for b in rows], unit="ns", utc=True)
        frame = pd.DataFrame(
            {c: [getattr(b, c) for b in rows] for c in ("open", "high", "low", "close", "volume")},
            index=index,
        )
        out[f"{s.symbol}@{venue}:{s.timeframe}"] = frame
    return out


def warm_frames(cfg: GenebotConfig, parts: MarketParts) -> dict[str, pd.DataFrame]:
    """The exchange's last ``live.warmup_bars`` closed candles per feed, as the run's data
    (and, for ``quotes: true``, one quote per instrument, no later than the last candle's
    close: the next candle to arrive must not close before a quote the kernel holds)."""
    first = parts.quotes.first() if parts.quotes is not None else []
    warm = parts.bars.warm_up(cfg.live.warmup_bars)
    for s in parts.bars.streams:
        if s.last_open_ns is None:
            raise ConfigError(
                f"{parts.name} returned no closed {s.timeframe} candle of {s.symbol}: "
                "nothing to start from"
            )
    frames = _frames(warm, parts.bars.streams, parts.name)
    closes = [b.ts + b.timeframe_ns for b in warm]
    for q in first:
        symbol = parts.instruments[q.instrument_id].symbol
        row = {"bid": q.bid, "bid_size": q.bid_size, "ask": q.ask, "ask_size": q.ask_size}
        ts = min(q.ts, max(closes)) if closes else q.ts
        index = pd.to_datetime([ts], unit="ns", utc=True).rename("timestamp")
        frames[f"{symbol}@{parts.name}:quotes"] = pd.DataFrame([row], index=index)
    return frames


def assemble_live(cfg: GenebotConfig, parts: ExchangeParts) -> LiveKernel:
    """The kernel on the warm-up candles, trading through the exchange venue."""
    setup = build(cfg, warm_frames(cfg, parts), parts.instruments)
    setup.venues = [
        parts.venue if v.venue == parts.name else v  # type: ignore[misc]
        for v in setup.venues
    ]
    kernel, recorder = assemble(cfg, setup)
    if not parts.client.native_types:
        kernel.execution.emulated_venues = {*kernel.execution.emulated_venues, parts.name}
    parts.client.mark = lambda iid: _mark(kernel, iid)
    parts.venue.load_balances(exchange_totals(parts), int(kernel.timeline.step_ts[-1]))
    runner = StrategyRunner(cfg, setup, kernel, recorder)
    return LiveKernel(parts, setup, kernel, recorder, runner)


def _mark(kernel: Kernel, iid: str) -> Decimal | None:
    px = kernel.mark(iid)
    return None if px is None else Decimal(str(px))
