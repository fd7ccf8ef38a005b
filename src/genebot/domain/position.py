"""Positions (netted per strategy and instrument, long or short) and closed round-trip trades."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
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

    ``realized_pnl`` is gross (before fees); fees are tracked separately so that
    ``start + realized_pnl - fees`` reconciles with the ledger to the last quantum.
    """

    __slots__ = (
        "_entry_qty",
        "_entry_ts",
        "_exit_notional",
        "_exit_qty",
        "_long",
        "_trade_fees",
        "_trade_pnl",
        "avg_px",
        "fees",
        "instrument_id",
        "quantity",
        "realized_pnl",
        "strategy_id",
    )

    def __init__(self, strategy_id: str, instrument_id: str) -> None:
        self.strategy_id = strategy_id
        self.instrument_id = instrument_id
        self.quantity = ZERO
        self.avg_px = ZERO
        self.realized_pnl = ZERO
        self.fees = ZERO
        self._reset_trade(0)

    def _reset_trade(self, ts: int) -> None:
        self._entry_ts = ts
        self._entry_qty = ZERO
        self._trade_fees = ZERO
        self._long = True
        self._exit_qty = ZERO
        self._exit_notional = ZERO
        self._trade_pnl = ZERO

    @property
    def is_flat(self) -> bool:
        return self.quantity == 0

    def unrealized_pnl(self, price: Decimal) -> Decimal:
        return (price - self.avg_px) * self.quantity

    def apply_fill(
        self, side: str, qty: Decimal, px: Decimal, fee: Decimal, ts: int, tag: str
    ) -> tuple[Decimal, list[ClosedTrade]]:
        """Apply a fill; return the gross PnL it realized and the trades it closed."""
        self.fees += fee
        signed = qty if side == "BUY" else -qty
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            self._increase(signed, px, fee, ts)
            return ZERO, []
        closing = min(qty, abs(self.quantity))
        closing_fee = fee * closing / qty if closing != qty else fee
        realized = self._reduce(closing, px, closing_fee)
        closed: list[ClosedTrade] = []
        if self.quantity == 0:
            closed.append(self._close_trade(ts, tag))
        remainder = qty - closing
        if remainder > 0:
            self._increase(remainder if side == "BUY" else -remainder, px, fee - closing_fee, ts)
        return realized, closed

    def _increase(self, signed: Decimal, px: Decimal, fee: Decimal, ts: int) -> None:
        if self.quantity == 0:
            self._reset_trade(ts)
            self._long = signed > 0
        new_qty = self.quantity + signed
        self.avg_px = (self.avg_px * abs(self.quantity) + px * abs(signed)) / abs(new_qty)
        self.quantity = new_qty
        self._entry_qty += abs(signed)
        self._trade_fees += fee
        self._trade_pnl -= fee

    def _reduce(self, closing: Decimal, px: Decimal, fee: Decimal) -> Decimal:
        direction = 1 if self.quantity > 0 else -1
        realized = (px - self.avg_px) * closing * direction
        self.quantity -= closing * direction
        self.realized_pnl += realized
        self._exit_qty += closing
        self._exit_notional += px * closing
        self._trade_pnl += realized - fee
        self._trade_fees += fee
        return realized

    def _close_trade(self, ts: int, tag: str) -> ClosedTrade:
        entry_price = self.avg_px
        trade = ClosedTrade(
            strategy_id=self.strategy_id,
            instrument_id=self.instrument_id,
            side="long" if self._long else "short",
            entry_ts=self._entry_ts,
            entry_price=entry_price,
            exit_ts=ts,
            exit_price=self._exit_notional / self._exit_qty,
            quantity=self._entry_qty,
            pnl=self._trade_pnl,
            fees=self._trade_fees,
            exit_reason=tag,
        )
        self.avg_px = ZERO
        self._reset_trade(ts)
        return trade
