"""Instrument specifications for simulated venues: known pairs, else inferred from the data."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

from genebot.core.errors import DataError
from genebot.domain.instrument import Instrument, split_symbol

# Binance spot filters for the bundled pairs (tick size, lot size, min notional).
_KNOWN: dict[str, tuple[str, str, str]] = {
    "BTC/USDT": ("0.01", "0.00001", "10"),
    "ETH/USDT": ("0.01", "0.0001", "10"),
    "ETH/BTC": ("0.000001", "0.0001", "0.0001"),
    "LTC/USDT": ("0.01", "0.001", "10"),
    "XRP/USDT": ("0.0001", "0.1", "10"),
}
FIAT = _FIAT = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "CHF": 2, "AUD": 2, "NZD": 2, "CAD": 2}


_MAX_DECIMALS = 12


def infer_tick(prices: npt.NDArray[np.float64], symbol: str = "the data") -> Decimal:
    """The decimal step the prices are written with (at most 12 decimals), never coarser than
    the smallest price (a tick of 1 would round a price of 0.00000123 to 0)."""
    # The first bars, bars spread over the rest, and the smallest price of all (a later fall
    # must not be rounded to nothing by a tick chosen on the first bars); no full-size copy.
    with np.errstate(invalid="ignore"):
        smallest = np.min(prices, where=prices > 0, initial=np.inf, keepdims=True)
    sample = np.concatenate((prices[:1000], prices[:: max(1, len(prices) // 1000)], smallest))
    sample = sample[np.isfinite(sample) & (sample > 0)]
    for decimals in range(0, _MAX_DECIMALS + 1):
        scaled = sample * 10**decimals
        rounded = np.round(scaled)
        if np.all(np.abs(scaled - rounded) < 1e-6) and np.all(rounded >= 1):
            return Decimal(1).scaleb(-decimals)
    # Written with more decimals than that (computed prices): 1e-10, or finer for tiny prices
    # (at least 10,000 steps to the smallest price, so rounding moves prices by <= 0.005 %).
    smallest = float(sample.min()) if len(sample) else 1.0
    decimals = next((d for d in range(10, _MAX_DECIMALS + 1) if smallest * 10**d >= 1e4), None)
    if decimals is None:
        raise DataError(
            f"{symbol}: prices as small as {smallest:g} cannot be simulated (the finest price "
            f"step is 1e-{_MAX_DECIMALS}); quote the pair in a smaller unit"
        )
    return Decimal(1).scaleb(-decimals)


def make_instrument(
    symbol: str, venue: str, prices: npt.NDArray[np.float64], maker: Decimal, taker: Decimal
) -> Instrument:
    base, quote = split_symbol(symbol)
    pair = f"{base}/{quote}"
    if pair in _KNOWN:
        tick, lot, notional = _KNOWN[pair]
    else:
        tick = str(infer_tick(prices, pair))
        lot = "1" if base in _FIAT and quote in _FIAT else "0.00000001"
        notional = "0"
    return Instrument.create(
        pair,
        venue,
        tick_size=tick,
        lot_size=lot,
        min_notional=notional,
        maker_fee=maker,
        taker_fee=taker,
        quote_decimals=_FIAT.get(quote, 8),
    )
