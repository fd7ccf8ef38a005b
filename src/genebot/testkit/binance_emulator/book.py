"""The emulated Binance spot account: markets, balances, orders and trades, with matching.

Pure state (no I/O, no locking: the server serialises access). Money is ``Decimal`` throughout.

Accounting choices (documented deviations from real Binance):

* The commission is always charged in the **quote** asset at ``fee_rate`` (maker and taker
  alike), rounded down to 8 decimals. Binance charges the received asset (base on a buy).
* A BUY therefore locks ``price×qty`` plus the commission on it (rounded up to 8 decimals), so
  the fee can always be paid from the lock; whatever is left when the order ends is released.
  A SELL locks the base quantity.
* MARKET orders (and LIMIT orders marketable on arrival) fill in full at the last price set with
  ``set_price``; resting LIMIT orders fill in full at their limit price when a later price
  crosses them.
* STOP_LOSS and TAKE_PROFIT (market on trigger) rest until a last price reaches their
  ``stopPrice``, then fill in full at that price. SELL only (what protects a spot holding); one
  that would trigger on arrival is refused as Binance refuses it.
* An OCO (POST /api/v3/orderList/oco, SELL: a LIMIT_MAKER or TAKE_PROFIT above the price, a
  STOP_LOSS below it) locks its quantity once; the first leg to fill takes the lock and the
  other expires; canceling either leg cancels the list.
"""

from __future__ import annotations

import secrets
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation

D = Decimal
ZERO = D(0)
EIGHT = D("1e-8")
OPEN = ("NEW", "PARTIALLY_FILLED")
TRIGGERED_TYPES = ("STOP_LOSS", "TAKE_PROFIT")  # market orders on trigger
ORDER_TYPES = ("MARKET", "LIMIT", "LIMIT_MAKER", *TRIGGERED_TYPES)
MAX_QTY, MAX_PRICE = D("9000"), D("1000000")
Json = dict[str, object]


class BookError(Exception):
    """A Binance error: ``code`` (e.g. -2010) and ``msg`` exactly as Binance words them."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def fmt(value: Decimal) -> str:
    """Binance's number format: 8 decimals, more only when the value needs them."""
    quantized = value.quantize(EIGHT)
    return f"{quantized:f}" if quantized == value else f"{value:f}"


def to_decimal(value: object, name: str = "value") -> Decimal:
    try:
        out = D(str(value))
    except InvalidOperation:
        out = D("NaN")
    if not out.is_finite():
        raise BookError(-1100, f"Illegal characters found in parameter '{name}'.")
    return out


@dataclass(frozen=True)
class Market:
    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal
    max_qty: Decimal = MAX_QTY
    max_price: Decimal = MAX_PRICE

    @property
    def id(self) -> str:
        return self.base + self.quote

    @classmethod
    def create(cls, symbol: str, spec: Mapping[str, str]) -> Market:
        base, quote = symbol.split("/")
        extra = {k: D(spec[k]) for k in ("max_qty", "max_price") if k in spec}
        return cls(
            symbol, base, quote, D(spec["tick"]), D(spec["step"]),
            D(spec.get("min_qty", spec["step"])), D(spec.get("min_notional", "0")), **extra,
        )  # fmt: skip

    def check(self, qty: Decimal, price: Decimal, limit: bool) -> None:
        """Binance's PRICE_FILTER, LOT_SIZE and NOTIONAL filters, in that order."""
        if limit and (price < self.tick or price > self.max_price or price % self.tick):
            raise BookError(-1013, "Filter failure: PRICE_FILTER")
        if qty < self.min_qty or qty > self.max_qty or (qty - self.min_qty) % self.step:
            raise BookError(-1013, "Filter failure: LOT_SIZE")
        if qty * price < self.min_notional:
            raise BookError(-1013, "Filter failure: NOTIONAL")


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    time: int
    lock_asset: str
    locked: Decimal = ZERO
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    stop_price: Decimal = ZERO
    list_id: int = -1

    @property
    def is_trigger(self) -> bool:
        return self.type in TRIGGERED_TYPES

    def triggers_at(self, last: Decimal) -> bool:
        """A SELL stop-loss when the price falls to its stop, a take-profit when it rises."""
        return last <= self.stop_price if self.type == "STOP_LOSS" else last >= self.stop_price

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    def to_dict(self) -> Json:
        """emu.orders(): the Binance field names, Decimals for numbers."""
        return {
            "orderId": self.order_id, "clientOrderId": self.client_order_id,
            "symbol": self.symbol, "side": self.side, "type": self.type,
            "timeInForce": self.time_in_force, "status": self.status, "price": self.price,
            "origQty": self.orig_qty, "executedQty": self.executed_qty,
            "cummulativeQuoteQty": self.cum_quote, "time": self.time,
            "updateTime": self.update_time, "locked": self.locked,
            "stopPrice": self.stop_price, "orderListId": self.list_id,
        }  # fmt: skip


