"""Instruments inferred from the data: the price step the prices are written with, never so
coarse that a price rounds to nothing."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from genebot.backtest.instruments import infer_tick, make_instrument
from genebot.core.errors import DataError
from genebot.domain.instrument import Instrument


@pytest.mark.parametrize(
    ("prices", "tick"),
    [
        ([100.5, 101.25, 99.0], "0.01"),
        ([50_000.123, 49_999.9], "0.001"),
        ([1.23e-8, 1.5e-8], "1E-10"),  # written with 10 decimals
        ([1.2345678e-8, 1.3e-8], "1E-12"),  # computed: fine enough for 10,000 steps
        ([100.0 * np.exp(0.000123), 101.7 * np.exp(-0.000045)], "1E-10"),  # computed prices
    ],
)
def test_tick_is_the_step_the_prices_are_written_with(prices: list[float], tick: str) -> None:
    assert infer_tick(np.array(prices)) == Decimal(tick)


def test_a_tiny_price_never_rounds_to_zero() -> None:
    inst = make_instrument(
        "PEPE/USDT", "sim", np.array([1.2345e-8, 1.25e-8]), Decimal(0), Decimal(0)
    )
    assert inst.round_price(Decimal("1.2345e-8")) == Decimal("1.2345E-8")


def test_prices_below_the_finest_step_are_refused() -> None:
    with pytest.raises(DataError, match=r"X/USDT: prices as small as 1e-14 cannot be simulated"):
        infer_tick(np.array([1e-14, 2e-14]), "X/USDT")


@pytest.mark.parametrize(
    ("tick", "price", "buy", "expected"),
    [
        ("0.01", "100.129", True, "100.12"),  # a buy limit never rounds up (a worse price)
        ("0.01", "100.121", False, "100.13"),  # a sell limit never rounds down
        ("0.05", "100.07", True, "100.05"),
        ("0.05", "100.07", False, "100.10"),
        ("0.05", "100.05", True, "100.05"),  # on the tick: unchanged
    ],
)
def test_a_limit_price_rounds_to_the_tick_never_worse_than_asked(
    tick: str, price: str, buy: bool, expected: str
) -> None:
    inst = Instrument.create("X/USDT", "sim", tick_size=tick)
    assert inst.round_limit(Decimal(price), buy) == Decimal(expected)


def test_numpy_numbers_convert_as_written() -> None:
    """numpy 2 writes np.float64(0.0253) as 'np.float64(0.0253)': never parse that text."""
    from genebot.core.precision import to_decimal

    assert to_decimal(np.float64(0.0253)) == Decimal("0.0253")
    assert to_decimal(np.float32(0.5)) == Decimal("0.5")
    assert to_decimal(np.float32(1.1)) == Decimal("1.1")  # not 1.100000023841858
    assert to_decimal(np.int64(3)) == Decimal(3)
    assert to_decimal(0.1) == Decimal("0.1")


def test_a_fall_after_the_first_bars_still_gets_a_fine_enough_tick() -> None:
    """2,000 bars written with 2 decimals near 1.3, then a slide to 0.004: 0.01 would round the
    last prices to 0.00."""
    first = np.round(np.linspace(1.23, 1.5, 2_000), 2)
    slide = np.round(np.linspace(1.2, 0.004, 500), 3)
    assert infer_tick(np.concatenate((first, slide))) == Decimal("0.001")
