"""Reconciliation: genebot's books against the exchange's, at start-up and every interval.

:func:`reconcile` first lets the execution client catch up (fills made while genebot was down
are applied, orders canceled or expired on the exchange are closed, orders in flight are
resolved), then compares what is left:

* an open order on the exchange that genebot does not hold: *unknown*. One with genebot's
  client-id prefix but not this deployment's book is reported as genebot's (another
  deployment's, or one lost with a journal); a stranger's is reported. Neither blocks
  trading by itself; genebot never touches a stranger's order.
* a balance that differs from what genebot's ledger expects (beyond ``tolerance`` units of
  the asset): the books disagree, and the deployment **refuses to trade** until an operator
  runs ``genebot reconcile --show`` (every difference, exchange order ids included) and
  ``--accept-exchange`` (take the exchange's balances as the truth, journaled).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from genebot.venues.ccxt.execution import CcxtExecutionClient

ZERO = Decimal(0)
RESOLVE = "genebot reconcile --config FILE --show, then --accept-exchange"


@dataclass(frozen=True)
class UnknownOrder:
    symbol: str
    venue_order_id: str
    client_order_id: str | None
    side: str
    amount: Decimal
    price: Decimal | None
    genebots: bool  # carries genebot's client-id prefix

    def describe(self) -> str:
        who = "genebot's prefix, not in this book" if self.genebots else "not placed by genebot"
        px = f" @ {self.price}" if self.price is not None else ""
        return (
            f"open order on the exchange {self.symbol} {self.side} {self.amount}{px} "
            f"(exchange id {self.venue_order_id}, client id {self.client_order_id}): {who}"
        )


@dataclass(frozen=True)
class BalanceDiff:
    asset: str
    genebot: Decimal
    exchange: Decimal

    def describe(self) -> str:
        return (
            f"{self.asset}: genebot's books hold {_num(self.genebot)}, the exchange "
            f"{_num(self.exchange)} (difference {'+' if self.exchange > self.genebot else ''}"
            f"{_num(self.exchange - self.genebot)})"
        )


def _num(value: Decimal) -> str:
    """A balance as people write it: 100000, 0.5 (no exponent, no trailing zeros)."""
    return format(value.normalize(), "f") if value else "0"


@dataclass
class Report:
    applied: list[str] = field(default_factory=list)  # what catching up changed
    unknown_orders: list[UnknownOrder] = field(default_factory=list)
    balances: list[BalanceDiff] = field(default_factory=list)
    in_flight: list[str] = field(default_factory=list)  # still unresolved

    @property
    def agrees(self) -> bool:
        """True when trading may go on: balances agree and nothing is left in flight."""
        return not self.balances and not self.in_flight

    def lines(self) -> list[str]:
        out = [f"applied: {a}" for a in self.applied]
        out += [u.describe() for u in self.unknown_orders]
        out += [b.describe() for b in self.balances]
        out += [f"in flight (unresolved): {c}" for c in self.in_flight]
        if not self.agrees:
            out.append(f"the books disagree: trading refused; resolve with `{RESOLVE}`")
        return out


def catch_up(client: Any, report: Report, where: str) -> None:
    """Sync the client's working orders; each one that moved meanwhile is a line of ``applied``."""
    before = [(o, o.status, o.filled_qty) for o in client.working.values()]
    client.sync()
    for order, status, filled in before:
        if order.status is not status or order.filled_qty != filled:
            report.applied.append(
                f"order {order.client_order_id}: {status.value} → {order.status.value}, "
                f"filled {filled} → {order.filled_qty} (on {where} while genebot was "
                "not looking)"
            )


def reconcile(
    client: CcxtExecutionClient,
    expected: Mapping[str, Decimal],
    *,
    tolerance: Decimal = Decimal("1e-8"),
) -> Report:
    """Catch up, then compare open orders and balances (``expected``: asset -> total)."""
    report = Report()
    catch_up(client, report, "the exchange")
    report.in_flight = [p.venue_client_id for p in client.in_flight.values()]
    report.unknown_orders = _unknown_orders(client)
    report.balances = _balance_diffs(client, expected, tolerance)
    return report


def _unknown_orders(client: CcxtExecutionClient) -> list[UnknownOrder]:
    mine = {client.venue_client_id(coid) for coid in client.working}
    return [
        _unknown(str(reply.get("symbol")), reply, client.genebot_id(vid) is not None)
        for reply in client.open_orders()
        if (vid := reply.get("clientOrderId")) not in mine
    ]


def _unknown(symbol: str, reply: Mapping[str, Any], genebots: bool) -> UnknownOrder:
    price = reply.get("price")
    return UnknownOrder(
        symbol,
        str(reply.get("id")),
        reply.get("clientOrderId"),
        str(reply.get("side")),
        Decimal(str(reply.get("amount") or 0)),
        None if price is None else Decimal(str(price)),
        genebots,
    )


def _balance_diffs(
    client: CcxtExecutionClient, expected: Mapping[str, Decimal], tolerance: Decimal
) -> list[BalanceDiff]:
    balance = client.call("read", client.exchange.fetch_balance)
    totals = balance.get("total") or {}
    out = []
    for asset, want in sorted(expected.items()):
        have = Decimal(str(totals.get(asset) or 0))
        if abs(have - want) > tolerance:
            out.append(BalanceDiff(asset, want, have))
    return out
