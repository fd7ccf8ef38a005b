"""The MetaTrader5 package's constants and result types, as documented, and the stand-in's
fixtures (EURUSD as a broker lists it, the bundled bars) and helpers."""

from __future__ import annotations

import datetime as dt
import types
from collections import namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genebot.venues.mt5.retcodes import CODES

H = 0x4000
TIMEFRAMES = {
    "TIMEFRAME_M1": 1, "TIMEFRAME_M2": 2, "TIMEFRAME_M3": 3, "TIMEFRAME_M4": 4,
    "TIMEFRAME_M5": 5, "TIMEFRAME_M6": 6, "TIMEFRAME_M10": 10, "TIMEFRAME_M12": 12,
    "TIMEFRAME_M15": 15, "TIMEFRAME_M20": 20, "TIMEFRAME_M30": 30, "TIMEFRAME_H1": H | 1,
    "TIMEFRAME_H2": H | 2, "TIMEFRAME_H3": H | 3, "TIMEFRAME_H4": H | 4, "TIMEFRAME_H6": H | 6,
    "TIMEFRAME_H8": H | 8, "TIMEFRAME_H12": H | 12, "TIMEFRAME_D1": H | 24,
    "TIMEFRAME_W1": 0x8000 | 1, "TIMEFRAME_MN1": 0xC000 | 1,
}  # fmt: skip
CONSTANTS: dict[str, int] = {
    **TIMEFRAMES, **CODES,
    "ORDER_TYPE_BUY": 0, "ORDER_TYPE_SELL": 1, "ORDER_TYPE_BUY_LIMIT": 2,
    "ORDER_TYPE_SELL_LIMIT": 3, "ORDER_TYPE_BUY_STOP": 4, "ORDER_TYPE_SELL_STOP": 5,
    "ORDER_TYPE_BUY_STOP_LIMIT": 6, "ORDER_TYPE_SELL_STOP_LIMIT": 7, "ORDER_TYPE_CLOSE_BY": 8,
    "TRADE_ACTION_DEAL": 1, "TRADE_ACTION_PENDING": 5, "TRADE_ACTION_SLTP": 6,
    "TRADE_ACTION_MODIFY": 7, "TRADE_ACTION_REMOVE": 8, "TRADE_ACTION_CLOSE_BY": 10,
    "ORDER_FILLING_FOK": 0, "ORDER_FILLING_IOC": 1, "ORDER_FILLING_RETURN": 2,
    "ORDER_FILLING_BOC": 3, "ORDER_TIME_GTC": 0, "ORDER_TIME_DAY": 1,
    "ORDER_TIME_SPECIFIED": 2, "ORDER_TIME_SPECIFIED_DAY": 3,
    "ORDER_STATE_STARTED": 0, "ORDER_STATE_PLACED": 1, "ORDER_STATE_CANCELED": 2,
    "ORDER_STATE_PARTIAL": 3, "ORDER_STATE_FILLED": 4, "ORDER_STATE_REJECTED": 5,
    "ORDER_STATE_EXPIRED": 6, "DEAL_TYPE_BUY": 0, "DEAL_TYPE_SELL": 1, "DEAL_TYPE_BALANCE": 2,
    "DEAL_ENTRY_IN": 0, "DEAL_ENTRY_OUT": 1, "DEAL_ENTRY_INOUT": 2, "DEAL_ENTRY_OUT_BY": 3,
    "DEAL_REASON_CLIENT": 0, "DEAL_REASON_MOBILE": 1, "DEAL_REASON_WEB": 2,
    "DEAL_REASON_EXPERT": 3, "DEAL_REASON_SL": 4, "DEAL_REASON_TP": 5, "DEAL_REASON_SO": 6,
    "DEAL_REASON_ROLLOVER": 7, "DEAL_REASON_VMARGIN": 8, "DEAL_REASON_SPLIT": 9,
    "POSITION_TYPE_BUY": 0, "POSITION_TYPE_SELL": 1, "SYMBOL_FILLING_FOK": 1,
    "SYMBOL_FILLING_IOC": 2, "SYMBOL_TRADE_MODE_DISABLED": 0, "SYMBOL_TRADE_MODE_FULL": 4,
    "ACCOUNT_MARGIN_MODE_RETAIL_NETTING": 0, "ACCOUNT_MARGIN_MODE_RETAIL_HEDGING": 2,
    "RES_S_OK": 1, "RES_E_FAIL": -1, "RES_E_INVALID_PARAMS": -2, "RES_E_NOT_FOUND": -4,
    "RES_E_AUTH_FAILED": -6, "RES_E_INTERNAL_FAIL_CONNECT": -10004,
    "RES_E_INTERNAL_FAIL_TIMEOUT": -10005,
}  # fmt: skip
C = types.SimpleNamespace(**CONSTANTS)

