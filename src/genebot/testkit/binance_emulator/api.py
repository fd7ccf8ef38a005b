"""The emulator's REST endpoints: request params in, the Binance spot JSON shapes ccxt parses
out (numbers as Binance's 8-decimal strings), plus the kline table. No I/O: ``server`` does HTTP,
authentication and faults."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from genebot.testkit.binance_emulator.book import (
    ZERO,
    Book,
    BookError,
    Json,
    Market,
    NewOco,
    NewOrder,
    Order,
    Trade,
    fmt,
    to_decimal,
    window,
)

Params = dict[str, str]
Handler = Callable[[Params], object]

INTERVALS_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
    "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000, "6h": 21_600_000,
    "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000, "3d": 259_200_000,
    "1w": 604_800_000, "1M": 0,
}  # fmt: skip
_RESULT_KEYS = (
    "price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type",
    "side", "workingTime", "selfTradePreventionMode", "origQuoteOrderQty",
)  # fmt: skip
_CANCEL_DROPS = ("time", "updateTime", "isWorking", "workingTime", "stopPrice", "icebergQty")
LEVEL_QTY = "100.00000000"


def order_json(o: Order) -> Json:
    """GET /api/v3/order's shape."""
    return {
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": o.list_id,
        "clientOrderId": o.client_order_id, "price": fmt(o.price), "origQty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty), "cummulativeQuoteQty": fmt(o.cum_quote),
        "status": o.status, "timeInForce": o.time_in_force, "type": o.type, "side": o.side,
        "stopPrice": fmt(o.stop_price), "icebergQty": fmt(ZERO), "time": o.time,
        "updateTime": o.update_time, "isWorking": o.is_open and not o.is_trigger,
        "workingTime": o.time,
        "origQuoteOrderQty": fmt(ZERO), "selfTradePreventionMode": "EXPIRE_MAKER",
    }  # fmt: skip


def trade_json(t: Trade) -> Json:
    """GET /api/v3/myTrades' shape."""
    return {
        "symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
        "price": fmt(t.price), "qty": fmt(t.qty), "quoteQty": fmt(t.price * t.qty),
        "commission": fmt(t.commission), "commissionAsset": t.commission_asset,
        "time": t.time, "isBuyer": t.side == "BUY", "isMaker": t.is_maker, "isBestMatch": True,
    }  # fmt: skip


def fill_json(t: Trade) -> Json:
    return {
        "price": fmt(t.price), "qty": fmt(t.qty), "commission": fmt(t.commission),
        "commissionAsset": t.commission_asset, "tradeId": t.trade_id,
    }  # fmt: skip


def order_reply(order: Order, trades: Sequence[Trade], resp_type: str) -> Json:
    """POST /api/v3/order's reply in the ACK, RESULT or FULL (with ``fills``) shape."""
    reply: Json = {
        "symbol": order.symbol, "orderId": order.order_id, "orderListId": order.list_id,
        "clientOrderId": order.client_order_id, "transactTime": order.update_time,
    }  # fmt: skip
    if order.is_trigger:
        reply["stopPrice"] = fmt(order.stop_price)
    if resp_type == "ACK":
        return reply
    full = order_json(order)
    reply |= {key: full[key] for key in _RESULT_KEYS}
    if resp_type == "FULL":
        reply["fills"] = [fill_json(t) for t in trades]
    return reply


