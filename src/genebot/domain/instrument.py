"""Instruments: what can be traded, where, and at which precision."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from genebot.core.errors import InputError
from genebot.core.precision import floor_to, is_power_of_ten, precision_quantum, quantize


class AccountType(enum.Enum):
    """Spot: no shorting, no borrowing. Margin: long and short against a margin requirement."""

    SPOT = "spot"
    MARGIN = "margin"


def split_symbol(symbol: str) -> tuple[str, str]:
    """``"BTC/USDT"`` → ``("BTC", "USDT")``; a clear error for anything else."""
    parts = symbol.split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise InputError(f"symbol {symbol!r} is not valid: use BASE/QUOTE, e.g. BTC/USDT")
    return parts[0].strip().upper(), parts[1].strip().upper()


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable pair on one venue with its precision and fees.

    ``tick_size`` is the price step, ``lot_size`` the quantity step; ``min_quantity`` and
    ``min_notional`` are the venue's minimum order size. Fees are fractions of notional.
    """

    symbol: str
    venue: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    quote_decimals: int = 8
    id: str = field(init=False, compare=False)  # unique key across venues: ``BTC/USDT@binance``
    money_quantum: Decimal = field(init=False, compare=False, repr=False)
    """Step of the quote currency for cash, fees and PnL (``10**-quote_decimals``)."""
    _tick_is_power_of_ten: bool = field(init=False, compare=False, repr=False)
    _lot_is_power_of_ten: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", f"{self.symbol}@{self.venue}")
        object.__setattr__(self, "money_quantum", precision_quantum(self.quote_decimals))
        object.__setattr__(self, "_tick_is_power_of_ten", is_power_of_ten(self.tick_size))
        object.__setattr__(self, "_lot_is_power_of_ten", is_power_of_ten(self.lot_size))

    def round_price(self, price: Decimal) -> Decimal:
        if self._tick_is_power_of_ten:  # 0.01, 1 ...: one native quantize (the hot path)
            return price.quantize(self.tick_size, ROUND_HALF_EVEN)
        return quantize(price, self.tick_size)

    def round_limit(self, price: Decimal, buy: bool) -> Decimal:
        """A limit price on the tick, never worse than asked: buys round down, sells up."""
        rounding = ROUND_FLOOR if buy else ROUND_CEILING
        if self._tick_is_power_of_ten:
            return price.quantize(self.tick_size, rounding)
        units = (price / self.tick_size).to_integral_value(rounding)
        return quantize(units * self.tick_size, self.tick_size)

    def round_quantity(self, quantity: Decimal) -> Decimal:
        """Quantities round down to the lot: an order is never larger than asked."""
        if self._lot_is_power_of_ten:
            return quantity.quantize(self.lot_size, ROUND_DOWN)
        return floor_to(quantity, self.lot_size)

    def round_money(self, amount: Decimal) -> Decimal:
        return amount.quantize(self.money_quantum, ROUND_HALF_EVEN)

    def minimum_problem(self, quantity: Decimal, price: Decimal) -> str | None:
        """Why an order of this size is under the venue minimum, or ``None`` if it is not."""
        if quantity <= 0:
            return f"quantity {quantity} must be positive"
        if quantity < self.min_quantity:
            return f"quantity {quantity} is under the minimum {self.min_quantity}"
        if quantity * price < self.min_notional:
            return f"notional {quantity * price} is under the minimum {self.min_notional}"
        return None

    @classmethod
    def create(
        cls,
        symbol: str,
        venue: str,
        *,
        tick_size: str | Decimal = "0.00000001",
        lot_size: str | Decimal = "0.00000001",
        min_quantity: str | Decimal = "0",
        min_notional: str | Decimal = "0",
        maker_fee: str | Decimal = "0.001",
        taker_fee: str | Decimal = "0.001",
        quote_decimals: int = 8,
    ) -> Instrument:
        base, quote = split_symbol(symbol)
        return cls(
            symbol=f"{base}/{quote}",
            venue=venue,
            base=base,
            quote=quote,
            tick_size=Decimal(tick_size),
            lot_size=Decimal(lot_size),
            min_quantity=Decimal(min_quantity),
            min_notional=Decimal(min_notional),
            maker_fee=Decimal(maker_fee),
            taker_fee=Decimal(taker_fee),
            quote_decimals=quote_decimals,
        )
