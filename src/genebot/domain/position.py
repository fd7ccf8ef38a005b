"""Positions (netted per strategy and instrument, long or short) and closed round-trip trades."""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from genebot.core.precision import quantize

ZERO = Decimal(0)
DEFAULT_QUANTUM = Decimal("0.00000001")
AVERAGE_EXTRA_DECIMALS = 4
"""An average price of fills at several prices keeps this many decimals beyond its finest fill
price (the tick: a tick of 0.01 gives averages to 0.000001); see :func:`average_price`."""


def average_price(value: Decimal, quantity: Decimal, exponent: int) -> Decimal:
    """``value / quantity`` (Σ price × quantity / Σ quantity, a fill-weighted average) rounded
    half-even to ``10 ** (exponent - AVERAGE_EXTRA_DECIMALS)``, ``10 ** exponent`` being the
    finest fill price's step (its tick), and without trailing zeros below the tick: an exact
    average of 100.00 and 100.02 is 100.01, of 100.00 and 100.01 is 100.005000, and one of
    several fills at 100.00 is 100.00. Exact integer arithmetic: no double rounding."""
    places = exponent - AVERAGE_EXTRA_DECIMALS
    num_sign, num_digits, num_exp = value.as_tuple()
    den_sign, den_digits, den_exp = quantity.as_tuple()
    num = int("".join(map(str, num_digits))) * (-1 if num_sign else 1)
    den = int("".join(map(str, den_digits))) * (-1 if den_sign else 1)
    if den < 0:
        num, den = -num, -den
    shift = int(num_exp) - int(den_exp) - places  # value / quantity = num / den × 10**(...)
    if shift >= 0:
        num *= 10**shift
    else:
        den *= 10**-shift
    units, rest = divmod(num, den)  # floor: 0 <= rest < den
    if 2 * rest > den or (2 * rest == den and units % 2):
        units += 1
    rounded = Decimal(units).scaleb(places)
    trimmed = rounded.normalize()
    if int(trimmed.as_tuple().exponent) < exponent:
        return trimmed
    return rounded.quantize(Decimal(1).scaleb(exponent))


def _exponent(px: Decimal | None, quantum: Decimal) -> int:
    return int((quantum if px is None else px).as_tuple().exponent)


def _mixed(
    price: Decimal | None, exponent: int, px: Decimal | None, quantum: Decimal
) -> tuple[None, int]:
    """A side's fills no longer share one price: (no price, the finest price's exponent). A
    price of None is a notional valued in another currency, on the money ``quantum``."""
    known = exponent if price is None else _exponent(price, quantum)
    return None, min(known, _exponent(px, quantum))


def _side_price(price: Decimal | None, value: Decimal, qty: Decimal, exponent: int) -> Decimal:
    """A side's fill-weighted average price: its one price, else :func:`average_price`."""
    if price is not None:
        return price
    return average_price(value, qty, exponent) if qty else ZERO


