"""The kernel: one wiring point and one per-bar handler for every mode.

It builds the portfolio, the execution engine and the trading context, prepares each strategy
(parameters, causal indicators, signals), and handles one bar at a time in :meth:`process_step`:
first the venue matches working orders against the bar, then each subscribed strategy's
``on_bar`` runs. Backtests drive it from a timeline (every bar, or in fast mode only the bars
where something can happen); paper and live mode drive the same handler from live data.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Protocol

import numpy as np
import talib

from genebot.core.errors import InputError, LookaheadError, StopError
from genebot.data.feed import BarFeed, QuoteFeed, Timeline
from genebot.domain.events import OrderFilled, OrderRejected
from genebot.domain.instrument import AccountType, Instrument
from genebot.engine.incremental import checked_signal
from genebot.execution.emulator import StopEmulator
from genebot.execution.engine import ExecutionEngine
from genebot.execution.ports import ExecutionClient
from genebot.orchestrator.runtime import Orchestrator
from genebot.portfolio.portfolio import Portfolio
from genebot.risk.engine import RiskEngine
from genebot.risk.types import OrderIntent, Verdict
from genebot.trading.context import TradingContext
from genebot.trading.data import BarData, BarView, QuoteView, Signals
from genebot.trading.strategy import Strategy

if TYPE_CHECKING:
    from genebot.system.financing import Rollover
    from genebot.system.schedule import ScheduleGate

log = logging.getLogger("genebot.kernel")
MAX_LOGGED_ERRORS = 5
_NEVER = 2**63 - 1  # no orchestrator check due
_ONE = Decimal(1)


# What user strategy code may raise without stopping the run (it is logged and counted):
# every error, and sys.exit() or a stray GeneratorExit too; Ctrl-C still stops it.
USER_ERRORS = (Exception, SystemExit, GeneratorExit)
SETTING_UP = ("indicators", "signals", "on_start")  # phases whose failure disables it


def _collect(into: list[object], call: Callable[..., object], *args: object) -> None:
    into.append(call(*args))


def _text(exc: BaseException) -> str:
    """The exception's message, even when its ``__str__`` itself fails."""
    try:
        return str(exc)
    except Exception:  # user code: anything may be wrong with it
        return f"<{type(exc).__name__} whose message cannot be shown>"


