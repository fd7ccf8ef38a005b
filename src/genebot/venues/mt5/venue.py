"""An MT5 account as one of the kernel's venues: a margin account (longs and shorts), the
orders sent through the :class:`~genebot.venues.mt5.execution.Mt5ExecutionClient`.

The account starts from the terminal's balance (``account_info().balance``, in the account
currency) and books every fill the terminal reports: the realized PnL from the venue's
position per instrument, the deal's commission as the fill's fee, and the closing deal's swap
as financing (``Account.post_financing``) when the client reports it. Like the ccxt venue, the
terminal is asked what happened to the working orders once per bar time. Stops and targets
rest on the terminal's position (``submit_oco``/``set_break_even`` go to the client), and a new
entry while the symbol's market is closed is denied before it is sent (``entry_refusal``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from genebot.domain.account import Account
from genebot.domain.events import OrderEvent, OrderFilled
from genebot.domain.instrument import AccountType, Instrument
from genebot.domain.orders import Order
from genebot.domain.position import Position
from genebot.venues.mt5.execution import Charge, Mt5ExecutionClient


class Mt5Venue:
    """The kernel's venue for one MT5 account (see the module docstring)."""

    def __init__(self, client: Mt5ExecutionClient, instruments: Mapping[str, Instrument]) -> None:
        self.client = client
        self.venue = client.venue
        self.instruments = dict(instruments)
        self.account = Account(self.venue, AccountType.MARGIN)
        self.positions: dict[str, Position] = {
            iid: Position("venue", iid, inst.money_quantum) for iid, inst in instruments.items()
        }
        self.mark: Callable[[str], Decimal | None] | None = None
        self.clock: Callable[[], int] | None = None
        self.rate: Callable[[str], Decimal] | None = None
        self._report: Callable[[OrderEvent], None] = lambda event: None
        self._synced_ns: int | None = None
        self._orders: dict[str, Order] = {}
        self.client.set_reporter(self._on_event)
        self.client.on_charge = self._on_charge

    def load_balance(self, currency: str, amount: Decimal, ts: int = 0) -> None:
        """Start the account from the terminal's balance."""
        self.account.clear()
        self.account.deposit(ts, currency, amount, "terminal balance")

    def load_balances(self, balances: Mapping[str, Decimal], ts: int = 0) -> None:
        """The ccxt venue's call (the live runtime's): the terminal's balance per currency,
        and the venue's positions from the terminal's (a restart's carried position is
        closed against its real entry price)."""
        self.account.clear()
        for currency, amount in sorted(balances.items()):
            if amount:
                self.account.deposit(ts, currency, amount, "terminal balance")
        self.load_positions(ts)

    def load_positions(self, ts: int = 0) -> None:
        """The venue's position per instrument: the terminal's net (volume at price_open)."""
        by_name = {spec.name: iid for iid, spec in self.client.specs.items()}
        for iid, inst in self.instruments.items():
            self.positions[iid] = Position("venue", iid, inst.money_quantum)
        for p in self.client.mt5.positions_get() or ():
            held = by_name.get(str(p.symbol))
            if held is None:
                continue
            qty = self.client.specs[held].units(float(p.volume))
            side = "SELL" if int(p.type) == 1 else "BUY"
            price = Decimal(str(p.price_open))
            self.positions[held].apply_fill(side, qty, price, Decimal(0), ts, "terminal position")

    # -- the execution-client port --------------------------------------------------------
    def set_reporter(self, report: Callable[[OrderEvent], None]) -> None:
        self._report = report

    def submit(self, order: Order) -> None:
        self._orders[order.client_order_id] = order
        self.client.submit(order)

    def submit_oco(self, legs: Sequence[Order]) -> None:
        for leg in legs:
            self._orders[leg.client_order_id] = leg
        self.client.submit_oco(legs)

    def set_break_even(self, order: Order, level: Decimal, new_stop: Decimal) -> None:
        self.client.set_break_even(order, level, new_stop)

    def entry_refusal(self, instrument_id: str) -> str | None:
        """The broker's sessions: why no entry may be sent now (the engine denies it)."""
        return self.client.entry_refusal(instrument_id)

    def cancel(self, order: Order, reason: str = "canceled") -> None:
        self.client.cancel(order, reason)

    @property
    def native_types(self) -> frozenset[str]:
        return self.client.native_types

    @property
    def locks_exits(self) -> bool:
        return self.client.locks_exits

    def _on_event(self, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            inst = self.instruments[event.instrument_id]
            order = self._orders.get(event.client_order_id)
            tag = order.tag if order is not None else "signal"
            realized, _ = self.positions[inst.id].apply_fill(
                event.side, event.last_qty, event.last_px, event.fee, event.ts_event, tag
            )
            fee = event.fee if event.fee_currency == inst.quote else Decimal(0)
            self.account.settle_fill(
                inst, event.side, event.last_qty, event.last_px, fee, realized, event.ts_event,
                event.client_order_id,
            )  # fmt: skip
            if not fee and event.fee:
                self.account.post_fee(
                    event.ts_event, event.fee_currency, event.fee, event.client_order_id
                )
        self._report(event)

    def _on_charge(self, charge: Charge) -> None:
        if charge.kind == "swap":
            self.account.post_financing(charge.ts, charge.currency, charge.amount, charge.ref)

    # -- what the kernel calls each bar ---------------------------------------------------
    def on_bar(self, iid: str, row: int) -> None:
        now = self.clock() if self.clock is not None else None
        if now is not None and now == self._synced_ns:
            return
        self._synced_ns = now
        self.client.sync()

    def next_event_row(self, iid: str, start: int) -> int | None:
        return None