class ClosedTrade(NamedTuple):
    """One round trip, from flat to flat (or to a flip). ``pnl`` is net of entry and exit fees.

    ``entry_price`` and ``exit_price`` are computed the same way: the fill-weighted average
    Σ(price × quantity) / Σ quantity of that side's fills, exact. Fills at one price give that
    price itself (on the tick); fills at several prices give :func:`average_price` (rounded
    half-even to ``AVERAGE_EXTRA_DECIMALS`` decimals beyond the finest fill price). A currency
    booked through a cross pair (``apply_fill(notional=...)``) averages its notionals in the
    position's currency instead, its step being the money quantum. ``pnl_pct`` is
    ``pnl / (entry_price × quantity)``, exact (outputs round it).
    """

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
        "_entry_exp",
        "_entry_px",
        "_entry_qty",
        "_entry_ts",
        "_entry_value",
        "_exit_exp",
        "_exit_px",
        "_exit_qty",
        "_exit_value",
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
        # Each side (entry, exit) of the round trip: quantity, value (Σ price × quantity, or
        # the notionals of fills valued in another currency), the one price its fills share
        # (None once they differ) and then the exponent of its finest price.
        self._entry_qty = self._entry_value = self._exit_qty = self._exit_value = ZERO
        self._entry_px: Decimal | None = None
        self._exit_px: Decimal | None = None
        self._entry_exp = self._exit_exp = 0
        self._trade_fees = ZERO
        self._long = True
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
        """The round trip still open: entry time, average entry price (as a closed trade's,
        see ``ClosedTrade``), open quantity and side ("long" or "short"); None when there is
        none (flat, or only a carried remainder)."""
        if not self.in_trade or not self._entry_qty:
            return None
        side = "long" if self._long else "short"
        return self._entry_ts, self._entry_price(), abs(self.quantity), side

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
        paid in another currency and valued in this position's (``px`` is then for display,
        and the trade's prices are averages of the notionals: see ``ClosedTrade``).
        """
        self.fees += fee
        signed = qty if side == "BUY" else -qty
        priced: Decimal | None = px  # the trade's prices average px (None: the notionals)
        if notional is None:
            value = qty * px  # exact: what the trade's average price weighs
            notional = quantize(value, self.quantum)  # as the ledger books it
        else:
            priced, value = None, notional
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            self._increase(signed, notional, fee, ts, priced, value)
            return ZERO, []
        closing = min(qty, abs(self.quantity))
        if closing == qty:
            closing_fee, closing_notional, closing_value = fee, notional, value
        else:  # a flip: split fee and notional exactly (the parts add up to the whole)
            closing_fee = quantize(fee * closing / qty, self.quantum)
            closing_notional = quantize(notional * closing / qty, self.quantum)
            closing_value = closing * px if priced is not None else closing_notional
        realized = self._reduce(closing, priced, closing_notional, closing_fee, closing_value)
        closed: list[ClosedTrade] = []
        if self.quantity == 0:
            closed.append(self._close_trade(ts, tag))
        elif self._trade_done():
            closed.append(self._close_trade(ts, tag))
            self._carry(ts)
        remainder = qty - closing
        if remainder > 0:
            signed_rest = remainder if side == "BUY" else -remainder
            rest_notional = notional - closing_notional
            self._increase(
                signed_rest,
                rest_notional,
                fee - closing_fee,
                ts,
                priced,
                value - closing_value if priced is not None else rest_notional,
            )
        return realized, closed

    def _increase(
        self,
        signed: Decimal,
        notional: Decimal,
        fee: Decimal,
        ts: int,
        px: Decimal | None,
        value: Decimal,
    ) -> None:
        if self.quantity == 0:
            self._reset_trade(ts)
            self._long = signed > 0
        elif self._trade_done():  # only a remainder was held: a new round trip starts now
            self._entry_ts = ts
        self.quantity += signed
        self.cost += notional if signed > 0 else -notional
        if not self._entry_qty:  # (exponents are read only once prices differ: rarely)
            self._entry_px = px
            if px is None:
                self._entry_exp = _exponent(None, self.quantum)
        elif self._entry_px is None or px != self._entry_px:
            self._entry_px, self._entry_exp = _mixed(
                self._entry_px, self._entry_exp, px, self.quantum
            )
        self._entry_qty += abs(signed)
        self._entry_value += value
        self._trade_fees += fee
        self._trade_pnl -= fee

    def _reduce(
        self,
        closing: Decimal,
        px: Decimal | None,
        notional: Decimal,
        fee: Decimal,
        value: Decimal,
    ) -> Decimal:
        """Realized PnL = what the closed part fetched − its share of the cost basis; both are
        on the money grid, so the ledger (which books the same rounded notional) reconciles.
        The exit price averages ``value`` (``closing × px``) exactly as the entry does."""
        direction = 1 if self.quantity > 0 else -1
        if closing == abs(self.quantity):
            share = self.cost
        else:
            share = quantize(self.cost * closing / abs(self.quantity), self.quantum)
        realized = direction * notional - share
        self.cost -= share
        self.quantity -= closing * direction
        self.realized_pnl += realized
        if not self._exit_qty:
            self._exit_px = px
            if px is None:
                self._exit_exp = _exponent(None, self.quantum)
        elif self._exit_px is None or px != self._exit_px:
            self._exit_px, self._exit_exp = _mixed(self._exit_px, self._exit_exp, px, self.quantum)
        self._exit_qty += closing
        self._exit_value += value
        self._trade_pnl += realized - fee
        self._trade_fees += fee
        return realized

    def _carry(self, ts: int) -> None:
        """Open the next round trip with the remainder a closed one left (its share of cost)."""
        self._entry_qty = self._carried = abs(self.quantity)
        self._entry_value = abs(self.cost)
        self._entry_px, self._entry_exp = None, _exponent(None, self.quantum)
        self._long = self.quantity > 0
        self._entry_ts = ts

    def _entry_price(self) -> Decimal:
        return _side_price(self._entry_px, self._entry_value, self._entry_qty, self._entry_exp)

    def _close_trade(self, ts: int, tag: str) -> ClosedTrade:
        trade = ClosedTrade(  # strategy, instrument, side, entry ts/price, exit ts/price ...
            self.strategy_id,
            self.instrument_id,
            "long" if self._long else "short",
            self._entry_ts,
            self._entry_price(),
            ts,
            _side_price(self._exit_px, self._exit_value, self._exit_qty, self._exit_exp),
            self._entry_qty,  # quantity
            self._trade_pnl,  # pnl
            self._trade_fees,  # fees
            tag,  # exit reason
        )
        self._reset_trade(ts)
        return trade
