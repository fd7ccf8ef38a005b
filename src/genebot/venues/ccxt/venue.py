"""A ccxt exchange as one of the kernel's venues: the shape of the simulated exchange (the
kernel feeds it each bar, the recorder and risk view read its account), the orders sent to
the exchange by the :class:`~genebot.venues.ccxt.execution.CcxtExecutionClient`.

The kernel hands every bar of an instrument traded here to :meth:`ExchangeVenue.on_bar`; that
is when the exchange is asked what happened to the working orders (fills, orders that ended,
orders whose send went unanswered), once per bar time whatever the number of feeds. The
account starts from the exchange's balances and books every fill the exchange reports, so
equity, exposure and the risk rules see what the exchange holds.

Spot only: a margin or futures account needs the exchange's positions (not yet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from genebot.domain.account import Account
from genebot.domain.events import OrderEvent, OrderFilled
from genebot.domain.instrument import AccountType, Instrument
from genebot.domain.orders import Order
from genebot.domain.position import Position
from genebot.venues.ccxt.execution import CcxtExecutionClient

ZERO = Decimal(0)


class ExchangeVenue:
    """The kernel's venue for one ccxt exchange (see the module docstring)."""

    def __init__(self, client: CcxtExecutionClient, instruments: Mapping[str, Instrument]) -> None:
        self.client = client
        self.venue = client.venue
        self.instruments = dict(instruments)
        self.account = Account(self.venue, AccountType.SPOT)
        self.positions: dict[str, Position] = {}  # spot: holdings are the balances
        self.mark: Callable[[str], Decimal | None] | None = None  # set by the kernel's assembly
        self.clock: Callable[[], int] | None = None
        self.rate: Callable[[str], Decimal] | None = None
        self._report: Callable[[OrderEvent], None] = lambda event: None
        self._synced_ns: int | None = None
        self.client.set_reporter(self._on_event)

    # -- balances -------------------------------------------------------------------------
    def load_balances(self, balances: Mapping[str, Decimal], ts: int = 0) -> None:
        """Start the account from the exchange's balances (free + locked)."""
        self.account.clear()
        for currency, amount in sorted(balances.items()):
            if amount:
                self.account.deposit(ts, currency, amount, "exchange balance")

    # -- the execution-client port --------------------------------------------------------
    def set_reporter(self, report: Callable[[OrderEvent], None]) -> None:
        self._report = report

    def submit(self, order: Order) -> None:
        self.client.submit(order)

    def cancel(self, order: Order, reason: str = "canceled") -> None:
        self.client.cancel(order, reason)

    # -- protective exits on the exchange (genebot.execution.protective) ------------------
    @property
    def native_types(self) -> frozenset[str]:
        return self.client.native_types

    @property
    def locks_exits(self) -> bool:
        return self.client.locks_exits

    def __getattr__(self, name: str) -> object:
        if name == "submit_oco" and self.client.oco:  # only where the exchange takes an OCO
            return self._submit_oco
        raise AttributeError(name)

    def _submit_oco(self, legs: Sequence[Order]) -> None:
        self.client.submit_oco(legs)

    def _on_event(self, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            inst = self.instruments[event.instrument_id]
            fee = event.fee if event.fee_currency == inst.quote else ZERO
            self.account.settle_fill(
                inst, event.side, event.last_qty, event.last_px, fee, ZERO, event.ts_event,
                event.client_order_id,
            )  # fmt: skip
            if fee == ZERO and event.fee:  # a fee in another asset (BNB, the base): booked
                self.account.post_fee(
                    event.ts_event, event.fee_currency, event.fee, event.client_order_id
                )
        self._report(event)

    # -- what the kernel calls each bar ---------------------------------------------------
    def on_bar(self, iid: str, row: int) -> None:
        now = self.clock() if self.clock is not None else None
        if now is not None and now == self._synced_ns:
            return  # asked already at this bar time
        self._synced_ns = now
        self.client.sync()

    def next_event_row(self, iid: str, start: int) -> int | None:
        return None  # fast mode never skips bars on a live venue
