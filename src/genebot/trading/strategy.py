"""The ``Strategy`` base class: the small, friendly API every built-in and user strategy uses.

A strategy declares :class:`Param` attributes, computes causal indicators in ``indicators``,
optionally turns them into vectorized ``signals`` (which lets the engine run it in fast mode),
and reacts in callbacks. The default ``on_bar`` trades the signals: enter on an entry signal when
flat, close on an exit signal. Orders are sized from the strategy's own capital sleeve.

    class Crossover(Strategy):
        fast = Param(10, min=1, opt=(5, 30, 1))
        slow = Param(20, min=2, opt=(10, 100, 5))

        def indicators(self, data):
            return {"fast": talib.SMA(data.close, self.fast),
                    "slow": talib.SMA(data.close, self.slow)}

        def signals(self, data, ind):
            return Signals(crossed_above(ind["fast"], ind["slow"]),
                           crossed_below(ind["fast"], ind["slow"]))
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar, NamedTuple

import numpy as np

from genebot.core.errors import InputError
from genebot.core.precision import to_decimal
from genebot.domain.instrument import Instrument
from genebot.domain.orders import Order
from genebot.execution.engine import Protection
from genebot.trading.context import TradingContext
from genebot.trading.data import F64, BarData, BarView, Signals
from genebot.trading.params import Param, resolve_params
from genebot.trading.sizing import PercentEquity, PositionSizer, SizingContext

ZERO = Decimal(0)
_ORDER_TYPE = {  # (has a limit price, has a trigger price) → order type
    (False, False): "MARKET",
    (True, False): "LIMIT",
    (False, True): "STOP_MARKET",
    (True, True): "STOP_LIMIT",
}


class PositionView(NamedTuple):
    """Read-only view of one of the strategy's positions."""

    symbol: str
    quantity: Decimal  # signed: > 0 long, < 0 short
    avg_price: Decimal
    unrealized_pnl: Decimal

    @property
    def is_long(self) -> bool:
        return self.quantity > 0

    @property
    def is_short(self) -> bool:
        return self.quantity < 0

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0


class CapitalView(NamedTuple):
    """Read-only view of the strategy's capital sleeve, in the account currency."""

    allocated: Decimal
    equity: Decimal
    realized_pnl: Decimal
    fees: Decimal