def oco_reply(legs: Sequence[Order], list_client_id: str, now: int) -> Json:
    """POST /api/v3/orderList/oco's reply: the list, its orders, a report per order."""
    return {
        "orderListId": legs[0].list_id, "contingencyType": "OCO",
        "listStatusType": "EXEC_STARTED", "listOrderStatus": "EXECUTING",
        "listClientOrderId": list_client_id, "transactionTime": now, "symbol": legs[0].symbol,
        "orders": [
            {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
            for o in legs
        ],
        "orderReports": [order_reply(o, (), "RESULT") for o in legs],
    }  # fmt: skip


def cancel_reply(order: Order, cancel_id: str | None, now: int) -> Json:
    """DELETE /api/v3/order's reply: like Binance, ``clientOrderId`` is the *cancel's* id
    (``newClientOrderId``, random if not sent) and ``origClientOrderId`` the order's."""
    reply = {k: v for k, v in order_json(order).items() if k not in _CANCEL_DROPS}
    cancel_id = cancel_id or secrets.token_urlsafe(16)[:22]
    ids = {"origClientOrderId": order.client_order_id, "clientOrderId": cancel_id}
    return reply | ids | {"transactTime": now}


def symbol_json(m: Market) -> Json:
    """One exchangeInfo symbol with the filters ccxt reads for precision and limits."""
    return {
        "symbol": m.id, "status": "TRADING", "baseAsset": m.base, "baseAssetPrecision": 8,
        "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "TAKE_PROFIT"],
        "icebergAllowed": False, "ocoAllowed": True, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False, "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": fmt(m.tick),
             "maxPrice": fmt(m.max_price), "tickSize": fmt(m.tick)},
            {"filterType": "LOT_SIZE", "minQty": fmt(m.min_qty), "maxQty": fmt(m.max_qty),
             "stepSize": fmt(m.step)},
            {"filterType": "NOTIONAL", "minNotional": fmt(m.min_notional),
             "applyMinToMarket": True, "maxNotional": "9000000.00000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
        "permissions": ["SPOT"], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }  # fmt: skip


def exchange_info(markets: Iterable[Market], now: int) -> Json:
    limits = [("REQUEST_WEIGHT", "MINUTE", 1, 6000), ("ORDERS", "SECOND", 10, 100)]
    return {
        "timezone": "UTC", "serverTime": now, "exchangeFilters": [],
        "rateLimits": [
            {"rateLimitType": k, "interval": i, "intervalNum": n, "limit": lim}
            for k, i, n, lim in limits
        ],
        "symbols": [symbol_json(m) for m in markets],
    }  # fmt: skip


def quote(m: Market, last: Decimal) -> tuple[Decimal, Decimal]:
    """The emulated 1-level book: one tick either side of the last price (none without one)."""
    return (max(last - m.tick, ZERO), last + m.tick) if last else (ZERO, ZERO)


def ticker_json(m: Market, last: Decimal, now: int) -> Json:
    bid, ask = quote(m, last)
    return {
        "symbol": m.id, "priceChange": fmt(ZERO), "priceChangePercent": "0.000",
        "weightedAvgPrice": fmt(last), "prevClosePrice": fmt(last), "lastPrice": fmt(last),
        "lastQty": fmt(ZERO), "bidPrice": fmt(bid), "bidQty": LEVEL_QTY, "askPrice": fmt(ask),
        "askQty": LEVEL_QTY, "openPrice": fmt(last), "highPrice": fmt(last),
        "lowPrice": fmt(last), "volume": fmt(ZERO), "quoteVolume": fmt(ZERO),
        "openTime": now - 86_400_000, "closeTime": now, "firstId": -1, "lastId": -1, "count": 0,
    }  # fmt: skip


def depth_json(m: Market, last: Decimal, update_id: int) -> Json:
    bid, ask = quote(m, last)
    bids, asks = ([[fmt(bid), LEVEL_QTY]], [[fmt(ask), LEVEL_QTY]]) if last else ([], [])
    return {"lastUpdateId": update_id, "bids": bids, "asks": asks}


def account_json(
    balances: dict[str, tuple[Decimal, Decimal]], fee: Decimal, can_withdraw: bool, now: int,
    omit_zero: bool = False,
) -> Json:  # fmt: skip
    rows = [
        {"asset": a, "free": fmt(free), "locked": fmt(locked)}
        for a, (free, locked) in balances.items() if free or locked or not omit_zero
    ]  # fmt: skip
    bps = int(fee * 10_000)
    return {
        "makerCommission": bps, "takerCommission": bps, "buyerCommission": 0,
        "sellerCommission": 0, "commissionRates": {
            "maker": fmt(fee), "taker": fmt(fee), "buyer": fmt(ZERO), "seller": fmt(ZERO)},
        "canTrade": True, "canWithdraw": can_withdraw, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now,
        "accountType": "SPOT", "balances": rows, "permissions": ["SPOT"], "uid": 1,
    }  # fmt: skip


def api_restrictions_json(can_withdraw: bool, now: int) -> Json:
    """GET /sapi/v1/account/apiRestrictions: a trading key; withdrawals per ``can_withdraw``."""
    return {
        "ipRestrict": False, "createTime": now, "enableReading": True,
        "enableSpotAndMarginTrading": True, "enableWithdrawals": can_withdraw,
        "enableInternalTransfer": False, "enableMargin": False, "enableFutures": False,
        "permitsUniversalTransfer": False, "enableVanillaOptions": False,
        "enablePortfolioMarginTrading": False,
    }  # fmt: skip


def close_time(open_ms: int, interval: str) -> int:
    if interval != "1M":
        return open_ms + INTERVALS_MS[interval] - 1
    start = datetime.fromtimestamp(open_ms / 1000, UTC)
    nxt = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    return int(nxt.timestamp() * 1000) - 1


def _interval(interval: str | None) -> str:
    if interval not in INTERVALS_MS:
        raise BookError(-1120, "Invalid interval.")
    return interval


@dataclass
class Klines:
    """Candles per (market id, interval), served as GET /api/v3/klines rows."""

    tables: dict[tuple[str, str], dict[int, Json]] = field(default_factory=dict)

    def add(self, market_id: str, interval: str, rows: Iterable[Sequence[object]]) -> None:
        """Rows of (open_ms, open, high, low, close, volume); a repeated open_ms replaces."""
        table = self.tables.setdefault((market_id, _interval(interval)), {})
        for row in rows:
            t = int(str(row[0]))
            ohlcv = [fmt(to_decimal(x)) for x in row[1:6]]
            table[t] = {"t": t, "row": [t, *ohlcv, close_time(t, interval), "0", 0, "0", "0", "0"]}
        self.tables[(market_id, interval)] = dict(sorted(table.items()))

    def rows(
        self, market_id: str, interval: str | None, start: int | None, end: int | None, limit: int
    ) -> list[object]:
        """Binance's selection: open time in [startTime, endTime]; the first ``limit`` from
        ``startTime``, else the last ``limit``; ascending."""
        items = list(self.tables.get((market_id, _interval(interval)), {}).values())
        return [item["row"] for item in window(items, "t", start, end, limit)]


def param_int(params: Params, name: str) -> int | None:
    if name not in params:
        return None
    if not params[name].lstrip("-").isdigit():
        raise BookError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
        )
    return int(params[name])


