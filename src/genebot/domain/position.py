"""Positions (netted per strategy and instrument, long or short) and closed round-trip trades."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from genebot.core.precision import quantize

ZERO = Decimal(0)
DEFAULT_QUANTUM = Decimal("0.00000001")


class ClosedTrade(NamedTuple):
    """One round trip, from flat to flat (or to a flip). ``pnl`` is net of entry and exit fees."""

    strategy_id: str
    instrument_id: str
    side: str  # "long" | "short"
    entry_ts: int
    entry_price: Decimal
    exit_ts: int
    exit_price: Decimal
    quantity: Decimal
    pnl: Decimal
    fees: Decimal
    exit_reason: str

    @property
    def pnl_pct(self) -> Decimal:
        cost = self.entry_price * self.quantity
        return self.pnl / cost if cost else ZERO


class Position:
    """A netted position. ``quantity`` is signed: > 0 long, < 0 short, 0 flat.

    ``realized_pnl`` is gross (before fees), booked rounded to the money ``quantum``; fees are
    tracked separately. ``cost`` is the exact signed cost basis of the open quantity (what was
    paid, less what realized PnL has already accounted for), so rounding never leaks:
    ``start + realized_pnl - fees - cost == quote balance`` exactly on a spot account, and
    ``start + realized_pnl - fees == balance`` on a margin account. ``avg_px`` (cost / quantity)
    is for marks and display only.

    ``dust`` (0: off) ends a round trip that leaves less than that much behind: a currency
    held through several pairs (BTC bought with ETH, sold for USDT in whole lots) keeps a
    remainder the venue cannot trade. The remainder stays in the position, carried into the
    next round trip, and does not count as being in a trade.
    """

    __slots__ = (
        "_carried",
        "_entry_notional",
        "_entry_qty",
        "_entry_ts",
        "_exit_notional",
        "_exit_qty",
        "_long",
        "_trade_fees",
        "_trade_pnl",
        "cost",
        "dust",
        "fees",
        "financing",
        "instrument_id",
        "quantity",
        "quantum",
        "realized_pnl",
        "strategy_id",
    )

    def __init__(
        self, strategy_id: str, instrument_id: str, quantum: Decimal = DEFAULT_QUANTUM
    ) -> None:
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.quantum = quantum
        self.quantity = ZERO
        self.cost = ZERO
        self.realized_pnl = ZERO
        self.fees = ZERO
        self.financing = ZERO  # rollover (swap) credits and debits, in the quote currency
        self.dust = ZERO
        self._reset_trade(0)

    def _reset_trade(self, ts: int) -> None:
        self._carried = ZERO  # remainder of earlier round trips in the quantity
        self._entry_ts = ts
        self._entry_qty = ZERO
        self._entry_notional = ZERO
        self._trade_fees = ZERO
        self._long = True
        self._exit_qty = ZERO
        self._exit_notional = ZERO
        self._trade_pnl = ZERO

    def accrue_financing(self, amount: Decimal) -> None:
        """Book a rollover credit (or debit) to this position and its current round trip."""
        self.financing += amount
        self._trade_pnl += amount

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    @property
    def in_trade(self) -> bool:
        """Not flat, and more than a carried remainder (see ``dust``)."""
        return self.quantity != 0 and not (self.dust and self._trade_done())

    def _trade_done(self) -> bool:
        return bool(self.dust) and abs(self.quantity) - self._carried < self.dust

    @property
    def avg_px(self) -> Decimal:
        """Average cost of the open quantity (for display; the books use ``cost``)."""
        return self.cost / self.quantity if self.quantity else ZERO

    def open_trade(self) -> tuple[int, Decimal, Decimal, str] | None:
        """The round trip still open: entry time, average entry price, open quantity and side
        ("long" or "short"); None when there is none (flat, or only a carried remainder)."""
        if not self.in_trade or not self._entry_qty:
            return None
        side = "long" if self._long else "short"
        return self._entry_ts, self._entry_notional / self._entry_qty, abs(self.quantity), side

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return price * self.quantity - self.cost

    def apply_fill(
        self,
        side: str,
        qty: Decimal,
        px: Decimal,
        fee: Decimal,
        ts: int,
        tag: str,
        notional: Decimal | None = None,
    ) -> tuple[Decimal, list[ClosedTrade]]:
        """Apply a fill; return the gross PnL it realized and the trades it closed.

        ``notional`` (on the money grid) replaces ``qty × px`` in the books when the fill was
        paid in another currency and valued in this position's (``px`` is then for display).
        """
        self.fees += fee
        signed = qty if side == "BUY" else -qty
        if notional is None:
            notional = quantize(qty * px, self.quantum)  # as the ledger books it
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            self._increase(signed, notional, fee, ts)
            return ZERO, []
        closing = min(qty, abs(self.quantity))
        if closing == qty:
            closing_fee, closing_notional = fee, notional
        else:  # a flip: split fee and notional exactly (the parts add up to the whole)
            closing_fee = quantize(fee * closing / qty, self.quantum)
            closing_notional = quantize(notional * closing / qty, self.quantum)
        realized = self._reduce(closing, px, closing_notional, closing_fee)
        closed: list[ClosedTrade] = []
        if self.quantity == 0:
            closed.append(self._close_trade(ts, tag))
        elif self._trade_done():
            closed.append(self._close_trade(ts, tag))
            self._carry(ts)
        remainder = qty - closing
        if remainder > 0:
            signed_rest = remainder if side == "BUY" else -remainder
            self._increase(signed_rest, notional - closing_notional, fee - closing_fee, ts)
        return realized, closed

    def _increase(self, signed: Decimal, notional: Decimal, fee: Decimal, ts: int) -> None:
        if self.quantity == 0:
            self._reset_trade(ts)
            self._long = signed > 0
        elif self._trade_done():  # only a remainder was held: a new round trip starts now
            self._entry_ts = ts
        self.quantity += signed
        self.cost += notional if signed > 0 else -notional
        self._entry_notional += notional
        self._entry_qty += abs(signed)
        self._trade_fees += fee
        self._trade_pnl -= fee

    def _reduce(self, closing: Decimal, px: Decimal, notional: Decimal, fee: Decimal) -> Decimal:
        """Realized PnL = what the closed part fetched − its share of the cost basis; both are
        on the money grid, so the ledger (which books the same rounded notional) reconciles."""
        direction = 1 if self.quantity > 0 else -1
        if closing == abs(self.quantity):
            share = self.cost
        else:
            share = quantize(self.cost * closing / abs(self.quantity), self.quantum)
        realized = direction * notional - share
        self.cost -= share
        self.quantity -= closing * direction
        self.realized_pnl += realized
        self._exit_qty += closing
        self._exit_notional += px * closing
        self._trade_pnl += realized - fee
        self._trade_fees += fee
        return realized

    def _carry(self, ts: int) -> None:
        """Open the next round trip with the remainder a closed one left (its share of cost)."""
        self._entry_qty = self._carried = abs(self.quantity)
        self._entry_notional = abs(self.cost)
        self._long = self.quantity > 0
        self._entry_ts = ts

    def _close_trade(self, ts: int, tag: str) -> ClosedTrade:
        entry_price = self._entry_notional / self._entry_qty
        trade = ClosedTrade(  # strategy, instrument, side, entry ts/price, exit ts/price ...
            self.strategy_id,
            self.instrument_id,
            "long" if self._long else "short",
            self._entry_ts,
            entry_price,
            ts,
            self._exit_notional / self._exit_qty,
            self._entry_qty,  # quantity
            self._trade_pnl,  # pnl
            self._trade_fees,  # fees
            tag,  # exit reason
        )
        self._reset_trade(ts)
        return trade