class Strategy:
    """Base class of every strategy. Subclass it; override what you need."""

    name: ClassVar[str] = ""  # config key, e.g. "moving_average"
    parameters: ClassVar[dict[str, Param]] = {}
    allow_short: ClassVar[bool] = False
    # (symbols, timeframe) of bundled data it suits; symbols comma-separated for several
    default_data: ClassVar[tuple[str, str] | None] = None
    # What that data needs besides symbols and a timeframe, in the config file's layout:
    # "exchanges" and "backtest" are merged over the user's config (paths in backtest.data are
    # relative to backtest.data_dir), "strategy" over the strategy's own entry (e.g. venues).
    # Cross-venue data (one symbol on two venues) cannot be found by symbol alone.
    default_setup: ClassVar[Mapping[str, Any]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            declared.update({k: v for k, v in vars(klass).items() if isinstance(v, Param)})
        cls.parameters = declared

    def __init__(self, params: Mapping[str, Any] | None = None, *, strategy_id: str = "") -> None:
        self.strategy_id = strategy_id or self.name or type(self).__name__
        self.params = resolve_params(self.parameters, params, f"strategy {self.strategy_id}")
        self.validate_parameters()
        self.sizer: PositionSizer = PercentEquity(Decimal("0.1"))
        self.protection = Protection()
        self.log = logging.getLogger(f"genebot.strategy.{self.strategy_id}")
        self._ctx: TradingContext | None = None
        self._instruments: dict[str, Instrument] = {}
        self._by_symbol: dict[str, Instrument] = {}  # symbols traded on one venue only
        self._signals: dict[int, tuple[bytes, Signals]] = {}  # feed → (active rows, signals)
        self.bar: BarView | None = None
        self.sizing_atr_period = 14  # ATR bars for atr sizing / ATR trailing
        self.trailing_atr_multiple: float | None = None
        self._equity_peak: Decimal | None = None

    # -- to override ----------------------------------------------------------------------
    def validate_parameters(self) -> None:
        """Check relations between parameters; raise ParameterError with a clear message."""

    def indicators(self, data: BarData) -> Mapping[str, F64]:
        """Vectorized, causal indicators for one feed (value i may use bars <= i only)."""
        return {}

    def signals(self, data: BarData, ind: Mapping[str, F64]) -> Signals | None:
        """Vectorized entries/exits for one feed, or None for a callback-only strategy."""
        return None

    def on_start(self) -> None:
        """Called once before the first bar."""

    def on_bar(self, bar: BarView) -> None:
        """Called for every bar of every subscribed feed. Default: trade the signals."""
        entry = self._signals.get(bar.feed_index)
        if entry is None or not entry[0][bar._i]:  # (the engine's own read: no property)
            return
        self._trade_signals(bar, entry[1])

    def on_quote(self, quote: Any) -> None:
        """Called for every quote (where quote data exists)."""

    def on_fill(self, order: Order, fill: Any) -> None:
        """Called after each fill of one of this strategy's orders."""

    def on_stop(self) -> None:
        """Called once after the last bar."""

    # -- helpers --------------------------------------------------------------------------
    def _trade_signals(self, bar: BarView, sig: Signals) -> None:
        i, inst = bar._i, bar.instrument
        qty = self._position_qty(inst)
        long_exit = sig.exits[i]
        short_exit = sig.short_exits is not None and sig.short_exits[i]
        if (long_exit or short_exit) and self.ctx.has_working_entry(self.strategy_id, inst.id):
            sides = ("BUY",) * bool(long_exit) + ("SELL",) * bool(short_exit)
            self._cancel_entries(inst, sides)
        if (qty > 0 and long_exit) or (qty < 0 and short_exit):
            self._close(inst, qty, "signal")
            qty = ZERO
        if qty == 0 and not self.ctx.has_working_entry(self.strategy_id, inst.id):
            if sig.entries[i]:
                self.buy(bar.symbol)
            elif self.allow_short and sig.short_entries is not None and sig.short_entries[i]:
                self.sell(bar.symbol)

    @property
    def ctx(self) -> TradingContext:
        if self._ctx is None:
            raise InputError(f"strategy {self.strategy_id} is not attached to an engine yet")
        return self._ctx

    def bind(self, ctx: TradingContext, instruments: dict[str, Instrument]) -> None:
        """Attach to an engine (done by the kernel)."""
        self._ctx = ctx
        self._instruments = instruments
        symbols = [i.symbol for i in instruments.values()]
        self._by_symbol = {
            i.symbol: i for i in instruments.values() if symbols.count(i.symbol) == 1
        }

    def set_signals(self, feed_index: int, sig: Signals) -> None:
        """Register a feed's vectorized signals (done by the kernel)."""
        active = np.asarray(sig.entries, dtype=bool) | np.asarray(sig.exits, dtype=bool)
        for extra in (sig.short_entries, sig.short_exits):
            if extra is not None and self.allow_short:
                active |= np.asarray(extra, dtype=bool)
        self._signals[feed_index] = (active.tobytes(), sig)  # a byte a bar: 1 where active

    def instrument(self, symbol: str | None = None) -> Instrument:
        if symbol is None:
            if self.bar is not None:
                return self.bar.instrument
            if len(self._instruments) == 1:
                return next(iter(self._instruments.values()))
            raise InputError(f"strategy {self.strategy_id}: name the symbol")
        found = self._instruments.get(symbol) or self._by_symbol.get(symbol)
        if found is not None:
            return found
        matches = [i for i in self._instruments.values() if i.symbol == symbol]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise InputError(
                f"strategy {self.strategy_id}: {symbol} trades on several venues; name one of "
                f"{', '.join(i.id for i in matches)}"
            )
        try:
            return self._instruments[symbol]
        except KeyError:
            raise InputError(
                f"strategy {self.strategy_id} does not trade {symbol}; it has "
                f"{', '.join(self._instruments)}"
            ) from None

    def position(self, symbol: str | None = None) -> PositionView:
        """The strategy's position in ``symbol`` (read-only). On a spot account a pair quoted in
        neither currency of the account (ETH/BTC in a USDT account) shows the holding of its
        base currency (ETH, however it was bought), priced in the account currency."""
        inst = self.instrument(symbol)
        pos = self.ctx.position(self.strategy_id, inst.id)
        mark = self.ctx.mark(self.ctx.portfolio.booked_as(inst.id))
        unreal = pos.unrealized_pnl(to_decimal(mark)) if mark is not None else ZERO
        return PositionView(inst.symbol, pos.quantity, pos.avg_px, unreal)

    def _position_qty(self, inst: Instrument) -> Decimal:
        return self.ctx.position(self.strategy_id, inst.id).quantity

    @property
    def capital(self) -> CapitalView:
        sleeve = self.ctx.sleeve(self.strategy_id)
        return CapitalView(
            sleeve.allocated, sleeve.equity(self.ctx.mark), sleeve.realized_pnl, sleeve.fees
        )

    def buy(
        self, symbol: str | None = None, quantity: float | Decimal | None = None, **kwargs: Any
    ) -> Order | None:
        """Buy (market unless ``limit``/``stop`` given). Size from the sleeve if no quantity."""
        return self._entry("BUY", symbol, quantity, **kwargs)

    def sell(
        self, symbol: str | None = None, quantity: float | Decimal | None = None, **kwargs: Any
    ) -> Order | None:
        """Sell (to open a short on margin venues, or to reduce a long)."""
        return self._entry("SELL", symbol, quantity, **kwargs)

    def close(self, symbol: str | None = None, *, tag: str = "close") -> Order | None:
        """Close the whole position in ``symbol`` with a reduce-only market order."""
        inst = self.instrument(symbol)
        return self._close(inst, self._position_qty(inst), tag)

    def _close(self, inst: Instrument, qty: Decimal, tag: str) -> Order | None:
        """Close a position of ``qty`` (signed) in ``inst`` with a reduce-only market order."""
        if qty == 0:
            return None
        side = "SELL" if qty > 0 else "BUY"
        return self.ctx.submit(
            self.strategy_id,
            inst,
            side,
            qty if qty > 0 else -qty,
            "MARKET",
            price=None,
            trigger_price=None,
            time_in_force="GTC",
            reduce_only=True,
            tag=tag,
            protection=None,
        )

    def cancel(self, order: Order) -> None:
        self.ctx.cancel(order, "canceled by strategy")

    def _cancel_entries(self, inst: Instrument, sides: tuple[str, ...]) -> None:
        """An exit signal also stops an entry still working on that side (one filling in
        parts, or not yet live): the position would otherwise grow again after the exit."""
        for order in self.ctx.working_entries(self.strategy_id, inst.id):
            if order.side in sides:
                self.ctx.cancel(order, "exit signal")

    def _entry(
        self,
        side: str,
        symbol: str | None,
        quantity: float | Decimal | None,
        *,
        limit: float | None = None,
        stop: float | None = None,
        tif: str = "GTC",
        stop_loss: float | None = None,
        take_profit: float | None = None,
        trailing: float | None = None,
        tag: str = "signal",
        signal_price: float | None = None,
    ) -> Order | None:
        inst = self.instrument(symbol)
        buy = side == "BUY"
        price = inst.round_limit(_amount("limit", limit), buy) if limit is not None else None
        trigger = inst.round_price(_amount("stop", stop)) if stop is not None else None
        if stop_loss is None and take_profit is None and trailing is None:
            protection = self.protection
        else:
            protection = self._protection(stop_loss, take_profit, trailing)
        if self.trailing_atr_multiple is not None and protection.trailing is not None:
            protection = self._atr_trailing(inst, price or trigger, protection)
        if quantity is None:
            ref = price or trigger or to_decimal(self.ctx.mark(inst.id) or 0)
            if self.sizer.needs_equity:
                qty, protection = self._risk_size(inst, ref, protection)
            else:
                qty = self.sizer.quantity(inst, ref, ZERO)
        else:
            qty = inst.round_quantity(_amount("quantity", quantity))
            if qty <= 0:
                raise ValueError(f"quantity={quantity} is under one lot of {inst.lot_size:f}")
        if qty <= 0:
            self.log.debug("%s %s sized to zero; no order", side, inst.symbol)
            return None
        order_type = _ORDER_TYPE[(price is not None, trigger is not None)]
        return self.ctx.submit(
            self.strategy_id,
            inst,
            side,
            qty,
            order_type,
            price=price,
            trigger_price=trigger,
            time_in_force=tif,
            reduce_only=False,
            tag=tag,
            protection=protection or None,
            signal_price=_amount("signal_price", signal_price)
            if signal_price is not None
            else None,
        )

    def _atr_trailing(
        self, inst: Instrument, price: Decimal | None, protection: Protection
    ) -> Protection:
        """Trail by k × ATR: the distance is fixed at entry as a fraction of the price."""
        atr = self.ctx.atr(inst.id, self.sizing_atr_period)
        ref = price or to_decimal(self.ctx.mark(inst.id) or 0)
        if atr is None or ref <= 0:
            return protection
        fraction = to_decimal(atr) * to_decimal(self.trailing_atr_multiple) / ref
        return replace(protection, trailing=min(fraction, Decimal("0.99")))

    def _risk_size(
        self, inst: Instrument, ref: Decimal, protection: Protection
    ) -> tuple[Decimal, Protection]:
        """Size from the sleeve with the stop the entry will carry; an ATR sizer also decides
        where that stop goes (k × ATR), and the protective stop follows it."""
        equity = self.capital.equity
        stop_pct = protection.stop_loss or protection.trailing
        atr = (
            self.ctx.atr(inst.id, self.sizing_atr_period)
            if hasattr(self.sizer, "atr_multiple")
            else None
        )
        trades = [t for t in self.ctx.portfolio.trades if t.strategy_id == self.strategy_id]
        self._equity_peak = max(self._equity_peak or equity, equity)
        sizing = SizingContext(
            inst,
            ref,
            equity,
            ref * stop_pct if stop_pct else None,
            to_decimal(atr) if atr is not None else None,
            self.ctx.now_ns,
            trades,
            self._equity_peak,
        )
        qty = self.sizer.size(sizing)
        rule = getattr(self.sizer, "stop_distance", None)
        distance = rule(sizing) if callable(rule) and atr is not None else None
        if distance and ref > 0 and not protection.trailing:
            protection = replace(protection, stop_loss=distance / ref)
        return qty, protection

    def _protection(self, sl: float | None, tp: float | None, tr: float | None) -> Protection:
        base = self.protection
        return Protection(
            _fraction("stop_loss", sl, below_one=True) if sl is not None else base.stop_loss,
            _fraction("take_profit", tp) if tp is not None else base.take_profit,
            _fraction("trailing", tr, below_one=True) if tr is not None else base.trailing,
        )


def _amount(name: str, value: object) -> Decimal:
    """A price or quantity a strategy passed: a finite number > 0 (numpy scalars too)."""
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"{name}={value!r} must be a number, not true/false")
    try:
        number = to_decimal(value)  # type: ignore[arg-type]
    except (ArithmeticError, TypeError, ValueError):
        raise ValueError(f"{name}={value!r} must be a number") from None
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{name}={value!r} must be a finite number > 0")
    return number


def _fraction(name: str, value: object, *, below_one: bool = False) -> Decimal:
    """A stop-loss, take-profit or trailing distance: a fraction of the entry price > 0 (and
    < 1 for distances below it: 0.02 is 2 %)."""
    number = _amount(name, value)
    if below_one and number >= 1:
        raise ValueError(f"{name}={value!r} must be a fraction between 0 and 1 (0.02 = 2 %)")
    return number
