"""The execution engine: the one path every order takes from a strategy to a venue and back.

It owns the order cache, applies venue events through each order's transition table, books fills
in the portfolio, attaches protective orders (stop-loss, take-profit, trailing stop) once an entry
fills, keeps them one-cancels-other, and tells the owning strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from genebot.core.errors import UnknownOrderError
from genebot.core.ids import IdGenerator
from genebot.core.precision import to_decimal
from genebot.domain.events import (
    OrderCanceled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderInitialized,
    OrderRejected,
    OrderReleased,
    OrderSubmitted,
)
from genebot.domain.instrument import Instrument
from genebot.domain.orders import TERMINAL, Order, OrderStatus
from genebot.domain.position import ClosedTrade
from genebot.execution.emulator import StopEmulator
from genebot.execution.ports import ExecutionClient
from genebot.execution.protective import CROSSED, Protector
from genebot.portfolio.portfolio import Portfolio
from genebot.risk.types import OrderIntent, Verdict

ZERO = Decimal(0)
_TIME_IN_FORCE = frozenset({"GTC", "IOC"})
_ENDED = frozenset({OrderCanceled, OrderExpired, OrderRejected})
_LATE_KEPT = 1_000  # canceled entries whose protection a late fill would still get
FillListener = Callable[[Order, OrderFilled, list[ClosedTrade]], None]


@dataclass(frozen=True, slots=True)
class Protection:
    """Protective exits to attach to an entry once it fills (fractions of the fill price)."""

    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    trailing: Decimal | None = None
    break_even: Decimal | None = None  # move the stop to the entry after this favourable move
    time_exit_bars: int | None = None  # close after this many bars of the instrument

    def __bool__(self) -> bool:
        return (
            self.stop_loss is not None
            or self.take_profit is not None
            or self.trailing is not None
            or self.time_exit_bars is not None
        )


class ExecutionEngine:
    """Routes orders, applies their events, and manages contingent orders."""

    def __init__(self, portfolio: Portfolio, instruments: dict[str, Instrument]) -> None:
        self.portfolio = portfolio
        self.instruments = instruments
        self.clients: dict[str, ExecutionClient] = {}
        self.orders: dict[str, Order] = {}  # working (not terminal) orders
        self.index: dict[str, Order] = {}  # every order by client id, terminal ones too
        self.order_log: list[Order] = []
        self.clock: Callable[[], int] = lambda: 0
        self.risk_gate: Callable[[OrderIntent], Verdict | None] | None = None
        self._ids = IdGenerator("O")
        self._protect: dict[str, Protection] = {}
        # Protection of entries that ended canceled or expired with quantity left: a late fill
        # (the venue filled before it canceled) gets its own protective orders.
        self._late_protect: dict[str, Protection] = {}
        self.protector = Protector(self)
        self._fill_listeners: dict[str, FillListener] = {}
        self._observers: list[Callable[[OrderEvent], None]] = []
        self.on_fill_hook: Callable[[Instrument, OrderFilled], None] | None = None
        self.spot_venues: set[str] = set()
        self.decision_px: dict[str, Decimal] = {}
        self.bar_ns: dict[str, int] = {}  # bar length per instrument (time exits)
        self.emulator: StopEmulator | None = None
        self.emulated_venues: set[str] = set()
        self.current_row: Callable[[str], int] = lambda iid: -1

    @property
    def now_ns(self) -> int:
        """The engine's current time (the decision time of the bar being handled)."""
        return self.clock()

    @now_ns.setter
    def now_ns(self, value: int) -> None:
        self.clock = lambda: value

    def register_client(self, client: ExecutionClient) -> None:
        self.clients[client.venue] = client
        client.set_reporter(self.on_event)

    def listen(self, strategy_id: str, listener: FillListener) -> None:
        self._fill_listeners[strategy_id] = listener

    def observe(self, observer: Callable[[OrderEvent], None]) -> None:
        """Every order event also goes to ``observer`` (journal, monitoring, API stream)."""
        self._observers.append(observer)

    # -- commands -------------------------------------------------------------------------
    def create(
        self,
        strategy_id: str,
        instrument: Instrument,
        side: str,
        quantity: Decimal,
        order_type: str = "MARKET",
        *,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        time_in_force: str = "GTC",
        reduce_only: bool = False,
        tag: str = "signal",
        parent_id: str | None = None,
        trailing_offset: Decimal | None = None,
        protection: Protection | None = None,
        signal_price: Decimal | None = None,
        send: bool = True,
    ) -> Order:
        """Create, check and send one order. A refused order comes back DENIED with a reason;
        the risk gate may also resize it or turn a market order into a protective limit.
        ``send=False``: journaled as submitted, sent by the caller (an OCO's legs)."""
        now = self.clock()
        denial = None if reduce_only else self._venue_refusal(instrument)
        decision: Decimal | None = None
        if denial is None and self.risk_gate is not None and not reduce_only:
            ref = price or trigger_price or to_decimal(self.portfolio.mark(instrument.id) or 0)
            decision = signal_price or ref
            verdict = self._ask_risk(
                strategy_id,
                instrument,
                side,
                quantity,
                order_type,
                ref,
                tag,
                protection,
                signal_price,
            )
            if verdict is not None:
                if verdict.action == "deny":
                    denial = f"{verdict.rule}: {verdict.detail}"
                else:
                    quantity = verdict.quantity
                    if verdict.as_limit is not None:
                        order_type, price = "LIMIT", verdict.as_limit
        init = OrderInitialized(
            self._ids.next(),
            strategy_id,
            instrument.id,
            side,
            order_type,
            quantity,
            price,
            trigger_price,
            time_in_force,
            reduce_only,
            tag,
            parent_id,
            trailing_offset,
            now,
            now,
        )
        order = Order(init)
        if decision and order_type == "MARKET":  # what the strategy decided at (slippage)
            self.decision_px[order.client_order_id] = decision
        self.orders[order.client_order_id] = order
        self.index[order.client_order_id] = order
        self.order_log.append(order)
        if self._observers:
            self._emit(init)
        reason = denial or self._basic_problem(order, instrument)
        if reason:
            self._apply(order, OrderDenied(order.client_order_id, reason, now, now))
            return order
        if protection:
            self._protect[order.client_order_id] = protection
        self._apply(order, OrderSubmitted(order.client_order_id, now, now))
        if send:
            self._send(order, self.clients[instrument.venue])
        return order

    def _venue_refusal(self, instrument: Instrument) -> str | None:
        """Why the venue takes no new entry in ``instrument`` now (its market is closed), if
        its client says so (``entry_refusal``, optional): denied before risk is asked."""
        refusal = getattr(self.clients.get(instrument.venue), "entry_refusal", None)
        return None if refusal is None else refusal(instrument.id)

    def _send(self, order: Order, client: ExecutionClient) -> None:
        if order.reduce_only and order.parent_id is None and getattr(client, "locks_exits", False):
            self.protector.free_for_exit(order)  # the resting exits hold the coins it sells
        client.submit(order)

    def _ask_risk(
        self,
        strategy_id: str,
        instrument: Instrument,
        side: str,
        quantity: Decimal,
        order_type: str,
        ref: Decimal,
        tag: str,
        protection: Protection | None,
        signal_price: Decimal | None,
    ) -> Verdict | None:
        """The risk gate's verdict on an intended entry (with the stop it will carry)."""
        assert self.risk_gate is not None
        stop = None
        if protection is not None and protection.stop_loss is not None:
            sign = 1 if side == "BUY" else -1
            stop = ref * (1 - sign * protection.stop_loss)
        return self.risk_gate(
            OrderIntent(
                strategy_id,
                instrument,
                side,
                quantity,
                order_type,
                ref,
                False,
                tag,
                stop_price=stop,
                signal_price=signal_price,
            )
        )

    def _basic_problem(self, order: Order, instrument: Instrument) -> str | None:
        """Hard rules no configuration turns off."""
        if order.time_in_force not in _TIME_IN_FORCE:
            return f"time in force {order.time_in_force!r} is not supported; use GTC or IOC"
        if order.quantity <= 0:
            return f"quantity {order.quantity} must be positive"
        if not order.reduce_only and instrument.round_quantity(order.quantity) != order.quantity:
            return (  # (an exit may carry a remainder under a lot: it closes what is held)
                f"quantity {order.quantity} is not a whole number of lots of "
                f"{instrument.lot_size:f} {instrument.base}; round it down to "
                f"{instrument.round_quantity(order.quantity)}"
            )
        if instrument.venue in self.spot_venues and not order.is_buy:
            # On a spot account a strategy can only sell what it holds itself: never another
            # strategy's coins, and never short. A coin counts whichever pair bought it (ETH
            # bought through ETH/BTC may be sold through ETH/USDT: triangular arbitrage).
            held = self.held_base(order.strategy_id, instrument)
            selling = self._selling(order, instrument)
            if order.quantity > held - selling and order.parent_id is None:
                return (
                    f"spot account: strategy {order.strategy_id} holds {held} "
                    f"{instrument.base} ({selling} already being sold); cannot sell "
                    f"{order.quantity} (no shorting on spot)"
                )
        return None

    def _selling(self, order: Order, instrument: Instrument) -> Decimal:
        """What the strategy's other working sells already sell of ``instrument``'s base on
        its venue (protective children excluded: they sell the units of their entry)."""
        total = ZERO
        for o in self.orders.values():
            if o is order or o.is_buy or o.parent_id is not None or not o.is_open:
                continue
            other = self.instruments[o.instrument_id]
            if (
                o.strategy_id == order.strategy_id
                and other.base == instrument.base
                and other.venue == instrument.venue
            ):
                total += o.leaves_qty
        return total

    def held_base(self, strategy_id: str, instrument: Instrument) -> Decimal:
        """The strategy's holding of ``instrument``'s base currency on its venue, over every
        pair: bought as a base (+quantity), or received as a quote (proceeds of sales, realized
        PnL, less the cost of purchases and the fees paid in it)."""
        sleeve = self.portfolio.sleeves.get(strategy_id)
        if sleeve is None:
            return ZERO
        currency, venue = instrument.base, instrument.venue
        held = ZERO
        for iid, pos in sleeve.positions.items():
            inst = self.instruments[iid]
            if inst.venue != venue:
                continue
            if inst.base == currency:
                held += pos.quantity
            elif inst.quote == currency:
                held += pos.realized_pnl - pos.cost - pos.fees
        return held

    def cancel(self, order: Order, reason: str = "canceled") -> None:
        if order.status is OrderStatus.EMULATED and self.emulator is not None:
            self.emulator.cancel(order, reason)
        elif order.is_open:
            self.clients[self.instruments[order.instrument_id].venue].cancel(order, reason)

    def cancel_children(self, strategy_id: str, instrument_id: str, reason: str) -> None:
        """Cancel working protective orders of a position (it was closed another way)."""
        for order in list(self.orders.values()):
            if (
                order.parent_id is not None
                and order.strategy_id == strategy_id
                and order.instrument_id == instrument_id
                and order.is_open
            ):
                self.cancel(order, reason)

    def working_entries(self, strategy_id: str, instrument_id: str) -> Iterator[Order]:
        """The strategy's entry orders (not exits or protective children) working in
        ``instrument_id``."""
        for o in self.orders.values():  # only orders not yet terminal are kept here
            if (
                o.strategy_id == strategy_id
                and o.instrument_id == instrument_id
                and o.parent_id is None
                and not o.reduce_only
                and o.is_open
            ):
                yield o

    def has_working_entry(self, strategy_id: str, instrument_id: str) -> bool:
        return next(self.working_entries(strategy_id, instrument_id), None) is not None

    def open_orders(self, strategy_id: str | None = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.is_open and (strategy_id is None or o.strategy_id == strategy_id)
        ]

    # -- events ---------------------------------------------------------------------------
    def on_event(self, event: OrderEvent) -> None:
        order = self.orders.get(event.client_order_id)
        if order is None:  # an event after the order ended (a late fill), or a stranger's
            order = self._known(event)
        late = order.status in TERMINAL
        self._apply(order, event)
        kind = type(event)
        if kind is OrderFilled:
            if late:
                self._on_late_fill(order, event)  # type: ignore[arg-type]
            else:
                self._on_fill(order, event)  # type: ignore[arg-type]
        elif kind in _ENDED:
            protection = self._protect.get(order.client_order_id)
            if protection and order.filled_qty > 0:  # protect what did fill
                self._protect.pop(order.client_order_id)
                self._attach(order, protection, self.instruments[order.instrument_id])
            if protection and order.leaves_qty > 0 and kind is not OrderRejected:
                self._late_protect[order.client_order_id] = protection
                if len(self._late_protect) > _LATE_KEPT:  # late fills come soon or never
                    del self._late_protect[next(iter(self._late_protect))]
            if kind is OrderRejected and event.reason.startswith(CROSSED):  # type: ignore[union-attr]
                self.protector.crossed(order)
            self._forget(order)
        if not order.is_open and self.protector.is_suspending(order.client_order_id):
            self.protector.exit_ended(order)

    def _known(self, event: OrderEvent) -> Order:
        order = self.index.get(event.client_order_id)
        if order is None:
            raise UnknownOrderError(
                f"{type(event).__name__} for order {event.client_order_id}, which genebot has "
                "no record of: reconcile the account with the venue before trading on"
            )
        return order

    def _on_late_fill(self, order: Order, fill: OrderFilled) -> None:
        """A fill the venue made before it canceled or expired the order: the position is
        real, so it is booked, and an entry's late quantity gets its own protective orders."""
        instrument = self.instruments[order.instrument_id]
        closed = self.portfolio.on_fill(order.strategy_id, fill, order.tag)
        if self.on_fill_hook is not None:
            self.on_fill_hook(instrument, fill)
        protection = self._late_protect.get(order.client_order_id)
        if order.status is OrderStatus.FILLED:
            self._late_protect.pop(order.client_order_id, None)
        if self.portfolio.position(order.strategy_id, order.instrument_id).is_flat:
            self.cancel_children(order.strategy_id, order.instrument_id, "position closed")
        elif protection is not None:
            self._attach(order, protection, instrument, qty=fill.last_qty, px=fill.last_px)
        listener = self._fill_listeners.get(order.strategy_id)
        if listener is not None:
            listener(order, fill, closed)

    def _apply(self, order: Order, event: OrderEvent) -> None:
        """Journal first, then move the order (then, for a submit, the caller sends it): a
        failed write leaves the order as it was and nothing reaches the venue."""
        if self._observers:
            order.check(event)  # an illegal move is never journaled
            self._emit(event)
        order.apply(event)
        if order.status in TERMINAL:
            self.orders.pop(order.client_order_id, None)

    def _emit(self, event: OrderEvent) -> None:
        for observer in self._observers:
            observer(event)

    def _on_fill(self, order: Order, fill: OrderFilled) -> None:
        instrument = self.instruments[order.instrument_id]
        closed = self.portfolio.on_fill(order.strategy_id, fill, order.tag)
        if self.on_fill_hook is not None:
            self.on_fill_hook(instrument, fill)
        if order.parent_id is not None:
            self._cancel_siblings(order)
        position = self.portfolio.position(order.strategy_id, order.instrument_id)
        if position.is_flat:  # whoever closed it, no protective order outlives the position
            self.cancel_children(order.strategy_id, order.instrument_id, "position closed")
        protection = self._protect.get(order.client_order_id)
        if protection and not order.is_open:
            self._protect.pop(order.client_order_id)
            self._attach(order, protection, instrument)
        listener = self._fill_listeners.get(order.strategy_id)
        if listener is not None:
            listener(order, fill, closed)

    def _attach(
        self,
        entry: Order,
        protect: Protection,
        instrument: Instrument,
        *,
        qty: Decimal | None = None,
        px: Decimal | None = None,
    ) -> None:
        """Protective exits for a filled entry, one-cancels-other: for what it filled at its
        average price, or for ``qty`` at ``px`` (a late fill)."""
        qty = entry.filled_qty if qty is None else qty
        self.protector.attach(entry, protect, instrument, qty, entry.avg_px if px is None else px)

    def hold_protective(
        self,
        strategy_id: str,
        instrument: Instrument,
        side: str,
        qty: Decimal,
        order_type: str,
        tag: str,
        parent_id: str,
        fields: dict[str, object],
    ) -> Order:
        """A reduce-only protective order for ``parent_id``'s position, held by the local
        emulator (also how a restart re-places the stopped runner's stops and targets)."""
        now = self.now_ns
        init = OrderInitialized(
            self._ids.next(),
            strategy_id,
            instrument.id,
            side,
            order_type,
            qty,
            fields.get("price"),  # type: ignore[arg-type]
            fields.get("trigger_price"),  # type: ignore[arg-type]
            "GTC",
            True,
            tag,
            parent_id,
            fields.get("trailing_offset"),  # type: ignore[arg-type]
            now,
            now,
        )
        order = Order(init)
        self.orders[order.client_order_id] = order
        self.index[order.client_order_id] = order
        self.order_log.append(order)
        self._emit(init)
        assert self.emulator is not None
        self.emulator.hold(order, self.current_row(instrument.id))
        return order

    def link_oco(self, orders: Sequence[Order]) -> None:
        """The first of ``orders`` to fill cancels the others (a position's stop and target)."""
        self.protector.link(orders)

    def apply_event(self, order: Order, event: OrderEvent) -> None:
        """Apply an event produced inside the engine (the emulator) like a venue's."""
        self._apply(order, event)
        if type(event) in _ENDED or type(event) is OrderReleased:
            self._forget(order)

    def next_order_id(self) -> str:
        return self._ids.peek()

    def continue_ids(self, used: Iterable[str]) -> None:
        """Number new orders after the ``used`` ids (a resumed deployment's journal), so a
        restart never reuses a client order id."""
        self._ids.continue_after(used)

    def cancel_siblings_of(self, order: Order, reason: str) -> None:
        self.protector.cancel_siblings(order, reason)

    def _cancel_siblings(self, order: Order) -> None:
        if not order.is_open:
            self.protector.cancel_siblings(order, "one-cancels-other")

    def _forget(self, order: Order) -> None:
        self._protect.pop(order.client_order_id, None)
        self.protector.oco.pop(order.client_order_id, None)