SymbolInfo = namedtuple("SymbolInfo", (
    "name description path currency_base currency_profit currency_margin digits point "
    "trade_tick_size trade_tick_value trade_contract_size trade_mode trade_stops_level "
    "trade_freeze_level volume_min volume_max volume_step swap_mode swap_long swap_short "
    "swap_rollover3days filling_mode expiration_mode order_mode spread bid ask time select "
    "visible"
))  # fmt: skip
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")
AccountInfo = namedtuple("AccountInfo", (
    "login trade_mode leverage limit_orders margin_so_mode trade_allowed trade_expert "
    "margin_mode currency_digits fifo_close balance credit profit equity margin margin_free "
    "margin_level margin_so_call margin_so_so name server currency company"
))  # fmt: skip
TerminalInfo = namedtuple("TerminalInfo", (
    "community_account connected trade_allowed tradeapi_disabled dlls_allowed build "
    "maxbars ping_last company name language path data_path"
))  # fmt: skip
OrderSendResult = namedtuple(
    "OrderSendResult",
    "retcode deal order volume price bid ask comment request_id retcode_external request",
)
OrderCheckResult = namedtuple(
    "OrderCheckResult",
    "retcode balance equity profit margin margin_free margin_level comment request",
)
TradeOrder = namedtuple("TradeOrder", (
    "ticket time_setup time_setup_msc time_done time_done_msc time_expiration type "
    "type_time type_filling state magic position_id volume_initial volume_current "
    "price_open sl tp price_current symbol comment external_id"
))  # fmt: skip
TradePosition = namedtuple("TradePosition", (
    "ticket time time_msc time_update time_update_msc type magic identifier reason volume "
    "price_open sl tp price_current swap profit symbol comment external_id"
))  # fmt: skip
TradeDeal = namedtuple("TradeDeal", (
    "ticket order time time_msc type entry magic position_id reason volume price "
    "commission swap profit fee symbol comment external_id"
))  # fmt: skip
RATES = np.dtype([
    ("time", "<i8"), ("open", "<f8"), ("high", "<f8"), ("low", "<f8"), ("close", "<f8"),
    ("tick_volume", "<u8"), ("spread", "<i4"), ("real_volume", "<u8"),
])  # fmt: skip

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "forex"


def eurusd_info(**over: Any) -> Any:
    """EURUSD as a typical ECN broker lists it (5 digits, 100 000 lot, IOC fills)."""
    base = dict(
        name="EURUSD", description="Euro vs US Dollar", path="Forex\\EURUSD",
        currency_base="EUR", currency_profit="USD", currency_margin="EUR", digits=5,
        point=0.00001, trade_tick_size=0.00001, trade_tick_value=1.0,
        trade_contract_size=100000.0, trade_mode=4, trade_stops_level=10, trade_freeze_level=0,
        volume_min=0.01, volume_max=100.0, volume_step=0.01, swap_mode=1, swap_long=-6.5,
        swap_short=1.2, swap_rollover3days=3, filling_mode=2, expiration_mode=15,
        order_mode=127, spread=12, bid=0.0, ask=0.0, time=0, select=True, visible=True,
    )  # fmt: skip
    base.update(over)
    return SymbolInfo(**base)


def usdjpy_info(**over: Any) -> Any:
    """USDJPY: 3 digits, profit in JPY (booked to a USD account at the close), margin in USD."""
    base = eurusd_info()._asdict() | dict(
        name="USDJPY", description="US Dollar vs Japanese Yen", path="Forex\\USDJPY",
        currency_base="USD", currency_profit="JPY", currency_margin="USD", digits=3,
        point=0.001, trade_tick_size=0.001, trade_tick_value=0.91, swap_long=1.8,
        swap_short=-7.4, spread=14,
    )  # fmt: skip
    base.update(over)
    return SymbolInfo(**base)


USDJPY_BARS = "fxcm_USD-JPY_1h.csv"  # the bundled USD/JPY hours (February 2013)


def load_bars(path: Path | str | None = None) -> pd.DataFrame:
    """The bundled EUR/USD hourly bars (UTC index), or another bundled forex file by name."""
    if isinstance(path, str):
        path = SAMPLE / path
    frame = pd.read_csv(path or SAMPLE / "oanda_EUR-USD_1h.csv")
    frame.index = pd.to_datetime(frame.pop("timestamp"), utc=True)
    return frame


def stops_invalid(info: Any, buy: bool, sl: float, tp: float, at: float) -> bool:
    """Whether sl/tp break the broker's rule: on the loss/profit side of ``at`` (the price
    the position closes at: bid for a buy, ask for a sell; a pending order's own price) and
    at least ``trade_stops_level`` points from it."""
    least = info.trade_stops_level * info.point - 1e-12
    sign = 1 if buy else -1
    return bool((sl and (at - sl) * sign < least) or (tp and (tp - at) * sign < least))


def epoch_s(index: pd.DatetimeIndex) -> np.ndarray:
    return index.as_unit("ns").asi8 // 1_000_000_000


def seconds(value: Any) -> int:
    """A datetime (taken as written, like the terminal does) or epoch seconds."""
    if isinstance(value, dt.datetime):
        naive = value.replace(tzinfo=None)
        return int((naive - dt.datetime(1970, 1, 1)).total_seconds())
    return int(value)


def stop_hit(pos: Any, info: Any, bar: Any, closed: bool) -> tuple[float, int] | None:
    """(price, DEAL_REASON_*) of the sl/tp level a bar reaches, if any, on the price the
    position closes at (bid for a long, ask for a short); a bar still forming shows only its
    open; the stop before the target."""
    extra = 0.0 if pos.type == C.POSITION_TYPE_BUY else info.spread * info.point
    o, h, low = (float(bar[k]) + extra for k in ("open", "high", "low"))
    sign = 1 if pos.type == C.POSITION_TYPE_BUY else -1
    if pos.sl and (pos.sl - o) * sign >= 0:
        return o, C.DEAL_REASON_SL
    if pos.tp and (o - pos.tp) * sign >= 0:
        return o, C.DEAL_REASON_TP
    if not closed:
        return None
    if pos.sl and ((pos.sl - low) if sign > 0 else (h - pos.sl)) >= 0:
        return pos.sl, C.DEAL_REASON_SL
    if pos.tp and ((h - pos.tp) if sign > 0 else (pos.tp - low)) >= 0:
        return pos.tp, C.DEAL_REASON_TP
    return None
