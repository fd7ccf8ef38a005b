"""The MetaTrader5 package's constants and result types, as documented (for the stand-in)."""

from __future__ import annotations

import types
from collections import namedtuple

import numpy as np

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
