"""Pluggable fee, slippage and fill models of the simulated exchange (one small class each)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Protocol

from genebot.core.precision import floor_to, quantize, to_decimal
from genebot.domain.instrument import Instrument

ZERO = Decimal(0)


class FeeModel(Protocol):
    def fee(self, instrument: Instrument, qty: Decimal, px: Decimal, liquidity: str) -> Decimal:
        """Fee in the quote currency for one fill."""


@dataclass(frozen=True, slots=True)
class MakerTakerFee:
    """Fraction of notional: ``maker`` for resting limit fills, ``taker`` for everything else.
    ``None`` uses the instrument's own maker/taker fee."""

    maker: Decimal | None = None
    taker: Decimal | None = None

    def fee(self, instrument: Instrument, qty: Decimal, px: Decimal, liquidity: str) -> Decimal:
        if liquidity == "MAKER":
            rate = instrument.maker_fee if self.maker is None else self.maker
        else:
            rate = instrument.taker_fee if self.taker is None else self.taker
        return instrument.round_money(qty * px * rate)


class SlippageModel(Protocol):
    def adjust(
        self, instrument: Instrument, side: str, px: Decimal, qty: Decimal, bar_volume: float
    ) -> Decimal:
        """The fill price after slippage, always worse (or equal) for the taker, on the tick."""


def _worse(instrument: Instrument, side: str, px: Decimal) -> Decimal:
    # Round adversely: a buy never gets a better price from rounding, nor a sell.
    mode = ROUND_CEILING if side == "BUY" else ROUND_FLOOR
    return quantize(px, instrument.tick_size, rounding=mode)


@dataclass(frozen=True, slots=True)
class NoSlippage:
    def adjust(
        self, instrument: Instrument, side: str, px: Decimal, qty: Decimal, bar_volume: float
    ) -> Decimal:
        return px


@dataclass(frozen=True, slots=True)
class FixedBpsSlippage:
    """Every taker fill moves ``bps`` basis points against the order."""

    bps: Decimal

    def adjust(
        self, instrument: Instrument, side: str, px: Decimal, qty: Decimal, bar_volume: float
    ) -> Decimal:
        shift = px * self.bps / Decimal(10_000)
        return _worse(instrument, side, px + shift if side == "BUY" else px - shift)


@dataclass(frozen=True, slots=True)
class VolumeShareSlippage:
    """Impact grows with the square of the order's share of the bar volume (zipline's shape):
    ``price_impact × (qty / volume)²``, capped at ``max_impact``."""

    price_impact: Decimal = Decimal("0.1")
    max_impact: Decimal = Decimal("0.05")

    def adjust(
        self, instrument: Instrument, side: str, px: Decimal, qty: Decimal, bar_volume: float
    ) -> Decimal:
        if bar_volume <= 0:
            impact = self.max_impact
        else:
            share = qty / to_decimal(bar_volume)
            impact = min(self.price_impact * share * share, self.max_impact)
        shift = px * impact
        return _worse(instrument, side, px + shift if side == "BUY" else px - shift)


@dataclass(frozen=True, slots=True)
class VolumeParticipation:
    """Partial fills: at most ``fraction`` of a bar's volume fills per instrument per bar."""

    fraction: Decimal | None = None

    def capacity(self, instrument: Instrument, bar_volume: float) -> Decimal | None:
        if self.fraction is None:
            return None
        return floor_to(to_decimal(bar_volume) * self.fraction, instrument.lot_size)
