"""A stand-in for the ``MetaTrader5`` Python package, with a small simulated account behind it.

The real package runs only on Windows next to a terminal, so genebot's MT5 adapter is tested
against this. It follows the MetaQuotes documentation of the Python integration
(https://www.mql5.com/en/docs/python_metatrader5) in these respects:

* the same function names and call shapes: ``initialize(path=None, *, login, password, server,
  timeout, portable)``, ``login``, ``shutdown``, ``last_error`` (a ``(code, text)`` tuple, the
  ``RES_*`` codes), ``version``, ``account_info``, ``terminal_info``, ``symbol_info``,
  ``symbol_info_tick``, ``symbol_select``, ``copy_rates_from_pos(symbol, timeframe, start_pos,
  count)``, ``copy_rates_range(symbol, timeframe, date_from, date_to)``, ``order_check``,
  ``order_send(request)``, ``positions_get(symbol=, ticket=)``, ``orders_get(symbol=, ticket=)``,
  ``history_orders_get(date_from, date_to | ticket= | position=)``,
  ``history_deals_get(date_from, date_to | ticket= (the order's) | position=)``;
* named-tuple results with the documented field names (a subset of SymbolInfo's), ``None`` on
  failure with ``last_error`` set; rates as a numpy structured array (``time, open, high, low,
  close, tick_volume, spread, real_volume``), position 0 the forming bar;
* the documented constant values: ``TIMEFRAME_*``, ``ORDER_TYPE_*``, ``TRADE_ACTION_*``,
  ``ORDER_FILLING_*``, ``ORDER_TIME_*``, ``ORDER_STATE_*``, ``DEAL_TYPE_*``, ``DEAL_ENTRY_*``,
  ``POSITION_TYPE_*``, ``SYMBOL_FILLING_*``, ``TRADE_RETCODE_*``;
* times are the broker's **server** time as epoch seconds (``server_offset_h``, +2 here, as
  most brokers); a netting account (one position per symbol); the closing deal carries the
  position's accumulated swap (triple on ``swap_rollover3days``, rollover at server midnight);
  commission per lot per side on every deal; a market order outside ``deviation`` points of
  the current price gets ``TRADE_RETCODE_REQUOTE``; stops nearer than ``trade_stops_level``
  points get ``INVALID_STOPS``; a filling mode the symbol does not allow ``INVALID_FILL``;
  a margin need over the free margin ``NO_MONEY``; no bar at the current time (the forex
  weekend) ``MARKET_CLOSED``;
* stops and targets as the MQL5 reference's "Requirements and Limitations in Making Trades"
  and ``TRADE_ACTION_SLTP`` describe them: ``sl``/``tp`` on a position (from the opening
  request, or set by ``TRADE_ACTION_SLTP`` with ``position``: ``POSITION_CLOSED`` for a
  position that is gone, ``NO_CHANGES`` for the levels it has), on the loss/profit side of the
  price the position closes at (bid for a buy, ask for a sell; a pending order's own price)
  and at least ``trade_stops_level`` points from it, else ``INVALID_STOPS``; the server closes
  the position when a bar reaches a level — at the level, or at the bar's open when it opened
  beyond it (a stop becomes a market order) — writing a deal with ``reason``
  ``DEAL_REASON_SL``/``DEAL_REASON_TP`` (API deals: ``DEAL_REASON_EXPERT``), the position's
  ``magic``, the comment ``[sl 1.22830]`` and ``position_id`` the position's identifier (every
  deal of a position carries it). Levels set during an hour are watched from the next hourly
  bar (where within the hour the price went is unknown); in a bar reaching both, the stop first.

Faults for tests: :meth:`Mt5Standin.inject` makes the next ``order_send`` answer a given
retcode (optionally having executed the order anyway: a lost reply) or ``None``.
Not modelled: hedging accounts, partial fills, stop-limit orders, tick history, freeze level.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genebot.testkit.mt5_constants import (
    CONSTANTS,
    RATES,
    TIMEFRAMES,
    AccountInfo,
    C,
    H,
    OrderCheckResult,
    OrderSendResult,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    epoch_s,
    eurusd_info,
    load_bars,
    seconds,
    stop_hit,
    stops_invalid,
)

__all__ = ["C", "Mt5Standin", "eurusd_info", "load_bars"]


@dataclass
class _Pending:
    order: Any
    request: dict[str, Any]


@dataclass
class _Fault:
    retcode: int | None
    executed: bool


@dataclass
class Mt5Standin:
    """The module's functions over one simulated netting account (see the module docstring).
    ``now`` is the UTC clock (epoch seconds) that tests move with :meth:`set_time`."""

    bars: dict[str, pd.DataFrame] = field(default_factory=dict)  # symbol -> 1h UTC bars
    symbols: dict[str, Any] = field(default_factory=dict)
    login_id: int = 5012345
    password: str = "demo-secret"
    server: str = "Broker-Demo"
    balance: float = 10_000.0
    leverage: int = 100
    trade_mode: int = 0  # ACCOUNT_TRADE_MODE_DEMO (1 contest, 2 real)
    currency: str = "USD"
    commission_per_lot: float = 3.5
    server_offset_h: int = 2
    now: int = 0
    connected: bool = False
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, value in CONSTANTS.items():
            setattr(self, name, value)
        self._error: tuple[int, str] = (1, "Success")
        self._ticket = 100_000
        self.positions: dict[str, Any] = {}  # symbol -> TradePosition (netting)
        self.pending: dict[int, _Pending] = {}
        self.history_orders: dict[int, Any] = {}
        self.deals: list[Any] = []
        self.faults: list[_Fault] = []
        self._last_rollover_day: int | None = None
        self._looked: int | None = None
        self._armed: dict[str, int] = {}  # symbol -> when its position's sl/tp were last set

    # -- set-up and test controls ---------------------------------------------------------
    @classmethod
    def with_eurusd(cls, **kw: Any) -> Mt5Standin:
        return cls(bars={"EURUSD": load_bars()}, symbols={"EURUSD": eurusd_info()}, **kw)

    def set_time(self, utc: str | int) -> None:
        """Move the clock (UTC), triggering pending orders and rollovers on the way."""
        ts = int(pd.Timestamp(utc).timestamp()) if isinstance(utc, str) else int(utc)
        self.now = ts
        self._rollover()
        self._trigger_pending()
        self._trigger_stops()

    def inject(self, retcode: int | None, *, executed: bool = False, times: int = 1) -> None:
        """The next ``times`` order_sends answer ``retcode`` (None: no result at all);
        ``executed``: the order goes through anyway (the reply was lost)."""
        self.faults += [_Fault(retcode, executed) for _ in range(times)]

    def as_module(self) -> types.ModuleType:
        """A module object named MetaTrader5 whose functions are this account's."""
        module = types.ModuleType("MetaTrader5")
        for name in dir(self):
            if not name.startswith("_"):
                setattr(module, name, getattr(self, name))
        return module

    # -- connection -----------------------------------------------------------------------
    def initialize(self, path: str | None = None, **kw: Any) -> bool:
        self.calls.append(("initialize", {k: v for k, v in kw.items() if k != "password"}))
        if "login" in kw:
            return self.login(kw["login"], kw.get("password", ""), kw.get("server", ""))
        self.connected = True
        self._error = (1, "Success")
        return True

    def login(self, login: int, password: str = "", server: str = "", timeout: int = 0) -> bool:
        if int(login) != self.login_id or password != self.password or server != self.server:
            self._error = (-6, "Terminal: Authorization failed")
            return False
        self.connected, self._error = True, (1, "Success")
        return True

    def shutdown(self) -> None:
        self.connected = False

    def last_error(self) -> tuple[int, str]:
        return self._error

    def version(self) -> tuple[int, int, str]:
        return (500, 4000, "01 Jan 2026")

    def _online(self) -> bool:
        if not self.connected:
            self._error = (-10004, "No IPC connection")
        return self.connected

    def account_info(self) -> Any:
        if not self._online():
            return None
        profit = sum(p.profit for p in self.positions.values())
        margin = sum(
            self._margin(p.symbol, p.volume, p.price_open) for p in self.positions.values()
        )
        equity = self.balance + profit
        return AccountInfo(
            self.login_id, self.trade_mode, self.leverage, 200, 0, True, True, 0, 2, False,
            round(self.balance, 2), 0.0, round(profit, 2), round(equity, 2), round(margin, 2),
            round(equity - margin, 2), (equity / margin * 100) if margin else 0.0, 50.0, 30.0,
            "genebot test", self.server, self.currency, "Stand-in Broker Ltd",
        )  # fmt: skip

    def terminal_info(self) -> Any:
        if not self._online():
            return None
        return TerminalInfo(
            False, True, True, False, False, 4000, 100000, 30_000, "Stand-in Broker Ltd",
            "MetaTrader 5", "English", "C:\\MT5", "C:\\MT5\\data",
        )  # fmt: skip

    # -- symbols and prices ---------------------------------------------------------------
    def symbol_info(self, symbol: str) -> Any:
        info = self.symbols.get(symbol)
        if info is None or not self._online():
            self._error = (-4, f"Terminal: Not found {symbol}")
            return None
        tick = self.symbol_info_tick(symbol)
        return info._replace(bid=tick.bid, ask=tick.ask, time=tick.time) if tick else info

    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        return symbol in self.symbols

    def _server(self, utc_s: int) -> int:
        return utc_s + self.server_offset_h * 3600

    def _current_bar(self, symbol: str) -> Any:
        frame = self.bars.get(symbol)
        if frame is None:
            return None
        at = pd.Timestamp(self.now, unit="s", tz="UTC").floor("1h")
        return frame.loc[at] if at in frame.index else None

    def _price(self, symbol: str) -> tuple[float, float] | None:
        """(bid, ask) now: the current bar's open (its close once the hour is over)."""
        bar = self._current_bar(symbol)
        if bar is None:
            return None
        info = self.symbols[symbol]
        bid = float(bar["open"])
        return bid, round(bid + info.spread * info.point, info.digits)

    def symbol_info_tick(self, symbol: str) -> Any:
        if symbol not in self.symbols or not self._online():
            self._error = (-4, f"Terminal: Not found {symbol}")
            return None
        px = self._price(symbol)
        if px is None:  # closed: the last tick stays the last close
            frame = self.bars[symbol]
            before = frame[frame.index <= pd.Timestamp(self.now, unit="s", tz="UTC")]
            if before.empty:
                return None
            bid = float(before["close"].iloc[-1])
            info = self.symbols[symbol]
            px = (bid, round(bid + info.spread * info.point, info.digits))
        server = self._server(self.now)
        return Tick(server, px[0], px[1], 0.0, 0, server * 1000, 6, 0.0)

    def _frame(self, symbol: str, timeframe: int) -> pd.DataFrame | None:
        frame = self.bars.get(symbol)
        minutes = {v: k for k, v in TIMEFRAMES.items()}.get(timeframe)
        if frame is None or minutes is None:
            self._error = (-2, "Terminal: Invalid params")
            return None
        if timeframe == TIMEFRAMES["TIMEFRAME_H1"]:
            return frame
        if timeframe & H and timeframe < 0x8000:
            rule = f"{timeframe & 0xFF}h"
            agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
            return frame.resample(rule).agg(agg).dropna()  # type: ignore[arg-type]
        self._error = (-4, "Terminal: no history for this timeframe")  # finer than the data
        return None

    def _rates(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.zeros(len(frame), dtype=RATES)
        utc = epoch_s(frame.index)
        out["time"] = utc + self.server_offset_h * 3600
        for col in ("open", "high", "low", "close"):
            out[col] = frame[col].to_numpy(float)
        out["tick_volume"] = np.maximum(frame["volume"].to_numpy(float), 1).astype(np.uint64)
        return out

    def copy_rates_from_pos(self, symbol: str, timeframe: int, start_pos: int, count: int) -> Any:
        frame = self._frame(symbol, timeframe)
        if frame is None:
            return None
        known = frame[frame.index <= pd.Timestamp(self.now, unit="s", tz="UTC")]
        end = len(known) - start_pos
        return self._rates(known.iloc[max(0, end - count) : max(0, end)])

    def copy_rates_range(self, symbol: str, timeframe: int, date_from: Any, date_to: Any) -> Any:
        """Bars whose (server) open time is in [date_from, date_to]; seconds or datetimes."""
        frame = self._frame(symbol, timeframe)
        if frame is None:
            return None
        lo, hi = (seconds(d) - self.server_offset_h * 3600 for d in (date_from, date_to))
        hi = min(hi, self.now)
        utc = epoch_s(frame.index)
        return self._rates(frame[(utc >= lo) & (utc <= hi)])

    # -- trading --------------------------------------------------------------------------
    def _margin(self, symbol: str, volume: float, price: float) -> float:
        info = self.symbols[symbol]
        units = volume * info.trade_contract_size
        rate = price if info.currency_margin != self.currency else 1.0
        return units * rate / self.leverage

    def order_check(self, request: dict[str, Any]) -> Any:
        code, text = self._validate(request)
        info = self.account_info()
        margin = self._margin(request["symbol"], request["volume"], request.get("price") or 0)
        return OrderCheckResult(
            0 if code == C.TRADE_RETCODE_DONE else code, info.balance, info.equity,
            info.profit, margin, info.margin_free - margin, info.margin_level, text, request,
        )  # fmt: skip

    def _validate(self, req: dict[str, Any]) -> tuple[int, str]:
        info = self.symbols.get(req.get("symbol", ""))
        if info is None:
            return C.TRADE_RETCODE_INVALID, "Invalid request"
        if info.trade_mode == 0:
            return C.TRADE_RETCODE_TRADE_DISABLED, "Trade disabled"
        vol = float(req.get("volume", 0))
        steps = vol / info.volume_step
        if vol < info.volume_min or vol > info.volume_max or abs(steps - round(steps)) > 1e-6:
            return C.TRADE_RETCODE_INVALID_VOLUME, "Invalid volume"
        px = self._price(info.name)
        if px is None:
            return C.TRADE_RETCODE_MARKET_CLOSED, "Market closed"
        if req["action"] == C.TRADE_ACTION_DEAL:
            flag = {C.ORDER_FILLING_FOK: 1, C.ORDER_FILLING_IOC: 2}.get(req.get("type_filling"))
            if flag is None or not info.filling_mode & flag:
                return C.TRADE_RETCODE_INVALID_FILL, "Unsupported filling mode"
            current = px[1] if req["type"] == C.ORDER_TYPE_BUY else px[0]
            if abs(float(req.get("price", 0)) - current) > req.get("deviation", 0) * info.point:
                return C.TRADE_RETCODE_REQUOTE, "Requote"
        buy = req["type"] in (0, 2, 4)
        ref = px[1] if buy else px[0]
        at = (px[0] if buy else px[1]) if req["action"] == C.TRADE_ACTION_DEAL else req["price"]
        if stops_invalid(info, buy, float(req.get("sl") or 0), float(req.get("tp") or 0), at):
            return C.TRADE_RETCODE_INVALID_STOPS, "Invalid stops"
        account = self.account_info()
        if self._margin(info.name, vol, ref) > account.margin_free:
            return C.TRADE_RETCODE_NO_MONEY, "No money"
        return C.TRADE_RETCODE_DONE, "Request executed"

    def order_send(self, request: dict[str, Any]) -> Any:
        self.calls.append(("order_send", dict(request)))
        if not self._online():
            return None
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None and not fault.executed:
            return self._reply(fault.retcode, request) if fault.retcode is not None else None
        if request["action"] == C.TRADE_ACTION_REMOVE:
            result = self._remove(request)
        elif request["action"] == C.TRADE_ACTION_SLTP:
            result = self._sltp(request)
        else:
            code, text = self._validate(request)
            if code != C.TRADE_RETCODE_DONE:
                result = self._reply(code, request, comment=text)
            elif request["action"] == C.TRADE_ACTION_PENDING:
                result = self._place(request)
            else:
                result = self._deal(request)
        if fault is not None:  # executed, but the reply is lost or wrong
            return self._reply(fault.retcode, request) if fault.retcode is not None else None
        return result

    def _reply(self, code: int, req: dict[str, Any], deal: int = 0, order: int = 0,
               price: float = 0.0, comment: str = "") -> Any:  # fmt: skip
        px = self._price(req.get("symbol", "")) if req.get("symbol") in self.symbols else None
        bid, ask = px or (0.0, 0.0)
        vol = float(req.get("volume", 0)) if deal else 0.0
        return OrderSendResult(code, deal, order, vol, price, bid, ask, comment, 1, 0, req)

    def _next(self) -> int:
        self._ticket += 1
        return self._ticket

    def _order_row(self, ticket: int, req: dict[str, Any], state: int, price: float) -> Any:
        t = self._server(self.now)
        return TradeOrder(
            ticket, t, t * 1000, t if state != 1 else 0, t * 1000 if state != 1 else 0, 0,
            req["type"], req.get("type_time", 0), req.get("type_filling", 0), state,
            req.get("magic", 0), 0, req["volume"],
            0.0 if state == 4 else req["volume"], price, req.get("sl", 0.0), req.get("tp", 0.0),
            price, req["symbol"], req.get("comment", ""), "",
        )  # fmt: skip

    def _place(self, req: dict[str, Any]) -> Any:
        ticket = self._next()
        row = self._order_row(ticket, req, C.ORDER_STATE_PLACED, float(req["price"]))
        self.pending[ticket] = _Pending(row, dict(req))
        return self._reply(C.TRADE_RETCODE_PLACED, req, order=ticket, comment="Request placed")

    def _remove(self, req: dict[str, Any]) -> Any:
        pending = self.pending.pop(int(req["order"]), None)
        if pending is None:
            return self._reply(C.TRADE_RETCODE_INVALID_ORDER, req, comment="Invalid order")
        self.history_orders[pending.order.ticket] = pending.order._replace(
            state=C.ORDER_STATE_CANCELED
        )
        return self._reply(C.TRADE_RETCODE_DONE, req, order=pending.order.ticket)

    def _deal(self, req: dict[str, Any], ticket: int | None = None, at: float | None = None,
              reason: int = 3) -> Any:  # fmt: skip
        """Fill ``req`` at the current price (or ``at``) on the netting position; ``reason``:
        the deal's DEAL_REASON_* (EXPERT: sent through the API; SL/TP: the server's close)."""
        symbol, buy = req["symbol"], req["type"] in (0, 2, 4)
        bid, ask = self._price(symbol) or (at or 0.0, at or 0.0)
        price = at if at is not None else (ask if buy else bid)
        ticket = ticket or self._next()
        deal_id = self._next()
        held = self.positions.get(symbol)
        position_id = held.identifier if held is not None else ticket
        entry, profit, swap = self._book(symbol, buy, float(req["volume"]), price, req, ticket)
        commission = round(-self.commission_per_lot * float(req["volume"]), 2)
        self.balance += profit + swap + commission
        t = self._server(self.now)
        self.deals.append(TradeDeal(
            deal_id, ticket, t, t * 1000, 0 if buy else 1, entry, req.get("magic", 0),
            position_id, reason, float(req["volume"]), price, commission, swap, profit, 0.0, symbol,
            req.get("comment", ""), "",
        ))  # fmt: skip
        self.history_orders[ticket] = self._order_row(ticket, req, C.ORDER_STATE_FILLED, price)
        return self._reply(C.TRADE_RETCODE_DONE, req, deal_id, ticket, price, "Request executed")

    def _book(self, symbol: str, buy: bool, vol: float, price: float, req: dict[str, Any],
              ticket: int) -> tuple[int, float, float]:  # fmt: skip
        """Net ``vol`` into the symbol's position: (deal entry, realized profit, swap paid)."""
        info, pos = self.symbols[symbol], self.positions.get(symbol)
        t = self._server(self.now)
        if pos is None:
            self._armed[symbol] = self.now
            self.positions[symbol] = TradePosition(
                ticket, t, t * 1000, t, t * 1000, 0 if buy else 1, req.get("magic", 0), ticket,
                3, vol, price, req.get("sl", 0.0), req.get("tp", 0.0), price, 0.0, 0.0, symbol,
                req.get("comment", ""), "",
            )  # fmt: skip
            return C.DEAL_ENTRY_IN, 0.0, 0.0
        same = (pos.type == 0) == buy
        if same:
            volume = pos.volume + vol
            avg = (pos.price_open * pos.volume + price * vol) / volume
            self.positions[symbol] = pos._replace(volume=round(volume, 8), price_open=avg)
            return C.DEAL_ENTRY_IN, 0.0, 0.0
        closed = min(vol, pos.volume)
        sign = 1 if pos.type == 0 else -1
        profit = sign * (price - pos.price_open) * closed * info.trade_contract_size
        profit = self._to_account(info, profit, price)
        swap = pos.swap * closed / pos.volume
        left = round(pos.volume - vol, 8)
        if left > 0:
            self.positions[symbol] = pos._replace(volume=left, swap=pos.swap - swap)
            return C.DEAL_ENTRY_OUT, round(profit, 2), round(swap, 2)
        del self.positions[symbol]
        if left < 0:  # reversed: the rest opens the other way
            self._book(symbol, buy, -left, price, req, ticket)
            return C.DEAL_ENTRY_INOUT, round(profit, 2), round(swap, 2)
        return C.DEAL_ENTRY_OUT, round(profit, 2), round(swap, 2)

    def _to_account(self, info: Any, amount: float, price: float) -> float:
        if info.currency_profit == self.currency:
            return amount
        return amount / price if info.currency_base == self.currency else amount

    def _trigger_pending(self) -> None:
        """Pending orders whose level a bar since the last look traded through are filled at
        the level (bars in time order; the first bar through it decides)."""
        since, self._looked = self._looked, self.now
        for ticket, p in sorted(self.pending.items()):
            frame = self.bars.get(p.request["symbol"])
            if frame is None:
                continue
            lo = pd.Timestamp(min(since or self.now, self.now), unit="s", tz="UTC").floor("1h")
            hi = pd.Timestamp(self.now, unit="s", tz="UTC")
            level, kind = float(p.request["price"]), p.request["type"]
            for _, bar in frame[(frame.index >= lo) & (frame.index <= hi)].iterrows():
                up = bar["high"] >= level  # sell limit, buy stop
                hit = up if kind in (3, 4) else bar["low"] <= level if kind in (2, 5) else False
                if hit:
                    del self.pending[ticket]
                    self._deal(p.request, ticket=ticket, at=level)
                    break

    def _sltp(self, req: dict[str, Any]) -> Any:
        """TRADE_ACTION_SLTP: set a position's sl/tp (0: none), checked like an order's."""
        pos = next((p for p in self.positions.values() if p.ticket == req.get("position")), None)
        if pos is None:
            return self._reply(C.TRADE_RETCODE_POSITION_CLOSED, req, comment="Position closed")
        info, px = self.symbols[pos.symbol], self._price(pos.symbol)
        if px is None:
            return self._reply(C.TRADE_RETCODE_MARKET_CLOSED, req, comment="Market closed")
        sl, tp = float(req.get("sl") or 0), float(req.get("tp") or 0)
        if (sl, tp) == (pos.sl, pos.tp):
            return self._reply(C.TRADE_RETCODE_NO_CHANGES, req, comment="No changes")
        buy = pos.type == C.POSITION_TYPE_BUY
        if stops_invalid(info, buy, sl, tp, px[0] if buy else px[1]):
            return self._reply(C.TRADE_RETCODE_INVALID_STOPS, req, comment="Invalid stops")
        t = self._server(self.now)
        self.positions[pos.symbol] = pos._replace(sl=sl, tp=tp, time_update=t,
                                                  time_update_msc=t * 1000)  # fmt: skip
        self._armed[pos.symbol] = self.now
        return self._reply(C.TRADE_RETCODE_DONE, req, comment="Request executed")

    def _trigger_stops(self) -> None:
        """Positions whose sl/tp a bar reached are closed by the server at that level (at the
        bar's open when it opened beyond it), the deal's reason DEAL_REASON_SL/TP. Watched
        from the first bar after the hour the levels were set (the bars are hourly: within
        the hour the order of the moves is unknown); a bar that is still forming shows only
        its open; in a bar reaching both, the stop is taken first."""
        for symbol, pos in list(self.positions.items()):
            frame = self.bars.get(symbol)
            if frame is None or not (pos.sl or pos.tp):
                continue
            start = (self._armed.get(symbol, self.now) // 3600 + 1) * 3600
            lo = pd.Timestamp(start, unit="s", tz="UTC")
            hi = pd.Timestamp(self.now, unit="s", tz="UTC")
            for at, bar in frame[(frame.index >= lo) & (frame.index <= hi)].iterrows():
                opened = int(at.timestamp())  # type: ignore[attr-defined]
                hit = stop_hit(pos, self.symbols[symbol], bar, closed=opened + 3600 <= self.now)
                if hit is not None:
                    self._close_at(pos, *hit)
                    break
                if opened + 3600 <= self.now:
                    self._armed[symbol] = opened

    def _close_at(self, pos: Any, price: float, reason: int) -> None:
        info = self.symbols[pos.symbol]
        price = round(price, info.digits)
        tag = "sl" if reason == C.DEAL_REASON_SL else "tp"
        req = {
            "symbol": pos.symbol, "volume": pos.volume, "magic": pos.magic,
            "type": C.ORDER_TYPE_SELL if pos.type == C.POSITION_TYPE_BUY else C.ORDER_TYPE_BUY,
            "comment": f"[{tag} {price:.{info.digits}f}]", "position": pos.ticket,
        }  # fmt: skip
        self._deal(req, at=price, reason=reason)

    def _rollover(self) -> None:
        """At each server midnight passed, open positions accrue a swap (x3 on the day)."""
        day = self._server(self.now) // 86_400
        if self._last_rollover_day is None or day <= self._last_rollover_day:
            self._last_rollover_day = day if self._last_rollover_day is None else max(
                day, self._last_rollover_day)  # fmt: skip
            return
        for d in range(self._last_rollover_day, day):
            weekday = (d + 4) % 7  # 1970-01-01 was a Thursday (0 = Sunday)
            for symbol, pos in list(self.positions.items()):
                info = self.symbols[symbol]
                points = info.swap_long if pos.type == 0 else info.swap_short
                money = points * info.point * pos.volume * info.trade_contract_size
                money *= 3 if weekday == info.swap_rollover3days else 1
                money = self._to_account(info, money, pos.price_open)
                self.positions[symbol] = pos._replace(swap=round(pos.swap + money, 2))
        self._last_rollover_day = day

    # -- positions, orders, history -------------------------------------------------------
    def positions_get(self, symbol: str | None = None, group: str | None = None,
                      ticket: int | None = None) -> Any:  # fmt: skip
        if not self._online():
            return None
        out = [p for p in self.positions.values() if symbol in (None, p.symbol)]
        return tuple(p for p in out if ticket in (None, p.ticket))

    def positions_total(self) -> int:
        return len(self.positions)

    def orders_get(self, symbol: str | None = None, group: str | None = None,
                   ticket: int | None = None) -> Any:  # fmt: skip
        if not self._online():
            return None
        rows = [p.order for p in self.pending.values()]
        return tuple(o for o in rows if symbol in (None, o.symbol) and ticket in (None, o.ticket))

    def orders_total(self) -> int:
        return len(self.pending)

    def history_orders_get(
        self, date_from: Any = None, date_to: Any = None, group: str | None = None,
        ticket: int | None = None, position: int | None = None,
    ) -> Any:  # fmt: skip
        if not self._online():
            return None
        rows = list(self.history_orders.values())
        if ticket is not None:
            return tuple(o for o in rows if o.ticket == ticket)
        if position is not None:
            return tuple(o for o in rows if o.position_id == position)
        lo, hi = seconds(date_from), seconds(date_to)
        return tuple(o for o in rows if lo <= o.time_setup <= hi)

    def history_deals_get(
        self, date_from: Any = None, date_to: Any = None, group: str | None = None,
        ticket: int | None = None, position: int | None = None,
    ) -> Any:  # fmt: skip
        if not self._online():
            return None
        if ticket is not None:  # the documented meaning: the ORDER ticket (DEAL_ORDER)
            return tuple(d for d in self.deals if d.order == ticket)
        if position is not None:
            return tuple(d for d in self.deals if d.position_id == position)
        lo, hi = seconds(date_from), seconds(date_to)
        return tuple(d for d in self.deals if lo <= d.time <= hi)
