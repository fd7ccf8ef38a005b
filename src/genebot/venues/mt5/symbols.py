"""MT5 symbols as genebot instruments, MT5 timeframes, and the broker's server clock.

genebot trades quantities in units of the base currency (100 000 EUR), MT5 in lots of the
symbol's ``trade_contract_size``: :class:`SymbolSpec` converts. The instrument's lot step and
minimum are the symbol's ``volume_step``/``volume_min`` in units, its tick the symbol's
``point`` (``digits`` decimals). Swaps (long/short, per ``swap_mode``) and the triple-swap day
(``swap_rollover3days``, 0 = Sunday) are kept on the spec for the ledger and the scheduler.

Bar and tick times from the terminal are the broker's *server* wall time written as epoch
seconds (MetaQuotes' convention: most brokers run GMT+2, GMT+3 in the US summer).
:class:`ServerClock` turns them into UTC explicitly: a fixed offset, or an IANA zone name
(DST-aware), given in ``exchanges.<name>.server_timezone``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from genebot.core.errors import InputError
from genebot.domain.instrument import Instrument

S_NS = 1_000_000_000
# MetaTrader5's TIMEFRAME_* values (minutes; hours | 0x4000; weeks | 0x8000; months | 0xC000)
TIMEFRAMES: dict[str, int] = {
    "1m": 1, "2m": 2, "3m": 3, "4m": 4, "5m": 5, "6m": 6, "10m": 10, "12m": 12, "15m": 15,
    "20m": 20, "30m": 30, "1h": 0x4001, "2h": 0x4002, "3h": 0x4003, "4h": 0x4004,
    "6h": 0x4006, "8h": 0x4008, "12h": 0x400C, "1d": 0x4018,
}  # fmt: skip
MT5_NAMES = {
    "1m": "M1", "2m": "M2", "3m": "M3", "4m": "M4", "5m": "M5", "6m": "M6", "10m": "M10",
    "12m": "M12", "15m": "M15", "20m": "M20", "30m": "M30", "1h": "H1", "2h": "H2", "3h": "H3",
    "4h": "H4", "6h": "H6", "8h": "H8", "12h": "H12", "1d": "D1",
}  # fmt: skip
# symbol_info.filling_mode flags, and the request's ORDER_FILLING_* values
SYMBOL_FILLING_FOK, SYMBOL_FILLING_IOC = 1, 2
ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN = 0, 1, 2
SYMBOL_TRADE_MODE = {0: "disabled", 1: "long_only", 2: "short_only", 3: "close_only", 4: "full"}
DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def mt5_timeframe(timeframe: str) -> int:
    """The TIMEFRAME_* value of a genebot timeframe (``5m``, ``1h``, ``1d``)."""
    value = TIMEFRAMES.get(timeframe)
    if value is None:
        raise InputError(
            f"timeframe {timeframe!r} has no MT5 equivalent; use one of {', '.join(TIMEFRAMES)}"
        )
    return value


def mt5_symbol(symbol: str, suffix: str = "") -> str:
    """genebot's ``EUR/USD`` as the terminal's ``EURUSD`` (plus a broker's suffix, ``.m``)."""
    return symbol.replace("/", "") + suffix


@dataclass(frozen=True)
class SymbolSpec:
    """What genebot keeps of one ``symbol_info``."""

    name: str
    digits: int
    point: Decimal
    contract_size: Decimal
    volume_min: Decimal
    volume_step: Decimal
    volume_max: Decimal
    swap_long: Decimal
    swap_short: Decimal
    swap_mode: int
    triple_swap_day: int  # 0 = Sunday ... 3 = Wednesday (the usual FX rollover)
    trade_mode: str
    filling_flags: int
    stops_level: int  # the broker's minimum stop distance, in points
    freeze_level: int

    def lots(self, quantity: Decimal) -> float:
        """A genebot quantity (base units) in lots, on the volume step."""
        steps = (quantity / self.contract_size / self.volume_step).to_integral_value("ROUND_DOWN")
        return float(steps * self.volume_step)

    def units(self, lots: float) -> Decimal:
        return _plain(Decimal(str(lots)) * self.contract_size)

    @property
    def min_stop_distance(self) -> Decimal:
        return self.point * self.stops_level

    @property
    def triple_swap_weekday(self) -> str:
        return DAYS[self.triple_swap_day % 7]

    def filling(self) -> int:
        """The request's type_filling the symbol allows: FOK, else IOC, else RETURN."""
        if self.filling_flags & SYMBOL_FILLING_FOK:
            return ORDER_FILLING_FOK
        if self.filling_flags & SYMBOL_FILLING_IOC:
            return ORDER_FILLING_IOC
        return ORDER_FILLING_RETURN


def _plain(value: Decimal) -> Decimal:
    """``10000`` rather than ``1E+4`` or ``10000.000``."""
    return Decimal(format(value.normalize(), "f"))


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


def spec_of(info: Any) -> SymbolSpec:
    """A :class:`SymbolSpec` from ``symbol_info(name)`` (a SymbolInfo named tuple)."""
    return SymbolSpec(
        name=str(info.name),
        digits=int(info.digits),
        point=_d(info.point),
        contract_size=_d(info.trade_contract_size),
        volume_min=_d(info.volume_min),
        volume_step=_d(info.volume_step),
        volume_max=_d(info.volume_max),
        swap_long=_d(info.swap_long),
        swap_short=_d(info.swap_short),
        swap_mode=int(info.swap_mode),
        triple_swap_day=int(info.swap_rollover3days),
        trade_mode=SYMBOL_TRADE_MODE.get(int(info.trade_mode), "full"),
        filling_flags=int(info.filling_mode),
        stops_level=int(info.trade_stops_level),
        freeze_level=int(info.trade_freeze_level),
    )


def instrument_of(symbol: str, venue: str, spec: SymbolSpec, commission: str = "0") -> Instrument:
    """genebot's instrument for an MT5 symbol: ``symbol`` is genebot's ``EUR/USD``."""
    tick = spec.point.normalize() if spec.point else Decimal(1).scaleb(-spec.digits)
    return Instrument.create(
        symbol,
        venue,
        tick_size=tick,
        lot_size=_plain(spec.volume_step * spec.contract_size),
        min_quantity=_plain(spec.volume_min * spec.contract_size),
        min_notional="0",
        maker_fee=commission,
        taker_fee=commission,
        quote_decimals=max(2, spec.digits),
    )


class ServerClock:
    """The broker's server wall time ↔ UTC. ``zone``: ``"+2"``/``"-5:30"`` hours, an IANA name
    (``"Europe/Athens"``: DST-aware), or ``"UTC"``."""

    def __init__(self, zone: str | None = "UTC") -> None:
        self.zone = zone or "UTC"
        self._fixed: int | None = None
        self._tz: ZoneInfo | None = None
        text = self.zone.strip()
        if text.upper() in ("UTC", "GMT", "Z"):
            self._fixed = 0
        elif text[:1] in "+-" and text[1:2].isdigit():
            hours, _, minutes = text[1:].partition(":")
            sign = -1 if text[0] == "-" else 1
            self._fixed = sign * (int(hours) * 3600 + int(minutes or 0) * 60)
        else:
            try:
                self._tz = ZoneInfo(text)
            except Exception:
                raise InputError(
                    f"server_timezone {text!r} is neither an offset (+2, -5:30) nor a time zone "
                    "name (Europe/Athens)"
                ) from None

    def offset_s(self, server_seconds: int) -> int:
        """Seconds the server's wall time is ahead of UTC at that server time."""
        if self._fixed is not None:
            return self._fixed
        assert self._tz is not None
        wall = dt.datetime.fromtimestamp(server_seconds, dt.UTC).replace(tzinfo=None)
        offset = wall.replace(tzinfo=self._tz).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def to_utc_ns(self, server_seconds: int) -> int:
        return (int(server_seconds) - self.offset_s(int(server_seconds))) * S_NS

    def to_server_s(self, utc_ns: int) -> int:
        """UTC (ns) as the server's epoch-seconds wall time (what copy_rates_range takes)."""
        guess = utc_ns // S_NS
        return guess + self.offset_s(guess + self.offset_s(guess))
