"""An MT5 account through the few ccxt unified calls genebot's live runtime makes.

The live runtime, its restart recovery and its reconciliation were written against ccxt's
unified API (through :class:`~genebot.venues.ccxt.calls.Caller`): ``fetch_balance``,
``fetch_open_orders``, ``fetch_order`` (by ``clientOrderId``), ``cancel_order`` and
``fetch_my_trades`` (by ``orderId``). :class:`Mt5Facade` answers those from the terminal —
orders found by their ``comment`` and the deployment's ``magic``, deals as trades (commission
as the fee, in the account currency), lots as base units — so the same runtime, recovery and
reconciliation run on an MT5 account unchanged. A missing order raises ccxt's
``OrderNotFound``, which the error table turns into "not on the exchange".

Stops and targets rest on the position, not as orders: their ids are ``sltp:<position>...``
and a restart asking for one by its comment is answered from the position and the deals
(:meth:`genebot.venues.mt5.protection.Guards.reply`); canceling one clears the levels.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from genebot.venues.mt5.execution import Mt5ExecutionClient
from genebot.venues.mt5.symbols import SymbolSpec

_STATES = {0: "open", 1: "open", 2: "canceled", 3: "open", 4: "closed", 5: "rejected"}
_STATES |= {6: "expired", 7: "open", 8: "open", 9: "open"}
_SELL_TYPES = frozenset({1, 3, 5, 7})


class Mt5Facade:
    """ccxt-shaped answers from one MT5 terminal (see the module docstring)."""

    def __init__(self, name: str, client: Mt5ExecutionClient) -> None:
        self.id = name
        self.client = client
        self.mt5 = client.mt5
        self.options: dict[str, Any] = {}

    def load_time_difference(self) -> None:
        """The Caller's clock re-sync: nothing to do (the terminal signs nothing)."""

    # -- helpers --------------------------------------------------------------------------
    def _spec(self, symbol: str) -> tuple[str, SymbolSpec]:
        for iid, spec in self.client.specs.items():
            if self.client.instruments[iid].symbol == symbol or spec.name == symbol:
                return iid, spec
        raise ccxt.BadSymbol(f"{self.id} does not trade {symbol}")

    def _order(self, row: Any, symbol: str, spec: SymbolSpec, open_: bool) -> dict[str, Any]:
        initial = Decimal(str(row.volume_initial))
        current = Decimal(str(row.volume_current))
        status = "open" if open_ else _STATES.get(int(row.state), "open")
        filled = spec.units(float(initial - current)) if status != "canceled" else Decimal(0)
        if status == "closed":
            filled = spec.units(float(initial))
        return {
            "id": str(row.ticket), "clientOrderId": str(row.comment) or None, "symbol": symbol,
            "side": "sell" if int(row.type) in _SELL_TYPES else "buy",
            "amount": float(spec.units(float(initial))), "filled": float(filled),
            "price": float(row.price_open) or None, "status": status, "info": {},
        }  # fmt: skip

    # -- the unified calls ----------------------------------------------------------------
    def fetch_balance(self) -> dict[str, Any]:
        account = self.mt5.account_info()
        if account is None:
            raise ccxt.NetworkError(f"account_info: {self.mt5.last_error()}")
        return {"total": {str(account.currency): float(account.balance)}}

    def fetch_open_orders(self, symbol: str) -> list[dict[str, Any]]:
        _, spec = self._spec(symbol)
        rows = self.mt5.orders_get(symbol=spec.name)
        if rows is None:
            raise ccxt.NetworkError(f"orders_get: {self.mt5.last_error()}")
        return [self._order(o, symbol, spec, True) for o in rows]

    def fetch_order(self, order_id: str, symbol: str, params: Any = None) -> dict[str, Any]:
        _, spec = self._spec(symbol)
        comment = (params or {}).get("clientOrderId")
        if str(order_id).startswith("sltp:"):
            return self._guard(order_id, symbol, spec)
        ticket = int(order_id) if order_id else self.client.find_by_comment(str(comment))
        if ticket is None:
            guard = self.client.guards.reply(str(comment), spec)
            if guard is None:
                raise ccxt.OrderNotFound(f"no order with comment {comment} on {self.id}")
            return self._shaped(guard, comment, symbol, spec)
        pending = self.mt5.orders_get(ticket=ticket)
        if pending:
            return self._order(pending[0], symbol, spec, True)
        done = self.mt5.history_orders_get(ticket=ticket)
        if not done:
            raise ccxt.OrderNotFound(f"no order {ticket} on {self.id}")
        return self._order(done[0], symbol, spec, False)

    def _guard(self, venue_id: str, symbol: str, spec: SymbolSpec) -> dict[str, Any]:
        ticket = int(venue_id.split(":")[1])
        rows = self.mt5.positions_get(ticket=ticket)
        live = bool(rows) and bool(float(rows[0].sl) or float(rows[0].tp))
        reply = {"id": venue_id, "status": "open" if live else "canceled", "filled": 0.0,
                 "info": {"orderListId": str(ticket)}}  # fmt: skip
        return self._shaped(reply, None, symbol, spec)

    def _shaped(
        self, reply: dict[str, Any], comment: Any, symbol: str, spec: SymbolSpec
    ) -> dict[str, Any]:
        rows = self.mt5.positions_get(symbol=spec.name) or ()
        long = not rows or int(rows[0].type) == 0
        return {
            "clientOrderId": None if comment is None else str(comment), "symbol": symbol,
            "side": "sell" if long else "buy", "amount": reply["filled"], "price": None,
            **reply,
        }  # fmt: skip

    def cancel_order(self, order_id: str, symbol: str, params: Any = None) -> dict[str, Any]:
        if str(order_id).startswith("sltp:"):
            if not self.client.guards.cancel_venue_id(str(order_id)):
                raise ccxt.NetworkError(f"the levels of {order_id} could not be cleared")
            return self.fetch_order(order_id, symbol)
        result = self.mt5.order_send({"action": 8, "order": int(order_id)})
        if result is None or int(result.retcode) not in (10008, 10009, 10010):
            raise ccxt.OrderNotFound(f"order {order_id} could not be removed")
        return self.fetch_order(order_id, symbol)

    def fetch_my_trades(
        self, symbol: str, since: Any = None, limit: Any = None, params: Any = None
    ) -> list[dict[str, Any]]:
        _, spec = self._spec(symbol)
        ticket = int((params or {}).get("orderId") or 0)
        out = []
        for deal in self.mt5.history_deals_get(ticket=ticket) or ():
            msc = int(getattr(deal, "time_msc", 0) or 0)
            utc_ms = self.client.server.to_utc_ns(msc // 1000) // 1_000_000 + msc % 1000
            cost = -(float(deal.commission) + float(getattr(deal, "fee", 0) or 0))
            out.append({
                "id": str(deal.ticket), "order": str(deal.order), "symbol": symbol,
                "amount": float(spec.units(float(deal.volume))), "price": float(deal.price),
                "fee": {"cost": round(cost, 8), "currency": self.client.currency},
                "timestamp": utc_ms, "takerOrMaker": "taker",
            })  # fmt: skip
        return out
