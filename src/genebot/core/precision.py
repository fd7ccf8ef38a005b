"""Decimal helpers: money is exact, quantized to an instrument's tick, lot or currency precision."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
_POWER_OF_TEN: dict[Decimal, bool] = {}


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Exact decimal of a number as written (``0.1`` becomes ``Decimal('0.1')``, not its binary);
    numpy scalars (``np.int64``, ``np.float32``) are taken as the Python numbers they hold."""
    if isinstance(value, Decimal):
        return value
    if type(value) is float:
        return Decimal(repr(value))
    if isinstance(value, float):  # np.float64 is a float whose repr is "np.float64(...)"
        return Decimal(repr(float(value)))
    if not isinstance(value, int | str) and hasattr(value, "item"):  # other numpy scalars
        item = value.item()
        # A float32 widened to a Python float is its binary expansion (1.100000023841858):
        # numpy's own text is the shortest that reads back ("1.1").
        return Decimal(str(value)) if isinstance(item, float) else to_decimal(item)
    return Decimal(value)


def is_power_of_ten(step: Decimal) -> bool:
    """1, 0.01, 1E+2 ...: rounding to such a step is one native ``Decimal.quantize``."""
    return step != ZERO and step.as_tuple().digits == (1,)


def quantize(value: Decimal, quantum: Decimal, *, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round ``value`` to a multiple of ``quantum`` (tick, lot or currency step)."""
    power = _POWER_OF_TEN.get(quantum)
    if power:  # 0.01, 1, 1E+2 ...: one native quantize does it (the hot path)
        return value.quantize(quantum, rounding)
    if quantum == ZERO:
        return value
    if power is None:
        power = _POWER_OF_TEN[quantum] = is_power_of_ten(quantum)
        if power:
            return value.quantize(quantum, rounding)
    steps = (value / quantum).to_integral_value(rounding=rounding)
    return (steps * quantum).quantize(quantum)


def floor_to(value: Decimal, quantum: Decimal) -> Decimal:
    """Round toward zero to a multiple of ``quantum`` (used for quantities: never oversize)."""
    return quantize(value, quantum, rounding=ROUND_DOWN)


def ceil_to(value: Decimal, quantum: Decimal) -> Decimal:
    """Round away from zero to a multiple of ``quantum``."""
    return quantize(value, quantum, rounding=ROUND_UP)


def precision_quantum(decimals: int) -> Decimal:
    """``Decimal('0.01')`` for ``decimals=2``."""
    return Decimal(1).scaleb(-decimals)


def split_evenly(
    amount: Decimal, parts: int, quantum: Decimal = Decimal("0.00000001")
) -> list[Decimal]:
    """Split ``amount`` into ``parts`` shares on the ``quantum`` grid that add up exactly; the
    first shares take the remainder, one quantum each."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    base = floor_to(amount / parts, quantum)
    shares = [base] * parts
    remainder = amount - base * parts
    i = 0
    while remainder >= quantum:
        shares[i % parts] += quantum
        remainder -= quantum
        i += 1
    shares[0] += remainder  # below one quantum: only when amount itself is off the grid
    return shares