@dataclass(frozen=True)
class Trade:
    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_maker: bool

    def to_dict(self) -> Json:
        return {
            "id": self.trade_id, "orderId": self.order_id,
            "clientOrderId": self.client_order_id, "symbol": self.symbol, "side": self.side,
            "price": self.price, "qty": self.qty, "quoteQty": self.price * self.qty,
            "commission": self.commission, "commissionAsset": self.commission_asset,
            "time": self.time, "isMaker": self.is_maker,
        }  # fmt: skip


@dataclass(frozen=True)
class NewOrder:
    """POST /api/v3/order's parameters, parsed (``symbol`` is the Binance id, e.g. BTCUSDT)."""

    symbol: str
    side: str
    type: str
    qty: Decimal | None = None
    price: Decimal | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None
    quote_qty: Decimal | None = None
    stop_price: Decimal | None = None


@dataclass(frozen=True)
class NewOco:
    """POST /api/v3/orderList/oco's parameters: the leg above the price and the one below."""

    symbol: str
    side: str
    qty: Decimal | None
    above: NewOrder
    below: NewOrder
    list_client_id: str | None = None


def window(
    items: Sequence[Json], key: str, start: int | None, end: int | None, limit: int
) -> list[Json]:
    """Binance's paging: from ``start`` the first ``limit`` (ascending), else the last ``limit``."""
    keys = [int(str(item[key])) for item in items]
    lo = 0 if start is None else bisect_left(keys, start)
    hi = len(items) if end is None else bisect_right(keys, end)
    chosen = list(items[lo:hi])
    return chosen[:limit] if start is not None else chosen[max(0, len(chosen) - limit) :]


