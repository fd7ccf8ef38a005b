"""Protective exits of a filled entry (stop-loss, take-profit, trailing stop, time exit) and
where they rest.

* **Native**: on the venue, when its client holds every order type the entry needs. A stop and
  a target go out as **one OCO** where the client offers one (``submit_oco``): a spot exchange
  locks the coins a sell order sells, so two separate exits of the same coins could not both
  rest. The exchange then keeps protecting the position while genebot is down.
* **Emulated**: held by the local price monitor (:class:`~genebot.execution.emulator.StopEmulator`)
  and released as a market order on trigger: venues configured ``native_stops: false``, and
  entries whose exits the venue cannot hold (a trailing stop or break-even on an exchange
  client): all of an entry's exits rest in one place.

Either way they are one-cancels-other. On a venue whose resting exits lock the coins
(``locks_exits``), a strategy's own exit first cancels its position's exits (they are noted)
and, if the exit leaves a position (a partial exit, or the exit failed), re-places them for
what is left. An exit refused because the price already crossed its trigger (:data:`CROSSED`)
closes the position at market at once: the level it guarded is gone.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

from genebot.domain.instrument import Instrument
from genebot.domain.orders import Order, OrderStatus

if TYPE_CHECKING:
    from genebot.execution.engine import ExecutionEngine, Protection

CROSSED = "trigger already crossed"  # a venue refusal that means: exit now
_PAIR = frozenset({"STOP_MARKET", "LIMIT"})


class ExitSpec(NamedTuple):
    """One protective order to place: its type, tag and price fields."""

    order_type: str
    tag: str
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trailing_offset: Decimal | None = None
    parent_id: str | None = None  # when not the position's entry (a restart's carried exits)

    def fields(self) -> dict[str, object]:
        return {
            "price": self.price,
            "trigger_price": self.trigger_price,
            "trailing_offset": self.trailing_offset,
        }


class Protector:
    """Places, links and re-places the protective exits of the engine's positions."""

    def __init__(self, engine: ExecutionEngine) -> None:
        self.engine = engine
        self.oco: dict[str, list[str]] = {}
        self._suspended: dict[str, tuple[list[ExitSpec], str]] = {}  # exit id -> exits, parent

    # -- placing --------------------------------------------------------------------------
    def attach(
        self, entry: Order, protect: Protection, instrument: Instrument, qty: Decimal, px: Decimal
    ) -> None:
        """The exits of ``qty`` of ``entry`` filled at ``px`` (long or short)."""
        engine = self.engine
        exit_side = "SELL" if entry.is_buy else "BUY"
        sign = Decimal(1) if entry.is_buy else Decimal(-1)
        at = instrument.round_price
        specs: list[ExitSpec] = []
        if protect.stop_loss is not None:
            specs.append(
                ExitSpec("STOP_MARKET", "stop_loss", None, at(px * (1 - sign * protect.stop_loss)))
            )
        if protect.take_profit is not None:
            specs.append(
                ExitSpec("LIMIT", "take_profit", at(px * (1 + sign * protect.take_profit)))
            )
        if protect.trailing is not None:
            stop = at(px * (1 - sign * protect.trailing))
            specs.append(
                ExitSpec("TRAILING_STOP_MARKET", "trailing_stop", px, stop, protect.trailing)
            )
        client = engine.clients[instrument.venue]
        native = self.native(instrument, specs)
        native = native and (protect.break_even is None or hasattr(client, "set_break_even"))
        children = self.place(
            entry.strategy_id,
            instrument,
            exit_side,
            qty,
            specs,
            entry.client_order_id,
            native=native,
        )
        if protect.break_even is not None and protect.stop_loss is not None and native:
            assert hasattr(client, "set_break_even")  # (checked above)
            level, flat = at(px * (1 + sign * protect.break_even)), at(px)
            client.set_break_even(children[0], level, flat)
        bar_ns = engine.bar_ns.get(instrument.id)
        if protect.time_exit_bars is not None and bar_ns and hasattr(client, "hold_until"):
            # Entry filled at a bar's open: exit at the open N bars later.
            client.hold_until(
                engine.next_order_id(), entry.ts_last + protect.time_exit_bars * bar_ns
            )
            children.append(engine.create(
                entry.strategy_id, instrument, exit_side, qty, "MARKET", tag="time_exit",
                reduce_only=True, parent_id=entry.client_order_id,
            ))  # fmt: skip
        self.link(children)

    def native(self, instrument: Instrument, specs: Sequence[ExitSpec]) -> bool:
        """Whether these exits rest on the venue (else the local emulator holds them)."""
        engine = self.engine
        if engine.emulator is None:
            return True
        if instrument.venue in engine.emulated_venues:
            return False
        client = engine.clients[instrument.venue]
        held = getattr(client, "native_types", None)
        if held is None:  # the simulated exchange holds every kind
            return True
        return {s.order_type for s in specs} <= frozenset(held)

    def place(
        self,
        strategy_id: str,
        instrument: Instrument,
        side: str,
        qty: Decimal,
        specs: Sequence[ExitSpec],
        parent_id: str,
        *,
        native: bool | None = None,
    ) -> list[Order]:
        """Reduce-only exits of ``parent_id``'s position, native or emulated (see the module
        doc); also how a restart re-places the stopped runner's stops and targets."""
        engine = self.engine
        if native is None:
            native = self.native(instrument, specs)
        if not native:
            hold = engine.hold_protective
            return [
                hold(strategy_id, instrument, side, qty, s.order_type, s.tag,
                     s.parent_id or parent_id, s.fields())
                for s in specs
            ]  # fmt: skip
        client = engine.clients[instrument.venue]
        pair = getattr(client, "submit_oco", None)
        group = pair is not None and len(specs) == 2 and {s.order_type for s in specs} == _PAIR
        orders = [
            engine.create(
                strategy_id, instrument, side, qty, s.order_type, tag=s.tag, reduce_only=True,
                parent_id=s.parent_id or parent_id, send=not group,
                **s.fields(),  # type: ignore[arg-type]
            )
            for s in specs
        ]  # fmt: skip
        if group:
            ready = [o for o in orders if o.status is OrderStatus.SUBMITTED]
            if len(ready) == 2:
                pair(ready)  # type: ignore[misc]
            elif ready:
                client.submit(ready[0])
        return orders

    # -- one-cancels-other ----------------------------------------------------------------
    def link(self, orders: Sequence[Order]) -> None:
        """The first of ``orders`` to fill cancels the others (a position's stop and target)."""
        ids = [o.client_order_id for o in orders if o.is_open]
        for cid in ids:
            self.oco[cid] = [other for other in ids if other != cid]

    def cancel_siblings(self, order: Order, reason: str) -> None:
        for sibling_id in self.oco.pop(order.client_order_id, []):
            sibling = self.engine.orders.get(sibling_id)
            if sibling is not None and sibling.is_open:
                self.engine.cancel(sibling, reason)
            self.oco.pop(sibling_id, None)

    # -- a strategy's own exit on a venue whose exits lock the coins ----------------------
    def free_for_exit(self, exit_order: Order) -> None:
        """Cancel the position's resting exits so ``exit_order`` can sell the coins, noting
        them to re-place for whatever the exit leaves."""
        engine = self.engine
        children = [
            o for o in engine.orders.values()
            if o.parent_id is not None and o.is_open and o.order_type != "MARKET"
            and o.strategy_id == exit_order.strategy_id
            and o.instrument_id == exit_order.instrument_id
        ]  # fmt: skip
        if not children:
            return
        specs = [
            ExitSpec(o.order_type, o.tag, o.price, o.trigger_price, o.trailing_offset)
            for o in children
        ]
        self._suspended[exit_order.client_order_id] = (specs, children[0].parent_id or "")
        for child in children:
            engine.cancel(child, f"replaced by exit {exit_order.client_order_id}")

    def exit_ended(self, exit_order: Order) -> None:
        """The exit is done (filled, refused or canceled): re-place the exits it canceled for
        what the position still holds."""
        suspended = self._suspended.pop(exit_order.client_order_id, None)
        if suspended is None:
            return
        engine = self.engine
        position = engine.portfolio.position(exit_order.strategy_id, exit_order.instrument_id)
        if position.is_flat:
            return
        specs, parent = suspended
        instrument = engine.instruments[exit_order.instrument_id]
        side = "SELL" if position.quantity > 0 else "BUY"
        self.link(
            self.place(
                exit_order.strategy_id, instrument, side, abs(position.quantity), specs, parent
            )
        )

    def is_suspending(self, client_order_id: str) -> bool:
        return client_order_id in self._suspended

    def crossed(self, order: Order) -> None:
        """An exit refused because the price is already through its level: exit at market."""
        engine = self.engine
        position = engine.portfolio.position(order.strategy_id, order.instrument_id)
        if position.is_flat or order.parent_id is None:
            return
        self.cancel_siblings(order, "one-cancels-other")
        engine.create(
            order.strategy_id, engine.instruments[order.instrument_id], order.side,
            min(order.quantity, abs(position.quantity)), "MARKET", reduce_only=True,
            tag=order.tag, parent_id=order.parent_id,
        )  # fmt: skip
