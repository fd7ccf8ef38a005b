"""A local Binance spot REST exchange that the real ccxt trades against (aiohttp, own thread).

Point ccxt at it with ``rebase_urls(exchange, emu.url)`` (with or without ``set_sandbox_mode``).
Signed endpoints check the ``X-MBX-APIKEY`` key, the HMAC-SHA256 signature of the query string
(plus the body) and Binance's timestamp rule: a ``timestamp`` more than 1000 ms ahead of
``emu.now_ms``, or more than ``recvWindow`` (default 5000) behind it, gets -1021.

Faults (``inject``) hit the next matching requests. RATE_LIMIT, IP_BAN, SERVER_ERROR, TIMEOUT and
CLOCK_SKEW answer *instead of* executing; EXECUTED_TIMEOUT, DROP and GARBAGE execute the request
first (the order is placed) and then spoil the reply: late, no reply at all, or a non-JSON body.
(ccxt raises nothing on GARBAGE: it returns an order structure with ``id`` None.)

Without the sandbox, ccxt's load_markets also calls the signed /sapi/v1/margin/allPairs and
/sapi/v1/margin/isolated/allPairs (served, empty); ``options={"fetchMargins": False}`` avoids them.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qsl

from aiohttp import web

from genebot.testkit.binance_emulator.api import Endpoints, Params, param_int
from genebot.testkit.binance_emulator.book import (
    Book,
    BookError,
    Json,
    NewOrder,
    missing,
    to_decimal,
)
from genebot.testkit.binance_emulator.streams import KlineStreams

_HTTP_STATUS = {-2014: 401, -2015: 401, -1003: 429}
_RECV_WINDOW = "Timestamp for this request is outside of the recvWindow."


class Fault(enum.Enum):
    RATE_LIMIT = "rate_limit"  # 429 + Retry-After, -1003; not executed
    IP_BAN = "ip_ban"  # 418 + Retry-After, -1003; not executed
    SERVER_ERROR = "server_error"  # 503 with an HTML body; not executed
    TIMEOUT = "timeout"  # answers only after fault_delay; not executed
    EXECUTED_TIMEOUT = "executed_timeout"  # executed, reply after fault_delay
    DROP = "drop"  # executed, connection closed without a reply
    GARBAGE = "garbage"  # executed, 200 with "<html>oops</html>"
    CLOCK_SKEW = "clock_skew"  # 400, -1021; not executed


_SPOIL_REPLY = (Fault.EXECUTED_TIMEOUT, Fault.DROP, Fault.GARBAGE)


@dataclass
class _Injection:
    fault: Fault
    path: str | None
    method: str | None
    remaining: int

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and self.path in (None, path) and self.method in (None, method)


def _json(
    payload: object, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = json.dumps(payload, separators=(",", ":"))
    return web.Response(text=body, status=status, headers=headers, content_type="application/json")


def _error(exc: BookError, headers: Mapping[str, str] | None = None) -> web.Response:
    status = _HTTP_STATUS.get(exc.code, 400)
    return _json({"code": exc.code, "msg": exc.msg}, status, headers)


def _html(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


def _unsigned(raw: str) -> str:
    return "&".join(part for part in raw.split("&") if part and not part.startswith("signature="))


class BinanceEmulator:
    """The emulated exchange: ``start()``, point ccxt at ``url``, drive it, ``stop()``."""

    def __init__(
        self, markets: Mapping[str, Mapping[str, str]],
        balances: Mapping[str, str | Decimal] | None = None, fee_rate: str | Decimal = "0.001",
        *, can_withdraw: bool = False, fault_delay: float = 3.0,
        client_id_scope: Literal["all", "open"] = "all", host: str = "127.0.0.1", port: int = 0,
    ) -> None:  # fmt: skip
        self.book = Book.create(
            markets, balances or {}, fee_rate, lambda: self.now_ms, client_id_scope
        )
        self.endpoints = Endpoints(self.book, lambda: self.now_ms, can_withdraw)
        self.api_key = secrets.token_hex(32)
        self.secret = secrets.token_hex(32)
        self.fault_delay = fault_delay
        self.clock_offset_ms = 0
        self.requests: list[tuple[str, str, Params]] = []
        self._frozen_ms: int | None = None
        self._host, self._port = host, port
        self._lock = threading.RLock()
        self._faults: list[_Injection] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._routes = self.endpoints.routes()
        self.streams = KlineStreams()

    # --- the test-facing API -----------------------------------------------------------

    @property
    def url(self) -> str:
        if self._runner is None:
            raise RuntimeError("BinanceEmulator is not started")
        return f"http://{self._host}:{self._port}"

    @property
    def can_withdraw(self) -> bool:
        """What GET /api/v3/account and /sapi/v1/account/apiRestrictions report."""
        return self.endpoints.can_withdraw

    @can_withdraw.setter
    def can_withdraw(self, value: bool) -> None:
        self.endpoints.can_withdraw = value

    @property
    def now_ms(self) -> int:
        """The exchange's clock: real time (or the value assigned), plus ``clock_offset_ms``."""
        base = self._frozen_ms if self._frozen_ms is not None else int(time.time() * 1000)
        return base + self.clock_offset_ms

    @now_ms.setter
    def now_ms(self, value: int | None) -> None:
        self._frozen_ms = value  # None: back to real time

    def set_price(self, symbol: str, price: str | Decimal) -> None:
        with self._lock:
            self.book.set_price(symbol, to_decimal(price, "price"))

    def push_kline(
        self, symbol: str, interval: str, row: Sequence[object], closed: bool = False
    ) -> int:
        """One kline update on the websocket (``row``: open ms, o, h, l, c, v) to its
        subscribers; also kept for REST (GET /api/v3/klines). How many connections it reached."""
        market = self.book.market(symbol).id
        self.add_klines(symbol, interval, [row])
        return self.streams.push(market, interval, row, closed, self.now_ms)

    def drop_streams(self) -> None:
        """Close every websocket connection (the client sees a disconnect)."""
        self.streams.drop()

    def add_klines(self, symbol: str, interval: str, rows: Iterable[Sequence[object]]) -> None:
        with self._lock:
            self.endpoints.klines.add(self.book.market(symbol).id, interval, rows)

    def orders(self) -> list[Json]:
        with self._lock:
            return [o.to_dict() for o in self.book.orders.values()]

    def trades(self) -> list[Json]:
        with self._lock:
            return [t.to_dict() for t in self.book.trades]

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        with self._lock:
            return self.book.balances()

    def deposit(self, asset: str, amount: str | Decimal) -> None:
        """Credit (or, negative, debit) an asset's free balance, as a deposit/withdrawal would."""
        with self._lock:
            self.book.deposit(asset, to_decimal(amount, "amount"))

    def inject(
        self,
        fault: Fault,
        path: str | None = "/api/v3/order",
        method: str | None = "POST",
        times: int = 1,
    ) -> None:
        """The next ``times`` requests matching path and method (None: any) get ``fault``."""
        with self._lock:
            self._faults.append(_Injection(fault, path, method and method.upper(), times))

    def fill_while_down(self, client_order_id: str, qty: str | Decimal | None = None) -> Json:
        """Fill an open order on the exchange side (all that remains, or ``qty``)."""
        with self._lock:
            amount = None if qty is None else to_decimal(qty, "qty")
            return self.book.fill(client_order_id, amount).to_dict()

    def cancel_on_exchange(self, client_order_id: str) -> Json:
        with self._lock:
            return self.book.expire(client_order_id).to_dict()

    def place_foreign_order(
        self, symbol: str, side: str, qty: str | Decimal, price: str | Decimal | None = None,
        type: str = "LIMIT", time_in_force: str = "GTC", client_order_id: str | None = None,
    ) -> Json:  # fmt: skip
        """An order placed on the account by someone else (e.g. the web UI: ``web_…`` id)."""
        req = NewOrder(
            symbol, side.upper(), type.upper(), to_decimal(qty, "qty"),
            None if price is None else to_decimal(price, "price"),
            None if type.upper() == "MARKET" else time_in_force,
            client_order_id or "web_" + secrets.token_hex(16),
        )  # fmt: skip
        with self._lock:
            return self.book.place(req)[0].to_dict()

    # --- HTTP --------------------------------------------------------------------------

    def _authenticate(self, request: web.Request, params: Params, raw: str) -> None:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key.isalnum():
            raise BookError(-2014, "API-key format invalid.")
        if not hmac.compare_digest(key, self.api_key):
            raise BookError(-2015, "Invalid API-key, IP, or permissions for action.")
        digest = hmac.new(self.secret.encode(), raw.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(digest, params.get("signature", "").lower()):
            raise BookError(-1022, "Signature for this request is not valid.")
        stamp = param_int(params, "timestamp")
        if stamp is None:
            raise missing("timestamp")
        if stamp - self.now_ms > 1000:
            raise BookError(
                -1021, "Timestamp for this request was 1000ms ahead of the server's time."
            )
        if self.now_ms - stamp > (param_int(params, "recvWindow") or 5000):
            raise BookError(-1021, _RECV_WINDOW)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for injection in self._faults:
                if injection.matches(method, path):
                    injection.remaining -= 1
                    return injection.fault
        return None

    def _execute(self, request: web.Request, params: Params, raw: str) -> web.Response:
        route = self._routes.get((request.method, request.path))
        if route is None:
            return _html("<html><body><h1>404 Not Found</h1></body></html>", 404)
        signed, handler = route
        try:
            with self._lock:
                if signed:
                    self._authenticate(request, params, raw)
                return _json(handler(params))
        except BookError as exc:
            return _error(exc)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the emulator stops (stop() never waits on a fault)."""
        if self._stopping is not None:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _instead(self, fault: Fault) -> web.Response:
        """The reply of a fault that replaces the request (nothing is executed)."""
        if fault is Fault.RATE_LIMIT:
            msg = "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute."
            return _error(BookError(-1003, msg), {"Retry-After": "1"})
        if fault is Fault.IP_BAN:
            until = self.now_ms + 120_000
            msg = f"Way too many requests; IP(127.0.0.1) banned until {until}."
            return _json({"code": -1003, "msg": msg}, 418, {"Retry-After": "120"})
        if fault is Fault.CLOCK_SKEW:
            return _error(BookError(-1021, _RECV_WINDOW))
        if fault is Fault.TIMEOUT:
            await self._sleep(self.fault_delay)
        return _html("<html><body><h1>503 Service Unavailable</h1></body></html>", 503)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        raw_query, raw_body = request.rel_url.raw_query_string, await request.text()
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        params |= dict(parse_qsl(raw_body, keep_blank_values=True))
        self.requests.append((request.method, request.path, params))
        fault = self._take_fault(request.method, request.path)
        if fault is not None and fault not in _SPOIL_REPLY:
            return await self._instead(fault)
        response = self._execute(request, params, _unsigned(raw_query) + _unsigned(raw_body))
        if fault is Fault.EXECUTED_TIMEOUT:
            await self._sleep(self.fault_delay)
        elif fault is Fault.DROP and request.transport is not None:
            request.transport.close()
        elif fault is Fault.GARBAGE:
            return _html("<html>oops", 200)
        return response

    # --- the thread --------------------------------------------------------------------

    def start(self) -> BinanceEmulator:
        """Serve on ``host`` (a free port unless one was given) from a background thread."""
        if self._thread is not None:
            raise RuntimeError("BinanceEmulator already started")
        ready, failure = threading.Event(), list[BaseException]()
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name="binance-emulator", daemon=True
        )
        self._thread.start()
        ready.wait(10)
        if failure or self._runner is None:
            self.stop()
            raise RuntimeError(f"BinanceEmulator did not start: {failure}")
        return self

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported by start()
            failure.append(exc)
        ready.set()
        if not failure:
            loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        self.streams.loop = asyncio.get_running_loop()
        app.router.add_get("/ws", self.streams.handler)
        app.router.add_get("/ws/{n}", self.streams.handler)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, self._host, self._port).start()
        self._port = int(runner.addresses[0][1])
        self._runner = runner

    async def _shutdown(self) -> None:
        if self._stopping is not None:
            self._stopping.set()
        await self.streams.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving (pending delayed replies are cut short) and join the thread."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            with suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout=10)
        self._thread = self._loop = self._runner = None

    def __enter__(self) -> BinanceEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.stop()