@dataclass
class Book:
    """The account and its markets; ``clock`` gives the emulator's time in ms."""

    markets: dict[str, Market]
    fee_rate: Decimal
    clock: Callable[[], int]
    client_id_scope: str = "all"  # "open": like Binance, only open orders' ids are reserved
    free: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    prices: dict[str, Decimal] = field(default_factory=dict)
    lists: dict[int, tuple[str, list[int]]] = field(default_factory=dict)

    @classmethod
    def create(
        cls, markets: Mapping[str, Mapping[str, str]], balances: Mapping[str, str | Decimal],
        fee_rate: str | Decimal, clock: Callable[[], int], client_id_scope: str = "all",
    ) -> Book:  # fmt: skip
        built = [Market.create(symbol, spec) for symbol, spec in markets.items()]
        book = cls({m.id: m for m in built}, D(str(fee_rate)), clock, client_id_scope)
        for asset in {a for m in built for a in (m.base, m.quote)} | set(balances):
            book.free[asset] = D(str(balances.get(asset, "0")))
            book.locked[asset] = ZERO
        return book

    def market(self, symbol: str | None) -> Market:
        if not symbol:
            raise missing("symbol")
        if symbol.replace("/", "") not in self.markets:
            raise BookError(-1121, "Invalid symbol.")
        return self.markets[symbol.replace("/", "")]

    # --- orders ------------------------------------------------------------------------

    def place(self, req: NewOrder) -> tuple[Order, list[Trade]]:
        """Validate, lock the funds, match; raises BookError as Binance would reject it."""
        market = self.market(req.symbol)
        if req.side not in ("BUY", "SELL"):
            raise BookError(-1117, "Invalid side.")
        if req.type not in ORDER_TYPES:
            raise BookError(-1116, "Invalid orderType.")
        self._check_client_id(req.client_order_id)
        last = self.prices.get(market.id)
        qty, price = self._qty_and_price(req, market, last)
        market.check(qty, price, limit=req.type != "MARKET")
        crosses = last is not None and (last <= price if req.side == "BUY" else last >= price)
        if req.type == "LIMIT_MAKER" and crosses:
            raise BookError(-2010, "Order would immediately match and take.")
        order = self._new_order(req, market, qty, price)
        if order.is_trigger:
            crosses = self._check_trigger(order, last)
        self._lock(order, self._needed(order))
        trades = [self._fill(order, qty, last, maker=False)] if crosses and last else []
        if order.is_open and req.time_in_force in ("IOC", "FOK"):
            self._finish(order, "EXPIRED")
        return order, trades

    def _check_trigger(self, order: Order, last: Decimal | None) -> bool:
        if order.side != "SELL":
            raise BookError(-1013, "emulator: only SELL stop-loss/take-profit orders are held")
        if last is not None and order.triggers_at(last):
            raise BookError(-2010, "Order would trigger immediately.")
        return False

    def place_oco(self, req: NewOco) -> list[Order]:
        """An OCO: two orders of one list, the quantity locked once (see the module doc)."""
        market = self.market(req.symbol)
        if req.side != "SELL":
            raise BookError(-1013, "emulator: only SELL OCO lists are held")
        if req.above.type not in ("LIMIT_MAKER", "TAKE_PROFIT") or req.below.type != "STOP_LOSS":
            raise BookError(-1116, "Invalid orderType.")
        for leg in (req.above, req.below):
            self._check_client_id(leg.client_order_id)
        last = self.prices.get(market.id)
        above_px = _required(req.above.price or req.above.stop_price, "abovePrice")
        below_px = _required(req.below.stop_price, "belowStopPrice")
        if last is not None and not below_px < last < above_px:
            raise BookError(-1013, "The relationship of the prices for the orders is not correct.")
        qty = _required(req.qty, "quantity")
        for px in (above_px, below_px):
            market.check(qty, px, limit=True)
        legs = [
            self._new_order(replace(leg, qty=qty), market, qty, px)
            for leg, px in ((req.above, above_px), (req.below, below_px))
        ]
        legs[1].order_id += 1
        self._lock(legs[0], qty)
        self.orders[legs[1].order_id] = legs[1]
        list_id = max(self.lists, default=0) + 1
        list_client = req.list_client_id or secrets.token_urlsafe(16)[:22]
        self.lists[list_id] = (list_client, [o.order_id for o in legs])
        for o in legs:
            o.list_id = list_id
        return legs

    def _others_in_list(self, order: Order) -> list[Order]:
        if order.list_id < 0:
            return []
        ids = self.lists[order.list_id][1]
        return [self.orders[i] for i in ids if i != order.order_id and self.orders[i].is_open]

    def _take_list_lock(self, order: Order) -> None:
        """The leg about to fill takes the list's lock; the others expire."""
        for other in self._others_in_list(order):
            order.locked += other.locked
            other.locked = ZERO
            self._finish(other, "EXPIRED")

    def _check_client_id(self, client_id: str | None) -> None:
        if client_id is None:
            return
        scope = [o for o in self.orders.values() if o.client_order_id == client_id]
        if any(o.is_open or self.client_id_scope == "all" for o in scope):
            raise BookError(-2010, "Duplicate order sent.")

    def _qty_and_price(
        self, req: NewOrder, market: Market, last: Decimal | None
    ) -> tuple[Decimal, Decimal]:
        if req.type == "MARKET":
            if last is None:
                raise BookError(-1112, "No orders on book for symbol.")
            if req.qty is None and req.quote_qty is not None:
                return (req.quote_qty / last).quantize(market.step, ROUND_DOWN), last
            return _required(req.qty, "quantity"), last
        if req.type in TRIGGERED_TYPES:
            return _required(req.qty, "quantity"), _required(req.stop_price, "stopPrice")
        if req.type == "LIMIT" and req.time_in_force not in ("GTC", "IOC", "FOK"):
            if req.time_in_force is None:
                _required(None, "timeInForce")
            raise BookError(-1115, "Invalid timeInForce.")
        return _required(req.qty, "quantity"), _required(req.price, "price")

    def _new_order(self, req: NewOrder, market: Market, qty: Decimal, price: Decimal) -> Order:
        now = self.clock()
        client_id = req.client_order_id or secrets.token_urlsafe(16)[:22]
        market_like = req.type == "MARKET" or req.type in TRIGGERED_TYPES
        tif = "GTC" if market_like else (req.time_in_force or "GTC")
        asset = market.quote if req.side == "BUY" else market.base
        order_price = ZERO if market_like else price
        stop = price if req.type in TRIGGERED_TYPES else ZERO
        return Order(
            max(self.orders, default=0) + 1, client_id, market.id, req.side, req.type, tif,
            order_price, qty, now, asset, update_time=now, stop_price=stop,
        )  # fmt: skip

    def _needed(self, order: Order) -> Decimal:
        if order.side == "SELL":
            return order.orig_qty
        price = order.price if order.type != "MARKET" else self.prices[order.symbol]
        notional = order.orig_qty * price
        return notional + (notional * self.fee_rate).quantize(EIGHT, ROUND_UP)

    def _lock(self, order: Order, amount: Decimal) -> None:
        if self.free.get(order.lock_asset, ZERO) < amount:
            raise BookError(-2010, "Account has insufficient balance for requested action.")
        self.orders[order.order_id] = order
        self.free[order.lock_asset] -= amount
        self.locked[order.lock_asset] += amount
        order.locked = amount

    def _fill(self, order: Order, qty: Decimal, price: Decimal, maker: bool) -> Trade:
        self._take_list_lock(order)
        market = self.markets[order.symbol]
        notional = qty * price
        fee = (notional * self.fee_rate).quantize(EIGHT, ROUND_DOWN)
        spent, got_asset, got = (
            (notional + fee, market.base, qty) if order.side == "BUY"
            else (qty, market.quote, notional - fee)
        )  # fmt: skip
        order.locked -= spent
        self.locked[order.lock_asset] -= spent
        self.free[got_asset] = self.free.get(got_asset, ZERO) + got
        order.executed_qty += qty
        order.cum_quote += notional
        order.update_time = self.clock()
        trade = Trade(
            len(self.trades) + 1, order.order_id, order.client_order_id, order.symbol,
            order.side, price, qty, fee, market.quote, order.update_time, maker,
        )  # fmt: skip
        self.trades.append(trade)
        order.status = "PARTIALLY_FILLED"
        if not order.remaining:
            self._finish(order, "FILLED")
        return trade

    def _finish(self, order: Order, status: str) -> None:
        """End an order: release what is still locked for it."""
        self.free[order.lock_asset] += order.locked
        self.locked[order.lock_asset] -= order.locked
        order.locked = ZERO
        order.status = status
        order.update_time = self.clock()

    def set_price(self, symbol: str, price: Decimal) -> list[Trade]:
        """The new last price; resting LIMIT orders it crosses fill at their limit price,
        stop-loss and take-profit orders it reaches fill at it."""
        market = self.market(symbol)
        self.prices[market.id] = price
        trades = []
        for o in sorted(self.orders.values(), key=lambda o: o.order_id):
            if o.symbol != market.id or not o.is_open:  # (an OCO's other leg may just have ended)
                continue
            if o.is_trigger and o.triggers_at(price):
                trades.append(self._fill(o, o.remaining, price, maker=False))
            elif not o.is_trigger and (price <= o.price if o.side == "BUY" else price >= o.price):
                trades.append(self._fill(o, o.remaining, o.price, maker=True))
        return trades

    def find(self, symbol: str | None, order_id: int | None, client_id: str | None) -> Order:
        """One order by id or client id (both: they must agree); -2013 when there is none."""
        market = self.market(symbol)
        if order_id is None and client_id is None:
            raise BookError(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        if order_id is not None:
            found = [self.orders[order_id]] if order_id in self.orders else []
        else:
            found = [o for o in self.orders.values() if o.client_order_id == client_id][-1:]
        hits = [o for o in found if o.symbol == market.id]
        if not hits or (client_id is not None and hits[0].client_order_id != client_id):
            raise BookError(-2013, "Order does not exist.")
        return hits[0]

    def cancel(self, symbol: str | None, order_id: int | None, client_id: str | None) -> Order:
        try:
            order = self.find(symbol, order_id, client_id)
        except BookError as exc:
            if exc.code != -2013:
                raise
            raise BookError(-2011, "Unknown order sent.") from None
        if not order.is_open:
            raise BookError(-2011, "Unknown order sent.")
        self._end_with_list(order, "CANCELED")
        return order

    def _end_with_list(self, order: Order, status: str) -> None:
        """End an order and, like Binance, every open order of its list."""
        for o in [order, *self._others_in_list(order)]:
            self._finish(o, status)

    def fill(self, client_id: str, qty: Decimal | None = None) -> Order:
        """An exchange-side fill of an open order (at its limit price, else the last price)."""
        order = self._by_client_id(client_id)
        if not order.is_open:
            raise BookError(-2011, f"order {client_id} is {order.status}, not open")
        price = order.price if order.type in ("LIMIT", "LIMIT_MAKER") else self.prices[order.symbol]
        price = order.stop_price if order.is_trigger else price
        qty = order.remaining if qty is None else qty
        if not ZERO < qty <= order.remaining:
            raise BookError(-1013, f"fill qty {qty} outside (0, {order.remaining}]")
        self._fill(order, qty, price, maker=True)
        return order

    def expire(self, client_id: str, status: str = "CANCELED") -> Order:
        order = self._by_client_id(client_id)
        if order.is_open:
            self._end_with_list(order, status)
        return order

    def _by_client_id(self, client_id: str) -> Order:
        found = [o for o in self.orders.values() if o.client_order_id == client_id]
        if not found:
            raise BookError(-2013, f"Order does not exist: {client_id}")
        return found[-1]

    # --- views -------------------------------------------------------------------------

    def open_orders(self, symbol: str | None) -> list[Order]:
        market_id = self.market(symbol).id if symbol else None
        return [o for o in self.orders.values() if o.is_open and market_id in (None, o.symbol)]

    def all_orders(self, symbol: str | None) -> list[Order]:
        market_id = self.market(symbol).id
        return [o for o in self.orders.values() if o.symbol == market_id]

    def my_trades(self, symbol: str | None) -> list[Trade]:
        market_id = self.market(symbol).id
        return [t for t in self.trades if t.symbol == market_id]

    def deposit(self, asset: str, amount: Decimal) -> None:
        """Change an asset's free balance from outside (a deposit; negative: a withdrawal)."""
        if self.free.get(asset, ZERO) + amount < 0:
            raise BookError(-2010, "Account has insufficient balance for requested action.")
        self.free[asset] = self.free.get(asset, ZERO) + amount
        self.locked.setdefault(asset, ZERO)

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return {a: (self.free[a], self.locked.get(a, ZERO)) for a in sorted(self.free)}


def missing(name: str) -> BookError:
    return BookError(
        -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


def _required(value: Decimal | None, name: str) -> Decimal:
    if value is None:
        raise missing(name)
    return value
