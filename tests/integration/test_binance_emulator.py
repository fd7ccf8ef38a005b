"""The Binance spot emulator against the REAL ccxt (sync and async), pointed at it with
genebot's URL rewriter: trading, balances, klines, errors and injected faults."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import ccxt.async_support
import pytest

from genebot.testkit.binance_emulator import BinanceEmulator, Fault
from genebot.venues.ccxt.urls import rebase_urls

D = Decimal
SYMBOL = "BTC/USDT"
MARKETS = {SYMBOL: {"tick": "0.01", "step": "0.00001", "min_qty": "0.00001", "min_notional": "5"}}
OPTIONS = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}
CLIENT_TIMEOUT_MS = 1000


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(
        markets=MARKETS, balances={"USDT": "10000", "BTC": "0"}, fee_rate="0.001",
        fault_delay=CLIENT_TIMEOUT_MS / 1000 + 0.5,
    ) as running:  # fmt: skip
        running.set_price(SYMBOL, "50000")
        yield running


def connect(
    emu: BinanceEmulator, *, sandbox: bool = True, module: Any = ccxt, **options: Any
) -> Any:
    ex = module.binance(
        {
            "apiKey": options.pop("apiKey", emu.api_key),
            "secret": options.pop("secret", emu.secret),
            "enableRateLimit": False,
            "timeout": CLIENT_TIMEOUT_MS,
            "options": {**OPTIONS, **options},
        }
    )
    rebase_urls(ex, emu.url)
    if sandbox:
        ex.set_sandbox_mode(True)
    return ex


@pytest.fixture
def ex(emu: BinanceEmulator) -> Any:
    exchange = connect(emu)
    exchange.load_markets()
    return exchange


@pytest.fixture
def funded(emu: BinanceEmulator) -> BinanceEmulator:
    emu.deposit("BTC", "1")
    return emu


def orders_with(emu: BinanceEmulator, client_id: str) -> list[dict[str, object]]:
    return [o for o in emu.orders() if o["clientOrderId"] == client_id]


def posts_with(emu: BinanceEmulator, client_id: str) -> int:
    return sum(
        1
        for method, path, params in emu.requests
        if (method, path) == ("POST", "/api/v3/order")
        and params.get("newClientOrderId") == client_id
    )


# --- markets, balances, trading ----------------------------------------------------------


@pytest.mark.parametrize("sandbox", [True, False], ids=["sandbox", "live-urls"])
def test_load_markets_and_trade_with_and_without_sandbox(
    emu: BinanceEmulator, sandbox: bool
) -> None:
    ex = connect(emu, sandbox=sandbox)
    market = ex.load_markets()[SYMBOL]
    assert (market["id"], market["spot"], market["active"]) == ("BTCUSDT", True, True)
    assert market["precision"]["amount"] == 0.00001 and market["precision"]["price"] == 0.01
    assert market["limits"]["amount"]["min"] == 0.00001
    assert market["limits"]["cost"]["min"] == 5.0
    assert ex.fetch_balance()["USDT"]["free"] == 10000.0
    order = ex.create_order(SYMBOL, "market", "buy", 0.001)
    assert [t["order"] for t in ex.fetch_my_trades(SYMBOL)] == [order["id"]]
    # ccxt's live URLs also load the margin pairs (sapi, signed); the sandbox skips them
    sapi = [path for _, path, _ in emu.requests if path.startswith("/sapi/")]
    assert sapi == (
        [] if sandbox else ["/sapi/v1/margin/allPairs", "/sapi/v1/margin/isolated/allPairs"]
    )


def test_market_buy_fills_at_the_price_with_commission(emu: BinanceEmulator, ex: Any) -> None:
    order = ex.create_order(SYMBOL, "market", "buy", 0.002)
    assert (order["status"], order["filled"], order["average"]) == ("closed", 0.002, 50000.0)
    assert order["fee"] == {"currency": "USDT", "cost": 0.1}
    assert emu.balances() == {"BTC": (D("0.002"), D(0)), "USDT": (D("9899.9"), D(0))}
    (trade,) = emu.trades()
    assert (trade["price"], trade["qty"], trade["commission"]) == (D(50000), D("0.002"), D("0.1"))
    ex.create_order(SYMBOL, "market", "sell", 0.002)
    assert emu.balances() == {"BTC": (D(0), D(0)), "USDT": (D("9999.8"), D(0))}
    balance = ex.fetch_balance()
    assert (balance["USDT"]["total"], balance["BTC"]["total"]) == (9999.8, 0.0)


def test_limit_order_rests_then_fills_when_the_price_crosses(emu: BinanceEmulator, ex: Any) -> None:
    order = ex.create_order(SYMBOL, "limit", "buy", 0.001, 49000)
    assert order["status"] == "open"
    assert emu.balances()["USDT"] == (D("9950.951"), D("49.049"))  # price×qty + fee locked
    assert [o["id"] for o in ex.fetch_open_orders(SYMBOL)] == [order["id"]]
    emu.set_price(SYMBOL, "49500")
    assert ex.fetch_order(order["id"], SYMBOL)["status"] == "open"
    emu.set_price(SYMBOL, "48900")
    done = ex.fetch_order(order["id"], SYMBOL)
    assert (done["status"], done["filled"], done["average"]) == ("closed", 0.001, 49000.0)
    assert ex.fetch_open_orders(SYMBOL) == []
    (trade,) = ex.fetch_my_trades(SYMBOL)
    assert (trade["order"], trade["price"], trade["amount"]) == (order["id"], 49000.0, 0.001)
    assert trade["takerOrMaker"] == "maker" and trade["fee"]["cost"] == 0.049
    assert emu.balances() == {"BTC": (D("0.001"), D(0)), "USDT": (D("9950.951"), D(0))}


def test_marketable_limit_order_fills_at_once_as_taker(emu: BinanceEmulator, ex: Any) -> None:
    order = ex.create_order(SYMBOL, "limit", "buy", 0.001, 51000)
    assert (order["status"], order["average"]) == ("closed", 50000.0)
    assert order["trades"][0]["price"] == 50000.0
    assert emu.balances()["USDT"] == (D("9949.95"), D(0))  # the unused lock came back
    ioc = ex.create_order(SYMBOL, "limit", "buy", 0.001, 40000, {"timeInForce": "IOC"})
    assert ioc["status"] == "expired"
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        ex.create_order(SYMBOL, "limit", "buy", 0.001, 60000, {"postOnly": True})


def test_fetch_order_by_client_order_id(funded: BinanceEmulator, ex: Any) -> None:
    placed = ex.create_order(SYMBOL, "limit", "sell", 0.001, 60000, {"clientOrderId": "gb-1"})
    assert placed["clientOrderId"] == "gb-1"
    funded.fill_while_down("gb-1", "0.0004")  # a partial fill, on the exchange side
    for key in ("origClientOrderId", "clientOrderId"):
        got = ex.fetch_order(None, SYMBOL, {key: "gb-1"})
        assert (got["id"], got["status"], got["filled"]) == (placed["id"], "open", 0.0004)
    _, _, params = funded.requests[-1]
    assert params["origClientOrderId"] == "gb-1" and "orderId" not in params
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order(None, SYMBOL, {"origClientOrderId": "nope"})


def test_cancel_releases_the_lock(funded: BinanceEmulator, ex: Any) -> None:
    order = ex.create_order(SYMBOL, "limit", "sell", 0.5, 60000, {"clientOrderId": "c-1"})
    assert funded.balances()["BTC"] == (D("0.5"), D("0.5"))
    canceled = ex.cancel_order(None, SYMBOL, {"clientOrderId": "c-1"})
    assert (canceled["id"], canceled["status"]) == (order["id"], "canceled")
    assert funded.balances()["BTC"] == (D(1), D(0))
    assert orders_with(funded, "c-1")[0]["status"] == "CANCELED"
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order(order["id"], SYMBOL)  # -2011: no longer open
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("999", SYMBOL)  # -2013


def test_fetch_ohlcv_returns_the_added_klines(emu: BinanceEmulator, ex: Any) -> None:
    rows = [(i * 60_000, "100", "110", "90", str(100 + i), "2.5") for i in range(10, 0, -1)]
    emu.add_klines(SYMBOL, "1m", rows)
    first = ex.fetch_ohlcv(SYMBOL, "1m", since=180_000, limit=3)
    assert first == [
        [t, 100.0, 110.0, 90.0, 100.0 + t // 60_000, 2.5] for t in (180_000, 240_000, 300_000)
    ]
    assert [c[0] for c in ex.fetch_ohlcv(SYMBOL, "1m", limit=2)] == [540_000, 600_000]
    until = ex.fetch_ohlcv(SYMBOL, "1m", limit=2, params={"until": 300_000})
    assert [c[0] for c in until] == [240_000, 300_000]
    assert ex.fetch_ohlcv(SYMBOL, "5m") == []


def test_market_data_endpoints(emu: BinanceEmulator, ex: Any) -> None:
    assert ex.fetch_ticker(SYMBOL)["last"] == 50000.0
    book = ex.fetch_order_book(SYMBOL)
    assert (book["bids"][0][0], book["asks"][0][0]) == (49999.99, 50000.01)
    emu.clock_offset_ms = 42_000
    assert abs(ex.fetch_time() - (time.time() * 1000 + 42_000)) < 1_000
    emu.now_ms = 1_700_000_000_000  # a frozen clock (the offset still applies)
    assert ex.fetch_time() == 1_700_000_042_000
    assert ex.public_get_ping() == {}


# --- refusals ------------------------------------------------------------------------------


def test_insufficient_balance_is_insufficient_funds(emu: BinanceEmulator, ex: Any) -> None:
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(SYMBOL, "market", "buy", 1)
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(SYMBOL, "limit", "sell", 0.001, 60000)
    assert emu.orders() == [] and emu.balances()["USDT"] == (D(10000), D(0))


@pytest.mark.parametrize(
    ("amount", "price", "error"),
    [
        (9001, 1, ccxt.InvalidOrder),  # LOT_SIZE (maxQty 9000)
        (0.001, 2_000_000, ccxt.InvalidOrder),  # PRICE_FILTER (maxPrice 1000000)
        (0.00001, 40000, ccxt.BadRequest),  # NOTIONAL: -1013 is BadRequest in ccxt
    ],
    ids=["LOT_SIZE", "PRICE_FILTER", "NOTIONAL"],
)
def test_filter_failures(
    emu: BinanceEmulator, ex: Any, amount: float, price: float, error: type
) -> None:
    with pytest.raises(error) as raised:
        ex.create_order(SYMBOL, "limit", "buy", amount, price)
    assert type(raised.value) is error and "Filter failure" in str(raised.value)
    assert emu.orders() == []


def test_duplicate_client_order_id_is_refused(emu: BinanceEmulator, ex: Any) -> None:
    ex.create_order(SYMBOL, "limit", "buy", 0.001, 40000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent") as raised:
        ex.create_order(SYMBOL, "limit", "buy", 0.001, 40000, {"clientOrderId": "dup"})
    assert type(raised.value) is ccxt.InvalidOrder  # not DuplicateOrderId
    assert len(orders_with(emu, "dup")) == 1 and posts_with(emu, "dup") == 2
    assert emu.balances()["USDT"][1] == D("40.04")  # only the first order's lock


def test_retry_after_an_executed_timeout_is_refused_not_doubled(
    emu: BinanceEmulator, ex: Any
) -> None:
    emu.inject(Fault.EXECUTED_TIMEOUT)
    with pytest.raises(ccxt.RequestTimeout):
        ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"clientOrderId": "idem"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate"):
        ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"clientOrderId": "idem"})
    assert [o["status"] for o in orders_with(emu, "idem")] == ["FILLED"]
    assert emu.balances()["BTC"] == (D("0.001"), D(0))


def test_client_id_scope_open_allows_reuse_after_a_fill() -> None:
    with BinanceEmulator(MARKETS, {"USDT": "1000"}, client_id_scope="open") as emu:
        emu.set_price(SYMBOL, "100")
        emu.place_foreign_order(SYMBOL, "BUY", "0.1", type="MARKET", client_order_id="x")
        emu.place_foreign_order(SYMBOL, "BUY", "0.1", type="MARKET", client_order_id="x")
        assert [o["status"] for o in orders_with(emu, "x")] == ["FILLED", "FILLED"]


def test_bad_secret_and_unknown_key_are_authentication_errors(emu: BinanceEmulator) -> None:
    wrong: list[dict[str, Any]] = [{"secret": "0" * 64}, {"apiKey": "f" * 64}]
    for creds in wrong:
        ex = connect(emu, **creds)
        ex.load_markets()  # public: fine
        with pytest.raises(ccxt.AuthenticationError) as raised:
            ex.create_order(SYMBOL, "market", "buy", 0.001)
        assert ("-1022" if "secret" in creds else "-2015") in str(raised.value)
    assert emu.orders() == []


def test_clock_skew_uses_the_real_timestamp_check(emu: BinanceEmulator, ex: Any) -> None:
    emu.clock_offset_ms = 60_000  # our requests look 60 s old: outside recvWindow
    with pytest.raises(ccxt.InvalidNonce, match="recvWindow"):
        ex.fetch_balance()
    assert ex.fetch_ticker(SYMBOL)["last"] == 50000.0  # public endpoints do not care
    adjusted = connect(emu, adjustForTimeDifference=True)
    adjusted.load_markets()  # fetches /api/v3/time and shifts ccxt's nonce
    assert adjusted.fetch_balance()["USDT"]["free"] == 10000.0
    emu.clock_offset_ms = -3_000  # our requests are 3 s ahead: Binance refuses > 1 s ahead
    with pytest.raises(ccxt.InvalidNonce, match="ahead"):
        ex.fetch_balance()
    emu.clock_offset_ms = -500
    assert ex.fetch_balance()["USDT"]["free"] == 10000.0


# --- injected faults -----------------------------------------------------------------------

FAULTS = [
    # fault, the ccxt exception (exact class; None: no exception), is the order placed?
    (Fault.RATE_LIMIT, ccxt.DDoSProtection, False),
    (Fault.IP_BAN, ccxt.DDoSProtection, False),
    (Fault.SERVER_ERROR, ccxt.ExchangeNotAvailable, False),
    (Fault.TIMEOUT, ccxt.RequestTimeout, False),
    (Fault.EXECUTED_TIMEOUT, ccxt.RequestTimeout, True),
    (Fault.DROP, ccxt.NetworkError, True),
    (Fault.GARBAGE, None, True),
    (Fault.CLOCK_SKEW, ccxt.InvalidNonce, False),
]


@pytest.mark.parametrize(("fault", "error", "placed"), FAULTS, ids=[f[0].name for f in FAULTS])
def test_fault_scenarios(
    emu: BinanceEmulator, ex: Any, fault: Fault, error: type | None, placed: bool
) -> None:
    emu.inject(fault)
    started = time.monotonic()
    if error is None:  # ccxt swallows a non-JSON 200: an order structure with no id
        order = ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"clientOrderId": "f-1"})
        assert order["id"] is None and order["status"] is None and order["info"] == "<html>oops"
    else:
        with pytest.raises(error) as raised:
            ex.create_order(SYMBOL, "market", "buy", 0.001, None, {"clientOrderId": "f-1"})
        assert type(raised.value) is error
    assert time.monotonic() - started < CLIENT_TIMEOUT_MS / 1000 + 0.4
    assert len(orders_with(emu, "f-1")) == int(placed) and posts_with(emu, "f-1") == 1
    assert ex.create_order(SYMBOL, "market", "buy", 0.001)["status"] == "closed"  # once only


def test_rate_limit_reply_carries_retry_after(emu: BinanceEmulator) -> None:
    emu.inject(Fault.RATE_LIMIT, path="/api/v3/ping", method="GET")
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(emu.url + "/api/v3/ping", timeout=2)
    assert (raised.value.code, raised.value.headers["Retry-After"]) == (429, "1")
    assert b'"code":-1003' in raised.value.read()


def test_stop_does_not_wait_for_a_delayed_reply() -> None:
    emu = BinanceEmulator(MARKETS, {"USDT": "100"}, fault_delay=30).start()
    ex = connect(emu, sandbox=False, fetchMargins=False)
    ex.timeout = 300
    emu.inject(Fault.TIMEOUT, path="/api/v3/time", method="GET")
    with pytest.raises(ccxt.RequestTimeout):
        ex.fetch_time()
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 2.0


# --- withdrawals, reconciliation helpers, async ------------------------------------------


@pytest.mark.parametrize("can_withdraw", [False, True])
def test_api_restrictions_reports_withdrawals(emu: BinanceEmulator, can_withdraw: bool) -> None:
    emu.can_withdraw = can_withdraw
    ex = connect(emu, sandbox=False)
    assert ex.sapi_get_account_apirestrictions()["enableWithdrawals"] is can_withdraw
    assert ex.private_get_account()["canWithdraw"] is can_withdraw
    with pytest.raises(ccxt.NotSupported):  # ccxt has no sandbox URL for sapi at all
        connect(emu).sapi_get_account_apirestrictions()


def test_exchange_side_changes(funded: BinanceEmulator, ex: Any) -> None:
    ex.create_order(SYMBOL, "limit", "sell", 0.3, 60000, {"clientOrderId": "r-1"})
    ex.create_order(SYMBOL, "limit", "sell", 0.3, 61000, {"clientOrderId": "r-2"})
    funded.fill_while_down("r-1")
    funded.cancel_on_exchange("r-2")
    foreign = funded.place_foreign_order(SYMBOL, "SELL", "0.1", "65000")
    assert str(foreign["clientOrderId"]).startswith("web_")
    opened = ex.fetch_open_orders(SYMBOL)
    assert [o["clientOrderId"] for o in opened] == [foreign["clientOrderId"]]
    by_cid = {o["clientOrderId"]: o["status"] for o in ex.fetch_orders(SYMBOL)}
    assert (by_cid["r-1"], by_cid["r-2"]) == ("closed", "canceled")
    assert [t["price"] for t in ex.fetch_my_trades(SYMBOL)] == [60000.0]
    assert funded.balances()["BTC"] == (D("0.6"), D("0.1"))
    assert funded.balances()["USDT"] == (D(10000) + D(18000) - D(18), D(0))


def test_async_ccxt(emu: BinanceEmulator) -> None:
    async def run() -> tuple[Any, Any, type]:
        ex = connect(emu, module=ccxt.async_support)
        try:
            await ex.load_markets()
            order = await ex.create_order(SYMBOL, "market", "buy", 0.001)
            balance = await ex.fetch_balance()
            emu.inject(Fault.DROP)
            try:
                await ex.create_order(SYMBOL, "market", "buy", 0.001)
            except ccxt.BaseError as exc:
                return order, balance, type(exc)
            raise AssertionError("DROP raised nothing")
        finally:
            await ex.close()

    order, balance, dropped = asyncio.run(run())
    assert (order["status"], order["average"], balance["BTC"]["free"]) == ("closed", 50000.0, 0.001)
    assert dropped is ccxt.ExchangeNotAvailable  # aiohttp: ServerDisconnectedError
    assert [o["status"] for o in emu.orders()] == ["FILLED", "FILLED"]  # the dropped one too
