"""Instrument specifications for simulated venues: known pairs, else inferred from the data."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

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


def infer_tick(prices: npt.NDArray[np.float64]) -> Decimal:
    """The finest decimal step the prices are written with (at most 10 decimals)."""
    sample = prices[: min(len(prices), 2000)]
    for decimals in range(0, 11):
        scaled = sample * 10**decimals
        if np.all(np.abs(scaled - np.round(scaled)) < 1e-6):
            return Decimal(1).scaleb(-decimals)
    return Decimal(1).scaleb(-10)


def make_instrument(
    symbol: str, venue: str, prices: npt.NDArray[np.float64], maker: Decimal, taker: Decimal
) -> Instrument:
    base, quote = split_symbol(symbol)
    pair = f"{base}/{quote}"
    if pair in _KNOWN:
        tick, lot, notional = _KNOWN[pair]
    else:
        tick = str(infer_tick(prices))
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