def param_dec(params: Params, name: str) -> Decimal | None:
    return to_decimal(params[name], name) if params.get(name) else None


@dataclass
class Endpoints:
    """The REST endpoints: request params in, Binance JSON out (raise BookError to refuse).
    Called under the emulator's lock; the server authenticates the signed ones first."""

    book: Book
    clock: Callable[[], int]
    can_withdraw: bool = False
    klines: Klines = field(default_factory=Klines)

    def routes(self) -> dict[tuple[str, str], tuple[bool, Handler]]:
        """(method, path) -> (signed, handler)."""
        return {
            ("GET", "/api/v3/ping"): (False, lambda p: {}),
            ("GET", "/api/v3/time"): (False, lambda p: {"serverTime": self.clock()}),
            ("GET", "/api/v3/exchangeInfo"): (False, self._exchange_info),
            ("GET", "/api/v3/klines"): (False, self._klines),
            ("GET", "/api/v3/ticker/24hr"): (False, self._ticker_24hr),
            ("GET", "/api/v3/ticker/price"): (False, self._ticker_price),
            ("GET", "/api/v3/depth"): (False, self._depth),
            ("GET", "/api/v3/account"): (True, self._account),
            ("POST", "/api/v3/order"): (True, self._new_order),
            ("POST", "/api/v3/orderList/oco"): (True, self._new_oco),
            ("GET", "/api/v3/order"): (True, self._get_order),
            ("DELETE", "/api/v3/order"): (True, self._cancel_order),
            ("GET", "/api/v3/openOrders"): (True, self._open_orders),
            ("GET", "/api/v3/allOrders"): (True, self._all_orders),
            ("GET", "/api/v3/myTrades"): (True, self._my_trades),
            ("GET", "/sapi/v1/account/apiRestrictions"): (True, self._api_restrictions),
            ("GET", "/sapi/v1/margin/allPairs"): (True, lambda p: []),
            ("GET", "/sapi/v1/margin/isolated/allPairs"): (True, lambda p: []),
        }

    def _markets(self, params: Params) -> list[Market]:
        if "symbol" in params:
            return [self.book.market(params["symbol"])]
        if "symbols" in params:
            return [self.book.market(s) for s in json.loads(params["symbols"])]
        return list(self.book.markets.values())

    def _exchange_info(self, params: Params) -> Json:
        return exchange_info(self._markets(params), self.clock())

    def _klines(self, params: Params) -> object:
        market = self.book.market(params.get("symbol"))
        limit = min(param_int(params, "limit") or 500, 1000)
        start, end = param_int(params, "startTime"), param_int(params, "endTime")
        return self.klines.rows(market.id, params.get("interval"), start, end, limit)

    def _last(self, m: Market) -> Decimal:
        return self.book.prices.get(m.id, ZERO)

    def _ticker_24hr(self, params: Params) -> object:
        rows = [ticker_json(m, self._last(m), self.clock()) for m in self._markets(params)]
        return rows[0] if "symbol" in params else rows

    def _ticker_price(self, params: Params) -> object:
        rows = [{"symbol": m.id, "price": fmt(self._last(m))} for m in self._markets(params)]
        return rows[0] if "symbol" in params else rows

    def _depth(self, params: Params) -> Json:
        market = self.book.market(params.get("symbol"))
        return depth_json(market, self._last(market), len(self.book.trades) + 1)

    def _account(self, params: Params) -> Json:
        omit = params.get("omitZeroBalances") == "true"
        return account_json(
            self.book.balances(), self.book.fee_rate, self.can_withdraw, self.clock(), omit
        )

    def _new_order(self, params: Params) -> Json:
        req = NewOrder(
            params.get("symbol", ""), params.get("side", ""), params.get("type", ""),
            param_dec(params, "quantity"), param_dec(params, "price"), params.get("timeInForce"),
            params.get("newClientOrderId") or None, param_dec(params, "quoteOrderQty"),
            param_dec(params, "stopPrice"),
        )  # fmt: skip
        order, trades = self.book.place(req)
        default = "FULL" if order.type in ("MARKET", "LIMIT") else "ACK"
        return order_reply(order, trades, params.get("newOrderRespType", default))

    def _new_oco(self, params: Params) -> Json:
        symbol, side = params.get("symbol", ""), params.get("side", "")

        def leg(at: str) -> NewOrder:
            return NewOrder(
                symbol, side, params.get(f"{at}Type", ""), None, param_dec(params, f"{at}Price"),
                params.get(f"{at}TimeInForce"), params.get(f"{at}ClientOrderId") or None,
                None, param_dec(params, f"{at}StopPrice"),
            )  # fmt: skip

        req = NewOco(
            symbol, side, param_dec(params, "quantity"), leg("above"), leg("below"),
            params.get("listClientOrderId") or None,
        )  # fmt: skip
        legs = self.book.place_oco(req)
        return oco_reply(legs, self.book.lists[legs[0].list_id][0], self.clock())

    def _lookup(self, params: Params) -> tuple[str | None, int | None, str | None]:
        return params.get("symbol"), param_int(params, "orderId"), params.get("origClientOrderId")

    def _get_order(self, params: Params) -> Json:
        return order_json(self.book.find(*self._lookup(params)))

    def _cancel_order(self, params: Params) -> Json:
        order = self.book.cancel(*self._lookup(params))
        return cancel_reply(order, params.get("newClientOrderId"), self.clock())

    def _open_orders(self, params: Params) -> list[Json]:
        return [order_json(o) for o in self.book.open_orders(params.get("symbol"))]

    def _all_orders(self, params: Params) -> list[Json]:
        rows = [order_json(o) for o in self.book.all_orders(params.get("symbol"))]
        limit = min(param_int(params, "limit") or 500, 1000)
        if "orderId" in params:
            return window(rows, "orderId", param_int(params, "orderId"), None, limit)
        return window(
            rows, "time", param_int(params, "startTime"), param_int(params, "endTime"), limit
        )

    def _my_trades(self, params: Params) -> list[Json]:
        rows = [trade_json(t) for t in self.book.my_trades(params.get("symbol"))]
        if "orderId" in params:
            rows = [r for r in rows if r["orderId"] == param_int(params, "orderId")]
        limit = min(param_int(params, "limit") or 500, 1000)
        if "fromId" in params:
            return window(rows, "id", param_int(params, "fromId"), None, limit)
        return window(
            rows, "time", param_int(params, "startTime"), param_int(params, "endTime"), limit
        )

    def _api_restrictions(self, params: Params) -> Json:
        return api_restrictions_json(self.can_withdraw, self.clock())