def _where(exc: BaseException) -> str:
    """`` (at file:line)`` of the innermost frame, for a one-line error message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {last.filename}:{last.lineno})"


class MatchingVenue(ExecutionClient, Protocol):
    """A venue the kernel feeds bars to (the simulated exchange)."""

    def on_bar(self, iid: str, row: int) -> None: ...

    def next_event_row(self, iid: str, start: int) -> int | None: ...


@dataclass
class StrategySlot:
    strategy: Strategy
    feeds: list[BarFeed]
    allocation: Decimal
    enabled: bool = True
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)
    lookahead: str = ""  # the first attempt to read a future bar, however many errors came before


class Kernel:
    """Owns the trading components of one run and the per-bar handler."""

    def __init__(
        self,
        timeline: Timeline,
        venues: Sequence[MatchingVenue],
        instruments: dict[str, Instrument],
        slots: Sequence[StrategySlot],
    ) -> None:
        self.timeline = timeline
        self.instruments = instruments
        self.venues = {v.venue: v for v in venues}
        self.slots = list(slots)
        self.step = -1
        self.risk: RiskEngine | None = None
        self.rollover: Rollover | None = None
        self.orchestrator: Orchestrator | None = None
        self.bar_hooks: list[Callable[[int], None]] = []  # called with each step's bar time
        self.schedule: ScheduleGate | None = None
        self._orch_due = _NEVER
        self._single = timeline.single
        self._account_currency: str | None = None
        self._now_step, self._now_ns = -2, 0  # now() of the step last asked
        self.portfolio = Portfolio(
            self.mark,
            {k: i.money_quantum for k, i in instruments.items()},
            {k: i.quote for k, i in instruments.items()},
            self.currency_rate,
        )
        self.execution = ExecutionEngine(self.portfolio, instruments)
        self.execution.clock = self.now
        for venue in venues:
            self.execution.register_client(venue)
        self.ctx = TradingContext(self.execution, self.portfolio, instruments, self.mark, self.atr)
        self._atr_cache: dict[tuple[str, int], np.ndarray] = {}
        # Bars that arrive one at a time: ATR from a trailing window of this many periods
        # (None: once over the whole series).
        self.atr_window: int | None = None
        self.exec_feed = self._execution_feeds(timeline.feeds)
        self.known_ns = {  # one feed: its close times are the timeline's (one array, not two)
            iid: timeline.step_known if timeline.single else f.ts + f.timeframe_ns
            for iid, f in self.exec_feed.items()
        }
        self.execution.bar_ns = {iid: f.timeframe_ns for iid, f in self.exec_feed.items()}
        self.emulator = StopEmulator(self.execution, self.now)
        self.execution.emulator = self.emulator
        self.execution.current_row = self.current_row
        for iid, feed in self.exec_feed.items():
            self.emulator.attach_bars(iid, feed)
        self.execution.spot_venues = {
            v.venue
            for v in venues
            if getattr(getattr(v, "account", None), "account_type", None) is AccountType.SPOT
        }
        self.fill_listeners: list[Callable[[Instrument, OrderFilled], None]] = []
        self.execution.on_fill_hook = self._on_fill
        self._views: dict[tuple[int, int], BarView] = {}
        self._quote_feeds: set[int] = set()
        self.subscribers: list[list[tuple[StrategySlot, BarView]]] = [[] for _ in timeline.feeds]

    @property
    def account_currency(self) -> str | None:
        """The currency equity is counted in; set by the mode (backtest: quote_currency)."""
        return self._account_currency

    @account_currency.setter
    def account_currency(self, currency: str | None) -> None:
        self._account_currency = currency
        self.portfolio.account_currency = currency
        if currency is not None:  # spot holdings are currencies, valued in this one
            spot = self.execution.spot_venues
            self.portfolio.book_spot_currencies(self.instruments, spot, currency)

    @staticmethod
    def _execution_feeds(feeds: list[BarFeed]) -> dict[str, BarFeed]:
        """Orders of an instrument match against its finest-timeframe feed."""
        chosen: dict[str, BarFeed] = {}
        for feed in feeds:
            iid = feed.instrument.id
            if iid not in chosen or feed.timeframe_ns < chosen[iid].timeframe_ns:
                chosen[iid] = feed
        return chosen

    # -- marks ----------------------------------------------------------------------------
    def mark(self, iid: str) -> float | None:
        """Last close of ``iid`` known at the current step (never a later one)."""
        feed = self.exec_feed.get(iid)
        if feed is None or self.step < 0:
            return None
        # The last bar of that instrument that has CLOSED by now (its bar closing at this very
        # moment included, even if the timeline hands it to strategies a little later).
        row = self.current_row(iid)
        return float(feed.close[row]) if row >= 0 else None

    # -- risk ---------------------------------------------------------------------------------
    def attach_risk(self, risk: RiskEngine) -> None:
        """Every new order passes ``risk`` first; fills, errors and day boundaries feed it."""
        self.risk = risk
        self.execution.risk_gate = risk.evaluate
        self.fill_listeners.append(self._risk_after_fill)
        self.execution.observe(self._risk_watch_rejections)
        self._seen_trades = 0

    def attach_orchestrator(self, orchestrator: Orchestrator) -> None:
        """The orchestrator sees every new order before the risk engine (paused strategies,
        the position-size limit) and is called when its next check or a command is due."""
        self.orchestrator = orchestrator
        inner = self.execution.risk_gate

        def gate(intent: OrderIntent) -> Verdict | None:
            verdict = orchestrator.gate(intent)
            if verdict is not None:
                if verdict.action == "deny":
                    return verdict
                intent = intent.with_quantity(verdict.quantity)
            further = inner(intent) if inner is not None else None
            return verdict if further is None else further

        self.execution.risk_gate = gate
        self._orch_due = orchestrator.due_ns or _NEVER

    def _orchestrate(self, ts: int) -> None:
        orchestrator = self.orchestrator
        assert orchestrator is not None
        orchestrator.on_time(ts)
        due = orchestrator.due_ns
        self._orch_due = _NEVER if due is None else due

    def _risk_after_fill(self, instrument: Instrument, fill: OrderFilled) -> None:
        risk = self.risk
        assert risk is not None
        trades = self.portfolio.trades
        for trade in trades[self._seen_trades :]:
            risk.on_trade_closed(trade)
        self._seen_trades = len(trades)
        decided = self.execution.decision_px.pop(fill.client_order_id, None)
        if decided is not None:
            risk.on_fill_slippage(instrument, fill, decided)
        risk.on_fill()

    def _risk_watch_rejections(self, event: object) -> None:
        if type(event) is OrderRejected and self.risk is not None:
            self.risk.on_error("venue", event.reason)  # type: ignore[attr-defined]

    def atr(self, iid: str, period: int) -> float | None:
        """Average true range of ``iid`` over the last ``period`` closed bars (its finest feed);
        computed once per run with TA-Lib, read at the current bar."""
        feed = self.exec_feed.get(iid)
        if feed is None or self.step < 0:
            return None
        if self.atr_window is not None:
            return self._atr_windowed(feed, iid, period, self.atr_window)
        values = self._atr_cache.get((iid, period))
        if values is None:
            values = talib.ATR(feed.high, feed.low, feed.close, timeperiod=period)
            self._atr_cache[(iid, period)] = values
        row = self.current_row(iid)
        value = float(values[row]) if row >= 0 else float("nan")
        return None if value != value else value

    def _atr_windowed(self, feed: BarFeed, iid: str, period: int, periods: int) -> float | None:
        """ATR at the current bar over the last ``max(2000, periods × period)`` bars: Wilder's
        smoothing forgets its start to below an ulp in ~37 periods, so the value is the
        whole series' (bit for bit, in practice) at O(window) a call."""
        row = self.current_row(iid)
        if row < 0:
            return None
        lo = max(0, row + 1 - max(2000, periods * period))
        hi = row + 1
        values = talib.ATR(feed.high[lo:hi], feed.low[lo:hi], feed.close[lo:hi], timeperiod=period)
        value = float(values[-1])
        return None if value != value else value

    def step_appended(self, step: int, feed: int, row: int) -> None:
        """A step was appended to the timeline (bars arriving one at a time): keep the
        per-step lookups of :meth:`run_steps` in step."""
        if not self._single:
            self._step_feed.append(feed)
            self._step_row.append(row)

    def pricing_instrument(
        self, currency: str, quote: str, venue: str | None = None, inverse: bool = False
    ) -> str | None:
        """The instrument ``currency/quote`` (or ``quote/currency`` with ``inverse``), on
        ``venue`` when given: what values one currency in another."""
        base, other = (quote, currency) if inverse else (currency, quote)
        for iid, feed in self.exec_feed.items():
            inst = feed.instrument
            if inst.base == base and inst.quote == other and venue in (None, inst.venue):
                return iid
        return None

    def currency_rate(self, currency: str) -> Decimal | None:
        """Units of the account currency per unit of ``currency`` at the current marks."""
        account = self.account_currency
        if account is None or currency == account:
            return _ONE
        direct = self.pricing_instrument(currency, account)
        if direct is not None:
            px = self.mark(direct)
            return None if px is None else Decimal(repr(px))
        inverse = self.pricing_instrument(currency, account, inverse=True)
        if inverse is not None:
            px = self.mark(inverse)
            return None if not px else Decimal(1) / Decimal(repr(px))
        return None

    def price_at(self, iid: str, ts_ns: int) -> float | None:
        """Last close of ``iid`` known at ``ts_ns``."""
        feed = self.exec_feed.get(iid)
        if feed is None:
            return None
        row = self.row_at(iid, ts_ns)
        return float(feed.close[row]) if row >= 0 else None

    def row_at(self, iid: str, ts_ns: int) -> int:
        """The last row of ``iid``'s execution feed closed by ``ts_ns`` (-1: none yet). The one
        "last closed bar at t" lookup: marks, ATR, the risk view and the venues ask it."""
        return int(np.searchsorted(self.known_ns[iid], ts_ns, side="right")) - 1

    def current_row(self, iid: str) -> int:
        """Row of ``iid``'s execution feed that has closed by now."""
        if self._single:
            return self.step
        return self.row_at(iid, int(self.timeline.step_known[self.step]))

    def now(self) -> int:
        """Decision time: the close of the bar being handled (ns)."""
        step = self.step
        if step != self._now_step:  # asked many times per step: convert once
            self._now_step = step
            self._now_ns = int(self.timeline.step_known[step]) if step >= 0 else 0
        return self._now_ns

    def _on_fill(self, instrument: Instrument, fill: OrderFilled) -> None:
        for listener in self.fill_listeners:
            listener(instrument, fill)

    # -- set-up ---------------------------------------------------------------------------
    def prepare(self) -> None:
        """Bind strategies, compute their indicators and signals, call ``on_start``."""
        for slot in self.slots:
            strategy = slot.strategy
            self.portfolio.add_sleeve(strategy.strategy_id, slot.allocation)
            strategy.bind(self.ctx, {f.instrument.id: f.instrument for f in slot.feeds})
            if type(strategy).on_fill is not Strategy.on_fill:  # only strategies that listen
                self.execution.listen(strategy.strategy_id, self._fill_listener(slot))
            self._prepare_slot(slot)
            if slot.enabled:
                self._guard(slot, "on_start", strategy.on_start)
        self._compile()

    def _prepare_slot(self, slot: StrategySlot) -> None:
        """Indicators, then signals, of each feed; the first failure disables the strategy."""
        for feed in slot.feeds:
            made: list[tuple[BarData, dict[str, np.ndarray]] | None] = []
            step = partial(_collect, made, self._prepare_feed, slot, feed)
            if not self._guard(slot, "indicators", step):
                return
            if made[0] is None:  # quotes: no vectorized step
                continue
            signals = partial(self._prepare_signals, slot, feed, *made[0])
            if not self._guard(slot, "signals", signals):
                return

    def _prepare_signals(
        self, slot: StrategySlot, feed: BarFeed, data: BarData, ind: dict[str, np.ndarray]
    ) -> None:
        sig = slot.strategy.signals(data, ind)
        if sig is None:
            return
        for name, values in zip(Signals._fields, sig, strict=True):
            if values is not None:
                checked_signal(name, values, len(feed))
        slot.strategy.set_signals(feed.index, sig)

    def _prepare_feed(
        self, slot: StrategySlot, feed: BarFeed
    ) -> tuple[BarData, dict[str, np.ndarray]] | None:
        data = BarData.of(feed)
        strategy = slot.strategy
        if isinstance(feed, QuoteFeed):  # quotes: callbacks only, no vectorized step
            view: BarView = QuoteView(
                feed.index, feed.instrument, data, feed.bid, feed.ask, feed.column_list
            )
            self.subscribers[feed.index].append((slot, view))
            self._quote_feeds.add(feed.index)
            return None
        ind = dict(strategy.indicators(data))
        for name, values in ind.items():
            if np.shape(values) != (len(feed),):
                raise ValueError(
                    f"indicator {name!r} has shape {np.shape(values)}, expected ({len(feed)},)"
                )
        view = BarView(feed.index, feed.instrument, feed.timeframe_ns, data, ind, feed.column_list)
        self._views[(id(slot), feed.index)] = view
        self.subscribers[feed.index].append((slot, view))
        return data, ind

    def _fill_listener(self, slot: StrategySlot) -> Callable[..., None]:
        def listener(order: object, fill: OrderFilled, closed: object) -> None:
            if slot.enabled:
                self._guard(slot, "on_fill", lambda: slot.strategy.on_fill(order, fill))  # type: ignore[arg-type]

        return listener

    def _guard(self, slot: StrategySlot, where: str, call: Callable[[], object]) -> bool:
        """Run user code; an exception is logged, counted, and never kills the engine, except
        bad input found while setting up (a strategy refusing its parameters or symbols): that
        is the user's to fix, and stops the run with the strategy's message."""
        try:
            call()
            return True
        except USER_ERRORS as exc:
            setting_up = where in SETTING_UP
            if setting_up and isinstance(exc, InputError) and not isinstance(exc, LookaheadError):
                raise
            self.strategy_error(slot, where, exc)
            if setting_up:
                slot.enabled = False
                self.subscribers = [
                    [(s, v) for s, v in subs if s is not slot] for subs in self.subscribers
                ]
            return False

    def strategy_error(self, slot: StrategySlot, where: str, exc: BaseException) -> None:
        if isinstance(exc, StopError):  # the engine's state is in doubt: stop, do not count
            raise exc
        slot.errors += 1
        message = f"{slot.strategy.strategy_id}.{where}: {type(exc).__name__}: {_text(exc)}"
        if isinstance(exc, LookaheadError) and not slot.lookahead:
            slot.lookahead = message  # kept apart: one future read must not hide in the count
        if self.risk is not None:
            self.risk.on_error(f"strategy {slot.strategy.strategy_id}", message)
        if slot.errors <= MAX_LOGGED_ERRORS:
            slot.error_messages.append(message)
            where_ = _where(exc)
            log.error("strategy error in %s%s", message, where_)
            log.debug("traceback of %s", message, exc_info=exc)

    # -- the per-bar handler (all modes) --------------------------------------------------
    def _compile(self) -> None:
        """Precompute per-step and per-feed lookups so the per-bar handler stays lean."""
        tl = self.timeline
        # One feed: step == row and the feed is always 0, so no per-step lists are needed.
        self._single = tl.single
        self._step_feed: list[int] = [] if tl.single else tl.step_feed.tolist()
        self._step_row: list[int] = [] if tl.single else tl.step_row.tolist()
        # Execution feeds with their venue and its book of the instrument (fast mode's scan).
        self._order_feeds = [
            (iid, feed, venue, getattr(venue, "book", {}).get(iid))
            for iid, feed in self.exec_feed.items()
            for venue in (self.venues[feed.instrument.venue],)
        ]
        # Per feed: its venue's book (matched while not empty; a venue without one always is),
        # the matcher, the instrument, the subscribed strategies and whether it carries quotes.
        matching = {
            id(feed): (book if book is not None else [None], venue.on_bar, iid)
            for iid, feed, venue, book in self._order_feeds
        }
        self._plan = [
            (*matching.get(id(feed), (None, None, None)), subs, f in self._quote_feeds)
            for f, (feed, subs) in enumerate(zip(tl.feeds, self.subscribers, strict=True))
        ]

    def process_step(self, step: int) -> None:
        """Handle timeline step ``step``: match working orders, then run strategies."""
        self.run_steps(step, step + 1)

    def run_steps(
        self, start: int, stop: int, after_step: Callable[[int], None] | None = None
    ) -> None:
        """Handle steps ``start`` .. ``stop - 1`` in order, each exactly as :meth:`process_step`
        (one loop: the per-step lookups are done once; ``after_step(step)`` follows each)."""
        single, step_feed, step_row = self._single, self._step_feed, self._step_row
        held, on_error = self.emulator.held, self.strategy_error
        hooked = (
            self.rollover is not None
            or self.risk is not None
            or self.orchestrator is not None
            or bool(self.bar_hooks)
        )
        plan = self._plan
        for step in range(start, stop):
            if single:
                f = 0
                row = step
            else:
                f = step_feed[step]
                row = step_row[step]
            if hooked:
                self._before_bar(step)
            self.step = step
            book, match, iid, subs, quotes = plan[f]
            if book:
                match(iid, row)  # type: ignore[misc]
            if held and held.get(iid):  # type: ignore[arg-type]  # local stops see the close
                self.emulator.on_bar(iid, row)  # type: ignore[arg-type]
            if quotes:
                self._dispatch_quote(f, row)
            else:
                for slot, view in subs:
                    view._i = row
                    strategy = slot.strategy
                    strategy.bar = view
                    try:
                        strategy.on_bar(view)
                    except USER_ERRORS as exc:  # the boundary around user strategy code
                        on_error(slot, "on_bar", exc)
            if after_step is not None:
                after_step(step)

    def _before_bar(self, step: int) -> None:
        """Swaps, the risk engine's new day and the orchestrator's decisions, which all act on
        what was known before this step's bar."""
        ts = int(self.timeline.step_ts[step])
        rollover = self.rollover
        if rollover is not None and rollover.next_ns is not None and ts >= rollover.next_ns:
            rollover.apply(ts)
        risk = self.risk
        if risk is not None:  # a new trading day starts before this bar's fills
            boundary = risk.next_boundary
            if boundary is not None and ts >= boundary:
                risk.roll_day(ts)
        orchestrator = self.orchestrator
        if orchestrator is not None and (ts >= self._orch_due or orchestrator.bus):
            self._orchestrate(ts)
        for hook in self.bar_hooks:
            hook(ts)

    def _dispatch_quote(self, f: int, row: int) -> None:
        for slot, view in self.subscribers[f]:
            view._i = row
            try:
                slot.strategy.on_quote(view)
            except USER_ERRORS as exc:  # the boundary around user strategy code
                self.strategy_error(slot, "on_quote", exc)

    def finish(self) -> None:
        for slot in self.slots:
            if slot.enabled:
                self._guard(slot, "on_stop", slot.strategy.on_stop)

    # -- fast mode support ----------------------------------------------------------------
    def fast_mode_allowed(self) -> bool:
        """True when every strategy trades vectorized signals through the default ``on_bar``
        (and no orchestrator acts on the clock between signals)."""
        if self.orchestrator is not None or self.bar_hooks:
            return False
        for slot in self.slots:
            if not slot.enabled:
                continue
            strategy = slot.strategy
            if type(strategy).on_bar is not Strategy.on_bar:
                return False
            if any(f.index not in strategy._signals for f in slot.feeds):
                return False
        return True

    def signal_steps(self) -> np.ndarray:
        """Sorted timeline steps where some strategy has a signal."""
        parts = []
        for slot in self.slots:
            if not slot.enabled:
                continue
            for feed in slot.feeds:
                active = np.frombuffer(slot.strategy._signals[feed.index][0], dtype=np.bool_)
                parts.append(feed.row_to_step[active])
        if not parts:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(parts))

    def next_order_step(self, after_step: int) -> int | None:
        """The first step after ``after_step`` at which a working order may act."""
        best: int | None = None
        held = self.emulator.held
        for iid, feed, venue, book in self._order_feeds:
            if not book and not (held and held.get(iid)):
                continue
            if self._single:
                start = after_step + 1
            else:
                start = int(np.searchsorted(feed.row_to_step, after_step, side="right"))
            row = venue.next_event_row(iid, start)
            emulated = self.emulator.next_event_row(iid, start)
            if emulated is not None and (row is None or emulated < row):
                row = emulated
            if row is not None:
                step = int(feed.row_to_step[row])
                if best is None or step < best:
                    best = step
        return best
